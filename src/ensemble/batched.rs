//! The batched engine: K runs' networks with their parameters stacked into `[K, …]` tensors,
//! so that one libtorch call (`baddbmm`, `bmm`, an elementwise op) serves every member. The
//! algorithm is the fused engine's (`engine::fused`), member by member: the same hand-written
//! backward pass and one Keras Adam per network, over `[K, parameter_count]`.

use tch::{Device, Kind, Tensor};

use crate::adam::Adam;
use crate::config::{AdamConfig, LayerSpec, ModelConfig};
use crate::engine::Label;
use crate::engine::fused::bce_grad;
use crate::model::{Activations, Need, activate, activation_backward, slope_tensor};

/// One dense layer of K members: `y = act(x Wᵀ + b)` for each member's own `W` and `b`.
#[derive(Debug)]
struct Layer {
    spec: LayerSpec,
    slope: Option<Tensor>,
    /// `[K, out, in]`, `[K, 1, out]` and `[K, in, out]`: views into the flat parameters.
    weight: Tensor,
    bias: Tensor,
    weight_t: Tensor,
    /// `[K, out, in]` and `[K, out]`: views into the flat gradients.
    grad_weight: Tensor,
    grad_bias: Tensor,
}

/// K multilayer perceptrons of one architecture, whose parameters share one `[K, n]` tensor in
/// the layout of [`crate::model::Mlp`], row by row.
#[derive(Debug)]
pub struct BatchedMlp {
    layers: Vec<Layer>,
    params: Tensor,
    grads: Tensor,
}

impl BatchedMlp {
    /// K networks of `specs` with the parameters `params` (`[K, n]`, which it takes over).
    pub fn new(specs: &[LayerSpec], params: Tensor) -> Self {
        let k = params.size()[0];
        let grads = params.zeros_like();
        let mut layers = Vec::with_capacity(specs.len());
        let mut offset = 0;
        for &spec in specs {
            let (fan_in, fan_out) = (spec.inputs, spec.outputs);
            let weight = params.narrow(1, offset, fan_out * fan_in).view([k, fan_out, fan_in]);
            let grad_weight = grads.narrow(1, offset, fan_out * fan_in).view([k, fan_out, fan_in]);
            offset += fan_out * fan_in;
            let bias = params.narrow(1, offset, fan_out).unsqueeze(1);
            let grad_bias = grads.narrow(1, offset, fan_out);
            offset += fan_out;
            layers.push(Layer {
                slope: slope_tensor(spec.activation, params.device()),
                weight_t: weight.transpose(1, 2),
                spec,
                weight,
                bias,
                grad_weight,
                grad_bias,
            });
        }
        BatchedMlp { layers, params, grads }
    }

    /// Every member's parameters, `[K, n]`.
    pub fn params(&self) -> &Tensor {
        &self.params
    }

    pub fn grads(&self) -> &Tensor {
        &self.grads
    }

    /// `xs: [K, batch, in]` → `[K, batch, out]`.
    pub fn forward(&self, xs: &Tensor) -> Tensor {
        let mut ys = xs.shallow_clone();
        for layer in &self.layers {
            ys = layer.forward(&ys);
        }
        ys
    }

    pub fn forward_cached(&self, xs: &Tensor) -> Activations {
        let mut outputs = Vec::with_capacity(self.layers.len() + 1);
        outputs.push(xs.shallow_clone());
        for layer in &self.layers {
            let ys = layer.forward(outputs.last().expect("the input is there"));
            outputs.push(ys);
        }
        Activations(outputs)
    }

    /// Back-propagates `grad_output` (`[K, batch, out]`); as [`crate::model::Mlp::backward`],
    /// member by member.
    pub fn backward(&self, activations: &Activations, grad_output: Tensor, need: Need) -> Option<Tensor> {
        let outputs = &activations.0;
        let mut grad = grad_output;
        for (index, layer) in self.layers.iter().enumerate().rev() {
            grad = activation_backward(layer.spec.activation, grad, &outputs[index + 1]);
            let input = &outputs[index]; // [K, batch, in]
            if need == Need::Params {
                layer.grad_weight.shallow_clone().copy_(&grad.transpose(1, 2).bmm(input));
                let _ = grad.sum_intlist_out(&layer.grad_bias, 1, false, None);
                if index == 0 {
                    return None;
                }
            }
            grad = grad.bmm(&layer.weight); // [K, batch, in]
        }
        Some(grad)
    }
}

impl Layer {
    fn forward(&self, xs: &Tensor) -> Tensor {
        activate(self.bias.baddbmm(xs, &self.weight_t, 1.0, 1.0), self.spec.activation, self.slope.as_ref())
    }
}

/// The logits of one iteration's three updates for every member, from which each member's
/// losses and accuracies are computed on demand.
#[derive(Debug)]
pub struct BatchedLosses {
    pub d_real: Tensor, // [K, half_batch, 1], labelled real
    pub d_fake: Tensor, // [K, half_batch, 1], labelled fake
    pub g: Tensor,      // [K, batch, 1], fakes labelled real
}

impl BatchedLosses {
    /// `[K, 3]`: each member's `d_loss_real, d_loss_fake, g_loss`.
    pub fn losses(&self) -> Tensor {
        let bce = |logits: &Tensor, label: Label| {
            let z = if label == Label::Real { -logits } else { logits.shallow_clone() };
            z.softplus().mean_dim(&[1i64, 2][..], false, Kind::Float)
        };
        Tensor::stack(
            &[bce(&self.d_real, Label::Real), bce(&self.d_fake, Label::Fake), bce(&self.g, Label::Real)],
            1,
        )
    }

    /// `[K, 5]`: the losses, then the discriminator's accuracy on the real and fake batches.
    pub fn stats(&self) -> Tensor {
        let share =
            |t: Tensor| t.to_kind(Kind::Float).mean_dim(&[1i64, 2][..], false, Kind::Float).unsqueeze(1);
        Tensor::cat(&[self.losses(), share(self.d_real.gt(0.0)), share(self.d_fake.le(0.0))], 1)
    }
}

/// The K members' two networks, each with its Adam over all members' parameters.
#[derive(Debug)]
pub struct BatchedEngine {
    generator: BatchedMlp,
    discriminator: BatchedMlp,
    generator_opt: Adam,
    discriminator_opt: Adam,
}

/// One network's starting state for all members: parameters and Adam moments, `[K, n]` each,
/// and the Adam's step count, which all members share.
#[derive(Debug)]
pub struct NetState {
    pub params: Tensor,
    pub m: Tensor,
    pub v: Tensor,
    pub steps: u64,
}

impl BatchedEngine {
    pub fn new(
        model_cfg: &ModelConfig,
        adam: AdamConfig,
        generator: NetState,
        discriminator: NetState,
    ) -> Self {
        let build = |specs: Vec<LayerSpec>, state: NetState| {
            let network = BatchedMlp::new(&specs, state.params.contiguous());
            let mut opt = Adam::new(network.params(), adam);
            opt.restore(&state.m, &state.v, state.steps).expect("the moments have the parameters' shape");
            (network, opt)
        };
        let (generator, generator_opt) = build(model_cfg.generator_layers(), generator);
        let (discriminator, discriminator_opt) = build(model_cfg.discriminator_layers(), discriminator);
        BatchedEngine { generator, discriminator, generator_opt, discriminator_opt }
    }

    pub fn device(&self) -> Device {
        self.generator.params.device()
    }

    /// The tutorial's iteration for every member: `real [K, half, 2]`, `latent_half
    /// [K, half, latent_dim]`, `latent_full [K, batch, latent_dim]`.
    pub fn step(&mut self, real: &Tensor, latent_half: &Tensor, latent_full: &Tensor) -> BatchedLosses {
        let fake = self.generator.forward(latent_half);
        let d_real = self.update_discriminator(real, Label::Real);
        let d_fake = self.update_discriminator(&fake, Label::Fake);
        let g_acts = self.generator.forward_cached(latent_full);
        let d_acts = self.discriminator.forward_cached(g_acts.output());
        let g = d_acts.output().shallow_clone();
        let grad_points = self
            .discriminator
            .backward(&d_acts, bce_grad(&g, Label::Real), Need::Input)
            .expect("Need::Input returns the input gradient");
        self.generator.backward(&g_acts, grad_points, Need::Params);
        self.generator_opt.step(self.generator.params(), self.generator.grads());
        BatchedLosses { d_real, d_fake, g }
    }

    fn update_discriminator(&mut self, points: &Tensor, label: Label) -> Tensor {
        let acts = self.discriminator.forward_cached(points);
        let logits = acts.output().shallow_clone();
        self.discriminator.backward(&acts, bce_grad(&logits, label), Need::Params);
        self.discriminator_opt.step(self.discriminator.params(), self.discriminator.grads());
        logits
    }

    /// The generators alone, for evaluation: `[K, n, latent_dim]` → `[K, n, 2]`.
    pub fn generate(&self, latent: &Tensor) -> Tensor {
        self.generator.forward(latent)
    }

    /// `member`'s state of one network: its parameters and Adam moments (views) and the steps.
    pub fn member_state(&self, member: i64, generator: bool) -> NetState {
        let (network, opt) = if generator {
            (&self.generator, &self.generator_opt)
        } else {
            (&self.discriminator, &self.discriminator_opt)
        };
        let (moments, steps) = opt.state();
        NetState {
            params: network.params.get(member),
            m: moments[0].1.get(member),
            v: moments[1].1.get(member),
            steps,
        }
    }
}
