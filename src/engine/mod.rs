//! The engines: what one iteration of the tutorial does to the two networks and their
//! optimisers, for K runs at once, given the iteration's random draws.
//!
//! Two engines run the same algorithm and are interchangeable mid-run:
//! - [`fused`]: flat `[K, n]` parameters ([`crate::model::Mlp`]), a hand-written backward pass
//!   and one Adam update per network for all runs, so an iteration is a few dozen libtorch
//!   calls whatever K is. The default, the fast one, and the only one for K > 1.
//! - [`autograd`]: `nn::Linear` layers, autograd for every gradient and Keras' Adam written out
//!   one variable at a time, the way tch's own examples read. One run (K = 1). The readable
//!   reference that the fused engine is tested against, step by step.
//!
//! Both export and import their state as [`NetState`] values in one flat layout, so every
//! engine continues any engine's checkpoint. The caller ([`crate::train::Trainer`]) draws the
//! random batches, so the two see the same numbers; an engine never draws.

pub mod autograd;
pub mod fused;

use anyhow::{Result, bail};
use tch::{Device, Tensor};

use crate::config::{AdamConfig, EngineKind, LayerSpec, ModelConfig};
use crate::loss::{self, Label};
use crate::model::initial_parameters;
use crate::rng::{Keys, Tag};
pub use crate::state::{Net, NetState};

/// One iteration's random draws for K runs, made by the caller in the tutorial's order.
#[derive(Debug)]
pub struct Batches<'a> {
    /// Real points for the first discriminator update: `[K, half_batch, 2]`.
    pub real: &'a Tensor,
    /// Latent points of the fakes for the second discriminator update:
    /// `[K, half_batch, latent_dim]`.
    pub latent_half: &'a Tensor,
    /// Latent points of the generator update: `[K, batch, latent_dim]`.
    pub latent_full: &'a Tensor,
}

/// The logits of one iteration's three updates for K runs, from which the losses and
/// accuracies are computed on demand, so that an iteration whose losses nobody reads costs
/// nothing extra.
#[derive(Debug)]
pub struct StepLosses {
    pub d_real: Tensor, // [K, half_batch, 1], labelled real
    pub d_fake: Tensor, // [K, half_batch, 1], labelled fake
    pub g: Tensor,      // [K, batch, 1], fakes labelled real
}

impl StepLosses {
    /// `[K, 3]`: each run's `d_loss_real, d_loss_fake, g_loss`, on the training device.
    pub fn losses(&self) -> Tensor {
        Tensor::stack(
            &[
                loss::value(&self.d_real, Label::Real),
                loss::value(&self.d_fake, Label::Fake),
                loss::value(&self.g, Label::Real),
            ],
            1,
        )
    }

    /// `[K, 5]`: the losses, then the discriminator's accuracy on the iteration's own real and
    /// fake batches.
    pub fn stats(&self) -> Tensor {
        let kind = tch::Kind::Float;
        Tensor::cat(
            &[
                self.losses(),
                loss::accuracy(&self.d_real, Label::Real, kind).unsqueeze(1),
                loss::accuracy(&self.d_fake, Label::Fake, kind).unsqueeze(1),
            ],
            1,
        )
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
    /// The tutorial's iteration on `batches`, for every run: a discriminator update on the
    /// real points, a separate one on the generator's (gradient-free) fakes, then a generator
    /// update through the discriminator, which stays unchanged. Returns the three updates'
    /// logits.
    fn step(&mut self, batches: &Batches) -> StepLosses;
    /// `net` applied without gradients: `[K, n, in]` → `[K, n, out]`.
    fn forward(&self, net: Net, xs: &Tensor) -> Tensor;
    /// `net`'s parameters and optimiser state, as copies.
    fn export(&self, net: Net) -> NetState;
    /// Replaces `net`'s parameters and optimiser state with `state`, which must fit them.
    fn import(&mut self, net: Net, state: &NetState) -> Result<()>;
}

/// `kind`'s engine on `device` for the networks of `model_cfg`, starting from `generator` and
/// `discriminator` (K runs each; the autograd engine takes one).
pub fn build(
    kind: EngineKind,
    model_cfg: &ModelConfig,
    adam: AdamConfig,
    generator: &NetState,
    discriminator: &NetState,
    device: Device,
) -> Result<Box<dyn Engine>> {
    let mut engine: Box<dyn Engine> = match kind {
        EngineKind::Fused => Box::new(fused::FusedEngine::new(model_cfg, adam, generator.members(), device)),
        EngineKind::Autograd => {
            if generator.members() != 1 {
                bail!("the autograd engine trains one run at a time, not {}", generator.members());
            }
            Box::new(autograd::AutogradEngine::new(model_cfg, adam, device))
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
    NetState::fresh(initial_parameters(&layers_of(model_cfg, net), keys, tag))
}

/// `net`'s layers in `model_cfg`.
pub fn layers_of(model_cfg: &ModelConfig, net: Net) -> Vec<LayerSpec> {
    match net {
        Net::Generator => model_cfg.generator_layers(),
        Net::Discriminator => model_cfg.discriminator_layers(),
    }
}
