//! The CSV logs of a `gan1d train` run (history, metrics, animation frames): created staged for
//! a new run and published by its first checkpoint, or reopened, up to the checkpoint, for a
//! resumed one.

use std::path::Path;

use anyhow::Result;
use tch::Tensor;

use crate::checkpoint::{self, LogRecords, Manifest};
use crate::config::TrainConfig;
use crate::plot::Frame;
use crate::rows::{FrameKind, FrameRow, MetricsRow};
use crate::runlog::{CsvLog, Reopened};
use crate::train::{HistoryRow, Trainer};
use crate::view::{Probe, View};

/// Frames in the training animation (plus one of the untrained generator).
const FRAMES: u64 = 50;
/// Points per animation frame: enough to show the shape, few enough to read each dot.
const FRAME_POINTS: i64 = 200;

/// The run's three CSV logs, open for appending, with the rows already in them.
pub(super) struct Logs {
    pub(super) history: CsvLog<HistoryRow>,
    pub(super) metrics: CsvLog<MetricsRow>,
    frames_log: CsvLog<FrameRow>,
    pub(super) frames: Vec<Frame>,
    /// A new run's, not yet published by its first checkpoint.
    new_run: bool,
}

impl Logs {
    /// New, empty logs of member `k` in `dir` under staged names (the folder's earlier logs, if
    /// any, stay until the first checkpoint), with the untrained generator's frame and its
    /// discriminator's view.
    pub(super) fn create(dir: &Path, trainer: &Trainer, k: usize) -> Result<Logs> {
        let (history, metrics, frames) = (
            checkpoint::history_csv_path(dir),
            checkpoint::metrics_csv_path(dir),
            checkpoint::frames_csv_path(dir),
        );
        let mut logs = Logs {
            history: CsvLog::create_staged(&checkpoint::staged_path(&history), &history)?,
            metrics: CsvLog::create_staged(&checkpoint::staged_path(&metrics), &metrics)?,
            frames_log: CsvLog::create_staged(&checkpoint::staged_path(&frames), &frames)?,
            frames: Vec::new(),
            new_run: true,
        };
        let generated = trainer.generate(k, &frame_latent(trainer, k));
        let view = trainer.view(k, &generated);
        logs.add_frame(0, generated, view)?;
        Ok(logs)
    }

    /// Checks the logs in `dir` of the run being resumed from `manifest` to continue under
    /// `cfg`, keeping what its checkpoint covers; changes nothing. The animation keeps the
    /// earlier frames that fall on the new frame spacing, which are those an uninterrupted run
    /// to the new total would have drawn. A resume checks every member's logs before it opens
    /// any, so a refused resume changes none.
    pub(super) fn check(dir: &Path, manifest: &Manifest, cfg: &TrainConfig) -> Result<CheckedLogs> {
        let reached = manifest.iteration;
        let spacing = frame_every(cfg);
        let records = manifest.logs.as_ref();
        let reopen = |path: std::path::PathBuf| (checkpoint::staged_path(&path), path);
        let (staged, path) = reopen(checkpoint::history_csv_path(dir));
        let history = CsvLog::check(&path, &staged, records.map(|r| &r.history), |row: &HistoryRow| {
            row.iteration < reached
        })?;
        let (staged, path) = reopen(checkpoint::metrics_csv_path(dir));
        let metrics = CsvLog::check(&path, &staged, records.map(|r| &r.metrics), |row: &MetricsRow| {
            row.iteration < reached
        })?;
        let (staged, path) = reopen(checkpoint::frames_csv_path(dir));
        let frames_log = CsvLog::check(&path, &staged, records.map(|r| &r.frames), |row: &FrameRow| {
            row.iterations_done <= reached && row.iterations_done.is_multiple_of(spacing)
        })?;
        Ok(CheckedLogs { history, metrics, frames_log })
    }

    /// Logs the frame after `iterations_done` iterations: the `generated` points, then the
    /// heat map's cells of `view`, whose `points` are the discriminator at `generated` (or
    /// none, where the view was not measured).
    pub(super) fn add_frame(
        &mut self,
        iterations_done: u64,
        generated: Vec<(f32, f32)>,
        view: View,
    ) -> Result<()> {
        // Points beyond those the view measured (none, in a run of this gan1d; logs of an
        // ensemble of gan1d 0.9 hold points without a view) are logged as not measured (NaN).
        for (i, &(x, y)) in generated.iter().enumerate() {
            let unmeasured = Probe { x, y, realness: f32::NAN, dx: 0.0, dy: 0.0 };
            let probe = view.points.get(i).copied().unwrap_or(unmeasured);
            self.frames_log.append(probe.row(iterations_done, FrameKind::Point))?;
        }
        for probe in &view.cells {
            self.frames_log.append(probe.row(iterations_done, FrameKind::Cell))?;
        }
        self.frames_log.flush()?;
        self.frames.push(Frame { iterations_done, generated, view });
        Ok(())
    }

    /// What a checkpoint taken now covers of each log.
    pub(super) fn records(&mut self) -> Result<LogRecords> {
        Ok(LogRecords {
            metrics: self.metrics.record()?,
            history: self.history.record()?,
            frames: self.frames_log.record()?,
        })
    }

    /// After a checkpoint is committed: moves the staged logs to their names, replacing the
    /// folder's earlier logs (a new run's, or a resumed log cut to other rows than its
    /// checkpoint recorded). Returns whether this was a new run's first checkpoint.
    pub(super) fn publish(&mut self, dir: &Path) -> Result<bool> {
        let mut moved = false;
        for published in [self.history.publish()?, self.metrics.publish()?, self.frames_log.publish()?] {
            moved |= published;
        }
        if moved {
            crate::fsio::sync_dir(dir)?;
        }
        Ok(std::mem::take(&mut self.new_run))
    }

    /// After a run that failed before its next checkpoint: removes its staged logs, leaving
    /// the folder as its last checkpoint describes it.
    pub(super) fn discard_staged(&self) {
        for log in [self.history.path(), self.metrics.path(), self.frames_log.path()]
            .into_iter()
            .zip([self.history.is_staged(), self.metrics.is_staged(), self.frames_log.is_staged()])
            .filter_map(|(path, staged)| staged.then_some(path))
        {
            let _ = std::fs::remove_file(log);
        }
    }
}

/// A resumed member's logs, checked and not yet changed.
pub(super) struct CheckedLogs {
    history: Reopened<HistoryRow>,
    metrics: Reopened<MetricsRow>,
    frames_log: Reopened<FrameRow>,
}

impl CheckedLogs {
    /// The metrics rows the checkpoint covers.
    pub(super) fn metrics(&self) -> &[MetricsRow] {
        self.metrics.rows()
    }

    /// Opens the logs for appending, cut to what the checkpoint covers; `cell` is the size of
    /// a heat-map cell of the run's target.
    pub(super) fn open(self, cell: (f64, f64)) -> Result<Logs> {
        let warnings = [self.history.warning(), self.metrics.warning(), self.frames_log.warning()];
        for warning in warnings.into_iter().flatten() {
            crate::output::note(&format!("gan1d: warning: {warning}"));
        }
        let (history, metrics, frames_log) =
            (self.history.open()?, self.metrics.open()?, self.frames_log.open()?);
        let mut frames: Vec<Frame> = Vec::new();
        for row in frames_log.rows() {
            if frames.last().is_none_or(|f: &Frame| f.iterations_done != row.iterations_done) {
                frames.push(Frame::new(row.iterations_done, Vec::new()));
            }
            let frame = frames.last_mut().expect("a frame was just pushed");
            let probe = Probe::of_row(row);
            match row.kind {
                FrameKind::Point => {
                    frame.generated.push((row.x, row.y));
                    // Logs of gan1d before 0.7 measured no view: their points carry NaN.
                    if !probe.realness.is_nan() {
                        frame.view.points.push(probe);
                    }
                }
                FrameKind::Cell => frame.view.cells.push(probe),
            }
        }
        for frame in &mut frames {
            frame.view.cell = cell;
        }
        Ok(Logs { history, metrics, frames_log, frames, new_run: false })
    }
}

/// Iterations between two animation frames.
pub(super) fn frame_every(cfg: &TrainConfig) -> u64 {
    (cfg.epochs / FRAMES).max(1)
}

/// The latent points member `k`'s animation follows: the first of its fixed metric batch.
pub(super) fn frame_latent(trainer: &Trainer, k: usize) -> Tensor {
    trainer.metric_latent(k).narrow(0, 0, FRAME_POINTS.min(trainer.cfg().metric_samples))
}
