//! `gan1d train`: runs the tutorial's training, or resumes it, and writes everything a run
//! leaves behind: the evaluation lines on stdout, checkpoints, plots, logs, learning curves and
//! animation. Stops cleanly, with a checkpoint, on SIGINT or SIGTERM.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use indicatif::ProgressBar;
use plotters::style::RGBColor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use signal_hook::consts::{SIGINT, SIGTERM};
use tch::Device;
use tch::Tensor;

use crate::checkpoint::{LastEvaluation, Manifest};
use crate::cli::TrainArgs;
use crate::config::TrainConfig;
use crate::device::DeviceChoice;
use crate::evaluate::EvalReport;
use crate::plot::{self, Frame, Panel, Series, Style};
use crate::progress::{self, Verbosity};
use crate::runlog::{self, CsvLog};
use crate::train::{Diverged, FitEnd, HistoryRecorder, HistoryRow, Observer, StepLosses, Trainer};
use crate::{checkpoint, data};

pub fn train(args: &TrainArgs) -> Result<()> {
    let run = match &args.resume {
        None => Run::fresh(args)?,
        Some(dir) => Run::resumed(args, dir)?,
    };
    let Run { dir, mut trainer, mut observer, first_iteration, _lock } = run;
    let total = trainer.cfg.epochs;
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
                trainer.iteration,
                dir.display()
            ),
            format!("resume with: {}", resume_command(args, &dir)),
        ];
        return Err(Ending { error: None, notes, exit_code: signal.exit_code }.into());
    }
    let seconds = started.elapsed().as_secs_f64();
    observer.finish()?;
    let ran = total - first_iteration;
    eprintln!(
        "gan1d: {ran} iterations in {seconds:.2} s ({:.0} it/s, evaluations and checkpoints included); results in {}",
        ran as f64 / seconds,
        dir.display()
    );
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
        super::writable_dir(&checkpoint::plots_dir(&dir), "--out")?;
        let lock = lock_run_dir(&dir, "--out")?;
        remove_plots(&dir, 0, true)?;
        let device = start_device(args)?;
        let trainer = Trainer::new(&model_cfg, &cfg, device)?;
        let observer = TrainObserver::new(&dir, &trainer, args, Logs::create(&dir, &trainer)?)?;
        Ok(Run { dir, trainer, observer, first_iteration: 0, _lock: lock })
    }

    /// The run whose checkpoint is in `dir`, continued to `--epochs` or its own total.
    fn resumed(args: &TrainArgs, dir: &Path) -> Result<Run> {
        let read = || checkpoint::read_manifest(dir).with_context(|| format!("--resume {}", dir.display()));
        // Checked once before anything is written into the folder, and read again under the
        // lock, which no other run can then change.
        resumed_config(args, &read()?)?;
        super::writable_dir(&checkpoint::plots_dir(dir), "--resume")?;
        let lock = lock_run_dir(dir, "--resume")?;
        let manifest = read()?;
        let cfg = resumed_config(args, &manifest)?;
        let device = start_device(args)?;
        let trainer = checkpoint::resume(dir, &manifest, &cfg, device)?;
        remove_plots(dir, manifest.iteration, false)?;
        let logs = Logs::reopen(dir, &trainer)?;
        let mut observer = TrainObserver::new(dir, &trainer, args, logs)?;
        observer.saved_at = Some(manifest.iteration);
        observer.last_evaluation = manifest.last_evaluation;
        observer.bar.set_position(manifest.iteration);
        eprintln!(
            "gan1d: resuming {} after {} iterations, to {}",
            dir.display(),
            manifest.iteration,
            cfg.epochs
        );
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
fn resumed_config(args: &TrainArgs, manifest: &Manifest) -> Result<TrainConfig> {
    let (model_cfg, flags) = args.configs();
    let (saved, saved_model) = (&manifest.train, &manifest.model);
    let dir = &manifest_dir(args);
    let conflicts: [(&str, &str, String, String); 6] = [
        ("latent_dim", "--latent-dim", model_cfg.latent_dim.to_string(), saved_model.latent_dim.to_string()),
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

fn manifest_dir(args: &TrainArgs) -> String {
    args.resume.as_deref().unwrap_or(&args.out).display().to_string()
}

/// Resolves `--device`, says what `auto` picked, and sets libtorch's CPU threads.
fn start_device(args: &TrainArgs) -> Result<Device> {
    let device = args.device.resolve()?;
    if args.device == DeviceChoice::Auto {
        eprintln!("gan1d: --device auto picked {}", checkpoint::device_name(device));
    }
    tch::set_num_threads(args.threads as i32);
    Ok(device)
}

/// Takes the folder's lock, so that two runs never write into one folder at once.
fn lock_run_dir(dir: &Path, flag: &str) -> Result<File> {
    let path = checkpoint::lock_path(dir);
    let file =
        OpenOptions::new().create(true).truncate(false).write(true).open(&path).with_context(|| {
            format!("{flag} {}: cannot create the lock file {}", dir.display(), path.display())
        })?;
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
fn remove_plots(dir: &Path, from: u64, end_plots: bool) -> Result<()> {
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

/// The command that continues this run where it stopped, for the user to copy. The run's total
/// is in its checkpoint; the settings that are not (device, threads…) are repeated.
fn resume_command(args: &TrainArgs, dir: &Path) -> String {
    let mut command = format!("gan1d train --resume {}", shell_quote(&dir.display().to_string()));
    if args.was_given("device") {
        command += &format!(" --device {}", args.device);
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

/// SIGINT and SIGTERM, caught so that training stops after a whole iteration and writes a
/// checkpoint. A second signal of the same kind ends the process at once: the checkpoint being
/// written stays atomic.
struct StopSignals {
    flags: Vec<(Signal, Arc<AtomicBool>)>,
}

#[derive(Debug, Clone, Copy)]
struct Signal {
    name: &'static str,
    exit_code: u8,
}

impl StopSignals {
    fn install() -> Result<Self> {
        let mut flags = Vec::new();
        for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            let flag = Arc::new(AtomicBool::new(false));
            let exit_code = 128 + number as u8;
            let register = || -> std::io::Result<()> {
                signal_hook::flag::register_conditional_shutdown(
                    number,
                    exit_code as i32,
                    Arc::clone(&flag),
                )?;
                signal_hook::flag::register(number, Arc::clone(&flag))?;
                Ok(())
            };
            register().with_context(|| format!("cannot install a handler for {name}"))?;
            flags.push((Signal { name, exit_code }, flag));
        }
        Ok(StopSignals { flags })
    }

    fn received(&self) -> Option<Signal> {
        self.flags.iter().find(|(_, flag)| flag.load(Ordering::Relaxed)).map(|(signal, _)| *signal)
    }
}

/// Frames in the training animation (plus one of the untrained generator).
const FRAMES: u64 = 50;
/// Points per animation frame: enough to show the shape, few enough to read each dot.
const FRAME_POINTS: i64 = 200;
/// History rows collected on the device before one copy to the host and the CSV file.
const HISTORY_FLUSH: usize = 100;
/// History rows averaged in the learning curves, which are otherwise too noisy to read.
const SMOOTHING_ROWS: usize = 20;

/// The run's three CSV logs, open for appending, with the rows already in them.
struct Logs {
    history_log: CsvLog,
    history: Vec<HistoryRow>,
    metrics_log: CsvLog,
    evaluations: Vec<Evaluation>,
    frames_log: CsvLog,
    frames: Vec<Frame>,
}

impl Logs {
    /// New, empty logs (an earlier run's are replaced), with the untrained generator's frame.
    fn create(dir: &Path, trainer: &Trainer) -> Result<Logs> {
        let mut logs = Logs {
            history_log: CsvLog::create(&checkpoint::history_csv_path(dir), runlog::HISTORY_HEADER)?,
            history: Vec::new(),
            metrics_log: CsvLog::create(&checkpoint::metrics_csv_path(dir), &runlog::metrics_header())?,
            evaluations: Vec::new(),
            frames_log: CsvLog::create(&checkpoint::frames_csv_path(dir), runlog::FRAMES_HEADER)?,
            frames: Vec::new(),
        };
        logs.add_frame(0, trainer.generate(&frame_latent(trainer)))?;
        Ok(logs)
    }

    /// The logs of the run being resumed, keeping what was logged up to its checkpoint. The
    /// animation keeps the earlier frames that fall on the new frame spacing, which are those an
    /// uninterrupted run to the new total would have drawn.
    fn reopen(dir: &Path, trainer: &Trainer) -> Result<Logs> {
        let reached = trainer.iteration;
        let spacing = frame_every(&trainer.cfg);
        let history = CsvLog::reopen(
            &checkpoint::history_csv_path(dir),
            runlog::HISTORY_HEADER,
            parse_history_row,
            |row: &HistoryRow| row.iteration < reached,
        )?;
        let metrics_header = runlog::metrics_header();
        let metrics = CsvLog::reopen(
            &checkpoint::metrics_csv_path(dir),
            &metrics_header,
            |fields| Evaluation::parse(&metrics_header, fields),
            |e: &Evaluation| e.iteration < reached,
        )?;
        let frames = CsvLog::reopen(
            &checkpoint::frames_csv_path(dir),
            runlog::FRAMES_HEADER,
            parse_frame_row,
            |&(done, _)| done <= reached && done.is_multiple_of(spacing),
        )?;
        let missing = |path: PathBuf, what: &str| {
            eprintln!(
                "gan1d: warning: {} is missing, so the {what} starts at iteration {reached}",
                path.display()
            )
        };
        let (history_log, history) = match history {
            Some(found) => found,
            None => {
                missing(checkpoint::history_csv_path(dir), "loss history");
                (CsvLog::create(&checkpoint::history_csv_path(dir), runlog::HISTORY_HEADER)?, Vec::new())
            }
        };
        let (metrics_log, evaluations) = match metrics {
            Some(found) => found,
            None => {
                missing(checkpoint::metrics_csv_path(dir), "metrics log");
                (CsvLog::create(&checkpoint::metrics_csv_path(dir), &metrics_header)?, Vec::new())
            }
        };
        let (frames_log, points) = match frames {
            Some(found) => found,
            None => {
                missing(checkpoint::frames_csv_path(dir), "animation");
                (CsvLog::create(&checkpoint::frames_csv_path(dir), runlog::FRAMES_HEADER)?, Vec::new())
            }
        };
        let mut frames: Vec<Frame> = Vec::new();
        let mut frame_of = None;
        for (done, point) in points {
            if frame_of != Some(done) {
                frames.push(Frame { caption: frame_caption(done), generated: Vec::new() });
                frame_of = Some(done);
            }
            frames.last_mut().expect("a frame was just pushed").generated.push(point);
        }
        Ok(Logs { history_log, history, metrics_log, evaluations, frames_log, frames })
    }

    fn add_frame(&mut self, iterations_done: u64, generated: Vec<(f32, f32)>) -> Result<()> {
        for &point in &generated {
            self.frames_log.append(&runlog::frame_row(iterations_done, point))?;
        }
        self.frames.push(Frame { caption: frame_caption(iterations_done), generated });
        Ok(())
    }
}

fn frame_caption(iterations_done: u64) -> String {
    if iterations_done == 0 { "untrained".to_string() } else { format!("after {iterations_done} iterations") }
}

/// Iterations between two animation frames.
fn frame_every(cfg: &TrainConfig) -> u64 {
    (cfg.epochs / FRAMES).max(1)
}

/// The latent points the animation follows: the first of the run's fixed metric batch.
fn frame_latent(trainer: &Trainer) -> Tensor {
    trainer.metric_latent.narrow(0, 0, FRAME_POINTS.min(trainer.cfg.metric_samples))
}

fn parse_history_row(fields: &[&str]) -> Option<HistoryRow> {
    let [iteration, d_loss_real, d_loss_fake, g_loss, d_acc_real, d_acc_fake] = fields else { return None };
    Some(HistoryRow {
        iteration: iteration.parse().ok()?,
        d_loss_real: d_loss_real.parse().ok()?,
        d_loss_fake: d_loss_fake.parse().ok()?,
        g_loss: g_loss.parse().ok()?,
        d_acc_real: d_acc_real.parse().ok()?,
        d_acc_fake: d_acc_fake.parse().ok()?,
    })
}

fn parse_frame_row(fields: &[&str]) -> Option<(u64, (f32, f32))> {
    let [done, x, y] = fields else { return None };
    Some((done.parse().ok()?, (x.parse().ok()?, y.parse().ok()?)))
}

/// One evaluation as the learning curves need it.
struct Evaluation {
    /// 0-based, as printed.
    iteration: u64,
    acc_real: f64,
    acc_fake: f64,
    residual_mean: f64,
    residual_p95: f64,
    ks: f64,
    energy_distance: f64,
}

impl Evaluation {
    fn new(report: &EvalReport) -> Evaluation {
        let m = &report.metrics;
        Evaluation {
            iteration: report.iteration,
            acc_real: report.acc_real,
            acc_fake: report.acc_fake,
            residual_mean: m.residual_mean,
            residual_p95: m.residual_p95,
            ks: m.ks,
            energy_distance: m.energy_distance,
        }
    }

    /// Reads a `metrics.csv` row: every field must be a number, and the curves' are kept.
    fn parse(header: &str, fields: &[&str]) -> Option<Evaluation> {
        let names: Vec<&str> = header.split(',').collect();
        if fields.len() != names.len() || fields[1..].iter().any(|f| f.parse::<f64>().is_err()) {
            return None;
        }
        let value = |name: &str| fields[names.iter().position(|n| *n == name)?].parse::<f64>().ok();
        Some(Evaluation {
            iteration: fields[0].parse().ok()?,
            acc_real: value("acc_real")?,
            acc_fake: value("acc_fake")?,
            residual_mean: value("residual_mean")?,
            residual_p95: value("residual_p95")?,
            ks: value("ks")?,
            energy_distance: value("energy_distance")?,
        })
    }
}

/// Reacts to training as it goes; see the module documentation for what it writes.
struct TrainObserver {
    out: PathBuf,
    bar: ProgressBar,
    verbosity: Verbosity,
    curve: Vec<(f64, f64)>,
    history_every: u64,
    recorder: HistoryRecorder,
    logs: Logs,
    frame_every: u64,
    frame_latent: Tensor,
    frame_real: Vec<(f32, f32)>,
    checkpoint_every: Option<u64>,
    /// The iteration of the last checkpoint written, if any.
    saved_at: Option<u64>,
    last_evaluation: Option<LastEvaluation>,
    signals: StopSignals,
}

impl TrainObserver {
    fn new(out: &Path, trainer: &Trainer, args: &TrainArgs, logs: Logs) -> Result<Self> {
        let frame_latent = frame_latent(trainer);
        let mut rng = ChaCha8Rng::seed_from_u64(trainer.cfg.seed.wrapping_add(1));
        let verbosity = if args.quiet { Verbosity::Quiet } else { Verbosity::Normal };
        Ok(TrainObserver {
            out: out.to_path_buf(),
            bar: progress::training_bar(trainer.cfg.epochs, verbosity),
            verbosity,
            curve: data::curve(101),
            history_every: trainer.cfg.history_every,
            recorder: HistoryRecorder::default(),
            logs,
            frame_every: frame_every(&trainer.cfg),
            frame_real: data::real_pairs(frame_latent.size()[0] as usize, &mut rng),
            frame_latent,
            checkpoint_every: args.checkpoint_every,
            saved_at: None,
            last_evaluation: None,
            signals: StopSignals::install()?,
        })
    }

    /// Writes a checkpoint of the trainer as it is now, after the logs it covers.
    fn checkpoint(&mut self, trainer: &Trainer) -> Result<()> {
        if self.saved_at == Some(trainer.iteration) {
            return Ok(());
        }
        self.flush_history()?;
        checkpoint::save(&self.out, trainer, self.last_evaluation)?;
        self.saved_at = Some(trainer.iteration);
        Ok(())
    }

    /// After a failure: where the last complete checkpoint is, and how to go on from it.
    fn where_the_last_checkpoint_is(&self, args: &TrainArgs, diverged: bool) -> Vec<String> {
        let dir = self.out.display();
        match self.saved_at {
            None => vec!["no checkpoint of this run was written before the error".to_string()],
            Some(iteration) if diverged => {
                vec![format!("the last good checkpoint, after {iteration} iterations, is kept in {dir}")]
            }
            Some(iteration) => vec![
                format!("the last complete checkpoint, after {iteration} iterations, is in {dir}"),
                format!("resume with: {}", resume_command(args, &self.out)),
            ],
        }
    }

    fn flush_history(&mut self) -> Result<()> {
        for row in self.recorder.drain() {
            self.logs.history_log.append(&runlog::history_row(&row))?;
            self.logs.history.push(row);
        }
        Ok(())
    }

    /// Writes what needs the whole run: the learning curves and the animation.
    fn finish(&mut self) -> Result<()> {
        self.flush_history()?;
        plot::panels(&checkpoint::curves_plot_path(&self.out), &self.curve_panels())?;
        plot::animation(
            &checkpoint::animation_path(&self.out),
            &self.logs.frames,
            &self.frame_real,
            &self.curve,
        )
    }

    fn curve_panels(&self) -> Vec<Panel> {
        let smoothed = |value: fn(&HistoryRow) -> f64| -> Vec<(f64, f64)> {
            self.logs
                .history
                .windows(SMOOTHING_ROWS.min(self.logs.history.len()).max(1))
                .map(|w| {
                    let last = w.last().unwrap().iteration as f64;
                    (last, w.iter().map(value).sum::<f64>() / w.len() as f64)
                })
                .collect()
        };
        let series = |label: &str, points, color, style| Series { label: label.into(), points, color, style };
        let line = |label: &str, points, color| series(label, points, color, Style::Line);
        let dotted = |label: &str, points, color| series(label, points, color, Style::LineAndDots);
        let dots = |label: &str, points, color| series(label, points, color, Style::Dots);
        let per_eval = |value: fn(&Evaluation) -> f64| -> Vec<(f64, f64)> {
            self.logs.evaluations.iter().map(|e| (e.iteration as f64, value(e))).collect()
        };
        let (red, blue, orange, green) =
            (RGBColor(200, 30, 30), RGBColor(30, 60, 200), RGBColor(230, 140, 0), RGBColor(20, 140, 60));
        let window = SMOOTHING_ROWS as u64 * self.history_every;
        vec![
            Panel {
                title: format!("losses (mean over {window} iterations)"),
                x_desc: "iteration".into(),
                y_desc: "binary cross-entropy".into(),
                series: vec![
                    line("D on real", smoothed(|r| r.d_loss_real), red),
                    line("D on fake", smoothed(|r| r.d_loss_fake), orange),
                    line("G", smoothed(|r| r.g_loss), blue),
                ],
                log_y: false,
            },
            Panel {
                title: format!(
                    "discriminator accuracy (training batches, mean over {window} iterations; dots: evaluations)"
                ),
                x_desc: "iteration".into(),
                y_desc: "accuracy".into(),
                series: vec![
                    line("on real", smoothed(|r| r.d_acc_real), red),
                    line("on fake", smoothed(|r| r.d_acc_fake), blue),
                    dots("evaluation, real", per_eval(|e| e.acc_real), RGBColor(120, 0, 0)),
                    dots("evaluation, fake", per_eval(|e| e.acc_fake), RGBColor(0, 20, 120)),
                ],
                log_y: false,
            },
            Panel {
                title: "quality of the generated points (log scale; lower is better)".into(),
                x_desc: "iteration".into(),
                y_desc: "metric".into(),
                series: vec![
                    dotted("residual mean", per_eval(|e| e.residual_mean), blue),
                    dotted("residual p95", per_eval(|e| e.residual_p95), orange),
                    dotted("KS statistic of x", per_eval(|e| e.ks), green),
                    dotted("energy distance", per_eval(|e| e.energy_distance), red),
                ],
                log_y: true,
            },
        ]
    }
}

impl Observer for TrainObserver {
    fn stepped(&mut self, trainer: &Trainer, losses: &StepLosses) -> Result<()> {
        let done = trainer.iteration;
        if done.is_multiple_of(self.history_every) {
            self.recorder.record(done - 1, losses);
            if self.recorder.len() >= HISTORY_FLUSH {
                self.flush_history()?;
            }
        }
        if done.is_multiple_of(self.frame_every) {
            let generated = trainer.generate(&self.frame_latent);
            self.logs.add_frame(done, generated)?;
        }
        // An evaluation writes its own checkpoint.
        if self.checkpoint_every.is_some_and(|n| done.is_multiple_of(n)) && !trainer.evaluation_due() {
            self.checkpoint(trainer)?;
        }
        Ok(())
    }

    fn progress(&mut self, completed: u64, (d_real, d_fake, g): (f64, f64, f64)) -> Result<()> {
        self.bar.set_position(completed);
        self.bar.set_message(format!("loss D real {d_real:.3} fake {d_fake:.3}  G {g:.3}"));
        Ok(())
    }

    fn evaluated(&mut self, trainer: &Trainer, report: &EvalReport) -> Result<()> {
        self.bar.suspend(|| {
            println!("{}", report.line());
            if self.verbosity == Verbosity::Normal {
                eprintln!("  {}", report.metrics.summary_line());
            }
        });
        self.logs.metrics_log.append(&runlog::metrics_row(
            report.iteration,
            report.acc_real,
            report.acc_fake,
            &report.metrics,
        ))?;
        self.logs.evaluations.push(Evaluation::new(report));
        let title = format!("after {} iterations", report.iteration + 1);
        plot::scatter(
            &checkpoint::eval_plot_path(&self.out, report.iteration),
            &plot::Scatter { title: &title, real: &report.real, generated: &report.fake, curve: &self.curve },
        )?;
        self.last_evaluation = Some(LastEvaluation {
            iteration: report.iteration,
            acc_real: report.acc_real,
            acc_fake: report.acc_fake,
        });
        self.checkpoint(trainer)
    }

    fn stop_requested(&mut self) -> bool {
        self.signals.received().is_some()
    }
}
