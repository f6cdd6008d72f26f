//! Figures for `make bench` (`cargo bench --bench kernels`): how fast the layer products run
//! on this CPU, in each copy of the loops, against the core's peak rate measured the same way.
//!
//! **The peak** is measured, not looked up: a loop of fused multiply-adds on the widest
//! vectors, registers only (24 independent accumulators, more than the unit's latency needs),
//! so that nothing but the arithmetic units limits it. That is the core's single-precision
//! peak, what JAX and MKL reach for. gan1d's loops multiply, then add (never fused, to keep the
//! same bits on every CPU): each takes a slot of the same units, so their ceiling is half the
//! peak.

use std::time::Instant;

use super::Path;
use super::kernels::{self, Strides};

/// A rate in GFLOP/s (a multiply-add counts two).
pub type Gflops = f64;

/// The three products of a dense layer of `inputs` → `outputs` over `n` points, each timed
/// alone over about `seconds`: the forward product (with its bias), the input gradient and
/// the weight gradient.
pub fn layer_rates(path: Path, inputs: usize, outputs: usize, n: usize, seconds: f64) -> [Gflops; 3] {
    let numbers = |len: usize, seed: usize| -> Vec<f32> {
        (0..len).map(|i| ((i * 7919 + seed * 104_729) % 1000) as f32 / 1000.0 - 0.5).collect()
    };
    let w = numbers(inputs * outputs, 2);
    let bias = numbers(outputs, 3);
    let (x, g) = (numbers(inputs * n, 4), numbers(outputs * n, 5));
    let x_t = numbers(n * inputs, 6);
    let (mut y, mut dx, mut dw) =
        (vec![0f32; outputs * n], vec![0f32; inputs * n], vec![0f32; outputs * inputs]);
    let flops = 2.0 * (inputs * outputs * n) as f64;
    [
        rate(flops, seconds, || {
            kernels::combine(path, Some(&bias), &w, Strides { row: inputs, term: 1 }, &x, n, &mut y)
        }),
        rate(flops, seconds, || {
            kernels::combine(path, None, &w, Strides { row: 1, term: inputs }, &g, n, &mut dx)
        }),
        rate(flops, seconds, || kernels::dots(path, &g, &x, &x_t, n, inputs, &mut dw)),
    ]
}

/// `flops` per call of `f`, called for about `seconds`: the best of five rounds.
fn rate(flops: f64, seconds: f64, mut f: impl FnMut()) -> Gflops {
    let start = Instant::now();
    f();
    let once = start.elapsed().as_secs_f64().max(1e-7);
    let calls = ((seconds / 5.0 / once) as usize).max(1);
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..calls {
            f();
        }
        best = best.min(start.elapsed().as_secs_f64() / calls as f64);
    }
    flops / best / 1e9
}

/// Accumulators of the peak loop: enough independent sums to cover the unit's latency on
/// both its ports.
const ACCUMULATORS: usize = 24;

/// The CPU's peak with fused multiply-adds on its widest vectors, measured over about
/// `seconds`; `None` where it has no FMA unit that gan1d knows how to drive.
pub fn fused_peak(seconds: f64) -> Option<Gflops> {
    #[cfg(target_arch = "x86_64")]
    {
        let best = Path::available().into_iter().last()?;
        if best == Path::Avx512 {
            let r = (1 << 24) / 16;
            // SAFETY: the CPU has AVX-512, checked by `Path::available`.
            return Some(rate((2 * ACCUMULATORS * 16 * r) as f64, seconds, || unsafe {
                std::hint::black_box(x86::fused_avx512(r));
            }));
        }
        if best == Path::Avx2 && std::is_x86_feature_detected!("fma") {
            let r = (1 << 24) / 8;
            // SAFETY: the CPU has AVX2 and FMA, checked at run time.
            return Some(rate((2 * ACCUMULATORS * 8 * r) as f64, seconds, || unsafe {
                std::hint::black_box(x86::fused_avx2(r));
            }));
        }
    }
    let _ = seconds;
    None
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::ACCUMULATORS;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn fused_avx2(rounds: usize) -> [__m256; ACCUMULATORS] {
        let b = _mm256_set1_ps(std::hint::black_box(1e-9));
        let mut acc = [_mm256_set1_ps(1.0); ACCUMULATORS];
        for _ in 0..rounds {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, b, *a);
            }
        }
        acc
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn fused_avx512(rounds: usize) -> [__m512; ACCUMULATORS] {
        let b = _mm512_set1_ps(std::hint::black_box(1e-9));
        let mut acc = [_mm512_set1_ps(1.0); ACCUMULATORS];
        for _ in 0..rounds {
            for a in acc.iter_mut() {
                *a = _mm512_fmadd_ps(*a, b, *a);
            }
        }
        acc
    }
}
