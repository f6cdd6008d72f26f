//! The training loop, for K ≥ 1 runs of one configuration, one per seed: [`Trainer`] owns
//! their engine, draws each iteration's random batches for all of them and hands them to the
//! engine in [`Trainer::step`], evaluates each member, and runs the one schedule in
//! [`Trainer::fit`]. A single run is K = 1; an ensemble is the same loop with more members.
//!
//! The random draws are made here, not in an engine, so that every engine sees the same
//! numbers. Every one is a pure function of a member's seed, the iteration and its place
//! (`rng`), so a resumed run draws what an uninterrupted one does, and member S of an ensemble
//! what seed S draws alone.
//!
//! A member whose losses stop being finite is frozen: it is no longer evaluated or saved, and
//! the others go on in their own rows, which it cannot affect. When none is left, training
//! fails with [`Diverged`]. This module never parses arguments, plots or names files.

use anyhow::{Result, bail};
use tch::{Device, Kind, Tensor};

use crate::config::{Activation, EngineKind, ModelConfig, TrainConfig, limits};
use crate::data::{self, TrainingDraws};
use crate::engine::{self, Batches, Engine, Net, NetState, fused};
use crate::evaluate::{self, EvalReport};
use crate::host::HostNetwork;
use crate::loss::{Loss, Term};
use crate::metrics;
use crate::rng::{Keys, Tag};
use crate::target::{Scaling, Target};

pub use crate::engine::StepLosses;
pub use crate::rows::HistoryRow;

/// Something that wants to hear about training as it goes: the command layer's progress bar,
/// logs, animation frames, printing, plotting and checkpointing.
pub trait Observer {
    /// Called after every iteration, with every member's logits; `trainer.iteration()` counts
    /// the iterations done. Must be cheap: it runs 10 000 times.
    fn stepped(&mut self, trainer: &mut Trainer, losses: &StepLosses) -> Result<()>;
    /// Called every [`PROGRESS_EVERY`] iterations and after the last one, with each member's
    /// losses `(d_real, d_fake, g)` of that iteration.
    fn progress(&mut self, trainer: &Trainer, losses: &[(f64, f64, f64)]) -> Result<()>;
    /// Called when `member` is frozen because its losses stopped being finite after the
    /// 0-based `iteration`, while other members go on.
    fn diverged(&mut self, trainer: &Trainer, member: usize, iteration: u64, what: &str) -> Result<()>;
    /// Called after each evaluation; `reports` has one entry per member, `None` for those that
    /// do not train.
    fn evaluated(&mut self, trainer: &mut Trainer, reports: &[Option<EvalReport>]) -> Result<()>;
    /// Asked after every iteration but the last: `true` stops training there.
    fn stop_requested(&mut self) -> bool {
        false
    }
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

/// Whether a member trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It trains, is evaluated and saved.
    Live,
    /// Its losses or weights stopped being finite after this 0-based iteration: frozen.
    Diverged(u64),
    /// It only holds its place, in any state: the others' arithmetic depends on their rows and
    /// on K, so a resume that trains some members alone keeps the rest riding along.
    Passenger,
}

/// What a member has of its own besides its rows of the engine: its seed, its stream and the
/// fixed batches its evaluations measure.
struct Member {
    /// The shared configuration with this member's seed.
    cfg: TrainConfig,
    keys: Keys,
    /// The latent points whose images every evaluation measures, fixed for the whole run so
    /// that the metrics follow the generator, not the draw: `[1, metric_samples, latent_dim]`.
    metric_latent: Tensor,
    /// The real points the metrics compare against, drawn once per run from a stream of their
    /// own, so that an evaluation's metrics depend on the generator alone.
    reference: Vec<(f32, f32)>,
    status: Status,
}

/// Where K members start from: their seeds, and either the first weights those seeds draw or
/// saved states.
#[derive(Debug)]
pub struct Start {
    pub seeds: Vec<u64>,
    /// Iterations already done and both networks' states (`[K, n]` each), or `None` for new
    /// runs.
    pub saved: Option<(u64, [NetState; 2])>,
    /// Each member's status; empty means every member is live.
    pub statuses: Vec<Status>,
}

impl Start {
    /// New runs, one per seed.
    pub fn fresh(seeds: &[u64]) -> Start {
        Start { seeds: seeds.to_vec(), saved: None, statuses: Vec::new() }
    }
}

/// K runs: their configuration, their engine, where they are, and each member's own data.
pub struct Trainer {
    model_cfg: ModelConfig,
    /// `cfg.target`, parsed.
    target: Target,
    /// How real points are mapped onto the networks' axes, and generated ones back.
    scaling: Scaling,
    /// Which engine computes the updates; a run may change it when resumed.
    engine_kind: EngineKind,
    engine: Box<dyn Engine>,
    /// Iterations completed so far by every member that trains.
    iteration: u64,
    members: Vec<Member>,
    /// The iterations' batches.
    draws: TrainingDraws,
    /// CPU threads for the members' work (`--threads`).
    threads: usize,
    /// The engine's state as exported since the last step, when K > 1, for reading members.
    exported: std::cell::RefCell<Option<[NetState; 2]>>,
}

impl Trainer {
    /// K = `start.seeds.len()` runs of `model_cfg` and `cfg` (whose own seed is not used) on
    /// `device` with `engine_kind`'s engine, data scaled by `scaling` (a resumed run's, as
    /// recorded, or [`scaling_for`] the target), from `start`.
    pub fn new(
        model_cfg: &ModelConfig,
        cfg: &TrainConfig,
        engine_kind: EngineKind,
        device: Device,
        scaling: Option<Scaling>,
        start: Start,
    ) -> Result<Self> {
        model_cfg.validate()?;
        cfg.validate_numbers()?;
        // Every engine packs each batch alone only when the packs divide it.
        model_cfg.check_pack(cfg)?;
        let k = start.seeds.len();
        if k == 0 || k > limits::MAX_MEMBERS {
            bail!("a run has 1 to {} members, not {k}", limits::MAX_MEMBERS);
        }
        // Parsing the target evaluates it over the whole domain: once for all members.
        let target = Target::new(&cfg.target)?;
        let scaling = scaling.unwrap_or_else(|| scaling_for(model_cfg, &target));
        scaling.validate()?;
        let statuses = if start.statuses.is_empty() { vec![Status::Live; k] } else { start.statuses };
        if statuses.len() != k {
            bail!("{} statuses for {k} members", statuses.len());
        }
        if !statuses.contains(&Status::Live) {
            bail!("a run needs a member that trains");
        }
        let all_keys = Keys::new(&start.seeds, device);
        let (iteration, [generator, discriminator]) = match start.saved {
            Some(saved) => saved,
            None => (0, Net::BOTH.map(|net| engine::initial_state(model_cfg, net, &all_keys))),
        };
        let rules = engine::Rules::of(cfg);
        let engine =
            engine::build(engine_kind, model_cfg, rules, cfg.batch, &generator, &discriminator, device)?;
        let members = start
            .seeds
            .iter()
            .zip(statuses)
            .map(|(&seed, status)| {
                let keys = Keys::new(&[seed], device);
                Member {
                    cfg: TrainConfig { seed, ..cfg.clone() },
                    metric_latent: data::metric_latent(&keys, cfg.metric_samples, model_cfg),
                    reference: data::reference_pairs(
                        seed,
                        Tag::MetricReference,
                        0,
                        &target,
                        cfg.metric_samples as usize,
                    ),
                    keys,
                    status,
                }
            })
            .collect();
        let draws = TrainingDraws::new(&start.seeds, &target, scaling, model_cfg, cfg, device);
        Ok(Trainer {
            model_cfg: model_cfg.clone(),
            target,
            scaling,
            engine_kind,
            engine,
            iteration,
            members,
            draws,
            threads: 1,
            exported: Default::default(),
        })
    }

    pub fn device(&self) -> Device {
        self.members[0].metric_latent.device()
    }

    pub fn model_cfg(&self) -> &ModelConfig {
        &self.model_cfg
    }

    /// The configuration, with the first member's seed.
    pub fn cfg(&self) -> &TrainConfig {
        &self.members[0].cfg
    }

    /// Member `k`'s configuration: the shared one with its seed.
    pub fn member_cfg(&self, k: usize) -> &TrainConfig {
        &self.members[k].cfg
    }

    /// K, the number of members.
    pub fn members(&self) -> usize {
        self.members.len()
    }

    pub fn seeds(&self) -> Vec<u64> {
        self.members.iter().map(|m| m.cfg.seed).collect()
    }

    pub fn status(&self, k: usize) -> Status {
        self.members[k].status
    }

    /// Whether member `k` trains: neither diverged nor a passenger.
    pub fn live(&self, k: usize) -> bool {
        self.members[k].status == Status::Live
    }

    /// Marks member `k` as diverged after the 0-based `iteration` because of `what` (its losses,
    /// or a weight a checkpoint found, are not finite). Fails with [`Diverged`] when no member is
    /// left to train.
    pub fn freeze(&mut self, k: usize, iteration: u64, what: &str) -> Result<(), Diverged> {
        if self.members[k].status == Status::Live {
            self.members[k].status = Status::Diverged(iteration);
        }
        if (0..self.members()).any(|k| self.live(k)) {
            return Ok(());
        }
        let what = if self.members() == 1 {
            what.to_string()
        } else {
            format!(
                "every member of the ensemble has diverged (the last, seed {}: {what})",
                self.members[k].cfg.seed
            )
        };
        Err(Diverged { iteration, what })
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

    /// Spreads the members over `threads` CPU threads where the engine can (the native one);
    /// every member's numbers stay those of its seed alone.
    pub fn with_threads(mut self, threads: usize) -> Result<Self> {
        self.engine.set_threads(threads)?;
        self.draws.set_threads(threads);
        self.threads = threads.max(1);
        Ok(self)
    }

    /// Iterations completed so far.
    pub fn iteration(&self) -> u64 {
        self.iteration
    }

    /// Member `k`'s fixed metric batch: `[metric_samples, latent_dim]`.
    pub fn metric_latent(&self, k: usize) -> Tensor {
        self.members[k].metric_latent.get(0)
    }

    /// The engine, for reading the networks and optimiser state.
    pub fn engine(&self) -> &dyn Engine {
        self.engine.as_ref()
    }

    /// Member `k`'s state of both networks, one run each (copies).
    pub fn member_state(&self, k: usize) -> [NetState; 2] {
        if self.members() == 1 {
            return Net::BOTH.map(|net| self.engine.export(net));
        }
        let mut exported = self.exported.borrow_mut();
        let both = exported.get_or_insert_with(|| Net::BOTH.map(|net| self.engine.export(net)));
        [both[0].member(k as i64), both[1].member(k as i64)]
    }

    /// One iteration of the tutorial for every member: a discriminator update on real points,
    /// a separate one on fake points, then a generator update through the (unchanged)
    /// discriminator. What an iteration draws depends on each seed and the iteration alone.
    pub fn step(&mut self) -> StepLosses {
        let cfg = self.cfg();
        if cfg.lr_half_life.is_some() {
            // Every engine takes the same float64 step sizes, so their updates stay alike.
            let scale = cfg.rate_scale(self.iteration);
            let (g, d) = (cfg.generator_adam().learning_rate, cfg.discriminator_adam().learning_rate);
            self.engine.set_learning_rates(g * scale, d * scale);
        }
        let drawn = self.draws.at(self.iteration);
        let batches = Batches {
            real: &drawn.real,
            latent_half: &drawn.latent_half,
            latent_full: &drawn.latent_full,
            penalty: drawn.penalty.as_ref(),
        };
        let losses = self.engine.step(&batches);
        self.iteration += 1;
        self.exported.take();
        losses
    }

    /// Member `k`'s `net` applied to `xs` (`[1, n, in]`) without gradients, as the member
    /// alone would compute it.
    fn forward(&self, k: usize, net: Net, xs: &Tensor) -> Tensor {
        self.engine.forward_member(k as i64, net, xs)
    }

    /// Member `k`'s generator's points for `latent` (`[n, latent_dim]`), on the host, on the
    /// data's axes.
    pub fn generate(&self, k: usize, latent: &Tensor) -> Vec<(f32, f32)> {
        let points = self.forward(k, Net::Generator, &latent.unsqueeze(0)).get(0);
        data::to_pairs(&self.scaling.to_data(&points))
    }

    /// The tutorial's evaluation of member `k`: the discriminator's accuracy on
    /// `eval_samples` fresh real and generated points, which the report also carries (on the
    /// data's axes) for plotting, and the quality metrics of the generator's images of the
    /// member's fixed metric batch. The report names the last iteration done (0 before any).
    pub fn evaluate_member(&self, k: usize) -> EvalReport {
        let pending = self.evaluate_points(k);
        let metrics = metrics::measure(&pending.measured, &self.members[k].reference, &self.target);
        pending.with_metrics(metrics)
    }

    /// Member `k`'s evaluation without its metrics, with the points the metrics measure.
    fn evaluate_points(&self, k: usize) -> PendingReport {
        let member = &self.members[k];
        let n = member.cfg.eval_samples;
        let (real, latent) =
            data::eval_draws(&member.keys, &self.target, self.scaling, n, &self.model_cfg, self.iteration);
        let fake = self.forward(k, Net::Generator, &latent);
        let measured = self.generate(k, &member.metric_latent.get(0));
        let score = |points: &Tensor| host_values(&self.forward(k, Net::Discriminator, points));
        let (acc_real, acc_fake) = evaluate::accuracies(member.cfg.loss, &score(&real), &score(&fake));
        let (real, fake) = (
            data::to_pairs(&self.scaling.to_data(&real.get(0))),
            data::to_pairs(&self.scaling.to_data(&fake.get(0))),
        );
        PendingReport {
            iteration: self.iteration.saturating_sub(1),
            acc_real,
            acc_fake,
            real,
            fake,
            measured,
        }
    }

    /// Member `k`'s discriminator's view ([`crate::view`]): its heat map over the target's
    /// box, and its pull on the generated points `fake` (on the data's axes). The member's
    /// real reference points place a paired loss's undecided level.
    pub fn view(&self, k: usize, fake: &[(f32, f32)]) -> crate::view::View {
        self.views(&[(k, fake)]).pop().expect("one view asked for")
    }

    /// [`Trainer::view`] of each `(member, generated points)`, in order, computed on the
    /// trainer's threads: each is a pure function of its member's networks and points, so the
    /// threads change no number. A few members at a time, each with its discriminator
    /// unpacked: a large ensemble of wide ones would not fit in memory at once.
    pub fn views(&self, fakes: &[(usize, &[(f32, f32)])]) -> Vec<crate::view::View> {
        let layers = self.model_cfg.discriminator_layers();
        let (target, scaling, pack) = (&self.target, self.scaling, self.model_cfg.pack as usize);
        let mut views = Vec::with_capacity(fakes.len());
        for chunk in fakes.chunks(8 * self.threads.max(1)) {
            let discriminators: Vec<HostNetwork> = chunk
                .iter()
                .map(|&(k, _)| {
                    let [_, discriminator] = self.member_state(k);
                    HostNetwork::new(&layers, &discriminator.params)
                        .expect("a member's discriminator fits its layers")
                })
                .collect();
            let jobs: Vec<_> = chunk
                .iter()
                .zip(&discriminators)
                .map(|(&(k, fake), discriminator)| {
                    let member = &self.members[k];
                    (fake, discriminator, member.cfg.loss, member.reference.as_slice())
                })
                .collect();
            views.extend(on_threads(&jobs, self.threads, |&(fake, discriminator, loss, real)| {
                crate::view::Lens { discriminator, loss, pack, scaling }.view(target, fake, real)
            }));
        }
        views
    }

    /// Every live member's evaluation, `None` for the others. The metrics, the costly part,
    /// are measured on the trainer's threads, member by member; each is a pure function of its
    /// member's points, so the threads change no number.
    pub fn evaluate(&self) -> Vec<Option<EvalReport>> {
        let pending: Vec<(usize, PendingReport)> =
            (0..self.members()).filter(|&k| self.live(k)).map(|k| (k, self.evaluate_points(k))).collect();
        let references: Vec<&[(f32, f32)]> = self.members.iter().map(|m| m.reference.as_slice()).collect();
        let target = &self.target;
        let measured = on_threads(&pending, self.threads, |(k, p)| {
            metrics::measure(&p.measured, references[*k], target)
        });
        let mut reports: Vec<Option<EvalReport>> = (0..self.members()).map(|_| None).collect();
        for ((k, p), m) in pending.into_iter().zip(measured) {
            reports[k] = Some(p.with_metrics(m));
        }
        reports
    }

    /// Whether the iteration just completed is followed by an evaluation: every
    /// `cfg.eval_every` iterations, and after the last.
    pub fn evaluation_due(&self) -> bool {
        let cfg = self.cfg();
        self.iteration.is_multiple_of(cfg.eval_every) || self.iteration == cfg.epochs
    }

    /// Freezes the live members whose `losses` are not finite, telling `observer` while others
    /// go on; fails with [`Diverged`] when none is left.
    fn check_divergence(&mut self, losses: &[(f64, f64, f64)], observer: &mut dyn Observer) -> Result<()> {
        let at = self.iteration - 1;
        for (k, &(d_real, d_fake, g)) in losses.iter().enumerate() {
            if !self.live(k) || [d_real, d_fake, g].iter().all(|l| l.is_finite()) {
                continue;
            }
            let what = format!("the losses are not finite (d_real {d_real}, d_fake {d_fake}, g {g})");
            self.freeze(k, at, &what)?;
            observer.diverged(self, k, at, &what)?;
        }
        Ok(())
    }

    /// Runs iterations until `cfg.epochs` are complete, evaluating when
    /// [`Trainer::evaluation_due`], and telling `observer` as it goes. Stops early, after a
    /// whole iteration, when the observer asks to; freezes a member whose losses stop being
    /// finite (checked every [`PROGRESS_EVERY`] iterations and before each evaluation), and
    /// stops with a [`Diverged`] error when every member has.
    pub fn fit(&mut self, observer: &mut dyn Observer) -> Result<FitEnd> {
        self.fit_to(self.cfg().epochs, observer)
    }

    /// [`Trainer::fit`], stopping after `until` iterations (at most `cfg.epochs`): what a run
    /// to `cfg.epochs` does up to there.
    pub fn fit_to(&mut self, until: u64, observer: &mut dyn Observer) -> Result<FitEnd> {
        let epochs = self.cfg().epochs;
        while self.iteration < until.min(epochs) {
            let losses = self.step();
            observer.stepped(self, &losses)?;
            let done = self.iteration == epochs;
            let evaluate = self.evaluation_due();
            if self.iteration.is_multiple_of(PROGRESS_EVERY) || done || evaluate {
                let values = losses.values();
                self.check_divergence(&values, observer)?;
                observer.progress(self, &values)?;
            }
            if evaluate {
                let reports = self.evaluate();
                observer.evaluated(self, &reports)?;
            }
            if !done && observer.stop_requested() {
                return Ok(FitEnd::Stopped);
            }
        }
        Ok(FitEnd::Completed)
    }
}

/// An evaluation whose metrics are still to be measured, with the points they measure.
struct PendingReport {
    iteration: u64,
    acc_real: f64,
    acc_fake: f64,
    real: Vec<(f32, f32)>,
    fake: Vec<(f32, f32)>,
    measured: Vec<(f32, f32)>,
}

impl PendingReport {
    fn with_metrics(self, metrics: metrics::Metrics) -> EvalReport {
        let PendingReport { iteration, acc_real, acc_fake, real, fake, .. } = self;
        EvalReport { iteration, acc_real, acc_fake, real, fake, metrics }
    }
}

/// `f` of each item, in order, the items split into `threads` contiguous runs, one per scoped
/// thread (none when one thread is asked for).
fn on_threads<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(items.len().div_ceil(threads))
            .map(|chunk| s.spawn(move || chunk.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("a worker thread does not panic")).collect()
    })
}

/// How [`Trainer::fit`] ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitEnd {
    /// Every iteration of `cfg.epochs` is done.
    Completed,
    /// The observer asked to stop; the iterations done so far are complete.
    Stopped,
}

/// Training produced a NaN or infinite loss or weight in every member.
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
/// real and fake points, measured after its updates as the tutorial does. Every draw comes
/// from the seed's stream, batch `i` at counter `i`.
pub fn discriminator_alone(
    model_cfg: &ModelConfig,
    cfg: &TrainConfig,
    batches: u64,
    device: Device,
    mut each: impl FnMut(u64, f64, f64) -> Result<()>,
) -> Result<()> {
    model_cfg.validate()?;
    cfg.validate()?;
    let keys = Keys::new(&[cfg.seed], device);
    // The tensor engine's discriminator, trained by the iteration's own update; its generator
    // is never used.
    let rules = engine::Rules { loss: Loss::Bce, ..engine::Rules::of(cfg) };
    let mut alone = fused::FusedEngine::new(model_cfg, rules, 1, device);
    alone.import(Net::Discriminator, &engine::initial_state(model_cfg, Net::Discriminator, &keys))?;
    let target = Target::new(&cfg.target)?;
    let scaling = scaling_for(model_cfg, &target);
    let half = cfg.half_batch();
    for i in 0..batches {
        let real = data::real_points(&keys, Tag::AloneReal, i, &target, scaling, half);
        let _ = alone.update_discriminator(&real, Term::Real);
        let fake = data::uniform_points(&keys, Tag::AloneFake, i, half, -1.0, 1.0);
        let _ = alone.update_discriminator(&fake, Term::Fake);
        let score = |points: &Tensor| host_values(&alone.forward(Net::Discriminator, points));
        let (acc_real, acc_fake) = evaluate::accuracies(Loss::Bce, &score(&real), &score(&fake));
        each(i, acc_real, acc_fake)?;
    }
    Ok(())
}

/// A float tensor's values on the host, in memory order.
fn host_values(t: &Tensor) -> Vec<f32> {
    Vec::try_from(t.to_device(Device::Cpu).to_kind(Kind::Float).contiguous().view([-1]))
        .expect("a float tensor converts to Vec<f32>")
}

/// How a run of `model_cfg` on `target` scales its data: onto `[-1, 1]` on both axes for a
/// tanh generator, whose output cannot leave that square, not at all for a linear one.
pub fn scaling_for(model_cfg: &ModelConfig, target: &Target) -> Scaling {
    match model_cfg.generator_output {
        Activation::Tanh => Scaling::onto_unit_square(target),
        _ => Scaling::IDENTITY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_advances_the_iteration_and_both_optimisers() {
        let cfg = TrainConfig { epochs: 3, eval_every: 1, ..TrainConfig::default() };
        for (kind, seeds) in [
            (EngineKind::Fused, vec![7]),
            (EngineKind::Autograd, vec![7]),
            (EngineKind::Fused, vec![1, 2, 3]),
        ] {
            let mut t =
                Trainer::new(&ModelConfig::default(), &cfg, kind, Device::Cpu, None, Start::fresh(&seeds))
                    .unwrap();
            let losses = t.step().values();
            assert_eq!(losses.len(), seeds.len());
            assert!(losses.iter().all(|l| l.0.is_finite() && l.1.is_finite() && l.2.is_finite()), "{kind}");
            let steps = |net| t.engine().export(net).steps;
            assert_eq!((steps(Net::Discriminator), steps(Net::Generator), t.iteration), (2, 1, 1), "{kind}");
        }
    }

    #[test]
    fn a_member_evaluates_as_its_seed_alone() {
        let cfg = TrainConfig { epochs: 5, ..TrainConfig::default() };
        let model = ModelConfig::default();
        let new = |seeds: &[u64]| {
            Trainer::new(&model, &cfg, EngineKind::Fused, Device::Cpu, None, Start::fresh(seeds)).unwrap()
        };
        let (alone, three) = (new(&[5]), new(&[4, 5, 6]));
        let (a, b) = (alone.evaluate_member(0), three.evaluate_member(1));
        assert_eq!((a.acc_real, a.acc_fake, &a.real, &a.fake), (b.acc_real, b.acc_fake, &b.real, &b.fake));
        assert_eq!(a.metrics.energy_distance, b.metrics.energy_distance);
        let other = three.evaluate_member(0);
        assert_ne!(a.fake, other.fake, "another member draws other points");
    }

    #[test]
    fn a_run_without_a_live_member_is_refused() {
        let start =
            Start { seeds: vec![1, 2], saved: None, statuses: vec![Status::Passenger, Status::Diverged(3)] };
        let cfg = TrainConfig::default();
        let made = Trainer::new(&ModelConfig::default(), &cfg, EngineKind::Fused, Device::Cpu, None, start);
        assert!(made.is_err());
    }

    #[test]
    fn a_packing_that_does_not_divide_a_batch_is_refused_by_the_trainer() {
        let model = ModelConfig { pack: 3, ..ModelConfig::default() };
        for kind in [EngineKind::Native, EngineKind::Fused, EngineKind::Autograd] {
            let made =
                Trainer::new(&model, &TrainConfig::default(), kind, Device::Cpu, None, Start::fresh(&[1]));
            let error = format!("{:#}", made.err().expect("--pack 3 does not divide 64"));
            assert!(error.contains("--pack 3 must divide the 64 points"), "{kind}: {error}");
        }
    }
}
