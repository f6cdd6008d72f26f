//! The generator as TorchScript, traced with libtorch: a module whose `forward(z)` takes latent
//! points `[n, latent_dim]` and returns points `[n, 2]` on the data's axes, the weights held
//! as constants of its graph. The facts are not part of a traced module; the other formats
//! carry them.

use anyhow::{Context, Result};
use tch::{CModule, Device, Kind, Tensor};

use super::Generator;
use crate::activation::Activation;

pub(super) fn encode(generator: &Generator) -> Result<Vec<u8>> {
    let tensors: Vec<(Tensor, Tensor)> = generator
        .layers
        .iter()
        .map(|l| {
            let weight = Tensor::from_slice(&l.weight).view([l.outputs as i64, l.inputs as i64]);
            (weight, Tensor::from_slice(&l.bias))
        })
        .collect();
    let (scale, shift) = (Tensor::from_slice(&generator.scale), Tensor::from_slice(&generator.shift));
    let mut forward = |inputs: &[Tensor]| {
        let mut x = inputs[0].shallow_clone();
        for (layer, (weight, bias)) in generator.layers.iter().zip(&tensors) {
            x = activate(layer.activation, x.linear(weight, Some(bias)));
        }
        vec![x * &scale + &shift]
    };
    let example = Tensor::zeros([2, generator.latent_dim as i64], (Kind::Float, Device::Cpu));
    let module =
        tch::no_grad(|| CModule::create_by_tracing("Generator", "forward", &[example], &mut forward))
            .context("cannot trace the generator into TorchScript")?;
    let scratch = tempfile::tempdir().context("cannot make a temporary folder for the TorchScript file")?;
    let path = scratch.path().join("generator.pt");
    module.save(&path).context("cannot save the TorchScript module")?;
    std::fs::read(&path).context("cannot read the TorchScript module back")
}

/// `activation` of `x`, by operators that trace to graph nodes alone. (The leaky ReLU of
/// [`Activation::apply`] makes its slope a tensor during the call, which a trace would not
/// record as the constant it is.)
fn activate(activation: Activation, x: Tensor) -> Tensor {
    match activation {
        Activation::LeakyRelu(slope) => x.where_self(&x.gt(0.0), &(&x * slope)),
        other => other.apply(x),
    }
}
