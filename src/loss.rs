//! The losses, in one place: each [`Loss`]'s value on the discriminator's logits, its gradient,
//! and the accuracy that goes with it, for K runs at once (logits `[K, n, 1]`, each run averaging
//! over its own `n`), in tensor form and on the host. Every engine and every report takes them
//! from here.
//!
//! A paired loss (relativistic, Wasserstein) is given *relative* logits: `z_real − z_fake` for
//! the discriminator's real term, `z_fake − z_real` for its fake term and for the generator. On
//! them relativistic is binary cross-entropy and Wasserstein is the relative logit negated
//! (linear: the mean over pairs of `z_fake − z_real` is the critic's `E d(x̃) − E d(x)`), which
//! is what each computes here; the engines form the pairs.

use tch::{Kind, Tensor};

pub use crate::config::Loss;

/// The label of a batch as the discriminator should learn it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Fake = 0,
    Real = 1,
}

/// Which of a loss's three terms: the discriminator's on real points, its own on fakes, or the
/// generator's on its fakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Term {
    Real,
    Fake,
    Generator,
}

impl Loss {
    /// What the loss measures, as an axis of the learning curves names it.
    pub fn quantity(self) -> &'static str {
        match self {
            Loss::Bce => "binary cross-entropy",
            Loss::LeastSquares => "least-squares loss",
            Loss::Hinge => "hinge loss",
            Loss::Relativistic => "relativistic cross-entropy",
            Loss::Wasserstein => "critic's Wasserstein loss",
        }
    }

    /// The logit above which the discriminator calls a point real: 0, or ½ for least squares,
    /// whose labels are 0 and 1.
    pub fn boundary(self) -> f32 {
        if self == Loss::LeastSquares { 0.5 } else { 0.0 }
    }

    /// How real the discriminator believes a point of logit `z` is, on `[0, 1]`: σ(z) for the
    /// cross-entropies and the critic (whose logits are relative, 0 undecided), `z` clamped for
    /// least squares, `(z + 1)/2` clamped for hinge, whose margins are ±1.
    pub fn realness(self, z: f32) -> f32 {
        match self {
            Loss::Bce | Loss::Relativistic | Loss::Wasserstein => 1.0 / (1.0 + libm::expf(-z)),
            Loss::LeastSquares => z.clamp(0.0, 1.0),
            Loss::Hinge => ((z + 1.0) / 2.0).clamp(0.0, 1.0),
        }
    }

    /// One point's loss for logit `z` in `term`, in float32 from `libm`.
    pub fn point_value(self, term: Term, z: f32) -> f32 {
        match self {
            Loss::Bce | Loss::Relativistic => {
                let z = if term == Term::Fake { z } else { -z };
                // softplus(z) = max(z, 0) + log(1 + e^−|z|), finite for any finite z.
                let positive = if z > 0.0 { z } else { 0.0 };
                positive + libm::log1pf(libm::expf(-z.abs()))
            }
            Loss::LeastSquares => {
                let d = if term == Term::Fake { z } else { z - 1.0 };
                0.5 * d * d
            }
            Loss::Hinge => match term {
                Term::Real => (1.0 - z).max(0.0),
                Term::Fake => (1.0 + z).max(0.0),
                Term::Generator => -z,
            },
            Loss::Wasserstein => match term {
                Term::Real | Term::Generator => -z,
                Term::Fake => z,
            },
        }
    }

    /// ∂(the mean of `n` points' loss)/∂z for one point of logit `z` in `term`.
    #[inline(always)]
    pub fn point_gradient(self, term: Term, z: f32, n: f32) -> f32 {
        match self {
            Loss::Bce | Loss::Relativistic => {
                let sigmoid = 1.0 / (1.0 + libm::expf(-z));
                (if term == Term::Fake { sigmoid } else { sigmoid - 1.0 }) / n
            }
            Loss::LeastSquares => (if term == Term::Fake { z } else { z - 1.0 }) / n,
            Loss::Hinge => match term {
                Term::Real => (if z < 1.0 { -1.0 } else { 0.0 }) / n,
                Term::Fake => (if z > -1.0 { 1.0 } else { 0.0 }) / n,
                Term::Generator => -1.0 / n,
            },
            Loss::Wasserstein => match term {
                Term::Real | Term::Generator => -1.0 / n,
                Term::Fake => 1.0 / n,
            },
        }
    }
}

/// Each run's mean loss of `logits` in `term`, `[K]`.
pub fn value(loss: Loss, term: Term, logits: &Tensor) -> Tensor {
    let per_point = match loss {
        // The stable form: softplus(−z) for real, softplus(z) for fake.
        Loss::Bce | Loss::Relativistic => match term {
            Term::Fake => logits.softplus(),
            Term::Real | Term::Generator => (-logits).softplus(),
        },
        Loss::LeastSquares => match term {
            Term::Fake => logits.square() * 0.5,
            Term::Real | Term::Generator => (logits - 1.0).square() * 0.5,
        },
        Loss::Hinge => match term {
            Term::Real => (-logits + 1.0).relu(),
            Term::Fake => (logits + 1.0).relu(),
            Term::Generator => -logits,
        },
        Loss::Wasserstein => match term {
            Term::Real | Term::Generator => -logits,
            Term::Fake => logits.shallow_clone(),
        },
    };
    per_run_mean(&per_point, Kind::Float)
}

/// ∂(each run's mean loss)/∂logits, shaped like `logits`: `(σ(z) − label) / n` for BCE.
pub fn gradient(loss: Loss, term: Term, logits: &Tensor) -> Tensor {
    let size = logits.size();
    let n = size[size.len() - 2] as f64;
    let mut grad = match loss {
        Loss::Bce | Loss::Relativistic => {
            let mut grad = logits.sigmoid();
            if term != Term::Fake {
                let _ = grad.g_sub_scalar_(1.0);
            }
            grad
        }
        Loss::LeastSquares => match term {
            Term::Fake => logits.copy(),
            Term::Real | Term::Generator => logits - 1.0,
        },
        Loss::Hinge => match term {
            Term::Real => -logits.lt(1.0).to_kind(Kind::Float),
            Term::Fake => logits.gt(-1.0).to_kind(Kind::Float),
            Term::Generator => logits.full_like(-1.0),
        },
        Loss::Wasserstein => match term {
            Term::Real | Term::Generator => logits.full_like(-1.0),
            Term::Fake => logits.full_like(1.0),
        },
    };
    let _ = grad.g_div_scalar_(n);
    grad
}

/// Each run's share of points the discriminator scores as `label` (a logit above
/// [`Loss::boundary`] is real), `[K]`, computed in `kind`: a sum of 0s and 1s divided once, so
/// in f64 45 of 100 reads 0.45.
pub fn accuracy(loss: Loss, logits: &Tensor, label: Label, kind: Kind) -> Tensor {
    let boundary = f64::from(loss.boundary());
    let scored = match label {
        Label::Real => logits.gt(boundary),
        Label::Fake => logits.le(boundary),
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

/// [`value`] of one run's logits on the host, in float64 over a fixed order, each point's loss
/// in float32 ([`Loss::point_value`]): the same bits on every CPU.
pub fn host_value(loss: Loss, term: Term, logits: &[f32]) -> f64 {
    let total: f64 = logits.iter().map(|&z| f64::from(loss.point_value(term, z))).sum();
    total / logits.len() as f64
}

/// [`gradient`] of one run's logits on the host, into `out`: [`Loss::point_gradient`] of each.
#[inline(always)]
pub fn host_gradient(loss: Loss, term: Term, logits: &[f32], out: &mut Vec<f32>) {
    let n = logits.len() as f32;
    out.clear();
    out.extend(logits.iter().map(|&z| loss.point_gradient(term, z, n)));
}

/// [`accuracy`] of one run's logits on the host.
pub fn host_accuracy(loss: Loss, logits: &[f32], label: Label) -> f64 {
    let boundary = loss.boundary();
    let scored =
        logits.iter().filter(|&&z| if label == Label::Real { z > boundary } else { z <= boundary }).count();
    scored as f64 / logits.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const TERMS: [Term; 3] = [Term::Real, Term::Fake, Term::Generator];

    fn logits() -> Tensor {
        Tensor::from_slice(&[-3.0f32, -0.5, 0.25, 2.0, 40.0, -1.5]).view([2, 3, 1])
    }

    #[test]
    fn every_gradient_matches_autograd_for_each_run() {
        for &loss in Loss::ALL {
            for term in TERMS {
                let z = logits().set_requires_grad(true);
                value(loss, term, &z).sum(Kind::Float).backward();
                let diff = (gradient(loss, term, &logits()) - z.grad()).abs().max().double_value(&[]);
                let scale = z.grad().abs().max().double_value(&[]).max(1.0);
                assert!(diff < 1e-7 * scale, "{loss} {term:?}: {diff}");
            }
        }
    }

    #[test]
    fn the_losses_are_their_formulas() {
        let z = Tensor::from_slice(&[0.5f32]).view([1, 1, 1]);
        let at = |loss, term| value(loss, term, &z).double_value(&[0]);
        let softplus = |x: f64| (1.0 + x.exp()).ln();
        let cases = [
            (Loss::Bce, Term::Real, softplus(-0.5)),
            (Loss::Bce, Term::Fake, softplus(0.5)),
            (Loss::Bce, Term::Generator, softplus(-0.5)),
            (Loss::Relativistic, Term::Real, softplus(-0.5)),
            (Loss::LeastSquares, Term::Real, 0.125),
            (Loss::LeastSquares, Term::Fake, 0.125),
            (Loss::LeastSquares, Term::Generator, 0.125),
            (Loss::Hinge, Term::Real, 0.5),
            (Loss::Hinge, Term::Fake, 1.5),
            (Loss::Hinge, Term::Generator, -0.5),
        ];
        for (loss, term, expected) in cases {
            assert!(
                (at(loss, term) - expected).abs() < 1e-6,
                "{loss} {term:?}: {} vs {expected}",
                at(loss, term)
            );
        }
    }

    #[test]
    fn each_run_averages_over_its_own_points() {
        let one = |k: i64| logits().get(k).unsqueeze(0);
        for &loss in Loss::ALL {
            for term in TERMS {
                let both = value(loss, term, &logits());
                assert_eq!(both.size(), [2]);
                for k in 0..2 {
                    let alone = value(loss, term, &one(k)).double_value(&[0]);
                    assert!((both.double_value(&[k]) - alone).abs() < 1e-6, "{loss} {term:?} run {k}");
                }
            }
        }
        let acc = accuracy(Loss::Bce, &logits(), Label::Real, Kind::Double);
        assert_eq!((acc.double_value(&[0]), acc.double_value(&[1])), (1.0 / 3.0, 2.0 / 3.0));
        let acc = accuracy(Loss::Bce, &logits(), Label::Fake, Kind::Double);
        assert_eq!((acc.double_value(&[0]), acc.double_value(&[1])), (2.0 / 3.0, 1.0 / 3.0));
        // Least squares' labels are 0 and 1: 0.25 is nearer fake.
        let acc = accuracy(Loss::LeastSquares, &logits(), Label::Real, Kind::Double);
        assert_eq!(acc.double_value(&[0]), 0.0);
    }

    #[test]
    fn the_host_forms_agree_with_the_tensor_forms() {
        let t = logits();
        let rows: Vec<f32> = Vec::try_from(t.view([-1])).unwrap();
        for &loss in Loss::ALL {
            for term in TERMS {
                let grad: Vec<f32> = Vec::try_from(gradient(loss, term, &t).view([-1])).unwrap();
                for k in 0..2 {
                    let own = &rows[3 * k..3 * k + 3];
                    let tensor = value(loss, term, &t).double_value(&[k as i64]);
                    let close = |a: f64, b: f64| (a - b).abs() < 1e-6 * (1.0 + b.abs());
                    assert!(close(host_value(loss, term, own), tensor), "{loss} {term:?} run {k}");
                    for (i, &z) in own.iter().enumerate() {
                        let host = loss.point_gradient(term, z, 3.0);
                        let tensor = f64::from(grad[3 * k + i]);
                        assert!(close(f64::from(host), tensor), "{loss} {term:?} gradient at {z}");
                    }
                }
            }
            for label in [Label::Real, Label::Fake] {
                for k in 0..2 {
                    let acc = accuracy(loss, &t, label, Kind::Double).double_value(&[k as i64]);
                    assert_eq!(host_accuracy(loss, &rows[3 * k..3 * k + 3], label), acc, "{loss} {label:?}");
                }
            }
        }
        assert!(host_value(Loss::Bce, Term::Real, &[f32::NAN, 0.0]).is_nan(), "a NaN logit gives a NaN loss");
        assert!((host_value(Loss::Bce, Term::Fake, &[-200.0, 200.0]) - 100.0).abs() < 1e-3);
    }

    #[test]
    fn is_finite_for_extreme_logits() {
        let logits = Tensor::from_slice(&[-200.0f32, 200.0]).view([1, 2, 1]);
        for term in [Term::Real, Term::Fake] {
            let loss = value(Loss::Bce, term, &logits).double_value(&[0]);
            assert!((loss - 100.0).abs() < 1e-3, "{term:?}: {loss}");
        }
    }

    #[test]
    fn realness_runs_from_fake_to_real() {
        for &loss in Loss::ALL {
            let (low, high) = (loss.realness(-5.0), loss.realness(5.0));
            assert!(low < 0.01 && high > 0.99 && (0.0..=1.0).contains(&loss.realness(0.3)), "{loss}");
        }
    }
}
