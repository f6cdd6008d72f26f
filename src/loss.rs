//! The loss, in one place: the tutorial's binary cross-entropy on the discriminator's logits,
//! its gradient, and the accuracy that goes with it, for K runs at once (logits `[K, n, 1]`,
//! each run averaging over its own `n`). Every engine and every report takes them from here.

use tch::{Kind, Tensor};

/// The label of a batch as the discriminator should learn it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Fake = 0,
    Real = 1,
}

/// Each run's mean binary cross-entropy of `logits` against `label`, `[K]`, in its stable
/// form: `softplus(−z)` for real, `softplus(z)` for fake.
pub fn value(logits: &Tensor, label: Label) -> Tensor {
    let per_point = match label {
        Label::Real => (-logits).softplus(),
        Label::Fake => logits.softplus(),
    };
    per_run_mean(&per_point, Kind::Float)
}

/// ∂(each run's mean BCE)/∂logits `= (σ(z) − label) / n`, shaped like `logits`.
pub fn gradient(logits: &Tensor, label: Label) -> Tensor {
    let size = logits.size();
    let n = size[size.len() - 2] as f64;
    let mut grad = logits.sigmoid();
    if label == Label::Real {
        let _ = grad.g_sub_scalar_(1.0);
    }
    let _ = grad.g_div_scalar_(n);
    grad
}

/// Each run's share of points the discriminator scores as `label` (`logit > 0` is real, that
/// is `σ > 0.5`), `[K]`, computed in `kind`: a sum of 0s and 1s divided once, so in f64 45 of
/// 100 reads 0.45.
pub fn accuracy(logits: &Tensor, label: Label, kind: Kind) -> Tensor {
    let scored = match label {
        Label::Real => logits.gt(0.0),
        Label::Fake => logits.le(0.0),
    };
    per_run_mean(&scored.to_kind(kind), kind)
}

/// The mean over everything but the first (run) dimension, `[K]`. One run's is the mean of
/// the whole tensor, the reduction a single run has always used, so its numbers keep their bits.
fn per_run_mean(t: &Tensor, kind: Kind) -> Tensor {
    if t.size()[0] == 1 {
        t.mean(kind).view([1])
    } else {
        let dims: Vec<i64> = (1..t.dim() as i64).collect();
        t.mean_dim(dims.as_slice(), false, kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logits() -> Tensor {
        Tensor::from_slice(&[-3.0f32, -0.5, 0.0, 2.0, 40.0, -1.0]).view([2, 3, 1])
    }

    #[test]
    fn gradient_matches_autograd_for_each_run() {
        for label in [Label::Real, Label::Fake] {
            let z = logits().set_requires_grad(true);
            value(&z, label).sum(Kind::Float).backward();
            let diff = (gradient(&logits(), label) - z.grad()).abs().max().double_value(&[]);
            assert!(diff < 1e-7, "{label:?}: {diff}");
        }
    }

    #[test]
    fn each_run_averages_over_its_own_points() {
        let one = |k: i64| logits().get(k).unsqueeze(0);
        for label in [Label::Real, Label::Fake] {
            let both = value(&logits(), label);
            assert_eq!(both.size(), [2]);
            for k in 0..2 {
                let alone = value(&one(k), label).double_value(&[0]);
                assert!((both.double_value(&[k]) - alone).abs() < 1e-6, "{label:?} run {k}");
            }
        }
        let acc = accuracy(&logits(), Label::Real, Kind::Double);
        assert_eq!((acc.double_value(&[0]), acc.double_value(&[1])), (0.0, 2.0 / 3.0));
        let acc = accuracy(&logits(), Label::Fake, Kind::Double);
        assert_eq!((acc.double_value(&[0]), acc.double_value(&[1])), (1.0, 1.0 / 3.0));
    }

    #[test]
    fn is_finite_for_extreme_logits() {
        let logits = Tensor::from_slice(&[-200.0f32, 200.0]).view([1, 2, 1]);
        for label in [Label::Real, Label::Fake] {
            let loss = value(&logits, label).double_value(&[0]);
            assert!((loss - 100.0).abs() < 1e-3, "{label:?}: {loss}");
        }
    }
}
