//! Seeded training runs that assert what the GAN learns, against an untrained control.
//!
//! A GAN amplifies float rounding within a few hundred iterations, and libtorch rounds
//! differently on different CPUs (its AVX-512, AVX2 and scalar kernels), so one seed's
//! trajectory differs from machine to machine. What learning tests assert therefore holds over
//! several seeds (a median, k of n), never for one run. Same-process comparisons of two runs
//! (determinism, resumption) are exact: they share the kernels.
//!
//! Every draw comes from each run's own counter-based stream, so the tests run side by side.

mod common;

use gan1d::config::{EngineKind, ModelConfig, TrainConfig};
use gan1d::data::latent_points;
use gan1d::engine::Net;
use gan1d::rng::{Keys, Tag};
use gan1d::train::{Start, Trainer};
use tch::{Device, Tensor};

fn trainer_with(seed: u64, epochs: u64, kind: EngineKind) -> Trainer {
    tch::set_num_threads(1);
    let cfg = TrainConfig { seed, epochs, ..TrainConfig::default() };
    Trainer::new(&ModelConfig::default(), &cfg, kind, Device::Cpu, None, Start::fresh(&[cfg.seed])).unwrap()
}

fn trainer(seed: u64, epochs: u64) -> Trainer {
    trainer_with(seed, epochs, EngineKind::Native)
}

/// Mean |y − x²| of 1 000 generated points, on a latent batch fixed by its own seed.
fn residual(trainer: &Trainer) -> f64 {
    let keys = Keys::new(&[1234], Device::Cpu);
    let zs = latent_points(&keys, Tag::Sample, 0, 1000, trainer.model_cfg()).get(0);
    let points = trainer.generate(0, &zs);
    points.iter().map(|&(x, y)| (y as f64 - (x as f64).powi(2)).abs()).sum::<f64>() / points.len() as f64
}

fn run(trainer: &mut Trainer, iterations: u64) {
    for _ in 0..iterations {
        let _ = trainer.step();
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    (values[(n - 1) / 2] + values[n / 2]) / 2.0
}

/// Runs of this many seeds, each this many iterations, make the learning test.
const SEEDS: u64 = 16;
const ITERATIONS: u64 = 4000;

#[test]
fn short_seeded_runs_learn_the_parabola() {
    // Measured under libtorch's scalar kernels, seeds 1–40 after 4 000 iterations: median
    // 0.013, 90th percentile 0.043, 3 runs of 40 above 0.05 (a GAN's unstable tail). If each
    // run ends above 0.04 with a chance of 1 in 10, 8 of 16 do so with a chance of 1 in 16 000,
    // whatever trajectories another CPU's rounding picks; a GAN that does not learn fails it.
    let (mut trained, mut untrained) = (Vec::new(), Vec::new());
    for seed in 1..=SEEDS {
        let mut t = trainer(seed, ITERATIONS);
        untrained.push(residual(&t));
        run(&mut t, ITERATIONS);
        trained.push(residual(&t));
    }
    let report = format!("mean |y - x²| after {ITERATIONS} iterations, seeds 1–{SEEDS}: {trained:.4?}");
    assert!(trained.iter().all(|r| r.is_finite()), "{report}");
    assert!(untrained.iter().all(|&r| r > 0.1), "an untrained control is already close: {untrained:.4?}");
    let (trained, untrained) = (median(&mut trained), median(&mut untrained));
    assert!(trained < 0.04, "median {trained:.4}; {report}");
    assert!(untrained > 5.0 * trained, "untrained median {untrained:.4} against trained {trained:.4}");
}

/// Both networks' flat parameters: `(generator, discriminator)`.
fn flat_weights(t: &Trainer) -> (Tensor, Tensor) {
    let flat = |net| t.engine().export(net).params;
    (flat(Net::Generator), flat(Net::Discriminator))
}

#[test]
fn evaluating_does_not_change_the_training_stream() {
    let mut plain = trainer(9, 150);
    run(&mut plain, 150);

    let mut evaluated = trainer(9, 150);
    run(&mut evaluated, 100);
    // An evaluation draws from the run's stream at counters of its own, and anything else
    // may draw from libtorch's global generator between two iterations: none of it reaches the
    // training run.
    let first = evaluated.evaluate_member(0);
    let _ = Tensor::randn([77], (tch::Kind::Float, Device::Cpu));
    // The metrics depend on the generator alone: a second evaluation measures the same (NaN
    // where a metric does not apply, so compared as written).
    assert_eq!(format!("{:?}", evaluated.evaluate_member(0).metrics), format!("{:?}", first.metrics));
    run(&mut evaluated, 50);
    assert!(flat_weights(&plain).0.equal(&flat_weights(&evaluated).0));
    assert!(flat_weights(&plain).1.equal(&flat_weights(&evaluated).1));
}

#[test]
fn history_rows_hold_the_losses_and_batch_accuracies() {
    let mut t = trainer(4, 30);
    let mut recorder = gan1d::train::HistoryRecorder::default();
    let mut expected = Vec::new();
    for i in 0..30 {
        let losses = t.step();
        if (i + 1) % 10 == 0 {
            recorder.record_stats(i, losses.stats().get(0));
            expected.push(losses.values()[0]);
        }
    }
    let rows = recorder.drain();
    assert!(recorder.is_empty());
    assert_eq!(rows.iter().map(|r| r.iteration).collect::<Vec<_>>(), [9, 19, 29]);
    for (row, (d_real, d_fake, g)) in rows.iter().zip(expected) {
        assert!((row.d_loss_real - d_real).abs() < 1e-6 && (row.d_loss_fake - d_fake).abs() < 1e-6);
        assert!((row.g_loss - g).abs() < 1e-6);
        for acc in [row.d_acc_real, row.d_acc_fake] {
            assert!((0.0..=1.0).contains(&acc) && (acc * 64.0).fract() == 0.0, "{acc}");
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_does_not() {
    let mut runs = Vec::new();
    for seed in [7, 7, 8] {
        let mut t = trainer(seed, 300);
        run(&mut t, 300);
        runs.push(flat_weights(&t));
    }
    assert!(runs[0].0.equal(&runs[1].0) && runs[0].1.equal(&runs[1].1));
    assert!(!runs[0].0.equal(&runs[2].0));
}

#[test]
fn losses_stay_finite_and_accuracies_are_shares() {
    let mut t = trainer(5, 200);
    for _ in 0..200 {
        let (d_real, d_fake, g) = t.step().values()[0];
        assert!(d_real.is_finite() && d_fake.is_finite() && g.is_finite());
    }
    let report = t.evaluate_member(0);
    assert_eq!(report.iteration, 199);
    assert_eq!(report.metrics.n, 1000);
    assert!(report.metrics.residual_mean.is_finite() && report.metrics.energy_distance.is_finite());
    assert_eq!((report.real.len(), report.fake.len()), (100, 100));
    for acc in [report.acc_real, report.acc_fake] {
        assert!((0.0..=1.0).contains(&acc) && (acc * 100.0).fract() == 0.0, "{acc}");
    }
}
