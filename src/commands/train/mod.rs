//! `gan1d train`: trains a run of K ≥ 1 members (one per seed), fresh or resumed, and writes
//! everything it leaves behind: the evaluation lines on stdout, checkpoints, plots, logs,
//! learning curves, animation and, for members, the leaderboard. Stops cleanly, with a
//! checkpoint, on SIGINT or SIGTERM.
//!
//! This file runs a run and says how it ended; `fresh.rs` and `resume.rs` set one up (every
//! input checked before anything is written), `level.rs` brings a resumed ensemble's members
//! level, `locks.rs` locks the folder; `observer.rs` reacts to training as it goes,
//! `logs.rs` keeps the CSV logs, `signals.rs` catches the stop signals. One path serves a
//! single run and an ensemble: the folder's [`Layout`] says where each member's files are.

mod fresh;
mod level;
mod locks;
mod logs;
mod observer;
mod resume;
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
use fresh::Created;
use level::Level;
use locks::lock_run_dir;
use logs::{CheckedLogs, Logs};
use observer::{MemberLog, RunObserver};
use resume::Pending;

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
        let one_line = crate::output::one_line;
        let mut lines: Vec<String> =
            self.error.iter().map(|e| format!("error: {}", one_line(&format!("{e:#}")))).collect();
        lines.extend(self.notes.iter().map(|note| format!("gan1d: {}", one_line(note))));
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
    /// Trains the run to its end and says how it ended.
    fn go(self, plan: &TrainPlan) -> Result<()> {
        let Run { dir, layout, mut trainer, mut observer, first_iteration, created, _locks } = self;
        let total = trainer.cfg().epochs;
        let started = Instant::now();
        observer.live_write(&trainer, crate::live::State::Training, None);
        let result = crate::failure::catch_libtorch(|| trainer.fit(&mut observer))
            .map_err(|e| too_large(e, trainer.model_cfg(), trainer.cfg(), trainer.members()));
        observer.bar.finish_and_clear();
        let end = result.and_then(|end| {
            if end == FitEnd::Stopped {
                observer.checkpoint_round(&mut trainer)?;
                observer.write_report(&trainer, "paused")?;
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
                let diverged = e.downcast_ref::<Diverged>().is_some();
                // A new run that committed nothing has put the folder back as it was (`undo`).
                if observer.saved_at.is_some() || created.is_none() {
                    let state =
                        if diverged { crate::live::State::Diverged } else { crate::live::State::Failed };
                    observer.live_write(&trainer, state, Some(crate::output::one_line(&format!("{e:#}"))));
                }
                let notes = observer.where_the_last_checkpoint_is(plan, diverged);
                return Err(Ending { exit_code: crate::exit_code(&e), error: Some(e), notes }.into());
            }
        };
        if end == FitEnd::Stopped
            && let Some(reason) = observer.early_stop.clone()
        {
            observer.finish()?;
            observer.write_report(&trainer, "stopped early (--patience)")?;
            observer.live_write(&trainer, crate::live::State::Stopped, None);
            crate::output::note(&format!(
                "gan1d: stopped early after {} of {total} iterations: {reason}; the best checkpoint is in {}",
                trainer.iteration(),
                checkpoint::best_dir(&dir).display()
            ));
            return Ok(());
        }
        if end == FitEnd::Stopped {
            observer.live_write(&trainer, crate::live::State::Paused, None);
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
        observer.write_report(&trainer, "finished")?;
        observer.live_write(&trainer, crate::live::State::Finished, None);
        let seconds = started.elapsed().as_secs_f64();
        let ran = total - first_iteration;
        let line = match layout {
            _ if ran == 0 => format!(
                "gan1d: the run in {} had already done its {total} iterations; its pictures are complete (pass \
                 --epochs with a larger total to train further)",
                dir.display()
            ),
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

/// `error`, with what made the run too large when it is an allocation that failed: the widest
/// layer's activations over a batch, which training holds several of.
pub(super) fn too_large(
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
pub(super) fn verbosity(plan: &TrainPlan) -> crate::progress::Verbosity {
    if plan.quiet { crate::progress::Verbosity::Quiet } else { crate::progress::Verbosity::Normal }
}

/// Refuses an engine that cannot train `members` members at once, before anything is written.
pub(super) fn check_engine(engine: Option<EngineKind>, members: usize) -> Result<()> {
    if engine == Some(EngineKind::Autograd) && members > 1 {
        bail!(
            "--engine autograd trains one member at a time, and this run has {members}; leave --engine out to \
             train them together"
        );
    }
    Ok(())
}

/// Resolves `--device` and `--engine` (native on the CPU, fused on CUDA, unless named), says
/// what `auto` picked, and sets libtorch's CPU threads.
pub(super) fn start_device(plan: &TrainPlan) -> Result<(Device, EngineKind)> {
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

use crate::live::shell_quote;
