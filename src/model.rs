//! The networks: [`Mlp`], K multilayer perceptrons of one architecture whose parameters share
//! one `[K, n]` tensor, and its two roles, [`Generator`] and [`Discriminator`]. K is the
//! number of runs trained together; a single run is K = 1.
//!
//! Why the layout is unusual: a training iteration here is about 0.14 MFLOP, so its cost is the
//! number of libtorch calls, not arithmetic. Each network therefore keeps all its parameters in
//! one flat `[K, n]` tensor in the layout of [`crate::config::variables`] (the layers' weights
//! and biases are views into it) and its gradients in a second one, so that the optimiser
//! updates a whole network, for every run, with a handful of calls. Gradients are computed by
//! [`Mlp::backward`], written out for these layers, instead of by autograd, which would record
//! a graph for every call. The tests check them against autograd.
//!
//! With K > 1 each layer is one `baddbmm`/`bmm` for all runs. With K = 1 it is `addmm`/`mm` on
//! the run's own matrices, the calls a single run has always made, so its numbers keep their
//! bits. This module owns no VarStore, optimiser, file or output.

use tch::Tensor;

use crate::config::{LayerSpec, ModelConfig, parameter_count, variables};
use crate::penalty::{self, Weighted};
use crate::rng::{self, Keys, Tag};

/// One fully connected layer of K runs, `y = act(x Wᵀ + b)`, as views into the flat
/// parameters and gradients: `[K, out, in]`, `[K, 1, out]`, `[K, in, out]`, `[K, out, in]` and
/// `[K, out]`, or `[out, in]`, `[out]`, `[in, out]`, `[out, in]`, `[out]` when K = 1.
#[derive(Debug)]
struct Dense {
    spec: LayerSpec,
    weight: Tensor,
    bias: Tensor,
    /// The transposed weight, made once so the forward pass does not make it again.
    weight_t: Tensor,
    grad_weight: Tensor,
    grad_bias: Tensor,
}

/// Which gradients a backward pass must produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The parameters' gradients, written into the network's flat gradient tensor.
    Params,
    /// Only the gradient with respect to the network's input: the generator update passes
    /// through the discriminator without touching its parameters or their gradients.
    Input,
}

/// K networks of one architecture, with their parameters in one `[K, n]` tensor.
#[derive(Debug)]
pub struct Mlp {
    layers: Vec<Dense>,
    /// Every parameter, `[K, n]` in the flat layout.
    params: Tensor,
    /// The gradients, in the same layout.
    grads: Tensor,
    /// K, kept so that the hot path never asks libtorch for a shape.
    k: i64,
    /// Points read as one input ([`pack`]): 1 but for a packing discriminator.
    pack: i64,
}

/// Points `[K, n, d]` as a packing network of `m` reads them: each `m` consecutive points
/// concatenated, `[K, n / m, m · d]` (a view; points beyond the last whole group are left out).
pub fn pack(points: &Tensor, m: i64) -> Tensor {
    if m == 1 {
        return points.shallow_clone();
    }
    let size = points.size();
    let (k, n, d) = (size[0], size[1], size[2]);
    points.narrow(1, 0, n / m * m).reshape([k, n / m, m * d])
}

/// What [`Mlp::forward_cached`] keeps for the backward pass: the network's input followed by
/// each layer's output (after its activation), as the network computes them (`[batch, …]`
/// when K = 1, `[K, batch, …]` otherwise).
#[derive(Debug)]
pub struct Activations {
    outputs: Vec<Tensor>,
    single: bool,
    /// A packing network's input before packing, `[K, n, d]`, for the input gradient's shape.
    unpacked: Option<[i64; 3]>,
}

impl Activations {
    /// The network's output, `[K, batch, out]`.
    pub fn output(&self) -> Tensor {
        let last = self.outputs.last().expect("an Mlp has at least one layer");
        if self.single { last.unsqueeze(0) } else { last.shallow_clone() }
    }
}

impl Mlp {
    /// K networks of `specs` with the parameters `params` (`[K, n]`), which it takes over:
    /// updates to the network are updates to that tensor.
    pub fn new(specs: &[LayerSpec], params: Tensor) -> Self {
        let size = params.size();
        assert_eq!(size.get(1), Some(&parameter_count(specs)), "the parameters fit the layers");
        let (k, single) = (size[0], size[0] == 1);
        let params = params.contiguous();
        let grads = params.zeros_like();
        let variables = variables(specs);
        let view = |flat: &Tensor, index: usize| {
            let v = &variables[index];
            let piece = flat.narrow(1, v.offset, v.len());
            if single {
                piece.view(v.shape.as_slice())
            } else {
                piece.view([&[k], v.shape.as_slice()].concat().as_slice())
            }
        };
        let layers = specs
            .iter()
            .enumerate()
            .map(|(index, &spec)| {
                let (weight, bias) = (view(&params, 2 * index), view(&params, 2 * index + 1));
                let (weight_t, bias) =
                    if single { (weight.tr(), bias) } else { (weight.transpose(1, 2), bias.unsqueeze(1)) };
                Dense {
                    spec,
                    weight,
                    bias,
                    weight_t,
                    grad_weight: view(&grads, 2 * index),
                    grad_bias: view(&grads, 2 * index + 1),
                }
            })
            .collect();
        Mlp { layers, params, grads, k, pack: 1 }
    }

    /// The network reading each `m` consecutive points of its input as one ([`pack`]): its
    /// first layer's inputs are `m` points'.
    pub fn packing(mut self, m: i64) -> Self {
        self.pack = m;
        self
    }

    /// The number of networks, K.
    pub fn members(&self) -> i64 {
        self.k
    }

    fn single(&self) -> bool {
        self.k == 1
    }

    /// Every parameter, `[K, n]` (the optimiser's view of the networks).
    pub fn params(&self) -> &Tensor {
        &self.params
    }

    /// The gradients of the last [`Mlp::backward`] with [`Need::Params`], `[K, n]`.
    pub fn grads(&self) -> &Tensor {
        &self.grads
    }

    /// Overwrites every parameter with `flat` (`[K, n]`).
    pub fn set_params(&self, flat: &Tensor) {
        tch::no_grad(|| self.params.shallow_clone().copy_(flat));
    }

    /// The forward pass: `xs: [K, batch, in]` → `[K, batch, out]`.
    pub fn forward(&self, xs: &Tensor) -> Tensor {
        let mut ys = self.inward(&pack(xs, self.pack));
        for layer in &self.layers {
            ys = self.layer_forward(layer, &ys);
        }
        self.outward(ys)
    }

    /// The forward pass, keeping what [`Mlp::backward`] needs.
    pub fn forward_cached(&self, xs: &Tensor) -> Activations {
        let mut outputs = Vec::with_capacity(self.layers.len() + 1);
        outputs.push(self.inward(&pack(xs, self.pack)));
        for layer in &self.layers {
            let ys = self.layer_forward(layer, outputs.last().expect("the input is there"));
            outputs.push(ys);
        }
        let unpacked = (self.pack > 1).then(|| {
            let size = xs.size();
            [size[0], size[1], size[2]]
        });
        Activations { outputs, single: self.single(), unpacked }
    }

    /// Back-propagates `grad_output` (∂loss/∂output, `[K, batch, out]`) through the layers of
    /// `activations`. With [`Need::Params`] the parameters' gradients overwrite
    /// [`Mlp::grads`] and nothing is returned; with [`Need::Input`] the parameters' gradients
    /// are left alone and ∂loss/∂input (`[K, batch, in]`) is returned; a packing network's,
    /// unpacked to the points it was given (each a whole group's).
    pub fn backward(&self, activations: &Activations, grad_output: Tensor, need: Need) -> Option<Tensor> {
        let outputs = &activations.outputs;
        let single = self.single();
        let mut grad = self.inward(&grad_output);
        for (index, layer) in self.layers.iter().enumerate().rev() {
            grad = layer.spec.activation.derivative(grad, &outputs[index + 1]);
            let input = &outputs[index];
            if need == Need::Params {
                if single {
                    let _ = grad.tr().mm_out(&layer.grad_weight, input); // [out, in]
                    let _ = grad.sum_intlist_out(&layer.grad_bias, 0, false, None); // [out]
                } else {
                    layer.grad_weight.shallow_clone().copy_(&grad.transpose(1, 2).bmm(input));
                    let _ = grad.sum_intlist_out(&layer.grad_bias, 1, false, None);
                }
                if index == 0 {
                    return None;
                }
            }
            grad = if single { grad.mm(&layer.weight) } else { grad.bmm(&layer.weight) };
        }
        let grad = self.outward(grad);
        Some(match activations.unpacked {
            Some(shape) => grad.reshape(shape),
            None => grad,
        })
    }

    /// Adds to [`Mlp::grads`] the gradient of `rule`'s penalty at `points` (`[K, n, d]`, packed
    /// here as the network reads them) with respect to the parameters, for a network with one
    /// output: the formulas of `crate::host::second_order`, in tensors. The input gradient of
    /// the output gives the penalty's direction `u` ([`penalty::direction`]); a forward-mode
    /// pass from `u` carries the tangents; a backward pass carries the adjoints of the tangents
    /// before activation (`Ȧ`) and of the pre-activations (`Ā`), the latter zero until a curved
    /// layer (tanh, ELU) feeds it.
    pub fn add_penalty_gradient(&self, points: &Tensor, rule: Weighted) {
        tch::no_grad(|| {
            let mut outputs = vec![self.inward(&pack(points, self.pack))];
            for layer in &self.layers {
                let ys = self.layer_forward(layer, outputs.last().expect("the input is there"));
                outputs.push(ys);
            }
            let top = outputs.last().expect("a network has layers").ones_like();
            let mut g = top.shallow_clone();
            for (index, layer) in self.layers.iter().enumerate().rev() {
                g = layer.spec.activation.derivative(g, &outputs[index + 1]).matmul(&layer.weight);
            }
            let direction = self.inward(&penalty::direction(rule, &self.outward(g)));
            let mut tangents = vec![direction];
            let mut slopes = Vec::with_capacity(self.layers.len());
            for (index, layer) in self.layers.iter().enumerate() {
                let slope = tangents[index].matmul(&layer.weight_t);
                tangents.push(layer.spec.activation.derivative(slope.shallow_clone(), &outputs[index + 1]));
                slopes.push(slope);
            }
            let (mut adj_dot, mut adj): (Tensor, Option<Tensor>) = (top, None);
            for (index, layer) in self.layers.iter().enumerate().rev() {
                let mut weight_grad = adj_dot.transpose(-1, -2).matmul(&tangents[index]);
                if let Some(adj) = &adj {
                    weight_grad += adj.transpose(-1, -2).matmul(&outputs[index]);
                    let _ = layer.grad_bias.shallow_clone().g_add_(&adj.sum_dim_intlist(-2, false, None));
                }
                let _ = layer.grad_weight.shallow_clone().g_add_(&weight_grad);
                if index == 0 {
                    break;
                }
                let next_dot = adj_dot.matmul(&layer.weight);
                let next = adj.map(|a| a.matmul(&layer.weight));
                let (below, output) = (self.layers[index - 1].spec.activation, &outputs[index]);
                let curvature = below
                    .is_curved()
                    .then(|| below.second_derivative(&next_dot, output) * &slopes[index - 1]);
                adj_dot = below.derivative(next_dot, output);
                adj = match (next.map(|a| below.derivative(a, output)), curvature) {
                    (Some(a), Some(c)) => Some(a + c),
                    (a, c) => a.or(c),
                };
            }
        })
    }

    fn layer_forward(&self, layer: &Dense, xs: &Tensor) -> Tensor {
        let ys = if self.single() {
            layer.bias.addmm(xs, &layer.weight_t)
        } else {
            layer.bias.baddbmm(xs, &layer.weight_t, 1.0, 1.0)
        };
        layer.spec.activation.apply(ys)
    }

    /// `[K, batch, …]` as the layers compute: one run's `[batch, …]` when K = 1.
    fn inward(&self, xs: &Tensor) -> Tensor {
        debug_assert_eq!(xs.size()[0], self.k, "one batch per network");
        if self.single() { xs.select(0, 0) } else { xs.shallow_clone() }
    }

    /// Back from [`Mlp::inward`]'s form to `[K, batch, …]`.
    fn outward(&self, ys: Tensor) -> Tensor {
        if self.single() { ys.unsqueeze(0) } else { ys }
    }
}

/// The first parameters of K runs' networks of `specs`, `[K, n]` in the flat layout. Each
/// weight is uniform within its initialiser's limit, drawn from its run's stream under `tag` at
/// the parameter's flat index; biases are zero.
pub fn initial_parameters(specs: &[LayerSpec], keys: &Keys, tag: Tag) -> Tensor {
    let numbers = keys.draw(tag, 0, 1, parameter_count(specs)).squeeze_dim(1); // [K, n]
    let pieces: Vec<Tensor> = variables(specs)
        .iter()
        .map(|v| {
            let numbers = numbers.narrow(1, v.offset, v.len());
            let layer = &specs[v.layer];
            if v.shape.len() == 2 {
                let limit = layer.init.limit(layer.inputs, layer.outputs);
                rng::uniform(&numbers, -limit, limit)
            } else {
                numbers.zeros_like()
            }
        })
        .collect();
    Tensor::cat(&pieces, 1)
}

/// Maps latent points to points of the plane: `latent_dim → hidden… → 2`, with a linear or a
/// tanh output (its points are then on the scaled axes; see `target::Scaling`).
#[derive(Debug)]
pub struct Generator {
    network: Mlp,
}

impl Generator {
    /// K generators of `cfg` with the parameters `params` (`[K, n]`).
    pub fn new(cfg: &ModelConfig, params: Tensor) -> Self {
        Generator { network: Mlp::new(&cfg.generator_layers(), params) }
    }

    /// Its layers and flat parameters.
    pub fn network(&self) -> &Mlp {
        &self.network
    }

    /// `latent: [K, batch, latent_dim]` → points `[K, batch, 2]`, without gradients.
    pub fn generate(&self, latent: &Tensor) -> Tensor {
        tch::no_grad(|| self.network.forward(latent))
    }
}

/// Scores points of the plane: `2 → hidden… → 1`, returning the logit (positive means real).
#[derive(Debug)]
pub struct Discriminator {
    network: Mlp,
}

impl Discriminator {
    /// K discriminators of `cfg` with the parameters `params` (`[K, n]`).
    pub fn new(cfg: &ModelConfig, params: Tensor) -> Self {
        Discriminator { network: Mlp::new(&cfg.discriminator_layers(), params).packing(cfg.pack) }
    }

    /// Its layers and flat parameters.
    pub fn network(&self) -> &Mlp {
        &self.network
    }

    /// `points: [K, batch, 2]` → logits `[K, batch / pack, 1]`, without gradients.
    pub fn score(&self, points: &Tensor) -> Tensor {
        tch::no_grad(|| self.network.forward(points))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Activation;
    use tch::{Device, Kind};

    /// K runs' first parameters of `specs`, seeds 0…K−1.
    fn first(specs: &[LayerSpec], k: u64, tag: Tag) -> Tensor {
        let seeds: Vec<u64> = (0..k).collect();
        initial_parameters(specs, &Keys::new(&seeds, Device::Cpu), tag)
    }

    fn models_of(cfg: &ModelConfig, k: u64) -> (Generator, Discriminator) {
        (
            Generator::new(cfg, first(&cfg.generator_layers(), k, Tag::InitGenerator)),
            Discriminator::new(cfg, first(&cfg.discriminator_layers(), k, Tag::InitDiscriminator)),
        )
    }

    #[test]
    fn parameter_counts_follow_the_architecture() {
        // (latent, generator hidden, discriminator hidden) → (generator, discriminator) counts,
        // worked out by hand: Σ (fan_in + 1) · fan_out over the layers.
        for (latent, g_hidden, d_hidden, counts) in [
            (5, vec![15], vec![25], (122, 101)),
            (5, vec![32, 16], vec![24, 12], (754, 385)),
            (3, vec![1], vec![1], (8, 5)),
            (10, vec![64, 64, 64], vec![128], (9154, 513)),
        ] {
            let cfg = ModelConfig {
                latent_dim: latent,
                generator_hidden: g_hidden,
                discriminator_hidden: d_hidden,
                // Activations change no count.
                activation: Activation::Elu,
                generator_output: Activation::Tanh,
                ..ModelConfig::default()
            };
            let (g, d) = (cfg.generator_layers(), cfg.discriminator_layers());
            assert_eq!((parameter_count(&g), parameter_count(&d)), counts, "{cfg:?}");
            assert_eq!(g.len(), cfg.generator_hidden.len() + 1);
            let (generator, _) = models_of(&cfg, 2);
            assert_eq!(generator.network().params().size(), [2, counts.0]);
        }
        let names: Vec<String> =
            variables(&ModelConfig::default().discriminator_layers()).into_iter().map(|v| v.name).collect();
        assert_eq!(names, ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]);
    }

    #[test]
    fn weights_start_within_keras_bounds_and_biases_at_zero() {
        let cfg = ModelConfig::default();
        let (g, d) = models_of(&cfg, 3);
        for (network, layer, limit) in [
            (g.network(), 0, (6.0f64 / 5.0).sqrt()),
            (g.network(), 1, (6.0f64 / 17.0).sqrt()),
            (d.network(), 0, (6.0f64 / 2.0).sqrt()),
            (d.network(), 1, (6.0f64 / 26.0).sqrt()),
        ] {
            let dense = &network.layers[layer];
            let max = dense.weight.abs().max().double_value(&[]);
            assert!(max <= limit, "{}: {max} > {limit}", dense.spec.name);
            // Uniform draws fill most of the interval: a wrong (narrower) bound would show.
            assert!(max > 0.6 * limit, "{}: {max} is far inside {limit}", dense.spec.name);
            assert_eq!(dense.bias.abs().sum(Kind::Float).double_value(&[]), 0.0);
        }
    }

    #[test]
    fn layer_views_share_the_flat_parameters() {
        for k in [1, 3] {
            let (g, _) = models_of(&ModelConfig::default(), k);
            let _ = tch::no_grad(|| g.network().params().shallow_clone().fill_(0.5));
            assert_eq!(g.network().layers[1].bias.reshape([-1]).double_value(&[0]), 0.5);
        }
    }

    /// Every hidden activation, each with both generator outputs, on two hidden layers so that
    /// each activation's derivative is used between layers too.
    fn every_activation() -> Vec<ModelConfig> {
        let hidden = [
            Activation::Relu,
            Activation::LeakyRelu(0.3),
            Activation::LeakyRelu(0.0),
            Activation::Tanh,
            Activation::Elu,
        ];
        hidden
            .into_iter()
            .flat_map(|activation| {
                [Activation::Linear, Activation::Tanh].map(|generator_output| ModelConfig {
                    generator_hidden: vec![15, 6],
                    discriminator_hidden: vec![25, 7],
                    activation,
                    generator_output,
                    ..ModelConfig::default()
                })
            })
            .collect()
    }

    /// `specs`' forward pass for one run, written with ordinary tensor ops on the flat row
    /// `flat`, so autograd can differentiate it.
    fn reference_forward(flat: &Tensor, specs: &[LayerSpec], xs: &Tensor) -> Tensor {
        let vars = variables(specs);
        let mut xs = xs.shallow_clone();
        for (index, layer) in specs.iter().enumerate() {
            let piece =
                |v: &crate::config::Variable| flat.narrow(0, v.offset, v.len()).view(v.shape.as_slice());
            let (w, b) = (piece(&vars[2 * index]), piece(&vars[2 * index + 1]));
            xs = xs.matmul(&w.tr()) + b;
            xs = match layer.activation {
                Activation::Relu => xs.relu(),
                // prelu's derivative at 0 is the slope, as LeakyReLU's backward pass takes it.
                Activation::LeakyRelu(slope) => xs.prelu(&Tensor::from_slice(&[slope as f32])),
                Activation::Tanh => xs.tanh(),
                Activation::Elu => xs.elu(),
                Activation::Linear => xs,
            };
        }
        xs
    }

    /// The generator's gradient through a frozen discriminator, for K = 1 and K = 3, against
    /// autograd run by run.
    #[test]
    fn backward_matches_autograd() {
        for cfg in every_activation() {
            for k in [1, 3] {
                let (g, d) = models_of(&cfg, k as u64);
                let zs = crate::rng::test_normal(100, &[k, 7, 5]);
                let upstream = crate::rng::test_normal(101, &[k, 7, 1]);
                let g_acts = g.network().forward_cached(&zs);
                let d_acts = d.network().forward_cached(&g_acts.output());
                let grad_points =
                    d.network().backward(&d_acts, upstream.shallow_clone(), Need::Input).unwrap();
                assert!(g.network().backward(&g_acts, grad_points, Need::Params).is_none());
                for run in 0..k {
                    let g_params = g.network().params().get(run).detach().copy().set_requires_grad(true);
                    let d_params = d.network().params().get(run).detach().copy();
                    let points = reference_forward(&g_params, &cfg.generator_layers(), &zs.get(run));
                    let d_out = reference_forward(&d_params, &cfg.discriminator_layers(), &points);
                    (d_out * upstream.get(run)).sum(Kind::Float).backward();
                    let expected = g_params.grad();
                    let diff = (g.network().grads().get(run) - &expected).abs().max().double_value(&[]);
                    let scale = expected.abs().max().double_value(&[]);
                    assert!(scale > 1e-3, "{cfg:?}: a vanishing gradient tests nothing");
                    assert!(
                        diff < 1e-5 * scale.max(1.0),
                        "{cfg:?}, K = {k}, run {run}: max difference {diff}"
                    );
                }
            }
        }
    }

    #[test]
    fn discriminator_parameter_gradients_match_autograd() {
        for cfg in every_activation() {
            for k in [1, 2] {
                let (_, d) = models_of(&cfg, k as u64);
                let points = crate::rng::test_normal(200, &[k, 9, 2]);
                let upstream = crate::rng::test_normal(201, &[k, 9, 1]);
                let acts = d.network().forward_cached(&points);
                assert!(d.network().backward(&acts, upstream.shallow_clone(), Need::Params).is_none());
                for run in 0..k {
                    // The fast forward pass gives what the reference one does.
                    let flat = d.network().params().get(run).detach().copy().set_requires_grad(true);
                    let reference = reference_forward(&flat, &cfg.discriminator_layers(), &points.get(run));
                    assert!(reference.allclose(&acts.output().get(run), 1e-6, 1e-6, false), "{cfg:?}");
                    (reference * upstream.get(run)).sum(Kind::Float).backward();
                    let diff = (d.network().grads().get(run) - flat.grad()).abs().max().double_value(&[]);
                    assert!(diff < 1e-5, "{cfg:?}, K = {k}: max difference {diff}");
                }
            }
        }
    }

    /// A run's networks are the same whether they stand alone or among others: K = 1 and
    /// K = 3 agree on the run they share to float rounding.
    #[test]
    fn one_run_alone_and_among_others_agree() {
        let cfg = ModelConfig::default();
        let (g3, _) = models_of(&cfg, 3);
        let g1 = Generator::new(&cfg, g3.network().params().narrow(0, 0, 1).copy());
        let zs = crate::rng::test_normal(202, &[3, 11, 5]);
        let all = g3.generate(&zs);
        let alone = g1.generate(&zs.narrow(0, 0, 1));
        assert!(alone.allclose(&all.narrow(0, 0, 1), 1e-6, 1e-6, false));
        assert!(!all.get(0).allclose(&all.get(1), 1e-3, 1e-3, false), "runs differ");
    }

    #[test]
    fn hidden_layers_take_their_activations_initialiser() {
        for (activation, limit) in
            [(Activation::Tanh, (6.0f64 / 17.0).sqrt()), (Activation::Elu, (6.0f64 / 2.0).sqrt())]
        {
            let cfg = ModelConfig { discriminator_hidden: vec![15], activation, ..ModelConfig::default() };
            let (_, d) = models_of(&cfg, 4);
            let hidden = &d.network().layers[0];
            assert_eq!(hidden.spec.activation, activation);
            let max = hidden.weight.abs().max().double_value(&[]);
            assert!(max <= limit && max > 0.8 * limit, "{activation}: {max} against {limit}");
        }
    }
}
