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
    let members = [ensemble_manifest_path(dir), members_dir(dir)];
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

/// The file that holds a run's lock while `gan1d train` writes into `dir`.
pub fn lock_path(dir: &Path) -> PathBuf {
    dir.join(LOCK)
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
        || name == LOCK
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
