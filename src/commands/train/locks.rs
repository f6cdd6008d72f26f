//! The lock that keeps two runs from writing into one folder at once.

#[allow(unused_imports)]
use super::*;

/// Takes the folder's lock, so that two runs never write into one folder at once. `what`
/// begins each error: the flag and folder the user gave.
pub(super) fn lock_run_dir(dir: &Path, what: &str) -> Result<File> {
    let path = checkpoint::lock_path(dir);
    let fail = || format!("{what}: cannot create the lock file {}", path.display());
    if path.symlink_metadata().is_ok_and(|m| !m.file_type().is_file()) {
        return Err(anyhow::anyhow!("it is not a regular file; remove it")).with_context(fail);
    }
    // Non-blocking: opening a named pipe put there instead would wait for a reader forever.
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .with_context(fail)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => bail!(
            "{what}: another `gan1d train` is writing into {}; wait for it to finish or use another folder",
            dir.display()
        ),
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("{what}: cannot lock {}", path.display()))
        }
    }
}
