//! The engines: what one iteration of the tutorial does to the two networks and their
//! optimisers, for K runs at once, given the iteration's random draws.
//!
//! The algorithm of an iteration is written once, in [`iteration`], over a small
//! [`iteration::Backend`]; two engines implement it and are interchangeable mid-run:
//! - [`native`]: one member at a time in plain Rust over the flat layout, with the host
//!   network's passes ([`crate::host`]), the same bits on every CPU; members spread over
//!   threads. The default on the CPU.
//! - [`fused`]: flat `[K, n]` parameters ([`crate::model::Mlp`]), a hand-written backward pass
//!   and one Adam update per network for all runs, so an iteration is a few dozen libtorch
//!   calls whatever K is. The engine for CUDA.
//!
//! A third, [`autograd`], is independent on purpose: `nn::Linear` layers, autograd for every
//! gradient and Keras' Adam written out one variable at a time, the way tch's own examples
//! read. One run (K = 1). The readable reference that the other two are tested against, step
//! by step.
//!
//! All export and import their state as [`NetState`] values in one flat layout, so every
//! engine continues any engine's checkpoint. The caller ([`crate::train::Trainer`]) draws the
//! random batches, so they all see the same numbers; an engine never draws.

pub mod autograd;
pub mod fused;
pub mod iteration;
pub mod native;

use anyhow::{Result, bail};
use tch::{Device, Tensor};

use crate::config::{AdamConfig, EngineKind, ModelConfig, TrainConfig};
use crate::loss::{self, Label, Loss, Term};
use crate::model::initial_parameters;
use crate::penalty::Weighted;
use crate::rng::{Keys, Tag};
pub use crate::state::{Net, NetState};

/// One iteration's random draws for K runs, made by the caller in the tutorial's order.
#[derive(Debug)]
pub struct Batches<'a> {
    /// Real points for the discriminator's updates: `[K, d_steps · half_batch, 2]`, round `r`'s
    /// from row `r · half_batch`.
    pub real: &'a Tensor,
    /// Latent points of the fakes for the discriminator's updates, laid out as `real`:
    /// `[K, d_steps · half_batch, latent_dim]`.
    pub latent_half: &'a Tensor,
    /// Latent points of the generator update: `[K, batch, latent_dim]`.
    pub latent_full: &'a Tensor,
    /// For a penalty that draws its points ([`crate::penalty::Penalty::draws`]), their uniform
    /// numbers, laid out as `real`: `[K, d_steps · half_batch, 3]`.
    pub penalty: Option<&'a Tensor>,
}

/// How an engine updates the networks: what of a [`TrainConfig`] it needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    pub loss: Loss,
    /// Discriminator rounds per generator update.
    pub d_steps: usize,
    pub generator: AdamConfig,
    pub discriminator: AdamConfig,
    /// The penalty on the discriminator's input gradient, if any.
    pub penalty: Option<Weighted>,
    /// Whether the discriminator's weights are spectrally normalised ([`crate::spectral`]).
    pub spectral_norm: bool,
}

impl Rules {
    pub fn of(cfg: &TrainConfig) -> Rules {
        Rules {
            loss: cfg.loss,
            d_steps: cfg.d_steps as usize,
            generator: cfg.generator_adam(),
            discriminator: cfg.discriminator_adam(),
            penalty: cfg.penalty_rule().map(|(penalty, weight)| Weighted { penalty, weight }),
            spectral_norm: cfg.spectral_norm,
        }
    }

    /// The tutorial's: BCE, one round, Keras' Adam for both.
    pub fn tutorial() -> Rules {
        Rules::of(&TrainConfig::default())
    }

    /// Discriminator updates per iteration.
    pub fn d_updates(&self) -> u64 {
        self.loss.d_updates(self.d_steps as u64)
    }
}

/// The logits of one iteration's last discriminator round and its generator update for K runs,
/// from which the losses and accuracies are computed on demand, so that an iteration whose
/// losses nobody reads costs nothing extra. A paired loss's logits are relative ones
/// (see [`crate::loss`]).
#[derive(Debug)]
pub struct StepLosses {
    loss: Loss,
    logits: Logits,
}

#[derive(Debug)]
enum Logits {
    /// On the training device: `[K, half_batch, 1]` labelled real, the same labelled fake, and
    /// `[K, batch, 1]` (the generator update's fakes, labelled real).
    Tensors { d_real: Tensor, d_fake: Tensor, g: Tensor },
    /// On the host, member by member: `half` logits labelled real, `half` labelled fake, then
    /// `batch` of the generator update.
    Host { half: usize, batch: usize, values: Vec<f32> },
}

impl StepLosses {
    pub fn from_tensors(loss: Loss, d_real: Tensor, d_fake: Tensor, g: Tensor) -> Self {
        StepLosses { loss, logits: Logits::Tensors { d_real, d_fake, g } }
    }

    pub fn from_host(loss: Loss, half: usize, batch: usize, values: Vec<f32>) -> Self {
        StepLosses { loss, logits: Logits::Host { half, batch, values } }
    }

    /// `[K, 3]`: each run's `d_loss_real, d_loss_fake, g_loss`.
    pub fn losses(&self) -> Tensor {
        let loss = self.loss;
        match &self.logits {
            Logits::Tensors { d_real, d_fake, g } => Tensor::stack(
                &[
                    loss::value(loss, Term::Real, d_real),
                    loss::value(loss, Term::Fake, d_fake),
                    loss::value(loss, Term::Generator, g),
                ],
                1,
            ),
            Logits::Host { .. } => self.host_stats(3),
        }
    }

    /// `[K, 5]`: the losses, then the discriminator's accuracy on the iteration's own real and
    /// fake batches.
    pub fn stats(&self) -> Tensor {
        let loss = self.loss;
        match &self.logits {
            Logits::Tensors { d_real, d_fake, .. } => {
                let kind = tch::Kind::Float;
                Tensor::cat(
                    &[
                        self.losses(),
                        loss::accuracy(loss, d_real, Label::Real, kind).unsqueeze(1),
                        loss::accuracy(loss, d_fake, Label::Fake, kind).unsqueeze(1),
                    ],
                    1,
                )
            }
            Logits::Host { .. } => self.host_stats(5),
        }
    }

    /// The first `columns` of [`StepLosses::stats`] from host logits, as float64, computed in
    /// a fixed order.
    fn host_stats(&self, columns: usize) -> Tensor {
        let Logits::Host { half, batch, values } = &self.logits else { unreachable!("host logits") };
        let loss = self.loss;
        let per_member = 2 * half + batch;
        let mut out = Vec::with_capacity(values.len() / per_member * columns);
        for member in values.chunks_exact(per_member) {
            let (d_real, rest) = member.split_at(*half);
            let (d_fake, g) = rest.split_at(*half);
            let row = [
                loss::host_value(loss, Term::Real, d_real),
                loss::host_value(loss, Term::Fake, d_fake),
                loss::host_value(loss, Term::Generator, g),
                loss::host_accuracy(loss, d_real, Label::Real),
                loss::host_accuracy(loss, d_fake, Label::Fake),
            ];
            out.extend_from_slice(&row[..columns]);
        }
        Tensor::from_slice(&out).view([-1, columns as i64])
    }

    /// Each run's three losses on the host: `(d_real, d_fake, g)`.
    pub fn values(&self) -> Vec<(f64, f64, f64)> {
        let v: Vec<f64> =
            Vec::try_from(self.losses().to_kind(tch::Kind::Double).to_device(Device::Cpu).view([-1]))
                .expect("[K, 3] losses convert to Vec<f64>");
        v.chunks_exact(3).map(|l| (l[0], l[1], l[2])).collect()
    }
}

/// What the training loop needs of an engine.
pub trait Engine {
    /// K, the number of runs it trains.
    fn members(&self) -> i64;
    /// The tutorial's iteration on `batches`, for every run: `d_steps` rounds of a
    /// discriminator update on the real points and a separate one on the generator's
    /// (gradient-free) fakes (one update on both for a paired loss), then a generator update
    /// through the discriminator, which stays unchanged. Returns the last round's and the
    /// generator update's logits.
    fn step(&mut self, batches: &Batches) -> StepLosses;
    /// `net` applied without gradients: `[K, n, in]` → `[K, n, out]`.
    fn forward(&self, net: Net, xs: &Tensor) -> Tensor;
    /// Member `k`'s `net` applied without gradients: `[1, n, in]` → `[1, n, out]`, the numbers
    /// that member would give trained alone.
    fn forward_member(&self, k: i64, net: Net, xs: &Tensor) -> Tensor;
    /// Spreads the members over `threads` CPU threads where the engine can; the numbers do not
    /// change.
    fn set_threads(&mut self, _threads: usize) -> Result<()> {
        Ok(())
    }
    /// The Adam step sizes of the updates from now on (a schedule's, `--lr-half-life`).
    fn set_learning_rates(&mut self, generator: f64, discriminator: f64);
    /// `net`'s parameters and optimiser state, as copies.
    fn export(&self, net: Net) -> NetState;
    /// Replaces `net`'s parameters and optimiser state with `state`, which must fit them.
    fn import(&mut self, net: Net, state: &NetState) -> Result<()>;
}

/// `kind`'s engine on `device` for the networks of `model_cfg` trained by `rules`, starting
/// from `generator` and `discriminator` (K runs each; the autograd engine takes one).
pub fn build(
    kind: EngineKind,
    model_cfg: &ModelConfig,
    rules: Rules,
    batch: i64,
    generator: &NetState,
    discriminator: &NetState,
    device: Device,
) -> Result<Box<dyn Engine>> {
    let mut engine: Box<dyn Engine> = match kind {
        EngineKind::Native => {
            if device != Device::Cpu {
                bail!("the native engine runs on the CPU; use --engine fused on CUDA");
            }
            Box::new(native::NativeEngine::new(model_cfg, rules, generator.members(), batch)?)
        }
        EngineKind::Fused => Box::new(fused::FusedEngine::new(model_cfg, rules, generator.members(), device)),
        EngineKind::Autograd => {
            if generator.members() != 1 {
                bail!("the autograd engine trains one run at a time, not {}", generator.members());
            }
            Box::new(autograd::AutogradEngine::new(model_cfg, rules, device))
        }
    };
    engine.import(Net::Generator, generator)?;
    engine.import(Net::Discriminator, discriminator)?;
    Ok(engine)
}

/// The first state of `net` for the runs seeded `keys`: the weights their streams draw, zero
/// moments.
pub fn initial_state(model_cfg: &ModelConfig, net: Net, keys: &Keys) -> NetState {
    let tag = match net {
        Net::Generator => Tag::InitGenerator,
        Net::Discriminator => Tag::InitDiscriminator,
    };
    NetState::fresh(initial_parameters(&net.layers(model_cfg), keys, tag))
}
