//! The rows of a run's logs and of its ranking, defined once, below the logs (`runlog`) and the
//! ranking (`ranking`) that keep and order them: `history.csv`'s [`HistoryRow`], `frames.csv`'s
//! [`FrameRow`] and `metrics.csv`'s [`MetricsRow`].
//!
//! The quality metrics are listed once, in [`quality_fields!`]. Every type that carries them is
//! generated from that list: the measurement ([`crate::metrics::Metrics`]), a log row
//! ([`MetricsRow`]) and a leaderboard row ([`crate::ranking::Standing`]), with the maps
//! between them, so a new metric is one line here and its computation in `metrics`.

use serde::{Deserialize, Serialize};

/// Calls `$callback!` with every quality metric: its documentation, its name (the column of
/// `metrics.csv` and `leaderboard.csv`, the key of `evaluate --json`), and when `evaluate
/// --json` leaves it out (`"crate::rows::unmeasured"` for a plane target's metrics, which a curve lacks;
/// `"crate::rows::never"` for the rest, shown as `null` where not measured).
macro_rules! quality_fields {
    ($callback:ident) => {
        $callback! {
            /// Mean of `|y − f(x)|`: 0 for points exactly on the curve.
            residual_mean "crate::rows::never",
            /// Median of `|y − f(x)|`.
            residual_median "crate::rows::never",
            /// 95th percentile of `|y − f(x)|`: how far the worst-but-not-outlier points miss.
            residual_p95 "crate::rows::never",
            /// Share of points with `|y − f(x)|` under [`crate::metrics::ON_CURVE`] of the
            /// target's height.
            residual_share_on_curve "crate::rows::never",
            /// Share of `x` inside the domain; for a plane target, of points inside its box.
            share_in_domain "crate::rows::never",
            /// Kolmogorov–Smirnov statistic of `x` against the uniform distribution over the
            /// domain: the largest gap between the two cumulative distributions (0 is perfect, 1
            /// is disjoint). For a plane target, the two-sample statistic of `x` against the
            /// real points'.
            ks "crate::rows::never",
            /// Share of `x` in the left half of the domain (for x² on `[-0.5, 0.5)`, the
            /// parabola's left branch): ½ when balanced.
            share_left_branch "crate::rows::never",
            /// The widest stretch of the domain (at its edges or between two points) where no
            /// generated `x` falls, as a share of the domain: a hole the generator never fills.
            /// Real points leave gaps of about ln(n)/n (0.7 % for 1 000 points, 0.1 % for
            /// 10 000). Absent from logs of gan1d 0.2.
            widest_gap "crate::rows::never",
            /// Unbiased energy distance between these points and a reference set of real
            /// points, in the plane (Euclidean): about 0 when they come from the same
            /// distribution.
            energy_distance "crate::rows::never",
            /// A plane target's two-sample KS statistic of `y` against the real points' (absent
            /// from logs of gan1d before 0.8, as are the mixture's metrics).
            ks_y "crate::rows::unmeasured",
            /// A mixture's modes.
            modes "crate::rows::unmeasured",
            /// A mixture's modes covered: modes nearest to at least one high-quality point.
            modes_covered "crate::rows::unmeasured",
            /// A mixture's share of points within 3σ of their nearest mode.
            high_quality_share "crate::rows::unmeasured",
        }
    };
}
pub(crate) use quality_fields;

/// For `skip_serializing_if`: a metric not measured.
pub fn unmeasured(value: &f64) -> bool {
    value.is_nan()
}

/// For `skip_serializing_if`: a metric always shown.
pub fn never(_: &f64) -> bool {
    false
}

/// A metric a log row lacks: a column added after the row was written.
fn not_measured() -> f64 {
    f64::NAN
}

/// Defines [`MetricsRow`] with the quality metrics.
macro_rules! define_metrics_row {
    ($( $(#[$doc:meta])* $field:ident $skip:literal, )*) => {
        /// One row of `metrics.csv`: an evaluation's accuracies and quality metrics, NaN where
        /// one was not measured.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct MetricsRow {
            /// The 0-based iteration the evaluation followed, as printed.
            pub iteration: u64,
            /// The discriminator's accuracy on the evaluation's real and generated points.
            pub acc_real: f64,
            pub acc_fake: f64,
            $(
                $(#[$doc])*
                #[serde(default = "not_measured")]
                pub $field: f64,
            )*
        }
    };
}
quality_fields!(define_metrics_row);

/// One row of the training history (`history.csv`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HistoryRow {
    /// Iterations completed when the row was taken.
    pub iteration: u64,
    pub d_loss_real: f64,
    pub d_loss_fake: f64,
    pub g_loss: f64,
    /// The discriminator's accuracy on that iteration's real and fake training batches.
    pub d_acc_real: f64,
    pub d_acc_fake: f64,
}

/// One row of `frames.csv`: a point of the animation's frame after `iterations_done`
/// iterations (0 for the untrained generator).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrameRow {
    pub iterations_done: u64,
    pub x: f32,
    pub y: f32,
    /// A generated point of the frame, or a cell of its heat map (logs of gan1d before 0.7 hold
    /// points only).
    #[serde(default)]
    pub kind: FrameKind,
    /// The discriminator's belief that a point here is real, on `[0, 1]`; NaN where it was not
    /// measured.
    #[serde(default = "not_measured_f32")]
    pub realness: f32,
    /// The pull on a generated point here: the direction of the generator's update, on the
    /// data's axes.
    #[serde(default)]
    pub dx: f32,
    #[serde(default)]
    pub dy: f32,
}

/// What a [`FrameRow`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameKind {
    #[default]
    Point,
    Cell,
}

fn not_measured_f32() -> f32 {
    f32::NAN
}
