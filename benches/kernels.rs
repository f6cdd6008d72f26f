//! The layer products' speed on this CPU, each copy of the loops against the core's peak:
//! `cargo bench --bench kernels` (part of `make bench`). One thread; figures, not a test.
//!
//! `KERNEL_SECONDS` sets the time each figure is measured over (default 0.4).

use gan1d::host::Path;
use gan1d::host::speed::{fused_peak, layer_rates};

fn main() {
    let seconds: f64 = std::env::var("KERNEL_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(0.4);
    // The best of three measures: a shared machine's other work only ever lowers it.
    let fused = (0..3).filter_map(|_| fused_peak(seconds)).reduce(f64::max);
    match fused {
        Some(p) => println!(
            "core's peak (fused multiply-adds on its widest vectors, measured): {p:.1} GFLOP/s; \
             gan1d's loops (multiply, then add) can reach half: {:.1}",
            p / 2.0
        ),
        None => println!("core's peak: not measured on this CPU (no fused multiply-add gan1d can drive)"),
    }
    // (inputs, outputs, points): the hidden layers of the wide configurations, over the
    // points one update of a batch of 128 (64 a half) or 256 passes.
    let sizes =
        [(32, 32, 64), (64, 64, 128), (256, 256, 64), (256, 256, 128), (512, 512, 256), (1024, 1024, 256)];
    for path in Path::available() {
        println!("\n{} copy of the loops, GFLOP/s", path.name());
        println!(
            "{:>6} {:>7} {:>6} | {:>10} {:>10} {:>11} | {:>7} {:>9}",
            "inputs", "outputs", "points", "forward", "input grad", "weight grad", "mean", "% of peak"
        );
        for (inputs, outputs, n) in sizes {
            let rates = layer_rates(path, inputs, outputs, n, seconds);
            // The three products take equal work: their mean rate is the harmonic mean.
            let mean = 3.0 / rates.iter().map(|r| 1.0 / r).sum::<f64>();
            let of_peak = fused.map_or("-".to_string(), |p| format!("{:.0} %", 100.0 * mean / p));
            println!(
                "{inputs:>6} {outputs:>7} {n:>6} | {:>10.1} {:>10.1} {:>11.1} | {mean:>7.1} {of_peak:>9}",
                rates[0], rates[1], rates[2]
            );
        }
    }
    println!("\n(One thread. A multiply-add counts two; each figure the best of five rounds; the mean is");
    println!(" the three products' rate together, as a layer's update runs them.)");
}
