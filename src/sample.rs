//! Drawing points from a generator and writing them as CSV (`x,y`), in bounded chunks so any
//! number of points streams out in constant memory.

use std::io::Write;

use anyhow::Result;
use tch::{Device, nn::Module};

use crate::data::{latent_points, to_pairs};
use crate::model::Generator;

/// Latent points generated per chunk: large enough that per-call overhead vanishes, small
/// enough that memory stays a few megabytes whatever `n` is.
const CHUNK: u64 = 1 << 16;

/// Writes `n` generated points as CSV with header `x,y` to `out`, drawing latent points from
/// libtorch's current random stream, and returns the first `keep` points (for a plot).
pub fn write_csv(
    generator: &Generator,
    latent_dim: i64,
    n: u64,
    keep: usize,
    out: &mut dyn Write,
) -> Result<Vec<(f32, f32)>> {
    let mut kept = Vec::with_capacity(keep.min(n as usize));
    writeln!(out, "x,y")?;
    let mut remaining = n;
    while remaining > 0 {
        let rows = remaining.min(CHUNK);
        let points = tch::no_grad(|| generator.forward(&latent_points(rows as i64, latent_dim, Device::Cpu)));
        let pairs = to_pairs(&points);
        for &(x, y) in &pairs {
            writeln!(out, "{x},{y}")?;
        }
        let room = keep - kept.len();
        kept.extend(pairs.into_iter().take(room));
        remaining -= rows;
    }
    out.flush()?;
    Ok(kept)
}
