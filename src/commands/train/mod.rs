//! `gan1d train`: runs the tutorial's training, or resumes it, and writes everything a run
//! leaves behind: the evaluation lines on stdout, checkpoints, plots, logs, learning curves and
//! animation. Stops cleanly, with a checkpoint, on SIGINT or SIGTERM.
//!
//! This file sets a run up (fresh or resumed, locked) and says how it ended; `observer.rs`
//! reacts to training as it goes, `logs.rs` keeps the CSV logs, `signals.rs` catches the stop
//! signals.

mod ensemble;
mod logs;
mod observer;
mod signals;

use std::fs::{self, File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use tch::Device;

use crate::checkpoint::{self, Manifest};
use crate::cli::TrainArgs;
use crate::config::TrainConfig;
use crate::device::DeviceChoice;
use crate::train::{Diverged, FitEnd, Trainer};
use logs::Logs;
use observer::TrainObserver;

pub fn train(args: &TrainArgs) -> Result<()> {
    if let Some(seeds) = &args.seeds {
        return ensemble::train_fresh(args, &seeds.0);
    }
    if let Some(dir) = args.resume.as_deref().filter(|dir| checkpoint::is_ensemble(dir)) {
        return ensemble::train_resumed(args, dir);
    }
    let run = match &args.resume {
        None => Run::fresh(args)?,
        Some(dir) => Run::resumed(args, dir)?,
    };
    let Run { dir, mut trainer, mut observer, first_iteration, _lock } = run;
    let total = trainer.cfg().epochs;
    let started = Instant::now();
    let result = trainer.fit(&mut observer);
    observer.bar.finish_and_clear();
    let end = result.and_then(|end| {
        if end == FitEnd::Stopped {
            observer.checkpoint(&trainer)?;
        }
        Ok(end)
    });
    let end = match end {
        Ok(end) => end,
        Err(e) => {
            if observer.saved_at.is_none() {
                observer.logs.discard_staged();
            }
            let notes = observer.where_the_last_checkpoint_is(args, e.downcast_ref::<Diverged>().is_some());
            return Err(Ending { exit_code: crate::exit_code(&e), error: Some(e), notes }.into());
        }
    };
    if end == FitEnd::Stopped {
        let signal = observer.signals.received().expect("training stops only on a signal");
        let notes = vec![
            format!(
                "stopped by {} after {} of {total} iterations; checkpoint written to {}",
                signal.name,
                trainer.iteration(),
                dir.display()
            ),
            format!("resume with: {}", resume_command(args, &dir)),
        ];
        return Err(Ending { error: None, notes, exit_code: signal.exit_code }.into());
    }
    let seconds = started.elapsed().as_secs_f64();
    observer.finish()?;
    let ran = total - first_iteration;
    crate::output::note(&format!(
        "gan1d: {ran} iterations in {seconds:.2} s ({:.0} it/s, evaluations and checkpoints included); results in {}",
        ran as f64 / seconds,
        dir.display()
    ));
    Ok(())
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
    trainer: Trainer,
    observer: TrainObserver,
    /// The iteration the run starts from: 0, or the checkpoint's.
    first_iteration: u64,
    /// Held while the run writes into `dir`.
    _lock: File,
}

impl Run {
    /// A new run into `--out`, from the flags.
    fn fresh(args: &TrainArgs) -> Result<Run> {
        let (model_cfg, cfg) = args.configs();
        model_cfg.validate()?;
        cfg.validate()?;
        let dir = args.out.clone();
        // Everything is checked before anything in the folder changes.
        let device = start_device(args)?;
        let refuse_an_earlier_run = || -> Result<()> {
            match checkpoint::run_evidence(&dir) {
                Some(found) if !args.overwrite => bail!(
                    "--out {}: the folder already holds a run ({} exists); continue it with `gan1d train --resume {}`, \
                     or replace it with `--overwrite`",
                    dir.display(),
                    found.display(),
                    shell_quote(&dir.display().to_string())
                ),
                _ => Ok(()),
            }
        };
        refuse_an_earlier_run()?;
        super::writable_dir(&checkpoint::plots_dir(&dir), "--out")?;
        let lock = lock_run_dir(&dir, "--out")?;
        // Another process may have written a run in between; under the lock, nothing can.
        refuse_an_earlier_run()?;
        // With --overwrite, the earlier run's files stay until this run's first checkpoint.
        let trainer = Trainer::new(&model_cfg, &cfg, args.engine, device)?;
        let observer = TrainObserver::new(&dir, &trainer, args, Logs::create(&dir, &trainer)?)?;
        Ok(Run { dir, trainer, observer, first_iteration: 0, _lock: lock })
    }

    /// The run whose checkpoint is in `dir`, continued to `--epochs` or its own total.
    fn resumed(args: &TrainArgs, dir: &Path) -> Result<Run> {
        let read = || checkpoint::read_manifest(dir).with_context(|| format!("--resume {}", dir.display()));
        // Checked once before anything is written into the folder, and read again under the
        // lock, which no other run can then change.
        resumed_config(args, dir, &read()?)?;
        super::writable_dir(&checkpoint::plots_dir(dir), "--resume")?;
        let lock = lock_run_dir(dir, "--resume")?;
        let manifest = read()?;
        let cfg = resumed_config(args, dir, &manifest)?;
        let device = start_device(args)?;
        let trainer = Trainer::resumed(dir, &manifest, &cfg, args.engine, device)?;
        let logs = Logs::reopen(dir, &manifest, &trainer)?;
        remove_plots(dir, manifest.iteration, false)?;
        let mut observer = TrainObserver::new(dir, &trainer, args, logs)?;
        observer.saved_at = Some(manifest.iteration);
        observer.last_evaluation = manifest.last_evaluation;
        crate::progress::resume_at(&observer.bar, manifest.iteration);
        crate::output::note(&format!(
            "gan1d: resuming {} after {} iterations, to {}",
            dir.display(),
            manifest.iteration,
            cfg.epochs
        ));
        Ok(Run {
            dir: dir.to_path_buf(),
            trainer,
            observer,
            first_iteration: manifest.iteration,
            _lock: lock,
        })
    }
}

/// The configuration to continue `manifest`'s run under: its own, with the new total if
/// `--epochs` is given. A flag that would change the run is refused, naming both values.
fn resumed_config(args: &TrainArgs, dir: &Path, manifest: &Manifest) -> Result<TrainConfig> {
    let (model_cfg, flags) = args.configs();
    let (saved, saved_model) = (&manifest.train, &manifest.model);
    let dir = dir.display();
    let widths = |w: &[i64]| crate::cli::Widths(w.to_vec()).to_string();
    let conflicts: [(&str, &str, String, String); 12] = [
        ("target", "--target", flags.target.expression.clone(), saved.target.expression.clone()),
        ("domain", "--domain", flags.target.domain.to_string(), saved.target.domain.to_string()),
        ("activation", "--activation", model_cfg.activation.to_string(), saved_model.activation.to_string()),
        (
            "g_output",
            "--g-output",
            model_cfg.generator_output.to_string(),
            saved_model.generator_output.to_string(),
        ),
        ("latent_dim", "--latent-dim", model_cfg.latent_dim.to_string(), saved_model.latent_dim.to_string()),
        (
            "g_hidden",
            "--g-hidden",
            widths(&model_cfg.generator_hidden),
            widths(&saved_model.generator_hidden),
        ),
        (
            "d_hidden",
            "--d-hidden",
            widths(&model_cfg.discriminator_hidden),
            widths(&saved_model.discriminator_hidden),
        ),
        ("batch", "--batch", flags.batch.to_string(), saved.batch.to_string()),
        ("seed", "--seed", flags.seed.to_string(), saved.seed.to_string()),
        ("eval_every", "--eval-every", flags.eval_every.to_string(), saved.eval_every.to_string()),
        (
            "history_every",
            "--history-every",
            flags.history_every.to_string(),
            saved.history_every.to_string(),
        ),
        (
            "learning_rate",
            "--learning-rate",
            flags.adam.learning_rate.to_string(),
            saved.adam.learning_rate.to_string(),
        ),
    ];
    for (id, flag, given, stored) in conflicts {
        if args.was_given(id) && given != stored {
            bail!(
                "--resume {dir}: {flag} {given} contradicts the run's {id} {stored}; leave {flag} out to \
                 continue the run, or start a new run with --out"
            );
        }
    }
    let epochs = if args.was_given("epochs") { flags.epochs } else { saved.epochs };
    if epochs <= manifest.iteration {
        bail!(
            "--resume {dir}: the run has already done {} iterations{}; pass --epochs with a larger total to \
             train further",
            manifest.iteration,
            if args.was_given("epochs") {
                format!(", so --epochs {epochs} leaves nothing to do")
            } else {
                String::new()
            }
        );
    }
    Ok(TrainConfig { epochs, ..saved.clone() })
}

/// Resolves `--device`, says what `auto` picked, and sets libtorch's CPU threads.
fn start_device(args: &TrainArgs) -> Result<Device> {
    let device = args.device.resolve()?;
    if args.device == DeviceChoice::Auto {
        crate::output::note(&format!("gan1d: --device auto picked {}", checkpoint::device_name(device)));
    }
    tch::set_num_threads(args.threads as i32);
    Ok(device)
}

/// Takes the folder's lock, so that two runs never write into one folder at once.
fn lock_run_dir(dir: &Path, flag: &str) -> Result<File> {
    let path = checkpoint::lock_path(dir);
    let fail = || format!("{flag} {}: cannot create the lock file {}", dir.display(), path.display());
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
            "{flag} {}: another `gan1d train` is writing into this folder; wait for it to finish or use another folder",
            dir.display()
        ),
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("{flag} {}: cannot lock {}", dir.display(), path.display()))
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
fn resume_command(args: &TrainArgs, dir: &Path) -> String {
    let mut command = format!("gan1d train --resume {}", shell_quote(&dir.display().to_string()));
    if args.was_given("device") {
        command += &format!(" --device {}", args.device);
    }
    if args.was_given("engine") {
        command += &format!(" --engine {}", args.engine);
    }
    if args.was_given("threads") {
        command += &format!(" --threads {}", args.threads);
    }
    if let Some(n) = args.checkpoint_every {
        command += &format!(" --checkpoint-every {n}");
    }
    if args.quiet {
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
