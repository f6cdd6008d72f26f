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

/// [`value`] of one run's logits on the host, in float64 over a fixed order, each point's
/// softplus in float32 from `libm`: the same bits on every CPU.
pub fn host_value(logits: &[f32], label: Label) -> f64 {
    let total: f64 = logits
        .iter()
        .map(|&z| {
            let z = if label == Label::Real { -z } else { z };
            // softplus(z) = max(z, 0) + log(1 + e^−|z|), finite for any finite z.
            let positive = if z > 0.0 { z } else { 0.0 };
            f64::from(positive + libm::log1pf(libm::expf(-z.abs())))
        })
        .sum();
    total / logits.len() as f64
}

/// [`accuracy`] of one run's logits on the host.
pub fn host_accuracy(logits: &[f32], label: Label) -> f64 {
    let scored = logits.iter().filter(|&&z| if label == Label::Real { z > 0.0 } else { z <= 0.0 }).count();
    scored as f64 / logits.len() as f64
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
    fn the_host_forms_agree_with_the_tensor_forms() {
        let t = logits();
        let rows: Vec<f32> = Vec::try_from(t.view([-1])).unwrap();
        for label in [Label::Real, Label::Fake] {
            for k in 0..2 {
                let own = &rows[3 * k..3 * k + 3];
                let tensor = value(&t, label).double_value(&[k as i64]);
                assert!((host_value(own, label) - tensor).abs() < 1e-6, "{label:?} run {k}");
                let acc = accuracy(&t, label, Kind::Double).double_value(&[k as i64]);
                assert_eq!(host_accuracy(own, label), acc, "{label:?} run {k}");
            }
        }
        assert!(host_value(&[f32::NAN, 0.0], Label::Real).is_nan(), "a NaN logit gives a NaN loss");
        assert!((host_value(&[-200.0, 200.0], Label::Fake) - 100.0).abs() < 1e-3);
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
