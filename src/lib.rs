//! gan1d: the tutorial's one-dimensional GAN on libtorch, with one function per subcommand.
//!
//! Data flows one way: `cli` → `config` → `train` (over `data`, `model`, `adam`) →
//! `evaluate` → `checkpoint` / `plot`. The functions here only connect those modules.

pub mod adam;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod data;
pub mod device;
pub mod evaluate;
pub mod model;
pub mod plot;
pub mod progress;
pub mod sample;
pub mod summary;
pub mod train;

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use tch::{Device, nn};

use cli::{Cli, Command, SampleArgs, SummaryArgs, TrainArgs};
use config::ModelConfig;
use device::DeviceChoice;
use evaluate::EvalReport;
use progress::Verbosity;
use train::{StepLosses, Trainer};

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train(args) => train_command(&args),
        Command::Sample(args) => sample_command(&args),
        Command::Summary(args) => summary_command(&args),
    }
}

fn train_command(args: &TrainArgs) -> Result<()> {
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
    let mut observer = TrainObserver { out: args.out.clone(), bar: bar.clone(), curve: data::curve(101) };
    let started = std::time::Instant::now();
    let result = trainer.fit(&mut observer);
    bar.finish_and_clear();
    result?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "gan1d: {} iterations in {seconds:.2} s ({:.0} it/s, evaluations and checkpoints included); checkpoint in {}",
        cfg.epochs,
        cfg.epochs as f64 / seconds,
        args.out.display()
    );
    Ok(())
}

/// Creates the output folder and its plots folder and proves it writable, before any training.
/// Plots of an earlier run in the same folder are removed so the folder describes one run.
fn prepare_out_dir(dir: &Path) -> Result<()> {
    let fail = || format!("--out {}: the folder cannot be written", dir.display());
    let plots = checkpoint::plots_dir(dir);
    fs::create_dir_all(&plots).with_context(fail)?;
    let probe = dir.join(".gan1d-write-test");
    fs::write(&probe, b"").with_context(fail)?;
    fs::remove_file(&probe).with_context(fail)?;
    for entry in fs::read_dir(&plots).with_context(fail)? {
        let path = entry.with_context(fail)?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("iter_") && name.ends_with(".png") {
            fs::remove_file(&path).with_context(fail)?;
        }
    }
    Ok(())
}

/// Shows training as it goes: the bar, the tutorial's line per evaluation on stdout, a plot
/// and a checkpoint per evaluation.
struct TrainObserver {
    out: PathBuf,
    bar: ProgressBar,
    curve: Vec<(f64, f64)>,
}

impl train::Observer for TrainObserver {
    fn progress(&mut self, completed: u64, losses: &StepLosses) -> Result<()> {
        let (d_real, d_fake, g) = losses.values();
        self.bar.set_position(completed);
        self.bar.set_message(format!("loss D real {d_real:.3} fake {d_fake:.3}  G {g:.3}"));
        Ok(())
    }

    fn evaluated(&mut self, trainer: &Trainer, report: &EvalReport) -> Result<()> {
        self.bar.suspend(|| println!("{}", report.line()));
        let title = format!("after {} iterations", report.iteration + 1);
        plot::scatter(
            &checkpoint::eval_plot_path(&self.out, report.iteration),
            &plot::Scatter { title: &title, real: &report.real, generated: &report.fake, curve: &self.curve },
        )?;
        checkpoint::save(&self.out, trainer, Some(report))
    }
}

/// Most points drawn in a `sample --plot`: beyond this a scatter shows nothing new.
const SAMPLE_PLOT_LIMIT: usize = 10_000;

fn sample_command(args: &SampleArgs) -> Result<()> {
    // One thread: the same seed must give byte-identical output on any machine load.
    tch::set_num_threads(1);
    let (manifest, _vs, generator) = checkpoint::load_generator(&args.checkpoint, Device::Cpu)?;
    let keep = if args.plot.is_some() { SAMPLE_PLOT_LIMIT } else { 0 };
    train::seed_everything(args.seed, Device::Cpu);
    let latent_dim = manifest.model.latent_dim;
    let kept = match &args.out {
        None => {
            let stdout = io::stdout();
            let mut writer = BufWriter::new(stdout.lock());
            match sample::write_csv(&generator, latent_dim, args.n, keep, &mut writer) {
                Ok(kept) => kept,
                // A reader that stops early (`| head`) is not an error.
                Err(e) if is_broken_pipe(&e) => return Ok(()),
                Err(e) => return Err(e.context("cannot write the samples to stdout")),
            }
        }
        Some(path) => write_file_atomically(path, "--out", |w| {
            sample::write_csv(&generator, latent_dim, args.n, keep, w)
        })?,
    };
    if let Some(plot_path) = &args.plot {
        let title = format!("{} samples, seed {}", args.n, args.seed);
        let curve = data::curve(101);
        plot::scatter(
            plot_path,
            &plot::Scatter { title: &title, real: &[], generated: &kept, curve: &curve },
        )
        .with_context(|| format!("--plot {}", plot_path.display()))?;
    }
    Ok(())
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

/// Writes a user's output file under a temporary name beside it and renames it into place, so
/// an interrupted run never leaves half a file. `flag` names the option in errors.
fn write_file_atomically<T>(
    path: &Path,
    flag: &str,
    write: impl FnOnce(&mut dyn Write) -> Result<T>,
) -> Result<T> {
    let file_name =
        path.file_name().with_context(|| format!("{flag} {}: not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.tmp", file_name.to_string_lossy()));
    let fail = || format!("{flag} {}: cannot write the file", path.display());
    let file = File::create(&tmp).with_context(fail)?;
    let mut writer = BufWriter::new(file);
    let result = write(&mut writer).and_then(|value| {
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok(value)
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(fail)
}

fn summary_command(args: &SummaryArgs) -> Result<()> {
    let model_cfg = match &args.checkpoint {
        Some(dir) => checkpoint::read_manifest(dir)?.model,
        None => ModelConfig::default(),
    };
    let (g_vs, d_vs) = (nn::VarStore::new(Device::Cpu), nn::VarStore::new(Device::Cpu));
    let generator = model::Generator::new(&g_vs.root(), &model_cfg);
    let discriminator = model::Discriminator::new(&d_vs.root(), &model_cfg);
    print!("{}", summary::render(&generator, &discriminator));
    Ok(())
}
