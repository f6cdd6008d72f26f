//! Continuing the run in `--resume DIR`: every member's checkpoint and logs read and checked,
//! and the typed flags checked against the run, before anything is written.

#[allow(unused_imports)]
use super::*;

impl Run {
    /// The run in `dir`, every member continued to `--epochs` or the run's own total. Every
    /// member's checkpoint and logs are read and checked before anything is written.
    pub(super) fn resumed(plan: &TrainPlan, dir: &Path) -> Result<Run> {
        let context = || format!("--resume {}", dir.display());
        // A best checkpoint is kept as it was evaluated; only its run writes it.
        if let Some(what) =
            checkpoint::folder_within_a_run(dir).filter(|_| dir.file_name() == Some("best".as_ref()))
        {
            bail!(
                "{}: that folder is {what}, kept as it was at its evaluation; resume the run itself",
                context()
            );
        }
        // Checked once before anything is written into the folder, and read again under the
        // lock, which no other run can then change.
        let first_look = checkpoint::members_of(dir).with_context(context)?;
        check_resume_flags(plan, dir, first_look.2.as_ref())?;
        if first_look.0 == Layout::Flat {
            resumed_config(plan, dir, &checkpoint::read_manifest(dir).with_context(context)?)?;
        }
        checkpoint::check_own_entries(dir, &context())?;
        super::super::writable_dir(&checkpoint::plots_dir(dir), "--resume")?;
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
                super::super::read_standings(dir, manifest).map_err(|e| {
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
                    // A single run's best is by its --keep-best metric.
                    let metric = member.cfg.keep_best.unwrap_or(select);
                    let best = ranking::best(member.logs.metrics(), metric).cloned();
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
        let (trainer, mut observer) =
            level.bring_level(plan, dir, layout, manifest, members, states, statuses)?;
        remove_plots(dir, trainer.iteration(), false)?;
        // What writes interrupted before this session left at the top; under the lock, nothing
        // else writes here now.
        checkpoint::remove_temporaries(dir);
        observer.complete_pictures(&trainer)?;
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
}

/// A member read and checked for a resume, nothing of it written yet.
pub(super) struct Loaded {
    dir: PathBuf,
    manifest: Manifest,
    cfg: TrainConfig,
    state: [NetState; 2],
    logs: CheckedLogs,
}

/// A resumed member before the run's observer takes it.
#[allow(clippy::large_enum_variant)] // One per member, built once per resume.
pub(super) enum Pending {
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

/// Refuses the flags that no resume of the run in `dir` (with `manifest` in the members
/// layout) can apply: a ranking metric other than the ensemble's, or for a single run any; a
/// seed for an ensemble, whose members keep theirs. The flags of the run's settings are
/// checked against each member's checkpoint by [`resumed_config`].
pub(super) fn check_resume_flags(
    plan: &TrainPlan,
    dir: &Path,
    manifest: Option<&EnsembleManifest>,
) -> Result<()> {
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
pub(super) fn resumed_config(plan: &TrainPlan, dir: &Path, manifest: &Manifest) -> Result<TrainConfig> {
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
    // A total below what is done cannot be reached; the total itself leaves nothing to train,
    // and such a resume finishes what the run draws (see `RunObserver::complete_pictures`).
    if epochs < manifest.iteration {
        bail!(
            "--resume {dir}: --epochs {epochs} is below the {} iterations the run has done; pass a larger total to \
             train further, or leave --epochs out",
            manifest.iteration
        );
    }
    Ok(wanted)
}
