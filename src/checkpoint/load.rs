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

/// The generator saved in `dir`: its manifest and its parameters, `[1, n]` on `device`.
pub fn load_generator(dir: &Path, device: Device) -> Result<(Manifest, Tensor)> {
    // A training run may commit a new checkpoint, and delete the files of this one, between
    // reading the manifest and reading the weights: then read the new one.
    let mut attempts = 0;
    loop {
        let manifest = read_manifest_but_target(dir)?;
        let bytes = read_part(dir, &manifest, Part::Generator);
        let loaded = bytes.and_then(|bytes| {
            check_target(dir, &manifest)?;
            let file = part_path(dir, &manifest, Part::Generator);
            parse_network(&file, &bytes, &manifest.model.generator_layers())
        });
        match loaded {
            Ok(params) => return Ok((manifest, params.to_device(device))),
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

/// The state of both networks of the run saved in `dir` under `manifest`, on `device`: one
/// run each, parameters, moments and step counts. Every file is checked first.
pub fn load_state(dir: &Path, manifest: &Manifest, device: Device) -> Result<[NetState; 2]> {
    let [generator, discriminator, optimizer] = Part::ALL.map(|part| read_part(dir, manifest, part));
    let (generator, discriminator, optimizer) = (generator?, discriminator?, optimizer?);
    let params = [
        (Part::Generator, Net::Generator, &generator),
        (Part::Discriminator, Net::Discriminator, &discriminator),
    ]
    .map(|(part, net, bytes)| {
        parse_network(&part_path(dir, manifest, part), bytes, &net.layers(&manifest.model))
    });
    let [generator, discriminator] = params;
    let (generator, discriminator) = (generator?, discriminator?);
    let file = part_path(dir, manifest, Part::Optimizer);
    let spectral = manifest.train.spectral_norm;
    let mut expected: BTreeMap<String, Vec<i64>> = Net::BOTH
        .iter()
        .flat_map(|&net| {
            let n = crate::config::parameter_count(&net.layers(&manifest.model));
            ["m", "v"].map(|moment| (format!("{}.{moment}", net.name()), vec![n]))
        })
        .collect();
    if spectral {
        let layers = Net::Discriminator.layers(&manifest.model);
        let name = Net::Discriminator.name();
        expected.insert(format!("{name}.raw"), vec![crate::config::parameter_count(&layers)]);
        expected.insert(format!("{name}.u"), vec![layers.iter().map(|l| l.outputs).sum()]);
    }
    let mut moments = parse_vars(&file, &optimizer, &expected)?;
    let mut state = |net: Net, params: Tensor, steps| {
        let mut take = |moment: &str| {
            moments
                .remove(&format!("{}.{moment}", net.name()))
                .expect("checked above")
                .unsqueeze(0)
                .to_device(device)
        };
        let (m, v) = (take("m"), take("v"));
        let spectral = (spectral && net == Net::Discriminator)
            .then(|| crate::state::Spectral { raw: take("raw"), u: take("u") });
        NetState { params: params.to_device(device), m, v, steps, spectral }
    };
    let generator = state(Net::Generator, generator, manifest.generator_adam_steps);
    let discriminator = state(Net::Discriminator, discriminator, manifest.discriminator_adam_steps);
    Ok([generator, discriminator])
}

/// The network of `layers` in the bytes of the tensor file `file` (named in errors), `[1, n]`
/// in the flat layout, after checking that they hold exactly its variables with their shapes,
/// as float32, finite.
pub(super) fn parse_network(file: &Path, bytes: &[u8], layers: &[LayerSpec]) -> Result<Tensor> {
    let vars = variables(layers);
    let expected: BTreeMap<String, Vec<i64>> =
        vars.iter().map(|v| (v.name.clone(), v.shape.clone())).collect();
    let found = parse_vars(file, bytes, &expected)?;
    let pieces: Vec<Tensor> = vars.iter().map(|v| found[&v.name].reshape([-1])).collect();
    Ok(Tensor::cat(&pieces, 0).unsqueeze(0))
}

/// Parses the bytes of the tensor file `file` (named in errors), checking that they hold
/// exactly `expected`'s names, each with the same shape, as float32, and finite.
pub(super) fn parse_vars(
    file: &Path,
    bytes: &[u8],
    expected: &BTreeMap<String, Vec<i64>>,
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
    expected: &BTreeMap<String, Vec<i64>>,
    found: &BTreeMap<String, Tensor>,
) -> Result<()> {
    for (name, shape) in expected {
        let Some(tensor) = found.get(name) else {
            let names: Vec<&str> = found.keys().map(String::as_str).collect();
            bail!("expected variable `{name}`, which is missing (the file holds: {})", names.join(", "));
        };
        if &tensor.size() != shape {
            bail!("expected variable `{name}` with shape {shape:?}, found {:?}", tensor.size());
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
    use tch::{Device, Kind};

    #[test]
    fn a_network_file_loads_exactly_and_a_wrong_shape_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let layers = ModelConfig::default().generator_layers();
        // Distinct values everywhere, so that a load that misplaces or drops one shows.
        let vars: Vec<(String, Tensor)> = variables(&layers)
            .into_iter()
            .map(|v| {
                let values = Tensor::arange(v.len(), (Kind::Float, Device::Cpu)) + v.offset as f64 + 0.5;
                (v.name.clone(), values.view(v.shape.as_slice()))
            })
            .collect();
        let file = dir.path().join("g.ot");
        let read = |vars: &[(String, Tensor)]| {
            Tensor::save_multi(vars, &file).unwrap();
            parse_network(&file, &std::fs::read(&file).unwrap(), &layers)
        };
        let loaded = read(&vars).unwrap();
        let n = crate::config::parameter_count(&layers);
        let expected = Tensor::arange(n, (Kind::Float, Device::Cpu)).unsqueeze(0) + 0.5;
        assert!(loaded.equal(&expected), "the flat layout was not restored");

        // Right names, one wrong shape: refused, naming the variable and both shapes.
        let mut wrong = vars;
        wrong.last_mut().unwrap().1 = Tensor::zeros([1], (Kind::Float, Device::Cpu));
        let err = read(&wrong).unwrap_err();
        assert!(format!("{err:#}").contains("`out.bias` with shape [2], found [1]"), "{err:#}");
    }
}
