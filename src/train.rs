//! The training loop: [`Trainer`] owns the two networks, each in its own VarStore with its own
//! optimiser, and runs the tutorial's iteration in [`Trainer::step`].
//!
//! The composite (generator then discriminator) update back-propagates through the
//! discriminator to its input only and steps the generator's optimiser, so the
//! discriminator's weights never move during it: the equivalent of Keras'
//! `discriminator.trainable = False`. This module never parses arguments, plots or names files.

use anyhow::{Result, bail};
use tch::{Device, Kind, Tensor, nn, nn::Module};

use crate::adam::Adam;
use crate::config::{ModelConfig, TrainConfig};
use crate::data::{self, RealBatch};
use crate::evaluate::{self, EvalReport};
use crate::model::{Activations, Discriminator, Generator, Need};

/// The label of a batch as the discriminator should learn it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Fake = 0,
    Real = 1,
}

/// The logits of one iteration's three updates, from which the losses are computed on demand,
/// so that an iteration whose losses nobody reads costs nothing extra.
#[derive(Debug)]
pub struct StepLosses {
    d_real: Tensor, // [half_batch, 1], labelled real
    d_fake: Tensor, // [half_batch, 1], labelled fake
    g: Tensor,      // [batch, 1], fakes labelled real
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

    /// The three losses on the host: `(d_real, d_fake, g)`.
    pub fn values(&self) -> (f64, f64, f64) {
        let v: Vec<f64> = Vec::try_from(self.as_tensor().to_kind(Kind::Double).to_device(Device::Cpu))
            .expect("a [3] tensor converts to Vec<f64>");
        (v[0], v[1], v[2])
    }
}

/// Mean binary cross-entropy of logits `[n, 1]` against one label, in its stable form:
/// `softplus(−z)` for real, `softplus(z)` for fake.
pub fn bce_with_logits(logits: &Tensor, label: Label) -> Tensor {
    match label {
        Label::Real => (-logits).softplus().mean(Kind::Float),
        Label::Fake => logits.softplus().mean(Kind::Float),
    }
}

/// ∂(mean BCE)/∂logits `= (σ(z) − label) / n`.
fn bce_grad(logits: &Tensor, label: Label) -> Tensor {
    let n = logits.size()[0] as f64;
    let mut grad = logits.sigmoid();
    if label == Label::Real {
        let _ = grad.g_sub_scalar_(1.0);
    }
    let _ = grad.g_div_scalar_(n);
    grad
}

/// Something that wants to hear about training as it goes: the command layer's progress bar,
/// printing, plotting and checkpointing.
pub trait Observer {
    /// Called every [`PROGRESS_EVERY`] iterations and after the last one, with that iteration's
    /// losses; `completed` counts finished iterations.
    fn progress(&mut self, completed: u64, losses: &StepLosses) -> Result<()>;
    /// Called after each evaluation.
    fn evaluated(&mut self, trainer: &Trainer, report: &EvalReport) -> Result<()>;
}

/// Iterations between two [`Observer::progress`] calls: often enough for a live progress bar,
/// rarely enough that reading the losses (a host synchronisation on CUDA) costs nothing.
pub const PROGRESS_EVERY: u64 = 100;

/// The two networks, their stores and optimisers, and the loop's reusable buffers.
pub struct Trainer {
    pub model_cfg: ModelConfig,
    pub cfg: TrainConfig,
    pub generator: Generator,
    pub discriminator: Discriminator,
    pub generator_vs: nn::VarStore,
    pub discriminator_vs: nn::VarStore,
    pub generator_opt: Adam,
    pub discriminator_opt: Adam,
    /// Iterations completed so far.
    pub iteration: u64,
    real: RealBatch,     // [half_batch, 2]
    latent_half: Tensor, // [half_batch, latent_dim]
    latent_full: Tensor, // [batch, latent_dim]
}

impl Trainer {
    /// Seeds libtorch's random stream with `cfg.seed`, then builds and initialises both
    /// networks on `device` (discriminator first, as the tutorial does).
    pub fn new(model_cfg: &ModelConfig, cfg: &TrainConfig, device: Device) -> Result<Self> {
        model_cfg.validate()?;
        cfg.validate()?;
        seed_everything(cfg.seed, device);
        let discriminator_vs = nn::VarStore::new(device);
        let generator_vs = nn::VarStore::new(device);
        let discriminator = Discriminator::new(&discriminator_vs.root(), model_cfg);
        let generator = Generator::new(&generator_vs.root(), model_cfg);
        let float = (Kind::Float, device);
        Ok(Trainer {
            generator_opt: Adam::new(generator.0.params(), cfg.adam),
            discriminator_opt: Adam::new(discriminator.0.params(), cfg.adam),
            model_cfg: model_cfg.clone(),
            cfg: cfg.clone(),
            generator,
            discriminator,
            generator_vs,
            discriminator_vs,
            iteration: 0,
            real: RealBatch::new(cfg.half_batch(), device),
            latent_half: Tensor::zeros([cfg.half_batch(), model_cfg.latent_dim], float),
            latent_full: Tensor::zeros([cfg.batch, model_cfg.latent_dim], float),
        })
    }

    pub fn device(&self) -> Device {
        self.generator.0.device()
    }

    /// One iteration of the tutorial: a discriminator update on real points, a separate one on
    /// fake points, then a generator update through the (unchanged) discriminator.
    pub fn step(&mut self) -> StepLosses {
        // The tutorial draws the real points and the fakes' latent points before either
        // discriminator update; drawing in the same order keeps the random stream the same.
        let real = self.real.fill().shallow_clone();
        let _ = self.latent_half.normal_(0.0, 1.0);
        // The generator's output as a plain tensor: no gradient reaches the generator.
        let fake = self.generator.forward(&self.latent_half);
        let d_real = self.discriminator_update(&real, Label::Real);
        let d_fake = self.discriminator_update(&fake, Label::Fake);

        let g = self.generator_update();

        self.iteration += 1;
        StepLosses { d_real, d_fake, g }
    }

    /// One discriminator update on `points` (`[n, 2]`) all labelled `label`; returns the logits.
    fn discriminator_update(&mut self, points: &Tensor, label: Label) -> Tensor {
        let d = &self.discriminator.0;
        let acts = d.forward_cached(points);
        let logits = acts.output().shallow_clone();
        d.backward(&acts, bce_grad(&logits, label), Need::Params);
        self.discriminator_opt.step(d.params(), d.grads());
        logits
    }

    /// One composite update on `batch` fresh latent points labelled real (the inverted
    /// labels reward the generator when its fakes are scored real); returns the logits.
    /// Back-propagation stops at the discriminator's input: only the generator changes.
    fn generator_update(&mut self) -> Tensor {
        let _ = self.latent_full.normal_(0.0, 1.0);
        let g_acts: Activations = self.generator.0.forward_cached(&self.latent_full);
        let d_acts = self.discriminator.0.forward_cached(g_acts.output());
        let logits = d_acts.output().shallow_clone();
        let grad_points = self
            .discriminator
            .0
            .backward(&d_acts, bce_grad(&logits, Label::Real), Need::Input)
            .expect("Need::Input returns the input gradient");
        self.generator.0.backward(&g_acts, grad_points, Need::Params);
        self.generator_opt.step(self.generator.0.params(), self.generator.0.grads());
        logits
    }

    /// The tutorial's evaluation: the discriminator's accuracy on `eval_samples` fresh real and
    /// generated points, which the report also carries for plotting.
    pub fn evaluate(&self) -> EvalReport {
        let n = self.cfg.eval_samples;
        let real = data::real_points(n, self.device());
        let latent = data::latent_points(n, self.model_cfg.latent_dim, self.device());
        let fake = self.generator.forward(&latent);
        evaluate::report(self.iteration - 1, &self.discriminator, &real, &fake)
    }

    /// Runs iterations until `cfg.epochs` are complete, evaluating every `cfg.eval_every`
    /// iterations and after the last, and telling `observer` as it goes. Stops with an error
    /// naming the iteration if a loss stops being finite.
    pub fn fit(&mut self, observer: &mut dyn Observer) -> Result<()> {
        while self.iteration < self.cfg.epochs {
            let losses = self.step();
            let done = self.iteration == self.cfg.epochs;
            if self.iteration.is_multiple_of(PROGRESS_EVERY) || done {
                let (d_real, d_fake, g) = losses.values();
                if ![d_real, d_fake, g].iter().all(|l| l.is_finite()) {
                    bail!(
                        "training diverged at iteration {}: losses d_real {d_real}, d_fake {d_fake}, g {g}",
                        self.iteration - 1
                    );
                }
                observer.progress(self.iteration, &losses)?;
            }
            if self.iteration.is_multiple_of(self.cfg.eval_every) || done {
                let report = self.evaluate();
                observer.evaluated(self, &report)?;
            }
        }
        Ok(())
    }
}

/// Seeds libtorch's CPU generator, and the CUDA ones when training there.
pub fn seed_everything(seed: u64, device: Device) {
    tch::manual_seed(seed as i64);
    if device.is_cuda() {
        tch::Cuda::manual_seed_all(seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> TrainConfig {
        TrainConfig { epochs: 3, eval_every: 1, ..TrainConfig::default() }
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
        let mut t = Trainer::new(&ModelConfig::default(), &tiny(), Device::Cpu).unwrap();
        // Run the discriminator part of an iteration by hand, then the generator part.
        let real = t.real.fill().shallow_clone();
        let g_before = snapshot(&t.generator_vs);
        let d_before = snapshot(&t.discriminator_vs);
        let _ = t.discriminator_update(&real, Label::Real);
        assert!(!identical(&d_before, &snapshot(&t.discriminator_vs)), "a D update left D as it was");
        assert!(identical(&g_before, &snapshot(&t.generator_vs)), "a D update moved G");

        let d_before = snapshot(&t.discriminator_vs);
        let g_before = snapshot(&t.generator_vs);
        let _ = t.generator_update();
        assert!(identical(&d_before, &snapshot(&t.discriminator_vs)), "a G update moved D");
        assert!(!identical(&g_before, &snapshot(&t.generator_vs)), "a G update left G as it was");
    }

    #[test]
    fn a_full_step_updates_both_networks_and_both_optimisers() {
        let mut t = Trainer::new(&ModelConfig::default(), &tiny(), Device::Cpu).unwrap();
        let (g0, d0) = (snapshot(&t.generator_vs), snapshot(&t.discriminator_vs));
        let losses = t.step().values();
        assert!(losses.0.is_finite() && losses.1.is_finite() && losses.2.is_finite());
        assert!(!identical(&g0, &snapshot(&t.generator_vs)));
        assert!(!identical(&d0, &snapshot(&t.discriminator_vs)));
        assert_eq!((t.discriminator_opt.steps(), t.generator_opt.steps()), (2, 1));
        assert_eq!(t.iteration, 1);
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
