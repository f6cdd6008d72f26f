//! A run folder and its members: where each member keeps its checkpoint and logs, and the
//! members' manifest and `leaderboard.csv` (whose rows `ranking` defines).
//!
//! A run has K ≥ 1 members, one per seed, and its folder takes one of two layouts, told apart
//! by `ensemble.json`; [`Layout`] is the only code that knows both, and every command asks it:
//!
//! ```text
//! flat (one member: `train --seed S`, models/)
//! DIR/config.json, *.ot, *.csv     the member's checkpoint and logs (see the module above)
//! DIR/plots/                       iter_NNNNN.png per evaluation, curves.png, training.gif
//!
//! members (`train --seeds LIST`)
//! DIR/ensemble.json              the members' manifest: seeds, ranking metric, iterations done;
//!                                written after every member's checkpoint of a round
//! DIR/leaderboard.csv            one row per member, ranked (`ranking`)
//! DIR/target-points.csv          a `--data` run's points, once; each member's manifest names
//!                                them by their SHA-256
//! DIR/members/seed-S/            member S's checkpoint and logs, as a flat folder holds them
//! DIR/members/seed-S/best/       member S's checkpoint at its best evaluation
//! DIR/plots/members_NNNNN.png    small multiples of the members at each evaluation
//! ```
//!
//! Either way `DIR/.gan1d.lock` is held while `gan1d train` writes into DIR, and no file or
//! folder of the run may be a symbolic link (`check_own_entries`, before anything is written).

use super::*;
use crate::config::Select;

/// How a run folder keeps its members' files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One member, whose checkpoint and logs are the folder's own.
    Flat,
    /// Each member in `members/seed-S/`, beside `ensemble.json` and `leaderboard.csv`.
    Members,
}

impl Layout {
    /// The layout of the run in `dir`: [`Layout::Members`] when it holds `ensemble.json`.
    pub fn of(dir: &Path) -> Layout {
        if is_ensemble(dir) { Layout::Members } else { Layout::Flat }
    }

    /// Member `seed`'s folder in the run folder `dir`.
    pub fn member_dir(self, dir: &Path, seed: u64) -> PathBuf {
        match self {
            Layout::Flat => dir.to_path_buf(),
            Layout::Members => member_dir(dir, seed),
        }
    }
}

/// The members of the run in `dir`: its layout and its seeds, in training order, with the
/// members' manifest for [`Layout::Members`].
pub fn members_of(dir: &Path) -> Result<(Layout, Vec<u64>, Option<EnsembleManifest>)> {
    match Layout::of(dir) {
        Layout::Members => {
            let manifest = read_ensemble_manifest(dir)?;
            Ok((Layout::Members, manifest.seeds.clone(), Some(manifest)))
        }
        Layout::Flat => Ok((Layout::Flat, vec![read_manifest_but_target(dir)?.seed], None)),
    }
}

/// The version of the ensemble manifest's layout: 2 since gan1d 0.9, the first to say that
/// `select` may be `modes` (gan1d 0.8 wrote it under 1). Both are read; a newer one is refused
/// before any field is read.
pub const ENSEMBLE_FORMAT_VERSION: u32 = 2;

pub fn ensemble_manifest_path(dir: &Path) -> PathBuf {
    dir.join(ENSEMBLE_MANIFEST)
}

/// Whether `dir` holds an ensemble (its manifest exists, readable or not).
pub fn is_ensemble(dir: &Path) -> bool {
    ensemble_manifest_path(dir).symlink_metadata().is_ok()
}

pub fn members_dir(dir: &Path) -> PathBuf {
    dir.join("members")
}

/// Member `seed`'s run folder.
pub fn member_dir(dir: &Path, seed: u64) -> PathBuf {
    members_dir(dir).join(format!("seed-{seed}"))
}

/// The folder of a member's best checkpoint, inside its run folder.
pub fn best_dir(member_dir: &Path) -> PathBuf {
    member_dir.join("best")
}

pub fn leaderboard_path(dir: &Path) -> PathBuf {
    dir.join(LEADERBOARD)
}

/// The small multiples after the 0-based `iteration`.
pub fn members_plot_path(dir: &Path, iteration: u64) -> PathBuf {
    plots_dir(dir).join(format!("members_{iteration:05}.png"))
}

/// What `ensemble.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsembleManifest {
    pub format_version: u32,
    pub gan1d_version: String,
    /// The members' seeds, in training order.
    pub seeds: Vec<u64>,
    /// The metric that ranks the members.
    pub select: Select,
    /// Iterations every live member's checkpoint holds.
    pub iteration: u64,
    /// The members frozen because they diverged: seed → the 0-based iteration after which.
    #[serde(default)]
    pub diverged: BTreeMap<u64, u64>,
}

impl EnsembleManifest {
    pub fn new(seeds: Vec<u64>, select: Select, iteration: u64) -> Self {
        EnsembleManifest {
            format_version: ENSEMBLE_FORMAT_VERSION,
            gan1d_version: env!("CARGO_PKG_VERSION").to_string(),
            seeds,
            select,
            iteration,
            diverged: BTreeMap::new(),
        }
    }
}

/// Writes `manifest` into `dir` atomically.
pub fn write_ensemble_manifest(dir: &Path, manifest: &EnsembleManifest) -> Result<()> {
    let text = serde_json::to_string_pretty(manifest)? + "\n";
    fsio::write_atomically(&ensemble_manifest_path(dir), |out| Ok(out.write_all(text.as_bytes())?))
        .with_context(|| format!("cannot write {}", ensemble_manifest_path(dir).display()))
}

/// Reads and checks `dir`'s ensemble manifest.
pub fn read_ensemble_manifest(dir: &Path) -> Result<EnsembleManifest> {
    let path = ensemble_manifest_path(dir);
    let fail = || format!("cannot read the ensemble manifest {}", path.display());
    let bytes = fsio::read_regular_file(&path, MAX_MANIFEST_BYTES).with_context(fail)?;
    // The version first: a newer gan1d's file may hold fields this one does not know.
    let value: serde_json::Value = serde_json::from_slice(&bytes).with_context(fail)?;
    match value.get("format_version").and_then(|v| v.as_u64()) {
        Some(v) if v > u64::from(ENSEMBLE_FORMAT_VERSION) => {
            return Err(super::manifest::written_by_a_newer_gan1d(&path, v, ENSEMBLE_FORMAT_VERSION));
        }
        Some(1..) => {}
        _ => bail!("{}: no format version this gan1d reads (1 to {ENSEMBLE_FORMAT_VERSION})", path.display()),
    }
    let manifest: EnsembleManifest = serde_json::from_value(value).with_context(fail)?;
    let unique: std::collections::HashSet<u64> = manifest.seeds.iter().copied().collect();
    if manifest.seeds.is_empty()
        || manifest.seeds.len() > crate::config::limits::MAX_MEMBERS
        || unique.len() != manifest.seeds.len()
    {
        bail!(
            "{}: the seeds must be 1 to {} distinct numbers",
            path.display(),
            crate::config::limits::MAX_MEMBERS
        );
    }
    if let Some(stranger) = manifest.diverged.keys().find(|s| !unique.contains(s)) {
        bail!("{}: diverged member {stranger} is not one of its seeds", path.display());
    }
    Ok(manifest)
}

/// Writes the ranking `rows` (`ranking::Standing`) to `dir`'s `leaderboard.csv` atomically.
pub fn write_leaderboard<R: Serialize>(dir: &Path, rows: &[R]) -> Result<()> {
    let path = leaderboard_path(dir);
    fsio::write_atomically(&path, |out| {
        let mut csv = csv::Writer::from_writer(Vec::new());
        for row in rows {
            csv.serialize(row)?;
        }
        out.write_all(&csv.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
        Ok(())
    })
    .with_context(|| format!("cannot write {}", path.display()))
}

/// The ranking in `dir`'s `leaderboard.csv`, as [`write_leaderboard`] wrote it.
pub fn read_leaderboard<R: serde::de::DeserializeOwned>(dir: &Path) -> Result<Vec<R>> {
    let path = leaderboard_path(dir);
    let bytes = fsio::read_regular_file(&path, 64 << 20)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut rows = Vec::new();
    for (line, row) in csv::Reader::from_reader(bytes.as_slice()).deserialize::<R>().enumerate() {
        rows.push(
            row.with_context(|| format!("{}: row {} is not a leaderboard row", path.display(), line + 1))?,
        );
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_ranking_reads_back() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Row {
            seed: u64,
            score: Option<f64>,
        }
        let dir = tempfile::tempdir().unwrap();
        let rows = vec![Row { seed: 7, score: Some(0.5) }, Row { seed: 9, score: None }];
        write_leaderboard(dir.path(), &rows).unwrap();
        assert_eq!(read_leaderboard::<Row>(dir.path()).unwrap(), rows);
    }

    #[test]
    fn a_flat_folder_is_its_own_member() {
        let dir = Path::new("runs/a");
        assert_eq!(Layout::Flat.member_dir(dir, 42), dir);
        assert_eq!(Layout::Members.member_dir(dir, 42), Path::new("runs/a/members/seed-42"));
    }
}
