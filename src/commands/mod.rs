//! One file per subcommand. Each connects the library's modules for its command and owns
//! nothing else: no math, no file layout.

mod destination;
mod evaluate;
mod explore;
mod export;
mod leaderboard;
mod sample;
mod summary;
mod train;

use std::path::{Path, PathBuf};

pub(crate) use destination::{Destination, writable_dir};

use anyhow::{Context, Result, bail};

use crate::checkpoint::{self, EnsembleManifest, Layout};
use crate::ranking::{Select, Standing};

pub use evaluate::evaluate;
pub use explore::explore;
pub use export::export;
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
            None if standings.iter().all(|s| s.best_iteration.is_none()) && manifest.diverged.is_empty() => {
                bail!("{}: no member has been evaluated yet, so none is best; {}", dir.display(), pick())
            }
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
            // The evaluation's row names its last iteration, 0-based: it comes after i + 1.
            .map(|i| format!(", after {} iterations", i + 1))
            .unwrap_or_default();
        let rank = match (member, standing) {
            (None, Some(s)) => {
                let modes = s.modes.filter(|m| m.is_finite() && *m > 0.0).map_or(0, |m| m as usize);
                match (s.select, s.score) {
                    (Select::Modes, Some(score)) if modes > 0 => {
                        format!("the best member by modes ({})", s.select.stated(score, modes))
                    }
                    _ => format!(
                        "the best member by {} ({})",
                        s.select.label(),
                        s.score.map(|v| format!("{v:.4}")).unwrap_or_default()
                    ),
                }
            }
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
