//! Evaluation: the tutorial's discriminator accuracies and the report of one evaluation (the
//! quality metrics themselves live in `metrics`). Nothing here updates a weight or writes a file.

use crate::loss::{self, Label, Loss};
use crate::metrics::Metrics;
use crate::rows::MetricsRow;

/// One evaluation, as the tutorial prints and plots it.
#[derive(Debug, Clone)]
pub struct EvalReport {
    /// The 0-based index of the iteration just finished (the tutorial prints `1999` after
    /// 2 000 iterations).
    pub iteration: u64,
    /// Share of real points the discriminator scores real (`logit > 0`, i.e. `σ > 0.5`; for
    /// least squares `logit > 0.5`).
    pub acc_real: f64,
    /// Share of generated points it scores fake.
    pub acc_fake: f64,
    pub real: Vec<(f32, f32)>,
    pub fake: Vec<(f32, f32)>,
    /// Quality of the generator's images of the run's fixed metric batch.
    pub metrics: Metrics,
}

/// Defines [`EvalReport::row`] over the quality metrics.
macro_rules! define_report_row {
    ($( $(#[$doc:meta])* $field:ident $skip:literal, )*) => {
        impl EvalReport {
            /// This evaluation as a row of `metrics.csv`.
            pub fn row(&self) -> MetricsRow {
                MetricsRow {
                    iteration: self.iteration,
                    acc_real: self.acc_real,
                    acc_fake: self.acc_fake,
                    $($field: self.metrics.$field,)*
                }
            }
        }
    };
}
crate::rows::quality_fields!(define_report_row);

impl EvalReport {
    /// The tutorial's line: `<iteration> <acc_real> <acc_fake>`, e.g. `1999 0.45 1.0`.
    pub fn line(&self) -> String {
        format!("{} {:?} {:?}", self.iteration, self.acc_real, self.acc_fake)
    }
}

/// A discriminator's accuracy from its logits on real points and on fake points under
/// `loss`: the share of real points it scores real and of fakes it scores fake. On the host,
/// in a fixed order, so the same numbers on every CPU.
///
/// A paired loss's logits mean something only against each other: a real point counts as
/// scored real when its logit is above the mean fake logit, a fake as scored fake when its
/// logit is below the mean real one.
pub fn accuracies(loss: Loss, real_logits: &[f32], fake_logits: &[f32]) -> (f64, f64) {
    if loss.is_paired() {
        let mean = |logits: &[f32]| {
            (logits.iter().map(|&z| f64::from(z)).sum::<f64>() / logits.len().max(1) as f64) as f32
        };
        let ahead = |logits: &[f32], of: f32| -> Vec<f32> { logits.iter().map(|&z| z - of).collect() };
        let (real_ahead, fake_ahead) =
            (ahead(real_logits, mean(fake_logits)), ahead(fake_logits, mean(real_logits)));
        return accuracies(Loss::Bce, &real_ahead, &fake_ahead);
    }
    (loss::host_accuracy(loss, real_logits, Label::Real), loss::host_accuracy(loss, fake_logits, Label::Fake))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_the_tutorials_form() {
        let target = crate::target::Target::default();
        let metrics =
            crate::metrics::measure(&[(0.0, 0.0), (0.1, 0.01)], &[(0.0, 0.0), (0.2, 0.04)], &target);
        let r = EvalReport {
            iteration: 1999,
            acc_real: 0.45,
            acc_fake: 1.0,
            real: vec![],
            fake: vec![],
            metrics,
        };
        assert_eq!(r.line(), "1999 0.45 1.0");
    }
}

#[cfg(test)]
mod accuracy_tests {
    use super::*;

    #[test]
    fn accuracies_count_the_points_on_each_side() {
        let (real, fake) = ([2.0f32, -1.0, 0.5, 3.0], [-2.0f32, 1.0]);
        assert_eq!(accuracies(Loss::Bce, &real, &fake), (0.75, 0.5));
        // Least squares' boundary is ½.
        assert_eq!(accuracies(Loss::LeastSquares, &real, &fake), (0.5, 0.5));
        // Paired: against the other batch's mean (−0.5 for the fakes, 1.125 for the real).
        assert_eq!(accuracies(Loss::Relativistic, &real, &fake), (0.75, 1.0));
    }
}
