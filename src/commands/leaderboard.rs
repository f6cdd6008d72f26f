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
    let mut parts: Vec<Part> = Vec::new();
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
        let (rows, comparable, choices) = match Layout::of(dir) {
            Layout::Members => {
                let manifest = checkpoint::read_ensemble_manifest(dir)?;
                let rows = super::read_standings(dir, &manifest)?;
                // Any member tells the run's target and choices: the first that can be read.
                let mut tries = manifest.seeds.iter().map(|&seed| {
                    let member = checkpoint::member_dir(dir, seed);
                    Comparable::of(&member, manifest.select).and_then(|c| Ok((c, choices_of(&member)?)))
                });
                let first = tries.next().expect("an ensemble has a member");
                let (comparable, choices) = match first {
                    Ok(c) => c,
                    Err(e) => tries.find_map(Result::ok).ok_or(e)?,
                };
                (rows, comparable, choices)
            }
            Layout::Flat => {
                (vec![flat_standing(dir)?], Comparable::of(dir, Select::Energy)?, choices_of(dir)?)
            }
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
        parts.push(Part { dir: dir.display().to_string(), rows, choices });
    }
    // Folders that train alike are parts of one sweep: their seeds must differ. Folders that
    // differ in a choice are configurations to compare, on the same seeds or others.
    let mut configurations: Vec<Configuration> = Vec::new();
    for part in parts {
        match configurations.iter_mut().find(|(c, _)| *c == part.choices) {
            Some((_, parts)) => parts.push((part.dir, part.rows)),
            None => configurations.push((part.choices, vec![(part.dir, part.rows)])),
        }
    }
    let differ = differing(configurations.iter().map(|(c, _)| c));
    let mut merged: Vec<Ranked> = Vec::new();
    for (k, (_, parts)) in configurations.iter().enumerate() {
        for (dir, standing) in ranking::merge(parts.clone())? {
            merged.push(Ranked { dir, standing, configuration: k });
        }
    }
    if let Some((a, b)) =
        merged.windows(2).find(|w| w[0].standing.select != w[1].standing.select).map(|w| (&w[0], &w[1]))
    {
        bail!(
            "{} ranks by {} but {} by {}: rank every configuration with the same --select",
            a.dir,
            a.standing.select,
            b.dir,
            b.standing.select
        );
    }
    rank_all(&mut merged);
    if let Some((what, _)) = &first {
        let among = if configurations.len() > 1 {
            let names: Vec<String> = differ.iter().map(|n| short_name(n)).collect();
            format!(" in {} configurations that differ in {}", configurations.len(), names.join(", "))
        } else {
            String::new()
        };
        crate::output::note(&format!("gan1d: {} members of {what}{among}", merged.len()));
    }
    let columns: Vec<(String, Vec<String>)> = differ
        .iter()
        .map(|name| {
            let values = merged.iter().map(|r| choice(&configurations[r.configuration].0, name)).collect();
            (short_name(name), values)
        })
        .collect();
    let rows: Vec<(String, Standing)> = merged.iter().map(|r| (r.dir.clone(), r.standing.clone())).collect();
    let text = if args.csv {
        csv(&rows, &columns)?
    } else if configurations.len() > 1 {
        format!("{}\n{}", configurations_table(&merged, &configurations, &differ), table(&rows, &columns))
    } else {
        table(&rows, &columns)
    };
    let _ = crate::output::Stdout::default().text(&text)?;
    Ok(())
}

/// A run's training choices, each value as compact JSON, by name ([`crate::summary::flat_choices`]).
type Choices = std::collections::BTreeMap<String, String>;

/// A configuration: its choices, and the folders that train with them, each with its rows.
type Configuration = (Choices, Vec<(String, Vec<Standing>)>);

/// One folder's rows and choices.
struct Part {
    dir: String,
    rows: Vec<Standing>,
    choices: Choices,
}

/// A member's row, with its folder and the configuration it belongs to.
struct Ranked {
    dir: String,
    standing: Standing,
    configuration: usize,
}

/// The training choices of the run whose manifest is in `dir`.
fn choices_of(dir: &Path) -> Result<Choices> {
    let manifest = checkpoint::read_manifest(dir)?;
    let value = serde_json::to_value(&manifest).context("cannot read the run's choices")?;
    let text = |v: serde_json::Value| v.as_str().map_or_else(|| v.to_string(), String::from);
    Ok(crate::summary::flat_choices(&value).into_iter().map(|(k, v)| (k, text(v))).collect())
}

/// The names of the choices that are not the same in every configuration.
fn differing<'a>(configurations: impl Iterator<Item = &'a Choices> + Clone) -> Vec<String> {
    let names: std::collections::BTreeSet<&String> = configurations.clone().flat_map(|c| c.keys()).collect();
    names
        .into_iter()
        .filter(|name| {
            let values: std::collections::BTreeSet<Option<&String>> =
                configurations.clone().map(|c| c.get(*name)).collect();
            values.len() > 1
        })
        .cloned()
        .collect()
}

/// The value of choice `name` in `choices`; a manifest leaves out a choice at its default.
fn choice(choices: &Choices, name: &str) -> String {
    choices.get(name).cloned().unwrap_or_else(|| "(default)".to_string())
}

/// A choice's name as a column: `train.adam.learning_rate` as `adam.learning_rate`.
fn short_name(name: &str) -> String {
    name.trim_start_matches("train.").trim_start_matches("model.").to_string()
}

/// Ranks every member of every configuration together, lowest score first, as
/// [`ranking::rank`] ranks one run's (a seed may stand in several configurations: its first
/// folder named comes first).
fn rank_all(rows: &mut [Ranked]) {
    rows.sort_by(|a, b| ranking::order(&a.standing, &b.standing).then(a.configuration.cmp(&b.configuration)));
    for (i, row) in rows.iter_mut().enumerate() {
        row.standing.rank = i + 1;
    }
}

/// The configurations ranked by the median score of their members, with the choices that tell
/// them apart, how many members each has, and their best and worst.
fn configurations_table(rows: &[Ranked], configurations: &[Configuration], differ: &[String]) -> String {
    let select = rows.first().map(|r| r.standing.select.label()).unwrap_or("score");
    let mut summaries: Vec<(Option<f64>, usize, Vec<f64>)> = (0..configurations.len())
        .map(|k| {
            let mut scores: Vec<f64> = rows
                .iter()
                .filter(|r| r.configuration == k)
                .filter_map(|r| r.standing.score)
                .filter(|v| !v.is_nan())
                .collect();
            scores.sort_by(f64::total_cmp);
            let median = (!scores.is_empty()).then(|| {
                let n = scores.len();
                if n % 2 == 1 { scores[n / 2] } else { (scores[n / 2 - 1] + scores[n / 2]) / 2.0 }
            });
            (median, k, scores)
        })
        .collect();
    summaries.sort_by(|a, b| match (a.0, b.0) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.1.cmp(&b.1),
    });
    let all: Vec<f64> = summaries.iter().filter_map(|s| s.0).collect();
    let digits = digits_to_separate(&all);
    let number = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"));
    let widths: Vec<usize> = differ
        .iter()
        .map(|name| {
            configurations
                .iter()
                .map(|(c, _)| choice(c, name).len())
                .chain([short_name(name).len()])
                .max()
                .unwrap_or(1)
        })
        .collect();
    let mut out = format!("configurations, by the median {select} of their members (lower is better):\n");
    out += &format!("{:>4}  ", "rank");
    for (name, w) in differ.iter().zip(&widths) {
        out += &format!("{:<w$}  ", short_name(name));
    }
    out += &format!("{:>7}  {:>12}  {:>12}  {:>12}\n", "members", "median", "best", "worst");
    for (i, (median, k, scores)) in summaries.iter().enumerate() {
        out += &format!("{:>4}  ", i + 1);
        for (name, w) in differ.iter().zip(&widths) {
            out += &format!("{:<w$}  ", choice(&configurations[*k].0, name));
        }
        let members = rows.iter().filter(|r| r.configuration == *k).count();
        out += &format!(
            "{members:>7}  {:>12}  {:>12}  {:>12}\n",
            number(*median),
            number(scores.first().copied()),
            number(scores.last().copied())
        );
    }
    out
}

/// Decimal places, at least 4 and at most 12, that print distinct numbers of `values`
/// distinctly.
fn digits_to_separate(values: &[f64]) -> usize {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    (4..=12)
        .find(|&d| sorted.windows(2).all(|w| format!("{:.d$}", w[0]) != format!("{:.d$}", w[1])))
        .unwrap_or(12)
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

/// The rows as `leaderboard.csv` writes them, then a column for each choice in `columns` (the
/// choices that differ between configurations), then the folder of each.
fn csv(rows: &[(String, Standing)], columns: &[(String, Vec<String>)]) -> Result<String> {
    let mut out = String::new();
    let record = |fields: Vec<&str>| -> Result<String> {
        let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
        writer.write_record(fields)?;
        Ok(String::from_utf8(writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?
            .trim_end()
            .to_string())
    };
    for (i, (dir, row)) in rows.iter().enumerate() {
        let mut writer = csv::WriterBuilder::new().has_headers(i == 0).from_writer(Vec::new());
        writer.serialize(row)?;
        let text = String::from_utf8(writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
        let mut lines = text.lines();
        if i == 0 {
            let mut names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
            names.push("folder");
            out += &format!("{},{}\n", lines.next().unwrap_or_default(), record(names)?);
        }
        let mut values: Vec<&str> = columns.iter().map(|(_, values)| values[i].as_str()).collect();
        values.push(dir);
        out += &format!("{},{}\n", lines.next().unwrap_or_default(), record(values)?);
    }
    Ok(out)
}

/// The rows as an aligned table, best first: the score, then a curve's residual, KS, energy
/// and share on the curve, or a plane target's modes covered, high-quality share, energy and
/// KS of y, less the one the score already is; then a column for each choice in `columns`,
/// and the folder. The score has the decimals that tell the ranks apart.
fn table(rows: &[(String, Standing)], columns: &[(String, Vec<String>)]) -> String {
    let select = rows.first().map(|(_, r)| r.select).unwrap_or_default();
    let number = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
    let scores: Vec<f64> = rows.iter().filter_map(|(_, r)| r.score).collect();
    let digits = digits_to_separate(&scores);
    let plane = rows.iter().any(|(_, r)| r.ks_y.is_some_and(f64::is_finite));
    let heads = match plane {
        false => ["residual", "KS", "energy", "on curve"],
        true => ["modes", "HQ", "energy", "KS of y"],
    };
    // The metric the score is, shown once.
    let shown = |head: &str| match select {
        Select::Energy => head != "energy",
        Select::Residual => head != "residual",
        Select::Ks => head != "KS",
        Select::Modes => true,
    };
    let widths: Vec<usize> = columns
        .iter()
        .map(|(name, values)| values.iter().map(String::len).chain([name.len()]).max().unwrap_or(1))
        .collect();
    let mut out = format!(
        "{:>4}  {:>8}  {:<10}  {:>10}  {:>15}",
        "rank",
        "seed",
        "status",
        "best after",
        select.label()
    );
    for head in heads.iter().filter(|h| shown(h)) {
        out += &format!("  {head:>8}");
    }
    for ((name, _), w) in columns.iter().zip(&widths) {
        out += &format!("  {name:<w$}");
    }
    out += "  folder\n";
    for (i, (dir, r)) in rows.iter().enumerate() {
        let status = match r.diverged_after {
            Some(at) => format!("div. {at}"),
            None => r.status.clone(),
        };
        let values = match plane {
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
            "{:>4}  {:>8}  {:<10}  {:>10}  {:>15}",
            r.rank,
            r.seed,
            status,
            // The count of iterations done, as every message says it (the CSV's
            // best_iteration is the evaluation's 0-based iteration, as in metrics.csv).
            r.best_iteration.map(|i| (i + 1).to_string()).unwrap_or_else(|| "-".into()),
            r.score.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}")),
        );
        for (head, value) in heads.iter().zip(&values) {
            if shown(head) {
                out += &format!("  {value:>8}");
            }
        }
        for ((_, values), w) in columns.iter().zip(&widths) {
            out += &format!("  {:<w$}", values[i]);
        }
        out += &format!("  {dir}\n");
    }
    out
}
