//! Loading a checkpoint: each tensor file checked against its checksum, then every variable's
//! name, shape, type and finiteness, before anything is changed.

use super::*;

/// libtorch's reason for refusing a file, without its internal prefix and advice.
pub(super) fn torch_reason(message: &str) -> &str {
    let line = first_line(message);
    let line = line.strip_prefix("Internal torch error: ").unwrap_or(line);
    line.split(". ").next().unwrap_or(line).trim_end_matches('.')
}

/// Reads `part`'s file and checks it against the checksum `manifest` records for it.
pub(super) fn read_part(dir: &Path, manifest: &Manifest, part: Part) -> Result<Vec<u8>> {
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
        let manifest = read_manifest_but_target(dir)?;
        let bytes = read_part(dir, &manifest, Part::Generator);
        let loaded = bytes.and_then(|bytes| {
            check_target(dir, &manifest)?;
            let vs = nn::VarStore::new(device);
            let generator = Generator::new(&vs.root(), &manifest.model);
            fill_vars(&part_path(dir, &manifest, Part::Generator), &bytes, &vs)?;
            Ok((vs, generator))
        });
        match loaded {
            Ok((vs, generator)) => return Ok((manifest, vs, generator)),
            Err(e) => {
                attempts += 1;
                let moved_on = read_manifest_but_target(dir)
                    .is_ok_and(|now| now.manifest_sha256 != manifest.manifest_sha256);
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
    let mut trainer = Trainer::with_scaling(&manifest.model, cfg, engine, device, manifest.scaling)?;
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
    let mut adam = |net: Net, steps| {
        let mut take =
            |moment: &str| moments.remove(&format!("{}.{moment}", net.name())).expect("checked above");
        AdamState { m: take("m"), v: take("v"), steps }
    };
    let generator_adam = adam(Net::Generator, manifest.generator_adam_steps);
    let discriminator_adam = adam(Net::Discriminator, manifest.discriminator_adam_steps);
    trainer
        .continue_from(manifest.iteration, &generator_adam, &discriminator_adam)
        .with_context(|| format!("cannot load checkpoint {}", file.display()))?;
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
pub(super) fn fill_vars(file: &Path, bytes: &[u8], vs: &nn::VarStore) -> Result<()> {
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
pub(super) fn parse_vars(
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

pub(super) fn check_vars(
    expected: &BTreeMap<String, Tensor>,
    found: &BTreeMap<String, Tensor>,
) -> Result<()> {
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
