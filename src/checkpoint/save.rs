//! Writing a checkpoint: copy-on-write tensor files, then the manifest's rename as the commit.

use super::*;

/// A checkpoint refused because a weight or moment is NaN or infinite: saving it would replace
/// the last good checkpoint with a diverged one.
#[derive(Debug)]
pub struct NotFinite {
    /// The variable, as a phrase: "the generator variable `out.bias`".
    pub what: String,
}

impl std::fmt::Display for NotFinite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} holds NaN or infinite values", self.what)
    }
}

impl std::error::Error for NotFinite {}

/// Writes `snapshot` into `dir`, which must exist, and commits it by
/// replacing `config.json`; see the module documentation. Refuses to save weights or optimiser
/// moments that are not finite, so a diverged run never replaces its last good checkpoint.
pub fn save(dir: &Path, snapshot: &Snapshot, last: Option<LastEvaluation>, logs: LogRecords) -> Result<()> {
    let tensors = [
        (Part::Generator, named(snapshot.model, Net::Generator, &snapshot.generator.params)),
        (Part::Discriminator, named(snapshot.model, Net::Discriminator, &snapshot.discriminator.params)),
        (Part::Optimizer, optimizer_vars(&snapshot.generator, &snapshot.discriminator)),
    ];
    for (part, vars) in &tensors {
        if let Some((name, _)) = vars.iter().find(|(_, t)| !all_finite(t)) {
            return Err(NotFinite { what: format!("the {} variable `{name}`", part.stem()) }.into());
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
                format!("{}-{:06}.ot", part.stem(), snapshot.iteration),
                format!("{}-{:06}-b.ot", part.stem(), snapshot.iteration),
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
            format_version: if snapshot.points_beside && snapshot.train.target.data.is_some() {
                FORMAT_VERSION
            } else {
                SELF_CONTAINED_FORMAT_VERSION
            },
            gan1d_version: env!("CARGO_PKG_VERSION").to_string(),
            libtorch_version: env!("GAN1D_LIBTORCH_VERSION").to_string(),
            iteration: snapshot.iteration,
            seed: snapshot.train.seed,
            device: device_name(snapshot.device),
            model: snapshot.model.clone(),
            train: manifest_train(snapshot),
            scaling: snapshot.scaling,
            generator_adam_steps: snapshot.generator.steps,
            discriminator_adam_steps: snapshot.discriminator.steps,
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

/// The training configuration as the manifest records it: with a data set's points, or, when
/// they are kept beside it, with their SHA-256 alone.
fn manifest_train(snapshot: &Snapshot) -> TrainConfig {
    let mut train = snapshot.train.clone();
    if let Some(set) = train.target.data.as_mut() {
        set.kept_beside = None;
        if snapshot.points_beside {
            set.kept_beside = Some(set.points_sha256());
            set.points.clear();
        }
    }
    train
}

/// Writes a `--data` run's points once into the run folder `dir`, for its members' manifests
/// to refer to by their SHA-256 (see [`DataSet`](crate::target::plane::DataSet)).
pub fn write_points(dir: &Path, set: &crate::target::plane::DataSet) -> Result<()> {
    let path = points_path(dir);
    fsio::write_atomically(&path, |out| Ok(out.write_all(set.points_csv().as_bytes())?))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Both Adams' moments, named `generator.m`, `generator.v`, `discriminator.m`, …, each
/// `[n]`; under spectral normalisation also the parameters Adam trains and the kept `u`
/// (`discriminator.raw`, `discriminator.u`).
pub(super) fn optimizer_vars(generator: &NetState, discriminator: &NetState) -> Vec<(String, Tensor)> {
    let mut moments = Vec::new();
    for (net, state) in [(Net::Generator, generator), (Net::Discriminator, discriminator)] {
        moments.push((format!("{}.m", net.name()), state.m.reshape([-1])));
        moments.push((format!("{}.v", net.name()), state.v.reshape([-1])));
        if let Some(spectral) = &state.spectral {
            moments.push((format!("{}.raw", net.name()), spectral.raw.reshape([-1])));
            moments.push((format!("{}.u", net.name()), spectral.u.reshape([-1])));
        }
    }
    moments
}

pub(super) fn all_finite(tensor: &Tensor) -> bool {
    tensor.isfinite().all().int64_value(&[]) == 1
}

/// One run's parameters of `net` (`[1, n]`) as its named variables (`hidden.weight`, …),
/// sorted by name.
pub(super) fn named(model: &ModelConfig, net: Net, params: &Tensor) -> Vec<(String, Tensor)> {
    let row = params.reshape([-1]);
    let mut vars: Vec<(String, Tensor)> = variables(&net.layers(model))
        .into_iter()
        .map(|v| (v.name.clone(), row.narrow(0, v.offset, v.len()).view(v.shape.as_slice())))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

/// Writes `vars` to `path` atomically; returns the SHA-256 of the bytes written.
pub(super) fn save_vars(path: &Path, vars: &[(String, Tensor)]) -> Result<String> {
    let bytes =
        serialize(vars).with_context(|| format!("cannot write checkpoint file {}", path.display()))?;
    fsio::write_atomically(path, |out| Ok(out.write_all(&bytes)?))
        .with_context(|| format!("cannot write checkpoint file {}", path.display()))?;
    Ok(sha256_hex(&bytes))
}

/// `vars` in libtorch's tensor file format, in memory. libtorch writes to a Rust buffer here,
/// never to a file: when its own file writer meets a full disk it aborts the process.
pub(super) fn serialize(vars: &[(String, Tensor)]) -> Result<Vec<u8>> {
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
