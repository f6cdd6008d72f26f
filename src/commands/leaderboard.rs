//! `gan1d leaderboard`: the merged ranking of the members of one or several run folders, so
//! that a sweep split across processes or machines ranks as one. A folder of members brings
//! its `leaderboard.csv`; a flat run brings its one member, ranked by energy distance at its
//! best evaluation.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::checkpoint::{self, Layout};
use crate::cli::LeaderboardArgs;
use crate::ranking::{self, Select, Standing};
use crate::rows::MetricsRow;
use crate::runlog::CsvLog;

pub fn leaderboard(args: &LeaderboardArgs) -> Result<()> {
    let mut rankings = Vec::new();
    let mut seen: Vec<(PathBuf, &Path)> = Vec::new();
    let mut first: Option<(Comparable, &Path)> = None;
    for dir in &args.dirs {
        // One folder named twice (as given, or by two paths to it) would rank its members twice.
        let real = fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        if let Some((_, earlier)) = seen.iter().find(|(r, _)| *r == real) {
            bail!(
                "{} and {} name the same run folder; name each folder once",
                earlier.display(),
                dir.display()
            );
        }
        seen.push((real, dir));
        let (rows, comparable) = match Layout::of(dir) {
            Layout::Members => {
                let manifest = checkpoint::read_ensemble_manifest(dir)?;
                let rows = super::read_standings(dir, &manifest)?;
                // Any member tells the run's target: the first that can be read.
                let mut tries = manifest
                    .seeds
                    .iter()
                    .map(|&seed| Comparable::of(&checkpoint::member_dir(dir, seed), manifest.select));
                let first = tries.next().expect("an ensemble has a member");
                let comparable = match first {
                    Ok(c) => c,
                    Err(e) => tries.find_map(Result::ok).ok_or(e)?,
                };
                (rows, comparable)
            }
            Layout::Flat => (vec![flat_standing(dir)?], Comparable::of(dir, Select::Energy)?),
        };
        match &first {
            None => first = Some((comparable, dir)),
            Some((wanted, at)) if *wanted != comparable => bail!(
                "{} holds {} but {} holds {}: only runs of one target and domain, ranked by one metric, compare",
                at.display(),
                wanted,
                dir.display(),
                comparable
            ),
            Some(_) => {}
        }
        rankings.push((dir.display().to_string(), rows));
    }
    let merged = ranking::merge(rankings)?;
    if let Some((what, _)) = &first {
        crate::output::note(&format!("gan1d: {} members of {what}", merged.len()));
    }
    let text = if args.csv { csv(&merged)? } else { table(&merged) };
    let _ = crate::output::Stdout::default().text(&text)?;
    Ok(())
}

/// What makes two rankings comparable: the target (with a curve's domain, or a data set's
/// points) and the metric they rank by. Shown as "runs of x^2 on [-0.5, 0.5), ranked by energy".
#[derive(Debug, PartialEq)]
struct Comparable {
    target: String,
    select: Select,
}

impl Comparable {
    /// The target of the run whose checkpoint is in `dir`, ranked by `select`.
    fn of(dir: &Path, select: Select) -> Result<Comparable> {
        let manifest = checkpoint::read_manifest(dir)?;
        let config = &manifest.train.target;
        let target = manifest.target()?;
        let target = match (&config.data, target.plane()) {
            (Some(set), _) => format!("{} points of sha256 {}", set.points.len(), &set.points_sha256()[..12]),
            (None, Some(_)) => target.label(),
            (None, None) => {
                format!("{} on [{}, {})", target.label(), config.domain.low(), config.domain.high())
            }
        };
        Ok(Comparable { target, select })
    }
}

impl std::fmt::Display for Comparable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "runs of {}, ranked by {}", self.target, self.select)
    }
}

/// The standing of the flat run in `dir`: its best evaluation by energy distance, among those
/// its checkpoint covers.
fn flat_standing(dir: &Path) -> Result<Standing> {
    let context = || {
        format!(
            "{}: not a run folder; `gan1d train --out DIR` or `gan1d train --seeds LIST --out DIR` writes one",
            dir.display()
        )
    };
    let manifest = checkpoint::read_manifest(dir).with_context(context)?;
    let path = checkpoint::metrics_csv_path(dir);
    let record = manifest.logs.as_ref().map(|r| &r.metrics);
    let log = CsvLog::<MetricsRow>::check(&path, &checkpoint::staged_path(&path), record, |row| {
        row.iteration < manifest.iteration
    })?;
    let best = ranking::best(log.rows(), Select::Energy);
    Ok(Standing::new(manifest.seed, Select::Energy, best, None))
}

/// The rows as `leaderboard.csv` writes them, with the folder of each as a last column.
fn csv(rows: &[(String, Standing)]) -> Result<String> {
    let mut out = String::new();
    for (i, (dir, row)) in rows.iter().enumerate() {
        let mut writer = csv::WriterBuilder::new().has_headers(i == 0).from_writer(Vec::new());
        writer.serialize(row)?;
        let mut folder = csv::WriterBuilder::new().from_writer(Vec::new());
        folder.write_record([dir.as_str()])?;
        let text = String::from_utf8(writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
        let folder = String::from_utf8(folder.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
        let mut lines = text.lines();
        if i == 0 {
            out += &format!("{},folder\n", lines.next().unwrap_or_default());
        }
        out += &format!("{},{}\n", lines.next().unwrap_or_default(), folder.trim_end());
    }
    Ok(out)
}

/// The rows as an aligned table, best first: a curve's residual, KS, energy and share on the
/// curve, or a plane target's modes covered, high-quality share, energy and KS of y.
fn table(rows: &[(String, Standing)]) -> String {
    let select = rows.first().map(|(_, r)| r.select.label()).unwrap_or("score");
    let number = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
    let plane = rows.iter().any(|(_, r)| r.ks_y.is_some_and(f64::is_finite));
    let heads = match plane {
        false => ["residual", "KS", "energy", "on curve"],
        true => ["modes", "HQ", "energy", "KS of y"],
    };
    let mut out = format!(
        "{:>4}  {:>8}  {:<10}  {:>9}  {:>15}  {:>8}  {:>8}  {:>8}  {:>8}  folder\n",
        "rank", "seed", "status", "best at", select, heads[0], heads[1], heads[2], heads[3]
    );
    for (dir, r) in rows {
        let status = match r.diverged_after {
            Some(at) => format!("div. {at}"),
            None => r.status.clone(),
        };
        let columns = match plane {
            false => [r.residual_mean, r.ks, r.energy_distance, r.residual_share_on_curve].map(number),
            true => {
                let modes = match (r.modes_covered, r.modes) {
                    (Some(c), Some(m)) if c.is_finite() && m.is_finite() => format!("{c}/{m}"),
                    _ => "-".into(),
                };
                [modes, number(r.high_quality_share), number(r.energy_distance), number(r.ks_y)]
            }
        };
        out += &format!(
            "{:>4}  {:>8}  {:<10}  {:>9}  {:>15}  {:>8}  {:>8}  {:>8}  {:>8}  {dir}\n",
            r.rank,
            r.seed,
            status,
            r.best_iteration.map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
            number(r.score),
            columns[0],
            columns[1],
            columns[2],
            columns[3],
        );
    }
    out
}
