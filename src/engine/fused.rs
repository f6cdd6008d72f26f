//! The fast engine: each network's parameters in one flat tensor ([`crate::model::Mlp`]),
//! gradients from the hand-written [`crate::model::Mlp::backward`], and one [`Adam`] update per
//! network over the whole flat tensor. An iteration is a few dozen libtorch calls and allocates
//! little, which is what costs time at this size.

use anyhow::Result;
use tch::{Device, Tensor, nn, nn::Module};

use super::{AdamState, Batches, Engine, Label, Net, StepLosses};
use crate::adam::Adam;
use crate::config::{AdamConfig, ModelConfig};
use crate::model::{Activations, Discriminator, Generator, Need};

/// The two networks over flat parameters, each in its own VarStore with its own Adam.
#[derive(Debug)]
pub struct FusedEngine {
    generator: Generator,
    discriminator: Discriminator,
    generator_vs: nn::VarStore,
    discriminator_vs: nn::VarStore,
    generator_opt: Adam,
    discriminator_opt: Adam,
}

impl FusedEngine {
    /// Builds and initialises both networks (discriminator first) from libtorch's stream.
    pub fn new(model_cfg: &ModelConfig, adam: AdamConfig, device: Device) -> Self {
        let discriminator_vs = nn::VarStore::new(device);
        let generator_vs = nn::VarStore::new(device);
        let discriminator = Discriminator::new(&discriminator_vs.root(), model_cfg);
        let generator = Generator::new(&generator_vs.root(), model_cfg);
        FusedEngine {
            generator_opt: Adam::new(generator.network().params(), adam),
            discriminator_opt: Adam::new(discriminator.network().params(), adam),
            generator,
            discriminator,
            generator_vs,
            discriminator_vs,
        }
    }

    /// One composite update on `latent` (`[batch, latent_dim]`) with the fakes labelled real
    /// (the inverted labels reward the generator when its fakes are scored real); returns the
    /// logits. Back-propagation stops at the discriminator's input: only the generator changes.
    fn generator_update(&mut self, latent: &Tensor) -> Tensor {
        let g_acts: Activations = self.generator.network().forward_cached(latent);
        let d_acts = self.discriminator.network().forward_cached(g_acts.output());
        let logits = d_acts.output().shallow_clone();
        let grad_points = self
            .discriminator
            .network()
            .backward(&d_acts, bce_grad(&logits, Label::Real), Need::Input)
            .expect("Need::Input returns the input gradient");
        self.generator.network().backward(&g_acts, grad_points, Need::Params);
        self.generator_opt.step(self.generator.network().params(), self.generator.network().grads());
        logits
    }
}

impl Engine for FusedEngine {
    fn step(&mut self, batches: &Batches) -> StepLosses {
        // The generator's output as a plain tensor: no gradient reaches the generator.
        let fake = self.generator.forward(batches.latent_half);
        let (discriminator, opt) = (&self.discriminator, &mut self.discriminator_opt);
        let d_real = update_discriminator(discriminator, opt, batches.real, Label::Real);
        let d_fake = update_discriminator(discriminator, opt, &fake, Label::Fake);
        let g = self.generator_update(batches.latent_full);
        StepLosses { d_real, d_fake, g }
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
        let opt = match net {
            Net::Generator => &self.generator_opt,
            Net::Discriminator => &self.discriminator_opt,
        };
        let (moments, steps) = opt.state();
        AdamState { m: moments[0].1.copy(), v: moments[1].1.copy(), steps }
    }

    fn restore_adam(&mut self, net: Net, state: &AdamState) -> Result<()> {
        let opt = match net {
            Net::Generator => &mut self.generator_opt,
            Net::Discriminator => &mut self.discriminator_opt,
        };
        opt.restore(&state.m, &state.v, state.steps)
    }
}

/// One update of `discriminator` by `opt` on `points` (`[n, 2]`) all labelled `label`;
/// returns the logits it computed on the way.
pub fn update_discriminator(
    discriminator: &Discriminator,
    opt: &mut Adam,
    points: &Tensor,
    label: Label,
) -> Tensor {
    let d = discriminator.network();
    let acts = d.forward_cached(points);
    let logits = acts.output().shallow_clone();
    d.backward(&acts, bce_grad(&logits, label), Need::Params);
    opt.step(d.params(), d.grads());
    logits
}

/// ∂(mean BCE)/∂logits `= (σ(z) − label) / n`, for logits `[n, 1]`, or `[K, n, 1]` with each
/// of the K runs averaging over its own `n`.
pub(crate) fn bce_grad(logits: &Tensor, label: Label) -> Tensor {
    let size = logits.size();
    let n = size[size.len() - 2] as f64;
    let mut grad = logits.sigmoid();
    if label == Label::Real {
        let _ = grad.g_sub_scalar_(1.0);
    }
    let _ = grad.g_div_scalar_(n);
    grad
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::bce_with_logits;

    /// The tutorial's networks with a run's first weights.
    fn initialised_engine() -> FusedEngine {
        let cfg = ModelConfig::default();
        let e = FusedEngine::new(&cfg, AdamConfig::default(), Device::Cpu);
        crate::engine::initialise(&e, &cfg, 0);
        e
    }

    fn snapshot(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
        let mut vars: Vec<_> = vs.variables().into_iter().map(|(k, t)| (k, t.copy())).collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        vars
    }

    fn identical(a: &[(String, Tensor)], b: &[(String, Tensor)]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|((na, ta), (nb, tb))| na == nb && ta.equal(tb))
    }

    #[test]
    fn generator_update_leaves_the_discriminator_bit_identical() {
        let _rng = crate::rng_lock();
        tch::manual_seed(0);
        let mut e = initialised_engine();
        let real = crate::data::real_points(
            &crate::target::Target::default(),
            crate::target::Scaling::IDENTITY,
            64,
            Device::Cpu,
        );
        let latent = crate::data::latent_points(128, 5, Device::Cpu);
        // The discriminator part of an iteration by hand, then the generator part.
        let g_before = snapshot(&e.generator_vs);
        let d_before = snapshot(&e.discriminator_vs);
        let _ = update_discriminator(&e.discriminator, &mut e.discriminator_opt, &real, Label::Real);
        assert!(!identical(&d_before, &snapshot(&e.discriminator_vs)), "a D update left D as it was");
        assert!(identical(&g_before, &snapshot(&e.generator_vs)), "a D update moved G");

        let d_before = snapshot(&e.discriminator_vs);
        let d_adam = e.adam_state(Net::Discriminator);
        let g_before = snapshot(&e.generator_vs);
        let _ = e.generator_update(&latent);
        assert!(identical(&d_before, &snapshot(&e.discriminator_vs)), "a G update moved D");
        let d_adam_after = e.adam_state(Net::Discriminator);
        assert!(
            d_adam.m.equal(&d_adam_after.m) && d_adam.v.equal(&d_adam_after.v),
            "a G update moved D's Adam"
        );
        assert_eq!(d_adam.steps, d_adam_after.steps);
        assert!(!identical(&g_before, &snapshot(&e.generator_vs)), "a G update left G as it was");
    }

    #[test]
    fn a_full_step_updates_both_networks_and_both_optimisers() {
        let _rng = crate::rng_lock();
        tch::manual_seed(0);
        let mut e = initialised_engine();
        let real = crate::data::real_points(
            &crate::target::Target::default(),
            crate::target::Scaling::IDENTITY,
            64,
            Device::Cpu,
        );
        let half = crate::data::latent_points(64, 5, Device::Cpu);
        let full = crate::data::latent_points(128, 5, Device::Cpu);
        let (g0, d0) = (snapshot(&e.generator_vs), snapshot(&e.discriminator_vs));
        let losses = e.step(&Batches { real: &real, latent_half: &half, latent_full: &full }).values();
        assert!(losses.0.is_finite() && losses.1.is_finite() && losses.2.is_finite());
        assert!(!identical(&g0, &snapshot(&e.generator_vs)));
        assert!(!identical(&d0, &snapshot(&e.discriminator_vs)));
        assert_eq!((e.adam_state(Net::Discriminator).steps, e.adam_state(Net::Generator).steps), (2, 1));
    }

    #[test]
    fn bce_gradient_matches_autograd() {
        let logits = Tensor::from_slice(&[-3.0f32, -0.5, 0.0, 2.0, 40.0]).view([5, 1]);
        for label in [Label::Real, Label::Fake] {
            let z = logits.copy().set_requires_grad(true);
            bce_with_logits(&z, label).backward();
            let diff = (bce_grad(&logits, label) - z.grad()).abs().max().double_value(&[]);
            assert!(diff < 1e-7, "{label:?}: {diff}");
        }
    }

    #[test]
    fn bce_is_finite_for_extreme_logits() {
        let logits = Tensor::from_slice(&[-200.0f32, 200.0]).view([2, 1]);
        for label in [Label::Real, Label::Fake] {
            let loss = bce_with_logits(&logits, label).double_value(&[]);
            assert!((loss - 100.0).abs() < 1e-3, "{label:?}: {loss}");
        }
    }
}
