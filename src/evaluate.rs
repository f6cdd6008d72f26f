//! Evaluation: the tutorial's discriminator accuracies and the report of one evaluation (the
//! quality metrics themselves live in `metrics`). Nothing here updates a weight or writes a file.

use tch::{Kind, Tensor};

use crate::loss::{self, Label};

use crate::metrics::Metrics;

/// One evaluation, as the tutorial prints and plots it.
#[derive(Debug, Clone)]
pub struct EvalReport {
    /// The 0-based index of the iteration just finished (the tutorial prints `1999` after
    /// 2 000 iterations).
    pub iteration: u64,
    /// Share of real points the discriminator scores real (`logit > 0`, i.e. `σ > 0.5`).
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
/// (`[K, n, 1]` each): the share of real points it scores real and of fakes it scores fake.
pub fn accuracies(real_logits: &Tensor, fake_logits: &Tensor) -> Vec<(f64, f64)> {
    let share = |logits: &Tensor, label| -> Vec<f64> {
        let acc = loss::accuracy(logits, label, Kind::Double).to_device(tch::Device::Cpu);
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
