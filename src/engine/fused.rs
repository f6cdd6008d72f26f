//! The tensor engine: each network's parameters for K runs in one flat `[K, n]` tensor
//! ([`crate::model::Mlp`]), gradients from the hand-written [`crate::model::Mlp::backward`],
//! and one [`Adam`] update per network over the whole tensor, on any device (CUDA's engine).
//! The algorithm of an iteration is [`iteration`]'s; this file is its [`Backend`] over
//! tensors. An iteration is a few dozen libtorch calls, whatever K is.

use anyhow::Result;
use tch::{Device, Kind, Tensor};

use super::iteration::{self, Backend, Logits, iteration};
use super::{Batches, Engine, Net, NetState, Rules, StepLosses};
use crate::adam::Adam;
use crate::config::{ModelConfig, parameter_count};
use crate::host::Shape;
use crate::loss::{self, Term};
use crate::model::{Activations, Discriminator, Generator, Mlp, Need};
use crate::penalty;
use crate::spectral;
use crate::state::Spectral;

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
    /// Under spectral normalisation, the discriminator's trained parameters and `u`.
    spectral: Option<SpectralState>,
}

/// The tensors of [`crate::spectral`] for K members: the parameters Adam trains (`[K, n]`),
/// each member's `u`, and the estimates of the update being taken.
#[derive(Debug)]
struct SpectralState {
    shape: Shape,
    raw: Tensor,
    u: Tensor,
    estimates: Option<spectral::TensorEstimates>,
}

impl FusedEngine {
    /// K runs' networks of `model_cfg` trained by `rules`, all parameters zero:
    /// [`Engine::import`] gives them their state.
    pub fn new(model_cfg: &ModelConfig, rules: Rules, k: i64, device: Device) -> Self {
        let zeros =
            |net: Net| Tensor::zeros([k, parameter_count(&net.layers(model_cfg))], (Kind::Float, device));
        let generator = Generator::new(model_cfg, zeros(Net::Generator));
        let discriminator = Discriminator::new(model_cfg, zeros(Net::Discriminator));
        let spectral = rules.spectral_norm.then(|| {
            let shape = Shape::of(&model_cfg.discriminator_layers());
            let u = Tensor::zeros([k, spectral::u_len(&shape) as i64], (Kind::Float, device));
            SpectralState { shape, raw: zeros(Net::Discriminator), u, estimates: None }
        });
        FusedEngine {
            layers: Net::BOTH.map(|net| net.layers(model_cfg)),
            generator_opt: Adam::new(generator.network().params(), rules.generator),
            discriminator_opt: Adam::new(
                spectral.as_ref().map_or(discriminator.network().params(), |s| &s.raw),
                rules.discriminator,
            ),
            generator,
            discriminator,
            rules,
            pack: model_cfg.pack,
            spectral,
        }
    }

    /// The backend of an iteration on `batches`, or of updates on points given directly.
    fn backend<'a>(&'a mut self, batches: Option<&'a Batches<'a>>) -> Tensors<'a> {
        Tensors { engine: self, batches }
    }

    /// One update of the discriminator on `points` (`[K, n, 2]`), all in `term` of the loss;
    /// returns its logits. The tutorial's first experiment trains a discriminator alone so.
    pub fn update_discriminator(&mut self, points: &Tensor, term: Term) -> Tensor {
        iteration::update_discriminator(&mut self.backend(None), points.shallow_clone(), term, None)
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
        let rules = self.rules;
        let Logits { d_real, d_fake, g } = iteration(&mut self.backend(Some(batches)), &rules);
        StepLosses::from_tensors(rules.loss, d_real, d_fake, g)
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
        let spectral = match (net, &self.spectral) {
            (Net::Discriminator, Some(s)) => Some(Spectral { raw: s.raw.copy(), u: s.u.copy() }),
            _ => None,
        };
        NetState {
            params: network.params().copy(),
            m: moments[0].1.copy(),
            v: moments[1].1.copy(),
            steps,
            spectral,
        }
    }

    fn import(&mut self, net: Net, state: &NetState) -> Result<()> {
        let network = match net {
            Net::Generator => self.generator.network(),
            Net::Discriminator => self.discriminator.network(),
        };
        let (k, n) = (network.members(), network.params().size()[1]);
        state.check(net, k, n)?;
        network.set_params(&state.params);
        if let (Net::Discriminator, Some(s)) = (net, &mut self.spectral) {
            // A fresh state's parameters are those Adam trains, from the first u.
            let device = s.raw.device();
            let (raw, u) = match &state.spectral {
                Some(saved) => (saved.raw.to_device(device), saved.u.to_device(device)),
                None => {
                    let first = Tensor::from_slice(&spectral::first_u(&s.shape)).to_device(device);
                    (state.params.to_device(device), first.unsqueeze(0).repeat([k, 1]))
                }
            };
            if raw.size() != s.raw.size() || u.size() != s.u.size() {
                anyhow::bail!(
                    "the {} spectral state has shapes {:?} and {:?}, expected {:?} and {:?}",
                    net.name(),
                    raw.size(),
                    u.size(),
                    s.raw.size(),
                    s.u.size()
                );
            }
            tch::no_grad(|| {
                s.raw.copy_(&raw.to_kind(Kind::Float));
                s.u.copy_(&u.to_kind(Kind::Float));
            });
            let estimates = spectral::refresh(&s.shape, &s.raw, &s.u);
            spectral::apply(&s.shape, &s.raw, &estimates, network.params());
        }
        let opt = match net {
            Net::Generator => &mut self.generator_opt,
            Net::Discriminator => &mut self.discriminator_opt,
        };
        opt.restore(&state.m, &state.v, state.steps)
    }
}

/// An iteration's view of the fused engine: K members' batches as `[K, n, …]` tensors. The
/// discriminator packs its input itself ([`crate::model::Mlp::packing`]), so packing here
/// leaves points as they are.
struct Tensors<'a> {
    engine: &'a mut FusedEngine,
    /// The iteration's draws; `None` for updates on points given directly.
    batches: Option<&'a Batches<'a>>,
}

impl Tensors<'_> {
    fn batches(&self) -> &Batches<'_> {
        self.batches.expect("an iteration's draws")
    }

    fn network(&self, net: Net) -> &Mlp {
        self.engine.parts(net).0
    }
}

/// Round `round` of `d_steps` rounds laid out one after another along the points.
fn round_of(t: &Tensor, round: usize, d_steps: usize) -> Tensor {
    if d_steps == 1 {
        return t.shallow_clone();
    }
    let n = t.size()[1] / d_steps as i64;
    t.narrow(1, round as i64 * n, n)
}

impl Backend for Tensors<'_> {
    type Batch = Tensor;
    type Pass = Activations;

    fn real(&mut self, round: usize) -> Tensor {
        round_of(self.batches().real, round, self.engine.rules.d_steps)
    }

    fn latent_half(&mut self, round: usize) -> Tensor {
        round_of(self.batches().latent_half, round, self.engine.rules.d_steps)
    }

    fn latent_full(&mut self) -> Tensor {
        self.batches().latent_full.shallow_clone()
    }

    fn power_iteration(&mut self) {
        let engine = &mut *self.engine;
        if let Some(s) = &mut engine.spectral {
            let estimates = spectral::iterate(&s.shape, &s.raw, &s.u);
            spectral::apply(&s.shape, &s.raw, &estimates, engine.discriminator.network().params());
            s.estimates = Some(estimates);
        }
    }

    fn penalty_draws(&mut self, round: usize) -> Tensor {
        let draws = self.batches().penalty.expect("a penalty's draws");
        round_of(draws, round, self.engine.rules.d_steps)
    }

    /// Batches are never changed in place: the same tensor serves.
    fn copy(&mut self, batch: &Tensor) -> Tensor {
        batch.shallow_clone()
    }

    fn mix(&mut self, real: &Tensor, fake: &Tensor, draws: Tensor) -> Tensor {
        penalty::mix(real, fake, &draws)
    }

    fn perturb(&mut self, real: &Tensor, draws: Tensor) -> Tensor {
        penalty::perturb(real, &draws)
    }

    fn penalise(&mut self, packs: Tensor) {
        let rule = self.engine.rules.penalty.expect("a run with a penalty");
        self.network(Net::Discriminator).add_penalty_gradient(&packs, rule);
    }

    fn forward(&mut self, net: Net, input: Tensor) -> Activations {
        self.network(net).forward_cached(&input)
    }

    fn output(&mut self, pass: &Activations) -> Tensor {
        pass.output()
    }

    /// Without keeping the pass: no tensor of it is made.
    fn apply(&mut self, net: Net, input: Tensor) -> Tensor {
        tch::no_grad(|| self.network(net).forward(&input))
    }

    fn discard(&mut self, _pass: Activations) {}

    fn backward_params(&mut self, net: Net, pass: Activations, grad: Tensor) {
        self.network(net).backward(&pass, grad, Need::Params);
    }

    fn backward_input(&mut self, net: Net, pass: Activations, grad: Tensor) -> Tensor {
        self.network(net).backward(&pass, grad, Need::Input).expect("Need::Input returns the input gradient")
    }

    fn adam(&mut self, net: Net) {
        let engine = &mut *self.engine;
        match net {
            Net::Generator => {
                let g = engine.generator.network();
                engine.generator_opt.step(g.params(), g.grads());
            }
            Net::Discriminator => {
                let d = engine.discriminator.network();
                let Some(s) = &mut engine.spectral else {
                    engine.discriminator_opt.step(d.params(), d.grads());
                    return;
                };
                // Adam trains the weights before normalisation; the network is then
                // normalised by the kept u.
                let estimates = s.estimates.take().expect("a power iteration before the update");
                spectral::chain(&s.shape, d.params(), &s.u, &estimates, d.grads());
                engine.discriminator_opt.step(&s.raw, d.grads());
                let estimates = spectral::refresh(&s.shape, &s.raw, &s.u);
                spectral::apply(&s.shape, &s.raw, &estimates, d.params());
            }
        }
    }

    fn pack(&mut self, points: Tensor) -> Tensor {
        points
    }

    fn unpack(&mut self, grad: Tensor) -> Tensor {
        grad
    }

    fn loss_gradient(&mut self, term: Term, logits: &Tensor) -> Tensor {
        loss::gradient(self.engine.rules.loss, term, logits)
    }

    /// Whole packs of each batch, so the discriminator's packs never mix the two.
    fn join(&mut self, first: Tensor, second: Tensor) -> Tensor {
        Tensor::cat(&[first, second], 1)
    }

    fn split(&mut self, logits: Tensor) -> (Tensor, Tensor) {
        let n = logits.size()[1] / 2;
        (logits.narrow(1, 0, n), logits.narrow(1, n, n))
    }

    fn relative(&mut self, a: &Tensor, b: &Tensor) -> Tensor {
        let (na, nb) = (a.size()[1], b.size()[1]);
        if na == nb { a - b } else { a - b.repeat([1, na / nb, 1]) }
    }
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
            // A discriminator update moves the discriminator only.
            let g_before = e.export(Net::Generator);
            let d_before = e.export(Net::Discriminator);
            let _ = e.update_discriminator(&batch(k, 64, 2), Term::Real);
            assert!(!same(&d_before, &e.export(Net::Discriminator)), "a D update left D as it was");
            assert!(same(&g_before, &e.export(Net::Generator)), "a D update moved G");

            // A whole iteration with the discriminator's step size 0: its own updates leave its
            // weights as they were, so the generator's update must too.
            e.set_learning_rates(1e-3, 0.0);
            let (d_before, g_before) = (e.export(Net::Discriminator), e.export(Net::Generator));
            let (real, half, full) = (batch(k, 64, 2), batch(k, 64, 5), batch(k, 128, 5));
            let _ = e.step(&Batches { real: &real, latent_half: &half, latent_full: &full, penalty: None });
            let d_after = e.export(Net::Discriminator);
            assert!(d_after.params.equal(&d_before.params), "a G update moved D");
            // Nor did the generator's update step the discriminator's Adam (whose step size 0
            // would hide it in the weights).
            assert_eq!(d_after.steps, d_before.steps + 2, "a G update stepped D's Adam");
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
        let losses =
            e.step(&Batches { real: &real, latent_half: &half, latent_full: &full, penalty: None }).values();
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
        let _ = all.step(&Batches { real: &real, latent_half: &half, latent_full: &full, penalty: None });
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
                penalty: None,
            });
            for net in Net::BOTH {
                let (a, b) = (alone.export(net).params, all.export(net).params.narrow(0, run, 1));
                let diff = (a - b).abs().max().double_value(&[]);
                assert!(diff < 1e-6, "run {run}, {}: {diff}", net.name());
            }
        }
    }
}
