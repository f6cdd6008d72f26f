//! `gan1d train`: runs the tutorial's training and writes everything a run leaves behind:
//! the evaluation lines on stdout, checkpoints, plots, logs, learning curves and animation.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use plotters::style::RGBColor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::Tensor;

use crate::cli::TrainArgs;
use crate::device::DeviceChoice;
use crate::evaluate::EvalReport;
use crate::metrics::Metrics;
use crate::plot::{self, Frame, Panel, Series, Style};
use crate::progress::{self, Verbosity};
use crate::runlog::{self, CsvLog};
use crate::train::{HistoryRecorder, HistoryRow, Observer, StepLosses, Trainer};
use crate::{checkpoint, data};

pub fn train(args: &TrainArgs) -> Result<()> {
    let (model_cfg, cfg) = args.configs();
    model_cfg.validate()?;
    cfg.validate()?;
    prepare_out_dir(&args.out)?;
    let device = args.device.resolve()?;
    if args.device == DeviceChoice::Auto {
        eprintln!("gan1d: --device auto picked {}", checkpoint::device_name(device));
    }
    tch::set_num_threads(args.threads as i32);

    let mut trainer = Trainer::new(&model_cfg, &cfg, device)?;
    let verbosity = if args.quiet { Verbosity::Quiet } else { Verbosity::Normal };
    let bar = progress::training_bar(cfg.epochs, verbosity);
    let mut observer = TrainObserver::new(&args.out, &trainer, bar.clone(), verbosity)?;
    let started = Instant::now();
    let result = trainer.fit(&mut observer);
    bar.finish_and_clear();
    result?;
    let seconds = started.elapsed().as_secs_f64();
    observer.finish()?;
    eprintln!(
        "gan1d: {} iterations in {seconds:.2} s ({:.0} it/s, evaluations and checkpoints included); results in {}",
        cfg.epochs,
        cfg.epochs as f64 / seconds,
        args.out.display()
    );
    Ok(())
}

/// Creates the output folder and its plots folder and proves it writable, before any training.
/// Plots of an earlier run in the same folder are removed so the folder describes one run.
fn prepare_out_dir(dir: &Path) -> Result<()> {
    let plots = checkpoint::plots_dir(dir);
    super::writable_dir(&plots, "--out")?;
    let fail = || format!("--out {}: cannot clear the plots of an earlier run", dir.display());
    for entry in fs::read_dir(&plots).with_context(fail)? {
        let path = entry.with_context(fail)?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let ours = (name.starts_with("iter_") && name.ends_with(".png"))
            || path == checkpoint::curves_plot_path(dir)
            || path == checkpoint::animation_path(dir);
        if ours {
            fs::remove_file(&path).with_context(fail)?;
        }
    }
    Ok(())
}

/// Frames in the training animation (plus one of the untrained generator).
const FRAMES: u64 = 50;
/// Points per animation frame: enough to show the shape, few enough to read each dot.
const FRAME_POINTS: i64 = 200;
/// History rows collected on the device before one copy to the host and the CSV file.
const HISTORY_FLUSH: usize = 100;
/// History rows averaged in the learning curves, which are otherwise too noisy to read.
const SMOOTHING_ROWS: usize = 20;

/// Reacts to training as it goes; see the module documentation for what it writes.
struct TrainObserver {
    out: PathBuf,
    bar: ProgressBar,
    verbosity: Verbosity,
    curve: Vec<(f64, f64)>,
    history_every: u64,
    recorder: HistoryRecorder,
    history: Vec<HistoryRow>,
    history_log: CsvLog,
    evaluations: Vec<(u64, f64, f64, Metrics)>,
    metrics_log: CsvLog,
    frame_every: u64,
    /// The first points of the run's fixed metric batch: the animation follows their images.
    frame_latent: Tensor,
    frame_real: Vec<(f32, f32)>,
    frames: Vec<Frame>,
}

impl TrainObserver {
    fn new(out: &Path, trainer: &Trainer, bar: ProgressBar, verbosity: Verbosity) -> Result<Self> {
        let frame_latent = trainer.metric_latent.narrow(0, 0, FRAME_POINTS.min(trainer.cfg.metric_samples));
        let frames = vec![Frame { caption: "untrained".into(), generated: trainer.generate(&frame_latent) }];
        let mut rng = ChaCha8Rng::seed_from_u64(trainer.cfg.seed.wrapping_add(1));
        Ok(TrainObserver {
            out: out.to_path_buf(),
            bar,
            verbosity,
            curve: data::curve(101),
            history_every: trainer.cfg.history_every,
            recorder: HistoryRecorder::default(),
            history: Vec::new(),
            history_log: CsvLog::create(&checkpoint::history_csv_path(out), runlog::HISTORY_HEADER)?,
            evaluations: Vec::new(),
            metrics_log: CsvLog::create(&checkpoint::metrics_csv_path(out), &runlog::metrics_header())?,
            frame_every: (trainer.cfg.epochs / FRAMES).max(1),
            frame_real: data::real_pairs(frame_latent.size()[0] as usize, &mut rng),
            frame_latent,
            frames,
        })
    }

    fn flush_history(&mut self) -> Result<()> {
        for row in self.recorder.drain() {
            self.history_log.append(&runlog::history_row(&row))?;
            self.history.push(row);
        }
        Ok(())
    }

    /// Writes what needs the whole run: the learning curves and the animation.
    fn finish(&mut self) -> Result<()> {
        self.flush_history()?;
        plot::panels(&checkpoint::curves_plot_path(&self.out), &self.curve_panels())?;
        plot::animation(&checkpoint::animation_path(&self.out), &self.frames, &self.frame_real, &self.curve)
    }

    fn curve_panels(&self) -> Vec<Panel> {
        let smoothed = |value: fn(&HistoryRow) -> f64| -> Vec<(f64, f64)> {
            self.history
                .windows(SMOOTHING_ROWS.min(self.history.len()).max(1))
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
        let per_eval = |value: fn(&(u64, f64, f64, Metrics)) -> f64| -> Vec<(f64, f64)> {
            self.evaluations.iter().map(|e| (e.0 as f64, value(e))).collect()
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
                    dots("evaluation, real", per_eval(|e| e.1), RGBColor(120, 0, 0)),
                    dots("evaluation, fake", per_eval(|e| e.2), RGBColor(0, 20, 120)),
                ],
                log_y: false,
            },
            Panel {
                title: "quality of the generated points (log scale; lower is better)".into(),
                x_desc: "iteration".into(),
                y_desc: "metric".into(),
                series: vec![
                    dotted("residual mean", per_eval(|e| e.3.residual_mean), blue),
                    dotted("residual p95", per_eval(|e| e.3.residual_p95), orange),
                    dotted("KS statistic of x", per_eval(|e| e.3.ks), green),
                    dotted("energy distance", per_eval(|e| e.3.energy_distance), red),
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
            self.frames.push(Frame { caption: format!("after {done} iterations"), generated });
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
        let (iteration, metrics) = (report.iteration, &report.metrics);
        self.metrics_log.append(&runlog::metrics_row(
            iteration,
            report.acc_real,
            report.acc_fake,
            metrics,
        ))?;
        self.evaluations.push((iteration, report.acc_real, report.acc_fake, metrics.clone()));
        self.flush_history()?;
        let title = format!("after {} iterations", iteration + 1);
        plot::scatter(
            &checkpoint::eval_plot_path(&self.out, iteration),
            &plot::Scatter { title: &title, real: &report.real, generated: &report.fake, curve: &self.curve },
        )?;
        checkpoint::save(&self.out, trainer, Some(report))
    }
}
