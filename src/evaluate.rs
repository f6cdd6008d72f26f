//! Evaluation: the tutorial's discriminator accuracies and the report of one evaluation (the
//! quality metrics themselves live in `metrics`). Nothing here updates a weight or writes a file.

use tch::{Kind, Tensor};

use crate::loss::{self, Label, Loss};

use crate::metrics::Metrics;

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

impl EvalReport {
    /// The tutorial's line: `<iteration> <acc_real> <acc_fake>`, e.g. `1999 0.45 1.0`.
    pub fn line(&self) -> String {
        format!("{} {:?} {:?}", self.iteration, self.acc_real, self.acc_fake)
    }
}

/// Each run's discriminator accuracy from its logits on real points and on fake points
/// (`[K, n, 1]` each) under `loss`: the share of real points it scores real and of fakes it
/// scores fake.
///
/// A paired loss's logits mean something only against each other: a real point counts as
/// scored real when its logit is above the mean fake logit, a fake as scored fake when its
/// logit is below the mean real one.
pub fn accuracies(loss: Loss, real_logits: &Tensor, fake_logits: &Tensor) -> Vec<(f64, f64)> {
    if loss.is_paired() {
        let mean = |t: &Tensor| t.mean_dim([1i64, 2].as_slice(), true, Kind::Float);
        let (real_ahead, fake_ahead) = (real_logits - mean(fake_logits), fake_logits - mean(real_logits));
        return accuracies(Loss::Bce, &real_ahead, &fake_ahead);
    }
    let share = |logits: &Tensor, label| -> Vec<f64> {
        let acc = loss::accuracy(loss, logits, label, Kind::Double).to_device(tch::Device::Cpu);
        Vec::try_from(acc).expect("[K] accuracies convert to Vec<f64>")
    };
    share(real_logits, Label::Real).into_iter().zip(share(fake_logits, Label::Fake)).collect()
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
