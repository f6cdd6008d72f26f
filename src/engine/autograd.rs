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

use super::{Batches, Engine, Net, NetState, Rules, StepLosses};
use crate::config::{Activation, AdamConfig, LayerSpec, ModelConfig, parameter_count, variables};
use crate::loss::{self, Loss, Term};
use crate::penalty::{self, Penalty, Weighted};
use crate::spectral;
use crate::state::Spectral;

/// The mean loss of one run's logits `[n, 1]` in `term`, as a scalar autograd can
/// differentiate.
fn mean_loss(loss: Loss, term: Term, logits: &Tensor) -> Tensor {
    loss::value(loss, term, &logits.unsqueeze(0)).sum(tch::Kind::Float)
}

/// A multilayer perceptron of `nn::Linear` layers, each followed by its activation.
#[derive(Debug)]
pub struct Network {
    /// `hidden`, `hidden2`, …, then `out`, each with its activation.
    layers: Vec<(nn::Linear, Activation)>,
    /// Under spectral normalisation, each layer's `(u, v)`: its weight computes as
    /// `W / (uᵀ W v)`, with `u` and `v` constants to autograd.
    spectral: Option<Vec<(Tensor, Tensor)>>,
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
        Network { layers, spectral: None }
    }

    /// Spectral normalisation from each layer's `u` (`[Σ outputs]`, one layer after another),
    /// its `v` refreshed from it.
    fn normalise_from(&mut self, u: &Tensor) {
        let mut at = 0;
        let mut pairs = Vec::new();
        for (layer, _) in &self.layers {
            let outputs = layer.ws.size()[0];
            pairs.push((u.narrow(0, at, outputs).copy(), Tensor::zeros([1], (tch::Kind::Float, u.device()))));
            at += outputs;
        }
        self.spectral = Some(pairs);
        self.refresh();
    }

    /// One power-iteration step on each layer: `v = Wᵀu/‖Wᵀu‖`, then `u = Wv/‖Wv‖`.
    fn iterate(&mut self) {
        let Some(pairs) = &mut self.spectral else { return };
        tch::no_grad(|| {
            for ((layer, _), (u, v)) in self.layers.iter().zip(pairs.iter_mut()) {
                *v = unit(&layer.ws.tr().mv(u));
                *u = unit(&layer.ws.mv(v));
            }
        });
    }

    /// Each layer's `v` from its kept `u` alone: `v = Wᵀu/‖Wᵀu‖`.
    fn refresh(&mut self) {
        let Some(pairs) = &mut self.spectral else { return };
        tch::no_grad(|| {
            for ((layer, _), (u, v)) in self.layers.iter().zip(pairs.iter_mut()) {
                *v = unit(&layer.ws.tr().mv(u));
            }
        });
    }

    /// Each layer's weight as it computes.
    fn weights(&self) -> Vec<Tensor> {
        self.layers
            .iter()
            .enumerate()
            .map(|(l, (layer, _))| match &self.spectral {
                Some(pairs) => {
                    let (u, v) = &pairs[l];
                    &layer.ws / u.dot(&layer.ws.mv(v))
                }
                None => layer.ws.shallow_clone(),
            })
            .collect()
    }

    /// The kept `u`s, one after another, `[1, Σ outputs]`.
    fn u(&self) -> Option<Tensor> {
        let pairs = self.spectral.as_ref()?;
        Some(Tensor::cat(&pairs.iter().map(|(u, _)| u.shallow_clone()).collect::<Vec<_>>(), 0).unsqueeze(0))
    }

    /// The network as it computes, as one flat row `[1, n]`.
    fn effective_flat(&self) -> Tensor {
        let mut pieces = Vec::new();
        for ((layer, _), weight) in self.layers.iter().zip(self.weights()) {
            pieces.push(weight.detach().reshape([-1]));
            pieces.extend(layer.bs.iter().map(|b| b.detach().reshape([-1])));
        }
        Tensor::cat(&pieces, 0).unsqueeze(0)
    }

    /// The parameters in the flat order: layer by layer, weight then bias.
    fn parameters(&self) -> Vec<Tensor> {
        let mut parameters = Vec::new();
        for (layer, _) in &self.layers {
            parameters.push(layer.ws.shallow_clone());
            parameters.extend(layer.bs.iter().map(Tensor::shallow_clone));
        }
        parameters
    }

    /// The parameters as one flat row, `[1, n]`.
    fn flat(&self) -> Tensor {
        let pieces: Vec<Tensor> = self.parameters().iter().map(|p| p.detach().reshape([-1])).collect();
        Tensor::cat(&pieces, 0).unsqueeze(0)
    }

    /// Overwrites the parameters from a flat row `[1, n]`.
    fn set_flat(&self, specs: &[LayerSpec], flat: &Tensor) {
        tch::no_grad(|| {
            for (v, p) in variables(specs).iter().zip(self.parameters()) {
                p.shallow_clone().copy_(&flat.get(0).narrow(0, v.offset, v.len()).view(v.shape.as_slice()));
            }
        });
    }
}

/// `x` over its norm.
fn unit(x: &Tensor) -> Tensor {
    x / x.norm().clamp_min(1e-12)
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
    /// `xs: [batch, input]` → `[batch, output]`; a packing discriminator's `[batch, 2]` →
    /// `[batch / pack, 1]`, each `pack` consecutive points one input.
    fn forward(&self, xs: &Tensor) -> Tensor {
        let inputs = self.layers[0].0.ws.size()[1];
        let given = xs.size();
        let xs = if given[1] == inputs {
            xs.shallow_clone()
        } else {
            let m = inputs / given[1];
            xs.narrow(0, 0, given[0] / m * m).reshape([-1, inputs])
        };
        if self.spectral.is_none() {
            return self.layers.iter().fold(xs, |xs, (layer, activation)| activation.apply(xs.apply(layer)));
        }
        self.layers.iter().zip(self.weights()).fold(xs, |xs, ((layer, activation), weight)| {
            let bias = layer.bs.as_ref().expect("layers have biases");
            activation.apply(xs.matmul(&weight.tr()) + bias)
        })
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

    /// The moments as flat rows `[1, n]`, and the steps.
    fn state(&self) -> (Tensor, Tensor, u64) {
        let flat = |ts: &[Tensor]| {
            Tensor::cat(&ts.iter().map(|t| t.reshape([-1])).collect::<Vec<_>>(), 0).unsqueeze(0)
        };
        (flat(&self.m), flat(&self.v), self.steps)
    }

    /// Takes the moments of `state` (checked by the caller) and its steps.
    fn restore(&mut self, state: &NetState) {
        let mut offset = 0;
        for (p, (m, v)) in self.parameters.iter().zip(self.m.iter_mut().zip(&mut self.v)) {
            let n = p.numel() as i64;
            let piece = |t: &Tensor| {
                t.get(0).narrow(0, offset, n).view(p.size().as_slice()).to_device(p.device()).copy()
            };
            *m = piece(&state.m);
            *v = piece(&state.v);
            offset += n;
        }
        self.steps = state.steps;
    }
}

/// Both networks of one run as `nn::Linear` stacks in their own VarStores, each with its own
/// Keras Adam.
#[derive(Debug)]
pub struct AutogradEngine {
    model_cfg: ModelConfig,
    generator: Network,
    discriminator: Network,
    /// Owns the generator's variables (the layers hold views of them).
    _generator_vs: nn::VarStore,
    discriminator_vs: nn::VarStore,
    generator_opt: KerasAdam,
    discriminator_opt: KerasAdam,
    rules: Rules,
}

impl AutogradEngine {
    /// The networks of `model_cfg` trained by `rules`, with tch's initialisation:
    /// [`Engine::import`] gives them a run's state.
    pub fn new(model_cfg: &ModelConfig, rules: Rules, device: Device) -> Self {
        let discriminator_vs = nn::VarStore::new(device);
        let generator_vs = nn::VarStore::new(device);
        let discriminator = Network::new(&discriminator_vs.root(), &model_cfg.discriminator_layers());
        let generator = Network::new(&generator_vs.root(), &model_cfg.generator_layers());
        AutogradEngine {
            model_cfg: model_cfg.clone(),
            generator_opt: KerasAdam::new(generator.parameters(), rules.generator),
            discriminator_opt: KerasAdam::new(discriminator.parameters(), rules.discriminator),
            generator,
            discriminator,
            _generator_vs: generator_vs,
            discriminator_vs,
            rules,
        }
    }

    fn parts(&self, net: Net) -> (&Network, &KerasAdam) {
        match net {
            Net::Generator => (&self.generator, &self.generator_opt),
            Net::Discriminator => (&self.discriminator, &self.discriminator_opt),
        }
    }
}

impl AutogradEngine {
    /// The discriminator's penalty by `rule` at `points` (`[n, 2]`), as autograd can
    /// differentiate it: its input gradient at each packed input is taken with
    /// `create_graph`, so that the penalty's own gradient goes through it.
    fn penalty(&self, rule: Weighted, points: &Tensor) -> Tensor {
        let x = points.detach().set_requires_grad(true);
        let z = self.discriminator.forward(&x);
        let g = Tensor::run_backward(&[z.sum(tch::Kind::Float)], &[&x], true, true).remove(0);
        let inputs = self.discriminator.layers[0].0.ws.size()[1];
        penalty::value(rule, &g.reshape([1, -1, inputs])).sum(tch::Kind::Float)
    }

    /// `loss` of an update on `term` (`None` for a paired loss's single update), plus the
    /// penalty at its points if it joins that update, with the discriminator as it is now.
    fn with_penalty(
        &self,
        penalised: &Option<(Weighted, Tensor)>,
        term: Option<Term>,
        loss: Tensor,
    ) -> Tensor {
        match penalised {
            Some((rule, at)) if term.is_none_or(|t| t == rule.penalty.term()) => {
                loss + self.penalty(*rule, at)
            }
            _ => loss,
        }
    }
}

impl Engine for AutogradEngine {
    fn members(&self) -> i64 {
        1
    }

    fn step(&mut self, batches: &Batches) -> StepLosses {
        let Rules { loss, d_steps, penalty, .. } = self.rules;
        let (real, latent_half, latent_full) =
            (batches.real.get(0), batches.latent_half.get(0), batches.latent_full.get(0));
        let half = real.size()[0] / d_steps as i64;
        let mut last = None;
        for r in 0..d_steps as i64 {
            let real = real.narrow(0, r * half, half);
            // The fakes carry no gradient back into the generator.
            let fake = tch::no_grad(|| self.generator.forward(&latent_half.narrow(0, r * half, half)));
            let draws = batches.penalty.map(|d| d.get(0).narrow(0, r * half, half));
            // The penalty and the points it is taken at.
            let penalised = penalty.map(|rule| {
                let draws = || draws.as_ref().expect("a penalty's draws");
                let at = match rule.penalty {
                    Penalty::R1 | Penalty::None => real.shallow_clone(),
                    Penalty::R2 => fake.shallow_clone(),
                    Penalty::WganGp => penalty::mix(&real, &fake, draws()),
                    Penalty::Dragan => penalty::perturb(&real, draws()),
                };
                (rule, at)
            });
            let logits = if loss.is_paired() {
                // One update on both batches, real point i against fake i.
                self.discriminator.iterate();
                let both = self.discriminator.forward(&Tensor::cat(&[&real, &fake], 0));
                let judged = both.size()[0] / 2;
                let real_ahead = both.narrow(0, 0, judged) - both.narrow(0, judged, judged);
                let total = self.with_penalty(&penalised, None, mean_loss(loss, Term::Real, &real_ahead));
                self.discriminator_opt.minimise(&total);
                self.discriminator.refresh();
                (real_ahead.detach(), -real_ahead.detach())
            } else {
                // Each update starts with a power-iteration step; after it, the kept u
                // normalises the network.
                self.discriminator.iterate();
                let d_real = self.discriminator.forward(&real);
                let total =
                    self.with_penalty(&penalised, Some(Term::Real), mean_loss(loss, Term::Real, &d_real));
                self.discriminator_opt.minimise(&total);
                self.discriminator.refresh();
                self.discriminator.iterate();
                let d_fake = self.discriminator.forward(&fake);
                let total =
                    self.with_penalty(&penalised, Some(Term::Fake), mean_loss(loss, Term::Fake, &d_fake));
                self.discriminator_opt.minimise(&total);
                self.discriminator.refresh();
                (d_real, d_fake)
            };
            last = Some((real, logits));
        }
        let (real, (d_real, d_fake)) = last.expect("at least one discriminator round");

        // The composite model, by the generator's term, with the discriminator not trainable.
        self.discriminator_vs.freeze();
        let mut g = self.discriminator.forward(&self.generator.forward(&latent_full));
        if loss.is_paired() {
            // Fake j against real point j mod half, scored by the updated discriminator.
            let z_real = tch::no_grad(|| self.discriminator.forward(&real));
            let relative = &g - z_real.repeat([latent_full.size()[0] / half, 1]);
            g = relative;
        }
        self.generator_opt.minimise(&mean_loss(loss, Term::Generator, &g));
        self.discriminator_vs.unfreeze();

        let run = |t: Tensor| t.detach().unsqueeze(0);
        StepLosses::from_tensors(loss, run(d_real), run(d_fake), run(g))
    }

    fn forward(&self, net: Net, xs: &Tensor) -> Tensor {
        let (network, _) = self.parts(net);
        tch::no_grad(|| network.forward(&xs.get(0)).unsqueeze(0))
    }

    fn forward_member(&self, _k: i64, net: Net, xs: &Tensor) -> Tensor {
        self.forward(net, xs)
    }

    fn set_learning_rates(&mut self, generator: f64, discriminator: f64) {
        self.generator_opt.cfg.learning_rate = generator;
        self.discriminator_opt.cfg.learning_rate = discriminator;
    }

    fn export(&self, net: Net) -> NetState {
        let (network, opt) = self.parts(net);
        let (m, v, steps) = opt.state();
        let spectral = network.u().map(|u| Spectral { raw: network.flat(), u });
        NetState { params: network.effective_flat(), m, v, steps, spectral }
    }

    fn import(&mut self, net: Net, state: &NetState) -> Result<()> {
        let specs = net.layers(&self.model_cfg);
        state.check(net, 1, parameter_count(&specs))?;
        let raw = state.spectral.as_ref().map_or(&state.params, |s| &s.raw);
        let (network, _) = self.parts(net);
        network.set_flat(&specs, raw);
        if net == Net::Discriminator && self.rules.spectral_norm {
            // A fresh state's parameters are those Adam trains, from the first u.
            let u = match &state.spectral {
                Some(s) => s.u.get(0),
                None => Tensor::from_slice(&spectral::first_u(&crate::host::Shape::of(&specs))),
            };
            self.discriminator.normalise_from(&u.to_device(self.discriminator_vs.device()));
        }
        match net {
            Net::Generator => self.generator_opt.restore(state),
            Net::Discriminator => self.discriminator_opt.restore(state),
        }
        Ok(())
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
        let mut e = AutogradEngine::new(&ModelConfig::default(), Rules::tutorial(), Device::Cpu);
        let latent = crate::rng::test_normal(0, &[128, 5]);
        let d_before: Vec<Tensor> = e.discriminator.parameters().iter().map(Tensor::copy).collect();
        let g_before: Vec<Tensor> = e.generator.parameters().iter().map(Tensor::copy).collect();
        e.discriminator_vs.freeze();
        let g = e.discriminator.forward(&e.generator.forward(&latent));
        e.generator_opt.minimise(&mean_loss(Loss::Bce, Term::Generator, &g));
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
