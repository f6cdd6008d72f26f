//! One file per subcommand. Each connects the library's modules for its command and owns
//! nothing else: no math, no file layout.

mod evaluate;
mod explore;
mod sample;
mod summary;
mod train;

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

pub use evaluate::evaluate;
pub use explore::explore;
pub use sample::sample;
pub use summary::summary;
pub use train::{Ending, train};

/// Writes a user's output file atomically (see [`crate::fsio`]). `flag` names the option in
/// errors.
fn write_file_atomically<T>(
    path: &Path,
    flag: &str,
    write: impl FnOnce(&mut dyn Write) -> Result<T>,
) -> Result<T> {
    crate::fsio::write_atomically(path, write).with_context(|| format!("{flag} {}", path.display()))
}

/// Creates `dir` if needed and proves it writable, naming `flag` if it is not.
fn writable_dir(dir: &Path, flag: &str) -> Result<()> {
    let fail = || format!("{flag} {}: the folder cannot be written", dir.display());
    fs::create_dir_all(dir).with_context(fail)?;
    let probe = dir.join(".gan1d-write-test");
    fs::write(&probe, b"").with_context(fail)?;
    fs::remove_file(&probe).with_context(fail)
}
