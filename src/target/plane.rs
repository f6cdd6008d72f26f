//! The targets that are distributions of points in the plane rather than a curve `y = f(x)`:
//! Gaussian mixtures (`ring`, `grid`, the standard test of mode collapse), `moons`, `spiral`,
//! and a user's own points (`--data FILE.csv`). [`Plane`] draws its points from a draw's
//! words (the same bits on the host as from tensors), knows the box that holds them, and, for
//! a mixture, scores generated points by the protocol of VEEGAN and PacGAN (modes covered,
//! high-quality share).

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::rng;

/// The names of the 2-D built-ins, for messages. `ring` and `grid` take `:N` and `:N:SIGMA`.
pub const NAMES: [&str; 4] = ["ring", "grid", "moons", "spiral"];

/// The expression a `--data` run records as its target.
pub const DATA: &str = "data";

/// Words of a draw that one point takes: a choice (a mode, a moon, a row), a position along a
/// curve, and a pair for one Box–Muller normal pair.
pub const WORDS_PER_POINT: i64 = 4;

/// A high-quality point lies within this many standard deviations of its mode.
pub const HIGH_QUALITY_SIGMAS: f64 = 3.0;

/// Limits on a `--data` file.
pub const MAX_DATA_BYTES: u64 = 16 << 20;
pub const MAX_DATA_ROWS: usize = 100_000;
pub const MIN_DATA_ROWS: usize = 16;
/// The largest `|x|` or `|y|` a data point may have (float32 training keeps its precision).
pub const MAX_DATA_ABS: f64 = 1e6;

const MOONS_NOISE: f64 = 0.05;
const SPIRAL_NOISE: f64 = 0.02;
/// Turns of the spiral's arm, and its inner radius.
const SPIRAL_TURNS: f64 = 2.0;
const SPIRAL_START: f64 = 0.1;

/// A user's points, as a run records them in its checkpoint (so that `evaluate` and `sample`
/// need no file): the file's name, for labels, and its rows. A single run's manifest holds the
/// rows; the members of an ensemble share one copy in the run folder, and their manifests hold
/// its SHA-256 instead (`checkpoint` writes and finds it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSet {
    pub file: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub points: Vec<[f32; 2]>,
    /// The points' SHA-256 ([`DataSet::points_sha256`]) when they are kept beside the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_beside: Option<String>,
}

impl DataSet {
    /// Refuses points that [`read_data`] would not have read (a `config.json` edited by hand).
    fn check(&self) -> Result<()> {
        let n = self.points.len();
        if !(MIN_DATA_ROWS..=MAX_DATA_ROWS).contains(&n) {
            bail!(
                "the data set {} holds {n} points; from {MIN_DATA_ROWS} to {MAX_DATA_ROWS} are allowed",
                self.file
            );
        }
        if let Some(bad) =
            self.points.iter().flatten().find(|v| !v.is_finite() || f64::from(v.abs()) > MAX_DATA_ABS)
        {
            bail!("the data set {} holds {bad}, not a finite number within ±{MAX_DATA_ABS:e}", self.file);
        }
        // As a curve's domain must: each axis spans a width float32 keeps.
        let min = crate::config::limits::MIN_DOMAIN_WIDTH;
        for (axis, name) in ["x", "y"].iter().enumerate() {
            let values = self.points.iter().map(|p| f64::from(p[axis]));
            let (low, high) =
                values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
            if high - low < min {
                bail!(
                    "the data set {}: its {name} spans {low} to {high} in float32, in which gan1d trains, less than \
                     {min:e}; rescale the data",
                    self.file
                );
            }
        }
        Ok(())
    }

    /// What names these points in a message: the file's name, the count, and the start of
    /// their SHA-256, so that two sets compare by their points.
    pub fn fingerprint(&self) -> String {
        format!("{} ({} points, sha256 {})", self.file, self.points.len(), &self.points_sha256()[..12])
    }

    /// The points as a CSV file, `x,y` then one row each, every number written so that it
    /// reads back to the same float32.
    pub fn points_csv(&self) -> String {
        let mut text = String::from("x,y\n");
        for [x, y] in &self.points {
            text += &format!("{x},{y}\n");
        }
        text
    }

    /// The points of a CSV file [`DataSet::points_csv`] wrote.
    pub fn read_points_csv(text: &str) -> Option<Vec<[f32; 2]>> {
        let mut lines = text.lines();
        if lines.next()? != "x,y" {
            return None;
        }
        lines
            .map(|line| {
                let (x, y) = line.split_once(',')?;
                Some([x.parse().ok()?, y.parse().ok()?])
            })
            .collect()
    }

    /// The SHA-256 of the points alone (float32, little-endian, x then y), whatever the file
    /// was called: two sets are the same when these agree.
    pub fn points_sha256(&self) -> String {
        let bytes: Vec<u8> = self.points.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
        crate::fsio::sha256_hex(&bytes)
    }
}

/// A distribution of points in the plane.
#[derive(Debug, Clone, PartialEq)]
pub enum Plane {
    /// Equal-weight isotropic Gaussians of standard deviation `sigma` at `modes`.
    Mixture { modes: Vec<(f64, f64)>, sigma: f64 },
    /// Two half circles: `(cos t, sin t)` and `(1 − cos t, ½ − sin t)`, `t` uniform on `[0, π)`.
    Moons,
    /// Radius from 0.1 to 1, uniform along the arm's parameter, two turns.
    Spiral,
    /// A user's points, each row equally likely.
    Data { points: Vec<(f32, f32)> },
}

impl Plane {
    /// The plane target `expression` names (`ring`, `grid:7`, `data`), or `None` if it names
    /// no plane target (it is then a curve's expression).
    pub fn parse(expression: &str, data: Option<&DataSet>) -> Option<Result<Plane>> {
        let mut parts = expression.split(':');
        let name = parts.next().unwrap_or("").trim();
        let rest: Vec<&str> = parts.collect();
        let plane = match name {
            "ring" => mixture(expression, &rest, 8, 0.01, ring),
            "grid" => mixture(expression, &rest, 5, 0.05, grid),
            "moons" | "spiral" if !rest.is_empty() => {
                Err(anyhow::anyhow!("--target {name} takes no parameters, got `{expression}`"))
            }
            "moons" => Ok(Plane::Moons),
            "spiral" => Ok(Plane::Spiral),
            DATA if rest.is_empty() => match data {
                Some(set) => set
                    .check()
                    .map(|()| Plane::Data { points: set.points.iter().map(|&[x, y]| (x, y)).collect() }),
                None => {
                    Err(anyhow::anyhow!("the target `data` needs its points: train with --data FILE.csv"))
                }
            },
            _ => return None,
        };
        Some(plane)
    }

    /// The point a draw's four words (float32 integers below 2²⁴) stand for.
    pub fn point(&self, words: &[f32]) -> (f32, f32) {
        let mut normal = [0f32; 2];
        rng::host_normals(&words[2..4], &mut normal);
        let (n1, n2) = (f64::from(normal[0]), f64::from(normal[1]));
        let along = f64::from(rng::host_uniform(words[1], 0.0, 1.0));
        let (x, y) = match self {
            Plane::Mixture { modes, sigma } => {
                let (cx, cy) = modes[choose(words[0], modes.len())];
                (cx + sigma * n1, cy + sigma * n2)
            }
            Plane::Moons => {
                let t = std::f64::consts::PI * along;
                let (x, y) = if choose(words[0], 2) == 0 {
                    (libm::cos(t), libm::sin(t))
                } else {
                    (1.0 - libm::cos(t), 0.5 - libm::sin(t))
                };
                (x + MOONS_NOISE * n1, y + MOONS_NOISE * n2)
            }
            Plane::Spiral => {
                let r = SPIRAL_START + (1.0 - SPIRAL_START) * along;
                let angle = std::f64::consts::TAU * SPIRAL_TURNS * along;
                (r * libm::cos(angle) + SPIRAL_NOISE * n1, r * libm::sin(angle) + SPIRAL_NOISE * n2)
            }
            Plane::Data { points } => {
                let (x, y) = points[choose(words[0], points.len())];
                return (x, y);
            }
        };
        (x as f32, y as f32)
    }

    /// `(x0, x1, y0, y1)`: a box that holds the target's points (a mixture's modes with 3σ
    /// around them; a data set's points exactly).
    pub fn bounds(&self) -> (f64, f64, f64, f64) {
        let spread = HIGH_QUALITY_SIGMAS;
        match self {
            Plane::Mixture { modes, sigma } => {
                let (x0, x1, y0, y1) = extent(modes.iter().copied());
                let m = spread * sigma;
                (x0 - m, x1 + m, y0 - m, y1 + m)
            }
            Plane::Moons => {
                let m = spread * MOONS_NOISE;
                (-1.0 - m, 2.0 + m, -0.5 - m, 1.0 + m)
            }
            Plane::Spiral => {
                let m = 1.0 + spread * SPIRAL_NOISE;
                (-m, m, -m, m)
            }
            Plane::Data { points } => {
                let (x0, x1, y0, y1) = extent(points.iter().map(|&(x, y)| (f64::from(x), f64::from(y))));
                // A box of some size even for points on a line.
                let pad = 1e-3 * (x1 - x0).max(y1 - y0).max(1e-3);
                let (px, py) = (if x1 > x0 { 0.0 } else { pad }, if y1 > y0 { 0.0 } else { pad });
                (x0 - px, x1 + px, y0 - py, y1 + py)
            }
        }
    }

    /// A mixture's modes and their standard deviation.
    pub fn mixture(&self) -> Option<(&[(f64, f64)], f64)> {
        match self {
            Plane::Mixture { modes, sigma } => Some((modes, *sigma)),
            _ => None,
        }
    }

    /// What the target is, in words, for labels and `evaluate`.
    pub fn describe(&self) -> String {
        match self {
            Plane::Mixture { modes, sigma } => format!("{} Gaussians, σ {sigma}", modes.len()),
            Plane::Moons => "two moons".to_string(),
            Plane::Spiral => "a spiral".to_string(),
            Plane::Data { points } => format!("{} points", points.len()),
        }
    }
}

/// The scores of points against a mixture by the protocol of VEEGAN and PacGAN: a point is of
/// high quality within 3σ of its nearest mode; a mode is covered when it is the nearest mode
/// of at least one high-quality point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModeScores {
    pub covered: usize,
    pub modes: usize,
    pub high_quality_share: f64,
}

/// [`ModeScores`] of `points` against the mixture `modes` of standard deviation `sigma`.
pub fn mode_scores(points: &[(f32, f32)], modes: &[(f64, f64)], sigma: f64) -> ModeScores {
    let mut covered = vec![false; modes.len()];
    let limit = (HIGH_QUALITY_SIGMAS * sigma).powi(2);
    let mut good = 0usize;
    for &(x, y) in points {
        let (x, y) = (f64::from(x), f64::from(y));
        let nearest = modes
            .iter()
            .map(|&(mx, my)| (x - mx).powi(2) + (y - my).powi(2))
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((i, d2)) = nearest
            && d2 < limit
        {
            good += 1;
            covered[i] = true;
        }
    }
    ModeScores {
        covered: covered.iter().filter(|&&c| c).count(),
        modes: modes.len(),
        high_quality_share: if points.is_empty() { f64::NAN } else { good as f64 / points.len() as f64 },
    }
}

/// Which of `n` equally likely choices a word (a float32 integer below 2²⁴) picks: exact.
fn choose(word: f32, n: usize) -> usize {
    (((word as u64) * n as u64) >> 24) as usize
}

fn extent(points: impl Iterator<Item = (f64, f64)>) -> (f64, f64, f64, f64) {
    points.fold((f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY), |b, (x, y)| {
        (b.0.min(x), b.1.max(x), b.2.min(y), b.3.max(y))
    })
}

/// `n` modes on the unit circle at angles 2πk/n.
fn ring(n: usize) -> Vec<(f64, f64)> {
    (0..n)
        .map(|k| {
            let angle = std::f64::consts::TAU * k as f64 / n as f64;
            (libm::cos(angle), libm::sin(angle))
        })
        .collect()
}

/// `n²` modes 2 apart, centred on the origin: {−4, −2, 0, 2, 4}² for n = 5.
fn grid(n: usize) -> Vec<(f64, f64)> {
    let at = |i: usize| 2.0 * i as f64 - (n - 1) as f64;
    (0..n).flat_map(|i| (0..n).map(move |j| (at(i), at(j)))).collect()
}

/// The largest mixture: modes (and for `grid:N`, `N²`).
const MAX_MODES: usize = 1024;

/// A mixture `name[:N[:SIGMA]]` with `parts` the text after the name.
fn mixture(
    expression: &str,
    parts: &[&str],
    default_n: usize,
    default_sigma: f64,
    modes: fn(usize) -> Vec<(f64, f64)>,
) -> Result<Plane> {
    let name = expression.split(':').next().unwrap_or("").trim();
    let form = format!("--target {name}:N or {name}:N:SIGMA");
    if parts.len() > 2 {
        bail!("{form}, got `{expression}`");
    }
    let n = match parts.first() {
        Some(text) => text.trim().parse::<usize>().map_err(|_| {
            anyhow::anyhow!("{form}: N must be a whole number of modes, got `{}`", text.trim())
        })?,
        None => default_n,
    };
    let count = if name == "grid" { n.saturating_mul(n) } else { n };
    if n == 0 || count > MAX_MODES {
        bail!("{form}: {expression} has {count} modes; from 1 to {MAX_MODES} are allowed");
    }
    let sigma = match parts.get(1) {
        Some(text) => text
            .trim()
            .parse::<f64>()
            .map_err(|_| anyhow::anyhow!("{form}: SIGMA must be a number, got `{}`", text.trim()))?,
        None => default_sigma,
    };
    if !(sigma.is_finite() && (1e-4..=1.0).contains(&sigma)) {
        bail!("{form}: SIGMA must be from 0.0001 to 1, got {sigma}");
    }
    Ok(Plane::Mixture { modes: modes(n), sigma })
}

/// Reads a user's points from `path`: a CSV file with the header `x,y` and one point a row,
/// both numbers finite and within ±10⁶; from 16 to 100 000 rows, at most 16 MiB. Each
/// refusal is one line naming the file and, where it applies, the row.
pub fn read_data(path: &Path) -> Result<DataSet> {
    let shown = path.display();
    let bytes = crate::fsio::read_regular_file(path, MAX_DATA_BYTES)
        .with_context(|| format!("--data {shown}: cannot read it"))?;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(&bytes[..]);
    let header = reader.headers().with_context(|| format!("--data {shown}: cannot read its header"))?;
    let names: Vec<String> = header.iter().map(|h| h.to_ascii_lowercase()).collect();
    if names != ["x", "y"] {
        bail!(
            "--data {shown}: the first line must be the header `x,y`, got `{}`",
            header.iter().collect::<Vec<_>>().join(",")
        );
    }
    let mut points = Vec::new();
    // The values as the file writes them, to find what float32 merges.
    let mut exact: Vec<[f64; 2]> = Vec::new();
    // The line a byte offset is on, as an editor numbers it: blank lines, line breaks inside
    // quotes, CRLF and lone CR counted as they are (the reader's own count drifts with CRLF).
    // A record's recorded start is that of the blank lines skipped before it.
    let line_at = |byte: u64| {
        let mut start = (byte as usize).min(bytes.len());
        while bytes.get(start).is_some_and(|b| matches!(b, b'\r' | b'\n')) {
            start += 1;
        }
        let before = &bytes[..start];
        let lone_cr = before.windows(2).filter(|w| w[0] == b'\r' && w[1] != b'\n').count()
            + usize::from(before.last() == Some(&b'\r'));
        1 + before.iter().filter(|&&b| b == b'\n').count() + lone_cr
    };
    for record in reader.records() {
        let record = record.map_err(|e| {
            let at = e
                .position()
                .map(|p| format!("line {}", line_at(p.byte())))
                .unwrap_or_else(|| "a line".into());
            anyhow::anyhow!("--data {shown}: {at} cannot be read ({})", csv_reason(&e))
        })?;
        // Counted only for a message: counting for every row would take time quadratic in the file.
        let start = record.position().map_or(0, |p| p.byte());
        let row = || line_at(start);
        if record.len() != 2 {
            bail!("--data {shown}: line {} has {} fields; each row is one point, x,y", row(), record.len());
        }
        let mut point = [0f32; 2];
        let mut value_pair = [0f64; 2];
        for (axis, text) in record.iter().enumerate() {
            let value: f64 = text
                .parse()
                .map_err(|_| anyhow::anyhow!("--data {shown}: line {}: `{text}` is not a number", row()))?;
            if !value.is_finite() || value.abs() > MAX_DATA_ABS {
                bail!(
                    "--data {shown}: line {}: {text} is not a finite number within ±{MAX_DATA_ABS:e}",
                    row()
                );
            }
            point[axis] = value as f32;
            value_pair[axis] = value;
        }
        points.push(point);
        exact.push(value_pair);
        if points.len() > MAX_DATA_ROWS {
            bail!("--data {shown}: more than {MAX_DATA_ROWS} points; keep a sample of them");
        }
    }
    if points.len() < MIN_DATA_ROWS {
        bail!("--data {shown}: {} points; at least {MIN_DATA_ROWS} are needed to learn from", points.len());
    }
    // Distinct numbers that float32 rounds into one: the data's detail is lost before training.
    for (axis, name) in ["x", "y"].iter().enumerate() {
        let distinct = |values: &mut Vec<u64>| {
            values.sort_unstable();
            values.dedup();
            values.len()
        };
        let wide = distinct(&mut exact.iter().map(|p| p[axis].to_bits()).collect());
        let narrow = distinct(&mut points.iter().map(|p| f64::from(p[axis]).to_bits()).collect());
        if narrow * 2 < wide {
            bail!(
                "--data {shown}: its {name} holds {wide} distinct numbers, and float32, in which gan1d trains, only \
                 {narrow}; shift and rescale the data so that its detail survives"
            );
        }
    }
    let file = path.file_name().map_or_else(|| shown.to_string(), |n| n.to_string_lossy().into_owned());
    Ok(DataSet { file, points, kept_beside: None })
}

/// What a CSV error says, without the reader's own record and line numbers.
fn csv_reason(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("it has {len} fields, and the rows before it {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "it is not UTF-8 text".to_string(),
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(expression: &str) -> Plane {
        Plane::parse(expression, None).expect("a plane target").unwrap()
    }

    #[test]
    fn the_ring_and_the_grid_are_the_literatures() {
        let Plane::Mixture { modes, sigma } = plane("ring") else { panic!() };
        assert_eq!((modes.len(), sigma), (8, 0.01));
        // 2πk/8: no two modes on top of each other.
        for (k, &(x, y)) in modes.iter().enumerate() {
            let angle = std::f64::consts::TAU * k as f64 / 8.0;
            assert!((x - angle.cos()).abs() < 1e-12 && (y - angle.sin()).abs() < 1e-12);
        }
        let Plane::Mixture { modes, sigma } = plane("grid") else { panic!() };
        assert_eq!((modes.len(), sigma), (25, 0.05));
        assert!(modes.contains(&(-4.0, 4.0)) && modes.contains(&(0.0, 0.0)) && modes.contains(&(4.0, -2.0)));
        let Plane::Mixture { modes, sigma } = plane("ring:3:0.1") else { panic!() };
        assert_eq!((modes.len(), sigma), (3, 0.1));
        assert!(Plane::parse("x^2", None).is_none() && Plane::parse("ringo", None).is_none());
        for bad in ["ring:0", "ring:a", "ring:8:0", "ring:8:2", "grid:40", "ring:1:2:3", "moons:3", "data"] {
            assert!(Plane::parse(bad, None).unwrap().is_err(), "{bad}");
        }
    }

    #[test]
    fn points_fall_where_the_distribution_puts_them() {
        let words = |seed: u64| rng::host_words(seed, &[(rng::Tag::Real, 4 * 2000)], 0, 1);
        for name in ["ring", "grid", "moons", "spiral"] {
            let p = plane(name);
            let points: Vec<(f32, f32)> = words(7).chunks_exact(4).map(|w| p.point(w)).collect();
            let (x0, x1, y0, y1) = p.bounds();
            let inside = points
                .iter()
                .filter(|&&(x, y)| (x0..=x1).contains(&(x as f64)) && (y0..=y1).contains(&(y as f64)))
                .count();
            assert!(inside as f64 > 0.98 * points.len() as f64, "{name}: {inside} inside {:?}", p.bounds());
            if let Some((modes, sigma)) = p.mixture() {
                let scores = mode_scores(&points, modes, sigma);
                // A perfect sampler: every mode, about 1 − e^(−4.5) = 98.9 % of high quality.
                assert_eq!(scores.covered, modes.len(), "{name}");
                assert!((scores.high_quality_share - 0.989).abs() < 0.01, "{name}: {scores:?}");
            }
        }
    }

    #[test]
    fn mode_scores_count_what_the_protocol_counts() {
        let modes = ring(8);
        // Every point at one mode: 1 of 8 covered, all of high quality.
        let collapsed = vec![(1.0f32, 0.0f32); 100];
        let s = mode_scores(&collapsed, &modes, 0.01);
        assert_eq!((s.covered, s.modes, s.high_quality_share), (1, 8, 1.0));
        // Half the points far from every mode.
        let mut mixed = collapsed.clone();
        mixed.extend(vec![(0.0f32, 0.0f32); 100]);
        assert_eq!(mode_scores(&mixed, &modes, 0.01).high_quality_share, 0.5);
        // A point 2.9σ away counts, 3.1σ does not.
        assert_eq!(mode_scores(&[(1.029, 0.0)], &modes, 0.01).covered, 1);
        assert_eq!(mode_scores(&[(1.031, 0.0)], &modes, 0.01).covered, 0);
    }

    #[test]
    fn recorded_points_are_checked_as_a_file_is() {
        let set = |points: Vec<[f32; 2]>| DataSet { file: "d.csv".into(), points, kept_beside: None };
        let spread: Vec<[f32; 2]> = (0..16).map(|i| [i as f32, (i * i) as f32]).collect();
        assert!(Plane::parse("data", Some(&set(spread.clone()))).unwrap().is_ok());
        let few =
            format!("{:#}", Plane::parse("data", Some(&set(spread[..3].to_vec()))).unwrap().unwrap_err());
        assert!(few.contains("holds 3 points"), "{few}");
        let mut points = spread.clone();
        points[7] = [f32::INFINITY, 0.0];
        assert!(Plane::parse("data", Some(&set(points))).unwrap().is_err());
        // An axis that float32 keeps narrower than a domain may be: all one number, or 1e-300s.
        let flat: Vec<[f32; 2]> = spread.iter().map(|&[x, _]| [x, 1e-300f64 as f32]).collect();
        let e = format!("{:#}", Plane::parse("data", Some(&set(flat))).unwrap().unwrap_err());
        assert!(e.contains("its y spans 0 to 0 in float32"), "{e}");
    }

    #[test]
    fn points_kept_beside_a_manifest_read_back_exactly() {
        let points: Vec<[f32; 2]> = (0..20).map(|i| [0.1 * i as f32, -1e-7 * (i as f32).powi(3)]).collect();
        let set = DataSet { file: "d.csv".into(), points, kept_beside: None };
        assert_eq!(DataSet::read_points_csv(&set.points_csv()).unwrap(), set.points);
        assert_eq!(DataSet::read_points_csv("x,y\n1,zz\n"), None);
    }

    #[test]
    fn choices_are_exact_and_even() {
        assert_eq!(choose(0.0, 8), 0);
        assert_eq!(choose(16_777_215.0, 8), 7);
        assert_eq!(choose(2_097_152.0, 8), 1);
        assert_eq!(choose(16_777_215.0, 1), 0);
    }
}
