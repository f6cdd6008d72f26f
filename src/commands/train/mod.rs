//! `gan1d train`: trains a run of K ≥ 1 members (one per seed), fresh or resumed, and writes
//! everything it leaves behind: the evaluation lines on stdout, checkpoints, plots, logs,
//! learning curves, animation and, for members, the leaderboard. Stops cleanly, with a
//! checkpoint, on SIGINT or SIGTERM.
//!
//! This file sets a run up (fresh or resumed, every input checked before anything is written,
//! the folder locked) and says how it ended; `observer.rs` reacts to training as it goes,
//! `logs.rs` keeps the CSV logs, `signals.rs` catches the stop signals. One path serves a
//! single run and an ensemble: the folder's [`Layout`] says where each member's files are.

mod logs;
mod observer;
mod signals;

use std::fs::{self, File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use tch::Device;

use crate::checkpoint::{self, EnsembleManifest, Layout, Manifest};
use crate::config::{EngineKind, TrainConfig};
use crate::device::DeviceChoice;
use crate::engine::{self, Net, NetState};
use crate::plan::{Begin, Conflict, TrainPlan};
use crate::ranking::{self, Standing};
use crate::rows::MetricsRow;
use crate::train::{Diverged, FitEnd, Start, Status, Trainer};
use logs::{CheckedLogs, Logs};
use observer::{MemberLog, RunObserver};

pub fn train(plan: &TrainPlan) -> Result<()> {
    let run = match &plan.begin {
        Begin::Fresh { out, .. } => Run::fresh(plan, out)?,
        Begin::Resume(dir) => Run::resumed(plan, dir)?,
    };
    run.go(plan)
}

/// How `train` ended when it did not complete: stopped by a signal (exit code 128 + the
/// signal's number, as shells report it), or failed (the error's own exit code). Shown as the
/// error, if any, then notes on where the last checkpoint is and how to go on.
#[derive(Debug)]
pub struct Ending {
    error: Option<anyhow::Error>,
    notes: Vec<String>,
    pub exit_code: u8,
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut lines: Vec<String> = self.error.iter().map(|e| format!("error: {e:#}")).collect();
        lines.extend(self.notes.iter().map(|note| format!("gan1d: {note}")));
        write!(f, "{}", lines.join("\n"))
    }
}

impl std::error::Error for Ending {}

/// A run ready to train: its folder (locked), trainer and observer.
struct Run {
    dir: PathBuf,
    layout: Layout,
    trainer: Trainer,
    observer: RunObserver,
    /// The iteration the run starts from: 0, or the checkpoint's.
    first_iteration: u64,
    /// What a new run made before its first checkpoint, to be undone if it fails.
    created: Option<Created>,
    /// Held while the run writes into `dir`: its own lock, and in the members layout each
    /// member's, so that no run of a member alone writes beside it.
    _locks: Vec<File>,
}

impl Run {
    /// A new run into `--out`, from the flags: one member of `--seed` in the flat layout, or
    /// the members of `--seeds` in the members layout.
    fn fresh(plan: &TrainPlan, out: &Path) -> Result<Run> {
        let created = Created::note(out);
        let run = Run::fresh_unguarded(plan);
        match run {
            Ok(run) => Ok(Run { created: Some(created), ..run }),
            Err(e) => {
                created.undo();
                Err(e)
            }
        }
    }

    fn fresh_unguarded(plan: &TrainPlan) -> Result<Run> {
        let Begin::Fresh { out, overwrite, seeds } = &plan.begin else {
            bail!("a new run is trained into --out, not resumed");
        };
        let (model_cfg, cfg) = plan.configs()?;
        model_cfg.validate()?;
        cfg.validate()?;
        model_cfg.check_pack(&cfg)?;
        let target = crate::target::Target::new(&cfg.target)?;
        if plan.select == ranking::Select::Modes && target.plane().and_then(|p| p.mixture()).is_none() {
            bail!(
                "--select modes ranks members by the modes of a mixture target (ring, grid); {} has none: use \
                 --select energy",
                target.legend_label()
            );
        }
        let (layout, seeds) = match seeds {
            Some(list) => (Layout::Members, list.clone()),
            None => (Layout::Flat, vec![cfg.seed]),
        };
        check_engine(plan.engine, seeds.len())?;
        let dir = out.clone();
        if layout == Layout::Members && *overwrite {
            bail!(
                "--overwrite: an ensemble never replaces a folder; remove {} yourself, or train into another --out",
                dir.display()
            );
        }
        // Everything is checked before anything in the folder changes.
        let (device, engine) = start_device(plan)?;
        let refuse_an_earlier_run = || -> Result<()> {
            if let Some(what) = checkpoint::folder_within_a_run(&dir) {
                bail!(
                    "--out {}: that folder is {what}, which only that run writes; train into another --out",
                    dir.display()
                );
            }
            let Some(found) = checkpoint::run_evidence(&dir) else { return Ok(()) };
            let quoted = shell_quote(&dir.display().to_string());
            let holds_members = Layout::of(&dir) == Layout::Members || checkpoint::members_dir(&dir).exists();
            if !overwrite {
                let instead = if layout == Layout::Flat {
                    "replace it with `--overwrite`"
                } else {
                    "train into another --out"
                };
                bail!(
                    "--out {}: the folder already holds a run ({} exists); continue it with `gan1d train --resume {quoted}`, \
                     or {instead}",
                    dir.display(),
                    found.display(),
                );
            }
            if holds_members {
                bail!(
                    "--out {}: --overwrite replaces a single run, and the folder holds an ensemble ({} exists); remove \
                     it yourself, or train into another --out",
                    dir.display(),
                    found.display()
                );
            }
            Ok(())
        };
        refuse_an_earlier_run()?;
        super::writable_dir(&checkpoint::plots_dir(&dir), "--out")?;
        let mut locks = vec![lock_run_dir(&dir, &format!("--out {}", dir.display()))?];
        // Another process may have written a run in between; under the lock, nothing can.
        refuse_an_earlier_run()?;
        // With --overwrite, the earlier run's files stay until this run's first checkpoint.
        let trainer = crate::failure::catch_libtorch(|| {
            Trainer::new(&model_cfg, &cfg, engine, device, None, Start::fresh(&seeds))
                .and_then(|t| t.with_threads(plan.threads as usize))
        })
        .map_err(|e| too_large(e, &model_cfg, &cfg, seeds.len()))?;
        let manifest =
            (layout == Layout::Members).then(|| EnsembleManifest::new(seeds.clone(), plan.select, 0));
        let mut set_up = || -> Result<Vec<MemberLog>> {
            let mut members = Vec::with_capacity(seeds.len());
            for (k, &seed) in seeds.iter().enumerate() {
                let member_dir = layout.member_dir(&dir, seed);
                if layout == Layout::Members {
                    super::writable_dir(&checkpoint::best_dir(&member_dir), "--out")?;
                    locks.push(lock_run_dir(&member_dir, &format!("--out {}", dir.display()))?);
                }
                let logs = Logs::create(&member_dir, &trainer, k, layout == Layout::Flat)?;
                members.push(MemberLog::new(member_dir, &trainer, k, logs, None, None));
            }
            if let Some(manifest) = &manifest {
                checkpoint::write_ensemble_manifest(&dir, manifest)?;
            }
            Ok(members)
        };
        let members = match set_up() {
            Ok(members) => members,
            Err(e) => {
                // Nothing of this run is worth keeping: what it wrote goes (see discard_unsaved).
                if layout == Layout::Members {
                    let _ = fs::remove_dir_all(checkpoint::members_dir(&dir));
                    let _ = fs::remove_file(checkpoint::ensemble_manifest_path(&dir));
                }
                return Err(e);
            }
        };
        let observer = RunObserver::new(&dir, layout, plan, &trainer, members, manifest, None)?;
        if layout == Layout::Members {
            crate::output::note(&format!(
                "gan1d: training {} members (seeds {}) at once into {}",
                seeds.len(),
                crate::cli::SeedList(seeds.clone()),
                dir.display()
            ));
        }
        Ok(Run { dir, layout, trainer, observer, first_iteration: 0, created: None, _locks: locks })
    }

    /// The run in `dir`, every member continued to `--epochs` or the run's own total. Every
    /// member's checkpoint and logs are read and checked before anything is written.
    fn resumed(plan: &TrainPlan, dir: &Path) -> Result<Run> {
        let context = || format!("--resume {}", dir.display());
        // Checked once before anything is written into the folder, and read again under the
        // lock, which no other run can then change.
        let first_look = checkpoint::members_of(dir).with_context(context)?;
        check_resume_flags(plan, dir, first_look.2.as_ref())?;
        if first_look.0 == Layout::Flat {
            resumed_config(plan, dir, &checkpoint::read_manifest(dir).with_context(context)?)?;
        }
        super::writable_dir(&checkpoint::plots_dir(dir), "--resume")?;
        let mut locks = vec![lock_run_dir(dir, &context())?];
        let (layout, seeds, manifest) = checkpoint::members_of(dir).with_context(context)?;
        check_engine(plan.engine, seeds.len())?;
        let (device, engine) = start_device(plan)?;
        let select = manifest.as_ref().map(|m| m.select).unwrap_or_default();
        let earlier: Vec<Standing> = match layout {
            // Rewritten by every checkpoint round; a missing one is rebuilt (diverged members
            // then without their best evaluations), a damaged one refused.
            Layout::Members if !checkpoint::leaderboard_path(dir).exists() => Vec::new(),
            Layout::Members => {
                let manifest = manifest.as_ref().expect("the members layout has its manifest");
                super::read_standings(dir, manifest).map_err(|e| {
                    anyhow::anyhow!(
                        "--resume {}: {e:#}; move it away and the resume rebuilds it",
                        dir.display()
                    )
                })?
            }
            Layout::Flat => Vec::new(),
        };
        let diverged = manifest.as_ref().map(|m| m.diverged.clone()).unwrap_or_default();
        let mut loaded: Vec<Option<Loaded>> = Vec::new();
        for &seed in &seeds {
            if diverged.contains_key(&seed) {
                loaded.push(None);
                continue;
            }
            let member_dir = layout.member_dir(dir, seed);
            let context = || match layout {
                Layout::Flat => format!("--resume {}", dir.display()),
                Layout::Members => format!("--resume {}: member {seed}", dir.display()),
            };
            // A member's lock, once its folder holds a checkpoint (if not, reading it says so).
            if layout == Layout::Members && checkpoint::manifest_path(&member_dir).is_file() {
                locks.push(lock_run_dir(&member_dir, &context())?);
            }
            let member_manifest = checkpoint::read_manifest(&member_dir).with_context(context)?;
            if member_manifest.seed != seed {
                bail!("{}: it holds seed {}, not {seed}", context(), member_manifest.seed);
            }
            let cfg = resumed_config(plan, &member_dir, &member_manifest)?;
            let state =
                checkpoint::load_state(&member_dir, &member_manifest, device).with_context(context)?;
            let logs = Logs::check(&member_dir, &member_manifest, &cfg).with_context(context)?;
            loaded.push(Some(Loaded { dir: member_dir, manifest: member_manifest, cfg, state, logs }));
        }
        let Some(first) = loaded.iter().flatten().next() else {
            bail!("--resume {}: every member has diverged; there is nothing to train", dir.display());
        };
        let (model_cfg, cfg, scaling) =
            (first.manifest.model.clone(), first.cfg.clone(), first.manifest.scaling);
        for member in loaded.iter().flatten() {
            let same = member.manifest.model == model_cfg
                && member.manifest.scaling == scaling
                && TrainConfig { seed: 0, ..member.cfg.clone() } == TrainConfig { seed: 0, ..cfg.clone() };
            if !same {
                bail!(
                    "--resume {}: member {} differs from member {} in more than its seed; the folder mixes runs",
                    dir.display(),
                    member.manifest.seed,
                    first.manifest.seed
                );
            }
        }
        // Nothing was written so far; from here on the logs are rewritten.
        let mut states = Vec::with_capacity(seeds.len());
        let mut members = Vec::with_capacity(seeds.len());
        let mut statuses = Vec::with_capacity(seeds.len());
        for (entry, &seed) in loaded.into_iter().zip(&seeds) {
            match entry {
                Some(member) => {
                    let best = ranking::best(member.logs.metrics(), select).cloned();
                    let cell = crate::view::cell_size(&member.manifest.target()?);
                    let logs = member.logs.open(cell)?;
                    members.push(Pending::Live {
                        dir: member.dir,
                        logs,
                        best,
                        last_evaluation: member.manifest.last_evaluation,
                    });
                    statuses.push(Status::Live);
                    states.push((member.manifest.iteration, member.state));
                }
                // A member that diverged keeps its place, so that the others' arithmetic is the
                // same as before: a fresh run of its seed stands in, and its row of the
                // leaderboard stays.
                None => {
                    let at = diverged[&seed];
                    let standing = earlier.iter().find(|s| s.seed == seed).cloned();
                    let standing = standing.unwrap_or_else(|| Standing::new(seed, select, None, Some(at)));
                    members.push(Pending::Frozen { dir: layout.member_dir(dir, seed), standing });
                    statuses.push(Status::Diverged(at));
                    let keys = crate::rng::Keys::new(&[seed], device);
                    states.push((0, Net::BOTH.map(|net| engine::initial_state(&model_cfg, net, &keys))));
                }
            }
        }
        let level = Level { model_cfg, cfg, scaling, engine, threads: plan.threads as usize, device, seeds };
        let (trainer, observer) =
            level.bring_level(plan, dir, layout, manifest, members, states, statuses)?;
        remove_plots(dir, trainer.iteration(), false)?;
        let first_iteration = trainer.iteration();
        crate::progress::resume_at(&observer.bar, first_iteration);
        let what = match layout {
            Layout::Flat => dir.display().to_string(),
            Layout::Members => format!("the ensemble in {} ({} members)", dir.display(), trainer.members()),
        };
        let session = plan.session_flags();
        let session = if session.is_empty() {
            String::new()
        } else {
            format!(", with {} for this session", session.join(" "))
        };
        crate::output::note(&format!(
            "gan1d: resuming {what} after {first_iteration} iterations, to {}{session}",
            trainer.cfg().epochs
        ));
        Ok(Run {
            dir: dir.to_path_buf(),
            layout,
            trainer,
            observer,
            first_iteration,
            created: None,
            _locks: locks,
        })
    }

    /// Trains the run to its end and says how it ended.
    fn go(self, plan: &TrainPlan) -> Result<()> {
        let Run { dir, layout, mut trainer, mut observer, first_iteration, created, _locks } = self;
        let total = trainer.cfg().epochs;
        let started = Instant::now();
        let result = crate::failure::catch_libtorch(|| trainer.fit(&mut observer))
            .map_err(|e| too_large(e, trainer.model_cfg(), trainer.cfg(), trainer.members()));
        observer.bar.finish_and_clear();
        let end = result.and_then(|end| {
            if end == FitEnd::Stopped {
                observer.checkpoint_round(&mut trainer)?;
            }
            Ok(end)
        });
        let end = match end {
            Ok(end) => end,
            Err(e) => {
                observer.discard_unsaved();
                if observer.saved_at.is_none()
                    && let Some(created) = &created
                {
                    drop(_locks);
                    created.undo();
                }
                let notes =
                    observer.where_the_last_checkpoint_is(plan, e.downcast_ref::<Diverged>().is_some());
                return Err(Ending { exit_code: crate::exit_code(&e), error: Some(e), notes }.into());
            }
        };
        if end == FitEnd::Stopped {
            let signal = observer.signals.received().expect("training stops only on a signal");
            let whose = if layout == Layout::Members { "every member's checkpoint" } else { "checkpoint" };
            let notes = vec![
                format!(
                    "stopped by {} after {} of {total} iterations; {whose} written to {}",
                    signal.name,
                    trainer.iteration(),
                    dir.display()
                ),
                format!("resume with: {}", resume_command(plan, &dir)),
            ];
            return Err(Ending { error: None, notes, exit_code: signal.exit_code }.into());
        }
        observer.finish()?;
        let seconds = started.elapsed().as_secs_f64();
        let ran = total - first_iteration;
        let line = match layout {
            Layout::Flat => format!(
                "gan1d: {ran} iterations in {seconds:.2} s ({:.0} it/s, evaluations and checkpoints included); results \
                 in {}",
                ran as f64 / seconds,
                dir.display()
            ),
            Layout::Members => format!(
                "gan1d: {} members × {ran} iterations in {seconds:.2} s ({:.4} ms per member-iteration, evaluations and \
                 checkpoints included){}; results in {}",
                trainer.members(),
                seconds * 1e3 / (ran as f64 * trainer.members() as f64),
                observer.best_line(&trainer),
                dir.display()
            ),
        };
        crate::output::note(&line);
        Ok(())
    }
}

/// What a new run's folder lacked before the run began: the folder itself, its plots folder,
/// its lock file. A run that fails before its first checkpoint removes those it made, so the
/// folder is as it was.
struct Created {
    dir: Option<PathBuf>,
    plots: Option<PathBuf>,
    lock: Option<PathBuf>,
}

impl Created {
    fn note(dir: &Path) -> Created {
        let absent = |path: PathBuf| path.symlink_metadata().is_err().then_some(path);
        Created {
            dir: absent(dir.to_path_buf()),
            plots: absent(checkpoint::plots_dir(dir)),
            lock: absent(checkpoint::lock_path(dir)),
        }
    }

    /// Removes what was made: the lock file unless another run holds it, and the folders if
    /// they are empty.
    fn undo(&self) {
        if let Some(lock) = &self.lock
            && let Ok(file) = File::open(lock)
            && file.try_lock().is_ok()
        {
            let _ = fs::remove_file(lock);
        }
        for dir in [&self.plots, &self.dir].into_iter().flatten() {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// A member read and checked for a resume, nothing of it written yet.
struct Loaded {
    dir: PathBuf,
    manifest: Manifest,
    cfg: TrainConfig,
    state: [NetState; 2],
    logs: CheckedLogs,
}

/// A resumed member before the run's observer takes it.
#[allow(clippy::large_enum_variant)] // One per member, built once per resume.
enum Pending {
    Live {
        dir: PathBuf,
        logs: Logs,
        best: Option<MetricsRow>,
        last_evaluation: Option<checkpoint::LastEvaluation>,
    },
    Frozen {
        dir: PathBuf,
        standing: Standing,
    },
}

/// What every trainer of a resumed run is built from.
struct Level {
    model_cfg: crate::config::ModelConfig,
    cfg: TrainConfig,
    scaling: crate::target::Scaling,
    engine: EngineKind,
    threads: usize,
    device: Device,
    seeds: Vec<u64>,
}

impl Level {
    /// The trainer of the members in `states` (each member's iteration and state, one run
    /// each), all those that train at one iteration, and its observer. Members saved at
    /// different iterations (the run was stopped while it saved them) are brought level
    /// first: those behind train to where the others are, with the others riding along in
    /// their places, which is exactly what they do in the whole run, and are saved there.
    #[allow(clippy::too_many_arguments)]
    fn bring_level(
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

/// `error`, with what made the run too large when it is an allocation that failed: the widest
/// layer's activations over a batch, which training holds several of.
fn too_large(
    error: anyhow::Error,
    model_cfg: &crate::config::ModelConfig,
    cfg: &TrainConfig,
    members: usize,
) -> anyhow::Error {
    if !error.is::<crate::failure::OutOfMemory>() {
        return error;
    }
    let widest = model_cfg
        .generator_hidden
        .iter()
        .chain(&model_cfg.discriminator_hidden)
        .chain([&model_cfg.latent_dim])
        .copied()
        .max()
        .unwrap_or(1)
        .max(1) as u64;
    let bytes = (members as u64).saturating_mul(cfg.batch as u64).saturating_mul(widest).saturating_mul(4);
    let many = if members > 1 { format!("{members} members × ") } else { String::new() };
    error.context(format!(
        "the run is too large for memory: one layer's activations take {many}--batch {} × {widest} units × 4 bytes \
         = {}, and training keeps several; use a smaller --batch or narrower layers",
        cfg.batch,
        crate::failure::human_bytes(bytes)
    ))
}

/// The bar's verbosity for `plan`.
fn verbosity(plan: &TrainPlan) -> crate::progress::Verbosity {
    if plan.quiet { crate::progress::Verbosity::Quiet } else { crate::progress::Verbosity::Normal }
}

/// Refuses an engine that cannot train `members` members at once, before anything is written.
fn check_engine(engine: Option<EngineKind>, members: usize) -> Result<()> {
    if engine == Some(EngineKind::Autograd) && members > 1 {
        bail!(
            "--engine autograd trains one member at a time, and this run has {members}; leave --engine out to \
             train them together"
        );
    }
    Ok(())
}

/// Refuses the flags that no resume of the run in `dir` (with `manifest` in the members
/// layout) can apply: a ranking metric other than the ensemble's, or for a single run any; a
/// seed for an ensemble, whose members keep theirs. The flags of the run's settings are
/// checked against each member's checkpoint by [`resumed_config`].
fn check_resume_flags(plan: &TrainPlan, dir: &Path, manifest: Option<&EnsembleManifest>) -> Result<()> {
    let dir = dir.display();
    if plan.select_typed {
        match manifest {
            None => bail!(
                "--resume {dir}: --select ranks the members of an ensemble, and this is a single run; leave \
                 --select out"
            ),
            Some(m) if m.select != plan.select => bail!(
                "--resume {dir}: --select {} contradicts the ensemble's ranking by {}; leave --select out to \
                 continue it, or start a new ensemble with --out",
                plan.select,
                m.select
            ),
            Some(_) => {}
        }
    }
    if let Some(m) = manifest
        && let Some(seed) = plan.choices.run.seed
    {
        bail!(
            "--resume {dir}: --seed {seed} names one seed, and the ensemble's members keep their own ({}); leave \
             --seed out",
            crate::cli::SeedList(m.seeds.clone())
        );
    }
    Ok(())
}

/// The configuration to continue `manifest`'s run under: its own, with the new total if
/// `--epochs` is typed. A typed choice that would change the run is refused, naming the flag
/// and both values.
fn resumed_config(plan: &TrainPlan, dir: &Path, manifest: &Manifest) -> Result<TrainConfig> {
    let dir = dir.display();
    let typed_epochs = plan.choices.run.epochs;
    let epochs = typed_epochs.unwrap_or(manifest.train.epochs);
    // The new total is no contradiction: it is what `--epochs` is for on a resume.
    let wanted = TrainConfig { epochs, ..manifest.train.clone() };
    let conflicts =
        plan.choices.conflicts(&manifest.model, &wanted).with_context(|| format!("--resume {dir}"))?;
    if let Some(Conflict { flag, given, stored }) = conflicts.first() {
        bail!(
            "--resume {dir}: {flag} {given} contradicts the run's {flag} {stored}; leave {flag} out to continue the \
             run, or start a new run with --out"
        );
    }
    if epochs <= manifest.iteration {
        bail!(
            "--resume {dir}: the run has already done {} iterations{}; pass --epochs with a larger total to \
             train further",
            manifest.iteration,
            if typed_epochs.is_some() {
                format!(", so --epochs {epochs} leaves nothing to do")
            } else {
                String::new()
            }
        );
    }
    Ok(wanted)
}

/// Resolves `--device` and `--engine` (native on the CPU, fused on CUDA, unless named), says
/// what `auto` picked, and sets libtorch's CPU threads.
fn start_device(plan: &TrainPlan) -> Result<(Device, EngineKind)> {
    let device = plan.device.resolve()?;
    let engine = plan.engine.unwrap_or(EngineKind::for_device(device));
    if engine == EngineKind::Native && device != Device::Cpu {
        bail!(
            "--engine native runs on the CPU, and --device {} picked {}; use --engine fused there, or --device cpu",
            plan.device,
            checkpoint::device_name(device)
        );
    }
    if plan.device == DeviceChoice::Auto {
        crate::output::note(&format!("gan1d: --device auto picked {}", checkpoint::device_name(device)));
    }
    // The native engine spreads its members over --threads itself; libtorch, which then only
    // draws and evaluates, keeps one thread, whose idle spinning would otherwise take a core.
    let libtorch_threads = if engine == EngineKind::Native { 1 } else { plan.threads as i32 };
    tch::set_num_threads(libtorch_threads);
    Ok((device, engine))
}

/// Takes the folder's lock, so that two runs never write into one folder at once. `what`
/// begins each error: the flag and folder the user gave.
fn lock_run_dir(dir: &Path, what: &str) -> Result<File> {
    let path = checkpoint::lock_path(dir);
    let fail = || format!("{what}: cannot create the lock file {}", path.display());
    if path.symlink_metadata().is_ok_and(|m| !m.file_type().is_file()) {
        return Err(anyhow::anyhow!("it is not a regular file; remove it")).with_context(fail);
    }
    // Non-blocking: opening a named pipe put there instead would wait for a reader forever.
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .with_context(fail)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => bail!(
            "{what}: another `gan1d train` is writing into {}; wait for it to finish or use another folder",
            dir.display()
        ),
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("{what}: cannot lock {}", path.display()))
        }
    }
}

/// Removes the evaluation plots of iterations from `from` on (0-based), so that the folder
/// describes one run, and with `end_plots` the plots drawn at the end of a run. A resumed run
/// keeps those until it draws its own, so a resume that fails takes nothing away.
pub(super) fn remove_plots(dir: &Path, from: u64, end_plots: bool) -> Result<()> {
    let plots = checkpoint::plots_dir(dir);
    let fail = || format!("{}: cannot clear the plots of an earlier run", plots.display());
    for entry in fs::read_dir(&plots).with_context(fail)? {
        let path = entry.with_context(fail)?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let evaluation = name
            .strip_prefix("iter_")
            .and_then(|n| n.strip_suffix(".png"))
            .and_then(|n| n.parse::<u64>().ok());
        let end_plot = path == checkpoint::curves_plot_path(dir) || path == checkpoint::animation_path(dir);
        let leftover = name.starts_with('.') && name.contains(".tmp");
        let ours = evaluation.is_some_and(|i| i >= from) || (end_plots && end_plot) || leftover;
        if ours {
            fs::remove_file(&path).with_context(fail)?;
        }
    }
    Ok(())
}

/// The command that continues this run (or ensemble) where it stopped, for the user to copy.
/// The run's total is in its checkpoint; the settings that are not (device, threads…) are
/// repeated.
fn resume_command(plan: &TrainPlan, dir: &Path) -> String {
    let mut command = format!("gan1d train --resume {}", shell_quote(&dir.display().to_string()));
    for flag in plan.session_flags() {
        command += &format!(" {flag}");
    }
    if plan.quiet {
        command += " --quiet";
    }
    command
}

/// `text` as one word for a POSIX shell.
fn shell_quote(text: &str) -> String {
    let plain =
        !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "_-./=:@%+,".contains(c));
    if plain { text.to_string() } else { format!("'{}'", text.replace('\'', r"'\''")) }
}
