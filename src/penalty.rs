//! The gradient penalties on the discriminator, in one place: at which update and at which
//! points each is taken, its value, and the direction its second-order pass follows, in tensor
//! form and on the host. Every engine takes them from here; the autograd engine differentiates
//! [`value`] itself (`create_graph`), which is what the others are tested against.
//!
//! A penalty is a function of the discriminator's input gradient `g = ∇ₓz` at each of `n`
//! inputs (a packed input is one, its `g` of all its numbers): R1 and R2 are `(W/2)·‖g‖²`,
//! WGAN-GP and DRAGAN `W·(‖g‖ − 1)²`, averaged over the inputs. Its gradient with respect to
//! the parameters is that of `Σ_p u_p · g_p` with `u_p = ∂penalty/∂g_p` held fixed (the
//! *direction*, [`direction`]), which `crate::host::second_order` and the tensor engine's
//! `crate::model::Mlp::add_penalty_gradient` compute.

use tch::{Kind, Tensor};

use crate::loss::Term;

pub use crate::config::Penalty;

/// Uniform numbers each point of a discriminator round draws for a penalty that needs them
/// ([`Penalty::draws`]): `u`, then `r` for each coordinate.
pub const DRAWS_PER_POINT: i64 = 3;

/// A penalty and its weight, as the engines apply it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weighted {
    pub penalty: Penalty,
    pub weight: f64,
}

impl Penalty {
    /// The discriminator update of a round that takes the penalty when the loss makes two:
    /// the one on real points (R1, DRAGAN) or the one on fakes (R2, and WGAN-GP, whose points
    /// need both). A paired loss's single update takes every penalty.
    pub fn term(self) -> Term {
        match self {
            Penalty::R1 | Penalty::Dragan => Term::Real,
            Penalty::None | Penalty::R2 | Penalty::WganGp => Term::Fake,
        }
    }

    /// Whether the penalty's points are drawn ([`DRAWS_PER_POINT`] numbers a point).
    pub fn draws(self) -> bool {
        matches!(self, Penalty::WganGp | Penalty::Dragan)
    }

    /// Whether the penalty pulls `‖g‖` towards 1 rather than 0.
    fn one_centred(self) -> bool {
        matches!(self, Penalty::WganGp | Penalty::Dragan)
    }
}

/// The penalty's value for each run from the input gradients `g` (`[K, n, d]`): `[K]`.
pub fn value(rule: Weighted, g: &Tensor) -> Tensor {
    let w = rule.weight;
    if rule.penalty.one_centred() {
        let norm = g.norm_scalaropt_dim(2, [-1i64].as_slice(), false);
        (norm - 1.0).square().mean_dim([-1i64].as_slice(), false, Kind::Float) * w
    } else {
        g.square().sum_dim_intlist([-1i64].as_slice(), false, Kind::Float).mean_dim(
            [-1i64].as_slice(),
            false,
            Kind::Float,
        ) * (w / 2.0)
    }
}

/// `∂(penalty)/∂g` from the input gradients `g` (`[K, n, d]`), each run averaging over its own
/// `n`: `(W/n)·g`, or `(2W/n)·(‖g‖ − 1)/‖g‖ · g` (zero where `g` is).
pub fn direction(rule: Weighted, g: &Tensor) -> Tensor {
    let n = g.size()[g.dim() - 2] as f64;
    let scale = rule.weight / n;
    if !rule.penalty.one_centred() {
        return g * scale;
    }
    let norm = g.norm_scalaropt_dim(2, [-1i64].as_slice(), true);
    let factor = (&norm - 1.0) / &norm * (2.0 * scale);
    let factor = factor.where_self(&norm.gt(0.0), &norm.zeros_like());
    g * factor
}

/// [`direction`] on the host, in place over one run's input gradients, feature-major
/// (`[d][n]`): each point's squared norm summed in feature order, in float32.
#[inline(always)]
pub fn host_direction(rule: Weighted, g: &mut [f32], n: usize) {
    let scale = rule.weight as f32 / n as f32;
    if !rule.penalty.one_centred() {
        g.iter_mut().for_each(|x| *x *= scale);
        return;
    }
    for p in 0..n {
        let mut squares = 0f32;
        for row in g.chunks_exact(n) {
            squares += row[p] * row[p];
        }
        let norm = squares.sqrt();
        let factor = if norm > 0.0 { 2.0 * scale * (norm - 1.0) / norm } else { 0.0 };
        for row in g.chunks_exact_mut(n) {
            row[p] *= factor;
        }
    }
}

/// WGAN-GP's points between real points `real` and fakes `fake` (`[K, n, 2]`):
/// `u·x + (1 − u)·x̃`, `u` the first of each point's `draws` (`[K, n, 3]`).
pub fn mix(real: &Tensor, fake: &Tensor, draws: &Tensor) -> Tensor {
    let u = draws.narrow(-1, 0, 1);
    real * &u + fake * (u.neg() + 1.0)
}

/// [`mix`] on the host, over one run's points and draws feature-major (`[2][n]`, `[3][n]`),
/// into `out`.
#[inline(always)]
pub fn host_mix(real: &[f32], fake: &[f32], draws: &[f32], out: &mut Vec<f32>) {
    let n = draws.len() / DRAWS_PER_POINT as usize;
    let u = &draws[..n];
    out.clear();
    for (x_row, y_row) in real.chunks_exact(n).zip(fake.chunks_exact(n)) {
        for p in 0..n {
            out.push(x_row[p] * u[p] + y_row[p] * (1.0 - u[p]));
        }
    }
}

/// DRAGAN's points near the real points `real` (`[K, n, 2]`): `x + u·(½σ·r)`, `σ` each
/// coordinate's spread (its standard deviation over the run's `n` points), `u` and `r` the
/// point's `draws` (`[K, n, 3]`).
pub fn perturb(real: &Tensor, draws: &Tensor) -> Tensor {
    let spread = real.std_correction(-2, 0, true);
    let (u, r) = (draws.narrow(-1, 0, 1), draws.narrow(-1, 1, 2));
    real + spread * 0.5 * r * u
}

/// [`perturb`] on the host, over one run's points and draws feature-major (`[2][n]`,
/// `[3][n]`), into `out`: the mean and the mean squared deviation summed in point order, in
/// float32.
#[inline(always)]
pub fn host_perturb(real: &[f32], draws: &[f32], out: &mut Vec<f32>) {
    let n = draws.len() / DRAWS_PER_POINT as usize;
    let (u, r) = draws.split_at(n);
    out.clear();
    for (row, r) in real.chunks_exact(n).zip(r.chunks_exact(n)) {
        let mean = row.iter().fold(0f32, |s, x| s + x) / n as f32;
        let variance = row.iter().fold(0f32, |s, x| s + (x - mean) * (x - mean)) / n as f32;
        let half_spread = 0.5 * variance.sqrt();
        for p in 0..n {
            out.push(row[p] + half_spread * r[p] * u[p]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(t: &Tensor) -> Vec<f32> {
        Vec::try_from(t.contiguous().view([-1])).unwrap()
    }

    /// Feature-major `[d][n]` of one run's `[1, n, d]`.
    fn rows(t: &Tensor) -> Vec<f32> {
        host(&t.get(0).tr())
    }

    /// The direction is the value's gradient, in tensors and on the host, for each penalty,
    /// with a point whose gradient is zero among them.
    #[test]
    fn the_direction_is_the_gradient_of_the_value() {
        let g = crate::rng::test_normal(3, &[1, 7, 4]);
        let _ = g.get(0).get(2).zero_();
        for penalty in [Penalty::R1, Penalty::R2, Penalty::WganGp, Penalty::Dragan] {
            let rule = Weighted { penalty, weight: 2.5 };
            let x = g.copy().set_requires_grad(true);
            let reference = Tensor::run_backward(&[value(rule, &x).sum(Kind::Float)], &[&x], false, false);
            let mine = direction(rule, &g);
            let diff = (&mine - &reference[0]).abs().max().double_value(&[]);
            assert!(diff < 1e-6, "{penalty}: {diff}");
            let mut on_host = rows(&g);
            host_direction(rule, &mut on_host, 7);
            let diff = (Tensor::from_slice(&on_host) - Tensor::from_slice(&rows(&mine))).abs().max();
            assert!(diff.double_value(&[]) < 1e-6, "{penalty} on the host");
        }
    }

    /// The points each penalty is taken at, on the host as in tensors: between each real point
    /// and its fake, and near each real point within half its batch's spread.
    #[test]
    fn the_penalties_points_agree_on_the_host_and_in_tensors() {
        let (real, fake) = (crate::rng::test_normal(1, &[1, 9, 2]), crate::rng::test_normal(2, &[1, 9, 2]));
        let draws = crate::rng::test_normal(4, &[1, 9, 3]).abs().clamp(0.0, 1.0);
        let mixed = mix(&real, &fake, &draws);
        let mut out = Vec::new();
        host_mix(&rows(&real), &rows(&fake), &rows(&draws), &mut out);
        assert!(Tensor::from_slice(&out).allclose(&Tensor::from_slice(&rows(&mixed)), 1e-6, 1e-6, false));
        // Each mixed coordinate lies between the real one and the fake one.
        let (lo, hi) = (real.minimum(&fake), real.maximum(&fake));
        assert!(bool::try_from(mixed.ge_tensor(&(lo - 1e-6)).all()).unwrap());
        assert!(bool::try_from(mixed.le_tensor(&(hi + 1e-6)).all()).unwrap());

        let pushed = perturb(&real, &draws);
        host_perturb(&rows(&real), &rows(&draws), &mut out);
        assert!(Tensor::from_slice(&out).allclose(&Tensor::from_slice(&rows(&pushed)), 1e-5, 1e-6, false));
        let spread = real.std_correction(-2, 0, true);
        let moved = (&pushed - &real).abs();
        assert!(bool::try_from(moved.le_tensor(&(spread * 0.5 + 1e-6)).all()).unwrap());
        assert!(moved.max().double_value(&[]) > 0.0);
    }
}
