//! The reference engine: the tutorial's algorithm written the way tch's own examples read.
//!
//! - Each network is a stack of `nn::Linear` layers registered in its own `nn::VarStore`.
//! - Every gradient comes from autograd (`loss.backward()`).
//! - For the composite update the discriminator's VarStore is frozen: its variables stop
//!   requiring gradients, so the backward pass flows *through* the discriminator into the
//!   generator and only the generator's Adam steps. This is the literal form of Keras'
//!   `discriminator.trainable = False`.
//! - [`KerasAdam`] writes Keras' Adam out one variable at a time with plain tensor arithmetic.
//!   It deliberately shares no code with the fused engine's [`crate::adam::Adam`], so that the
//!   tests comparing the two engines check that one rather than repeat its mistakes.
//!
//! It is several times slower than the fused engine (autograd records a graph for every call),
//! and agrees with it to float32 rounding, step by step (`tests/engines.rs`).

use anyhow::Result;
use tch::{Device, Tensor, nn, nn::Module};

use super::{AdamState, Batches, Engine, Label, Net, StepLosses, bce_with_logits, check_adam_state};
use crate::config::{Activation, AdamConfig, LayerSpec, ModelConfig};

/// A multilayer perceptron of `nn::Linear` layers, each followed by its activation.
#[derive(Debug)]
pub struct Network {
    /// `hidden`, `hidden2`, …, then `out`, each with its activation.
    layers: Vec<(nn::Linear, Activation)>,
    /// LeakyReLU's slope as `prelu`'s one-element weight, on the networks' device.
    slope: Option<Tensor>,
}

impl Network {
    /// Creates the layers `specs` under `p`, each initialised as its spec says (`U(±limit)`
    /// weights, Keras' He or Glorot limit) with zero biases (tch's default would not be).
    fn new(p: &nn::Path, specs: &[LayerSpec]) -> Self {
        let layers = specs
            .iter()
            .map(|spec| {
                let limit = spec.init.limit(spec.inputs, spec.outputs);
                (nn::linear(p / spec.name, spec.inputs, spec.outputs, uniform(limit)), spec.activation)
            })
            .collect();
        let slope = specs.iter().find_map(|spec| match spec.activation {
            Activation::LeakyRelu(slope) => Some(Tensor::from_slice(&[slope as f32]).to_device(p.device())),
            _ => None,
        });
        Network { layers, slope }
    }

    /// The parameters in the checkpoint's flat order: layer by layer, weight then bias.
    fn parameters(&self) -> Vec<Tensor> {
        let mut parameters = Vec::new();
        for (layer, _) in &self.layers {
            parameters.push(layer.ws.shallow_clone());
            parameters.extend(layer.bs.iter().map(Tensor::shallow_clone));
        }
        parameters
    }
}

/// `xs` through `activation`, with operations autograd differentiates. LeakyReLU is `prelu`
/// with a fixed weight: its derivative at 0 is the slope, as the fused engine's; `max(x, a·x)`
/// would split a tie at 0 between its two branches.
fn activate(xs: Tensor, activation: Activation, slope: Option<&Tensor>) -> Tensor {
    match activation {
        Activation::Relu => xs.relu(),
        Activation::LeakyRelu(_) => xs.prelu(slope.expect("a network with LeakyReLU keeps its slope")),
        Activation::Tanh => xs.tanh(),
        Activation::Elu => xs.elu(),
        Activation::Linear => xs,
    }
}

/// Weights `U(±limit)`, biases zero.
fn uniform(limit: f64) -> nn::LinearConfig {
    nn::LinearConfig {
        ws_init: nn::Init::Uniform { lo: -limit, up: limit },
        bs_init: Some(nn::Init::Const(0.0)),
        bias: true,
    }
}

impl nn::Module for Network {
    /// # Shapes
    /// `xs: [batch, input]` → `[batch, output]`
    fn forward(&self, xs: &Tensor) -> Tensor {
        let slope = self.slope.as_ref();
        self.layers
            .iter()
            .fold(xs.shallow_clone(), |xs, (layer, activation)| activate(xs.apply(layer), *activation, slope))
    }
}

/// Adam as Keras defines it, one variable at a time:
///
/// ```text
/// m ← m + (g − m)(1 − β₁)          v ← v + (g² − v)(1 − β₂)
/// α = lr · √(1 − β₂ᵗ) / (1 − β₁ᵗ)  p ← p − α · m / (√v + ε)
/// ```
///
/// ε sits beside √v *before* the bias correction folded into α; PyTorch adds it after.
#[derive(Debug)]
pub struct KerasAdam {
    cfg: AdamConfig,
    /// The variables it updates, in the checkpoint's flat order.
    parameters: Vec<Tensor>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    /// Updates taken so far: `t` above.
    steps: u64,
}

impl KerasAdam {
    fn new(parameters: Vec<Tensor>, cfg: AdamConfig) -> Self {
        let zeros = |ps: &[Tensor]| ps.iter().map(|p| p.zeros_like()).collect();
        KerasAdam { cfg, m: zeros(&parameters), v: zeros(&parameters), parameters, steps: 0 }
    }

    /// Back-propagates `loss` and takes one step on the variables that received a gradient.
    fn minimise(&mut self, loss: &Tensor) {
        for p in &mut self.parameters {
            p.zero_grad();
        }
        loss.backward();
        self.steps += 1;
        let AdamConfig { learning_rate, beta1, beta2, epsilon } = self.cfg;
        let t = self.steps as f64;
        let alpha = learning_rate * (1.0 - beta2.powf(t)).sqrt() / (1.0 - beta1.powf(t));
        tch::no_grad(|| {
            for ((p, m), v) in self.parameters.iter_mut().zip(&mut self.m).zip(&mut self.v) {
                let g = p.grad();
                *m = &*m + (&g - &*m) * (1.0 - beta1);
                *v = &*v + (&g * &g - &*v) * (1.0 - beta2);
                *p -= &*m * alpha / (v.sqrt() + epsilon);
            }
        });
    }

    fn state(&self) -> AdamState {
        let flat = |ts: &[Tensor]| Tensor::cat(&ts.iter().map(|t| t.reshape([-1])).collect::<Vec<_>>(), 0);
        AdamState { m: flat(&self.m), v: flat(&self.v), steps: self.steps }
    }

    fn restore(&mut self, net: Net, state: &AdamState) -> Result<()> {
        let total: i64 = self.parameters.iter().map(|p| p.numel() as i64).sum();
        check_adam_state(net, state, total)?;
        let mut offset = 0;
        for (p, (m, v)) in self.parameters.iter().zip(self.m.iter_mut().zip(&mut self.v)) {
            let n = p.numel() as i64;
            *m = state.m.narrow(0, offset, n).view(p.size().as_slice()).to_device(p.device()).copy();
            *v = state.v.narrow(0, offset, n).view(p.size().as_slice()).to_device(p.device()).copy();
            offset += n;
        }
        self.steps = state.steps;
        Ok(())
    }
}

/// Both networks as `nn::Linear` stacks in their own VarStores, each with its own Keras Adam.
#[derive(Debug)]
pub struct AutogradEngine {
    generator: Network,
    discriminator: Network,
    generator_vs: nn::VarStore,
    discriminator_vs: nn::VarStore,
    generator_opt: KerasAdam,
    discriminator_opt: KerasAdam,
}

impl AutogradEngine {
    /// Builds and initialises both networks (discriminator first) from libtorch's stream.
    pub fn new(model_cfg: &ModelConfig, adam: AdamConfig, device: Device) -> Self {
        let discriminator_vs = nn::VarStore::new(device);
        let generator_vs = nn::VarStore::new(device);
        let discriminator = Network::new(&discriminator_vs.root(), &model_cfg.discriminator_layers());
        let generator = Network::new(&generator_vs.root(), &model_cfg.generator_layers());
        AutogradEngine {
            generator_opt: KerasAdam::new(generator.parameters(), adam),
            discriminator_opt: KerasAdam::new(discriminator.parameters(), adam),
            generator,
            discriminator,
            generator_vs,
            discriminator_vs,
        }
    }
}

impl Engine for AutogradEngine {
    fn step(&mut self, batches: &Batches) -> StepLosses {
        // The fakes carry no gradient back into the generator.
        let fake = tch::no_grad(|| self.generator.forward(batches.latent_half));

        let d_real = self.discriminator.forward(batches.real);
        self.discriminator_opt.minimise(&bce_with_logits(&d_real, Label::Real));
        let d_fake = self.discriminator.forward(&fake);
        self.discriminator_opt.minimise(&bce_with_logits(&d_fake, Label::Fake));

        // The composite model, fakes labelled real, with the discriminator not trainable.
        self.discriminator_vs.freeze();
        let g = self.discriminator.forward(&self.generator.forward(batches.latent_full));
        self.generator_opt.minimise(&bce_with_logits(&g, Label::Real));
        self.discriminator_vs.unfreeze();

        StepLosses { d_real: d_real.detach(), d_fake: d_fake.detach(), g: g.detach() }
    }

    fn module(&self, net: Net) -> &dyn nn::Module {
        match net {
            Net::Generator => &self.generator,
            Net::Discriminator => &self.discriminator,
        }
    }

    fn var_store(&self, net: Net) -> &nn::VarStore {
        match net {
            Net::Generator => &self.generator_vs,
            Net::Discriminator => &self.discriminator_vs,
        }
    }

    fn adam_state(&self, net: Net) -> AdamState {
        match net {
            Net::Generator => self.generator_opt.state(),
            Net::Discriminator => self.discriminator_opt.state(),
        }
    }

    fn restore_adam(&mut self, net: Net, state: &AdamState) -> Result<()> {
        match net {
            Net::Generator => self.generator_opt.restore(net, state),
            Net::Discriminator => self.discriminator_opt.restore(net, state),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    #[test]
    fn keras_adam_matches_keras_first_steps_written_out() {
        // One scalar variable, gradient 2·p from loss p²; Keras' update in f64 by hand.
        let cfg = AdamConfig::default();
        let p = Tensor::from_slice(&[0.5f32]).set_requires_grad(true);
        let mut adam = KerasAdam::new(vec![p.shallow_clone()], cfg);
        let (mut x, mut m, mut v) = (0.5f64, 0.0f64, 0.0f64);
        for t in 1..=3 {
            adam.minimise(&(&p * &p).sum(Kind::Float));
            let g = 2.0 * x;
            m += (g - m) * 0.1;
            v += (g * g - v) * 0.001;
            x -= 0.001 * (1.0 - 0.999f64.powi(t)).sqrt() / (1.0 - 0.9f64.powi(t)) * m / (v.sqrt() + 1e-7);
        }
        assert!((p.double_value(&[0]) - x).abs() < 1e-7, "{} vs {x}", p.double_value(&[0]));
    }

    #[test]
    fn the_composite_update_leaves_the_discriminator_and_its_adam_alone() {
        let _rng = crate::rng_lock();
        tch::manual_seed(0);
        let mut e = AutogradEngine::new(&ModelConfig::default(), AdamConfig::default(), Device::Cpu);
        let latent = crate::data::latent_points(128, 5, Device::Cpu);
        let d_before: Vec<Tensor> = e.discriminator.parameters().iter().map(Tensor::copy).collect();
        let g_before: Vec<Tensor> = e.generator.parameters().iter().map(Tensor::copy).collect();
        e.discriminator_vs.freeze();
        let g = e.discriminator.forward(&e.generator.forward(&latent));
        e.generator_opt.minimise(&bce_with_logits(&g, Label::Real));
        e.discriminator_vs.unfreeze();
        for (before, now) in d_before.iter().zip(e.discriminator.parameters()) {
            assert!(before.equal(&now), "a G update moved D");
        }
        assert!(g_before.iter().zip(e.generator.parameters()).all(|(b, n)| !b.equal(&n)), "G did not move");
        assert_eq!(e.discriminator_opt.steps, 0);
        // Unfrozen again: D's next update gets gradients.
        assert!(e.discriminator.parameters().iter().all(Tensor::requires_grad));
    }
}
