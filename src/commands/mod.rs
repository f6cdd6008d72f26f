//! One file per subcommand. Each connects the library's modules for its command and owns
//! nothing else: no math, no file layout.

mod evaluate;
mod explore;
mod leaderboard;
mod sample;
mod summary;
mod train;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::checkpoint::{self, EnsembleManifest, Layout};
use crate::ranking::Standing;

pub use evaluate::evaluate;
pub use explore::explore;
pub use leaderboard::leaderboard;
pub use sample::sample;
pub use summary::summary;
pub use train::{Ending, train};

/// The checkpoint folder a command given the run folder `dir` reads. A flat run's own, which
/// `member`, if given, must name. For members, the best checkpoint of member `member`, or of
/// the best-ranked member, with a note saying which.
pub(crate) fn resolve_checkpoint(dir: &Path, member: Option<u64>) -> Result<(PathBuf, Option<String>)> {
    if Layout::of(dir) == Layout::Flat {
        if let Some(seed) = member {
            let own = checkpoint::members_of(dir)?.1[0];
            if seed != own {
                bail!("--member {seed}: {} has no member with that seed (its seeds: {own})", dir.display());
            }
        }
        return Ok((dir.to_path_buf(), None));
    }
    let manifest = checkpoint::read_ensemble_manifest(dir)?;
    let pick = || format!("pick a member with --member (seeds {})", seed_list(&manifest.seeds));
    let standings: Vec<Standing> = match member {
        // The ranking only names the best; a member asked for is read without it.
        Some(_) => read_standings(dir, &manifest).unwrap_or_default(),
        None => read_standings(dir, &manifest)
            .map_err(|e| anyhow::anyhow!("{e:#}; so no member is known to be best: {}", pick()))?,
    };
    let seed = match member {
        Some(seed) if manifest.seeds.contains(&seed) => seed,
        Some(seed) => bail!(
            "--member {seed}: {} has no member with that seed (its seeds: {})",
            dir.display(),
            seed_list(&manifest.seeds)
        ),
        None => match standings.iter().find(|s| s.rank == 1 && s.best_iteration.is_some()) {
            Some(best) => best.seed,
            None if standings.iter().all(|s| s.best_iteration.is_none()) && manifest.diverged.is_empty() => bail!(
                "{}: no member has been evaluated yet, so none is best; {}",
                dir.display(),
                pick()
            ),
            None => bail!(
                "{}: after {} iterations no member has a score by {} (each diverged before its first \
                 evaluation), so none is best; {}",
                dir.display(),
                manifest.iteration,
                manifest.select.label(),
                pick()
            ),
        },
    };
    let run = checkpoint::member_dir(dir, seed);
    let best = checkpoint::best_dir(&run);
    let standing: Option<&Standing> = standings.iter().find(|s| s.seed == seed);
    let (path, which) = if checkpoint::manifest_path(&best).is_file() {
        let at = standing
            .and_then(|s| s.best_iteration)
            .map(|i| format!(", after iteration {i}"))
            .unwrap_or_default();
        let rank = match (member, standing) {
            (None, Some(s)) => format!(
                "the best member by {} ({})",
                s.select.label(),
                s.score.map(|v| format!("{v:.4}")).unwrap_or_default()
            ),
            _ => "the member asked for".to_string(),
        };
        (best, format!("seed {seed}'s best checkpoint{at}: {rank}"))
    } else {
        (run, format!("seed {seed}'s latest checkpoint (it has no best checkpoint yet)"))
    };
    let note = format!("gan1d: {} is an ensemble; using {which}, in {}", dir.display(), path.display());
    Ok((path, Some(note)))
}

/// The ranking in the ensemble `dir`'s `leaderboard.csv`, checked against its manifest: empty
/// before its first checkpoint round, which writes it.
pub(crate) fn read_standings(dir: &Path, manifest: &EnsembleManifest) -> Result<Vec<Standing>> {
    let path = checkpoint::leaderboard_path(dir);
    if manifest.iteration == 0 && path.symlink_metadata().is_err() {
        return Ok(Vec::new());
    }
    let rows: Vec<Standing> = checkpoint::read_leaderboard(dir)?;
    let diverged: Vec<u64> = manifest.diverged.keys().copied().collect();
    crate::ranking::check(&rows, &manifest.seeds, manifest.select, &diverged)
        .with_context(|| format!("{} is not the ranking of this ensemble's members", path.display()))?;
    Ok(rows)
}

/// Seeds as `3, 7, 11`, shortened after a dozen.
fn seed_list(seeds: &[u64]) -> String {
    let shown: Vec<String> = seeds.iter().take(12).map(u64::to_string).collect();
    let more = if seeds.len() > 12 { format!(", … ({} in all)", seeds.len()) } else { String::new() };
    shown.join(", ") + &more
}

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

/// Checks an output file's path before anything is written: `flag` names the option. The file
/// must go into an existing folder, be a PNG if `png` (the one image format gan1d writes), and
/// must not be one of the files of the checkpoint folder `reading`, which the command reads.
fn check_output(path: &Path, flag: &str, png: bool, reading: &Path) -> Result<()> {
    let shown = path.display();
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
    if path.is_dir() {
        bail!("{flag} {shown}: that is a folder; name a file");
    }
    let same_folder = match (fs::canonicalize(parent), fs::canonicalize(reading)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    // A symlink that leads into the checkpoint counts as its target.
    let target = fs::canonicalize(path).ok();
    let into_checkpoint = target
        .as_deref()
        .and_then(Path::parent)
        .zip(fs::canonicalize(reading).ok())
        .is_some_and(|(a, b)| a == b);
    let target_name = target.as_deref().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned());
    let owned = |name: &str| crate::checkpoint::is_run_file(name);
    if (same_folder && owned(&name)) || (into_checkpoint && target_name.as_deref().is_some_and(owned)) {
        bail!(
            "{flag} {shown}: that file belongs to the checkpoint in {} being read; write the output elsewhere",
            reading.display()
        );
    }
    Ok(())
}
