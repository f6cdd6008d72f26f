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

use crate::config::{ModelConfig, POINT_DIM};

/// The nonlinearity that follows a layer's affine map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `max(0, x)`, the tutorial's hidden activation.
    Relu,
    /// No activation: the generator's output, and the discriminator's logit (its sigmoid is
    /// folded into the loss, which is the numerically sound form).
    Linear,
}

impl Activation {
    fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Linear => "linear",
        }
    }
}

/// How a layer's weights start, as Keras names them. Biases always start at zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// `U(±√(6 / fan_in))`: the tutorial's `kernel_initializer='he_uniform'`.
    HeUniform,
    /// `U(±√(6 / (fan_in + fan_out)))`: Keras' default, which the output layers get because
    /// the tutorial names no initialiser for them.
    GlorotUniform,
}

impl Init {
    /// Half-width of the uniform interval for a layer `fan_in → fan_out`.
    pub fn limit(self, fan_in: i64, fan_out: i64) -> f64 {
        match self {
            Init::HeUniform => (6.0 / fan_in as f64).sqrt(),
            Init::GlorotUniform => (6.0 / (fan_in + fan_out) as f64).sqrt(),
        }
    }
}

/// One fully connected layer, `y = act(x Wᵀ + b)`.
#[derive(Debug)]
pub struct Dense {
    /// The name of the layer's VarStore sub-path (`hidden`, `hidden2`, …, `out`).
    pub name: String,
    pub activation: Activation,
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
        let mut ys = self.bias.addmm(xs, &self.weight_t);
        if self.activation == Activation::Relu {
            let _ = ys.relu_();
        }
        ys
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
pub struct Activations(Vec<Tensor>);

impl Activations {
    /// The network's output.
    pub fn output(&self) -> &Tensor {
        self.0.last().expect("an Mlp has at least one layer")
    }
}

impl Mlp {
    /// Creates `input → hidden[0] → … → output` under `p`, with ReLU hidden layers initialised
    /// He-uniform and a linear output layer initialised with `output_init`.
    pub fn new(p: &nn::Path, input: i64, hidden: &[i64], output: i64, output_init: Init) -> Self {
        let device = p.device();
        let mut widths = vec![input];
        widths.extend_from_slice(hidden);
        widths.push(output);
        let total: i64 = widths.windows(2).map(|w| w[1] * w[0] + w[1]).sum();
        let params = Tensor::zeros([total], (Kind::Float, device));
        let grads = Tensor::zeros([total], (Kind::Float, device));

        let mut layers = Vec::with_capacity(widths.len() - 1);
        let mut offset = 0;
        for (index, pair) in widths.windows(2).enumerate() {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let is_output = index == widths.len() - 2;
            let (name, activation, init) = if is_output {
                ("out".to_string(), Activation::Linear, output_init)
            } else if index == 0 {
                ("hidden".to_string(), Activation::Relu, Init::HeUniform)
            } else {
                (format!("hidden{}", index + 1), Activation::Relu, Init::HeUniform)
            };
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

            let limit = init.limit(fan_in, fan_out);
            let _ = tch::no_grad(|| weight.shallow_clone().uniform_(-limit, limit));
            let layer_path = p / name.as_str();
            // Not trainable in tch's sense: gradients come from `backward`, not autograd.
            let weight = layer_path.add("weight", weight, false);
            let bias = layer_path.add("bias", bias, false);
            let weight_t = weight.tr();
            layers.push(Dense { name, activation, weight, bias, weight_t, grad_weight, grad_bias });
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
            if layer.activation == Activation::Relu {
                // ReLU's output is positive exactly where its input was.
                grad = outputs[index + 1].threshold_backward(&grad, 0.0);
            }
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

/// Maps latent points to points of the plane: `latent_dim → hidden… → 2`, linear output.
#[derive(Debug)]
pub struct Generator(pub Mlp);

impl Generator {
    pub fn new(p: &nn::Path, cfg: &ModelConfig) -> Self {
        Generator(Mlp::new(p, cfg.latent_dim, &cfg.generator_hidden, POINT_DIM, Init::GlorotUniform))
    }
}

impl nn::Module for Generator {
    /// # Shapes
    /// `zs: [batch, latent_dim]` → `[batch, 2]`
    fn forward(&self, zs: &Tensor) -> Tensor {
        self.0.forward(zs)
    }
}

/// Scores points of the plane: `2 → hidden… → 1`, returning the logit (positive means real).
#[derive(Debug)]
pub struct Discriminator(pub Mlp);

impl Discriminator {
    pub fn new(p: &nn::Path, cfg: &ModelConfig) -> Self {
        Discriminator(Mlp::new(p, POINT_DIM, &cfg.discriminator_hidden, 1, Init::GlorotUniform))
    }
}

impl nn::Module for Discriminator {
    /// # Shapes
    /// `points: [batch, 2]` → logits `[batch, 1]`
    fn forward(&self, points: &Tensor) -> Tensor {
        self.0.forward(points)
    }
}

/// The activation's name as Keras prints it, for summaries and diagrams.
pub fn activation_name(layer: &Dense) -> &'static str {
    layer.activation.name()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::Module;

    fn models() -> (nn::VarStore, Generator, nn::VarStore, Discriminator) {
        let cfg = ModelConfig::default();
        let g_vs = nn::VarStore::new(Device::Cpu);
        let d_vs = nn::VarStore::new(Device::Cpu);
        let g = Generator::new(&g_vs.root(), &cfg);
        let d = Discriminator::new(&d_vs.root(), &cfg);
        (g_vs, g, d_vs, d)
    }

    #[test]
    fn parameter_counts_are_the_tutorials() {
        let _rng = crate::rng_lock();
        let (g_vs, g, d_vs, d) = models();
        assert_eq!(g.0.parameter_count(), 122);
        assert_eq!(d.0.parameter_count(), 101);
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
            };
            let (g_vs, d_vs) = (nn::VarStore::new(Device::Cpu), nn::VarStore::new(Device::Cpu));
            let g = Generator::new(&g_vs.root(), &cfg);
            let d = Discriminator::new(&d_vs.root(), &cfg);
            assert_eq!((g.0.parameter_count(), d.0.parameter_count()), counts, "{cfg:?}");
            assert_eq!(g.0.layers().len(), cfg.generator_hidden.len() + 1);
        }
    }

    #[test]
    fn weights_start_within_keras_bounds_and_biases_at_zero() {
        let _rng = crate::rng_lock();
        tch::manual_seed(0);
        let (_, g, _, d) = models();
        for (layer, limit) in [
            (&g.0.layers()[0], (6.0f64 / 5.0).sqrt()),
            (&g.0.layers()[1], (6.0f64 / 17.0).sqrt()),
            (&d.0.layers()[0], (6.0f64 / 2.0).sqrt()),
            (&d.0.layers()[1], (6.0f64 / 26.0).sqrt()),
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
        let _ = tch::no_grad(|| g.0.params().shallow_clone().fill_(0.5));
        assert_eq!(g.0.layers()[1].bias.double_value(&[0]), 0.5);
    }

    #[test]
    fn backward_matches_autograd() {
        let _rng = crate::rng_lock();
        tch::manual_seed(1);
        let (_, g, _, d) = models();
        let zs = Tensor::randn([7, 5], (Kind::Float, Device::Cpu));
        let upstream = Tensor::randn([7, 1], (Kind::Float, Device::Cpu));

        // Hand-written: G's parameter gradients through a frozen D.
        let g_acts = g.0.forward_cached(&zs);
        let d_acts = d.0.forward_cached(g_acts.output());
        let grad_points = d.0.backward(&d_acts, upstream.shallow_clone(), Need::Input).unwrap();
        assert!(g.0.backward(&g_acts, grad_points, Need::Params).is_none());

        // Autograd on copies of the same parameters.
        let g_params = g.0.params().detach().copy().set_requires_grad(true);
        let d_out = d.forward(&reference_forward(&g_params, &g.0, &zs));
        (d_out * &upstream).sum(Kind::Float).backward();
        let expected = g_params.grad();
        let diff = (g.0.grads() - &expected).abs().max().double_value(&[]);
        assert!(diff < 1e-5, "max difference {diff}");
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
            if layer.activation == Activation::Relu {
                xs = xs.relu();
            }
        }
        xs
    }

    #[test]
    fn discriminator_parameter_gradients_match_autograd() {
        let _rng = crate::rng_lock();
        tch::manual_seed(2);
        let (_, _, _, d) = models();
        let points = Tensor::randn([9, 2], (Kind::Float, Device::Cpu));
        let upstream = Tensor::randn([9, 1], (Kind::Float, Device::Cpu));
        let acts = d.0.forward_cached(&points);
        assert!(d.0.backward(&acts, upstream.shallow_clone(), Need::Params).is_none());

        let flat = d.0.params().detach().copy().set_requires_grad(true);
        (reference_forward(&flat, &d.0, &points) * &upstream).sum(Kind::Float).backward();
        let diff = (d.0.grads() - flat.grad()).abs().max().double_value(&[]);
        assert!(diff < 1e-5, "max difference {diff}");
    }
}
