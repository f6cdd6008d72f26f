//! The checkpoint folder: its layout, saving, and validated loading. The only module that
//! builds paths inside a checkpoint.
//!
//! ```text
//! DIR/generator.ot      the generator's variables (hidden.weight, hidden.bias, out.weight, out.bias)
//! DIR/discriminator.ot  the discriminator's variables, same names
//! DIR/optimizer.ot      both Adams' moments (generator.m, generator.v, discriminator.m, …)
//! DIR/config.json       the whole configuration, iteration reached, seed, versions: written last
//! DIR/metrics.csv       quality metrics at each evaluation      } written by the command layer,
//! DIR/history.csv       losses and accuracies every k iterations } at the paths given here
//! DIR/plots/            iter_NNNNN.png per evaluation, curves.png, training.gif
//! ```
//!
//! Each file is written under a temporary name, synced and renamed into place, so a reader never
//! sees half a file. Loading checks every variable's name, shape and type against the model
//! before changing anything: tch's own `VarStore::load` broadcasts mismatched shapes, adopts the
//! file's type, and stops half-way on error.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor, nn};

use crate::config::{ModelConfig, TrainConfig};
use crate::evaluate::EvalReport;
use crate::model::Generator;
use crate::train::Trainer;

/// The version of the layout above. A checkpoint with a larger number is refused.
pub const FORMAT_VERSION: u32 = 1;

/// The files of a checkpoint folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Generator,
    Discriminator,
    Optimizer,
    Manifest,
}

/// The path of `file` inside the checkpoint folder `dir`.
pub fn path(dir: &Path, file: Part) -> PathBuf {
    dir.join(match file {
        Part::Generator => "generator.ot",
        Part::Discriminator => "discriminator.ot",
        Part::Optimizer => "optimizer.ot",
        Part::Manifest => "config.json",
    })
}

/// The folder for plots inside the checkpoint folder `dir`.
pub fn plots_dir(dir: &Path) -> PathBuf {
    dir.join("plots")
}

/// The evaluation plot for the 0-based `iteration`, e.g. `plots/iter_01999.png`.
pub fn eval_plot_path(dir: &Path, iteration: u64) -> PathBuf {
    plots_dir(dir).join(format!("iter_{iteration:05}.png"))
}

/// The run's log of quality metrics, one row per evaluation.
pub fn metrics_csv_path(dir: &Path) -> PathBuf {
    dir.join("metrics.csv")
}

/// The run's log of losses and accuracies, one row every `history_every` iterations.
pub fn history_csv_path(dir: &Path) -> PathBuf {
    dir.join("history.csv")
}

/// Learning curves drawn at the end of a run.
pub fn curves_plot_path(dir: &Path) -> PathBuf {
    plots_dir(dir).join("curves.png")
}

/// The animation of generated against real points across the run.
pub fn animation_path(dir: &Path) -> PathBuf {
    plots_dir(dir).join("training.gif")
}

/// Everything needed to rebuild, judge and (later) resume a run. Saved as `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format_version: u32,
    /// The gan1d version that wrote the checkpoint.
    pub gan1d_version: String,
    /// The libtorch it was built against.
    pub libtorch_version: String,
    /// Training iterations completed.
    pub iteration: u64,
    /// The run's seed (also in `train`, repeated here for people reading the file).
    pub seed: u64,
    /// The device the run trained on, e.g. `cpu` or `cuda:0`.
    pub device: String,
    pub model: ModelConfig,
    pub train: TrainConfig,
    /// Updates each Adam has taken: its bias correction depends on them.
    pub generator_adam_steps: u64,
    pub discriminator_adam_steps: u64,
    /// The most recent evaluation, if any.
    pub last_evaluation: Option<LastEvaluation>,
    /// SHA-256 (hex) of each tensor file, by file name: a changed byte, or a file from another
    /// run, is refused at load instead of silently giving other numbers.
    pub sha256: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastEvaluation {
    pub iteration: u64,
    pub acc_real: f64,
    pub acc_fake: f64,
}

/// Writes the trainer's complete state into `dir`, which must exist.
pub fn save(dir: &Path, trainer: &Trainer, last: Option<&EvalReport>) -> Result<()> {
    let mut sha256 = BTreeMap::new();
    let mut save_part = |part: Part, vars: &[(String, Tensor)]| -> Result<()> {
        let file = path(dir, part);
        save_vars(&file, vars)?;
        sha256.insert(file_name(&file), file_digest(&file)?);
        Ok(())
    };
    save_part(Part::Generator, &named(&trainer.generator_vs))?;
    save_part(Part::Discriminator, &named(&trainer.discriminator_vs))?;
    let mut moments = Vec::new();
    for (net, opt) in [("generator", &trainer.generator_opt), ("discriminator", &trainer.discriminator_opt)] {
        for (name, tensor) in opt.state().0 {
            moments.push((format!("{net}.{name}"), tensor.shallow_clone()));
        }
    }
    save_part(Part::Optimizer, &moments)?;

    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        gan1d_version: env!("CARGO_PKG_VERSION").to_string(),
        libtorch_version: env!("GAN1D_LIBTORCH_VERSION").to_string(),
        iteration: trainer.iteration,
        seed: trainer.cfg.seed,
        device: device_name(trainer.device()),
        model: trainer.model_cfg.clone(),
        train: trainer.cfg.clone(),
        generator_adam_steps: trainer.generator_opt.steps(),
        discriminator_adam_steps: trainer.discriminator_opt.steps(),
        last_evaluation: last.map(|r| LastEvaluation {
            iteration: r.iteration,
            acc_real: r.acc_real,
            acc_fake: r.acc_fake,
        }),
        sha256,
    };
    let json = serde_json::to_string_pretty(&manifest).expect("a manifest serialises");
    let manifest_path = path(dir, Part::Manifest);
    write_atomically(&manifest_path, |tmp| fs::write(tmp, format!("{json}\n")).map_err(anyhow::Error::from))
}

fn file_name(file: &Path) -> String {
    file.file_name().expect("checkpoint paths name a file").to_string_lossy().into_owned()
}

/// The SHA-256 of a file's bytes, as lowercase hex.
fn file_digest(file: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let bytes = fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok(Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect())
}

/// Checks `part` of the checkpoint in `dir` against the digest its manifest recorded.
fn verify(dir: &Path, manifest: &Manifest, part: Part) -> Result<()> {
    let file = path(dir, part);
    let name = file_name(&file);
    let context = || format!("cannot load checkpoint {}", file.display());
    let Some(expected) = manifest.sha256.get(&name) else {
        return Err(anyhow::anyhow!("{} records no checksum for it", path(dir, Part::Manifest).display()))
            .with_context(context);
    };
    if !file.exists() {
        return Err(anyhow::anyhow!("the file is missing")).with_context(context);
    }
    let found = file_digest(&file)?;
    if &found != expected {
        return Err(anyhow::anyhow!(
            "its SHA-256 is {found}, but {} records {expected}: the file was changed or comes from another run",
            path(dir, Part::Manifest).display()
        ))
        .with_context(context);
    }
    Ok(())
}

/// `cpu`, `cuda:0`, …
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(i) => format!("cuda:{i}"),
        _ => "cpu".to_string(),
    }
}

/// A store's variables as `(name, tensor)` pairs, sorted by name.
fn named(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    let mut vars: Vec<_> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

fn save_vars(path: &Path, vars: &[(String, Tensor)]) -> Result<()> {
    // Deep copies on the CPU: the variables are views into one flat tensor, and saving a view
    // would save the whole flat storage under every name.
    let owned: Vec<(String, Tensor)> =
        vars.iter().map(|(name, t)| (name.clone(), t.to_device(Device::Cpu).copy())).collect();
    write_atomically(path, |tmp| {
        Tensor::save_multi(&owned, tmp).map_err(|e| anyhow::anyhow!("{}", first_line(&e.to_string())))
    })
}

/// Runs `write` on a temporary file beside `path`, syncs it, then renames it over `path`.
fn write_atomically(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let file_name = path.file_name().expect("checkpoint paths name a file").to_string_lossy();
    let tmp = path.with_file_name(format!(".{file_name}.tmp"));
    let result = write(&tmp)
        .and_then(|()| File::open(&tmp)?.sync_all().map_err(anyhow::Error::from))
        .and_then(|()| fs::rename(&tmp, path).map_err(anyhow::Error::from));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write checkpoint file {}", path.display()))
}

/// The first line of a libtorch error: the rest is a C++ stack trace that helps nobody here.
fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message).trim()
}

/// libtorch's reason for refusing a file, without its internal prefix and advice.
fn torch_reason(message: &str) -> &str {
    let line = first_line(message);
    let line = line.strip_prefix("Internal torch error: ").unwrap_or(line);
    line.split(". ").next().unwrap_or(line).trim_end_matches('.')
}

/// Reads and checks `DIR/config.json`.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let manifest_path = path(dir, Part::Manifest);
    if !dir.is_dir() {
        bail!(
            "no checkpoint at {}: not a folder; run `gan1d train --out {}` first",
            dir.display(),
            dir.display()
        );
    }
    let text = match fs::read_to_string(&manifest_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "no checkpoint in {}: {} is missing; run `gan1d train --out {}` first",
            dir.display(),
            manifest_path.display(),
            dir.display()
        ),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read {}", manifest_path.display()));
        }
    };
    let invalid =
        |what: String| anyhow::anyhow!("invalid checkpoint file {}: {what}", manifest_path.display());
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| invalid(format!("not valid JSON ({e})")))?;
    let version = value.get("format_version").and_then(|v| v.as_u64());
    match version {
        None => return Err(invalid("no format_version field".into())),
        Some(v) if v > FORMAT_VERSION as u64 => {
            return Err(invalid(format!(
                "format version {v} is newer than this gan1d understands ({FORMAT_VERSION}); update gan1d"
            )));
        }
        Some(_) => {}
    }
    // The field's path in the message (`model.latent_dim: invalid type…`) tells the reader
    // where to look.
    let manifest: Manifest = serde_path_to_error::deserialize(value)
        .map_err(|e| invalid(format!("{}: {}", e.path(), e.inner())))?;
    manifest.model.validate().map_err(|e| invalid(format!("{e:#}")))?;
    manifest.train.validate().map_err(|e| invalid(format!("{e:#}")))?;
    Ok(manifest)
}

/// Rebuilds the generator described by `DIR/config.json` on `device` and loads its weights.
pub fn load_generator(dir: &Path, device: Device) -> Result<(Manifest, nn::VarStore, Generator)> {
    let manifest = read_manifest(dir)?;
    let vs = nn::VarStore::new(device);
    let generator = Generator::new(&vs.root(), &manifest.model);
    verify(dir, &manifest, Part::Generator)?;
    load_vars(&path(dir, Part::Generator), &vs)?;
    Ok((manifest, vs, generator))
}

/// Fills the variables of `vs` from `file`, after checking that the file holds exactly the
/// same names with the same shapes and types. On any error `vs` is left unchanged.
pub fn load_vars(file: &Path, vs: &nn::VarStore) -> Result<()> {
    let context = || format!("cannot load checkpoint {}", file.display());
    match fs::metadata(file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(anyhow::anyhow!("the file is missing")).with_context(context);
        }
        Err(e) => return Err(e).with_context(context),
        Ok(meta) if meta.len() == 0 => {
            return Err(anyhow::anyhow!("the file is empty")).with_context(context);
        }
        Ok(_) => {}
    }
    let loaded = Tensor::load_multi(file)
        .map_err(|e| anyhow::anyhow!("not a readable tensor file ({})", torch_reason(&e.to_string())))
        .with_context(context)?;
    let expected: BTreeMap<String, Tensor> = vs.variables().into_iter().collect();
    let mut found: BTreeMap<String, Tensor> = BTreeMap::new();
    for (name, tensor) in loaded {
        if found.insert(name.clone(), tensor).is_some() {
            return Err(anyhow::anyhow!("variable `{name}` appears twice")).with_context(context);
        }
    }
    check_vars(&expected, &found).with_context(context)?;
    tch::no_grad(|| {
        for (name, target) in &expected {
            target.shallow_clone().f_copy_(&found[name]).with_context(context)?;
        }
        Ok(())
    })
}

fn check_vars(expected: &BTreeMap<String, Tensor>, found: &BTreeMap<String, Tensor>) -> Result<()> {
    for (name, target) in expected {
        let Some(tensor) = found.get(name) else {
            let names: Vec<&str> = found.keys().map(String::as_str).collect();
            bail!("expected variable `{name}`, which is missing (the file holds: {})", names.join(", "));
        };
        if tensor.size() != target.size() {
            bail!("expected variable `{name}` with shape {:?}, found {:?}", target.size(), tensor.size());
        }
        if tensor.kind() != Kind::Float {
            bail!("expected variable `{name}` of type float32, found {:?}", tensor.kind());
        }
        let finite = tensor.isfinite().all().int64_value(&[]) == 1;
        if !finite {
            bail!("variable `{name}` holds NaN or infinite values");
        }
    }
    if let Some(extra) = found.keys().find(|name| !expected.contains_key(*name)) {
        bail!("unexpected variable `{extra}`: the file was written for a different model");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_inside_the_folder() {
        let dir = Path::new("models");
        assert_eq!(path(dir, Part::Generator), Path::new("models/generator.ot"));
        assert_eq!(path(dir, Part::Manifest), Path::new("models/config.json"));
        assert_eq!(eval_plot_path(dir, 1999), Path::new("models/plots/iter_01999.png"));
    }

    #[test]
    fn first_line_drops_the_stack_trace() {
        assert_eq!(first_line("bad zip\nException raised from x\nframe #0"), "bad zip");
    }
}
