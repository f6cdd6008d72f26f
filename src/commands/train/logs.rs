//! The CSV logs of a `gan1d train` run (history, metrics, animation frames), created for a new
//! run or reopened, up to the checkpoint, for a resumed one.

use std::path::Path;

use anyhow::Result;
use tch::Tensor;

use crate::checkpoint;
use crate::config::TrainConfig;
use crate::evaluate::EvalReport;
use crate::plot::Frame;
use crate::runlog::{self, CsvLog};
use crate::train::{HistoryRow, Trainer};

/// Frames in the training animation (plus one of the untrained generator).
const FRAMES: u64 = 50;
/// Points per animation frame: enough to show the shape, few enough to read each dot.
const FRAME_POINTS: i64 = 200;

/// The run's three CSV logs, open for appending, with the rows already in them.
pub(super) struct Logs {
    pub(super) history_log: CsvLog,
    pub(super) history: Vec<HistoryRow>,
    pub(super) metrics_log: CsvLog,
    pub(super) evaluations: Vec<Evaluation>,
    frames_log: CsvLog,
    pub(super) frames: Vec<Frame>,
}

impl Logs {
    /// New, empty logs (an earlier run's are replaced), with the untrained generator's frame.
    pub(super) fn create(dir: &Path, trainer: &Trainer) -> Result<Logs> {
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
    pub(super) fn reopen(dir: &Path, trainer: &Trainer) -> Result<Logs> {
        let reached = trainer.iteration;
        let spacing = frame_every(&trainer.cfg);
        let (history_log, history) = continue_log(
            &checkpoint::history_csv_path(dir),
            runlog::HISTORY_HEADER,
            parse_history_row,
            |row: &HistoryRow| row.iteration < reached,
            ("loss history", reached),
        )?;
        let metrics_header = runlog::metrics_header();
        let (metrics_log, evaluations) = continue_log(
            &checkpoint::metrics_csv_path(dir),
            &metrics_header,
            |fields| Evaluation::parse(&metrics_header, fields),
            |e: &Evaluation| e.iteration < reached,
            ("metrics log", reached),
        )?;
        let (frames_log, points) = continue_log(
            &checkpoint::frames_csv_path(dir),
            runlog::FRAMES_HEADER,
            parse_frame_row,
            |&(done, _)| done <= reached && done.is_multiple_of(spacing),
            ("animation", reached),
        )?;
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

    pub(super) fn add_frame(&mut self, iterations_done: u64, generated: Vec<(f32, f32)>) -> Result<()> {
        for &point in &generated {
            self.frames_log.append(&runlog::frame_row(iterations_done, point))?;
        }
        self.frames.push(Frame { caption: frame_caption(iterations_done), generated });
        Ok(())
    }
}

/// Reopens the log at `path` with [`CsvLog::reopen`]; a missing log is created empty, with a
/// warning that `what` starts at iteration `reached`.
fn continue_log<T>(
    path: &Path,
    header: &str,
    parse: impl Fn(&[&str]) -> Option<T>,
    keep: impl Fn(&T) -> bool,
    (what, reached): (&str, u64),
) -> Result<(CsvLog, Vec<T>)> {
    if let Some(found) = CsvLog::reopen(path, header, parse, keep)? {
        return Ok(found);
    }
    eprintln!("gan1d: warning: {} is missing, so the {what} starts at iteration {reached}", path.display());
    Ok((CsvLog::create(path, header)?, Vec::new()))
}

fn frame_caption(iterations_done: u64) -> String {
    if iterations_done == 0 { "untrained".to_string() } else { format!("after {iterations_done} iterations") }
}

/// Iterations between two animation frames.
pub(super) fn frame_every(cfg: &TrainConfig) -> u64 {
    (cfg.epochs / FRAMES).max(1)
}

/// The latent points the animation follows: the first of the run's fixed metric batch.
pub(super) fn frame_latent(trainer: &Trainer) -> Tensor {
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
pub(super) struct Evaluation {
    /// 0-based, as printed.
    pub(super) iteration: u64,
    pub(super) acc_real: f64,
    pub(super) acc_fake: f64,
    pub(super) residual_mean: f64,
    pub(super) residual_p95: f64,
    pub(super) ks: f64,
    pub(super) energy_distance: f64,
}

impl Evaluation {
    pub(super) fn new(report: &EvalReport) -> Evaluation {
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
