//! Spectral normalisation of the discriminator (Miyato et al. 2018), in one place: each weight
//! matrix `W` is used divided by an estimate of its largest singular value `σ`, so that no
//! layer stretches its input by more than about 1 and the discriminator stays near
//! 1-Lipschitz. On the host and in tensor form; the autograd engine writes its own.
//!
//! The estimate is `σ = uᵀ W v` for a pair of unit vectors that a power iteration refines:
//! - at each discriminator update, one step from the kept `u`: `v = Wᵀu / ‖Wᵀu‖`,
//!   `u ← Wv / ‖Wv‖`, so `σ = ‖Wv‖` ([`host_iterate`]); the new `u` is kept, part of the
//!   run's state, and the update's passes use `W/σ`;
//! - everywhere else (the generator's update through the discriminator, evaluations, the
//!   checkpoint's discriminator), the kept `u` alone: `v = Wᵀu / ‖Wᵀu‖`, so `σ = ‖Wᵀu‖`
//!   ([`host_refresh`]).
//!
//! `u` and `v` count as constants, so the gradient of a loss `L` with respect to `W`, from its
//! gradient `G` with respect to `W/σ`, is `(G − ⟨G, W/σ⟩·u vᵀ) / σ` ([`host_chain`]); biases
//! are not normalised. A fresh run starts from `u = (1, …, 1)/√outputs`.
//!
//! On the host every norm and inner product is summed in float64 in a fixed order, then
//! rounded once, so the same bits on every CPU.

use tch::{Kind, Tensor};

use crate::host::{Layer, Shape};

/// The smallest norm divided by: a zero matrix stays zero rather than NaN.
const EPSILON: f64 = 1e-12;

/// Numbers of `u` a network keeps: one per output of each layer.
pub fn u_len(shape: &Shape) -> usize {
    shape.layers.iter().map(|l| l.outputs).sum()
}

/// The first `u` of a network of `shape`: each layer's `(1, …, 1)/√outputs`.
pub fn first_u(shape: &Shape) -> Vec<f32> {
    shape
        .layers
        .iter()
        .flat_map(|l| std::iter::repeat_n((1.0 / (l.outputs as f64).sqrt()) as f32, l.outputs))
        .collect()
}

/// What a network's σ estimates are, layer by layer: `σ`, and `v` (each layer's inputs, one
/// layer after another).
#[derive(Debug, Clone, Default)]
pub struct Estimates {
    pub sigma: Vec<f32>,
    pub v: Vec<f32>,
}

impl Estimates {
    /// Sized for `shape`, reusing the buffers: the training loop calls this at every update.
    fn size_for(&mut self, shape: &Shape) {
        self.sigma.resize(shape.layers.len(), 0.0);
        self.v.resize(shape.layers.iter().map(|l| l.inputs).sum(), 0.0);
    }
}

/// Each layer with its weight, its `u` and its `v` offsets.
fn places(shape: &Shape) -> impl Iterator<Item = (usize, &Layer, usize, usize)> {
    shape.layers.iter().enumerate().scan((0, 0), |(u, v), (l, layer)| {
        let here = (l, layer, *u, *v);
        *u += layer.outputs;
        *v += layer.inputs;
        Some(here)
    })
}

/// Divides `x` by its norm (at least [`EPSILON`]); returns the norm.
fn normalise(x: &mut [f32]) -> f32 {
    let norm = x.iter().map(|&a| a as f64 * a as f64).sum::<f64>().sqrt();
    let by = norm.max(EPSILON);
    x.iter_mut().for_each(|a| *a = (*a as f64 / by) as f32);
    norm as f32
}

/// `Wᵀu` into `v`: each input's sum over the outputs, in order, in float64.
fn transposed_product(layer: &Layer, w: &[f32], u: &[f32], v: &mut [f32]) {
    for (i, out) in v.iter_mut().enumerate() {
        let sum: f64 = (0..layer.outputs).map(|o| w[o * layer.inputs + i] as f64 * u[o] as f64).sum();
        *out = sum as f32;
    }
}

/// One power-iteration step for every layer of one member's `raw` parameters from its `u`,
/// which it updates; returns `σ = ‖Wv‖` and `v` of each layer.
pub fn host_iterate(shape: &Shape, raw: &[f32], u: &mut [f32], estimates: &mut Estimates) {
    estimates.size_for(shape);
    for (l, layer, u_at, v_at) in places(shape) {
        let w = &raw[layer.weight..layer.weight + layer.outputs * layer.inputs];
        let (u, v) = (&mut u[u_at..u_at + layer.outputs], &mut estimates.v[v_at..v_at + layer.inputs]);
        transposed_product(layer, w, u, v);
        normalise(v);
        for (o, out) in u.iter_mut().enumerate() {
            let row = &w[o * layer.inputs..(o + 1) * layer.inputs];
            *out = row.iter().zip(v.iter()).map(|(&a, &b)| a as f64 * b as f64).sum::<f64>() as f32;
        }
        estimates.sigma[l] = normalise(u);
    }
}

/// Every layer's estimate from the kept `u` alone: `v = Wᵀu/‖Wᵀu‖`, `σ = ‖Wᵀu‖`.
pub fn host_refresh(shape: &Shape, raw: &[f32], u: &[f32], estimates: &mut Estimates) {
    estimates.size_for(shape);
    for (l, layer, u_at, v_at) in places(shape) {
        let w = &raw[layer.weight..layer.weight + layer.outputs * layer.inputs];
        let v = &mut estimates.v[v_at..v_at + layer.inputs];
        transposed_product(layer, w, &u[u_at..u_at + layer.outputs], v);
        estimates.sigma[l] = normalise(v);
    }
}

/// The network as it computes, into `effective`: `raw` with each weight matrix divided by its
/// layer's `σ` (at least [`EPSILON`]); biases as they are.
pub fn host_apply(shape: &Shape, raw: &[f32], estimates: &Estimates, effective: &mut [f32]) {
    effective.copy_from_slice(raw);
    for (l, layer) in shape.layers.iter().enumerate() {
        let sigma = (estimates.sigma[l] as f64).max(EPSILON) as f32;
        let weights = layer.weight..layer.weight + layer.outputs * layer.inputs;
        effective[weights].iter_mut().for_each(|w| *w /= sigma);
    }
}

/// Turns `grads`, the gradients with respect to the `effective` parameters, into those with
/// respect to the trained ones, in place: each weight's `(G − ⟨G, W/σ⟩·u vᵀ)/σ` by the
/// update's `u` and `estimates`.
pub fn host_chain(shape: &Shape, effective: &[f32], u: &[f32], estimates: &Estimates, grads: &mut [f32]) {
    for (l, layer, u_at, v_at) in places(shape) {
        let weights = layer.weight..layer.weight + layer.outputs * layer.inputs;
        let g = &mut grads[weights.clone()];
        let inner = g.iter().zip(&effective[weights]).map(|(&a, &b)| a as f64 * b as f64).sum::<f64>() as f32;
        let sigma = (estimates.sigma[l] as f64).max(EPSILON) as f32;
        let (u, v) = (&u[u_at..u_at + layer.outputs], &estimates.v[v_at..v_at + layer.inputs]);
        for (o, row) in g.chunks_exact_mut(layer.inputs).enumerate() {
            let along = inner * u[o];
            for (x, &vi) in row.iter_mut().zip(v) {
                *x = (*x - along * vi) / sigma;
            }
        }
    }
}

/// The tensor forms of the above, for K members at once: flat `[K, n]` parameters, `u` of
/// `[K, Σ outputs]`, estimates per layer (`σ` `[K, 1, 1]`, `v` `[K, 1, inputs]`).
#[derive(Debug)]
pub struct TensorEstimates {
    layers: Vec<(Tensor, Tensor)>,
}

/// Layer `l`'s weights of flat `[K, n]` parameters, as `[K, out, in]` (a view).
fn weight_of(flat: &Tensor, layer: &Layer) -> Tensor {
    let k = flat.size()[0];
    flat.narrow(1, layer.weight as i64, (layer.outputs * layer.inputs) as i64).view([
        k,
        layer.outputs as i64,
        layer.inputs as i64,
    ])
}

/// `x` (`[K, d]`) over its norms, and the norms `[K, 1]`.
fn normalised(x: Tensor) -> (Tensor, Tensor) {
    let norm = x.norm_scalaropt_dim(2, [-1i64].as_slice(), true);
    (&x / norm.clamp_min(EPSILON), norm)
}

/// [`host_iterate`] in tensors: updates `u` in place.
pub fn iterate(shape: &Shape, raw: &Tensor, u: &Tensor) -> TensorEstimates {
    estimate(shape, raw, u, true)
}

/// [`host_refresh`] in tensors.
pub fn refresh(shape: &Shape, raw: &Tensor, u: &Tensor) -> TensorEstimates {
    estimate(shape, raw, u, false)
}

/// Each layer's `v = Wᵀu/‖Wᵀu‖`; with `step`, then `u ← Wv/‖Wv‖` and `σ = ‖Wv‖`, otherwise
/// `σ = ‖Wᵀu‖`.
fn estimate(shape: &Shape, raw: &Tensor, u: &Tensor, step: bool) -> TensorEstimates {
    tch::no_grad(|| {
        let mut layers = Vec::new();
        let mut at = 0;
        for layer in &shape.layers {
            let w = weight_of(raw, layer);
            let mut u_l = u.narrow(1, at, layer.outputs as i64);
            let (v, mut sigma) = normalised(w.transpose(1, 2).matmul(&u_l.unsqueeze(2)).squeeze_dim(2));
            if step {
                let (next, norm) = normalised(w.matmul(&v.unsqueeze(2)).squeeze_dim(2));
                u_l.copy_(&next);
                sigma = norm;
            }
            layers.push((sigma.unsqueeze(2), v.unsqueeze(1)));
            at += layer.outputs as i64;
        }
        TensorEstimates { layers }
    })
}

/// [`host_apply`] in tensors, into `effective`.
pub fn apply(shape: &Shape, raw: &Tensor, estimates: &TensorEstimates, effective: &Tensor) {
    tch::no_grad(|| {
        effective.shallow_clone().copy_(raw);
        for (layer, (sigma, _)) in shape.layers.iter().zip(&estimates.layers) {
            weight_of(effective, layer).copy_(&(weight_of(raw, layer) / sigma.clamp_min(EPSILON)));
        }
    })
}

/// [`host_chain`] in tensors, in place over `grads`.
pub fn chain(shape: &Shape, effective: &Tensor, u: &Tensor, estimates: &TensorEstimates, grads: &Tensor) {
    tch::no_grad(|| {
        let mut at = 0;
        for (layer, (sigma, v)) in shape.layers.iter().zip(&estimates.layers) {
            let mut g = weight_of(grads, layer);
            let inner =
                (&g * weight_of(effective, layer)).sum_dim_intlist([1i64, 2].as_slice(), true, Kind::Float);
            let u_l = u.narrow(1, at, layer.outputs as i64).unsqueeze(2);
            let chained = (&g - inner * u_l * v) / sigma.clamp_min(EPSILON);
            g.copy_(&chained);
            at += layer.outputs as i64;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;

    fn host(t: &Tensor) -> Vec<f32> {
        Vec::try_from(t.contiguous().view([-1])).unwrap()
    }

    /// After many steps the estimate is the largest singular value; the chain rule is
    /// autograd's derivative of `W/(uᵀWv)` with `u`, `v` held; the tensor forms give the host
    /// forms' numbers.
    #[test]
    fn the_estimates_and_the_chain_rule_hold() {
        let cfg = ModelConfig { discriminator_hidden: vec![7, 5], ..ModelConfig::default() };
        let shape = Shape::of(&cfg.discriminator_layers());
        let raw = crate::rng::test_normal(8, &[1, shape.len as i64]);
        let raw_host = host(&raw);
        let mut u = first_u(&shape);
        let mut e = Estimates::default();
        for _ in 0..200 {
            host_iterate(&shape, &raw_host, &mut u, &mut e);
        }
        for (l, layer) in shape.layers.iter().enumerate() {
            let w = weight_of(&raw, layer).get(0).to_kind(Kind::Double);
            let largest = w.tr().matmul(&w).linalg_eigvalsh("L").max().double_value(&[]).sqrt();
            assert!(
                (e.sigma[l] as f64 - largest).abs() < 1e-4 * largest,
                "layer {l}: {} vs {largest}",
                e.sigma[l]
            );
        }

        // One step from the first u, host and tensors alike.
        let mut u = first_u(&shape);
        let u_t = Tensor::from_slice(&u).unsqueeze(0);
        host_iterate(&shape, &raw_host, &mut u, &mut e);
        let te = iterate(&shape, &raw, &u_t);
        assert!(Tensor::from_slice(&u).allclose(&u_t.get(0), 1e-5, 1e-6, false));
        let mut effective = vec![0f32; shape.len];
        host_apply(&shape, &raw_host, &e, &mut effective);
        let effective_t = raw.zeros_like();
        apply(&shape, &raw, &te, &effective_t);
        assert!(Tensor::from_slice(&effective).allclose(&effective_t.get(0), 1e-5, 1e-6, false));

        // The chain rule against autograd, on L = Σ R ⊙ W/σ, σ = uᵀWv with u and v held.
        let r = crate::rng::test_normal(9, &[1, shape.len as i64]);
        let mut grads = host(&r);
        host_chain(&shape, &effective, &u, &e, &mut grads);
        let grads_t = r.copy();
        chain(&shape, &effective_t, &u_t, &te, &grads_t);
        assert!(Tensor::from_slice(&grads).allclose(&grads_t.get(0), 1e-4, 1e-6, false));
        let mut at = 0;
        for (l, layer) in shape.layers.iter().enumerate() {
            let w = weight_of(&raw, layer).get(0).copy().set_requires_grad(true);
            let u_l = u_t.get(0).narrow(0, at, layer.outputs as i64);
            let v_at: usize = shape.layers[..l].iter().map(|x| x.inputs).sum();
            let v_l = Tensor::from_slice(&e.v[v_at..v_at + layer.inputs]);
            let sigma = u_l.dot(&w.mv(&v_l));
            let loss = (&w / sigma * weight_of(&r, layer).get(0)).sum(Kind::Float);
            let reference = Tensor::run_backward(&[loss], &[&w], false, false).remove(0);
            let mine = weight_of(&Tensor::from_slice(&grads).unsqueeze(0), layer).get(0);
            let diff = (&mine - &reference).abs().max().double_value(&[]);
            assert!(diff < 1e-5, "layer {l}: {diff}");
            at += layer.outputs as i64;
        }
    }
}
