//! The generator as safetensors: the state dict of a `torch.nn.Sequential` that alternates a
//! `Linear` and its activation (`Identity` for a linear one), so layer `k`'s tensors are named
//! `{2k}.weight` and `{2k}.bias`; the facts ([`super::Generator::facts`]) are the header's
//! metadata.

use std::collections::HashMap;

use anyhow::{Context, Result};
use safetensors::Dtype;
use safetensors::tensor::TensorView;

use super::Generator;

pub(super) fn encode(generator: &Generator) -> Result<Vec<u8>> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = generator
        .layers
        .iter()
        .enumerate()
        .flat_map(|(k, layer)| {
            let le = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
            [
                (format!("{}.weight", 2 * k), vec![layer.outputs, layer.inputs], le(&layer.weight)),
                (format!("{}.bias", 2 * k), vec![layer.outputs], le(&layer.bias)),
            ]
        })
        .collect();
    let mut views = Vec::with_capacity(bytes.len());
    for (name, shape, data) in &bytes {
        let view = TensorView::new(Dtype::F32, shape.clone(), data)
            .with_context(|| format!("cannot describe the tensor {name}"))?;
        views.push((name.as_str(), view));
    }
    let metadata: HashMap<String, String> = generator.facts().into_iter().collect();
    safetensors::tensor::serialize(views, Some(metadata)).context("cannot write the safetensors file")
}
