//! Bringing a resumed ensemble's members level: members saved at different iterations (the
//! run was stopped while it saved them) train to where the others are first.

#[allow(unused_imports)]
use super::*;

/// What every trainer of a resumed run is built from.
pub(super) struct Level {
    pub(super) model_cfg: crate::config::ModelConfig,
    pub(super) cfg: TrainConfig,
    pub(super) scaling: crate::target::Scaling,
    pub(super) engine: EngineKind,
    pub(super) threads: usize,
    pub(super) device: Device,
    pub(super) seeds: Vec<u64>,
}

impl Level {
    /// The trainer of the members in `states` (each member's iteration and state, one run
    /// each), all those that train at one iteration, and its observer. Members saved at
    /// different iterations (the run was stopped while it saved them) are brought level
    /// first: those behind train to where the others are, with the others riding along in
    /// their places, which is exactly what they do in the whole run, and are saved there.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn bring_level(
        &self,
        plan: &TrainPlan,
        dir: &Path,
        layout: Layout,
        manifest: Option<EnsembleManifest>,
        pending: Vec<Pending>,
        mut states: Vec<(u64, [NetState; 2])>,
        mut statuses: Vec<Status>,
    ) -> Result<(Trainer, RunObserver)> {
        let trainer_at = |iteration: u64,
                          states: &[(u64, [NetState; 2])],
                          statuses: &[Status]|
         -> Result<Trainer> {
            let mut steps = [None, None];
            for ((_, state), status) in states.iter().zip(statuses) {
                if *status == Status::Live {
                    for (net, s) in state.iter().enumerate() {
                        if steps[net].is_some_and(|steps| steps != s.steps) {
                            bail!(
                                "--resume {}: the members' optimisers are at different steps",
                                dir.display()
                            );
                        }
                        steps[net] = Some(s.steps);
                    }
                }
            }
            let stack = |net: usize| {
                let rows: Vec<&NetState> = states.iter().map(|(_, s)| &s[net]).collect();
                NetState::stack(&rows, steps[net].unwrap_or(0))
            };
            let start = Start {
                seeds: self.seeds.clone(),
                saved: Some((iteration, [stack(0), stack(1)])),
                statuses: statuses.to_vec(),
            };
            crate::failure::catch_libtorch(|| {
                Trainer::new(&self.model_cfg, &self.cfg, self.engine, self.device, Some(self.scaling), start)
                    .and_then(|t| t.with_threads(self.threads))
            })
            .map_err(|e| too_large(e, &self.model_cfg, &self.cfg, self.seeds.len()))
        };
        let live_at = |states: &[(u64, [NetState; 2])], statuses: &[Status]| -> Vec<u64> {
            states.iter().zip(statuses).filter(|(_, s)| **s == Status::Live).map(|((i, _), _)| *i).collect()
        };
        let lowest = *live_at(&states, &statuses).iter().min().expect("a member trains");
        // The members' logs are made beside the members at that iteration; the others ride.
        let at_lowest: Vec<Status> = statuses
            .iter()
            .zip(&states)
            .map(|(s, (i, _))| if *s == Status::Live && *i != lowest { Status::Passenger } else { *s })
            .collect();
        let trainer = trainer_at(lowest, &states, &at_lowest)?;
        let members: Vec<MemberLog> = pending
            .into_iter()
            .enumerate()
            .map(|(k, member)| match member {
                Pending::Live { dir, logs, best, last_evaluation } => {
                    let mut member = MemberLog::new(dir, &trainer, k, logs, best, last_evaluation);
                    member.saved_at = Some(states[k].0);
                    member
                }
                Pending::Frozen { dir, standing } => MemberLog::frozen(dir, &trainer, k, standing),
            })
            .collect();
        let saved_at = manifest.as_ref().map_or(Some(lowest), |m| Some(m.iteration));
        let mut observer = RunObserver::new(dir, layout, plan, &trainer, members, manifest, saved_at)?;
        loop {
            let at = live_at(&states, &statuses);
            let lowest = *at.iter().min().expect("a member trains");
            let Some(next) = at.iter().copied().filter(|&i| i > lowest).min() else {
                let trainer = trainer_at(lowest, &states, &statuses)?;
                observer.bar = crate::progress::training_bar(trainer.cfg().epochs, verbosity(plan));
                return Ok((trainer, observer));
            };
            let behind: Vec<bool> =
                states.iter().zip(&statuses).map(|((i, _), s)| *s == Status::Live && *i == lowest).collect();
            crate::output::note(&format!(
                "gan1d: {} of the members were saved after {lowest} iterations and the rest after {next} (the run was \
                 stopped while it saved); training those behind to {next} first",
                behind.iter().filter(|&&b| b).count()
            ));
            let riding: Vec<Status> =
                statuses.iter().zip(&behind).map(|(s, &b)| if b { *s } else { Status::Passenger }).collect();
            let mut sub = trainer_at(lowest, &states, &riding)?;
            observer.bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            let end = crate::failure::catch_libtorch(|| sub.fit_to(next, &mut observer))
                .map_err(|e| too_large(e, &self.model_cfg, &self.cfg, self.seeds.len()))?;
            observer.checkpoint_round(&mut sub)?;
            if end == FitEnd::Stopped {
                let signal = observer.signals.received().expect("training stops only on a signal");
                let notes = vec![format!("resume with: {}", resume_command(plan, dir))];
                return Err(Ending { error: None, notes, exit_code: signal.exit_code }.into());
            }
            for k in 0..sub.members() {
                if behind[k] {
                    match sub.status(k) {
                        Status::Live => states[k] = (next, sub.member_state(k)),
                        diverged => statuses[k] = diverged,
                    }
                }
            }
        }
    }
}
