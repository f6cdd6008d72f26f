//! The checkpoint folder: its layout, saving, and validated loading. The only module that
//! builds paths inside a checkpoint.
//!
//! ```text
//! DIR/config.json                  the manifest: configuration, iteration, seed, versions, and the
//!                                  name and SHA-256 of each tensor file and of itself; written last
//! DIR/generator-NNNNNN.ot          the generator's variables (hidden.weight, hidden.bias, out.weight,
//!                                  out.bias) after NNNNNN iterations
//! DIR/discriminator-NNNNNN.ot      the discriminator's variables, same names
//! DIR/optimizer-NNNNNN.ot          both Adams' moments (generator.m, generator.v, discriminator.m, …)
//! DIR/metrics.csv                  quality metrics at each evaluation       } written by the command
//! DIR/history.csv                  losses and accuracies every k iterations } layer, at the paths
//! DIR/frames.csv                   the animation's frames                   } given here
//! DIR/plots/                       iter_NNNNN.png per evaluation, curves.png, training.gif
//! ```
//!
//! A save never touches the files the current `config.json` names: the tensor files of a new
//! checkpoint get new names, are written under temporary names, synced and renamed, and only
//! then is `config.json` replaced, in one rename. That rename is the commit: a process killed
//! at any moment leaves either the old checkpoint or the new one, each complete. Files no
//! longer named are deleted after the commit.
//!
//! Loading checks `config.json` against its own checksum, each tensor file against the checksum
//! recorded for it, then every variable's name, shape, type and finiteness, all before changing
//! anything: tch's own `VarStore::load` broadcasts mismatched shapes, adopts the file's type,
//! and stops half-way on error.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor, nn};

use crate::config::{EngineKind, ModelConfig, TrainConfig};
use crate::engine::{AdamState, Net};
use crate::fsio;
use crate::model::Generator;
use crate::runlog::LogRecord;
use crate::train::{Diverged, Trainer};

/// The version of the layout above. Other versions are refused. Version 1 (gan1d 0.1) kept the
/// tensors in fixed file names, replaced one by one.
pub const FORMAT_VERSION: u32 = 2;

/// The manifest's file name.
const MANIFEST: &str = "config.json";

/// The largest `config.json` gan1d reads: its own are about 2 KB.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// The largest tensor file a checkpoint of `model` can need: the optimiser file, holding two
/// moments of every parameter of both networks, as float32, plus libtorch's archive framing.
fn max_tensor_file_bytes(model: &ModelConfig) -> u64 {
    let parameters = |input: i64, hidden: &[i64], output: i64| -> u64 {
        let mut widths = vec![input];
        widths.extend_from_slice(hidden);
        widths.push(output);
        widths.windows(2).map(|w| (w[0] * w[1] + w[1]) as u64).sum()
    };
    let g = parameters(model.latent_dim, &model.generator_hidden, crate::config::POINT_DIM);
    let d = parameters(crate::config::POINT_DIM, &model.discriminator_hidden, 1);
    2 * (g + d) * 4 + (1 << 20)
}

/// The manifest field holding the manifest's own checksum.
const SELF_CHECKSUM: &str = "manifest_sha256";

/// The tensor files of a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Generator,
    Discriminator,
    Optimizer,
}

impl Part {
    pub const ALL: [Part; 3] = [Part::Generator, Part::Discriminator, Part::Optimizer];

    /// The start of the part's file names, and its key in the manifest.
    pub fn stem(self) -> &'static str {
        match self {
            Part::Generator => "generator",
            Part::Discriminator => "discriminator",
            Part::Optimizer => "optimizer",
        }
    }
}

/// The manifest, `DIR/config.json`.
pub fn manifest_path(dir: &Path) -> PathBuf {
    dir.join(MANIFEST)
}

/// The path of the tensor file `part` that `manifest` names.
pub fn part_path(dir: &Path, manifest: &Manifest, part: Part) -> PathBuf {
    dir.join(&manifest.files.get(part).name)
}

/// Where a new run writes the log `path` until its first checkpoint commits it: a hidden name
/// beside it, so the folder's earlier run keeps its own log until then.
pub fn staged_path(path: &Path) -> PathBuf {
    let name = path.file_name().expect("log paths name a file").to_string_lossy();
    path.with_file_name(format!(".{name}.staged"))
}

/// What in `dir` shows that it holds a run (a manifest, a log or a tensor file), if anything.
pub fn run_evidence(dir: &Path) -> Option<PathBuf> {
    let logs = [metrics_csv_path(dir), history_csv_path(dir), frames_csv_path(dir)];
    if let Some(found) = [manifest_path(dir)].into_iter().chain(logs).find(|p| p.symlink_metadata().is_ok()) {
        return Some(found);
    }
    let entries = fs::read_dir(dir).ok()?;
    entries.flatten().map(|e| e.path()).find(|p| {
        p.file_name().is_some_and(|n| {
            is_checkpoint_file(&n.to_string_lossy()) && !n.to_string_lossy().starts_with('.')
        })
    })
}

/// The file that holds a run's lock while `gan1d train` writes into `dir`.
pub fn lock_path(dir: &Path) -> PathBuf {
    dir.join(".gan1d.lock")
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

/// The points of each frame of the training animation, kept so that a resumed run can still
/// draw the frames of the iterations before it.
pub fn frames_csv_path(dir: &Path) -> PathBuf {
    dir.join("frames.csv")
}

/// Learning curves drawn at the end of a run.
pub fn curves_plot_path(dir: &Path) -> PathBuf {
    plots_dir(dir).join("curves.png")
}

/// The animation of generated against real points across the run.
pub fn animation_path(dir: &Path) -> PathBuf {
    plots_dir(dir).join("training.gif")
}

/// Everything needed to rebuild, judge and resume a run. Saved as `config.json`.
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
    /// The tensor files, each with its SHA-256: a changed byte, or a file from another run, is
    /// refused at load instead of silently giving other numbers.
    pub files: Files,
    /// How much of each log the checkpoint covers (absent in checkpoints of gan1d 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<LogRecords>,
    /// SHA-256 (hex) of this file's bytes with this value replaced by 64 zeros.
    pub manifest_sha256: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastEvaluation {
    /// The 0-based iteration it followed, as printed.
    pub iteration: u64,
    pub acc_real: f64,
    pub acc_fake: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Files {
    pub generator: FileRecord,
    pub discriminator: FileRecord,
    pub optimizer: FileRecord,
}

impl Files {
    pub fn get(&self, part: Part) -> &FileRecord {
        match part {
            Part::Generator => &self.generator,
            Part::Discriminator => &self.discriminator,
            Part::Optimizer => &self.optimizer,
        }
    }
}

/// The part of each log a checkpoint covers: a resumed run keeps exactly that.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogRecords {
    pub metrics: LogRecord,
    pub history: LogRecord,
    pub frames: LogRecord,
}

impl LogRecords {
    /// Empty logs: for a checkpoint saved by something other than `gan1d train`.
    pub fn empty() -> LogRecords {
        let empty = LogRecord { bytes: 0, sha256: sha256_hex(b"") };
        LogRecords { metrics: empty.clone(), history: empty.clone(), frames: empty }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRecord {
    /// The file's name inside the checkpoint folder.
    pub name: String,
    /// SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
}

/// Writes the trainer's complete state into `dir`, which must exist, and commits it by
/// replacing `config.json`; see the module documentation. Refuses to save weights or optimiser
/// moments that are not finite, so a diverged run never replaces its last good checkpoint.
pub fn save(dir: &Path, trainer: &Trainer, last: Option<LastEvaluation>, logs: LogRecords) -> Result<()> {
    let tensors = [
        (Part::Generator, named(trainer.engine().var_store(Net::Generator))),
        (Part::Discriminator, named(trainer.engine().var_store(Net::Discriminator))),
        (Part::Optimizer, optimizer_vars(trainer)),
    ];
    for (part, vars) in &tensors {
        if let Some((name, _)) = vars.iter().find(|(_, t)| !all_finite(t)) {
            return Err(Diverged {
                iteration: trainer.iteration.saturating_sub(1),
                what: format!("the {} variable `{name}` holds NaN or infinite values", part.stem()),
            }
            .into());
        }
    }
    // Names the committed checkpoint uses are never written to.
    let in_use = committed_names(dir);
    // The files this save has written so far: no manifest names them until the commit, so
    // they are removed if the save fails before it.
    let mut written: Vec<PathBuf> = Vec::new();
    let mut write_all = || -> Result<Manifest> {
        let mut records = Vec::new();
        for (part, vars) in &tensors {
            let name = [
                format!("{}-{:06}.ot", part.stem(), trainer.iteration),
                format!("{}-{:06}-b.ot", part.stem(), trainer.iteration),
            ]
            .into_iter()
            .find(|name| !in_use.contains(name))
            .expect("the committed checkpoint names one file per part");
            let file = dir.join(&name);
            written.push(file.clone());
            let sha256 = save_vars(&file, vars)?;
            records.push(FileRecord { name, sha256 });
        }
        let [generator, discriminator, optimizer] = records.try_into().expect("three parts");
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            gan1d_version: env!("CARGO_PKG_VERSION").to_string(),
            libtorch_version: env!("GAN1D_LIBTORCH_VERSION").to_string(),
            iteration: trainer.iteration,
            seed: trainer.cfg.seed,
            device: device_name(trainer.device()),
            model: trainer.model_cfg.clone(),
            train: trainer.cfg.clone(),
            generator_adam_steps: trainer.engine().adam_state(Net::Generator).steps,
            discriminator_adam_steps: trainer.engine().adam_state(Net::Discriminator).steps,
            last_evaluation: last,
            files: Files { generator, discriminator, optimizer },
            logs: Some(logs.clone()),
            manifest_sha256: String::new(),
        };
        let text = seal(&manifest);
        // The tensor files' renames reach the disk before the manifest that names them.
        fsio::sync_dir(dir)?;
        // The commit.
        fsio::write_atomically(&manifest_path(dir), |out| Ok(out.write_all(text.as_bytes())?))?;
        Ok(manifest)
    };
    let manifest = match write_all() {
        Ok(manifest) => manifest,
        Err(e) => {
            for file in &written {
                let _ = fs::remove_file(file);
            }
            return Err(e);
        }
    };
    fsio::sync_dir(dir)?;
    remove_stale_files(dir, &manifest);
    Ok(())
}

/// Both Adams' moments, named `generator.m`, `generator.v`, `discriminator.m`, ….
fn optimizer_vars(trainer: &Trainer) -> Vec<(String, Tensor)> {
    let mut moments = Vec::new();
    for net in Net::BOTH {
        let AdamState { m, v, .. } = trainer.engine().adam_state(net);
        moments.push((format!("{}.m", net.name()), m));
        moments.push((format!("{}.v", net.name()), v));
    }
    moments
}

fn all_finite(tensor: &Tensor) -> bool {
    tensor.isfinite().all().int64_value(&[]) == 1
}

/// The manifest serialised, with its own checksum filled in.
fn seal(manifest: &Manifest) -> String {
    let zeros = "0".repeat(64);
    let unsealed = Manifest { manifest_sha256: zeros.clone(), ..manifest.clone() };
    let text = format!("{}\n", serde_json::to_string_pretty(&unsealed).expect("a manifest serialises"));
    let digest = sha256_hex(text.as_bytes());
    text.replacen(&self_checksum_field(&zeros), &self_checksum_field(&digest), 1)
}

/// Whether `text` matches the checksum `recorded` in it.
fn seal_holds(text: &str, recorded: &str) -> bool {
    let field = self_checksum_field(recorded);
    text.matches(&field).count() == 1
        && sha256_hex(text.replacen(&field, &self_checksum_field(&"0".repeat(64)), 1).as_bytes()) == recorded
}

fn self_checksum_field(value: &str) -> String {
    format!("\"{SELF_CHECKSUM}\": \"{value}\"")
}

/// The SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The tensor file names the committed manifest in `dir` uses, if it can be read at all.
fn committed_names(dir: &Path) -> Vec<String> {
    let Ok(bytes) = fsio::read_regular_file(&manifest_path(dir), MAX_MANIFEST_BYTES) else {
        return Vec::new();
    };
    let Ok(text) = String::from_utf8(bytes) else { return Vec::new() };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else { return Vec::new() };
    Part::ALL
        .iter()
        .filter_map(|part| value.get("files")?.get(part.stem())?.get("name")?.as_str().map(String::from))
        .collect()
}

/// Whether `name` is one of the files `gan1d train` keeps in a run's folder (besides plots):
/// the manifest, a tensor file, a log, the lock, or a temporary or staged file of one.
pub fn is_run_file(name: &str) -> bool {
    let logs = ["metrics.csv", "history.csv", "frames.csv"];
    name == MANIFEST
        || name == ".gan1d.lock"
        || logs.contains(&name)
        || logs.iter().any(|log| name == format!(".{log}.staged"))
        || is_checkpoint_file(name)
}

/// Whether `name` is a file gan1d writes into a checkpoint folder and may delete when no
/// manifest names it: a tensor file (version 1's fixed names included), or a temporary file left
/// by an interrupted write of one, of the manifest or of a log.
fn is_checkpoint_file(name: &str) -> bool {
    let tensor_file = |name: &str| {
        Part::ALL.iter().any(|part| {
            name.strip_prefix(part.stem())
                .is_some_and(|rest| rest.ends_with(".ot") && (rest.starts_with('-') || rest == ".ot"))
        })
    };
    match name.strip_prefix('.').and_then(|n| n.strip_suffix(fsio::TMP_SUFFIX)) {
        Some(inner) => {
            // `.<target>.<random>.tmp`, or `.<target>.tmp` from earlier versions.
            let targets = [Some(inner), inner.rsplit_once('.').map(|(target, _)| target)];
            targets.into_iter().flatten().any(|written| {
                tensor_file(written)
                    || [MANIFEST, "history.csv", "metrics.csv", "frames.csv"].contains(&written)
            })
        }
        None => tensor_file(name),
    }
}

/// Deletes the checkpoint files `manifest` does not name: the previous checkpoint, and
/// leftovers of saves that were interrupted. Failing to delete one only wastes space.
fn remove_stale_files(dir: &Path, manifest: &Manifest) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let named = Part::ALL.iter().any(|&part| manifest.files.get(part).name == name);
        if !named && is_checkpoint_file(&name) {
            let _ = fs::remove_file(entry.path());
        }
    }
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

/// Writes `vars` to `path` atomically; returns the SHA-256 of the bytes written.
fn save_vars(path: &Path, vars: &[(String, Tensor)]) -> Result<String> {
    let bytes =
        serialize(vars).with_context(|| format!("cannot write checkpoint file {}", path.display()))?;
    fsio::write_atomically(path, |out| Ok(out.write_all(&bytes)?))
        .with_context(|| format!("cannot write checkpoint file {}", path.display()))?;
    Ok(sha256_hex(&bytes))
}

/// `vars` in libtorch's tensor file format, in memory. libtorch writes to a Rust buffer here,
/// never to a file: when its own file writer meets a full disk it aborts the process.
fn serialize(vars: &[(String, Tensor)]) -> Result<Vec<u8>> {
    /// A `Write` whose bytes outlive the writer libtorch takes ownership of.
    struct Shared(Rc<RefCell<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // Deep copies on the CPU: the variables are views into one flat tensor, and saving a view
    // would save the whole flat storage under every name.
    let owned: Vec<(String, Tensor)> =
        vars.iter().map(|(name, t)| (name.clone(), t.to_device(Device::Cpu).copy())).collect();
    let buffer = Rc::new(RefCell::new(Vec::new()));
    Tensor::save_multi_to_stream(&owned, Shared(Rc::clone(&buffer)))
        .map_err(|e| anyhow::anyhow!("{}", first_line(&e.to_string())))?;
    Ok(buffer.take())
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

/// Reads `DIR/config.json` and checks it against its own checksum and for sense.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = manifest_path(dir);
    if !dir.is_dir() {
        bail!(
            "no checkpoint at {}: not a folder; run `gan1d train --out {}` first",
            dir.display(),
            dir.display()
        );
    }
    let bytes = match fsio::read_regular_file(&path, MAX_MANIFEST_BYTES) {
        Ok(bytes) => bytes,
        Err(e) if fsio::is_not_found(&e) => bail!(
            "no checkpoint in {}: {} is missing; run `gan1d train --out {}` first",
            dir.display(),
            path.display(),
            dir.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let invalid = |what: String| anyhow::anyhow!("invalid checkpoint file {}: {what}", path.display());
    let text = String::from_utf8(bytes).map_err(|_| invalid("not UTF-8 text".into()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| invalid(format!("not valid JSON ({e})")))?;
    match value.get("format_version").and_then(|v| v.as_u64()) {
        None => return Err(invalid("no format_version field".into())),
        Some(v) if v > FORMAT_VERSION as u64 => {
            return Err(invalid(format!(
                "format version {v} is newer than this gan1d understands ({FORMAT_VERSION}); update gan1d"
            )));
        }
        Some(v) if v < FORMAT_VERSION as u64 => {
            return Err(invalid(format!(
                "format version {v} was written by an older gan1d and is no longer read (this one reads \
                 {FORMAT_VERSION}); train again with `gan1d train --out {}`",
                dir.display()
            )));
        }
        Some(_) => {}
    }
    let recorded = value.get(SELF_CHECKSUM).and_then(|v| v.as_str()).unwrap_or_default();
    if !seal_holds(&text, recorded) {
        return Err(invalid(format!(
            "its contents do not match its own checksum ({SELF_CHECKSUM}): the file was changed or damaged"
        )));
    }
    // The field's path in the message (`model.latent_dim: invalid type…`) tells the reader
    // where to look.
    let manifest: Manifest = serde_path_to_error::deserialize(value)
        .map_err(|e| invalid(format!("{}: {}", e.path(), e.inner())))?;
    manifest.model.validate().map_err(|e| invalid(format!("{e:#}")))?;
    manifest.train.validate().map_err(|e| invalid(format!("{e:#}")))?;
    // gan1d names each part's file `<part>-<iteration>….ot`, inside the folder.
    for part in Part::ALL {
        let name = &manifest.files.get(part).name;
        let plain = Path::new(name).file_name().is_some_and(|n| n == name.as_str());
        if !plain || !name.ends_with(".ot") || !name.starts_with(&format!("{}-", part.stem())) {
            return Err(invalid(format!(
                "files.{}.name `{name}` is not a {} tensor file name",
                part.stem(),
                part.stem()
            )));
        }
    }
    let (g, d, i) = (manifest.generator_adam_steps, manifest.discriminator_adam_steps, manifest.iteration);
    if g != i || d != 2 * i {
        return Err(invalid(format!(
            "{i} iterations need {i} generator and {} discriminator Adam steps, found {g} and {d}",
            2 * i
        )));
    }
    Ok(manifest)
}

/// Reads `part`'s file and checks it against the checksum `manifest` records for it.
fn read_part(dir: &Path, manifest: &Manifest, part: Part) -> Result<Vec<u8>> {
    let file = part_path(dir, manifest, part);
    let context = || format!("cannot load checkpoint {}", file.display());
    let bytes = match fsio::read_regular_file(&file, max_tensor_file_bytes(&manifest.model)) {
        Err(e) if fsio::is_not_found(&e) => {
            return Err(anyhow::anyhow!(
                "the file is missing ({} names it): the checkpoint is incomplete",
                manifest_path(dir).display()
            ))
            .with_context(context);
        }
        other => other.with_context(context)?,
    };
    let found = sha256_hex(&bytes);
    let expected = &manifest.files.get(part).sha256;
    if &found != expected {
        return Err(anyhow::anyhow!(
            "its SHA-256 is {found}, but {} records {expected}: the file was changed or comes from another run",
            manifest_path(dir).display()
        ))
        .with_context(context);
    }
    Ok(bytes)
}

/// Rebuilds the generator described by `DIR/config.json` on `device` and loads its weights.
pub fn load_generator(dir: &Path, device: Device) -> Result<(Manifest, nn::VarStore, Generator)> {
    // A training run may commit a new checkpoint, and delete the files of this one, between
    // reading the manifest and reading the weights: then read the new one.
    let mut attempts = 0;
    loop {
        let manifest = read_manifest(dir)?;
        let vs = nn::VarStore::new(device);
        let generator = Generator::new(&vs.root(), &manifest.model);
        let file = part_path(dir, &manifest, Part::Generator);
        let loaded =
            read_part(dir, &manifest, Part::Generator).and_then(|bytes| fill_vars(&file, &bytes, &vs));
        match loaded {
            Ok(()) => return Ok((manifest, vs, generator)),
            Err(e) => {
                attempts += 1;
                let moved_on =
                    read_manifest(dir).is_ok_and(|now| now.manifest_sha256 != manifest.manifest_sha256);
                if !moved_on || attempts == 3 {
                    return Err(e);
                }
            }
        }
    }
}

/// Rebuilds the run saved in `dir` on `device` with `engine`'s engine (either engine reads what
/// either wrote) to continue it under `cfg` (the saved configuration, possibly with more
/// epochs): both networks, both optimisers' moments and step counts, and the iteration
/// reached. Every file is checked before anything is built.
pub fn resume(
    dir: &Path,
    manifest: &Manifest,
    cfg: &TrainConfig,
    engine: EngineKind,
    device: Device,
) -> Result<Trainer> {
    let [generator, discriminator, optimizer] = Part::ALL.map(|part| read_part(dir, manifest, part));
    let (generator, discriminator, optimizer) = (generator?, discriminator?, optimizer?);
    let mut trainer = Trainer::new(&manifest.model, cfg, engine, device)?;
    let parts = [
        (Part::Generator, Net::Generator, &generator),
        (Part::Discriminator, Net::Discriminator, &discriminator),
    ];
    for (part, net, bytes) in parts {
        fill_vars(&part_path(dir, manifest, part), bytes, trainer.engine().var_store(net))?;
    }
    let file = part_path(dir, manifest, Part::Optimizer);
    let expected: BTreeMap<String, Tensor> = optimizer_vars(&trainer).into_iter().collect();
    let mut moments = parse_vars(&file, &optimizer, &expected)?;
    for (net, steps) in [
        (Net::Generator, manifest.generator_adam_steps),
        (Net::Discriminator, manifest.discriminator_adam_steps),
    ] {
        let mut take =
            |moment: &str| moments.remove(&format!("{}.{moment}", net.name())).expect("checked above");
        let state = AdamState { m: take("m"), v: take("v"), steps };
        trainer
            .engine_mut()
            .restore_adam(net, &state)
            .with_context(|| format!("cannot load checkpoint {}", file.display()))?;
    }
    trainer.iteration = manifest.iteration;
    Ok(trainer)
}

/// Fills the variables of `vs` from the tensor file `file`, after checking that it holds
/// exactly the same names with the same shapes and types. On any error `vs` is left unchanged.
pub fn load_vars(file: &Path, vs: &nn::VarStore) -> Result<()> {
    let bytes = fsio::read_regular_file(file, MAX_MANIFEST_BYTES.max(1 << 30))
        .map_err(|e| if fsio::is_not_found(&e) { anyhow::anyhow!("the file is missing") } else { e });
    fill_vars(file, &bytes.with_context(|| format!("cannot load checkpoint {}", file.display()))?, vs)
}

/// [`load_vars`] on the bytes of `file`, already read.
fn fill_vars(file: &Path, bytes: &[u8], vs: &nn::VarStore) -> Result<()> {
    let expected: BTreeMap<String, Tensor> = vs.variables().into_iter().collect();
    let found = parse_vars(file, bytes, &expected)?;
    tch::no_grad(|| {
        for (name, target) in &expected {
            target
                .shallow_clone()
                .f_copy_(&found[name])
                .with_context(|| format!("cannot load checkpoint {}", file.display()))?;
        }
        Ok(())
    })
}

/// Parses the bytes of the tensor file `file` (named in errors), checking that they hold
/// exactly `expected`'s names, each with the same shape, as float32, and finite.
fn parse_vars(
    file: &Path,
    bytes: &[u8],
    expected: &BTreeMap<String, Tensor>,
) -> Result<BTreeMap<String, Tensor>> {
    let context = || format!("cannot load checkpoint {}", file.display());
    if bytes.is_empty() {
        return Err(anyhow::anyhow!("the file is empty")).with_context(context);
    }
    let loaded = Tensor::load_multi_from_stream(Cursor::new(bytes.to_vec()))
        .map_err(|e| anyhow::anyhow!("not a readable tensor file ({})", torch_reason(&e.to_string())))
        .with_context(context)?;
    let mut found: BTreeMap<String, Tensor> = BTreeMap::new();
    for (name, tensor) in loaded {
        if found.insert(name.clone(), tensor).is_some() {
            return Err(anyhow::anyhow!("variable `{name}` appears twice")).with_context(context);
        }
    }
    check_vars(expected, &found).with_context(context)?;
    Ok(found)
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
        if !all_finite(tensor) {
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
        assert_eq!(manifest_path(dir), Path::new("models/config.json"));
        assert_eq!(eval_plot_path(dir, 1999), Path::new("models/plots/iter_01999.png"));
    }

    #[test]
    fn first_line_drops_the_stack_trace() {
        assert_eq!(first_line("bad zip\nException raised from x\nframe #0"), "bad zip");
    }

    #[test]
    fn only_gan1d_checkpoint_files_count_as_its_own() {
        for ours in [
            "generator-002000.ot",
            "optimizer-000001-b.ot",
            ".discriminator-000010.ot.tmp",
            "generator.ot",
            ".config.json.tmp",
            ".frames.csv.tmp",
        ] {
            assert!(is_checkpoint_file(ours), "{ours}");
        }
        for theirs in [
            "generator.py",
            "notes.txt",
            "generators.ot",
            "history.csv",
            "config.json",
            "plots",
            ".gan1d.lock",
        ] {
            assert!(!is_checkpoint_file(theirs), "{theirs}");
        }
    }

    #[test]
    fn the_seal_detects_any_changed_byte() {
        let text = "{\n  \"a\": 1,\n  \"manifest_sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\"\n}\n";
        let digest = sha256_hex(text.as_bytes());
        let sealed = text.replacen(&"0".repeat(64), &digest, 1);
        assert!(seal_holds(&sealed, &digest));
        assert!(!seal_holds(&sealed.replacen("1", "2", 1), &digest));
        assert!(!seal_holds(&sealed, &"0".repeat(64)));
    }
}
