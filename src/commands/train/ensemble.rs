//! `gan1d train --seeds LIST`: an ensemble, fresh or resumed. Each member's folder is an
//! ordinary run folder (latest checkpoint, `metrics.csv`, `history.csv`, `frames.csv`) with
//! its best checkpoint in `best/`; the ensemble's folder holds the manifest, the leaderboard
//! and the members' small multiples (see `checkpoint::ensemble`).
//!
//! A checkpoint round saves every live member, then the leaderboard, then `ensemble.json`,
//! which names the iteration the round reached: each member's save is atomic, and a resume
//! checks that all members reached one iteration.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use indicatif::ProgressBar;
use tch::Tensor;

use super::logs::{Logs, frame_every, frame_latent};
use super::signals::StopSignals;
use super::{Ending, lock_run_dir, resume_command, resumed_config, shell_quote, start_device};
use crate::checkpoint::{self, EnsembleManifest, LastEvaluation, LogRecords};
use crate::cli::TrainArgs;
use crate::config::EngineKind;
use crate::engine::StepLosses;
use crate::ensemble::leaderboard::{self, Select, Standing};
use crate::ensemble::{Ensemble, EnsembleObserver};
use crate::evaluate::EvalReport;
use crate::plot::{self, MemberPanel};
use crate::progress::{self, Verbosity};
use crate::runlog::MetricsRow;
use crate::train::{FitEnd, HistoryRecorder, Trainer};

/// History rows collected on the device before one copy to the host.
const HISTORY_FLUSH: usize = 100;
/// Panels in the small multiples, at most: the best-ranked members.
const MAX_PANELS: usize = 64;

/// A fresh ensemble of `seeds` into `--out`.
pub(super) fn train_fresh(args: &TrainArgs, seeds: &[u64]) -> Result<()> {
    let (model_cfg, cfg) = args.configs();
    model_cfg.validate()?;
    cfg.validate()?;
    let dir = args.out.clone();
    if args.overwrite {
        bail!(
            "--overwrite: an ensemble never replaces a folder; remove {} yourself, or train into another --out",
            dir.display()
        );
    }
    let device = start_device(args)?;
    let refuse_an_earlier_run = || -> Result<()> {
        let found = checkpoint::run_evidence(&dir)
            .or_else(|| {
                Some(checkpoint::ensemble_manifest_path(&dir)).filter(|p| p.symlink_metadata().is_ok())
            })
            .or_else(|| Some(checkpoint::members_dir(&dir)).filter(|p| p.symlink_metadata().is_ok()));
        match found {
            Some(found) => bail!(
                "--out {}: the folder already holds a run ({} exists); continue it with `gan1d train --resume {}`, \
                 or train into another --out",
                dir.display(),
                found.display(),
                shell_quote(&dir.display().to_string())
            ),
            None => Ok(()),
        }
    };
    refuse_an_earlier_run()?;
    super::super::writable_dir(&checkpoint::plots_dir(&dir), "--out")?;
    let lock = lock_run_dir(&dir, "--out")?;
    refuse_an_earlier_run()?;
    let ensemble = Ensemble::new(&model_cfg, &cfg, seeds, device)?;
    let mut members = Vec::with_capacity(seeds.len());
    for member in 0..ensemble.len() {
        let trainer = ensemble.member(member);
        let member_dir = checkpoint::member_dir(&dir, trainer.cfg().seed);
        super::super::writable_dir(&checkpoint::best_dir(&member_dir), "--out")?;
        let logs = Logs::create(&member_dir, trainer)?;
        members.push(Member::new(member_dir, trainer, logs, None, None));
    }
    let manifest = EnsembleManifest::new(seeds.to_vec(), args.select, 0);
    checkpoint::write_ensemble_manifest(&dir, &manifest)?;
    let run = EnsembleRun::new(&dir, args, &ensemble, members, manifest)?;
    crate::output::note(&format!(
        "gan1d: training {} members (seeds {}) at once into {}",
        seeds.len(),
        crate::cli::SeedList(seeds.to_vec()),
        dir.display()
    ));
    go(args, dir, ensemble, run, lock, 0)
}

/// The ensemble in `dir`, continued to `--epochs` or its own total.
pub(super) fn train_resumed(args: &TrainArgs, dir: &Path) -> Result<()> {
    let read =
        || checkpoint::read_ensemble_manifest(dir).with_context(|| format!("--resume {}", dir.display()));
    read()?;
    super::super::writable_dir(&checkpoint::plots_dir(dir), "--resume")?;
    let lock = lock_run_dir(dir, "--resume")?;
    let manifest = read()?;
    let device = start_device(args)?;
    let earlier = leaderboard::read(&checkpoint::leaderboard_path(dir)).unwrap_or_default();
    // Every member is read and checked before anything is written.
    let mut loaded: Vec<Option<(Trainer, Member)>> = Vec::new();
    for &seed in &manifest.seeds {
        if manifest.diverged.contains_key(&seed) {
            loaded.push(None);
            continue;
        }
        let member_dir = checkpoint::member_dir(dir, seed);
        let context = || format!("--resume {}: member {seed}", dir.display());
        let member_manifest = checkpoint::read_manifest(&member_dir).with_context(context)?;
        let cfg = resumed_config(args, &member_dir, &member_manifest)?;
        let trainer = Trainer::resumed(&member_dir, &member_manifest, &cfg, EngineKind::Fused, device)
            .with_context(context)?;
        let logs = Logs::reopen(&member_dir, &member_manifest, &trainer).with_context(context)?;
        let best = best_of(logs.metrics.rows(), manifest.select);
        let mut member = Member::new(member_dir, &trainer, logs, best, member_manifest.last_evaluation);
        member.saved_at = Some(member_manifest.iteration);
        loaded.push(Some((trainer, member)));
    }
    let Some((model_cfg, cfg)) =
        loaded.iter().flatten().next().map(|(t, _)| (t.model_cfg().clone(), t.cfg().clone()))
    else {
        bail!("--resume {}: every member has diverged; there is nothing to train", dir.display());
    };
    // A member that diverged keeps its place, so that the others' arithmetic is the same as
    // before: a fresh run of its seed stands in, and its row of the leaderboard stays.
    let mut members = Vec::new();
    for (entry, &seed) in loaded.into_iter().zip(&manifest.seeds) {
        members.push(match entry {
            Some(member) => member,
            None => {
                let at = manifest.diverged[&seed];
                let standing = earlier.iter().find(|s| s.seed == seed).cloned();
                let standing =
                    standing.unwrap_or_else(|| Standing::new(seed, manifest.select, None, Some(at)));
                let stand_in = Trainer::new(
                    &model_cfg,
                    &crate::config::TrainConfig { seed, ..cfg.clone() },
                    EngineKind::Fused,
                    device,
                )?;
                let member = Member::frozen(checkpoint::member_dir(dir, seed), &stand_in, standing);
                (stand_in, member)
            }
        });
    }
    let (ensemble, members, manifest) = bring_level(args, dir, members, manifest)?;
    super::remove_plots(dir, manifest.iteration, false)?;
    let first = manifest.iteration;
    let run = EnsembleRun::new(dir, args, &ensemble, members, manifest)?;
    progress::resume_at(&run.bar, first);
    crate::output::note(&format!(
        "gan1d: resuming the ensemble in {} ({} members) after {first} iterations, to {}",
        dir.display(),
        ensemble.len(),
        ensemble.cfg().epochs
    ));
    go(args, dir.to_path_buf(), ensemble, run, lock, first)
}

/// The ensemble of `members`, every one that trains at one iteration. Members saved at
/// different iterations (the ensemble was stopped while it saved them) are brought level
/// first: those behind train to where the others are, with the others riding along in their
/// places, which is exactly what they do in the whole ensemble, and are saved there.
fn bring_level(
    args: &TrainArgs,
    dir: &Path,
    members: Vec<(Trainer, Member)>,
    mut manifest: EnsembleManifest,
) -> Result<(Ensemble, Vec<Member>, EnsembleManifest)> {
    let (mut trainers, mut members): (Vec<Trainer>, Vec<Member>) = members.into_iter().unzip();
    loop {
        let trains: Vec<bool> = members.iter().map(|m| m.frozen.is_none()).collect();
        let at: Vec<u64> =
            trainers.iter().zip(&trains).filter(|(_, t)| **t).map(|(t, _)| t.iteration()).collect();
        let lowest = *at.iter().min().expect("a member trains");
        let Some(next) = at.iter().copied().filter(|&i| i > lowest).min() else {
            let passengers: Vec<bool> = trains.iter().map(|t| !t).collect();
            manifest.iteration = lowest;
            return Ok((Ensemble::with_passengers(trainers, &passengers)?, members, manifest));
        };
        let behind: Vec<bool> =
            trainers.iter().zip(&trains).map(|(t, &trains)| trains && t.iteration() == lowest).collect();
        crate::output::note(&format!(
            "gan1d: {} of the members were saved after {lowest} iterations and the rest after {next} (the ensemble \
             was stopped while it saved); training those behind to {next} first",
            behind.iter().filter(|&&b| b).count()
        ));
        let passengers: Vec<bool> = behind.iter().map(|b| !b).collect();
        let mut sub = Ensemble::with_passengers(trainers, &passengers)?;
        let level = EnsembleManifest { iteration: lowest, ..manifest.clone() };
        let mut run = EnsembleRun::new(dir, args, &sub, members, level)?;
        run.bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        let end = sub.fit_to(next, &mut run)?;
        run.checkpoint_round(&mut sub)?;
        if end == FitEnd::Stopped {
            let signal = run.signals.received().expect("training stops only on a signal");
            let notes = vec![format!("resume with: {}", resume_command(args, dir))];
            return Err(Ending { error: None, notes, exit_code: signal.exit_code }.into());
        }
        manifest.diverged = run.manifest.diverged.clone();
        let standings = run.standings(&sub);
        members = std::mem::take(&mut run.members);
        for (k, member) in members.iter_mut().enumerate() {
            if sub.diverged(k).is_some() {
                member.frozen = standings.iter().find(|s| s.seed == member.seed).cloned();
            }
        }
        trainers = sub.into_members()?;
    }
}

/// The best of a member's evaluations by `select`.
fn best_of(rows: &[MetricsRow], select: Select) -> Option<MetricsRow> {
    let mut best: Option<&MetricsRow> = None;
    for row in rows {
        if leaderboard::improves(select.of(row), best.map(|b| select.of(b))) {
            best = Some(row);
        }
    }
    best.cloned()
}

/// Trains `ensemble` to its end and says how it ended.
fn go(
    args: &TrainArgs,
    dir: PathBuf,
    mut ensemble: Ensemble,
    mut run: EnsembleRun,
    _lock: std::fs::File,
    first: u64,
) -> Result<()> {
    let started = Instant::now();
    let result = ensemble.fit(&mut run);
    run.bar.finish_and_clear();
    let end = result.and_then(|end| {
        if end == FitEnd::Stopped {
            run.checkpoint_round(&mut ensemble)?;
        }
        Ok(end)
    });
    let end = match end {
        Ok(end) => end,
        Err(e) => {
            let notes = match run.saved_at {
                Some(at) => vec![
                    format!(
                        "the last complete checkpoint of every member, after {at} iterations, is in {}",
                        dir.display()
                    ),
                    format!("resume with: {}", resume_command(args, &dir)),
                ],
                None => {
                    // A new ensemble that never saved takes away what it wrote: the folder is
                    // left as it was found.
                    remove_unsaved_ensemble(&dir);
                    vec![format!(
                        "no checkpoint of this ensemble was written before the error; {} is as it was",
                        dir.display()
                    )]
                }
            };
            return Err(Ending { exit_code: crate::exit_code(&e), error: Some(e), notes }.into());
        }
    };
    if end == FitEnd::Stopped {
        let signal = run.signals.received().expect("training stops only on a signal");
        let notes = vec![
            format!(
                "stopped by {} after {} of {} iterations; every member's checkpoint written to {}",
                signal.name,
                ensemble.iteration(),
                ensemble.cfg().epochs,
                dir.display()
            ),
            format!("resume with: {}", resume_command(args, &dir)),
        ];
        return Err(Ending { error: None, notes, exit_code: signal.exit_code }.into());
    }
    run.finish()?;
    let seconds = started.elapsed().as_secs_f64();
    let ran = ensemble.cfg().epochs - first;
    let member_iterations = ran as f64 * ensemble.len() as f64;
    let best = run.standings(&ensemble).into_iter().next();
    let best = best
        .filter(|b| b.score.is_some())
        .map(|b| format!("; best: seed {} ({} {:.5})", b.seed, b.select.label(), b.score.unwrap_or(f64::NAN)))
        .unwrap_or_default();
    crate::output::note(&format!(
        "gan1d: {} members × {ran} iterations in {seconds:.2} s ({:.4} ms per member-iteration, evaluations and \
         checkpoints included){best}; results in {}",
        ensemble.len(),
        seconds * 1e3 / member_iterations,
        dir.display()
    ));
    Ok(())
}

/// Removes a new ensemble's files from `dir` before its first checkpoint round: its manifest
/// and its members' folders (a new ensemble refuses a folder that holds either, so both are
/// its own). Failing to remove one only leaves clutter.
fn remove_unsaved_ensemble(dir: &Path) {
    let _ = std::fs::remove_dir_all(checkpoint::members_dir(dir));
    let _ = std::fs::remove_file(checkpoint::ensemble_manifest_path(dir));
}

/// What the command keeps of one member: its folder, logs and best evaluation.
struct Member {
    dir: PathBuf,
    seed: u64,
    /// `None` for a member that diverged in an earlier session: it only holds its place.
    logs: Option<Logs>,
    /// Its row of the leaderboard, for a member that diverged in an earlier session.
    frozen: Option<Standing>,
    recorder: HistoryRecorder,
    frame_latent: Tensor,
    saved_at: Option<u64>,
    last_evaluation: Option<LastEvaluation>,
    best: Option<MetricsRow>,
    /// The ranking metric at the member's last evaluation.
    latest_score: Option<f64>,
}

impl Member {
    fn new(
        dir: PathBuf,
        trainer: &Trainer,
        logs: Logs,
        best: Option<MetricsRow>,
        last_evaluation: Option<LastEvaluation>,
    ) -> Member {
        Member {
            dir,
            seed: trainer.cfg().seed,
            logs: Some(logs),
            frozen: None,
            recorder: HistoryRecorder::default(),
            frame_latent: frame_latent(trainer),
            saved_at: None,
            last_evaluation,
            best,
            latest_score: None,
        }
    }

    /// A member that diverged in an earlier session, holding its place beside `trainer`.
    fn frozen(dir: PathBuf, trainer: &Trainer, standing: Standing) -> Member {
        Member {
            dir,
            seed: standing.seed,
            logs: None,
            frozen: Some(standing),
            recorder: HistoryRecorder::default(),
            frame_latent: frame_latent(trainer),
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

    /// Saves the member's latest checkpoint (its trainer must be in sync). `Ok(false)` when a
    /// weight is not finite: the member has diverged, and its last checkpoint stays.
    fn checkpoint(&mut self, trainer: &Trainer) -> Result<bool> {
        if self.saved_at == Some(trainer.iteration()) {
            return Ok(true);
        }
        self.flush_history()?;
        let records = self.logs().records()?;
        match checkpoint::save(&self.dir, &trainer.snapshot(), self.last_evaluation, records) {
            Ok(()) => {}
            Err(e) if e.downcast_ref::<checkpoint::NotFinite>().is_some() => return Ok(false),
            Err(e) => return Err(e),
        }
        self.saved_at = Some(trainer.iteration());
        let dir = self.dir.clone();
        self.logs().publish(&dir)?;
        Ok(true)
    }
}

/// Reacts to the ensemble's training: logs, checkpoints, leaderboard, plots, progress.
struct EnsembleRun {
    dir: PathBuf,
    manifest: EnsembleManifest,
    /// One per member of the ensemble, in its order.
    members: Vec<Member>,
    bar: ProgressBar,
    curve: Vec<(f64, f64)>,
    history_every: u64,
    frame_every: u64,
    checkpoint_every: Option<u64>,
    /// The iteration of the last complete checkpoint round.
    saved_at: Option<u64>,
    signals: StopSignals,
    stdout: crate::output::Stdout,
}

impl EnsembleRun {
    fn new(
        dir: &Path,
        args: &TrainArgs,
        ensemble: &Ensemble,
        members: Vec<Member>,
        manifest: EnsembleManifest,
    ) -> Result<Self> {
        let verbosity = if args.quiet { Verbosity::Quiet } else { Verbosity::Normal };
        let cfg = ensemble.cfg();
        Ok(EnsembleRun {
            dir: dir.to_path_buf(),
            saved_at: (manifest.iteration > 0).then_some(manifest.iteration),
            manifest,
            members,
            bar: progress::training_bar(cfg.epochs, verbosity),
            curve: ensemble.member(0).target().curve(plot::CURVE_POINTS),
            history_every: cfg.history_every,
            frame_every: frame_every(cfg),
            checkpoint_every: args.checkpoint_every,
            signals: StopSignals::install()?,
            stdout: crate::output::Stdout::default(),
        })
    }

    /// Says something on stderr, above the progress bar; `--quiet` does not silence it.
    fn note(&self, text: &str) {
        self.bar.suspend(|| crate::output::note(text));
    }

    /// Every member's standing, ranked.
    fn standings(&self, ensemble: &Ensemble) -> Vec<Standing> {
        let select = self.manifest.select;
        let mut rows: Vec<Standing> = self
            .members
            .iter()
            .enumerate()
            .map(|(k, m)| {
                m.frozen
                    .clone()
                    .unwrap_or_else(|| Standing::new(m.seed, select, m.best.as_ref(), ensemble.diverged(k)))
            })
            .collect();
        leaderboard::rank(&mut rows);
        rows
    }

    /// Saves every live member, then the leaderboard, then the manifest naming the iteration.
    fn checkpoint_round(&mut self, ensemble: &mut Ensemble) -> Result<()> {
        let iteration = ensemble.iteration();
        for k in 0..ensemble.len() {
            if !ensemble.live(k) {
                continue;
            }
            ensemble.sync(k)?;
            if !self.members[k].checkpoint(ensemble.member(k))? {
                let at = iteration.saturating_sub(1);
                ensemble.freeze(k, at);
                self.note(&format!(
                    "gan1d: seed {} diverged after iteration {at} (a weight is not finite); frozen, its last \
                     checkpoint and its best are kept",
                    self.members[k].seed
                ));
            }
        }
        for k in 0..ensemble.len() {
            if let Some(at) = ensemble.diverged(k) {
                self.manifest.diverged.insert(self.members[k].seed, at);
            }
        }
        leaderboard::write(&checkpoint::leaderboard_path(&self.dir), &self.standings(ensemble))?;
        self.manifest.iteration = iteration;
        checkpoint::write_ensemble_manifest(&self.dir, &self.manifest)?;
        self.saved_at = Some(iteration);
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        for member in &mut self.members {
            member.flush_history()?;
        }
        Ok(())
    }

    /// The best and the median of the members' latest ranking metric.
    fn best_and_median(&self) -> Option<(f64, f64, usize)> {
        let mut scores: Vec<f64> =
            self.members.iter().filter_map(|m| m.latest_score).filter(|s| !s.is_nan()).collect();
        if scores.is_empty() {
            return None;
        }
        scores.sort_by(f64::total_cmp);
        Some((scores[0], scores[scores.len() / 2], scores.len()))
    }

    /// The small multiples of an evaluation's `reports`, best first.
    fn members_plot(&self, reports: &[Option<EvalReport>], iteration: u64) -> Result<()> {
        let select = self.manifest.select;
        let mut shown: Vec<(f64, usize)> = reports
            .iter()
            .enumerate()
            .filter_map(|(k, r)| r.as_ref().map(|r| (select.of(&MetricsRow::new(r)), k)))
            .collect();
        shown.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total = shown.len();
        shown.truncate(MAX_PANELS);
        let panels: Vec<MemberPanel> = shown
            .iter()
            .map(|&(score, k)| MemberPanel {
                title: format!("seed {}: {score:.4}", self.members[k].seed),
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
        plot::members(&checkpoint::members_plot_path(&self.dir, iteration), &title, &panels, &self.curve)
    }
}

impl EnsembleObserver for EnsembleRun {
    fn stepped(&mut self, ensemble: &mut Ensemble, losses: &StepLosses) -> Result<()> {
        let done = ensemble.iteration();
        if done.is_multiple_of(self.history_every) {
            let stats = losses.stats();
            for (k, member) in self.members.iter_mut().enumerate() {
                if ensemble.live(k) {
                    member.recorder.record_stats(done - 1, stats.get(k as i64));
                    if member.recorder.len() >= HISTORY_FLUSH {
                        member.flush_history()?;
                    }
                }
            }
        }
        if done.is_multiple_of(self.frame_every) {
            for k in 0..ensemble.len() {
                if ensemble.live(k) {
                    ensemble.sync(k)?;
                    let generated = ensemble.member(k).generate(&self.members[k].frame_latent);
                    self.members[k].logs().add_frame(done, generated)?;
                }
            }
        }
        if self.checkpoint_every.is_some_and(|n| done.is_multiple_of(n)) && !ensemble.evaluation_due() {
            self.checkpoint_round(ensemble)?;
        }
        Ok(())
    }

    fn progress(&mut self, _: &Ensemble, completed: u64) -> Result<()> {
        self.bar.set_position(completed);
        if let Some((best, median, n)) = self.best_and_median() {
            let label = self.manifest.select.label();
            self.bar.set_message(format!("{label}: best {best:.4}, median {median:.4} of {n}"));
        }
        Ok(())
    }

    fn diverged(&mut self, _: &Ensemble, member: usize, iteration: u64, what: &str) -> Result<()> {
        self.note(&format!(
            "gan1d: seed {} diverged after iteration {iteration}: {what}; frozen, the others go on",
            self.members[member].seed
        ));
        Ok(())
    }

    fn evaluated(&mut self, ensemble: &mut Ensemble, reports: &[Option<EvalReport>]) -> Result<()> {
        let select = self.manifest.select;
        let mut iteration = 0;
        for (k, report) in reports.iter().enumerate() {
            let Some(report) = report else { continue };
            iteration = report.iteration;
            let row = MetricsRow::new(report);
            let member = &mut self.members[k];
            member.logs().metrics.append(row.clone())?;
            member.last_evaluation = Some(LastEvaluation {
                iteration: report.iteration,
                acc_real: report.acc_real,
                acc_fake: report.acc_fake,
            });
            let score = select.of(&row);
            member.latest_score = Some(score);
            if leaderboard::improves(score, member.best.as_ref().map(|b| select.of(b))) {
                let trainer = ensemble.member(k);
                let best = checkpoint::best_dir(&member.dir);
                match checkpoint::save(
                    &best,
                    &trainer.snapshot(),
                    member.last_evaluation,
                    LogRecords::empty(),
                ) {
                    Ok(()) => member.best = Some(row),
                    Err(e) if e.downcast_ref::<checkpoint::NotFinite>().is_some() => {}
                    Err(e) => return Err(e),
                }
            }
        }
        self.checkpoint_round(ensemble)?;
        if let Some((best, median, n)) = self.best_and_median() {
            let leader = self.standings(ensemble).into_iter().next().map(|s| s.seed).unwrap_or_default();
            let line = format!(
                "{iteration} {}: best {best:.6} (best so far: seed {leader}), median {median:.6}, {n} of {} members",
                select,
                self.members.len()
            );
            self.bar.suspend(|| self.stdout.line(&line))?;
        }
        self.members_plot(reports, iteration)
    }

    fn stop_requested(&mut self) -> bool {
        self.signals.received().is_some()
    }
}
