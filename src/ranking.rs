//! The ranking of a run's members: one [`Standing`] per member with its best evaluation's
//! metrics, ranked by the metric chosen with `--select`, lowest first. Rankings of several runs
//! merge into one, so a sweep split across processes ranks as one. Pure: storage writes and
//! reads the rows as `leaderboard.csv` (`checkpoint::write_leaderboard`).

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::rows::MetricsRow;

pub use crate::config::Select;

impl Select {
    /// Its value in an evaluation's metrics.
    pub fn of(self, row: &MetricsRow) -> f64 {
        match self {
            Select::Energy => row.energy_distance,
            Select::Residual => row.residual_mean,
            Select::Ks => row.ks,
            Select::Modes => (row.modes - row.modes_covered) + (1.0 - row.high_quality_share),
        }
    }

    /// A score of this metric as a person reads it: for modes, on a target of `modes` modes,
    /// the modes covered and the high-quality share the score is made of (`3/8 modes covered,
    /// HQ 0.412`); otherwise the metric's name and value.
    pub fn stated(self, score: f64, modes: usize) -> String {
        if self == Select::Modes && modes > 0 && score.is_finite() && score >= 0.0 {
            // score = missed + (1 − HQ) with HQ in [0, 1]; HQ is 0 only when no mode is covered.
            let missed = (score.floor() as usize).min(modes);
            let high_quality = 1.0 - (score - missed as f64);
            return format!("{}/{modes} modes covered, HQ {high_quality:.3}", modes - missed);
        }
        format!("{} {score:.5}", self.label())
    }
}

/// Defines [`Standing`] and [`Standing::new`] over the quality metrics.
macro_rules! define_standing {
    ($( $(#[$doc:meta])* $field:ident $skip:literal, )*) => {
        /// One member's row of the leaderboard: its best evaluation's metrics, empty before
        /// any (and in leaderboards of an older gan1d, which lacked a column).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct Standing {
            /// 1 for the best member.
            pub rank: usize,
            pub seed: u64,
            /// `trained`, or `diverged` for a member frozen when its losses stopped being
            /// finite.
            pub status: String,
            /// The 0-based iteration after which it diverged.
            pub diverged_after: Option<u64>,
            /// The ranking metric, and its value at the member's best evaluation.
            pub select: Select,
            pub score: Option<f64>,
            /// The best evaluation: its 0-based iteration and its accuracies.
            pub best_iteration: Option<u64>,
            pub acc_real: Option<f64>,
            pub acc_fake: Option<f64>,
            $(
                $(#[$doc])*
                #[serde(default)]
                pub $field: Option<f64>,
            )*
        }

        impl Standing {
            /// The row of member `seed`, ranked by `select`, whose best evaluation is `best`.
            pub fn new(
                seed: u64,
                select: Select,
                best: Option<&MetricsRow>,
                diverged_after: Option<u64>,
            ) -> Standing {
                Standing {
                    rank: 0,
                    seed,
                    status: if diverged_after.is_some() { "diverged" } else { "trained" }.to_string(),
                    diverged_after,
                    select,
                    score: best.map(|b| select.of(b)),
                    best_iteration: best.map(|b| b.iteration),
                    acc_real: best.map(|b| b.acc_real),
                    acc_fake: best.map(|b| b.acc_fake),
                    $($field: best.map(|b| b.$field),)*
                }
            }
        }
    };
}
crate::rows::quality_fields!(define_standing);

/// Whether `score` beats `best`: lower, and a number (a NaN never wins).
pub fn improves(score: f64, best: Option<f64>) -> bool {
    !score.is_nan() && best.is_none_or(|b| b.is_nan() || score < b)
}

/// The best of a member's evaluations `rows` by `select`: the first with the lowest score.
pub fn best(rows: &[MetricsRow], select: Select) -> Option<&MetricsRow> {
    let mut best: Option<&MetricsRow> = None;
    for row in rows {
        if improves(select.of(row), best.map(|b| select.of(b))) {
            best = Some(row);
        }
    }
    best
}

/// Ranks `rows` in place by score, lowest first; members without one go last; ties by seed.
pub fn rank(rows: &mut [Standing]) {
    rows.sort_by(order);
    for (i, row) in rows.iter_mut().enumerate() {
        row.rank = i + 1;
    }
}

/// The ranking's order: the lower score first, a row without one last, ties by seed.
pub fn order(a: &Standing, b: &Standing) -> std::cmp::Ordering {
    let key = |s: &Standing| s.score.filter(|v| !v.is_nan());
    match (key(a), key(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y).then(a.seed.cmp(&b.seed)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.seed.cmp(&b.seed),
    }
}

/// Checks a ranking read back from a run whose members are `seeds`, ranked by `select`, with
/// the members `diverged` frozen: one row per member, ranks 1 to n in order of score, those
/// members marked diverged. The error says what is wrong.
pub fn check(rows: &[Standing], seeds: &[u64], select: Select, diverged: &[u64]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for row in rows {
        if !seeds.contains(&row.seed) {
            bail!("it ranks seed {}, which is not a member of the run", row.seed);
        }
        if !seen.insert(row.seed) {
            bail!("it ranks seed {} twice", row.seed);
        }
        if row.select != select {
            bail!("seed {} is ranked by {}, but the run ranks by {select}", row.seed, row.select);
        }
        // A member that diverged in the round a kill interrupted is marked so here first.
        let marked_diverged = match row.status.as_str() {
            "trained" => false,
            "diverged" => true,
            other => bail!("seed {} has the status {other:?}, neither trained nor diverged", row.seed),
        };
        if marked_diverged != row.diverged_after.is_some() {
            bail!(
                "seed {} is marked {} with no iteration it diverged after, or the other way round",
                row.seed,
                row.status
            );
        }
        if diverged.contains(&row.seed) && !marked_diverged {
            bail!("seed {} is marked trained, but the run says it diverged", row.seed);
        }
        if row.score.is_some() != row.best_iteration.is_some() {
            bail!("seed {}'s score and best iteration do not go together", row.seed);
        }
    }
    if let Some(missing) = seeds.iter().find(|s| !seen.contains(s)) {
        bail!("it has no row for seed {missing}");
    }
    let mut ranked = rows.to_vec();
    rank(&mut ranked);
    let order = |rows: &[Standing]| rows.iter().map(|r| (r.rank, r.seed)).collect::<Vec<_>>();
    let mut given = order(rows);
    given.sort();
    if given != order(&ranked) {
        bail!("its ranks are not 1 to {} in order of score", rows.len());
    }
    Ok(())
}

/// The merged ranking of several rankings, each with the folder it came from. They must rank
/// by one metric, and no seed may appear twice.
pub fn merge(rankings: Vec<(String, Vec<Standing>)>) -> Result<Vec<(String, Standing)>> {
    let mut all: Vec<(String, Standing)> = rankings
        .into_iter()
        .flat_map(|(dir, rows)| rows.into_iter().map(move |r| (dir.clone(), r)))
        .collect();
    if let Some((first_dir, first)) = all.first()
        && let Some((dir, other)) = all.iter().find(|(_, r)| r.select != first.select)
    {
        bail!(
            "{first_dir} ranks by {} but {dir} by {}: rank every part of a sweep with the same --select",
            first.select,
            other.select
        );
    }
    let mut seen = std::collections::HashMap::new();
    for (dir, row) in &all {
        if let Some(earlier) = seen.insert(row.seed, dir.clone()) {
            bail!(
                "seed {} is in both {earlier} and {dir}: give each part of a sweep its own seeds",
                row.seed
            );
        }
    }
    let mut rows: Vec<Standing> = all.iter().map(|(_, r)| r.clone()).collect();
    rank(&mut rows);
    let dirs: std::collections::HashMap<u64, String> = all.drain(..).map(|(d, r)| (r.seed, d)).collect();
    Ok(rows.into_iter().map(|r| (dirs[&r.seed].clone(), r)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_modes_score_is_stated_as_the_modes_covered_and_the_high_quality_share() {
        assert_eq!(Select::Modes.stated(5.997, 8), "3/8 modes covered, HQ 0.003");
        assert_eq!(Select::Modes.stated(0.25, 25), "25/25 modes covered, HQ 0.750");
        assert_eq!(Select::Modes.stated(9.0, 8), "0/8 modes covered, HQ 0.000");
        assert_eq!(Select::Energy.stated(0.0134, 0), "energy distance 0.01340");
    }

    fn standing(seed: u64, score: Option<f64>) -> Standing {
        let mut s = Standing::new(seed, Select::Energy, None, None);
        s.score = score;
        s
    }

    #[test]
    fn ranks_lowest_first_with_the_unscored_last() {
        let mut rows = vec![
            standing(1, Some(0.3)),
            standing(2, None),
            standing(3, Some(0.1)),
            standing(4, Some(f64::NAN)),
        ];
        rank(&mut rows);
        let order: Vec<(u64, usize)> = rows.iter().map(|r| (r.seed, r.rank)).collect();
        assert_eq!(order, [(3, 1), (1, 2), (2, 3), (4, 4)]);
    }

    #[test]
    fn a_ranking_read_back_must_be_the_runs() {
        let mut rows = vec![standing(1, Some(0.3)), standing(2, None), standing(3, Some(0.1))];
        for row in &mut rows {
            row.best_iteration = row.score.map(|_| 99);
        }
        rank(&mut rows);
        let seeds = [1, 2, 3];
        assert!(check(&rows, &seeds, Select::Energy, &[]).is_ok());
        let fails = |rows: &[Standing], seeds: &[u64], select, diverged: &[u64], needle: &str| {
            let err = check(rows, seeds, select, diverged).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        };
        fails(&rows, &[1, 2], Select::Energy, &[], "seed 3, which is not a member");
        fails(&rows, &[1, 2, 3, 4], Select::Energy, &[], "no row for seed 4");
        fails(&rows, &seeds, Select::Ks, &[], "ranked by energy");
        fails(&rows, &seeds, Select::Energy, &[2], "marked trained");
        fails(&[rows.clone(), vec![rows[0].clone()]].concat(), &seeds, Select::Energy, &[], "twice");
        let mut swapped = rows.clone();
        swapped[0].rank = 2;
        swapped[1].rank = 1;
        fails(&swapped, &seeds, Select::Energy, &[], "not 1 to 3 in order");
        let mut torn = rows.clone();
        torn[0].best_iteration = None;
        fails(&torn, &seeds, Select::Energy, &[], "do not go together");
    }

    #[test]
    fn improves_only_on_a_lower_number() {
        assert!(improves(0.2, None) && improves(0.1, Some(0.2)) && improves(0.1, Some(f64::NAN)));
        assert!(!improves(0.2, Some(0.2)) && !improves(f64::NAN, None));
    }

    #[test]
    fn merging_refuses_mixed_metrics_and_repeated_seeds() {
        let a = vec![standing(1, Some(0.2))];
        let b = vec![standing(2, Some(0.1))];
        let merged = merge(vec![("a".into(), a.clone()), ("b".into(), b)]).unwrap();
        assert_eq!(
            merged.iter().map(|(d, r)| (d.as_str(), r.seed, r.rank)).collect::<Vec<_>>(),
            [("b", 2, 1), ("a", 1, 2)]
        );
        assert!(
            format!("{:#}", merge(vec![("a".into(), a.clone()), ("c".into(), a.clone())]).unwrap_err())
                .contains("seed 1")
        );
        let mut ks = standing(5, Some(0.1));
        ks.select = Select::Ks;
        assert!(
            format!("{:#}", merge(vec![("a".into(), a), ("k".into(), vec![ks])]).unwrap_err())
                .contains("--select")
        );
    }
}
