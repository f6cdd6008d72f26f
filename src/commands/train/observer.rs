//! What `gan1d train` does as training goes, for every member of the run: progress, history,
//! animation frames, the printed evaluations, plots, checkpoint rounds, the leaderboard, and
//! at the end the learning curves and the animation.
//!
//! A checkpoint round saves every live member, then, in the members layout, the leaderboard,
//! then `ensemble.json`, which names the iteration the round reached: each member's save is
//! atomic, and a resume checks that all members reached one iteration. What is shown follows
//! the layout: a flat run prints the tutorial's lines and draws its own plots; a run of members
//! prints one line per evaluation about them all and draws them side by side.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use plotters::style::RGBColor;
use tch::Tensor;

use super::logs::{Logs, frame_every, frame_latent};
use super::resume_command;
use super::signals::StopSignals;
use crate::checkpoint::{self, EnsembleManifest, LastEvaluation, Layout, LogRecords};
use crate::evaluate::EvalReport;
use crate::loss::Loss;
use crate::plan::TrainPlan;
use crate::plot::{self, MemberPanel, Panel, Series, Style};
use crate::progress::{self, Verbosity};
use crate::ranking::{self, Select, Standing};
use crate::rows::MetricsRow;
use crate::train::{HistoryRecorder, HistoryRow, Observer, StepLosses, Trainer};

/// History rows collected on the device before one copy to the host and the CSV file.
const HISTORY_FLUSH: usize = 100;
/// History rows averaged in the learning curves, which are otherwise too noisy to read.
const SMOOTHING_ROWS: usize = 20;
/// Panels in the small multiples, at most: the best-ranked members.
const MAX_PANELS: usize = 64;

/// What the command keeps of one member: its folder, logs and best evaluation.
pub(super) struct MemberLog {
    pub(super) dir: PathBuf,
    pub(super) seed: u64,
    /// `None` for a member that diverged in an earlier session: it only holds its place.
    pub(super) logs: Option<Logs>,
    /// Its row of the leaderboard, for a member that diverged in an earlier session.
    pub(super) frozen: Option<Standing>,
    recorder: HistoryRecorder,
    frame_latent: Tensor,
    /// The iteration of its last checkpoint, if any.
    pub(super) saved_at: Option<u64>,
    pub(super) last_evaluation: Option<LastEvaluation>,
    best: Option<MetricsRow>,
    /// The ranking metric at its last evaluation.
    latest_score: Option<f64>,
}

/// How saving a member's checkpoint went.
enum Saved {
    /// Saved; `true` when it was the member's first, which published its logs.
    Yes(bool),
    /// Refused: a weight is not finite, so the last good checkpoint stays.
    NotFinite(String),
}

impl MemberLog {
    /// Member `k` of `trainer`, whose files are in `dir`, with its `logs`, its best
    /// evaluation so far and its last one.
    pub(super) fn new(
        dir: PathBuf,
        trainer: &Trainer,
        k: usize,
        logs: Logs,
        best: Option<MetricsRow>,
        last_evaluation: Option<LastEvaluation>,
    ) -> MemberLog {
        MemberLog {
            dir,
            seed: trainer.member_cfg(k).seed,
            logs: Some(logs),
            frozen: None,
            recorder: HistoryRecorder::default(),
            frame_latent: frame_latent(trainer, k),
            saved_at: None,
            last_evaluation,
            best,
            latest_score: None,
        }
    }

    /// A member that diverged in an earlier session, holding its place as member `k`.
    pub(super) fn frozen(dir: PathBuf, trainer: &Trainer, k: usize, standing: Standing) -> MemberLog {
        MemberLog {
            dir,
            seed: standing.seed,
            logs: None,
            frozen: Some(standing),
            recorder: HistoryRecorder::default(),
            frame_latent: frame_latent(trainer, k),
            saved_at: None,
            last_evaluation: None,
            best: None,
            latest_score: None,
        }
    }

    /// Its logs: every member that trains has them.
    fn logs(&mut self) -> &mut Logs {
        self.logs.as_mut().expect("a member that trains has its logs")
    }

    fn flush_history(&mut self) -> Result<()> {
        let Some(logs) = self.logs.as_mut() else { return Ok(()) };
        for row in self.recorder.drain() {
            logs.history.append(row)?;
        }
        logs.history.flush()
    }

    /// Saves member `k`'s latest checkpoint, after the logs it covers; in the members layout
    /// (`shared`), with the run's shared copy of a data set's points.
    fn checkpoint(&mut self, trainer: &Trainer, k: usize, shared: bool) -> Result<Saved> {
        if self.saved_at == Some(trainer.iteration()) {
            return Ok(Saved::Yes(false));
        }
        self.flush_history()?;
        let records = self.logs().records()?;
        let snapshot = checkpoint::Snapshot { points_beside: shared, ..crate::saved::snapshot(trainer, k) };
        match checkpoint::save(&self.dir, &snapshot, self.last_evaluation, records) {
            Ok(()) => {}
            Err(e) => match e.downcast::<checkpoint::NotFinite>() {
                Ok(not_finite) => return Ok(Saved::NotFinite(not_finite.to_string())),
                Err(e) => return Err(e),
            },
        }
        self.saved_at = Some(trainer.iteration());
        let dir = self.dir.clone();
        Ok(Saved::Yes(self.logs().publish(&dir)?))
    }
}

/// Reacts to training as it goes; see the module documentation for what it writes.
pub(super) struct RunObserver {
    dir: PathBuf,
    layout: Layout,
    /// The members' manifest, in the members layout.
    pub(super) manifest: Option<EnsembleManifest>,
    select: Select,
    /// One per member of the run, in its order.
    pub(super) members: Vec<MemberLog>,
    pub(super) bar: ProgressBar,
    verbosity: Verbosity,
    backdrop: plot::Backdrop,
    history_every: u64,
    /// The loss both networks train with: the learning curves' axis names it.
    loss: Loss,
    frame_every: u64,
    /// Real points drawn under the animation of a flat run.
    frame_real: Vec<(f32, f32)>,
    checkpoint_every: Option<u64>,
    /// The iteration of the last complete checkpoint round, if any.
    pub(super) saved_at: Option<u64>,
    pub(super) signals: StopSignals,
    stdout: crate::output::Stdout,
    /// What the session is doing, for `gan1d serve`, and when to say it next.
    live: crate::live::Live,
    live_cadence: crate::live::Cadence,
    live_failed: bool,
    /// Why `--patience` stops the run, once it does.
    pub(super) early_stop: Option<String>,
}

impl RunObserver {
    pub(super) fn new(
        dir: &Path,
        layout: Layout,
        plan: &TrainPlan,
        trainer: &Trainer,
        members: Vec<MemberLog>,
        manifest: Option<EnsembleManifest>,
        saved_at: Option<u64>,
    ) -> Result<Self> {
        let verbosity = if plan.quiet { Verbosity::Quiet } else { Verbosity::Normal };
        let cfg = trainer.cfg();
        let frame_points = frame_latent(trainer, 0).size()[0] as usize;
        Ok(RunObserver {
            dir: dir.to_path_buf(),
            layout,
            // An ensemble ranks by --select; a single run keeps its best by --keep-best.
            select: manifest.as_ref().map(|m| m.select).or(cfg.keep_best).unwrap_or_default(),
            manifest,
            members,
            bar: progress::training_bar(cfg.epochs, verbosity),
            verbosity,
            backdrop: plot::Backdrop::of(trainer.target()),
            history_every: cfg.history_every,
            loss: cfg.loss,
            frame_every: frame_every(cfg),
            frame_real: crate::data::reference_pairs(
                cfg.seed,
                crate::rng::Tag::FrameReference,
                0,
                trainer.target(),
                frame_points,
            ),
            checkpoint_every: plan.checkpoint_every,
            saved_at,
            signals: StopSignals::install()?,
            stdout: crate::output::Stdout::default(),
            live: {
                let mut live = crate::live::Live::new(cfg.epochs, crate::live::this_command_line());
                // A resumed run keeps the command line that began it.
                if saved_at.is_some() {
                    live.origin = crate::live::Live::read(dir).map(|earlier| earlier.origin().to_string());
                }
                live
            },
            live_cadence: crate::live::Cadence::default(),
            live_failed: false,
            early_stop: None,
        })
    }

    /// Writes `DIR/report.html` ([`crate::report`]) as the run's files are now, the session
    /// in `state`.
    pub(super) fn write_report(&self, trainer: &Trainer, state: &str) -> Result<()> {
        crate::report::write(
            &self.dir,
            &crate::report::Session {
                command: &self.live.command,
                origin: self.live.origin(),
                iterations_done: trainer.iteration(),
                epochs: self.live.epochs,
                state,
            },
        )
    }

    /// Writes the live record ([`crate::live`]): the session's `state`, the iterations done,
    /// and for a flat run its frame as the networks are now. A record that cannot be written
    /// is said once and costs the run nothing else: it only describes the run.
    pub(super) fn live_write(&mut self, trainer: &Trainer, state: crate::live::State, error: Option<String>) {
        self.live.state = state;
        self.live.iterations_done = trainer.iteration();
        self.live.error = error;
        if self.layout == Layout::Flat && trainer.live(0) {
            let generated = trainer.generate(0, &self.members[0].frame_latent);
            let view = trainer.view(0, &generated);
            let probe = |p: &crate::view::Probe| [p.x, p.y, p.realness, p.dx, p.dy];
            let (x0, x1, y0, y1) = crate::view::view_box(trainer.target());
            self.live.frame = Some(crate::live::LiveFrame {
                iterations_done: trainer.iteration(),
                points: view.points.iter().map(probe).collect(),
                cells: view.cells.iter().map(probe).collect(),
                columns: crate::view::COLUMNS,
                rows: crate::view::ROWS,
                real: self.frame_real.iter().map(|&(x, y)| [x, y]).collect(),
                view_box: [x0, x1, y0, y1],
            });
        }
        if let Err(e) = self.live.write(&self.dir)
            && !std::mem::replace(&mut self.live_failed, true)
        {
            self.note(&format!("gan1d: warning: {e:#}; `gan1d serve` will not follow this run live"));
        }
    }

    /// Says something on stderr, above the progress bar; `--quiet` does not silence it.
    fn note(&self, text: &str) {
        self.bar.suspend(|| crate::output::note(text));
    }

    /// Every member's standing, ranked.
    pub(super) fn standings(&self, trainer: &Trainer) -> Vec<Standing> {
        let mut rows: Vec<Standing> = self
            .members
            .iter()
            .enumerate()
            .map(|(k, m)| {
                let diverged = match trainer.status(k) {
                    crate::train::Status::Diverged(at) => Some(at),
                    _ => None,
                };
                m.frozen
                    .clone()
                    .unwrap_or_else(|| Standing::new(m.seed, self.select, m.best.as_ref(), diverged))
            })
            .collect();
        ranking::rank(&mut rows);
        rows
    }

    /// Saves every live member, then in the members layout the leaderboard and the manifest
    /// naming the iteration. A member whose weights are no longer finite is frozen, its last
    /// good checkpoint kept; when none is left, training has diverged.
    pub(super) fn checkpoint_round(&mut self, trainer: &mut Trainer) -> Result<()> {
        let iteration = trainer.iteration();
        let at = iteration.saturating_sub(1);
        for k in 0..trainer.members() {
            if !trainer.live(k) {
                continue;
            }
            match self.members[k].checkpoint(trainer, k, self.layout == Layout::Members)? {
                // A new flat run's first checkpoint clears the plots of the folder's earlier run.
                Saved::Yes(true) if self.layout == Layout::Flat => {
                    super::remove_plots(&self.dir, 0, true)?;
                    // Unless this run has just saved its own best there, an earlier run's goes.
                    if trainer.cfg().keep_best.is_none() || self.members[0].best.is_none() {
                        remove_earlier_best(&self.dir)?;
                    }
                }
                Saved::Yes(_) => {}
                Saved::NotFinite(what) => {
                    trainer.freeze(k, at, &what)?;
                    self.note(&format!(
                        "gan1d: seed {} diverged after iteration {at} ({what}); frozen, its last checkpoint and its \
                         best are kept",
                        self.members[k].seed
                    ));
                }
            }
        }
        if let Some(mut manifest) = self.manifest.take() {
            for (k, member) in self.members.iter().enumerate() {
                if let crate::train::Status::Diverged(at) = trainer.status(k) {
                    manifest.diverged.insert(member.seed, at);
                }
            }
            let written = checkpoint::write_leaderboard(&self.dir, &self.standings(trainer)).and_then(|()| {
                manifest.iteration = iteration;
                checkpoint::write_ensemble_manifest(&self.dir, &manifest)
            });
            self.manifest = Some(manifest);
            written?;
            checkpoint::remove_temporaries(&self.dir);
        }
        self.saved_at = Some(iteration);
        Ok(())
    }

    /// After a failure: where the last complete checkpoint is, and how to go on from it.
    pub(super) fn where_the_last_checkpoint_is(&self, plan: &TrainPlan, diverged: bool) -> Vec<String> {
        let dir = self.dir.display();
        let every = if self.layout == Layout::Members { " of every member" } else { "" };
        match self.saved_at {
            None => {
                vec![format!("no checkpoint of this run was written before the error; {dir} is as it was")]
            }
            Some(iteration) if diverged => {
                vec![format!("the last good checkpoint, after {iteration} iterations, is kept in {dir}")]
            }
            Some(iteration) => vec![
                format!("the last complete checkpoint{every}, after {iteration} iterations, is in {dir}"),
                format!("resume with: {}", resume_command(plan, &self.dir)),
            ],
        }
    }

    /// After a failure: removes what no checkpoint commits, leaving the folder as its last
    /// checkpoint round describes it, or, for a run that never committed one, as it found it.
    /// A new run of members refuses a folder that holds either its manifest or `members/`, so
    /// both are its own.
    pub(super) fn discard_unsaved(&self) {
        for member in &self.members {
            if let Some(logs) = &member.logs {
                logs.discard_staged();
            }
        }
        if self.saved_at.is_none() && self.layout == Layout::Members {
            let _ = std::fs::remove_dir_all(checkpoint::members_dir(&self.dir));
            let _ = std::fs::remove_file(checkpoint::ensemble_manifest_path(&self.dir));
            let _ = std::fs::remove_file(checkpoint::points_path(&self.dir));
        }
    }

    /// Draws the plot of the last evaluation the checkpoint covers when it is missing: the run
    /// stopped (killed, or out of disk) between that evaluation's checkpoint and its plot. The
    /// checkpoint holds the networks the evaluation saw, and an evaluation is a pure function
    /// of them and of its iteration, so the plot drawn now is the one the run would have drawn.
    pub(super) fn complete_pictures(&mut self, trainer: &Trainer) -> Result<()> {
        let Some(last) = trainer.iteration().checked_sub(1) else { return Ok(()) };
        let evaluated_last = self.members.iter().enumerate().any(|(k, m)| {
            trainer.live(k)
                && m.logs.as_ref().and_then(|l| l.metrics.rows().last()).is_some_and(|r| r.iteration == last)
        });
        let plot = match self.layout {
            Layout::Flat => checkpoint::eval_plot_path(&self.dir, last),
            Layout::Members => checkpoint::members_plot_path(&self.dir, last),
        };
        if !evaluated_last || plot.symlink_metadata().is_ok() {
            return Ok(());
        }
        let reports = trainer.evaluate();
        match self.layout {
            Layout::Flat => match reports.first().and_then(Option::as_ref) {
                Some(report) => self.plot_flat(trainer, report)?,
                None => return Ok(()),
            },
            Layout::Members => self.members_plot(&reports, last)?,
        }
        self.note(&format!("gan1d: drew {}, which the run had not drawn when it stopped", plot.display()));
        Ok(())
    }

    /// Writes what needs the whole run: every member's history, and for a flat run the
    /// learning curves and the animation.
    pub(super) fn finish(&mut self) -> Result<()> {
        for member in &mut self.members {
            member.flush_history()?;
        }
        if self.layout == Layout::Flat {
            let logs = self.members[0].logs.as_ref().expect("a flat run's member trains");
            plot::panels(
                &checkpoint::curves_plot_path(&self.dir),
                &curve_panels(logs.history.rows(), logs.metrics.rows(), self.history_every, self.loss),
            )?;
            plot::animation(
                &checkpoint::animation_path(&self.dir),
                &logs.frames,
                &self.frame_real,
                &self.backdrop,
            )?;
        }
        Ok(())
    }

    /// The best and the median of the members' latest ranking metric, and how many have one.
    fn best_and_median(&self) -> Option<(f64, f64, usize)> {
        let mut scores: Vec<f64> =
            self.members.iter().filter_map(|m| m.latest_score).filter(|s| !s.is_nan()).collect();
        if scores.is_empty() {
            return None;
        }
        scores.sort_by(f64::total_cmp);
        Some((scores[0], scores[scores.len() / 2], scores.len()))
    }

    /// The one-line summary of a run of members that ended.
    pub(super) fn best_line(&self, trainer: &Trainer) -> String {
        let best = self.standings(trainer).into_iter().next();
        best.filter(|b| b.score.is_some())
            .map(|b| {
                format!(
                    "; best: seed {} ({})",
                    b.seed,
                    b.select.stated(b.score.unwrap_or(f64::NAN), mode_count(trainer))
                )
            })
            .unwrap_or_default()
    }

    /// The small multiples of an evaluation's `reports`, best first.
    fn members_plot(&self, reports: &[Option<EvalReport>], iteration: u64) -> Result<()> {
        let select = self.select;
        let mut shown: Vec<(f64, usize)> = reports
            .iter()
            .enumerate()
            .filter_map(|(k, r)| r.as_ref().map(|r| (select.of(&r.row()), k)))
            .collect();
        shown.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total = shown.len();
        shown.truncate(MAX_PANELS);
        let panels: Vec<MemberPanel> = shown
            .iter()
            .map(|&(score, k)| MemberPanel {
                title: match select {
                    Select::Modes => format!(
                        "seed {}: {}",
                        self.members[k].seed,
                        select.stated(score, self.backdrop.marks.len())
                    ),
                    _ => format!("seed {}: {score:.4}", self.members[k].seed),
                },
                generated: reports[k].as_ref().map(|r| r.fake.clone()).unwrap_or_default(),
            })
            .collect();
        let title = format!(
            "after {} iterations: {}{} members by {} (lower is better)",
            iteration + 1,
            if total > MAX_PANELS { format!("the best {MAX_PANELS} of ") } else { String::new() },
            total,
            select.label()
        );
        plot::members(&checkpoint::members_plot_path(&self.dir, iteration), &title, &panels, &self.backdrop)
    }

    /// A flat run's evaluation as the tutorial prints it, with the metrics.
    fn print_flat(&mut self, report: &EvalReport) -> Result<()> {
        // A closed stdout ends the printing, not the run.
        self.bar.suspend(|| -> Result<()> {
            self.stdout.line(&report.line())?;
            if self.verbosity == Verbosity::Normal {
                crate::output::note(&format!("  {}: {}", report.iteration, report.metrics.summary_line()));
            }
            Ok(())
        })
    }

    /// A flat run's evaluation as a scatter plot.
    /// The discriminator's view, the costly part, is measured here, for the one run that
    /// draws it.
    fn plot_flat(&self, trainer: &Trainer, report: &EvalReport) -> Result<()> {
        let view = trainer.view(0, &report.fake);
        let title = format!("after {} iterations", report.iteration + 1);
        plot::scatter(
            &checkpoint::eval_plot_path(&self.dir, report.iteration),
            &plot::Scatter {
                title: &title,
                real: &report.real,
                generated: &report.fake,
                backdrop: &self.backdrop,
                view: Some(&view),
            },
        )
    }
}

/// Removes the best checkpoint an earlier run left in the flat run folder `dir`, which this
/// new run replaces (`--overwrite`).
fn remove_earlier_best(dir: &Path) -> Result<()> {
    let best = checkpoint::best_dir(dir);
    if best.symlink_metadata().is_ok_and(|m| m.is_dir()) {
        std::fs::remove_dir_all(&best)
            .with_context(|| format!("cannot clear {}, an earlier run's best checkpoint", best.display()))?;
    }
    Ok(())
}

/// The learning curves' panels: losses and accuracies from `history` (a row every
/// `history_every` iterations), the quality metrics of each evaluation, for a run trained with
/// `loss`.
fn curve_panels(
    history: &[HistoryRow],
    metrics: &[MetricsRow],
    history_every: u64,
    loss: Loss,
) -> Vec<Panel> {
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
        metrics.iter().map(|e| (e.iteration as f64, value(e))).collect()
    };
    let (red, blue, orange, green) =
        (RGBColor(200, 30, 30), RGBColor(30, 60, 200), RGBColor(230, 140, 0), RGBColor(20, 140, 60));
    let window = rows as u64 * history_every;
    // A plane target's rows carry its own metrics, a mixture's its modes.
    let quality = if metrics.iter().any(|e| e.ks_y.is_finite()) {
        let mut series = Vec::new();
        if metrics.iter().any(|e| e.high_quality_share.is_finite()) {
            series.push(dotted("low-quality share", per_eval(|e| 1.0 - e.high_quality_share), blue));
        }
        series.extend([
            dotted("KS statistic of x", per_eval(|e| e.ks), green),
            dotted("KS statistic of y", per_eval(|e| e.ks_y), orange),
            dotted("energy distance", per_eval(|e| e.energy_distance), red),
        ]);
        series
    } else {
        vec![
            dotted("residual mean", per_eval(|e| e.residual_mean), blue),
            dotted("residual p95", per_eval(|e| e.residual_p95), orange),
            dotted("KS statistic of x", per_eval(|e| e.ks), green),
            dotted("energy distance", per_eval(|e| e.energy_distance), red),
        ]
    };
    vec![
        Panel {
            title: format!("losses (mean over {window} iterations)"),
            x_desc: "iteration".into(),
            y_desc: loss.quantity().into(),
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
            series: quality,
            log_y: true,
        },
    ]
}

impl Observer for RunObserver {
    fn stepped(&mut self, trainer: &mut Trainer, losses: &StepLosses) -> Result<()> {
        let done = trainer.iteration();
        if done.is_multiple_of(self.history_every) {
            let stats = losses.stats();
            for (k, member) in self.members.iter_mut().enumerate() {
                if trainer.live(k) {
                    member.recorder.record_stats(done - 1, stats.get(k as i64));
                    if member.recorder.len() >= HISTORY_FLUSH {
                        member.flush_history()?;
                    }
                }
            }
        }
        if done.is_multiple_of(self.frame_every) {
            // Every member keeps the frames a single run of its seed keeps, the
            // discriminator's view included; the views, the costly part, on the threads.
            let live: Vec<usize> = (0..trainer.members()).filter(|&k| trainer.live(k)).collect();
            let generated: Vec<Vec<(f32, f32)>> =
                live.iter().map(|&k| trainer.generate(k, &self.members[k].frame_latent)).collect();
            let asked: Vec<(usize, &[(f32, f32)])> =
                live.iter().zip(&generated).map(|(&k, g)| (k, g.as_slice())).collect();
            let views = trainer.views(&asked);
            for ((k, generated), view) in live.into_iter().zip(generated).zip(views) {
                self.members[k].logs().add_frame(done, generated, view)?;
            }
        }
        if self.live_cadence.due() {
            let began = std::time::Instant::now();
            self.live_write(trainer, crate::live::State::Training, None);
            self.live_cadence.wrote(began);
        }
        // An evaluation writes its own checkpoint.
        if self.checkpoint_every.is_some_and(|n| done.is_multiple_of(n)) && !trainer.evaluation_due() {
            self.checkpoint_round(trainer)?;
            self.write_report(trainer, "training")?;
        }
        Ok(())
    }

    fn progress(&mut self, trainer: &Trainer, losses: &[(f64, f64, f64)]) -> Result<()> {
        self.bar.set_position(trainer.iteration());
        self.live.losses = losses.first().map(|&(d_real, d_fake, g)| [d_real, d_fake, g]);
        match self.layout {
            Layout::Flat => {
                let (d_real, d_fake, g) = losses[0];
                self.bar.set_message(format!("loss D real {d_real:.3} fake {d_fake:.3}  G {g:.3}"));
            }
            Layout::Members => {
                if let Some((best, median, n)) = self.best_and_median() {
                    let (select, modes) = (self.select, mode_count(trainer));
                    self.bar.set_message(match select {
                        Select::Modes => format!(
                            "best {}, median {} of {n}",
                            select.stated(best, modes),
                            select.stated(median, modes)
                        ),
                        _ => format!("{}: best {best:.4}, median {median:.4} of {n}", select.label()),
                    });
                }
            }
        }
        Ok(())
    }

    fn diverged(&mut self, _: &Trainer, member: usize, iteration: u64, what: &str) -> Result<()> {
        self.note(&format!(
            "gan1d: seed {} diverged after iteration {iteration}: {what}; frozen, the others go on",
            self.members[member].seed
        ));
        Ok(())
    }

    fn evaluated(&mut self, trainer: &mut Trainer, reports: &[Option<EvalReport>]) -> Result<()> {
        let select = self.select;
        let flat_report = reports.first().and_then(Option::as_ref).filter(|_| self.layout == Layout::Flat);
        if let Some(report) = flat_report {
            self.print_flat(report)?;
        }
        let mut iteration = 0;
        for (k, report) in reports.iter().enumerate() {
            let Some(report) = report else { continue };
            iteration = report.iteration;
            let row = report.row();
            let member = &mut self.members[k];
            member.logs().metrics.append(row.clone())?;
            member.last_evaluation = Some(LastEvaluation {
                iteration: report.iteration,
                acc_real: report.acc_real,
                acc_fake: report.acc_fake,
            });
            let score = select.of(&row);
            member.latest_score = Some(score);
            if ranking::improves(score, member.best.as_ref().map(|b| select.of(b))) {
                // The members layout keeps each member's best checkpoint beside its latest, and
                // a single run does with --keep-best.
                if self.layout == Layout::Members || trainer.cfg().keep_best.is_some() {
                    let best = checkpoint::best_dir(&member.dir);
                    let points_beside = self.layout == Layout::Members;
                    // A single run's is made at its first best (an ensemble's with the run).
                    std::fs::create_dir_all(&best)
                        .with_context(|| format!("cannot make {}", best.display()))?;
                    let saved = checkpoint::save(
                        &best,
                        &checkpoint::Snapshot { points_beside, ..crate::saved::snapshot(trainer, k) },
                        member.last_evaluation,
                        LogRecords::empty(),
                    );
                    match saved {
                        Ok(()) => member.best = Some(row),
                        Err(e) if e.downcast_ref::<checkpoint::NotFinite>().is_some() => {}
                        Err(e) => return Err(e),
                    }
                } else {
                    member.best = Some(row);
                }
            }
        }
        if let Some(patience) = trainer.cfg().patience
            && self.layout == Layout::Flat
            && let Some(best) = self.members[0].best.clone()
        {
            let rows = self.members[0].logs().metrics.rows();
            let since = rows.iter().filter(|r| r.iteration > best.iteration).count() as u64;
            if since >= patience {
                self.early_stop = Some(format!(
                    "{} has not improved for {since} evaluations (best: {} after {} iterations)",
                    select.label(),
                    select.stated(select.of(&best), mode_count(trainer)),
                    best.iteration + 1
                ));
            }
        }
        // The checkpoint first: a new flat run's first one clears the earlier run's plots.
        self.checkpoint_round(trainer)?;
        match self.layout {
            Layout::Flat => flat_report.map_or(Ok(()), |report| self.plot_flat(trainer, report))?,
            Layout::Members => {
                if let Some((best, median, n)) = self.best_and_median() {
                    let leader =
                        self.standings(trainer).into_iter().next().map(|s| s.seed).unwrap_or_default();
                    let modes = mode_count(trainer);
                    let line = format!(
                        "{iteration} {select}: best {} (best so far: seed {leader}), median {}, {n} of {} members",
                        select.stated(best, modes),
                        select.stated(median, modes),
                        self.members.len()
                    );
                    self.bar.suspend(|| self.stdout.line(&line))?;
                }
                self.members_plot(reports, iteration)?
            }
        }
        self.write_report(trainer, "training")
    }

    fn stop_requested(&mut self) -> bool {
        self.signals.received().is_some() || self.early_stop.is_some()
    }
}

/// The modes of the run's target, if it is a mixture in the plane; 0 otherwise.
fn mode_count(trainer: &Trainer) -> usize {
    trainer.target().plane().and_then(|p| p.mixture()).map_or(0, |(modes, _)| modes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loss_axis_names_the_loss_the_run_trains_with() {
        let history: Vec<HistoryRow> = (0..10)
            .map(|i| HistoryRow {
                iteration: i,
                d_loss_real: 0.5,
                d_loss_fake: 0.5,
                g_loss: 1.0,
                d_acc_real: 0.5,
                d_acc_fake: 0.5,
            })
            .collect();
        for &loss in Loss::ALL {
            let panels = curve_panels(&history, &[], 1, loss);
            assert_eq!(panels[0].y_desc, loss.quantity(), "{loss}");
            let cross_entropy = panels[0].y_desc.contains("cross-entropy");
            assert_eq!(
                cross_entropy,
                matches!(loss, Loss::Bce | Loss::Relativistic),
                "{loss}: {}",
                panels[0].y_desc
            );
        }
    }
}
