//! `gan1d export`: a trained generator as a safetensors, TorchScript or ONNX file.

use anyhow::{Context, Result, bail};
use tch::Device;

use super::Destination;
use crate::checkpoint;
use crate::cli::ExportArgs;
use crate::export::{Format, Generator};

pub fn export(args: &ExportArgs) -> Result<()> {
    let shown = args.out.display();
    let named = args.out.file_name().and_then(|n| n.to_str()).and_then(Format::of_extension);
    let format = match (args.format, named) {
        (Some(format), _) | (None, Some(format)) => format,
        (None, None) => bail!(
            "--out {shown}: name the format with --format safetensors|torchscript|onnx (or give the file a \
             .safetensors, .pt or .onnx extension)"
        ),
    };
    let out = Destination::check(&args.out, "--out", false)?;
    if out == Destination::Stdout && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        bail!("--out -: the {} file is binary; redirect stdout to a file or name one", format.name());
    }
    let (dir, note) = super::resolve_checkpoint(&args.checkpoint, args.member)?;
    let (manifest, params) = checkpoint::load_generator(&dir, Device::Cpu)?;
    if let Some(note) = note {
        crate::output::note(&note);
    }
    let generator = Generator::of_checkpoint(&manifest, &params)
        .with_context(|| format!("cannot export the generator of {}", dir.display()))?;
    let bytes = generator.encode(format)?;
    out.write("--out", &args.out, |w| Ok(w.write_all(&bytes)?))?;
    if out != Destination::Stdout {
        crate::output::note(&format!(
            "wrote the generator of {} (after {} iterations) to {shown} as {}",
            dir.display(),
            manifest.iteration,
            format.name()
        ));
    }
    Ok(())
}
