//! The checkpoint folder's layout: every path inside it, and which files in it are gan1d's.

use super::*;

/// The manifest's file name.
pub(super) const MANIFEST: &str = "config.json";
/// The logs' file names: metrics, history, animation frames.
const METRICS: &str = "metrics.csv";
const HISTORY: &str = "history.csv";
const FRAMES: &str = "frames.csv";
const LOGS: [&str; 3] = [METRICS, HISTORY, FRAMES];
/// The lock's file name.
const LOCK: &str = ".gan1d.lock";
/// What the run is doing now, for `gan1d serve`: written by the lock's holder (`live.rs`).
const LIVE: &str = ".gan1d.live.json";
/// The run's self-contained report, written with each checkpoint (`report.rs`).
const REPORT: &str = "report.html";
/// A `--data` ensemble's points, kept once at the top of its folder.
const POINTS: &str = "target-points.csv";
/// The members' manifest and ranking, in the members layout.
pub(super) const ENSEMBLE_MANIFEST: &str = "ensemble.json";
pub(super) const LEADERBOARD: &str = "leaderboard.csv";

/// The manifest, `DIR/config.json`.
pub fn manifest_path(dir: &Path) -> PathBuf {
    dir.join(MANIFEST)
}

/// The path of the tensor file `part` that `manifest` names.
pub fn part_path(dir: &Path, manifest: &Manifest, part: Part) -> PathBuf {
    dir.join(&manifest.files.get(part).name)
}

/// Where a new run writes the log `path` until its first checkpoint commits it: a hidden name
/// beside it, so the folder's earlier run keeps its own log until then.
pub fn staged_path(path: &Path) -> PathBuf {
    let name = path.file_name().expect("log paths name a file").to_string_lossy();
    path.with_file_name(format!(".{name}.staged"))
}

/// What in `dir` shows that it holds a run of either layout (a manifest, a log, a tensor file or
/// a members' folder), if anything.
pub fn run_evidence(dir: &Path) -> Option<PathBuf> {
    let logs = [metrics_csv_path(dir), history_csv_path(dir), frames_csv_path(dir)];
    let members = [ensemble_manifest_path(dir), members_dir(dir), points_path(dir)];
    let named = [manifest_path(dir)].into_iter().chain(logs).chain(members);
    if let Some(found) = named.into_iter().find(|p| p.symlink_metadata().is_ok()) {
        return Some(found);
    }
    let entries = fs::read_dir(dir).ok()?;
    entries.flatten().map(|e| e.path()).find(|p| {
        p.file_name().is_some_and(|n| {
            is_checkpoint_file(&n.to_string_lossy()) && !n.to_string_lossy().starts_with('.')
        })
    })
}

/// Where a `--data` ensemble keeps its points, once, for its members' manifests.
pub fn points_path(dir: &Path) -> PathBuf {
    dir.join(POINTS)
}

/// The folders where the points a manifest in `dir` refers to may be kept: `dir` itself, and
/// the run folder above a member's folder (`members/seed-S/`) or its best (`…/best/`).
pub(super) fn points_folders(dir: &Path) -> Vec<PathBuf> {
    // From the folder's real place, so that `best` named from inside a member's folder finds
    // the run folder above it.
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    dir.ancestors().take(4).map(Path::to_path_buf).collect()
}

/// The file that holds a run's lock while `gan1d train` writes into `dir`.
pub fn lock_path(dir: &Path) -> PathBuf {
    dir.join(LOCK)
}

/// The file in which `gan1d train` says what the run in `dir` is doing ([`crate::live`]).
pub fn live_path(dir: &Path) -> PathBuf {
    dir.join(LIVE)
}

/// The run's report, `DIR/report.html` ([`crate::report`]).
pub fn report_path(dir: &Path) -> PathBuf {
    dir.join(REPORT)
}

/// The folder for plots inside the checkpoint folder `dir`.
pub fn plots_dir(dir: &Path) -> PathBuf {
    dir.join("plots")
}

/// The evaluation plot for the 0-based `iteration`, e.g. `plots/iter_01999.png`.
pub fn eval_plot_path(dir: &Path, iteration: u64) -> PathBuf {
    plots_dir(dir).join(format!("iter_{iteration:05}.png"))
}

/// The run's log of quality metrics, one row per evaluation.
pub fn metrics_csv_path(dir: &Path) -> PathBuf {
    dir.join(METRICS)
}

/// The run's log of losses and accuracies, one row every `history_every` iterations.
pub fn history_csv_path(dir: &Path) -> PathBuf {
    dir.join(HISTORY)
}

/// The points of each frame of the training animation, kept so that a resumed run can still
/// draw the frames of the iterations before it.
pub fn frames_csv_path(dir: &Path) -> PathBuf {
    dir.join(FRAMES)
}

/// Learning curves drawn at the end of a run.
pub fn curves_plot_path(dir: &Path) -> PathBuf {
    plots_dir(dir).join("curves.png")
}

/// The animation of generated against real points across the run.
pub fn animation_path(dir: &Path) -> PathBuf {
    plots_dir(dir).join("training.gif")
}

/// The tensor file names the committed manifest in `dir` uses, if it can be read at all.
pub(super) fn committed_names(dir: &Path) -> Vec<String> {
    let Ok(bytes) = fsio::read_regular_file(&manifest_path(dir), MAX_MANIFEST_BYTES) else {
        return Vec::new();
    };
    let Ok(text) = String::from_utf8(bytes) else { return Vec::new() };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else { return Vec::new() };
    Part::ALL
        .iter()
        .filter_map(|part| value.get("files")?.get(part.stem())?.get("name")?.as_str().map(String::from))
        .collect()
}

/// Whether `name` is one of the files `gan1d train` keeps in a run's folder (besides plots):
/// the manifest, a tensor file, a log, the lock, or a temporary or staged file of one.
pub fn is_run_file(name: &str) -> bool {
    name == MANIFEST
        || name == ENSEMBLE_MANIFEST
        || name == LEADERBOARD
        || name == POINTS
        || name == LOCK
        || name == LIVE
        || name == REPORT
        || LOGS.contains(&name)
        || LOGS.iter().any(|log| name == format!(".{log}.staged"))
        || is_checkpoint_file(name)
}

/// Whether `name` is a file gan1d writes into a checkpoint folder and may delete when no
/// manifest names it: a tensor file (version 1's fixed names included), or a temporary file left
/// by an interrupted write of one, of the manifest or of a log.
pub(super) fn is_checkpoint_file(name: &str) -> bool {
    let tensor_file = |name: &str| {
        Part::ALL.iter().any(|part| {
            name.strip_prefix(part.stem())
                .is_some_and(|rest| rest.ends_with(".ot") && (rest.starts_with('-') || rest == ".ot"))
        })
    };
    match name.strip_prefix('.').and_then(|n| n.strip_suffix(fsio::TMP_SUFFIX)) {
        Some(inner) => {
            // `.<target>.<random>.tmp`, or `.<target>.tmp` from earlier versions.
            let targets = [Some(inner), inner.rsplit_once('.').map(|(target, _)| target)];
            targets
                .into_iter()
                .flatten()
                .any(|written| tensor_file(written) || written == MANIFEST || LOGS.contains(&written))
        }
        None => tensor_file(name),
    }
}

/// Deletes the checkpoint files `manifest` does not name: the previous checkpoint, and
/// leftovers of saves that were interrupted. Failing to delete one only wastes space.
pub(super) fn remove_stale_files(dir: &Path, manifest: &Manifest) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let named = Part::ALL.iter().any(|&part| manifest.files.get(part).name == name);
        if !named && is_checkpoint_file(&name) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The first field names of the header of each CSV file gan1d keeps in a run folder: history,
/// metrics, frames, leaderboard (`commands` checks them against the rows' own headers).
pub const LOG_HEADER_STARTS: [&str; 4] =
    ["iteration,d_loss_real,", "iteration,acc_real,", "iterations_done,x,y", "rank,seed,status,"];

/// Whether `name` is a plot gan1d draws in a run's `plots/`: `iter_NNNNN.png`,
/// `members_NNNNN.png`, `curves.png` or `training.gif`.
fn is_plot_file(name: &str) -> bool {
    let numbered = |prefix: &str| {
        name.strip_prefix(prefix)
            .and_then(|n| n.strip_suffix(".png"))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    numbered("iter_") || numbered("members_") || name == "curves.png" || name == "training.gif"
}

/// What makes the file at `path` (links resolved) part of a run, if anything: by name and place,
/// a file `gan1d train` keeps in a run folder, or a plot it draws in a run's `plots/`; by
/// content, wherever it is, a manifest, a log, a leaderboard or a tensor file gan1d wrote. The
/// answer finishes the sentence "that file is …".
pub fn part_of_a_run(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if is_run_file(&name) && run_evidence(parent).is_some() {
        return Some(format!("{name} of the run in {}", parent.display()));
    }
    if parent.file_name().is_some_and(|n| n == "plots")
        && let Some(run) = parent.parent().filter(|run| run_evidence(run).is_some())
        && is_plot_file(&name)
    {
        return Some(format!("a plot of the run in {}", run.display()));
    }
    let head = file_head(path, 64 << 10)?;
    let text = String::from_utf8_lossy(&head);
    let first_line = text.lines().next().unwrap_or_default();
    if text.trim_start().starts_with('{') && text.contains("\"format_version\"") {
        if text.contains("\"manifest_sha256\"") {
            return Some("a gan1d checkpoint's manifest".to_string());
        }
        if text.contains("\"seeds\"") && text.contains("\"select\"") {
            return Some("a gan1d ensemble's manifest".to_string());
        }
    }
    if LOG_HEADER_STARTS.iter().any(|start| first_line.starts_with(start)) {
        return Some("a log or leaderboard of a gan1d run".to_string());
    }
    // A tensor file is a zip archive whose first entry is under `archive/`.
    let entry_name = head.get(26..28).map(|n| u16::from_le_bytes([n[0], n[1]]) as usize);
    let tensors = head.starts_with(b"PK\x03\x04")
        && entry_name.and_then(|len| head.get(30..30 + len)).is_some_and(|n| n.starts_with(b"archive/"));
    if tensors {
        return Some("a tensor file of a gan1d checkpoint".to_string());
    }
    None
}

/// The first `n` bytes of the regular file at `path`, or `None` for anything else.
fn file_head(path: &Path, n: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    if !fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let file = fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).ok()?;
    let mut head = Vec::new();
    file.take(n).read_to_end(&mut head).ok()?;
    Some(head)
}

/// What makes the folder `dir` a part of another run's folder, if anything: a member's folder
/// or the members' folder of an ensemble, a best checkpoint's folder, or a run's plots. The
/// answer finishes the sentence "that folder is …".
pub fn folder_within_a_run(dir: &Path) -> Option<String> {
    let name = dir.file_name()?.to_string_lossy().into_owned();
    let parent = match dir.parent()? {
        p if p.as_os_str().is_empty() => Path::new("."),
        p => p,
    };
    let is_run = |d: &Path| run_evidence(d).is_some();
    if parent.file_name().is_some_and(|n| n == "members")
        && let Some(ensemble) = parent.parent().filter(|e| super::is_ensemble(e))
    {
        return Some(format!("a member's folder in the ensemble {}", ensemble.display()));
    }
    match name.as_str() {
        "members" if super::is_ensemble(parent) => {
            Some(format!("the members' folder of the ensemble {}", parent.display()))
        }
        "best" if is_run(parent) => Some(format!("the best checkpoint of the run in {}", parent.display())),
        "plots" if is_run(parent) => Some(format!("the plots of the run in {}", parent.display())),
        _ => None,
    }
}

/// What a name inside a run's folder is to gan1d: a file it writes, a folder it writes into,
/// or neither (the user's own, left alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Own {
    File,
    /// A folder of the kind given: a run folder (`best/`, `members/seed-S/`), the plots, or the
    /// members' folder.
    Folder(Place),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Run,
    Plots,
    Members,
}

impl Place {
    /// What `name`, found in a folder of this kind, is to gan1d.
    fn owns(self, name: &str) -> Option<Own> {
        let leftover = name.starts_with('.') && name.ends_with(fsio::TMP_SUFFIX);
        match self {
            Place::Run => match name {
                "plots" => Some(Own::Folder(Place::Plots)),
                "members" => Some(Own::Folder(Place::Members)),
                "best" => Some(Own::Folder(Place::Run)),
                _ if is_run_file(name) || is_temporary(name) => Some(Own::File),
                _ => None,
            },
            Place::Plots => (is_plot_file(name) || leftover).then_some(Own::File),
            Place::Members => name
                .strip_prefix("seed-")
                .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then_some(Own::Folder(Place::Run)),
        }
    }
}

/// Whether `name` is a temporary file of one of the files gan1d writes at a run folder's top
/// (`.<file>.<random>.tmp`): a manifest, a log, the leaderboard, a tensor file, the report or
/// the live record (`.gan1d.live.json.<pid>.tmp`).
fn is_temporary(name: &str) -> bool {
    let Some(inner) = name.strip_prefix('.').and_then(|n| n.strip_suffix(fsio::TMP_SUFFIX)) else {
        return false;
    };
    let written = inner.rsplit_once('.').map_or(inner, |(target, _)| target);
    let live = LIVE.trim_start_matches('.');
    is_checkpoint_file(name)
        || [ENSEMBLE_MANIFEST, LEADERBOARD, MANIFEST, POINTS, REPORT, live].contains(&written)
}

/// Refuses a run folder whose own files and folders are not what they claim to be, before
/// anything is written into it: a symbolic link where gan1d keeps a file or a folder (writing
/// would go through it, into something that is not this run), a folder where it keeps a file,
/// or the reverse. Checks the folder, its plots, its best checkpoint and, in the members
/// layout, every member's folder; the user's own files beside them are left alone. The error
/// is one line, begun by `what` (the flag and folder the user gave).
pub fn check_own_entries(dir: &Path, what: &str) -> Result<()> {
    check_place(dir, Place::Run, what, 0)
}

fn check_place(dir: &Path, place: Place, what: &str, depth: usize) -> Result<()> {
    // A folder not there yet is made by the run itself; one that cannot be read is refused
    // where it is written.
    let Ok(entries) = fs::read_dir(dir) else { return Ok(()) };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(own) = place.owns(&name) else { continue };
        let path = entry.path();
        let Ok(metadata) = path.symlink_metadata() else { continue };
        let kind = metadata.file_type();
        if kind.is_symlink() {
            let to = fs::read_link(&path).map(|t| t.display().to_string()).unwrap_or_else(|_| "?".into());
            bail!(
                "{what}: {} is a symbolic link (to {to}), and a run writes only into its own files and folders; \
                 put the {} itself there, or move the link away",
                path.display(),
                if matches!(own, Own::File) { "file" } else { "folder" }
            );
        }
        match own {
            Own::File if kind.is_dir() => {
                bail!("{what}: {} is a folder where the run keeps a file; move it away", path.display())
            }
            Own::Folder(_) if !kind.is_dir() => bail!(
                "{what}: {} is not a folder, and the run keeps a folder there; move it away",
                path.display()
            ),
            // A run folder nests at most three deep: members/seed-S/best.
            Own::Folder(inner) if depth < 4 => check_place(&path, inner, what, depth + 1)?,
            _ => {}
        }
    }
    Ok(())
}

/// Removes the temporary files that interrupted writes left at the top of the run folder
/// `dir` (`.ensemble.json.*.tmp`, `.leaderboard.csv.*.tmp`, …). Called under the run's lock,
/// after a save, when no write of this run is under way; failing to remove one only wastes
/// space.
pub fn remove_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_temporary(&name) && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leftovers_of_interrupted_writes_at_a_runs_top_are_temporaries() {
        for leftover in [
            ".report.html.595q9R.tmp",
            ".gan1d.live.json.4242.tmp",
            ".leaderboard.csv.a1B2c3.tmp",
            ".config.json.x.tmp",
        ] {
            assert!(is_temporary(leftover), "{leftover}");
        }
        for other in ["report.html", ".gan1d.live.json", "notes.tmp", ".notes.txt.x.tmp", ".gan1d.lock"] {
            assert!(!is_temporary(other), "{other}");
        }
    }
}
