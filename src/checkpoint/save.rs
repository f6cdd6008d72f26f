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
                format!("{}-{:06}.ot", part.stem(), trainer.iteration()),
                format!("{}-{:06}-b.ot", part.stem(), trainer.iteration()),
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
            iteration: trainer.iteration(),
            seed: trainer.cfg().seed,
            device: device_name(trainer.device()),
            model: trainer.model_cfg().clone(),
            train: trainer.cfg().clone(),
            scaling: trainer.scaling(),
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
pub(super) fn optimizer_vars(trainer: &Trainer) -> Vec<(String, Tensor)> {
    let mut moments = Vec::new();
    for net in Net::BOTH {
        let AdamState { m, v, .. } = trainer.engine().adam_state(net);
        moments.push((format!("{}.m", net.name()), m));
        moments.push((format!("{}.v", net.name()), v));
    }
    moments
}

pub(super) fn all_finite(tensor: &Tensor) -> bool {
    tensor.isfinite().all().int64_value(&[]) == 1
}

/// A store's variables as `(name, tensor)` pairs, sorted by name.
pub(super) fn named(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    let mut vars: Vec<_> = vs.variables().into_iter().collect();
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
