//! Many runs at once: [`Ensemble`] trains K runs of one configuration, one per seed, in one
//! process, on the fused engine with K members, whose parameters are stacked so that a
//! libtorch call serves all of them.
//!
//! Each member keeps a single-run [`Trainer`] beside the K-member engine: its record of the
//! member's configuration, target, metric batch and evaluation draws. The member's state is
//! copied into it when it is evaluated or saved ([`Ensemble::sync`]), so that an evaluation,
//! a checkpoint and a log row of a member are exactly those of a single run in that state.
//! A member draws what its seed draws alone (`rng`), so member S follows `train --seed S`.
//!
//! A member whose losses stop being finite is frozen: it is no longer evaluated or saved, and
//! the others go on. Each member's numbers stay in its own rows, so it cannot affect them.

pub mod leaderboard;

use anyhow::{Result, bail};
use tch::{Device, Kind};

use crate::config::{EngineKind, ModelConfig, TrainConfig};
use crate::data::TrainingDraws;
use crate::engine::{self, Batches, Engine, Net, NetState, StepLosses};
use crate::evaluate::EvalReport;
use crate::target::Target;
use crate::train::{Diverged, FitEnd, PROGRESS_EVERY, Trainer};

/// The most members one process trains.
pub const MAX_MEMBERS: usize = 4096;

/// What wants to hear about an ensemble's training as it goes (the command layer).
pub trait EnsembleObserver {
    /// After every iteration, with every member's logits.
    fn stepped(&mut self, ensemble: &mut Ensemble, losses: &StepLosses) -> Result<()>;
    /// Every [`PROGRESS_EVERY`] iterations and after the last.
    fn progress(&mut self, ensemble: &Ensemble, completed: u64) -> Result<()>;
    /// When member `member` is found to have diverged, after the 0-based `iteration`.
    fn diverged(&mut self, ensemble: &Ensemble, member: usize, iteration: u64, what: &str) -> Result<()>;
    /// After an evaluation of every live member, whose trainers are then in sync; `reports` has
    /// one entry per member, `None` for the frozen.
    fn evaluated(&mut self, ensemble: &mut Ensemble, reports: &[Option<EvalReport>]) -> Result<()>;
    /// Asked after every iteration but the last: `true` stops training there.
    fn stop_requested(&mut self) -> bool {
        false
    }
}

/// K runs of one configuration, trained together.
pub struct Ensemble {
    members: Vec<Trainer>,
    /// Whether each member's trainer holds its current state.
    synced: Vec<bool>,
    /// The iteration after which each frozen member diverged.
    diverged: Vec<Option<u64>>,
    /// Members that only hold their place: never evaluated, synced or reported (see
    /// [`Ensemble::with_passengers`]).
    passenger: Vec<bool>,
    engine: Box<dyn Engine>,
    /// The engine's state as exported after the last step, shared by the members' syncs.
    exported: Option<[NetState; 2]>,
    draws: TrainingDraws,
    iteration: u64,
}

impl Ensemble {
    /// New runs of `model_cfg` and `cfg`, one per seed (`cfg.seed` is not used).
    pub fn new(model_cfg: &ModelConfig, cfg: &TrainConfig, seeds: &[u64], device: Device) -> Result<Self> {
        if seeds.is_empty() || seeds.len() > MAX_MEMBERS {
            bail!("an ensemble has 1 to {MAX_MEMBERS} members, not {}", seeds.len());
        }
        // Parsing the target evaluates it over the whole domain: once for all members.
        let target = Target::new(&cfg.target)?;
        let scaling = crate::train::scaling_for(model_cfg, &target);
        let members = seeds
            .iter()
            .map(|&seed| {
                let cfg = TrainConfig { seed, ..cfg.clone() };
                Trainer::for_target(model_cfg, &cfg, EngineKind::Fused, device, &target, scaling)
            })
            .collect::<Result<Vec<_>>>()?;
        Ensemble::from_members(members)
    }

    /// The ensemble of `members`, each a run in any state, all of one configuration but the
    /// seed, and all at one iteration.
    pub fn from_members(members: Vec<Trainer>) -> Result<Self> {
        let passengers = vec![false; members.len()];
        Ensemble::with_passengers(members, &passengers)
    }

    /// [`Ensemble::from_members`] where the members marked in `passengers` only hold their
    /// places, in any state: the others train exactly as they do beside them in a whole
    /// ensemble, since a member's arithmetic depends on its place and the ensemble's size.
    pub fn with_passengers(members: Vec<Trainer>, passengers: &[bool]) -> Result<Self> {
        let riders: Vec<&Trainer> =
            members.iter().zip(passengers).filter(|(_, p)| !**p).map(|(m, _)| m).collect();
        let first =
            *riders.first().ok_or_else(|| anyhow::anyhow!("an ensemble needs a member that trains"))?;
        let (model_cfg, iteration) = (first.model_cfg().clone(), first.iteration());
        let base = TrainConfig { seed: 0, ..first.cfg().clone() };
        for member in &members {
            if member.model_cfg() != &model_cfg || (TrainConfig { seed: 0, ..member.cfg().clone() }) != base {
                bail!("the members of an ensemble differ in more than their seeds");
            }
        }
        for member in &riders {
            if member.iteration() != iteration {
                bail!(
                    "the members are at different iterations ({} and {}): an ensemble trains them in step",
                    iteration,
                    member.iteration()
                );
            }
        }
        let state = |net: Net| -> Result<NetState> {
            let rows: Vec<NetState> = members.iter().map(|m| m.engine().export(net)).collect();
            let mut steps = None;
            for (row, &passenger) in rows.iter().zip(passengers) {
                if !passenger {
                    if steps.is_some_and(|s| s != row.steps) {
                        bail!("the members' optimisers are at different steps");
                    }
                    steps = Some(row.steps);
                }
            }
            Ok(NetState::stack(&rows.iter().collect::<Vec<_>>(), steps.unwrap_or(0)))
        };
        let (adam, target, scaling, batch, device) =
            (first.cfg().adam, first.target().clone(), first.scaling(), first.cfg().batch, first.device());
        let (generator, discriminator) = (state(Net::Generator)?, state(Net::Discriminator)?);
        let engine = engine::build(EngineKind::Fused, &model_cfg, adam, &generator, &discriminator, device)?;
        let seeds: Vec<u64> = members.iter().map(|m| m.cfg().seed).collect();
        let draws = TrainingDraws::new(&seeds, &target, scaling, batch, model_cfg.latent_dim, device);
        let k = members.len();
        Ok(Ensemble {
            members,
            synced: vec![true; k],
            diverged: vec![None; k],
            passenger: passengers.to_vec(),
            engine,
            exported: None,
            draws,
            iteration,
        })
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn seeds(&self) -> Vec<u64> {
        self.members.iter().map(|m| m.cfg().seed).collect()
    }

    /// Iterations completed by every member.
    pub fn iteration(&self) -> u64 {
        self.iteration
    }

    /// The configuration shared by all members, with the first member's seed.
    pub fn cfg(&self) -> &TrainConfig {
        self.members[0].cfg()
    }

    pub fn model_cfg(&self) -> &ModelConfig {
        self.members[0].model_cfg()
    }

    pub fn device(&self) -> Device {
        self.members[0].device()
    }

    /// The iteration after which `member` diverged, if it did.
    pub fn diverged(&self, member: usize) -> Option<u64> {
        self.diverged[member]
    }

    /// Whether `member` still trains: neither diverged nor a passenger.
    pub fn live(&self, member: usize) -> bool {
        self.diverged[member].is_none() && !self.passenger[member]
    }

    /// Member `member`'s trainer, in its state after the last [`Ensemble::sync`].
    pub fn member(&self, member: usize) -> &Trainer {
        &self.members[member]
    }

    /// Copies `member`'s current state from the engine into its trainer.
    pub fn sync(&mut self, member: usize) -> Result<()> {
        if self.synced[member] {
            return Ok(());
        }
        let engine = &self.engine;
        let [generator, discriminator] =
            self.exported.get_or_insert_with(|| Net::BOTH.map(|net| engine.export(net)));
        let k = member as i64;
        self.members[member].continue_from(self.iteration, &generator.member(k), &discriminator.member(k))?;
        self.synced[member] = true;
        Ok(())
    }

    /// The members' trainers, each in its current state, frozen ones included (in their state
    /// when frozen, or their last).
    pub fn into_members(mut self) -> Result<Vec<Trainer>> {
        for member in 0..self.len() {
            if self.live(member) {
                self.sync(member)?;
            }
        }
        Ok(self.members)
    }

    /// One iteration of every member.
    pub fn step(&mut self) -> StepLosses {
        let drawn = self.draws.at(self.iteration);
        let batches =
            Batches { real: &drawn.real, latent_half: &drawn.latent_half, latent_full: &drawn.latent_full };
        let losses = self.engine.step(&batches);
        self.iteration += 1;
        self.synced.fill(false);
        self.exported = None;
        losses
    }

    /// Evaluates every live member as a single run would be evaluated in its state.
    pub fn evaluate(&mut self) -> Result<Vec<Option<EvalReport>>> {
        let mut reports = Vec::with_capacity(self.len());
        for member in 0..self.len() {
            if self.live(member) {
                self.sync(member)?;
                reports.push(Some(self.members[member].evaluate()));
            } else {
                reports.push(None);
            }
        }
        Ok(reports)
    }

    /// Whether the iteration just completed is followed by an evaluation.
    pub fn evaluation_due(&self) -> bool {
        let cfg = self.cfg();
        self.iteration.is_multiple_of(cfg.eval_every) || self.iteration == cfg.epochs
    }

    /// Freezes the members whose losses are not finite; fails when none is left.
    fn check_divergence(&mut self, losses: &StepLosses, observer: &mut dyn EnsembleObserver) -> Result<()> {
        let values = losses.losses().to_kind(Kind::Double).to_device(Device::Cpu);
        let values: Vec<f64> = Vec::try_from(values.view([-1])).expect("[K, 3] losses convert");
        for (member, row) in values.chunks_exact(3).enumerate() {
            if self.live(member) && !row.iter().all(|l| l.is_finite()) {
                let at = self.iteration - 1;
                self.diverged[member] = Some(at);
                let what =
                    format!("the losses are not finite (d_real {}, d_fake {}, g {})", row[0], row[1], row[2]);
                observer.diverged(self, member, at, &what)?;
            }
        }
        if (0..self.len()).all(|k| !self.live(k)) {
            return Err(Diverged {
                iteration: self.iteration - 1,
                what: "every member of the ensemble has diverged".to_string(),
            }
            .into());
        }
        Ok(())
    }

    /// Marks `member` as diverged after the 0-based `iteration` (a checkpoint found a weight
    /// that is not finite).
    pub fn freeze(&mut self, member: usize, iteration: u64) {
        self.diverged[member].get_or_insert(iteration);
    }

    /// Runs every member to `cfg.epochs`, as [`Trainer::fit`] runs one.
    pub fn fit(&mut self, observer: &mut dyn EnsembleObserver) -> Result<FitEnd> {
        self.fit_to(self.cfg().epochs, observer)
    }

    /// [`Ensemble::fit`], stopping after `until` iterations (at most `cfg.epochs`): what a run
    /// to `cfg.epochs` does up to there.
    pub fn fit_to(&mut self, until: u64, observer: &mut dyn EnsembleObserver) -> Result<FitEnd> {
        let epochs = self.cfg().epochs;
        while self.iteration < until.min(epochs) {
            let losses = self.step();
            observer.stepped(self, &losses)?;
            let done = self.iteration == epochs;
            let evaluate = self.evaluation_due();
            if self.iteration.is_multiple_of(PROGRESS_EVERY) || done || evaluate {
                self.check_divergence(&losses, observer)?;
                observer.progress(self, self.iteration)?;
            }
            if evaluate {
                let reports = self.evaluate()?;
                observer.evaluated(self, &reports)?;
            }
            if !done && observer.stop_requested() {
                return Ok(FitEnd::Stopped);
            }
        }
        Ok(FitEnd::Completed)
    }
}
