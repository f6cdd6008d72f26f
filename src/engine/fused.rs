//! The fast engine: each network's parameters for K runs in one flat `[K, n]` tensor
//! ([`crate::model::Mlp`]), gradients from the hand-written [`crate::model::Mlp::backward`],
//! and one [`Adam`] update per network over the whole tensor. An iteration is a few dozen
//! libtorch calls and allocates little, whatever K is, which is what costs time at this size.

use anyhow::Result;
use tch::{Device, Kind, Tensor};

use super::{Batches, Engine, Net, NetState, Rules, StepLosses, layers_of};
use crate::adam::Adam;
use crate::config::{ModelConfig, parameter_count};
use crate::loss::{self, Loss, Term};
use crate::model::{Discriminator, Generator, Need};

/// The two networks of K runs over flat parameters, each with its own Adam.
#[derive(Debug)]
pub struct FusedEngine {
    /// Each network's layers, generator first.
    layers: [Vec<crate::config::LayerSpec>; 2],
    generator: Generator,
    discriminator: Discriminator,
    generator_opt: Adam,
    discriminator_opt: Adam,
    rules: Rules,
    /// Points the discriminator judges at once.
    pack: i64,
}

impl FusedEngine {
    /// K runs' networks of `model_cfg` trained by `rules`, all parameters zero:
    /// [`Engine::import`] gives them their state.
    pub fn new(model_cfg: &ModelConfig, rules: Rules, k: i64, device: Device) -> Self {
        let zeros =
            |net| Tensor::zeros([k, parameter_count(&layers_of(model_cfg, net))], (Kind::Float, device));
        let generator = Generator::new(model_cfg, zeros(Net::Generator));
        let discriminator = Discriminator::new(model_cfg, zeros(Net::Discriminator));
        FusedEngine {
            layers: Net::BOTH.map(|net| layers_of(model_cfg, net)),
            generator_opt: Adam::new(generator.network().params(), rules.generator),
            discriminator_opt: Adam::new(discriminator.network().params(), rules.discriminator),
            generator,
            discriminator,
            rules,
            pack: model_cfg.pack,
        }
    }

    /// One composite update on `latent` (`[K, batch, latent_dim]`) by the generator's term of
    /// the loss (for BCE: the fakes labelled real, which rewards the generator when they are
    /// scored real); a paired loss pairs fake `j` with real point `j mod half` of `real`.
    /// Returns the (relative) logits. Back-propagation stops at the discriminator's input: only
    /// the generator changes.
    fn generator_update(&mut self, latent: &Tensor, real: &Tensor) -> Tensor {
        let loss = self.rules.loss;
        let (g, d) = (self.generator.network(), self.discriminator.network());
        let g_acts = g.forward_cached(latent);
        let d_acts = d.forward_cached(&g_acts.output());
        let mut logits = d_acts.output();
        if loss.is_paired() {
            let z_real = self.discriminator.score(real);
            let rounds = logits.size()[1] / z_real.size()[1];
            // A new tensor, not in place: the cached activations keep the absolute logits.
            let relative = &logits - z_real.repeat([1, rounds, 1]);
            logits = relative;
        }
        let grad_points = d
            .backward(&d_acts, loss::gradient(loss, Term::Generator, &logits), Need::Input)
            .expect("Need::Input returns the input gradient");
        g.backward(&g_acts, grad_points, Need::Params);
        self.generator_opt.step(g.params(), g.grads());
        logits
    }

    fn parts(&self, net: Net) -> (&crate::model::Mlp, &Adam) {
        match net {
            Net::Generator => (self.generator.network(), &self.generator_opt),
            Net::Discriminator => (self.discriminator.network(), &self.discriminator_opt),
        }
    }
}

impl Engine for FusedEngine {
    fn members(&self) -> i64 {
        self.generator.network().members()
    }

    fn step(&mut self, batches: &Batches) -> StepLosses {
        let Rules { loss, d_steps, .. } = self.rules;
        let round = |t: &Tensor, r: usize| {
            if d_steps == 1 {
                return t.shallow_clone();
            }
            let n = t.size()[1] / d_steps as i64;
            t.narrow(1, r as i64 * n, n)
        };
        let mut last = None;
        for r in 0..d_steps {
            let real = round(batches.real, r);
            // The generator's output as a plain tensor: no gradient reaches the generator.
            let fake = self.generator.generate(&round(batches.latent_half, r));
            let (discriminator, opt) = (&self.discriminator, &mut self.discriminator_opt);
            let logits = if loss.is_paired() {
                update_discriminator_paired(discriminator, opt, &real, &fake, loss)
            } else {
                let d_real = update_discriminator(discriminator, opt, &real, loss, Term::Real);
                (d_real, update_discriminator(discriminator, opt, &fake, loss, Term::Fake))
            };
            last = Some((real, logits));
        }
        let (real, (d_real, d_fake)) = last.expect("at least one discriminator round");
        let g = self.generator_update(batches.latent_full, &real);
        StepLosses::from_tensors(loss, d_real, d_fake, g)
    }

    fn forward(&self, net: Net, xs: &Tensor) -> Tensor {
        match net {
            Net::Generator => self.generator.generate(xs),
            Net::Discriminator => self.discriminator.score(xs),
        }
    }

    fn forward_member(&self, k: i64, net: Net, xs: &Tensor) -> Tensor {
        let (network, _) = self.parts(net);
        if network.members() == 1 {
            return self.forward(net, xs);
        }
        // The member's own network, so that its numbers are those of the same state alone.
        let own = crate::model::Mlp::new(&self.layers[net as usize], network.params().narrow(0, k, 1).copy())
            .packing(if net == Net::Discriminator { self.pack } else { 1 });
        tch::no_grad(|| own.forward(xs))
    }

    fn set_learning_rates(&mut self, generator: f64, discriminator: f64) {
        self.generator_opt.set_learning_rate(generator);
        self.discriminator_opt.set_learning_rate(discriminator);
    }

    fn export(&self, net: Net) -> NetState {
        let (network, opt) = self.parts(net);
        let (moments, steps) = opt.state();
        NetState { params: network.params().copy(), m: moments[0].1.copy(), v: moments[1].1.copy(), steps }
    }

    fn import(&mut self, net: Net, state: &NetState) -> Result<()> {
        let (network, _) = self.parts(net);
        let (k, n) = (network.members(), network.params().size()[1]);
        state.check(net, k, n)?;
        network.set_params(&state.params);
        let opt = match net {
            Net::Generator => &mut self.generator_opt,
            Net::Discriminator => &mut self.discriminator_opt,
        };
        opt.restore(&state.m, &state.v, state.steps)
    }
}

/// One update of `discriminator` (K runs) by `opt` on `points` (`[K, n, 2]`), all in `term`
/// of `loss`; returns the logits it computed on the way.
pub fn update_discriminator(
    discriminator: &Discriminator,
    opt: &mut Adam,
    points: &Tensor,
    loss: Loss,
    term: Term,
) -> Tensor {
    let d = discriminator.network();
    let acts = d.forward_cached(points);
    let logits = acts.output();
    d.backward(&acts, loss::gradient(loss, term, &logits), Need::Params);
    opt.step(d.params(), d.grads());
    logits
}

/// One update of `discriminator` by a paired `loss` on `real[i]` against `fake[i]` (both
/// `[K, n, 2]`), one pass over both batches; returns the relative logits `z_real − z_fake` and
/// `z_fake − z_real`.
fn update_discriminator_paired(
    discriminator: &Discriminator,
    opt: &mut Adam,
    real: &Tensor,
    fake: &Tensor,
    loss: Loss,
) -> (Tensor, Tensor) {
    let d = discriminator.network();
    // Packs never mix the two batches: each holds whole packs.
    let acts = d.forward_cached(&Tensor::cat(&[real, fake], 1));
    let logits = acts.output();
    let n = logits.size()[1] / 2;
    let real_ahead = logits.narrow(1, 0, n) - logits.narrow(1, n, n);
    let fake_ahead = -&real_ahead;
    let grad = Tensor::cat(
        &[loss::gradient(loss, Term::Real, &real_ahead), loss::gradient(loss, Term::Fake, &fake_ahead)],
        1,
    );
    d.backward(&acts, grad, Need::Params);
    opt.step(d.params(), d.grads());
    (real_ahead, fake_ahead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::initial_state;
    use crate::rng::Keys;

    /// K runs of the tutorial's networks with their first weights.
    fn initialised_engine(k: u64) -> FusedEngine {
        let cfg = ModelConfig::default();
        let seeds: Vec<u64> = (0..k).collect();
        let keys = Keys::new(&seeds, Device::Cpu);
        let mut e = FusedEngine::new(&cfg, Rules::tutorial(), k as i64, Device::Cpu);
        for net in Net::BOTH {
            e.import(net, &initial_state(&cfg, net, &keys)).unwrap();
        }
        e
    }

    /// Normal numbers `[k, n, dim]`, new ones at every call.
    fn batch(k: i64, n: i64, dim: i64) -> Tensor {
        static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seed = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        crate::rng::test_normal(seed, &[k, n, dim])
    }

    fn same(a: &NetState, b: &NetState) -> bool {
        a.params.equal(&b.params) && a.m.equal(&b.m) && a.v.equal(&b.v) && a.steps == b.steps
    }

    #[test]
    fn generator_update_leaves_the_discriminator_bit_identical() {
        for k in [1, 3] {
            let mut e = initialised_engine(k as u64);
            // The discriminator part of an iteration by hand, then the generator part.
            let g_before = e.export(Net::Generator);
            let d_before = e.export(Net::Discriminator);
            let _ = update_discriminator(
                &e.discriminator,
                &mut e.discriminator_opt,
                &batch(k, 64, 2),
                Loss::Bce,
                Term::Real,
            );
            assert!(!same(&d_before, &e.export(Net::Discriminator)), "a D update left D as it was");
            assert!(same(&g_before, &e.export(Net::Generator)), "a D update moved G");

            let d_before = e.export(Net::Discriminator);
            let g_before = e.export(Net::Generator);
            let _ = e.generator_update(&batch(k, 128, 5), &batch(k, 64, 2));
            assert!(same(&d_before, &e.export(Net::Discriminator)), "a G update moved D or its Adam");
            let g_after = e.export(Net::Generator);
            for run in 0..k {
                assert!(
                    !g_before.params.get(run).equal(&g_after.params.get(run)),
                    "run {run}'s G did not move"
                );
            }
        }
    }

    #[test]
    fn a_full_step_updates_both_networks_and_both_optimisers() {
        let mut e = initialised_engine(1);
        let (real, half, full) = (batch(1, 64, 2), batch(1, 64, 5), batch(1, 128, 5));
        let (g0, d0) = (e.export(Net::Generator), e.export(Net::Discriminator));
        let losses = e.step(&Batches { real: &real, latent_half: &half, latent_full: &full }).values();
        assert_eq!(losses.len(), 1);
        assert!(losses[0].0.is_finite() && losses[0].1.is_finite() && losses[0].2.is_finite());
        assert!(!e.export(Net::Generator).params.equal(&g0.params));
        assert!(!e.export(Net::Discriminator).params.equal(&d0.params));
        assert_eq!((e.export(Net::Discriminator).steps, e.export(Net::Generator).steps), (2, 1));
    }

    /// A run of an ensemble steps as it does alone, to the float rounding of the batched
    /// kernels.
    #[test]
    fn each_run_of_k_steps_as_it_does_alone() {
        let k = 4;
        let mut all = initialised_engine(k as u64);
        let (real, half, full) = (batch(k, 64, 2), batch(k, 64, 5), batch(k, 128, 5));
        let seeds: Vec<u64> = (0..k as u64).collect();
        let _ = all.step(&Batches { real: &real, latent_half: &half, latent_full: &full });
        for run in 0..k {
            let cfg = ModelConfig::default();
            let keys = Keys::new(&seeds[run as usize..=run as usize], Device::Cpu);
            let mut alone = FusedEngine::new(&cfg, Rules::tutorial(), 1, Device::Cpu);
            for net in Net::BOTH {
                alone.import(net, &initial_state(&cfg, net, &keys)).unwrap();
            }
            let row = |t: &Tensor| t.narrow(0, run, 1);
            let _ = alone.step(&Batches {
                real: &row(&real),
                latent_half: &row(&half),
                latent_full: &row(&full),
            });
            for net in Net::BOTH {
                let (a, b) = (alone.export(net).params, all.export(net).params.narrow(0, run, 1));
                let diff = (a - b).abs().max().double_value(&[]);
                assert!(diff < 1e-6, "run {run}, {}: {diff}", net.name());
            }
        }
    }
}
