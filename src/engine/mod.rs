//! The engines: what one iteration of the tutorial does to the two networks and their
//! optimisers, given the iteration's random draws.
//!
//! Two engines run the same algorithm and are interchangeable mid-run:
//! - [`fused`]: flat parameters, a hand-written backward pass and one Adam update per network,
//!   so an iteration is a few dozen libtorch calls. The default, and the fast one.
//! - [`autograd`]: `nn::Linear` layers, autograd for every gradient and Keras' Adam written out
//!   one variable at a time, the way tch's own examples read. The readable reference that the
//!   fused engine is tested against, step by step.
//!
//! Both name their variables alike (`hidden.weight`, …, `out.bias`) in one `nn::VarStore` per
//! network and report their Adams' moments in one flat layout, so they save and load the same
//! checkpoints. The caller ([`crate::train::Trainer`]) draws the random batches, so the two see
//! the same numbers; an engine never draws.

pub mod autograd;
pub mod fused;

use anyhow::{Result, bail};
use tch::{Device, Kind, Tensor, nn};

use crate::config::{AdamConfig, EngineKind, LayerSpec, ModelConfig};
use crate::model::initial_parameters;
use crate::rng::{Keys, Tag};

/// The label of a batch as the discriminator should learn it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Fake = 0,
    Real = 1,
}

/// Mean binary cross-entropy of logits `[n, 1]` against one label, in its stable form:
/// `softplus(−z)` for real, `softplus(z)` for fake.
pub fn bce_with_logits(logits: &Tensor, label: Label) -> Tensor {
    match label {
        Label::Real => (-logits).softplus().mean(Kind::Float),
        Label::Fake => logits.softplus().mean(Kind::Float),
    }
}

/// One iteration's random draws, made by the caller in the tutorial's order.
#[derive(Debug)]
pub struct Batches<'a> {
    /// Real points for the first discriminator update: `[half_batch, 2]`.
    pub real: &'a Tensor,
    /// Latent points of the fakes for the second discriminator update: `[half_batch, latent_dim]`.
    pub latent_half: &'a Tensor,
    /// Latent points of the generator update: `[batch, latent_dim]`.
    pub latent_full: &'a Tensor,
}

/// The logits of one iteration's three updates, from which the losses are computed on demand,
/// so that an iteration whose losses nobody reads costs nothing extra.
#[derive(Debug)]
pub struct StepLosses {
    pub(crate) d_real: Tensor, // [half_batch, 1], labelled real
    pub(crate) d_fake: Tensor, // [half_batch, 1], labelled fake
    pub(crate) g: Tensor,      // [batch, 1], fakes labelled real
}

impl StepLosses {
    /// `[d_loss_real, d_loss_fake, g_loss]` as a tensor on the training device.
    pub fn as_tensor(&self) -> Tensor {
        Tensor::stack(
            &[
                bce_with_logits(&self.d_real, Label::Real),
                bce_with_logits(&self.d_fake, Label::Fake),
                bce_with_logits(&self.g, Label::Real),
            ],
            0,
        )
    }

    /// `[d_loss_real, d_loss_fake, g_loss, d_acc_real, d_acc_fake]` on the training device:
    /// the losses and the discriminator's accuracy on this iteration's own real and fake batches.
    pub fn stats_tensor(&self) -> Tensor {
        let acc_real = self.d_real.gt(0.0).to_kind(Kind::Float).mean(Kind::Float);
        let acc_fake = self.d_fake.le(0.0).to_kind(Kind::Float).mean(Kind::Float);
        Tensor::cat(&[self.as_tensor(), acc_real.view([1]), acc_fake.view([1])], 0)
    }

    /// The three losses on the host: `(d_real, d_fake, g)`.
    pub fn values(&self) -> (f64, f64, f64) {
        let v: Vec<f64> = Vec::try_from(self.as_tensor().to_kind(Kind::Double).to_device(Device::Cpu))
            .expect("a [3] tensor converts to Vec<f64>");
        (v[0], v[1], v[2])
    }
}

/// One of the two networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    Generator,
    Discriminator,
}

impl Net {
    pub const BOTH: [Net; 2] = [Net::Generator, Net::Discriminator];

    /// The tag of its first weights' draw.
    pub fn init_tag(self) -> Tag {
        match self {
            Net::Generator => Tag::InitGenerator,
            Net::Discriminator => Tag::InitDiscriminator,
        }
    }

    /// The prefix of its optimiser's variables in a checkpoint: `generator.m`, ….
    pub fn name(self) -> &'static str {
        match self {
            Net::Generator => "generator",
            Net::Discriminator => "discriminator",
        }
    }
}

/// One Adam's state in the layout every engine saves: the moments of all of a network's
/// parameters, layer by layer, weight (row-major) then bias, as one flat tensor each.
#[derive(Debug)]
pub struct AdamState {
    /// First-moment estimate, `[parameter_count]`.
    pub m: Tensor,
    /// Second-moment estimate, `[parameter_count]`.
    pub v: Tensor,
    /// Updates taken so far (Keras' `iterations`): the bias correction depends on it.
    pub steps: u64,
}

/// What the training loop needs of an engine.
pub trait Engine {
    /// The tutorial's iteration on `batches`: a discriminator update on the real points, a
    /// separate one on the generator's (gradient-free) fakes, then a generator update through
    /// the discriminator, which stays unchanged. Returns the three updates' logits.
    fn step(&mut self, batches: &Batches) -> StepLosses;
    /// The network `net` as a module, for evaluation under `tch::no_grad`.
    fn module(&self, net: Net) -> &dyn nn::Module;
    /// The VarStore holding `net`'s variables: `hidden.weight`, `hidden.bias`, …, `out.bias`.
    fn var_store(&self, net: Net) -> &nn::VarStore;
    /// `net`'s optimiser state, as copies in the shared flat layout.
    fn adam_state(&self, net: Net) -> AdamState;
    /// Replaces `net`'s optimiser state with `state` (which must fit `net`'s parameters).
    fn restore_adam(&mut self, net: Net, state: &AdamState) -> Result<()>;
}

/// Builds the networks of `model_cfg` with `kind`'s engine on `device`, with the first weights
/// of the run seeded `seed` ([`initial_parameters`]).
pub fn build(
    kind: EngineKind,
    model_cfg: &ModelConfig,
    adam: AdamConfig,
    seed: u64,
    device: Device,
) -> Box<dyn Engine> {
    let engine: Box<dyn Engine> = match kind {
        EngineKind::Fused => Box::new(fused::FusedEngine::new(model_cfg, adam, device)),
        EngineKind::Autograd => Box::new(autograd::AutogradEngine::new(model_cfg, adam, device)),
    };
    initialise(engine.as_ref(), model_cfg, seed);
    engine
}

/// Gives `engine`'s networks (of `model_cfg`) the first weights of the run seeded `seed`.
pub fn initialise(engine: &dyn Engine, model_cfg: &ModelConfig, seed: u64) {
    let keys = Keys::new(&[seed], engine.var_store(Net::Generator).device());
    for net in Net::BOTH {
        let specs = layers_of(model_cfg, net);
        set_flat(engine.var_store(net), &specs, &initial_parameters(&specs, &keys, net.init_tag()).get(0))
            .expect("an engine's networks have their layers' variables");
    }
}

/// `net`'s layers in `model_cfg`.
pub fn layers_of(model_cfg: &ModelConfig, net: Net) -> Vec<LayerSpec> {
    match net {
        Net::Generator => model_cfg.generator_layers(),
        Net::Discriminator => model_cfg.discriminator_layers(),
    }
}

/// A network's variables in `vs` as one flat tensor, `[parameter_count]`: layer by layer, the
/// weight (row-major) then the bias, as [`crate::model::Mlp`] and the Adam states lay them out.
pub fn flat_of(vs: &nn::VarStore, specs: &[LayerSpec]) -> Result<Tensor> {
    let vars = vs.variables();
    let mut pieces = Vec::with_capacity(2 * specs.len());
    for layer in specs {
        for part in ["weight", "bias"] {
            let name = format!("{}.{part}", layer.name);
            let Some(var) = vars.get(&name) else { bail!("variable `{name}` is missing") };
            pieces.push(var.detach().reshape([-1]));
        }
    }
    Ok(Tensor::cat(&pieces, 0))
}

/// Overwrites a network's variables in `vs` from `flat`, laid out as [`flat_of`] gives it.
pub fn set_flat(vs: &nn::VarStore, specs: &[LayerSpec], flat: &Tensor) -> Result<()> {
    let vars = vs.variables();
    let mut offset = 0;
    tch::no_grad(|| {
        for layer in specs {
            for (part, shape) in
                [("weight", vec![layer.outputs, layer.inputs]), ("bias", vec![layer.outputs])]
            {
                let name = format!("{}.{part}", layer.name);
                let Some(var) = vars.get(&name) else { bail!("variable `{name}` is missing") };
                let len: i64 = shape.iter().product();
                var.shallow_clone().f_copy_(&flat.narrow(0, offset, len).view(shape.as_slice()))?;
                offset += len;
            }
        }
        Ok(())
    })
}

/// Copies every variable of `from` into the same-named variable of `to`; both must hold the
/// same names and shapes.
pub fn copy_vars(from: &nn::VarStore, to: &nn::VarStore) -> Result<()> {
    let source = from.variables();
    let target = to.variables();
    if source.len() != target.len() {
        bail!("the networks differ: {} variables against {}", source.len(), target.len());
    }
    tch::no_grad(|| {
        for (name, tensor) in &target {
            let Some(value) = source.get(name) else { bail!("variable `{name}` is missing") };
            tensor.shallow_clone().f_copy_(value)?;
        }
        Ok(())
    })
}

/// Checks that `state` fits a network of `own_len` parameters.
fn check_adam_state(net: Net, state: &AdamState, own_len: i64) -> Result<()> {
    for (name, saved) in [("m", &state.m), ("v", &state.v)] {
        if saved.size() != [own_len] || saved.kind() != Kind::Float {
            bail!(
                "optimiser moment {}.{name}: expected float32 [{own_len}], found {:?} {:?}",
                net.name(),
                saved.kind(),
                saved.size()
            );
        }
    }
    Ok(())
}
