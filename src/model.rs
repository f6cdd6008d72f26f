//! The two networks: [`Generator`] and [`Discriminator`], both small multilayer perceptrons
//! ([`Mlp`]) of [`Dense`] layers.
//!
//! Why the layout is unusual: a training iteration here is about 0.14 MFLOP, so its cost is the
//! number of libtorch calls, not arithmetic. Each network therefore keeps all its parameters in
//! one flat tensor (the layers' weights and biases are views into it) and its gradients in a
//! second flat tensor of the same layout, so that the optimiser updates a whole network with a
//! handful of calls. Gradients are computed by [`Mlp::backward`], written out for these layers,
//! instead of by autograd, which would record a graph for every call. The tests check them
//! against autograd.
//!
//! The views are registered in the caller's `nn::VarStore` under `hidden.weight`, `out.bias`, …,
//! so checkpoints name every layer. This module owns no VarStore, optimiser, file or output.

use tch::{Device, Kind, Tensor, nn};

use crate::config::{Activation, LayerSpec, ModelConfig};
use crate::rng::{self, Keys, Tag};

/// One fully connected layer, `y = act(x Wᵀ + b)`.
#[derive(Debug)]
pub struct Dense {
    /// The name of the layer's VarStore sub-path (`hidden`, `hidden2`, …, `out`).
    pub name: &'static str,
    pub activation: Activation,
    /// LeakyReLU's slope as a one-element tensor on the layer's device (`prelu`'s weight).
    slope: Option<Tensor>,
    /// `[out, in]`, a view into the network's flat parameters.
    pub weight: Tensor,
    /// `[out]`, a view into the network's flat parameters.
    pub bias: Tensor,
    /// `[in, out]`: the transposed view, made once so the forward pass does not make it again.
    weight_t: Tensor,
    /// `[out, in]` and `[out]`: views into the network's flat gradients.
    grad_weight: Tensor,
    grad_bias: Tensor,
}

impl Dense {
    pub fn in_features(&self) -> i64 {
        self.weight.size()[1]
    }

    pub fn out_features(&self) -> i64 {
        self.weight.size()[0]
    }

    /// # Shapes
    /// `xs: [batch, in]` → `[batch, out]`
    fn forward(&self, xs: &Tensor) -> Tensor {
        activate(self.bias.addmm(xs, &self.weight_t), self.activation, self.slope.as_ref())
    }

    fn activation_backward(&self, grad: Tensor, output: &Tensor) -> Tensor {
        activation_backward(self.activation, grad, output)
    }
}

/// `activation` applied to pre-activations `ys` (in place where libtorch can); `slope` is
/// LeakyReLU's slope as a one-element tensor (`prelu`'s weight).
pub fn activate(mut ys: Tensor, activation: Activation, slope: Option<&Tensor>) -> Tensor {
    match activation {
        Activation::Relu => {
            let _ = ys.relu_();
        }
        Activation::LeakyRelu(_) => ys = ys.prelu(slope.expect("a leaky layer has its slope")),
        Activation::Tanh => {
            let _ = ys.tanh_();
        }
        Activation::Elu => {
            let _ = ys.elu_();
        }
        Activation::Linear => {}
    }
    ys
}

/// LeakyReLU's slope as `prelu` takes it, on `device`; `None` for other activations.
pub fn slope_tensor(activation: Activation, device: Device) -> Option<Tensor> {
    match activation {
        Activation::LeakyRelu(slope) => Some(Tensor::from_slice(&[slope as f32]).to_device(device)),
        _ => None,
    }
}

/// ∂loss/∂(a layer's pre-activation) from ∂loss/∂(its output) `grad` and its `output`. Each
/// activation's derivative is read off its output, which the forward pass keeps.
pub fn activation_backward(activation: Activation, grad: Tensor, output: &Tensor) -> Tensor {
    match activation {
        // ReLU's output is positive exactly where its input was.
        Activation::Relu => output.threshold_backward(&grad, 0.0),
        // So is LeakyReLU's, for a slope ≥ 0.
        Activation::LeakyRelu(slope) => output.leaky_relu_backward(&grad, slope, true),
        Activation::Tanh => Tensor::tanh_backward(&grad, output),
        // ELU's derivative is 1 where its output is positive, output + α elsewhere.
        Activation::Elu => Tensor::elu_backward(&grad, 1.0, 1.0, 1.0, true, output),
        Activation::Linear => grad,
    }
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

/// A stack of [`Dense`] layers whose parameters share one flat tensor.
#[derive(Debug)]
pub struct Mlp {
    layers: Vec<Dense>,
    /// Every parameter, layer by layer, weight then bias: `[parameter_count]`.
    params: Tensor,
    /// The gradients, in the same layout as `params`.
    grads: Tensor,
}

/// What [`Mlp::forward_cached`] keeps for the backward pass: the network's input followed by
/// each layer's output (after its activation).
#[derive(Debug)]
pub struct Activations(pub(crate) Vec<Tensor>);

impl Activations {
    /// The network's output.
    pub fn output(&self) -> &Tensor {
        self.0.last().expect("an Mlp has at least one layer")
    }
}

impl Mlp {
    /// Creates the layers `specs` under `p`, each with its activation, all parameters zero:
    /// [`initial_parameters`] gives a run's first values.
    pub fn new(p: &nn::Path, specs: &[LayerSpec]) -> Self {
        let device = p.device();
        let total: i64 = specs.iter().map(|l| l.outputs * l.inputs + l.outputs).sum();
        let params = Tensor::zeros([total], (Kind::Float, device));
        let grads = Tensor::zeros([total], (Kind::Float, device));

        let mut layers = Vec::with_capacity(specs.len());
        let mut offset = 0;
        for &LayerSpec { name, inputs: fan_in, outputs: fan_out, activation, .. } in specs {
            let slice = |flat: &Tensor, start: i64, shape: &[i64]| {
                let len: i64 = shape.iter().product();
                flat.narrow(0, start, len).view(shape)
            };
            let weight = slice(&params, offset, &[fan_out, fan_in]);
            let grad_weight = slice(&grads, offset, &[fan_out, fan_in]);
            offset += fan_out * fan_in;
            let bias = slice(&params, offset, &[fan_out]);
            let grad_bias = slice(&grads, offset, &[fan_out]);
            offset += fan_out;

            let layer_path = p / name;
            // Not trainable in tch's sense: gradients come from `backward`, not autograd.
            let weight = layer_path.add("weight", weight, false);
            let bias = layer_path.add("bias", bias, false);
            let weight_t = weight.tr();
            let slope = slope_tensor(activation, device);
            layers.push(Dense { name, activation, slope, weight, bias, weight_t, grad_weight, grad_bias });
        }
        Mlp { layers, params, grads }
    }

    pub fn layers(&self) -> &[Dense] {
        &self.layers
    }

    /// All parameters as one flat tensor (the optimiser's view of the network).
    pub fn params(&self) -> &Tensor {
        &self.params
    }

    /// The gradients of the last [`Mlp::backward`] with [`Need::Params`], same layout as
    /// [`Mlp::params`].
    pub fn grads(&self) -> &Tensor {
        &self.grads
    }

    /// Overwrites every parameter with `flat` (`[parameter_count]`, the layout of
    /// [`Mlp::params`]).
    pub fn set_params(&self, flat: &Tensor) {
        tch::no_grad(|| self.params.shallow_clone().copy_(flat));
    }

    pub fn parameter_count(&self) -> i64 {
        self.params.numel() as i64
    }

    pub fn device(&self) -> Device {
        self.params.device()
    }

    /// The forward pass, keeping what [`Mlp::backward`] needs.
    ///
    /// # Shapes
    /// `xs: [batch, in]`; the output is `[batch, out]`.
    pub fn forward_cached(&self, xs: &Tensor) -> Activations {
        let mut outputs = Vec::with_capacity(self.layers.len() + 1);
        outputs.push(xs.shallow_clone());
        for layer in &self.layers {
            let ys = layer.forward(outputs.last().unwrap());
            outputs.push(ys);
        }
        Activations(outputs)
    }

    /// Back-propagates `grad_output` (∂loss/∂output, `[batch, out]`) through the layers of
    /// `activations`. With [`Need::Params`] the parameters' gradients overwrite
    /// [`Mlp::grads`] and nothing is returned; with [`Need::Input`] the parameters' gradients
    /// are left alone and ∂loss/∂input (`[batch, in]`) is returned.
    pub fn backward(&self, activations: &Activations, grad_output: Tensor, need: Need) -> Option<Tensor> {
        let outputs = &activations.0;
        let mut grad = grad_output; // [batch, out] of the current layer
        for (index, layer) in self.layers.iter().enumerate().rev() {
            grad = layer.activation_backward(grad, &outputs[index + 1]);
            let input = &outputs[index]; // [batch, in]
            if need == Need::Params {
                let _ = grad.tr().mm_out(&layer.grad_weight, input); // [out, in]
                let _ = grad.sum_intlist_out(&layer.grad_bias, 0, false, None); // [out]
                if index == 0 {
                    return None;
                }
            }
            grad = grad.mm(&layer.weight); // [batch, in]
        }
        Some(grad)
    }
}

impl nn::Module for Mlp {
    fn forward(&self, xs: &Tensor) -> Tensor {
        let mut ys = self.layers[0].forward(xs);
        for layer in &self.layers[1..] {
            ys = layer.forward(&ys);
        }
        ys
    }
}

/// The first parameters of K runs' networks of `specs`, laid out flat as [`Mlp`] holds them:
/// `[K, parameter_count]`. Each weight is uniform within its initialiser's limit, drawn from its
/// run's stream under `tag` at the parameter's flat index; biases are zero.
pub fn initial_parameters(specs: &[LayerSpec], keys: &Keys, tag: Tag) -> Tensor {
    let total: i64 = specs.iter().map(|l| l.outputs * l.inputs + l.outputs).sum();
    let numbers = keys.draw(tag, 0, 1, total).squeeze_dim(1); // [K, total]
    let mut pieces = Vec::with_capacity(2 * specs.len());
    let mut offset = 0;
    for layer in specs {
        let weights = layer.outputs * layer.inputs;
        let limit = layer.init.limit(layer.inputs, layer.outputs);
        pieces.push(rng::uniform(&numbers.narrow(1, offset, weights), -limit, limit));
        pieces.push(numbers.narrow(1, offset + weights, layer.outputs).zeros_like());
        offset += weights + layer.outputs;
    }
    Tensor::cat(&pieces, 1)
}

/// Maps latent points to points of the plane: `latent_dim → hidden… → 2`, with a linear or a
/// tanh output (its points are then on the scaled axes; see `target::Scaling`).
#[derive(Debug)]
pub struct Generator {
    network: Mlp,
}

impl Generator {
    pub fn new(p: &nn::Path, cfg: &ModelConfig) -> Self {
        Generator { network: Mlp::new(p, &cfg.generator_layers()) }
    }

    /// Its layers and flat parameters.
    pub fn network(&self) -> &Mlp {
        &self.network
    }
}

impl nn::Module for Generator {
    /// # Shapes
    /// `zs: [batch, latent_dim]` → `[batch, 2]`
    fn forward(&self, zs: &Tensor) -> Tensor {
        self.network.forward(zs)
    }
}

/// Scores points of the plane: `2 → hidden… → 1`, returning the logit (positive means real).
#[derive(Debug)]
pub struct Discriminator {
    network: Mlp,
}

impl Discriminator {
    pub fn new(p: &nn::Path, cfg: &ModelConfig) -> Self {
        Discriminator { network: Mlp::new(p, &cfg.discriminator_layers()) }
    }

    /// Its layers and flat parameters.
    pub fn network(&self) -> &Mlp {
        &self.network
    }
}

impl nn::Module for Discriminator {
    /// # Shapes
    /// `points: [batch, 2]` → logits `[batch, 1]`
    fn forward(&self, points: &Tensor) -> Tensor {
        self.network.forward(points)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models() -> (nn::VarStore, Generator, nn::VarStore, Discriminator) {
        models_of(&ModelConfig::default())
    }

    fn models_of(cfg: &ModelConfig) -> (nn::VarStore, Generator, nn::VarStore, Discriminator) {
        let g_vs = nn::VarStore::new(Device::Cpu);
        let d_vs = nn::VarStore::new(Device::Cpu);
        let g = Generator::new(&g_vs.root(), cfg);
        let d = Discriminator::new(&d_vs.root(), cfg);
        let keys = Keys::new(&[0], Device::Cpu);
        g.network.set_params(&initial_parameters(&cfg.generator_layers(), &keys, Tag::InitGenerator).get(0));
        d.network.set_params(
            &initial_parameters(&cfg.discriminator_layers(), &keys, Tag::InitDiscriminator).get(0),
        );
        (g_vs, g, d_vs, d)
    }

    #[test]
    fn parameter_counts_are_the_tutorials() {
        let _rng = crate::rng_lock();
        let (g_vs, g, d_vs, d) = models();
        assert_eq!(g.network.parameter_count(), 122);
        assert_eq!(d.network.parameter_count(), 101);
        let in_store = |vs: &nn::VarStore| vs.variables().values().map(|t| t.numel()).sum::<usize>();
        assert_eq!((in_store(&g_vs), in_store(&d_vs)), (122, 101));
        let mut names: Vec<_> = d_vs.variables().into_keys().collect();
        names.sort();
        assert_eq!(names, ["hidden.bias", "hidden.weight", "out.bias", "out.weight"]);
    }

    #[test]
    fn parameter_counts_follow_the_architecture() {
        let _rng = crate::rng_lock();
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
            };
            let (g_vs, d_vs) = (nn::VarStore::new(Device::Cpu), nn::VarStore::new(Device::Cpu));
            let g = Generator::new(&g_vs.root(), &cfg);
            let d = Discriminator::new(&d_vs.root(), &cfg);
            assert_eq!((g.network.parameter_count(), d.network.parameter_count()), counts, "{cfg:?}");
            assert_eq!(g.network.layers().len(), cfg.generator_hidden.len() + 1);
        }
    }

    #[test]
    fn weights_start_within_keras_bounds_and_biases_at_zero() {
        let _rng = crate::rng_lock();
        tch::manual_seed(0);
        let (_, g, _, d) = models();
        for (layer, limit) in [
            (&g.network.layers()[0], (6.0f64 / 5.0).sqrt()),
            (&g.network.layers()[1], (6.0f64 / 17.0).sqrt()),
            (&d.network.layers()[0], (6.0f64 / 2.0).sqrt()),
            (&d.network.layers()[1], (6.0f64 / 26.0).sqrt()),
        ] {
            let max = layer.weight.abs().max().double_value(&[]);
            assert!(max <= limit, "{}: {max} > {limit}", layer.name);
            // Uniform draws fill most of the interval: a wrong (narrower) bound would show.
            assert!(max > 0.6 * limit, "{}: {max} is far inside {limit}", layer.name);
            assert_eq!(layer.bias.abs().sum(Kind::Float).double_value(&[]), 0.0);
        }
    }

    #[test]
    fn layer_views_share_the_flat_parameters() {
        let _rng = crate::rng_lock();
        let (_, g, _, _) = models();
        let _ = tch::no_grad(|| g.network.params().shallow_clone().fill_(0.5));
        assert_eq!(g.network.layers()[1].bias.double_value(&[0]), 0.5);
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

    #[test]
    fn backward_matches_autograd() {
        let _rng = crate::rng_lock();
        tch::manual_seed(1);
        for cfg in every_activation() {
            let (_, g, _, d) = models_of(&cfg);
            let zs = Tensor::randn([7, 5], (Kind::Float, Device::Cpu));
            let upstream = Tensor::randn([7, 1], (Kind::Float, Device::Cpu));

            // Hand-written: G's parameter gradients through a frozen D.
            let g_acts = g.network.forward_cached(&zs);
            let d_acts = d.network.forward_cached(g_acts.output());
            let grad_points = d.network.backward(&d_acts, upstream.shallow_clone(), Need::Input).unwrap();
            assert!(g.network.backward(&g_acts, grad_points, Need::Params).is_none());

            // Autograd on copies of the same parameters, through ordinary ops.
            let g_params = g.network.params().detach().copy().set_requires_grad(true);
            let d_params = d.network.params().detach().copy();
            let points = reference_forward(&g_params, &g.network, &zs);
            let d_out = reference_forward(&d_params, &d.network, &points);
            (d_out * &upstream).sum(Kind::Float).backward();
            let expected = g_params.grad();
            let diff = (g.network.grads() - &expected).abs().max().double_value(&[]);
            let scale = expected.abs().max().double_value(&[]);
            assert!(scale > 1e-3, "{cfg:?}: a vanishing gradient tests nothing");
            assert!(diff < 1e-5 * scale.max(1.0), "{cfg:?}: max difference {diff}");
        }
    }

    /// `layout`'s forward pass written with ordinary tensor ops on the flat parameter tensor
    /// `flat`, so autograd can differentiate it.
    fn reference_forward(flat: &Tensor, layout: &Mlp, zs: &Tensor) -> Tensor {
        let mut xs = zs.shallow_clone();
        let mut offset = 0;
        for layer in layout.layers() {
            let (o, i) = (layer.out_features(), layer.in_features());
            let w = flat.narrow(0, offset, o * i).view([o, i]);
            offset += o * i;
            let b = flat.narrow(0, offset, o);
            offset += o;
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

    #[test]
    fn discriminator_parameter_gradients_match_autograd() {
        let _rng = crate::rng_lock();
        tch::manual_seed(2);
        for cfg in every_activation() {
            let (_, _, _, d) = models_of(&cfg);
            let points = Tensor::randn([9, 2], (Kind::Float, Device::Cpu));
            let upstream = Tensor::randn([9, 1], (Kind::Float, Device::Cpu));
            let acts = d.network.forward_cached(&points);
            assert!(d.network.backward(&acts, upstream.shallow_clone(), Need::Params).is_none());
            // The fast forward pass gives what the reference one does.
            let flat = d.network.params().detach().copy().set_requires_grad(true);
            let reference = reference_forward(&flat, &d.network, &points);
            assert!(reference.allclose(acts.output(), 1e-6, 1e-6, false), "{cfg:?}");
            (reference * &upstream).sum(Kind::Float).backward();
            let diff = (d.network.grads() - flat.grad()).abs().max().double_value(&[]);
            assert!(diff < 1e-5, "{cfg:?}: max difference {diff}");
        }
    }

    #[test]
    fn hidden_layers_take_their_activations_initialiser() {
        let _rng = crate::rng_lock();
        tch::manual_seed(3);
        for (activation, limit) in
            [(Activation::Tanh, (6.0f64 / 17.0).sqrt()), (Activation::Elu, (6.0f64 / 2.0).sqrt())]
        {
            let cfg = ModelConfig { discriminator_hidden: vec![15], activation, ..ModelConfig::default() };
            let (_, _, _, d) = models_of(&cfg);
            let hidden = &d.network.layers()[0];
            assert_eq!(hidden.activation, activation);
            let max = hidden.weight.abs().max().double_value(&[]);
            assert!(max <= limit && max > 0.8 * limit, "{activation}: {max} against {limit}");
        }
    }
}
