//! Where a command's output files go (`sample --out`/`--plot`, `explore --out`, `summary
//! --diagram`), checked before anything is written.
//!
//! - `-` (for CSV) is stdout.
//! - A new file, or a regular file the user names, is written atomically
//!   ([`crate::fsio::write_atomically`]); a symlink is followed, so its target is the file
//!   written and the link stays.
//! - A FIFO, a device or a socket is written to as a stream, never replaced.
//! - A file of any run (its checkpoint, manifest, logs, plots, leaderboard: by name and place,
//!   or by content wherever it lies, see [`checkpoint::part_of_a_run`]) is refused.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::checkpoint;

/// Where one output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination {
    Stdout,
    /// A regular file, new or replaced whole.
    File(PathBuf),
    /// A FIFO or a device, opened for writing as it is.
    Stream(PathBuf),
    /// A Unix socket, connected to.
    Socket(PathBuf),
}

impl Destination {
    /// Checks the output path `path` given with `flag`: a PNG if `png`, with CSV's `-` for
    /// stdout otherwise. Links are resolved, and nothing is written.
    pub(crate) fn check(path: &Path, flag: &str, png: bool) -> Result<Destination> {
        let shown = path.display();
        if !png && path == Path::new("-") {
            return Ok(Destination::Stdout);
        }
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            bail!("{flag} {shown}: not a file name");
        };
        if png && !name.to_ascii_lowercase().ends_with(".png") {
            bail!("{flag} {shown}: gan1d draws PNG images only; give the file a .png extension");
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !parent.is_dir() {
            bail!("{flag} {shown}: the folder {} does not exist; create it first", parent.display());
        }
        let target = match path.symlink_metadata() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => path.to_path_buf(),
            Err(e) => return Err(e).with_context(|| format!("{flag} {shown}: cannot look at it")),
            Ok(m) if m.file_type().is_symlink() => match fs::canonicalize(path) {
                Ok(target) => target,
                Err(_) => bail!(
                    "{flag} {shown}: it is a symbolic link to {}, which does not exist; name the file itself",
                    fs::read_link(path).map(|t| t.display().to_string()).unwrap_or_else(|_| "?".into())
                ),
            },
            Ok(_) => path.to_path_buf(),
        };
        let kind = match target.metadata() {
            Ok(m) => Some(m.file_type()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("{flag} {shown}: cannot look at it")),
        };
        match kind {
            Some(kind) if kind.is_dir() => bail!("{flag} {shown}: that is a folder; name a file"),
            Some(kind) if kind.is_fifo() || kind.is_char_device() || kind.is_block_device() => {
                Ok(Destination::Stream(target))
            }
            Some(kind) if kind.is_socket() => Ok(Destination::Socket(target)),
            _ => {
                if let Some(what) = checkpoint::part_of_a_run(&target) {
                    bail!("{flag} {shown}: that file belongs to a run ({what}); write the output elsewhere");
                }
                Ok(Destination::File(target))
            }
        }
    }

    /// Writes the output with `write`, as the module documentation says; `flag` and `shown`
    /// (the path as given) name it in errors.
    pub(crate) fn write<T>(
        &self,
        flag: &str,
        shown: &Path,
        write: impl FnOnce(&mut dyn Write) -> Result<T>,
    ) -> Result<T> {
        let fail = || format!("{flag} {}", shown.display());
        match self {
            Destination::Stdout => {
                let stdout = io::stdout();
                let mut out = io::BufWriter::new(stdout.lock());
                let value = write(&mut out)?;
                out.flush()?;
                Ok(value)
            }
            Destination::File(path) => crate::fsio::write_atomically(path, write).with_context(fail),
            Destination::Stream(path) => {
                let file = fs::OpenOptions::new().write(true).open(path).with_context(fail)?;
                let mut out = io::BufWriter::new(file);
                let value = write(&mut out).with_context(fail)?;
                out.flush().with_context(fail)?;
                Ok(value)
            }
            Destination::Socket(path) => {
                let socket = UnixStream::connect(path).with_context(fail)?;
                let mut out = io::BufWriter::new(socket);
                let value = write(&mut out).with_context(fail)?;
                out.flush().with_context(fail)?;
                Ok(value)
            }
        }
    }

    /// Draws a PNG with `draw`, which writes the file at the path it is given: the file itself,
    /// or, for a stream, a temporary file whose bytes are then copied to it.
    pub(crate) fn draw(
        &self,
        flag: &str,
        shown: &Path,
        draw: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<()> {
        match self {
            Destination::File(path) => draw(path),
            Destination::Stdout => bail!("{flag} {}: a PNG cannot go to stdout", shown.display()),
            Destination::Stream(_) | Destination::Socket(_) => {
                let scratch = tempfile::tempdir().context("cannot make a temporary folder to draw in")?;
                let png = scratch.path().join("plot.png");
                draw(&png)?;
                let bytes = fs::read(&png).context("cannot read the drawn plot back")?;
                self.write(flag, shown, |out| Ok(out.write_all(&bytes)?))
            }
        }
    }

    /// The file or stream written, for telling two outputs apart.
    fn target(&self) -> Option<&Path> {
        match self {
            Destination::Stdout => None,
            Destination::File(p) | Destination::Stream(p) | Destination::Socket(p) => Some(p),
        }
    }
}

/// Refuses two outputs that name one file.
pub(crate) fn distinct(a: &Destination, b: &Destination, flags: (&str, &str), shown: &Path) -> Result<()> {
    let same = |x: &Path, y: &Path| {
        x == y || fs::canonicalize(x).ok().zip(fs::canonicalize(y).ok()).is_some_and(|(x, y)| x == y)
    };
    if let (Some(x), Some(y)) = (a.target(), b.target())
        && same(x, y)
    {
        bail!("{} {}: {} names the same file; give each its own", flags.1, shown.display(), flags.0);
    }
    Ok(())
}

/// Creates `dir` if needed and proves it writable, naming `flag` if it is not.
pub(crate) fn writable_dir(dir: &Path, flag: &str) -> Result<()> {
    let fail = || format!("{flag} {}: the folder cannot be written", dir.display());
    fs::create_dir_all(dir).with_context(fail)?;
    let probe = dir.join(".gan1d-write-test");
    fs::write(&probe, b"").with_context(fail)?;
    fs::remove_file(&probe).with_context(fail)
}
