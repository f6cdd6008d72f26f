//! A new run into `--out`: every input checked and the folder locked before anything is
//! written, and what a run that fails before its first checkpoint made taken away again.

#[allow(unused_imports)]
use super::*;

impl Run {
    /// A new run into `--out`, from the flags: one member of `--seed` in the flat layout, or
    /// the members of `--seeds` in the members layout.
    pub(super) fn fresh(plan: &TrainPlan, out: &Path) -> Result<Run> {
        let created = Created::note(out);
        let run = Run::fresh_unguarded(plan);
        match run {
            Ok(run) => Ok(Run { created: Some(created), ..run }),
            Err(e) => {
                created.undo();
                Err(e)
            }
        }
    }

    pub(super) fn fresh_unguarded(plan: &TrainPlan) -> Result<Run> {
        let Begin::Fresh { out, overwrite, seeds } = &plan.begin else {
            bail!("a new run is trained into --out, not resumed");
        };
        let (model_cfg, cfg) = plan.configs()?;
        model_cfg.validate()?;
        cfg.validate()?;
        model_cfg.check_pack(&cfg)?;
        let target = crate::target::Target::new(&cfg.target)?;
        let mixture = target.plane().and_then(|p| p.mixture()).is_some();
        // A metric must be one the target has: --select's, and --keep-best's.
        let metrics =
            [("--select", plan.select)].into_iter().chain(cfg.keep_best.map(|m| ("--keep-best", m)));
        for (flag, metric) in metrics {
            if metric == ranking::Select::Modes && !mixture {
                bail!(
                    "{flag} modes ranks by the modes of a mixture target (ring, grid); {} has none: use {flag} energy",
                    target.legend_label()
                );
            }
            if metric == ranking::Select::Residual && target.plane().is_some() {
                bail!(
                    "{flag} residual ranks by the distance from a curve; {} is a distribution in the plane, which \
                     has none: use {flag} energy{}",
                    target.legend_label(),
                    if mixture { ", ks or modes" } else { " or ks" }
                );
            }
        }
        if seeds.is_some() && (cfg.keep_best.is_some() || cfg.patience.is_some()) {
            bail!(
                "--keep-best and --patience are for a single run; an ensemble keeps each member's best checkpoint \
                 by --select"
            );
        }
        let (layout, seeds) = match seeds {
            Some(list) => (Layout::Members, list.clone()),
            None => (Layout::Flat, vec![cfg.seed]),
        };
        check_engine(plan.engine, seeds.len())?;
        let dir = out.clone();
        if layout == Layout::Members && *overwrite {
            bail!(
                "--overwrite: an ensemble never replaces a folder; remove {} yourself, or train into another --out",
                dir.display()
            );
        }
        // Everything is checked before anything in the folder changes.
        let (device, engine) = start_device(plan)?;
        let refuse_an_earlier_run = || -> Result<()> {
            if let Some(what) = checkpoint::folder_within_a_run(&dir) {
                bail!(
                    "--out {}: that folder is {what}, which only that run writes; train into another --out",
                    dir.display()
                );
            }
            let Some(found) = checkpoint::run_evidence(&dir) else { return Ok(()) };
            let quoted = shell_quote(&dir.display().to_string());
            let holds_members = Layout::of(&dir) == Layout::Members || checkpoint::members_dir(&dir).exists();
            if !overwrite {
                // Only advice that works: --overwrite replaces a single run with a single run,
                // and a resume needs a checkpoint it can read.
                let instead = if layout == Layout::Flat && !holds_members {
                    "replace it with `--overwrite`"
                } else {
                    "train into another --out"
                };
                let resumable = checkpoint::members_of(&dir).is_ok();
                bail!(
                    "--out {}: the folder already holds a run ({} exists); {}{instead}",
                    dir.display(),
                    found.display(),
                    if resumable {
                        format!("continue it with `gan1d train --resume {quoted}`, or ")
                    } else {
                        "it holds no checkpoint that can be resumed; move its files away, or ".to_string()
                    }
                );
            }
            if holds_members {
                bail!(
                    "--out {}: --overwrite replaces a single run, and the folder holds an ensemble ({} exists); remove \
                     it yourself, or train into another --out",
                    dir.display(),
                    found.display()
                );
            }
            Ok(())
        };
        refuse_an_earlier_run()?;
        checkpoint::check_own_entries(&dir, &format!("--out {}", dir.display()))?;
        super::super::writable_dir(&checkpoint::plots_dir(&dir), "--out")?;
        let mut locks = vec![lock_run_dir(&dir, &format!("--out {}", dir.display()))?];
        // Another process may have written a run in between; under the lock, nothing can.
        refuse_an_earlier_run()?;
        // With --overwrite, the earlier run's files stay until this run's first checkpoint.
        let trainer = crate::failure::catch_libtorch(|| {
            Trainer::new(&model_cfg, &cfg, engine, device, None, Start::fresh(&seeds))
                .and_then(|t| t.with_threads(plan.threads as usize))
        })
        .map_err(|e| too_large(e, &model_cfg, &cfg, seeds.len()))?;
        let manifest =
            (layout == Layout::Members).then(|| EnsembleManifest::new(seeds.clone(), plan.select, 0));
        let mut set_up = || -> Result<Vec<MemberLog>> {
            let mut members = Vec::with_capacity(seeds.len());
            for (k, &seed) in seeds.iter().enumerate() {
                let member_dir = layout.member_dir(&dir, seed);
                if layout == Layout::Members {
                    super::super::writable_dir(&checkpoint::best_dir(&member_dir), "--out")?;
                    locks.push(lock_run_dir(&member_dir, &format!("--out {}", dir.display()))?);
                }
                let logs = Logs::create(&member_dir, &trainer, k)?;
                members.push(MemberLog::new(member_dir, &trainer, k, logs, None, None));
            }
            if let Some(manifest) = &manifest {
                if let Some(set) = &cfg.target.data {
                    checkpoint::write_points(&dir, set)?;
                }
                checkpoint::write_ensemble_manifest(&dir, manifest)?;
            }
            Ok(members)
        };
        let members = match set_up() {
            Ok(members) => members,
            Err(e) => {
                // Nothing of this run is worth keeping: what it wrote goes (see discard_unsaved).
                if layout == Layout::Members {
                    let _ = fs::remove_dir_all(checkpoint::members_dir(&dir));
                    let _ = fs::remove_file(checkpoint::ensemble_manifest_path(&dir));
                    let _ = fs::remove_file(checkpoint::points_path(&dir));
                }
                return Err(e);
            }
        };
        let observer = RunObserver::new(&dir, layout, plan, &trainer, members, manifest, None)?;
        if layout == Layout::Members {
            crate::output::note(&format!(
                "gan1d: training {} members (seeds {}) at once into {}",
                seeds.len(),
                crate::cli::SeedList(seeds.clone()),
                dir.display()
            ));
        }
        Ok(Run { dir, layout, trainer, observer, first_iteration: 0, created: None, _locks: locks })
    }
}

/// What a new run's folder lacked before the run began: the folder itself, its plots folder,
/// its lock file, and what its live record held. A run that fails before its first checkpoint
/// removes those it made and puts the record back, so the folder is as it was.
pub(super) struct Created {
    dir: Option<PathBuf>,
    plots: Option<PathBuf>,
    lock: Option<PathBuf>,
    /// The live record's path and earlier content (`None`: there was none).
    live: (PathBuf, Option<Vec<u8>>),
}

impl Created {
    pub(super) fn note(dir: &Path) -> Created {
        let absent = |path: PathBuf| path.symlink_metadata().is_err().then_some(path);
        Created {
            dir: absent(dir.to_path_buf()),
            plots: absent(checkpoint::plots_dir(dir)),
            lock: absent(checkpoint::lock_path(dir)),
            live: {
                let path = checkpoint::live_path(dir);
                let earlier = crate::fsio::read_regular_file(&path, 16 << 20).ok();
                (path, earlier)
            },
        }
    }

    /// Removes what was made: the lock file unless another run holds it, and the folders if
    /// they are empty.
    pub(super) fn undo(&self) {
        if let Some(lock) = &self.lock
            && let Ok(file) = File::open(lock)
            && file.try_lock().is_ok()
        {
            let _ = fs::remove_file(lock);
        }
        // The record is another run's while another process holds the folder's lock.
        let (live, earlier) = &self.live;
        let lock = live.with_file_name(checkpoint::lock_path(Path::new("")));
        if File::open(&lock).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
            || File::open(&lock).is_ok_and(|file| file.try_lock().is_ok())
        {
            let _ = match earlier {
                Some(bytes) => fs::write(live, bytes),
                None => fs::remove_file(live),
            };
        }
        for dir in [&self.plots, &self.dir].into_iter().flatten() {
            let _ = fs::remove_dir(dir);
        }
    }
}
