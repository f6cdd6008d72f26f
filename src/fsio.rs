//! Every file gan1d writes or reads goes through here.
//!
//! - [`write_atomically`]: the one way gan1d writes a file, tensor files, manifests, logs,
//!   plots and user outputs alike. The bytes go to a hidden temporary file beside the target
//!   (`.<name>.<random>.tmp`), which is synced and then renamed over the target, so a reader,
//!   or a process killed at any moment, sees the old file or the new one, never half of one.
//!   A failed write removes its temporary file.
//! - [`read_regular_file`]: reads a file that must be a regular file of bounded size, so a FIFO,
//!   a device or a symlink to something endless in a checkpoint folder is refused at once
//!   instead of hanging or filling memory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result, anyhow};

/// Writes `path` through a temporary file, as the module documentation describes, and returns
/// what `write` returns. The error names `path`.
pub fn write_atomically<T>(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<T>) -> Result<T> {
    let fail = || format!("cannot write {}", path.display());
    let name = path.file_name().ok_or_else(|| anyhow!("not a file name")).with_context(fail)?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    // The permissions an ordinary new file gets (0666 less the umask), not tempfile's private
    // 0600: a plot or checkpoint is as readable as any other file the user makes.
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(TMP_SUFFIX)
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .with_context(fail)?;
    let mut writer = BufWriter::new(tmp);
    let value = write(&mut writer).with_context(fail)?;
    let tmp = writer.into_inner().map_err(|e| e.into_error()).with_context(fail)?;
    tmp.as_file().sync_all().with_context(fail)?;
    tmp.persist(path).map_err(|e| e.error).with_context(fail)?;
    Ok(value)
}

/// The end of every temporary file's name.
pub const TMP_SUFFIX: &str = ".tmp";

/// The SHA-256 of `bytes`, as lowercase hex: how checkpoints and logs record what they wrote.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Makes the renames inside `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync the folder {}", dir.display()))
}

/// Reads `path`, which must be a regular file (or a symlink to one) of at most `max_bytes`.
/// A missing file gives an `io::Error` of kind `NotFound`, so callers can say what is missing.
pub fn read_regular_file(path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    let metadata = fs::metadata(path)?;
    let kind = metadata.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a folder"
        } else if kind.is_fifo() {
            "a named pipe (FIFO)"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(anyhow!("it is {what}, not a regular file"));
    }
    if metadata.len() > max_bytes {
        return Err(anyhow!("it holds {} bytes, more than the {max_bytes} expected", metadata.len()));
    }
    // Non-blocking, in case the file was swapped for a FIFO since it was checked.
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.take(max_bytes + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(anyhow!("it grew past the {max_bytes} bytes expected while being read"));
    }
    Ok(bytes)
}

/// Whether `error` says a file does not exist.
pub fn is_not_found(error: &anyhow::Error) -> bool {
    error.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        fs::write(&path, "old").unwrap();
        write_atomically(&path, |w| Ok(w.write_all(b"new")?)).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        // As readable as a file made with File::create under the same umask.
        let ordinary = dir.path().join("ordinary");
        fs::write(&ordinary, "x").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), mode(&ordinary));
        fs::remove_file(&ordinary).unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        fs::write(&path, "old").unwrap();
        let err = write_atomically(&path, |w| -> Result<()> {
            w.write_all(b"half")?;
            Err(anyhow!("the writer failed"))
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("cannot write"), "{err:#}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn special_and_oversized_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let err = read_regular_file(&fifo, 100).unwrap_err();
        assert!(err.to_string().contains("named pipe"), "{err}");
        let err = read_regular_file(Path::new("/dev/zero"), 100).unwrap_err();
        assert!(err.to_string().contains("device"), "{err}");
        let big = dir.path().join("big");
        fs::write(&big, vec![0u8; 101]).unwrap();
        assert!(read_regular_file(&big, 100).unwrap_err().to_string().contains("more than"));
        assert!(is_not_found(&read_regular_file(&dir.path().join("none"), 100).unwrap_err()));
        assert_eq!(read_regular_file(&big, 101).unwrap().len(), 101);
    }
}
