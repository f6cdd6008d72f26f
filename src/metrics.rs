//! Objective quality of generated points, which the tutorial judged by eye: since the target
//! function and its input distribution are known, a generator can be measured. A curve's
//! points are measured against the curve and its domain; a plane target's against real
//! points (energy distance, each coordinate's KS) and, for a mixture, against its modes.
//! Pure functions on plain `(x, y)` pairs; no tensors, no files.

use serde::Serialize;

use crate::target::Target;

/// A residual below this share of the target's height (its range over the domain) counts as
/// "on the curve": for the tutorial's x², whose height is 0.25, that is 0.01, a visible but
/// small miss on the default plot.
pub const ON_CURVE: f64 = 0.04;

/// The residual below which a point of `target` counts as on the curve: [`ON_CURVE`] of the
/// target's height, or of the domain's width for a constant target.
pub fn on_curve_tolerance(target: &Target) -> f64 {
    let (low, high) = target.range();
    let height = if high > low { high - low } else { 2.0 * target.domain().half_width() };
    ON_CURVE * height
}

/// The energy distance compares at most this many points of each set: it costs n² distances.
pub const ENERGY_MAX_POINTS: usize = 2000;

/// Defines [`Metrics`] with the quality metrics of [`crate::rows::quality_fields!`].
macro_rules! define_metrics {
    ($( $(#[$doc:meta])* $field:ident $skip:literal, )*) => {
        /// The quality numbers of one set of generated (or real) points. A curve's are all
        /// numbers but the mixture's; a plane target's curve metrics are NaN (`null` in JSON),
        /// and the metrics a curve does not have are NaN and left out of JSON.
        #[derive(Debug, Clone, Serialize)]
        pub struct Metrics {
            /// Points measured.
            pub n: usize,
            $(
                $(#[$doc])*
                #[serde(skip_serializing_if = $skip)]
                pub $field: f64,
            )*
        }
    };
}
crate::rows::quality_fields!(define_metrics);

impl Metrics {
    /// Whether these are a plane target's metrics: only those measure `y` against real points.
    pub fn is_plane(&self) -> bool {
        !self.ks_y.is_nan()
    }

    /// The metrics that apply as `(label, value)` rows, in the order tables list them.
    pub fn rows(&self) -> Vec<(&'static str, f64)> {
        if self.is_plane() {
            let mut rows = Vec::new();
            if !self.modes.is_nan() {
                rows.push(("modes covered", self.modes_covered));
                rows.push(("modes", self.modes));
                rows.push(("high-quality share (within 3 sigma)", self.high_quality_share));
            }
            rows.extend([
                ("energy distance to real", self.energy_distance),
                ("KS statistic of x (vs real)", self.ks),
                ("KS statistic of y (vs real)", self.ks_y),
                ("share of points in target's box", self.share_in_domain),
            ]);
            return rows;
        }
        vec![
            ("residual mean", self.residual_mean),
            ("residual median", self.residual_median),
            ("residual p95", self.residual_p95),
            ("share on curve (< 4% of height)", self.residual_share_on_curve),
            ("share of x in domain", self.share_in_domain),
            ("KS statistic of x", self.ks),
            ("share of x in left half of domain", self.share_left_branch),
            ("widest gap in x (share of domain)", self.widest_gap),
            ("energy distance to real", self.energy_distance),
        ]
    }

    /// One line for a terminal: the headline numbers.
    pub fn summary_line(&self) -> String {
        if self.is_plane() {
            let modes = if self.modes.is_nan() {
                String::new()
            } else {
                format!("modes {} | HQ {:.3} | ", self.modes_covered, self.high_quality_share)
            };
            return format!(
                "{modes}KS x {:.3} y {:.3} | energy {:.4}",
                self.ks, self.ks_y, self.energy_distance
            );
        }
        format!(
            "residual mean {:.4} p95 {:.4} | KS {:.3} | left {:.2} | gap {:.3} | energy {:.4}",
            self.residual_mean,
            self.residual_p95,
            self.ks,
            self.share_left_branch,
            self.widest_gap,
            self.energy_distance
        )
    }
}

/// A readable table of `generated` beside `floor`, the same metrics for real points against
/// real points: the score a perfect generator would get on this many points.
pub fn table(generated: &Metrics, floor: &Metrics) -> String {
    let mut out = format!("{:<34} {:>12} {:>12}\n", "metric", "generated", "real floor");
    for ((label, value), (_, floor_value)) in generated.rows().iter().zip(floor.rows()) {
        // Counts of modes are whole numbers.
        if label.starts_with("modes") {
            out.push_str(&format!("{label:<34} {value:>12} {floor_value:>12}\n"));
        } else {
            out.push_str(&format!("{label:<34} {value:>12.5} {floor_value:>12.5}\n"));
        }
    }
    out.push_str(&format!("{:<34} {:>12} {:>12}\n", "points", generated.n, floor.n));
    out
}

/// The curve's height that a point at `x` is measured against: `f(x)`, or, where `f` is not
/// a number there (a point outside the domain, `sqrt(x)` at x < 0), `f` at the nearest end of
/// the domain, so that every residual is a number.
fn curve_at(target: &Target, x: f64) -> f64 {
    let y = target.f(x);
    if y.is_finite() {
        return y;
    }
    let domain = target.domain();
    target.f(x.clamp(domain.low(), domain.high()))
}

/// Measures `points` against `target` and its domain, using `reference` (real points of the
/// target) for the energy distance. Both sets must be non-empty; the energy distance needs two
/// points in each.
pub fn measure(points: &[(f32, f32)], reference: &[(f32, f32)], target: &Target) -> Metrics {
    if target.plane().is_some() {
        return measure_plane(points, reference, target);
    }
    let n = points.len();
    let domain = target.domain();
    let (low, high, middle) = (domain.low(), domain.high(), domain.middle());
    let tolerance = on_curve_tolerance(target);
    let mut residuals: Vec<f64> =
        points.iter().map(|&(x, y)| (y as f64 - curve_at(target, x as f64)).abs()).collect();
    residuals.sort_by(f64::total_cmp);
    let xs: Vec<f64> = points.iter().map(|&(x, _)| x as f64).collect();
    let share = |pred: &dyn Fn(f64) -> bool, values: &[f64]| {
        values.iter().filter(|&&v| pred(v)).count() as f64 / values.len() as f64
    };
    Metrics {
        n,
        residual_mean: residuals.iter().sum::<f64>() / n as f64,
        residual_median: quantile(&residuals, 0.5),
        residual_p95: quantile(&residuals, 0.95),
        residual_share_on_curve: share(&|r| r < tolerance, &residuals),
        share_in_domain: share(&|x| domain.contains(x), &xs),
        ks: ks_uniform(&xs, low, high),
        share_left_branch: share(&|x| x < middle, &xs),
        widest_gap: widest_gap(&xs, low, high),
        energy_distance: energy_distance(
            &points[..n.min(ENERGY_MAX_POINTS)],
            &reference[..reference.len().min(ENERGY_MAX_POINTS)],
        ),
        ks_y: f64::NAN,
        modes: f64::NAN,
        modes_covered: f64::NAN,
        high_quality_share: f64::NAN,
    }
}

/// [`measure`] for a plane target: against the real points `reference` and, for a mixture, its
/// modes ([`crate::target::plane::mode_scores`]).
fn measure_plane(points: &[(f32, f32)], reference: &[(f32, f32)], target: &Target) -> Metrics {
    let plane = target.plane().expect("a plane target");
    let n = points.len();
    let (x0, x1, y0, y1) = target.bounds();
    let column = |set: &[(f32, f32)], axis: usize| -> Vec<f64> {
        set.iter().map(|&(x, y)| f64::from(if axis == 0 { x } else { y })).collect()
    };
    let inside = points
        .iter()
        .filter(|&&(x, y)| (x0..=x1).contains(&f64::from(x)) && (y0..=y1).contains(&f64::from(y)))
        .count();
    let scores =
        plane.mixture().map(|(modes, sigma)| crate::target::plane::mode_scores(points, modes, sigma));
    Metrics {
        n,
        residual_mean: f64::NAN,
        residual_median: f64::NAN,
        residual_p95: f64::NAN,
        residual_share_on_curve: f64::NAN,
        share_in_domain: inside as f64 / n as f64,
        ks: ks_two_sample(&column(points, 0), &column(reference, 0)),
        share_left_branch: f64::NAN,
        widest_gap: f64::NAN,
        energy_distance: energy_distance(
            &points[..n.min(ENERGY_MAX_POINTS)],
            &reference[..reference.len().min(ENERGY_MAX_POINTS)],
        ),
        ks_y: ks_two_sample(&column(points, 1), &column(reference, 1)),
        modes: scores.map_or(f64::NAN, |s| s.modes as f64),
        modes_covered: scores.map_or(f64::NAN, |s| s.covered as f64),
        high_quality_share: scores.map_or(f64::NAN, |s| s.high_quality_share),
    }
}

/// The two-sample Kolmogorov–Smirnov statistic: the largest gap between the empirical CDFs
/// of `a` and `b` (0 for the same values, 1 for disjoint sets). NaN if either is empty.
pub fn ks_two_sample(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let sorted = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    };
    let (a, b) = (sorted(a), sorted(b));
    let (mut i, mut j, mut gap) = (0usize, 0usize, 0f64);
    // Values compare by `total_cmp`, so that a NaN (a diverged generator's) is a value too,
    // after every number, and each step moves on.
    let same = |x: f64, v: f64| x.total_cmp(&v).is_eq();
    while i < a.len() && j < b.len() {
        let v = if a[i].total_cmp(&b[j]).is_le() { a[i] } else { b[j] };
        while i < a.len() && same(a[i], v) {
            i += 1;
        }
        while j < b.len() && same(b[j], v) {
            j += 1;
        }
        gap = gap.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    gap
}

/// The `q`-quantile of sorted values, interpolating linearly between neighbours.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

/// Kolmogorov–Smirnov statistic of `xs` against `Uniform[low, high)`, whose CDF is known.
pub fn ks_uniform(xs: &[f64], low: f64, high: f64) -> f64 {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let cdf = |x: f64| ((x - low) / (high - low)).clamp(0.0, 1.0);
    sorted
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = cdf(x);
            ((i + 1) as f64 / n - f).max(f - i as f64 / n)
        })
        .fold(0.0, f64::max)
}

/// The widest interval of `[low, high)` holding none of `xs`, as a share of the domain's
/// width: the stretches before the first point inside, between neighbours, and after the last.
/// 1 when no point falls inside.
pub fn widest_gap(xs: &[f64], low: f64, high: f64) -> f64 {
    let mut inside: Vec<f64> = xs.iter().copied().filter(|x| (low..high).contains(x)).collect();
    inside.sort_by(f64::total_cmp);
    let mut edges = Vec::with_capacity(inside.len() + 2);
    edges.push(low);
    edges.extend(inside);
    edges.push(high);
    edges.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max) / (high - low)
}

/// Unbiased (U-statistic) energy distance between two point sets in the plane:
/// `2·E|X−Y| − E|X−X'| − E|Y−Y'|`, the last two averaged over distinct pairs only.
pub fn energy_distance(a: &[(f32, f32)], b: &[(f32, f32)]) -> f64 {
    if a.len() < 2 || b.len() < 2 {
        return f64::NAN;
    }
    let (a, b) = (Columns::of(a), Columns::of(b));
    let cross: f64 = (0..a.len()).map(|i| b.distances_from(a.x[i], a.y[i], 0)).sum();
    let within = |s: &Columns| {
        let total: f64 = (0..s.len()).map(|i| s.distances_from(s.x[i], s.y[i], i + 1)).sum();
        2.0 * total / (s.len() * (s.len() - 1)) as f64
    };
    2.0 * cross / (a.len() * b.len()) as f64 - within(&a) - within(&b)
}

/// Points as two float64 columns, for sums of distances that vectorise.
struct Columns {
    x: Vec<f64>,
    y: Vec<f64>,
}

impl Columns {
    fn of(points: &[(f32, f32)]) -> Columns {
        Columns {
            x: points.iter().map(|p| f64::from(p.0)).collect(),
            y: points.iter().map(|p| f64::from(p.1)).collect(),
        }
    }

    fn len(&self) -> usize {
        self.x.len()
    }

    /// `Σ |(x, y) − p|` over the points from `from` on, in four partial sums added in a fixed
    /// order: the same bits on every CPU. Compiled with AVX2 too, where the CPU has it: the
    /// same operations, so the same bits.
    fn distances_from(&self, x: f64, y: f64, from: usize) -> f64 {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked at run time.
            return unsafe { self.distances_from_avx2(x, y, from) };
        }
        self.distances_body(x, y, from)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn distances_from_avx2(&self, x: f64, y: f64, from: usize) -> f64 {
        self.distances_body(x, y, from)
    }

    #[inline(always)]
    fn distances_body(&self, x: f64, y: f64, from: usize) -> f64 {
        const LANES: usize = 4;
        let (xs, ys) = (&self.x[from..], &self.y[from..]);
        let distance = |px: f64, py: f64| ((px - x) * (px - x) + (py - y) * (py - y)).sqrt();
        let mut acc = [0f64; LANES];
        let (cx, cy) = (xs.chunks_exact(LANES), ys.chunks_exact(LANES));
        let tail: f64 = cx.remainder().iter().zip(cy.remainder()).map(|(&px, &py)| distance(px, py)).sum();
        for (px, py) in cx.zip(cy) {
            for l in 0..LANES {
                acc[l] += distance(px[l], py[l]);
            }
        }
        (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_sample_ks_statistic_counts_ties_and_survives_nan() {
        assert_eq!(ks_two_sample(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 0.0);
        assert_eq!(ks_two_sample(&[0.0, 0.0], &[5.0, 6.0]), 1.0);
        assert!((ks_two_sample(&[1.0, 2.0, 3.0, 4.0], &[3.0, 4.0]) - 0.5).abs() < 1e-12);
        // A diverged generator's points: every one NaN, disjoint from the real ones.
        assert_eq!(ks_two_sample(&[f64::NAN, f64::NAN], &[0.0, 1.0]), 1.0);
        assert!(ks_two_sample(&[], &[1.0]).is_nan());
    }

    #[test]
    fn ks_of_an_evenly_spaced_grid_is_half_a_step() {
        // Points at the centres of n equal cells: the empirical CDF is never further than
        // 1/(2n) from the true one.
        let n = 200;
        let xs: Vec<f64> = (0..n).map(|i| -0.5 + (i as f64 + 0.5) / n as f64).collect();
        assert!((ks_uniform(&xs, -0.5, 0.5) - 0.5 / n as f64).abs() < 1e-12);
        // All points outside the domain: the distributions are disjoint.
        assert_eq!(ks_uniform(&[2.0, 3.0], -0.5, 0.5), 1.0);
    }

    #[test]
    fn energy_distance_of_point_masses_and_of_a_set_with_itself() {
        let a = [(0.0f32, 0.0f32); 4];
        let b = [(3.0f32, 4.0f32); 5];
        assert!((energy_distance(&a, &b) - 10.0).abs() < 1e-12); // 2·|(3, 4)|
        // A set against itself: the cross term includes the zero self-distances, the
        // within terms do not, so with S the sum over unordered pairs the unbiased estimate is
        // 2·2S/n² − 2·2S/(n(n−1)) = −4S / (n²(n−1)).
        let s = [(0.0f32, 0.0f32), (1.0, 0.0), (0.0, 1.0)];
        let pair_sum = 1.0 + 1.0 + 2f64.sqrt();
        let expected = -4.0 * pair_sum / (9.0 * 2.0);
        assert!((energy_distance(&s, &s) - expected).abs() < 1e-12);
        // Shifting one set away raises the distance.
        let shifted: Vec<_> = s.iter().map(|&(x, y)| (x + 5.0, y)).collect();
        assert!(energy_distance(&s, &shifted) > 5.0);
    }

    #[test]
    fn the_table_lists_every_metric() {
        let m = measure(&[(0.0, 0.0), (0.1, 0.02)], &[(0.0, 0.0), (0.2, 0.04)], &Target::default());
        let table = table(&m, &m);
        for (label, _) in m.rows() {
            assert!(table.contains(label), "{label}");
        }
    }

    /// `n` points on the curve, uniform in the domain but for the hole `[from, to)`.
    fn with_hole(n: usize, from: f32, to: f32) -> Vec<(f32, f32)> {
        let mut rng = 12345u64;
        let uniform = || {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (rng >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        std::iter::repeat_with(uniform)
            .filter(|x| !(from..to).contains(x))
            .take(n)
            .map(|x| (x, x * x))
            .collect()
    }

    #[test]
    fn a_five_percent_hole_at_an_edge_or_in_the_middle_is_caught() {
        let whole = measure(&with_hole(1000, 0.0, 0.0), &[(0.0, 0.0), (0.1, 0.01)], &Target::default());
        assert!(whole.widest_gap < 0.015, "uniform points: {}", whole.widest_gap);
        for (from, to) in [(-0.5, -0.45), (0.1, 0.15), (0.45, 0.5)] {
            let m = measure(&with_hole(1000, from, to), &[(0.0, 0.0), (0.1, 0.01)], &Target::default());
            assert!(m.widest_gap >= 0.05, "hole [{from}, {to}): widest gap {}", m.widest_gap);
            assert!(m.widest_gap < 0.06, "hole [{from}, {to}): widest gap {}", m.widest_gap);
        }
    }

    #[test]
    fn metrics_follow_the_target_and_its_domain() {
        let config = crate::target::TargetConfig::given("sine", "0,4".parse().unwrap());
        let sine = Target::new(&config).unwrap();
        let on_curve: Vec<(f32, f32)> = (0..1000)
            .map(|i| 4.0 * (i as f64 + 0.5) / 1000.0)
            .map(|x| (x as f32, sine.f(x) as f32))
            .collect();
        let m = measure(&on_curve, &on_curve, &sine);
        assert!(m.residual_mean < 1e-6 && m.ks < 1e-3 && m.share_in_domain == 1.0, "{m:?}");
        assert_eq!(m.share_left_branch, 0.5);
        assert!((m.widest_gap - 0.001).abs() < 1e-6, "{}", m.widest_gap);
        // The same points judged against x² on [-0.5, 0.5): only those below 0.5 are inside it.
        let wrong = measure(&on_curve, &on_curve, &Target::default());
        assert_eq!(
            (wrong.share_in_domain, wrong.ks, wrong.share_left_branch),
            (0.125, 0.875, 0.0),
            "{wrong:?}"
        );
        assert!(wrong.residual_mean > 1.0 && wrong.widest_gap > 0.5, "{wrong:?}");
        // A point off by 0.07 is on sine's curve (height 2, tolerance 0.08), not on x²'s (0.01).
        assert_eq!(on_curve_tolerance(&sine), 0.08);
        assert_eq!(on_curve_tolerance(&Target::default()), 0.01);
    }

    #[test]
    fn points_where_the_target_is_undefined_count_at_the_nearest_end() {
        let config = crate::target::TargetConfig::given("sqrt(x)", "0,1".parse().unwrap());
        let sqrt = Target::new(&config).unwrap();
        // x = -0.5 is measured against sqrt(0) = 0, x = 4 (defined) against sqrt(4) = 2.
        let m = measure(&[(-0.5, 0.25), (4.0, 2.0), (0.25, 0.5)], &[(0.0, 0.0), (1.0, 1.0)], &sqrt);
        assert!((m.residual_mean - 0.25 / 3.0).abs() < 1e-9, "{m:?}");
        assert!((m.share_in_domain - 1.0 / 3.0).abs() < 1e-9, "{m:?}");
    }

    #[test]
    fn quantiles_interpolate() {
        let v = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 2.0);
        assert_eq!(quantile(&v, 0.95), 3.8);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn points_on_the_curve_score_perfectly_on_residual_and_coverage() {
        let n = 1000;
        let points: Vec<(f32, f32)> = (0..n)
            .map(|i| {
                let x = -0.5 + (i as f32 + 0.5) / n as f32;
                (x, x * x)
            })
            .collect();
        let m = measure(&points, &points, &Target::default());
        assert!(m.residual_mean < 1e-8 && m.residual_p95 < 1e-8);
        assert_eq!((m.residual_share_on_curve, m.share_in_domain), (1.0, 1.0));
        assert!((m.widest_gap - 1.0 / n as f64).abs() < 1e-6, "{}", m.widest_gap);
        assert_eq!(m.share_left_branch, 0.5);
        assert!(m.ks < 1e-3);
    }

    #[test]
    fn a_collapsed_generator_is_caught_by_coverage() {
        // Every point at x = 0.3 on the curve: residual perfect, coverage terrible.
        let points = vec![(0.3f32, 0.09f32); 500];
        let reference: Vec<(f32, f32)> =
            (0..500).map(|i| -0.5 + i as f32 / 500.0).map(|x| (x, x * x)).collect();
        let m = measure(&points, &reference, &Target::default());
        assert!(m.residual_mean < 1e-6);
        assert_eq!(m.share_left_branch, 0.0);
        assert!((m.widest_gap - 0.8).abs() < 1e-6, "{}", m.widest_gap);
        assert!((m.ks - 0.8).abs() < 1e-6, "{}", m.ks);
        assert!(m.energy_distance > 0.1);
    }
}
