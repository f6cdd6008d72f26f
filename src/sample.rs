//! Drawing points from a generator, in bounded chunks so any number of points streams out in
//! constant memory, and writing them as CSV (`x,y`, and with `--latent` the latent point each
//! came from, `z1,…,zk`). `sample` and `evaluate` both draw through [`for_each_chunk`], so the
//! same seed and count give them the same points.

use std::io::Write;

use anyhow::Result;
use tch::Device;

use crate::data::{latent_points, to_pairs};
use crate::host::HostNetwork;
use crate::rng::{Keys, Tag};
use crate::target::Scaling;

/// Latent points generated per chunk: large enough that per-call overhead vanishes, small
/// enough that memory stays a few megabytes whatever `n` is.
const CHUNK: u64 = 1 << 16;

/// A trained generator as `sample` and `evaluate` use it: its points leave it on the data's
/// axes, scaled back as its run scaled the data. It runs on the native engine's loops, so the
/// points have the same bits on every CPU.
pub struct Sampler<'a> {
    pub generator: &'a HostNetwork,
    /// The generator's latent space, from its checkpoint.
    pub model: &'a crate::config::ModelConfig,
    pub scaling: Scaling,
    /// The command's `--seed`: chunk `c` of the points is the stream's draw at counter `c`.
    pub seed: u64,
}

/// Generates `n` points on the CPU from the seed's stream and hands them to `each` chunk by
/// chunk, in order, each chunk with its latent points, point-major (`latent_dim` numbers per
/// point).
pub fn for_each_chunk(
    sampler: &Sampler,
    n: u64,
    mut each: impl FnMut(&[(f32, f32)], &[f32]) -> Result<()>,
) -> Result<()> {
    let keys = Keys::new(&[sampler.seed], Device::Cpu);
    let (mut remaining, mut chunk) = (n, 0);
    while remaining > 0 {
        let rows = remaining.min(CHUNK);
        let latent = latent_points(&keys, Tag::Sample, chunk, rows as i64, sampler.model).get(0);
        chunk += 1;
        let points = sampler.scaling.to_data(&sampler.generator.forward(&latent.unsqueeze(0)).get(0));
        each(&to_pairs(&points), &crate::host::host(&latent))?;
        remaining -= rows;
    }
    Ok(())
}

/// All `n` points in memory (for measuring them).
pub fn generate(sampler: &Sampler, n: u64) -> Vec<(f32, f32)> {
    let mut all = Vec::with_capacity(n as usize);
    for_each_chunk(sampler, n, |chunk, _| {
        all.extend_from_slice(chunk);
        Ok(())
    })
    .expect("collecting points cannot fail");
    all
}

/// Writes `n` generated points as CSV with header `x,y` to `out` and returns the first `keep`
/// points (for a plot). With `latent`, each row goes on with the latent point it came from,
/// `z1,…,zk`, each number written so that it reads back as the same float32.
pub fn write_csv(
    sampler: &Sampler,
    n: u64,
    keep: usize,
    latent: bool,
    out: &mut dyn Write,
) -> Result<Vec<(f32, f32)>> {
    let mut kept = Vec::with_capacity(keep.min(n as usize));
    let dim = sampler.model.latent_dim as usize;
    write!(out, "x,y")?;
    if latent {
        for k in 1..=dim {
            write!(out, ",z{k}")?;
        }
    }
    writeln!(out)?;
    for_each_chunk(sampler, n, |pairs, zs| {
        for (&(x, y), z) in pairs.iter().zip(zs.chunks(dim)) {
            write!(out, "{x},{y}")?;
            if latent {
                for v in z {
                    write!(out, ",{v}")?;
                }
            }
            writeln!(out)?;
        }
        let room = keep - kept.len();
        kept.extend(pairs.iter().copied().take(room));
        Ok(())
    })?;
    out.flush()?;
    Ok(kept)
}
