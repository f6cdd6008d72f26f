//! Evaluation: the tutorial's discriminator accuracies and plain-data quality measures.
//! Nothing here updates a weight or writes a file.

use tch::{Kind, Tensor, nn::Module};

use crate::data::{target, to_pairs};
use crate::model::Discriminator;

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
}

impl EvalReport {
    /// The tutorial's line: `<iteration> <acc_real> <acc_fake>`, e.g. `1999 0.45 1.0`.
    pub fn line(&self) -> String {
        format!("{} {:?} {:?}", self.iteration, self.acc_real, self.acc_fake)
    }
}

/// Scores `real` and `fake` (`[n, 2]` each) with the discriminator.
pub fn report(iteration: u64, discriminator: &Discriminator, real: &Tensor, fake: &Tensor) -> EvalReport {
    tch::no_grad(|| {
        let acc_real = discriminator.forward(real).gt(0.0).to_kind(Kind::Double).mean(Kind::Double);
        let acc_fake = discriminator.forward(fake).le(0.0).to_kind(Kind::Double).mean(Kind::Double);
        EvalReport {
            iteration,
            // A sum of 0s and 1s divided once, in f64: 45 of 100 prints as 0.45.
            acc_real: acc_real.double_value(&[]),
            acc_fake: acc_fake.double_value(&[]),
            real: to_pairs(real),
            fake: to_pairs(fake),
        }
    })
}

/// Mean of `|y − f(x)|` over the points: 0 for points exactly on the target curve.
pub fn mean_residual(points: &[(f32, f32)]) -> f64 {
    if points.is_empty() {
        return f64::NAN;
    }
    let total: f64 = points.iter().map(|&(x, y)| (y as f64 - target(x as f64)).abs()).sum();
    total / points.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_residual_of_known_points() {
        assert!(mean_residual(&[(0.5, 0.25), (-0.2, 0.04)]) < 1e-8);
        let r = mean_residual(&[(0.0, 0.1), (0.0, -0.3)]);
        assert!((r - 0.2).abs() < 1e-7, "{r}");
        assert!(mean_residual(&[]).is_nan());
    }

    #[test]
    fn line_has_the_tutorials_form() {
        let r = EvalReport { iteration: 1999, acc_real: 0.45, acc_fake: 1.0, real: vec![], fake: vec![] };
        assert_eq!(r.line(), "1999 0.45 1.0");
    }
}
