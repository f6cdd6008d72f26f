//! One file per subcommand. Each connects the library's modules for its command and owns
//! nothing else: no math, no file layout.

mod evaluate;
mod explore;
mod sample;
mod summary;
mod train;

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};

pub use evaluate::evaluate;
pub use explore::explore;
pub use sample::sample;
pub use summary::summary;
pub use train::{Ending, train};

/// Writes a user's output file under a temporary name beside it and renames it into place, so
/// an interrupted run never leaves half a file. `flag` names the option in errors.
fn write_file_atomically<T>(
    path: &Path,
    flag: &str,
    write: impl FnOnce(&mut dyn Write) -> Result<T>,
) -> Result<T> {
    let file_name =
        path.file_name().with_context(|| format!("{flag} {}: not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.tmp", file_name.to_string_lossy()));
    let fail = || format!("{flag} {}: cannot write the file", path.display());
    let file = File::create(&tmp).with_context(fail)?;
    let mut writer = BufWriter::new(file);
    let result = write(&mut writer).and_then(|value| {
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok(value)
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(fail)
}

/// Creates `dir` if needed and proves it writable, naming `flag` if it is not.
fn writable_dir(dir: &Path, flag: &str) -> Result<()> {
    let fail = || format!("{flag} {}: the folder cannot be written", dir.display());
    fs::create_dir_all(dir).with_context(fail)?;
    let probe = dir.join(".gan1d-write-test");
    fs::write(&probe, b"").with_context(fail)?;
    fs::remove_file(&probe).with_context(fail)
}
