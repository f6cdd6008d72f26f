//! The training loop: [`Trainer`] owns a run's engine (the two networks, each in its own
//! VarStore with its own optimiser), draws each iteration's random batches and hands them to
//! the engine in [`Trainer::step`], evaluates, and runs the schedule in [`Trainer::fit`].
//!
//! The random draws are made here, not in an engine, so that both engines see the same
//! numbers. Every one is a pure function of the run's seed, the iteration and its place
//! (`rng`), so a resumed run draws what an uninterrupted one does, and a member of an ensemble
//! what the same seed draws alone. This module never parses arguments, plots or names files.

use anyhow::Result;
use tch::{Device, Kind, Tensor};

use crate::adam::Adam;
use crate::config::{Activation, EngineKind, ModelConfig, TrainConfig};
use crate::data::{self, TrainingDraws};
use crate::engine::{self, Batches, Engine, Net, NetState, fused};
use crate::evaluate::{self, EvalReport};
use crate::loss::Label;
use crate::metrics;
use crate::model::Discriminator;
use crate::rng::Keys;
use crate::target::{Scaling, Target};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use crate::engine::StepLosses;

/// Something that wants to hear about training as it goes: the command layer's progress bar,
/// history, animation frames, printing, plotting and checkpointing.
pub trait Observer {
    /// Called after every iteration; `trainer.iteration` counts the iterations done. Must be
    /// cheap: it runs 10 000 times.
    fn stepped(&mut self, trainer: &Trainer, losses: &StepLosses) -> Result<()>;
    /// Called every [`PROGRESS_EVERY`] iterations and after the last one, with that iteration's
    /// losses `(d_real, d_fake, g)`; `completed` counts finished iterations.
    fn progress(&mut self, completed: u64, losses: (f64, f64, f64)) -> Result<()>;
    /// Called after each evaluation.
    fn evaluated(&mut self, trainer: &Trainer, report: &EvalReport) -> Result<()>;
    /// Asked after every iteration but the last: `true` stops training there.
    fn stop_requested(&mut self) -> bool {
        false
    }
}

/// One row of the training history (`history.csv`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HistoryRow {
    /// Iterations completed when the row was taken.
    pub iteration: u64,
    pub d_loss_real: f64,
    pub d_loss_fake: f64,
    pub g_loss: f64,
    /// The discriminator's accuracy on that iteration's real and fake training batches.
    pub d_acc_real: f64,
    pub d_acc_fake: f64,
}

/// Collects history rows on the training device and copies them to the host in one transfer
/// per [`HistoryRecorder::drain`], so recording never waits for the device.
#[derive(Debug, Default)]
pub struct HistoryRecorder {
    iterations: Vec<u64>,
    stats: Vec<Tensor>, // each [5]
}

impl HistoryRecorder {
    /// Records a row given as its statistics, `[5]` in [`StepLosses::stats`]' order.
    pub fn record_stats(&mut self, iteration: u64, stats: Tensor) {
        self.iterations.push(iteration);
        self.stats.push(stats);
    }

    pub fn len(&self) -> usize {
        self.iterations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.iterations.is_empty()
    }

    /// The rows recorded since the last drain.
    pub fn drain(&mut self) -> Vec<HistoryRow> {
        if self.stats.is_empty() {
            return Vec::new();
        }
        let stacked = Tensor::stack(&self.stats, 0).to_kind(Kind::Double).to_device(Device::Cpu);
        let flat: Vec<f64> = Vec::try_from(stacked.view([-1])).expect("history converts to Vec<f64>");
        let rows = self
            .iterations
            .iter()
            .zip(flat.chunks_exact(5))
            .map(|(&iteration, v)| HistoryRow {
                iteration,
                d_loss_real: v[0],
                d_loss_fake: v[1],
                g_loss: v[2],
                d_acc_real: v[3],
                d_acc_fake: v[4],
            })
            .collect();
        self.iterations.clear();
        self.stats.clear();
        rows
    }
}

/// Iterations between two [`Observer::progress`] calls: often enough for a live progress bar,
/// rarely enough that reading the losses (a host synchronisation on CUDA) costs nothing.
pub const PROGRESS_EVERY: u64 = 100;

/// A run: its configuration, its engine, where it is, and the loop's reusable buffers.
pub struct Trainer {
    model_cfg: ModelConfig,
    cfg: TrainConfig,
    /// `cfg.target`, parsed.
    target: Target,
    /// How real points are mapped onto the networks' axes, and generated ones back.
    scaling: Scaling,
    /// Which engine computes the updates; a run may change it when resumed.
    engine_kind: EngineKind,
    engine: Box<dyn Engine>,
    /// Iterations completed so far.
    iteration: u64,
    /// The latent points whose images every evaluation measures, fixed for the whole run so
    /// that the metrics follow the generator, not the draw: `[metric_samples, latent_dim]`.
    metric_latent: Tensor,
    /// The real points the metrics compare against, drawn once per run from a host-side stream
    /// of their own, so that an evaluation's metrics depend on the generator alone.
    reference: Vec<(f32, f32)>,
    /// The run's stream, for the evaluations' draws.
    keys: Keys,
    /// The iterations' batches.
    draws: TrainingDraws,
}

impl Trainer {
    /// Builds both networks on `device` with `engine_kind`'s engine, with the first weights
    /// `cfg.seed` draws.
    pub fn new(
        model_cfg: &ModelConfig,
        cfg: &TrainConfig,
        engine_kind: EngineKind,
        device: Device,
    ) -> Result<Self> {
        let target = Target::new(&cfg.target)?;
        let scaling = scaling_for(model_cfg, &target);
        Trainer::with_scaling(model_cfg, cfg, engine_kind, device, scaling)
    }

    /// [`Trainer::new`] with the data scaled by `scaling` (a resumed run's, as recorded).
    pub fn with_scaling(
        model_cfg: &ModelConfig,
        cfg: &TrainConfig,
        engine_kind: EngineKind,
        device: Device,
        scaling: Scaling,
    ) -> Result<Self> {
        let target = Target::new(&cfg.target)?;
        Trainer::for_target(model_cfg, cfg, engine_kind, device, &target, scaling)
    }

    /// [`Trainer::with_scaling`] with `cfg.target` already parsed as `target`: an ensemble's
    /// members share one, since parsing evaluates it over the whole domain.
    pub fn for_target(
        model_cfg: &ModelConfig,
        cfg: &TrainConfig,
        engine_kind: EngineKind,
        device: Device,
        target: &Target,
        scaling: Scaling,
    ) -> Result<Self> {
        model_cfg.validate()?;
        cfg.validate_numbers()?;
        scaling.validate()?;
        if target.config() != &cfg.target {
            anyhow::bail!("the target given is not the configuration's");
        }
        let target = target.clone();
        let keys = Keys::new(&[cfg.seed], device);
        let metric_latent = data::metric_latent(&keys, cfg.metric_samples, model_cfg.latent_dim).get(0);
        let engine = engine::build(
            engine_kind,
            model_cfg,
            cfg.adam,
            &engine::initial_state(model_cfg, Net::Generator, &keys),
            &engine::initial_state(model_cfg, Net::Discriminator, &keys),
            device,
        )?;
        let draws =
            TrainingDraws::new(&[cfg.seed], &target, scaling, cfg.batch, model_cfg.latent_dim, device);
        Ok(Trainer {
            model_cfg: model_cfg.clone(),
            cfg: cfg.clone(),
            engine_kind,
            engine,
            iteration: 0,
            metric_latent,
            reference: target
                .real_pairs(cfg.metric_samples as usize, &mut ChaCha8Rng::seed_from_u64(cfg.seed)),
            target,
            scaling,
            keys,
            draws,
        })
    }

    /// The run saved in `dir` under `manifest`, rebuilt on `device` with `engine_kind`'s engine
    /// (any engine continues any engine's checkpoint) to continue under `cfg` (the saved
    /// configuration, possibly with more epochs). Every file is checked before anything is
    /// built.
    pub fn resumed(
        dir: &std::path::Path,
        manifest: &crate::checkpoint::Manifest,
        cfg: &TrainConfig,
        engine_kind: EngineKind,
        device: Device,
    ) -> Result<Self> {
        let [generator, discriminator] = crate::checkpoint::load_state(dir, manifest, device)?;
        let mut trainer = Trainer::with_scaling(&manifest.model, cfg, engine_kind, device, manifest.scaling)?;
        trainer.continue_from(manifest.iteration, &generator, &discriminator)?;
        Ok(trainer)
    }

    pub fn device(&self) -> Device {
        self.metric_latent.device()
    }

    pub fn model_cfg(&self) -> &ModelConfig {
        &self.model_cfg
    }

    pub fn cfg(&self) -> &TrainConfig {
        &self.cfg
    }

    /// The function the run learns, with its domain and range.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// How points are scaled between the data's axes and the networks'.
    pub fn scaling(&self) -> Scaling {
        self.scaling
    }

    pub fn engine_kind(&self) -> EngineKind {
        self.engine_kind
    }

    /// Iterations completed so far.
    pub fn iteration(&self) -> u64 {
        self.iteration
    }

    /// The latent points whose images every evaluation measures: `[metric_samples, latent_dim]`.
    pub fn metric_latent(&self) -> &Tensor {
        &self.metric_latent
    }

    /// The engine, for reading the networks and optimiser state.
    pub fn engine(&self) -> &dyn Engine {
        self.engine.as_ref()
    }

    /// Makes this freshly built run continue a saved one: its networks and Adams take the
    /// saved states (one run each) and it counts `iteration` iterations done.
    pub fn continue_from(
        &mut self,
        iteration: u64,
        generator: &NetState,
        discriminator: &NetState,
    ) -> Result<()> {
        self.engine.import(Net::Generator, generator)?;
        self.engine.import(Net::Discriminator, discriminator)?;
        self.iteration = iteration;
        Ok(())
    }

    /// What a checkpoint of the run now holds.
    pub fn snapshot(&self) -> crate::checkpoint::Snapshot<'_> {
        crate::checkpoint::Snapshot {
            model: &self.model_cfg,
            train: &self.cfg,
            scaling: self.scaling,
            iteration: self.iteration,
            device: self.device(),
            generator: self.engine.export(Net::Generator),
            discriminator: self.engine.export(Net::Discriminator),
        }
    }

    /// Makes this run's networks, optimisers and iteration those of `other` (which may use the
    /// other engine): the next [`Trainer::step`]s of both then start from the same state.
    pub fn load_state_of(&mut self, other: &Trainer) -> Result<()> {
        let (generator, discriminator) =
            (other.engine.export(Net::Generator), other.engine.export(Net::Discriminator));
        self.continue_from(other.iteration, &generator, &discriminator)
    }

    /// One iteration of the tutorial: a discriminator update on real points, a separate one on
    /// fake points, then a generator update through the (unchanged) discriminator.
    ///
    /// What an iteration draws depends on the run's seed and the iteration alone.
    pub fn step(&mut self) -> StepLosses {
        let drawn = self.draws.at(self.iteration);
        let batches =
            Batches { real: &drawn.real, latent_half: &drawn.latent_half, latent_full: &drawn.latent_full };
        let losses = self.engine.step(&batches);
        self.iteration += 1;
        losses
    }

    /// The tutorial's evaluation: the discriminator's accuracy on `eval_samples` fresh real and
    /// generated points, which the report also carries (on the data's axes) for plotting, and
    /// the quality metrics of the generator's images of the fixed metric batch. The report
    /// names the last iteration done (0 before any).
    pub fn evaluate(&mut self) -> EvalReport {
        let (n, dim) = (self.cfg.eval_samples, self.model_cfg.latent_dim);
        let (real, latent) = data::eval_draws(&self.keys, &self.target, self.scaling, n, dim, self.iteration);
        let fake = self.engine.forward(Net::Generator, &latent);
        let measured = self.generate(&self.metric_latent);
        let metrics = metrics::measure(&measured, &self.reference, &self.target);
        let score = |points: &Tensor| self.engine.forward(Net::Discriminator, points);
        let (acc_real, acc_fake) = evaluate::accuracies(&score(&real), &score(&fake))[0];
        EvalReport {
            iteration: self.iteration.saturating_sub(1),
            acc_real,
            acc_fake,
            real: data::to_pairs(&self.scaling.to_data(&real.get(0))),
            fake: data::to_pairs(&self.scaling.to_data(&fake.get(0))),
            metrics,
        }
    }

    /// The generator's points for `latent` (`[n, latent_dim]`), on the host, on the data's axes.
    pub fn generate(&self, latent: &Tensor) -> Vec<(f32, f32)> {
        let points = self.engine.forward(Net::Generator, &latent.unsqueeze(0)).get(0);
        data::to_pairs(&self.scaling.to_data(&points))
    }

    /// Whether the iteration just completed is followed by an evaluation: every
    /// `cfg.eval_every` iterations, and after the last.
    pub fn evaluation_due(&self) -> bool {
        self.iteration.is_multiple_of(self.cfg.eval_every) || self.iteration == self.cfg.epochs
    }

    /// Runs iterations until `cfg.epochs` are complete, evaluating when
    /// [`Trainer::evaluation_due`], and telling `observer` as it goes. Stops early, after a
    /// whole iteration, when the observer asks to; stops with a [`Diverged`] error if a loss
    /// stops being finite (checked every [`PROGRESS_EVERY`] iterations and before each
    /// evaluation).
    pub fn fit(&mut self, observer: &mut dyn Observer) -> Result<FitEnd> {
        while self.iteration < self.cfg.epochs {
            let losses = self.step();
            observer.stepped(self, &losses)?;
            let done = self.iteration == self.cfg.epochs;
            let evaluate = self.evaluation_due();
            if self.iteration.is_multiple_of(PROGRESS_EVERY) || done || evaluate {
                let (d_real, d_fake, g) = losses.values()[0];
                if ![d_real, d_fake, g].iter().all(|l| l.is_finite()) {
                    return Err(Diverged {
                        iteration: self.iteration - 1,
                        what: format!("the losses are not finite (d_real {d_real}, d_fake {d_fake}, g {g})"),
                    }
                    .into());
                }
                observer.progress(self.iteration, (d_real, d_fake, g))?;
            }
            if evaluate {
                let report = self.evaluate();
                observer.evaluated(self, &report)?;
            }
            if !done && observer.stop_requested() {
                return Ok(FitEnd::Stopped);
            }
        }
        Ok(FitEnd::Completed)
    }
}

/// How [`Trainer::fit`] ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitEnd {
    /// Every iteration of `cfg.epochs` is done.
    Completed,
    /// The observer asked to stop; the iterations done so far are complete.
    Stopped,
}

/// Training produced a NaN or infinite loss or weight.
#[derive(Debug)]
pub struct Diverged {
    /// The 0-based iteration after which it was found.
    pub iteration: u64,
    /// What is not finite, as a clause: "the losses are not finite (…)".
    pub what: String,
}

impl std::fmt::Display for Diverged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "training diverged at iteration {}: {}", self.iteration, self.what)
    }
}

impl std::error::Error for Diverged {}

/// The tutorial's first experiment: a fresh discriminator trained alone for `batches`
/// batches, each `half_batch` real points then `half_batch` fakes uniform in `[-1, 1]²`, each
/// its own update. `each` receives the 0-based batch index and the accuracies on that batch's
/// real and fake points, measured after its updates as the tutorial does.
pub fn discriminator_alone(
    model_cfg: &ModelConfig,
    cfg: &TrainConfig,
    batches: u64,
    device: Device,
    mut each: impl FnMut(u64, f64, f64) -> Result<()>,
) -> Result<()> {
    model_cfg.validate()?;
    cfg.validate()?;
    seed_everything(cfg.seed, device);
    let keys = Keys::new(&[cfg.seed], device);
    let first = engine::initial_state(model_cfg, Net::Discriminator, &keys);
    let discriminator = Discriminator::new(model_cfg, first.params);
    let mut opt = Adam::new(discriminator.network().params(), cfg.adam);
    let target = Target::new(&cfg.target)?;
    let scaling = scaling_for(model_cfg, &target);
    let mut fake = Tensor::zeros([1, cfg.half_batch(), 2], (Kind::Float, device));
    for i in 0..batches {
        let real_points = data::real_points(&target, scaling, cfg.half_batch(), device).unsqueeze(0);
        let _ = fused::update_discriminator(&discriminator, &mut opt, &real_points, Label::Real);
        let _ = fake.uniform_(-1.0, 1.0);
        let _ = fused::update_discriminator(&discriminator, &mut opt, &fake, Label::Fake);
        let (acc_real, acc_fake) =
            evaluate::accuracies(&discriminator.score(&real_points), &discriminator.score(&fake))[0];
        each(i, acc_real, acc_fake)?;
    }
    Ok(())
}

/// How a run of `model_cfg` on `target` scales its data: onto `[-1, 1]` on both axes for a
/// tanh generator, whose output cannot leave that square, not at all for a linear one.
pub fn scaling_for(model_cfg: &ModelConfig, target: &Target) -> Scaling {
    match model_cfg.generator_output {
        Activation::Tanh => Scaling::onto_unit_square(target),
        _ => Scaling::IDENTITY,
    }
}

/// Seeds libtorch's CPU generator, and the CUDA ones when used: the stream of the commands'
/// own draws (sample, evaluate, explore), which are not part of a run.
pub fn seed_everything(seed: u64, device: Device) {
    tch::manual_seed(seed as i64);
    if device.is_cuda() {
        tch::Cuda::manual_seed_all(seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_advances_the_iteration_and_both_optimisers() {
        let _rng = crate::rng_lock();
        let cfg = TrainConfig { epochs: 3, eval_every: 1, ..TrainConfig::default() };
        for kind in [EngineKind::Fused, EngineKind::Autograd] {
            let mut t = Trainer::new(&ModelConfig::default(), &cfg, kind, Device::Cpu).unwrap();
            let losses = t.step().values()[0];
            assert!(losses.0.is_finite() && losses.1.is_finite() && losses.2.is_finite(), "{kind}");
            let steps = |net| t.engine().export(net).steps;
            assert_eq!((steps(Net::Discriminator), steps(Net::Generator), t.iteration), (2, 1, 1), "{kind}");
        }
    }
}
