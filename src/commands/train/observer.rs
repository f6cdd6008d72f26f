//! What `gan1d train` does as training goes: progress, history, animation frames, the printed
//! evaluations, plots, checkpoints, and at the end the learning curves and the animation.

use std::path::{Path, PathBuf};

use anyhow::Result;
use indicatif::ProgressBar;
use plotters::style::RGBColor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::Tensor;

use super::logs::{Logs, frame_every, frame_latent};
use super::resume_command;
use super::signals::StopSignals;
use crate::checkpoint::{self, LastEvaluation};
use crate::cli::TrainArgs;
use crate::evaluate::EvalReport;
use crate::plot::{self, Panel, Series, Style};
use crate::progress::{self, Verbosity};
use crate::runlog::MetricsRow;
use crate::train::{Diverged, HistoryRecorder, HistoryRow, Observer, StepLosses, Trainer};

/// History rows collected on the device before one copy to the host and the CSV file.
const HISTORY_FLUSH: usize = 100;
/// History rows averaged in the learning curves, which are otherwise too noisy to read.
const SMOOTHING_ROWS: usize = 20;

/// Reacts to training as it goes; see the module documentation for what it writes.
pub(super) struct TrainObserver {
    out: PathBuf,
    pub(super) bar: ProgressBar,
    verbosity: Verbosity,
    curve: Vec<(f64, f64)>,
    curve_label: String,
    history_every: u64,
    recorder: HistoryRecorder,
    pub(super) logs: Logs,
    frame_every: u64,
    frame_latent: Tensor,
    frame_real: Vec<(f32, f32)>,
    checkpoint_every: Option<u64>,
    /// The iteration of the last checkpoint written, if any.
    pub(super) saved_at: Option<u64>,
    pub(super) last_evaluation: Option<LastEvaluation>,
    pub(super) signals: StopSignals,
    stdout: crate::output::Stdout,
}

impl TrainObserver {
    pub(super) fn new(out: &Path, trainer: &Trainer, args: &TrainArgs, logs: Logs) -> Result<Self> {
        let frame_latent = frame_latent(trainer);
        let mut rng = ChaCha8Rng::seed_from_u64(trainer.cfg().seed.wrapping_add(1));
        let verbosity = if args.quiet { Verbosity::Quiet } else { Verbosity::Normal };
        Ok(TrainObserver {
            out: out.to_path_buf(),
            bar: progress::training_bar(trainer.cfg().epochs, verbosity),
            verbosity,
            curve: trainer.target().curve(plot::CURVE_POINTS),
            curve_label: trainer.target().legend_label(),
            history_every: trainer.cfg().history_every,
            recorder: HistoryRecorder::default(),
            logs,
            frame_every: frame_every(trainer.cfg()),
            frame_real: trainer.target().real_pairs(frame_latent.size()[0] as usize, &mut rng),
            frame_latent,
            checkpoint_every: args.checkpoint_every,
            saved_at: None,
            last_evaluation: None,
            signals: StopSignals::install()?,
            stdout: crate::output::Stdout::default(),
        })
    }

    /// Writes a checkpoint of the trainer as it is now, after the logs it covers. A new run's
    /// first checkpoint also publishes its logs and clears the plots of the folder's earlier
    /// run: until then, that run's files are untouched.
    pub(super) fn checkpoint(&mut self, trainer: &Trainer) -> Result<()> {
        if self.saved_at == Some(trainer.iteration()) {
            return Ok(());
        }
        self.flush_history()?;
        let records = self.logs.records()?;
        checkpoint::save(&self.out, &trainer.snapshot(), self.last_evaluation, records).map_err(|e| {
            match e.downcast::<checkpoint::NotFinite>() {
                Ok(not_finite) => {
                    let iteration = trainer.iteration().saturating_sub(1);
                    anyhow::Error::from(Diverged { iteration, what: not_finite.to_string() })
                }
                Err(e) => e,
            }
        })?;
        self.saved_at = Some(trainer.iteration());
        if self.logs.publish(&self.out)? {
            super::remove_plots(&self.out, 0, true)?;
        }
        Ok(())
    }

    /// After a failure: where the last complete checkpoint is, and how to go on from it.
    pub(super) fn where_the_last_checkpoint_is(&self, args: &TrainArgs, diverged: bool) -> Vec<String> {
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
            self.logs.history.append(row)?;
        }
        self.logs.history.flush()
    }

    /// Writes what needs the whole run: the learning curves and the animation.
    pub(super) fn finish(&mut self) -> Result<()> {
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
        let history = self.logs.history.rows();
        // A short run still gets a curve: at most a fifth of its rows are averaged.
        let rows = SMOOTHING_ROWS.min(history.len() / 5).max(1);
        let smoothed = |value: fn(&HistoryRow) -> f64| -> Vec<(f64, f64)> {
            history
                .windows(rows.min(history.len()).max(1))
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
        let per_eval = |value: fn(&MetricsRow) -> f64| -> Vec<(f64, f64)> {
            self.logs.metrics.rows().iter().map(|e| (e.iteration as f64, value(e))).collect()
        };
        let (red, blue, orange, green) =
            (RGBColor(200, 30, 30), RGBColor(30, 60, 200), RGBColor(230, 140, 0), RGBColor(20, 140, 60));
        let window = rows as u64 * self.history_every;
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
        let done = trainer.iteration();
        if done.is_multiple_of(self.history_every) {
            self.recorder.record_stats(done - 1, losses.stats().get(0));
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
        // A closed stdout ends the printing, not the run.
        self.bar.suspend(|| -> Result<()> {
            self.stdout.line(&report.line())?;
            if self.verbosity == Verbosity::Normal {
                crate::output::note(&format!("  {}: {}", report.iteration, report.metrics.summary_line()));
            }
            Ok(())
        })?;
        self.logs.metrics.append(MetricsRow::new(report))?;
        self.last_evaluation = Some(LastEvaluation {
            iteration: report.iteration,
            acc_real: report.acc_real,
            acc_fake: report.acc_fake,
        });
        // The checkpoint first: a new run's first one clears the earlier run's plots.
        self.checkpoint(trainer)?;
        let title = format!("after {} iterations", report.iteration + 1);
        plot::scatter(
            &checkpoint::eval_plot_path(&self.out, report.iteration),
            &plot::Scatter {
                title: &title,
                real: &report.real,
                generated: &report.fake,
                curve: &self.curve,
                curve_label: &self.curve_label,
            },
        )
    }

    fn stop_requested(&mut self) -> bool {
        self.signals.received().is_some()
    }
}
