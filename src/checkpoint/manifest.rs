//! The manifest, `config.json`: its fields, its self-checksum, and reading it with every check.

use super::*;

/// The newest version of the layout above, which gan1d reads and writes. Version 5 is written
/// only by a manifest whose data points are kept beside it (`kept_beside`, an ensemble's
/// members); every other manifest is still written as version 4, which older gan1d read.
/// Version 4 (gan1d 0.9) is the first to
/// say that it may hold the training choices (loss, rounds, step sizes, latent, packing,
/// learning-rate half-life) and plane targets with their data, which gan1d 0.7 and 0.8 wrote
/// under version 3; version 3 (gan1d 0.3) added the target, the activations and the scaling;
/// version 2 (gan1d 0.2) is read as the tutorial's x², ReLU and no scaling. Version 1 (gan1d
/// 0.1) kept the tensors in fixed file names, replaced one by one, and is refused; a version
/// newer than this is refused first of all, before any field is read, with its own message.
pub const FORMAT_VERSION: u32 = 5;

/// The version of a manifest that holds everything it names.
pub const SELF_CONTAINED_FORMAT_VERSION: u32 = 4;

/// The oldest version read.
pub const OLDEST_FORMAT_VERSION: u32 = 2;

/// The largest `config.json` gan1d reads: its own are about 2 KB, or up to about 6 MB with
/// the largest `--data` set (100 000 points) recorded in it.
pub(super) const MAX_MANIFEST_BYTES: u64 = 16 << 20;

/// The largest tensor file a checkpoint of `model` can need: the optimiser file, holding two
/// moments of every parameter of both networks, as float32, plus libtorch's archive framing.
pub(super) fn max_tensor_file_bytes(model: &ModelConfig) -> u64 {
    let parameters = |input: i64, hidden: &[i64], output: i64| -> u64 {
        let mut widths = vec![input];
        widths.extend_from_slice(hidden);
        widths.push(output);
        widths.windows(2).map(|w| (w[0] * w[1] + w[1]) as u64).sum()
    };
    let g = parameters(model.latent_dim, &model.generator_hidden, crate::config::POINT_DIM);
    let d = parameters(crate::config::POINT_DIM * model.pack, &model.discriminator_hidden, 1);
    2 * (g + d) * 4 + (1 << 20)
}

/// The error for a file of format version `found` where this gan1d reads up to `newest`.
pub(super) fn written_by_a_newer_gan1d(path: &Path, found: u64, newest: u32) -> anyhow::Error {
    anyhow::anyhow!(
        "{} was written by a newer gan1d (format version {found}; this gan1d {} reads up to {newest}): update gan1d",
        path.display(),
        env!("CARGO_PKG_VERSION")
    )
}

/// The manifest field holding the manifest's own checksum.
pub(super) const SELF_CHECKSUM: &str = "manifest_sha256";

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
    /// The networks' shape and activations.
    pub model: ModelConfig,
    /// How the run is trained, its target function and domain included.
    pub train: TrainConfig,
    /// How the data were scaled onto the networks' axes (identity unless the generator's output
    /// is tanh); generated points are scaled back with it. Absent before version 3: identity.
    #[serde(default)]
    pub scaling: Scaling,
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

impl Manifest {
    /// The run's target function, parsed (the manifest has been checked, so it parses).
    pub fn target(&self) -> Result<Target> {
        Target::new(&self.train.target)
    }
}

/// The manifest serialised, with its own checksum filled in.
pub(super) fn seal(manifest: &Manifest) -> String {
    let zeros = "0".repeat(64);
    let unsealed = Manifest { manifest_sha256: zeros.clone(), ..manifest.clone() };
    let text = format!("{}\n", serde_json::to_string_pretty(&unsealed).expect("a manifest serialises"));
    let digest = sha256_hex(text.as_bytes());
    text.replacen(&self_checksum_field(&zeros), &self_checksum_field(&digest), 1)
}

/// Whether `text` matches the checksum `recorded` in it.
pub(super) fn seal_holds(text: &str, recorded: &str) -> bool {
    let field = self_checksum_field(recorded);
    text.matches(&field).count() == 1
        && sha256_hex(text.replacen(&field, &self_checksum_field(&"0".repeat(64)), 1).as_bytes()) == recorded
}

pub(super) fn self_checksum_field(value: &str) -> String {
    format!("\"{SELF_CHECKSUM}\": \"{value}\"")
}

/// Reads `DIR/config.json` and checks it against its own checksum and for sense.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let manifest = read_manifest_but_target(dir)?;
    check_target(dir, &manifest)?;
    Ok(manifest)
}

/// Checks that `manifest`'s target parses and is finite over its domain (about a millisecond).
pub(super) fn check_target(dir: &Path, manifest: &Manifest) -> Result<()> {
    manifest
        .target()
        .map_err(|e| anyhow::anyhow!("invalid checkpoint file {}: {e:#}", manifest_path(dir).display()))?;
    Ok(())
}

/// [`read_manifest`] with every check but the target's, which takes longest: a reader racing
/// a training run that checkpoints often reads the tensor files right after the manifest.
pub(super) fn read_manifest_but_target(dir: &Path) -> Result<Manifest> {
    let path = manifest_path(dir);
    // Advice that works: a folder inside a run (its plots, its members' folder) is named by
    // mistake, and training into it would be refused.
    let advice = || match folder_within_a_run(dir) {
        Some(what) => format!("that folder is {what}; name the run's own folder"),
        None => format!("run `gan1d train --out {}` first", dir.display()),
    };
    if !dir.is_dir() {
        bail!("no checkpoint at {}: not a folder; {}", dir.display(), advice());
    }
    let bytes = match fsio::read_regular_file(&path, MAX_MANIFEST_BYTES) {
        Ok(bytes) => bytes,
        Err(e) if fsio::is_not_found(&e) => {
            bail!("no checkpoint in {}: {} is missing; {}", dir.display(), path.display(), advice())
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let invalid = |what: String| anyhow::anyhow!("invalid checkpoint file {}: {what}", path.display());
    let text = String::from_utf8(bytes).map_err(|_| invalid("not UTF-8 text".into()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| invalid(format!("not valid JSON ({e})")))?;
    match value.get("format_version").and_then(|v| v.as_u64()) {
        None => return Err(invalid("no format_version field".into())),
        Some(v) if v > FORMAT_VERSION as u64 => {
            return Err(written_by_a_newer_gan1d(&path, v, FORMAT_VERSION));
        }
        Some(v) if v < OLDEST_FORMAT_VERSION as u64 => {
            return Err(invalid(format!(
                "format version {v} was written by an older gan1d and is no longer read (this one reads \
                 {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION}); train again with `gan1d train --out {}`",
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
    let mut manifest: Manifest = serde_path_to_error::deserialize(value)
        .map_err(|e| invalid(format!("{}: {}", e.path(), e.inner())))?;
    if let Some(set) = manifest.train.target.data.as_mut() {
        find_points(dir, set).map_err(|e| invalid(format!("{e:#}")))?;
    }
    manifest.model.validate().map_err(|e| invalid(format!("{e:#}")))?;
    manifest.train.validate_numbers().map_err(|e| invalid(format!("{e:#}")))?;
    manifest.scaling.validate().map_err(|e| invalid(format!("{e:#}")))?;
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
    // The discriminator's updates per iteration follow the loss and --d-steps.
    let per_iteration = manifest.train.d_updates();
    if g != i || Some(d) != i.checked_mul(per_iteration) {
        return Err(invalid(format!(
            "{i} iterations need {i} generator and {} discriminator Adam steps, found {g} and {d}",
            i.saturating_mul(per_iteration)
        )));
    }
    Ok(manifest)
}

/// Fills in the points of a data set whose manifest keeps only their SHA-256: from the run
/// folder's copy ([`points_path`]), which must hold exactly those points.
fn find_points(dir: &Path, set: &mut crate::target::plane::DataSet) -> Result<()> {
    let Some(sha256) = set.kept_beside.clone() else { return Ok(()) };
    if !set.points.is_empty() {
        bail!("train.target.data holds both its points and kept_beside");
    }
    let folders = points_folders(dir);
    for folder in &folders {
        let path = points_path(folder);
        let Ok(bytes) = fsio::read_regular_file(&path, crate::target::plane::MAX_DATA_BYTES * 2) else {
            continue;
        };
        let points =
            String::from_utf8(bytes).ok().and_then(|t| crate::target::plane::DataSet::read_points_csv(&t));
        let Some(points) = points else { continue };
        let found = crate::target::plane::DataSet { points, ..set.clone() };
        if found.points_sha256() == sha256 {
            *set = found;
            return Ok(());
        }
    }
    bail!(
        "its data points (sha256 {}) are kept in the run folder's {}, and no such file holding them is in {}",
        &sha256[..sha256.len().min(12)],
        points_path(Path::new("")).display(),
        folders.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
    )
}
