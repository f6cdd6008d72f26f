//! What a run is doing now, in `DIR/.gan1d.live.json`: written by `gan1d train` while it holds
//! the folder's lock (at its start, about twice a second while it trains, and as it ends), read
//! by `gan1d serve` to follow the run without waiting for its next checkpoint.
//!
//! The file records the session, not the run: its process, its command line and the latest
//! frame, measured from the networks as they are at that moment. Nothing in it is read back by
//! training, and the frame is a pure function of the networks, so writing it changes no number
//! of the run (`tests/serve.rs` compares a run that writes it at every iteration with one that
//! writes it as usual). Each write replaces the file whole (a temporary file, renamed), so a
//! reader never sees half of one.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The file's layout; a reader ignores a file of another.
pub const FORMAT: u32 = 1;

/// Least time between two writes while a run trains: the page follows within about a second.
pub const EVERY: Duration = Duration::from_millis(500);

/// What a session of `gan1d train` is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Training now (while its process lives).
    Training,
    /// Stopped by a signal after writing a checkpoint: `train --resume` goes on.
    Paused,
    /// Did every iteration it was asked for.
    Finished,
    /// Stopped by `--patience`: its metric no longer improved, so the run is done short of
    /// its total, its best checkpoint kept.
    Stopped,
    /// Every member's weights stopped being finite.
    Diverged,
    /// Ended with an error; the folder is as its last checkpoint describes it.
    Failed,
}

/// The run's last frame as the session measured it: generated points with the discriminator's
/// realness and pull at each, the heat map's cells, and the box they cover, on the data's axes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LiveFrame {
    pub iterations_done: u64,
    /// `[x, y, realness, dx, dy]` per generated point.
    pub points: Vec<[f32; 5]>,
    /// `[x, y, realness, dx, dy]` per cell, rows from the bottom ([`crate::view::cell_centres`]).
    pub cells: Vec<[f32; 5]>,
    pub columns: usize,
    pub rows: usize,
    /// Real points drawn under the frame, as the animation draws them.
    pub real: Vec<[f32; 2]>,
    /// `[x0, x1, y0, y1]`.
    #[serde(rename = "box")]
    pub view_box: [f64; 4],
}

/// The file's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Live {
    pub format: u32,
    pub pid: u32,
    pub state: State,
    /// Iterations done, and the total this session trains to.
    pub iterations_done: u64,
    pub epochs: u64,
    /// Seconds since the Unix epoch at this write.
    pub updated: f64,
    /// The command line of the session, as typed.
    pub command: String,
    /// The command line of the session that began the run, which a resume keeps: typed again
    /// into another folder, it makes the same run.
    #[serde(default)]
    pub origin: Option<String>,
    /// The first member's latest losses: D on real, D on fake, G.
    pub losses: Option<[f64; 3]>,
    /// A flat run's latest frame (a run of members shows its members' logged frames).
    pub frame: Option<LiveFrame>,
    /// Why the session ended, when it failed.
    pub error: Option<String>,
}

impl Live {
    /// A new record for this process, training.
    pub fn new(epochs: u64, command: String) -> Live {
        Live {
            origin: None,
            format: FORMAT,
            pid: std::process::id(),
            state: State::Training,
            iterations_done: 0,
            epochs,
            updated: 0.0,
            command,
            losses: None,
            frame: None,
            error: None,
        }
    }

    /// Replaces `DIR/.gan1d.live.json` with this record, whole. Not synced: it describes a
    /// moment, and a crash makes it stale anyway (its process is gone).
    pub fn write(&mut self, dir: &Path) -> Result<()> {
        self.updated = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        let path = crate::checkpoint::live_path(dir);
        let tmp = dir.join(format!(".gan1d.live.json.{}.tmp", std::process::id()));
        let fail = || format!("cannot write {}", path.display());
        let text = serde_json::to_vec(self).with_context(fail)?;
        let mut file = std::fs::File::create(&tmp).with_context(fail)?;
        file.write_all(&text).with_context(fail)?;
        drop(file);
        std::fs::rename(&tmp, &path).with_context(fail)
    }

    /// The command line that began the run.
    pub fn origin(&self) -> &str {
        self.origin.as_deref().unwrap_or(&self.command)
    }

    /// The record in `dir`, if there is a readable one of this format.
    pub fn read(dir: &Path) -> Option<Live> {
        let bytes = crate::fsio::read_regular_file(&crate::checkpoint::live_path(dir), 16 << 20).ok()?;
        serde_json::from_slice::<Live>(&bytes).ok().filter(|l| l.format == FORMAT)
    }

    /// Whether the session that wrote it is still training: its state says so and its process
    /// is a `gan1d` that still runs.
    pub fn is_running(&self) -> bool {
        self.state == State::Training && process_is_gan1d(self.pid)
    }
}

/// Whether process `pid` is a `gan1d train` (its program's name begins with gan1d, its first
/// argument is `train`), so that a stale record whose process number was reused is not taken
/// for a run, nor signalled.
pub fn process_is_gan1d(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
        let mut words = cmdline.split(|&b| b == 0);
        let program = words.next().unwrap_or_default();
        let name = program.rsplit(|&b| b == b'/').next().unwrap_or_default();
        name.starts_with(b"gan1d") && words.next() == Some(b"train".as_slice())
    })
}

/// When to write next: at most once every [`EVERY`], and, where measuring the frame is slow
/// (wide networks), no more often than keeps the writes under [`SHARE`] of the run's time
/// (`GAN1D_LIVE_MS` sets another least spacing, 0 for every iteration, as the test that the
/// record changes no number asks).
pub struct Cadence {
    every: Duration,
    last: Option<Instant>,
    /// How long the last write took.
    cost: Duration,
}

/// The largest share of a run's time its live record may take.
pub const SHARE: u32 = 50;

impl Default for Cadence {
    fn default() -> Self {
        let every = std::env::var("GAN1D_LIVE_MS")
            .ok()
            .and_then(|ms| ms.parse::<u64>().ok())
            .map_or(EVERY, Duration::from_millis);
        Cadence { every, last: None, cost: Duration::ZERO }
    }
}

impl Cadence {
    /// Whether a write is due now.
    pub fn due(&self) -> bool {
        let spacing = if self.every.is_zero() { Duration::ZERO } else { self.every.max(self.cost * SHARE) };
        self.last.is_none_or(|last| last.elapsed() >= spacing)
    }

    /// Counts a write that began at `began` as done.
    pub fn wrote(&mut self, began: Instant) {
        let now = Instant::now();
        self.cost = now.duration_since(began);
        self.last = Some(now);
    }
}

/// The command line of this process, each word quoted for a POSIX shell where it needs it,
/// the program named `gan1d`.
pub fn this_command_line() -> String {
    let mut words: Vec<String> = std::env::args().skip(1).map(|w| shell_quote(&w)).collect();
    words.insert(0, "gan1d".to_string());
    words.join(" ")
}

/// `text` as one word for a POSIX shell.
pub fn shell_quote(text: &str) -> String {
    let plain =
        !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "_-./=:@%+,".contains(c));
    if plain { text.to_string() } else { format!("'{}'", text.replace('\'', r"'\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_survives_its_round_trip_and_a_stale_one_is_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let mut live = Live::new(100, "gan1d train --out 'a b'".into());
        live.iterations_done = 42;
        live.write(dir.path()).unwrap();
        let read = Live::read(dir.path()).unwrap();
        assert_eq!((read.iterations_done, read.epochs, read.state), (42, 100, State::Training));
        assert_eq!(read.command, "gan1d train --out 'a b'");
        // This test's process is not gan1d, so its record is not a run in progress.
        assert!(!read.is_running());
        assert!(!process_is_gan1d(u32::MAX));
    }

    #[test]
    fn words_are_quoted_where_a_shell_needs_it() {
        assert_eq!(shell_quote("runs/ring-1"), "runs/ring-1");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn the_cadence_spaces_its_writes_by_their_cost() {
        let mut cadence = Cadence { every: Duration::from_millis(1), last: None, cost: Duration::ZERO };
        assert!(cadence.due());
        cadence.wrote(Instant::now());
        std::thread::sleep(Duration::from_millis(5));
        assert!(cadence.due());
        // A write of 100 ms waits SHARE × 100 ms for the next.
        cadence.wrote(Instant::now() - Duration::from_millis(100));
        std::thread::sleep(Duration::from_millis(5));
        assert!(!cadence.due());
        let mut always = Cadence { every: Duration::ZERO, last: None, cost: Duration::from_secs(1) };
        always.wrote(Instant::now());
        assert!(always.due());
    }
}
