//! A trained generator in the formats other programs load: safetensors (a PyTorch
//! `nn.Sequential`'s state dict), TorchScript (a module `torch.jit.load` runs) and ONNX (a graph
//! onnxruntime runs). Each holds the whole generator, the scaling back onto the data's axes
//! included, and describes itself with the same facts ([`Generator::facts`]). A file of each
//! format maps the latent points `z` of `sample --latent` to its `x,y` within float32 rounding.

mod onnx;
mod safetensors;
mod torchscript;

use anyhow::{Result, bail};
use tch::Tensor;

use crate::activation::Activation;
use crate::checkpoint::Manifest;
use crate::config::{Latent, variables};
use crate::host::host;

/// A file format `gan1d export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Safetensors,
    Torchscript,
    Onnx,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Safetensors => "safetensors",
            Format::Torchscript => "TorchScript",
            Format::Onnx => "ONNX",
        }
    }

    /// The format a file name's extension names, if any: `.safetensors`, `.pt`/`.pth`,
    /// `.onnx`.
    pub fn of_extension(name: &str) -> Option<Format> {
        let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match extension.as_str() {
            "safetensors" => Some(Format::Safetensors),
            "pt" | "pth" => Some(Format::Torchscript),
            "onnx" => Some(Format::Onnx),
            _ => None,
        }
    }
}

/// One dense layer of the generator: `activation(z · weightᵀ + bias)`.
pub struct Layer {
    /// `[outputs, inputs]`, row-major, as `torch.nn.Linear` holds it.
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub inputs: usize,
    pub outputs: usize,
    pub activation: Activation,
}

/// A generator as every format writes it: its layers, then the scaling of its output onto the
/// data's axes, `points = output · scale + shift`.
pub struct Generator {
    pub layers: Vec<Layer>,
    pub latent_dim: usize,
    pub latent: Latent,
    /// Per axis (x, y): the half-width and centre of the run's scaling, as float32, the numbers
    /// `sample` multiplies and adds.
    pub scale: [f32; 2],
    pub shift: [f32; 2],
    /// What the generator was trained on, and by whom: `(key, value)` pairs for the file's
    /// metadata.
    pub provenance: Vec<(&'static str, String)>,
}

impl Generator {
    /// The generator of a checkpoint, its `params` the flat row `[1, n]` of its manifest's
    /// layers.
    pub fn of_checkpoint(manifest: &Manifest, params: &Tensor) -> Result<Generator> {
        let specs = manifest.model.generator_layers();
        let row = host(params);
        let variables = variables(&specs);
        let mut layers = Vec::with_capacity(specs.len());
        for (spec, pair) in specs.iter().zip(variables.chunks(2)) {
            let slice =
                |v: &crate::config::Variable| row[v.offset as usize..(v.offset + v.len()) as usize].to_vec();
            layers.push(Layer {
                weight: slice(&pair[0]),
                bias: slice(&pair[1]),
                inputs: spec.inputs as usize,
                outputs: spec.outputs as usize,
                activation: spec.activation,
            });
        }
        let scaling = manifest.scaling;
        let target = manifest.target()?;
        Ok(Generator {
            layers,
            latent_dim: manifest.model.latent_dim as usize,
            latent: manifest.model.latent,
            scale: [scaling.x.half_width as f32, scaling.y.half_width as f32],
            shift: [scaling.x.center as f32, scaling.y.center as f32],
            provenance: vec![
                ("target", target.label()),
                ("seed", manifest.seed.to_string()),
                ("iterations", manifest.iteration.to_string()),
                ("gan1d_version", env!("CARGO_PKG_VERSION").to_string()),
            ],
        })
    }

    /// Everything a loader needs besides the weights, as `(key, value)` pairs of text (JSON
    /// where a value has parts): the layers with their sizes and activations, the latent
    /// space, the scaling, then the provenance.
    pub fn facts(&self) -> Vec<(String, String)> {
        let layers: Vec<serde_json::Value> = self
            .layers
            .iter()
            .map(|l| {
                let mut layer = serde_json::json!({
                    "in": l.inputs, "out": l.outputs, "activation": l.activation.name(),
                });
                if let Activation::LeakyRelu(slope) = l.activation {
                    layer["slope"] = serde_json::json!(slope);
                }
                layer
            })
            .collect();
        let pair = |v: [f32; 2]| format!("[{}, {}]", v[0], v[1]);
        let mut facts = vec![
            ("format".to_string(), "gan1d generator".to_string()),
            ("layers".to_string(), serde_json::Value::Array(layers).to_string()),
            ("latent_dim".to_string(), self.latent_dim.to_string()),
            ("latent".to_string(), self.latent.name().to_string()),
            ("scale".to_string(), pair(self.scale)),
            ("shift".to_string(), pair(self.shift)),
        ];
        facts.extend(self.provenance.iter().map(|(k, v)| (k.to_string(), v.clone())));
        facts
    }

    /// The file's bytes in `format`.
    pub fn encode(&self, format: Format) -> Result<Vec<u8>> {
        if self.layers.is_empty() {
            bail!("the generator has no layers");
        }
        match format {
            Format::Safetensors => safetensors::encode(self),
            Format::Torchscript => torchscript::encode(self),
            Format::Onnx => Ok(onnx::encode(self)),
        }
    }
}
