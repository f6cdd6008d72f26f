//! What the page may do to runs: start a new one, pause one that trains, resume one, or step
//! it. Each is an ordinary `gan1d train` process of this same binary, so a run started here is
//! the run its command line makes, its files written by `train`'s own code under its own lock;
//! pausing sends SIGINT, as Ctrl-C does, and the run checkpoints and stops.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};

use crate::live::{Live, shell_quote};

/// Sessions started from the page and running at once, at most.
pub const MAX_CHILDREN: usize = 8;
/// How long a new session may take to check its input and take its folder's lock.
const START_WAIT: Duration = Duration::from_secs(20);
/// Flags the page may not pass: the server names the folder, and never overwrites one.
const RESERVED: [&str; 4] = ["--out", "--resume", "--overwrite", "--seeds"];

/// The sessions this server started, reaped as they end.
#[derive(Default)]
pub struct Children {
    running: Mutex<Vec<Child>>,
}

/// What the page asks for when it starts a run.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// The new run's folder, a plain name inside the first folder served.
    pub name: String,
    pub target: Option<String>,
    pub recipe: Option<String>,
    /// One seed (`7`), or a list (`1,2,3`, `1..8`) for a run of members.
    pub seeds: Option<String>,
    /// Further `train` flags, separated by spaces.
    pub flags: Option<String>,
}

impl Children {
    /// Forgets the sessions that ended.
    pub fn reap(&self) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.retain_mut(|child| matches!(child.try_wait(), Ok(None)));
    }

    /// The `train` command line for `request`, into `root`, checked as `gan1d train` checks its
    /// flags; nothing is started or written.
    pub fn start_args(root: &Path, request: &StartRequest) -> Result<Vec<String>> {
        let name = request.name.trim();
        let plain = !name.is_empty()
            && name.len() <= 64
            && !name.starts_with('.')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !plain {
            bail!(
                "the run's name must be 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'; got {name:?}"
            );
        }
        let out = root.join(name);
        if out.symlink_metadata().is_ok() {
            bail!("{} already exists; choose another name", out.display());
        }
        let mut args = vec!["train".to_string(), "--out".to_string(), out.display().to_string()];
        let mut flag = |flag: &str, value: &Option<String>| {
            if let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                args.push(flag.to_string());
                args.push(value.to_string());
            }
        };
        flag("--target", &request.target);
        flag("--recipe", &request.recipe);
        match request.seeds.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(seeds) if seeds.contains(',') || seeds.contains("..") => {
                flag("--seeds", &Some(seeds.to_string()))
            }
            seeds => flag("--seed", &seeds.map(String::from)),
        }
        for word in request.flags.as_deref().unwrap_or_default().split_whitespace() {
            let name = word.split('=').next().unwrap_or(word);
            if RESERVED.contains(&name) {
                bail!("{name} is the page's to set (the run's name, its seeds); leave it out of the flags");
            }
            args.push(word.to_string());
        }
        check(&args)?;
        Ok(args)
    }

    /// Starts `gan1d train` with `args` in `dir`'s name and waits until it has taken the
    /// folder (its live record names it) or has ended; a session refused by `train` comes back
    /// as `train`'s own one-line error.
    pub fn start(&self, dir: &Path, args: &[String]) -> Result<String> {
        self.reap();
        if self.running.lock().unwrap_or_else(|e| e.into_inner()).len() >= MAX_CHILDREN {
            bail!("{MAX_CHILDREN} runs started from this page are training; pause one first");
        }
        let exe = std::env::current_exe().map_err(|e| anyhow!("cannot find this gan1d binary: {e}"))?;
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| anyhow!("cannot start gan1d train: {e}"))?;
        let pid = child.id();
        // Its error lines, read beside it, so that a full pipe never stalls it.
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let stderr = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                    let mut text = stderr.lock().unwrap_or_else(|e| e.into_inner());
                    if text.len() < 1 << 16 {
                        text.push_str(&String::from_utf8_lossy(&chunk[..n]));
                    }
                }
            });
        }
        let command = command_line(args);
        let began = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                if status.success() {
                    return Ok(command);
                }
                // Give the reader a moment to take the last line.
                std::thread::sleep(Duration::from_millis(50));
                let text = stderr.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let line =
                    text.lines().find(|l| l.starts_with("error:")).or(text.lines().last()).unwrap_or("");
                bail!("{}", line.trim_start_matches("error: ").trim());
            }
            if Live::read(dir).is_some_and(|l| l.pid == pid) {
                break;
            }
            if began.elapsed() > START_WAIT {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.running.lock().unwrap_or_else(|e| e.into_inner()).push(child);
        Ok(command)
    }

    /// Pauses the run in `dir`: SIGINT to the `gan1d train` writing it, which checkpoints and
    /// stops.
    pub fn pause(dir: &Path) -> Result<()> {
        let live = Live::read(dir)
            .filter(Live::is_running)
            .ok_or_else(|| anyhow!("{} is not training", dir.display()))?;
        // SAFETY: kill sends a signal; the process was checked to be a gan1d training this run.
        if unsafe { libc::kill(live.pid as libc::pid_t, libc::SIGINT) } != 0 {
            bail!("cannot signal process {}: {}", live.pid, std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Resumes the run in `dir`, to its own total or, with `more`, for `more` iterations
    /// beyond those done.
    pub fn resume(&self, dir: &Path, done: u64, more: Option<u64>) -> Result<String> {
        if Live::read(dir).is_some_and(|l| l.is_running()) {
            bail!("{} is training already", dir.display());
        }
        let mut args = vec!["train".to_string(), "--resume".to_string(), dir.display().to_string()];
        if let Some(more) = more {
            args.push("--epochs".into());
            args.push(done.saturating_add(more).to_string());
        }
        check(&args)?;
        self.start(dir, &args)
    }
}

/// `args` as `gan1d train` parses them: a refused flag as its one-line error.
fn check(args: &[String]) -> Result<()> {
    let words = std::iter::once("gan1d".to_string()).chain(args.iter().cloned());
    match crate::cli::Cli::parse_with_sources(words) {
        Ok(_) => Ok(()),
        Err(e) => bail!("{}", crate::cli::one_line(&e)),
    }
}

/// `args` as a command line to type.
pub fn command_line(args: &[String]) -> String {
    std::iter::once("gan1d".to_string())
        .chain(args.iter().map(|a| shell_quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where a run named `name` is made: inside `root`.
pub fn run_dir(root: &Path, name: &str) -> PathBuf {
    root.join(name.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(name: &str, flags: &str) -> StartRequest {
        StartRequest {
            name: name.into(),
            target: Some("ring".into()),
            recipe: Some("robust".into()),
            seeds: Some("3".into()),
            flags: Some(flags.into()),
        }
    }

    #[test]
    fn a_start_is_checked_as_the_command_line_is() {
        let root = tempfile::tempdir().unwrap();
        let args = Children::start_args(root.path(), &request("ring-1", "--epochs 500")).unwrap();
        assert_eq!(args[3..], ["--target", "ring", "--recipe", "robust", "--seed", "3", "--epochs", "500"]);
        for (name, flags, says) in [
            ("../up", "", "the run's name"),
            (".hidden", "", "the run's name"),
            ("a/b", "", "the run's name"),
            ("ok", "--out elsewhere", "--out is the page's"),
            ("ok", "--overwrite", "--overwrite is the page's"),
            ("ok", "--epochs -3", "--epochs must be at least 1"),
            ("ok", "--no-such-flag", "unexpected argument"),
        ] {
            let error = Children::start_args(root.path(), &request(name, flags)).unwrap_err().to_string();
            assert!(error.contains(says), "{name} {flags}: {error}");
        }
        std::fs::create_dir(root.path().join("taken")).unwrap();
        let error = Children::start_args(root.path(), &request("taken", "")).unwrap_err().to_string();
        assert!(error.contains("already exists"), "{error}");
    }
}
