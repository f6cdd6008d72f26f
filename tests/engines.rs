//! The native and fused engines against the autograd reference, in a way that float rounding
//! cannot break:
//! both start from the same state, take one iteration on the same draws, and must agree to
//! float32 rounding. The states are taken all along real runs of several seeds, so the check
//! covers trained networks and well-filled Adam moments, not only the initialisation. A GAN
//! amplifies rounding over many iterations, which is why no trajectory is compared.
//!
//! Needs no Python: it runs wherever the crate builds.

mod common;

use common::step::{NetState, disagreement, state};

use gan1d::checkpoint;
use gan1d::config::{Activation, AdamConfig, EngineKind, Latent, Loss, ModelConfig, Penalty, TrainConfig};
use gan1d::engine::Net;
use gan1d::target::TargetConfig;
use gan1d::train::{Start, Trainer};
use tch::Device;

fn trainer(seed: u64, kind: EngineKind) -> Trainer {
    trainer_of(&ModelConfig::default(), seed, kind)
}

fn trainer_of(model: &ModelConfig, seed: u64, kind: EngineKind) -> Trainer {
    trainer_for(model, &TargetConfig::default(), seed, kind)
}

fn trainer_for(model: &ModelConfig, target: &TargetConfig, seed: u64, kind: EngineKind) -> Trainer {
    trainer_with(model, &TrainConfig { target: target.clone(), ..TrainConfig::default() }, seed, kind)
}

/// A run of `cfg` (its seed replaced by `seed`).
fn trainer_with(model: &ModelConfig, cfg: &TrainConfig, seed: u64, kind: EngineKind) -> Trainer {
    tch::set_num_threads(1);
    let cfg = TrainConfig { seed, epochs: 10_000, ..cfg.clone() };
    Trainer::new(model, &cfg, kind, Device::Cpu, None, Start::fresh(&[cfg.seed])).unwrap()
}

/// A run with `run`'s configuration, networks, optimisers and iteration on `kind`'s engine: the
/// next steps of both start from the same state.
fn continued(run: &Trainer, kind: EngineKind) -> Trainer {
    let state = Net::BOTH.map(|net| run.engine().export(net));
    let start = Start { seeds: run.seeds(), saved: Some((run.iteration(), state)), statuses: Vec::new() };
    Trainer::new(run.model_cfg(), run.cfg(), kind, Device::Cpu, Some(run.scaling()), start).unwrap()
}

/// A deeper architecture than the tutorial's, to check that nothing assumes one hidden layer.
fn deeper() -> ModelConfig {
    ModelConfig {
        latent_dim: 3,
        generator_hidden: vec![12, 7],
        discriminator_hidden: vec![9, 6, 4],
        ..ModelConfig::default()
    }
}

/// The engines tested against the reference.
const CANDIDATES: [EngineKind; 2] = [EngineKind::Native, EngineKind::Fused];

/// Runs `seed` with `run_with`'s engine and, at each iteration in `at`, steps each candidate
/// engine and the reference once from the run's state and compares them. Returns the worst
/// disagreement seen.
fn compare_along_a_run(seed: u64, run_with: EngineKind, at: &[u64]) -> (f64, String) {
    compare_along_a_run_of(&ModelConfig::default(), seed, run_with, at)
}

fn compare_along_a_run_of(model: &ModelConfig, seed: u64, run_with: EngineKind, at: &[u64]) -> (f64, String) {
    compare_along_a_run_for(model, &TargetConfig::default(), seed, run_with, at)
}

fn compare_along_a_run_for(
    model: &ModelConfig,
    target: &TargetConfig,
    seed: u64,
    run_with: EngineKind,
    at: &[u64],
) -> (f64, String) {
    let cfg = TrainConfig { target: target.clone(), ..TrainConfig::default() };
    compare_along_a_run_with(model, &cfg, seed, run_with, at)
}

fn compare_along_a_run_with(
    model: &ModelConfig,
    cfg: &TrainConfig,
    seed: u64,
    run_with: EngineKind,
    at: &[u64],
) -> (f64, String) {
    let mut worst = (0.0f64, String::new());
    for candidate in CANDIDATES {
        let found = compare_one(model, cfg, seed, run_with, candidate, at);
        if found.0 > worst.0 || found.0.is_nan() {
            worst = found;
        }
    }
    worst
}

fn compare_one(
    model: &ModelConfig,
    cfg: &TrainConfig,
    seed: u64,
    run_with: EngineKind,
    candidate: EngineKind,
    at: &[u64],
) -> (f64, String) {
    let trainer = |seed, kind| trainer_with(model, cfg, seed, kind);
    let updates = |net| match net {
        Net::Generator => 1,
        Net::Discriminator => cfg.d_updates(),
    };
    let mut run = trainer(seed, run_with);
    let mut worst = (0.0f64, String::new());
    let last = *at.iter().max().unwrap();
    while run.iteration() <= last {
        if at.contains(&run.iteration()) {
            let mut fused = continued(&run, candidate);
            let mut reference = continued(&run, EngineKind::Autograd);
            let seen = |t: &Trainer, net| without_free_bias(cfg, net, state(t, net));
            let before = [seen(&run, Net::Generator), seen(&run, Net::Discriminator)];
            let _ = fused.step();
            let _ = reference.step();
            for (net, before) in Net::BOTH.into_iter().zip(&before) {
                let (f, r) = (seen(&fused, net), seen(&reference, net));
                assert_eq!((f.steps, r.steps), (before.steps + updates(net), before.steps + updates(net)));
                let (ratio, what) = disagreement(before, &f, &r);
                if ratio > worst.0 {
                    worst = (
                        ratio,
                        format!(
                            "{candidate} engine, seed {seed}, iteration {}, {}: {what}",
                            run.iteration(),
                            net.name()
                        ),
                    );
                }
            }
        }
        let _ = run.step();
    }
    worst
}

/// `state` without the discriminator's output bias when the loss is paired: a paired loss
/// depends on differences of logits only, so that bias's gradient is zero but for rounding,
/// which Adam's normalisation turns into full-sized steps of no consequence, different in every
/// engine. It is left out of the comparison (its moments stay in).
fn without_free_bias(cfg: &TrainConfig, net: Net, mut state: NetState) -> NetState {
    if cfg.loss.is_paired() && net == Net::Discriminator {
        state.vars.retain(|(name, _)| name != "out.bias");
    }
    state
}

/// The iterations at which the engines are compared: dense at the start, where Adam's bias
/// correction and ε matter most, then spread along the run.
const STATES: [u64; 14] = [0, 1, 2, 3, 5, 8, 13, 30, 100, 250, 500, 1000, 1500, 2000];

#[test]
fn one_iteration_of_each_engine_agrees_at_many_states_of_real_runs() {
    let mut worst = (0.0f64, String::new());
    for seed in [1, 2, 3] {
        let found = compare_along_a_run(seed, EngineKind::Fused, &STATES);
        if found.0 > worst.0 {
            worst = found;
        }
    }
    eprintln!("worst disagreement: {:.3} of the allowance ({})", worst.0, worst.1);
    assert!(
        worst.0 <= 1.0,
        "the engines disagree beyond float32 rounding: {:.1}× the allowance at {}",
        worst.0,
        worst.1
    );
}

#[test]
fn they_also_agree_along_a_run_of_the_autograd_engine() {
    let (ratio, what) = compare_along_a_run(4, EngineKind::Autograd, &[0, 7, 150, 600]);
    assert!(
        ratio <= 1.0,
        "the engines disagree beyond float32 rounding: {ratio:.1}× the allowance at {what}"
    );
    let (ratio, what) = compare_along_a_run(8, EngineKind::Native, &[0, 7, 150, 600]);
    assert!(
        ratio <= 1.0,
        "the engines disagree beyond float32 rounding: {ratio:.1}× the allowance at {what}"
    );
}

#[test]
fn they_agree_on_a_deeper_architecture_too() {
    let (ratio, what) = compare_along_a_run_of(&deeper(), 5, EngineKind::Fused, &[0, 3, 200, 800]);
    assert!(
        ratio <= 1.0,
        "the engines disagree beyond float32 rounding: {ratio:.1}× the allowance at {what}"
    );
    // Same names, same shapes, same initial values.
    for kind in CANDIDATES {
        let (fused, reference) =
            (trainer_of(&deeper(), 1, kind), trainer_of(&deeper(), 1, EngineKind::Autograd));
        for net in Net::BOTH {
            let (f, r) = (state(&fused, net), state(&reference, net));
            for ((name, a), (other, b)) in f.vars.iter().zip(&r.vars) {
                assert_eq!(name, other);
                assert!(a.equal(b), "{} {name} differs at initialisation", net.name());
            }
        }
    }
    let fused = trainer_of(&deeper(), 1, EngineKind::Native);
    let names: Vec<String> = state(&fused, Net::Discriminator).vars.into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), 8, "{names:?}");
    assert!(names.contains(&"hidden3.weight".to_string()), "{names:?}");
}

#[test]
fn they_agree_with_every_activation_target_and_scaling() {
    for (activation, generator_output, expression, domain) in [
        (Activation::LeakyRelu(0.3), Activation::Linear, "sine", "-0.5,0.5"),
        (Activation::LeakyRelu(0.0), Activation::Tanh, "x^2", "-0.5,0.5"),
        (Activation::Tanh, Activation::Tanh, "gaussian", "-1,3"),
        (Activation::Elu, Activation::Tanh, "multimodal", "-1,1"),
        (Activation::Elu, Activation::Linear, "0.5*sin(6*x) + x^2", "-1,1"),
    ] {
        let model = ModelConfig {
            activation,
            generator_output,
            generator_hidden: vec![15, 8],
            ..ModelConfig::default()
        };
        let target = TargetConfig::given(expression, domain.parse().unwrap());
        let (ratio, what) = compare_along_a_run_for(&model, &target, 7, EngineKind::Fused, &[0, 3, 60, 300]);
        eprintln!("{activation} / {generator_output} / {expression}: worst {ratio:.3} of the allowance");
        assert!(
            ratio <= 1.0,
            "{activation}, g-output {generator_output}, {expression}: the engines disagree beyond float32 \
             rounding: {ratio:.1}× the allowance at {what}"
        );
    }
}

/// Every loss, more discriminator rounds, two step sizes, another β₁ and uniform latent points:
/// each engine's iteration is the reference's, to float32 rounding, all along real runs.
#[test]
fn they_agree_under_every_training_choice() {
    let tanh = ModelConfig {
        generator_output: Activation::Tanh,
        generator_hidden: vec![15, 8],
        ..ModelConfig::default()
    };
    for (loss, d_steps, model) in [
        (Loss::Bce, 2, ModelConfig { latent: Latent::Uniform, ..ModelConfig::default() }),
        (Loss::LeastSquares, 1, ModelConfig::default()),
        (Loss::LeastSquares, 3, tanh.clone()),
        (Loss::Hinge, 1, ModelConfig::default()),
        (Loss::Hinge, 2, tanh.clone()),
        (Loss::Relativistic, 1, ModelConfig::default()),
        (Loss::Relativistic, 2, tanh.clone()),
        (Loss::Wasserstein, 1, ModelConfig::default()),
        (Loss::Wasserstein, 3, tanh.clone()),
    ] {
        let cfg = TrainConfig {
            loss,
            d_steps,
            lr_g: Some(2e-3),
            lr_d: Some(5e-4),
            adam: AdamConfig { beta1: 0.5, ..AdamConfig::default() },
            target: TargetConfig::given("sine", "-0.5,0.5".parse().unwrap()),
            ..TrainConfig::default()
        };
        let (ratio, what) = compare_along_a_run_with(&model, &cfg, 3, EngineKind::Native, &[0, 2, 40, 250]);
        eprintln!("{loss}, {d_steps} rounds: worst {ratio:.3} of the allowance");
        assert!(
            ratio <= 1.0,
            "{loss}, {d_steps} rounds: the engines disagree beyond float32 rounding: {ratio:.1}× the allowance at {what}"
        );
    }
}

/// Every gradient penalty under every kind of loss, with packing, several rounds and each
/// kind of activation (ReLU's relatives, whose second derivative is zero, and tanh and ELU,
/// whose is not): each engine's hand-written second-order pass gives the reference's
/// double-backward step (`create_graph`), to float32 rounding, all along real runs.
///
/// A paired loss depends on differences of logits only, so a hidden unit that is linear over
/// every point of a batch (a ReLU active everywhere, say) has a bias whose gradient is zero but
/// for rounding, as the output bias's is (see [`without_free_bias`]); Adam turns that rounding
/// into full steps, different in every engine. The paired cases therefore use tanh, which is
/// nowhere linear, or a state where no such unit arises.
#[test]
fn they_agree_under_every_penalty() {
    let cases = [
        (Penalty::R1, 10.0, Loss::Bce, 1, 1, Activation::Relu, "x^2"),
        (Penalty::R1, 1.0, Loss::Hinge, 2, 2, Activation::Elu, "ring"),
        (Penalty::R1, 10.0, Loss::Relativistic, 1, 1, Activation::Tanh, "sine"),
        (Penalty::R2, 10.0, Loss::LeastSquares, 1, 2, Activation::Tanh, "sine"),
        (Penalty::R2, 0.5, Loss::Relativistic, 4, 1, Activation::Tanh, "grid"),
        (Penalty::WganGp, 10.0, Loss::Wasserstein, 1, 3, Activation::Elu, "grid"),
        (Penalty::WganGp, 0.1, Loss::Bce, 2, 1, Activation::Tanh, "x^2"),
        (Penalty::WganGp, 10.0, Loss::Hinge, 1, 1, Activation::LeakyRelu(0.2), "ring"),
        (Penalty::Dragan, 10.0, Loss::Bce, 1, 1, Activation::Elu, "moons"),
        (Penalty::Dragan, 10.0, Loss::Wasserstein, 2, 2, Activation::Relu, "ring"),
    ];
    for case in cases {
        assert_they_agree_penalised(case, false, 7);
    }
}

/// One case of the penalty and normalisation tests: the penalty and its weight, the loss, the
/// packing, D's rounds, the activation and the target.
type Penalised = (Penalty, f64, Loss, i64, u64, Activation, &'static str);

/// Steps the native and fused engines from states along a run of `case` (with spectral
/// normalisation if asked) and checks each against the reference.
fn assert_they_agree_penalised(case: Penalised, spectral_norm: bool, seed: u64) {
    let (penalty, weight, loss, pack, d_steps, activation, target) = case;
    let model = ModelConfig {
        pack,
        activation,
        generator_hidden: vec![15, 8],
        discriminator_hidden: vec![12, 9],
        ..ModelConfig::default()
    };
    let cfg = TrainConfig {
        loss,
        d_steps,
        penalty,
        penalty_weight: (penalty != Penalty::None).then_some(weight),
        spectral_norm,
        target: TargetConfig::given(target, "-0.5,0.5".parse().unwrap()),
        ..TrainConfig::default()
    };
    let (ratio, what) = compare_along_a_run_with(&model, &cfg, seed, EngineKind::Native, &[0, 2, 40, 250]);
    let name = format!(
        "{penalty} {weight}, spectral norm {spectral_norm}, {loss}, pack {pack}, {d_steps} rounds, {activation}, {target}"
    );
    eprintln!("{name}: worst {ratio:.3} of the allowance");
    assert!(
        ratio <= 1.0,
        "{name}: the engines disagree beyond float32 rounding: {ratio:.1}× the allowance at {what}"
    );
}

/// Spectral normalisation, alone and with a penalty, under each kind of loss, packing and
/// rounds: every engine's power iteration, normalised passes and chain rule give the
/// reference's autograd step through `W / (uᵀWv)`, all along real runs.
#[test]
fn they_agree_under_spectral_normalisation() {
    let cases = [
        (Penalty::None, 0.0, Loss::Bce, 1, 1, Activation::Relu, "x^2"),
        (Penalty::None, 0.0, Loss::Hinge, 2, 2, Activation::Tanh, "ring"),
        (Penalty::R1, 1.0, Loss::LeastSquares, 1, 1, Activation::Elu, "sine"),
        (Penalty::WganGp, 1.0, Loss::Wasserstein, 1, 3, Activation::Tanh, "grid"),
        (Penalty::Dragan, 1.0, Loss::Relativistic, 4, 1, Activation::Tanh, "moons"),
        (Penalty::R2, 1.0, Loss::Bce, 2, 1, Activation::LeakyRelu(0.2), "x^2"),
    ];
    for case in cases {
        assert_they_agree_penalised(case, true, 11);
    }
}

#[test]
fn both_engines_start_from_the_same_weights() {
    for (seed, kind) in [0, 42].into_iter().flat_map(|s| CANDIDATES.map(|k| (s, k))) {
        let (fused, reference) = (trainer(seed, kind), trainer(seed, EngineKind::Autograd));
        for net in Net::BOTH {
            let (f, r) = (state(&fused, net), state(&reference, net));
            let names = |s: &NetState| s.vars.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
            assert_eq!(names(&f), names(&r));
            assert_eq!(names(&f), ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]);
            for ((name, a), (_, b)) in f.vars.iter().zip(&r.vars) {
                assert!(a.equal(b), "seed {seed}: {} {name} differs at initialisation", net.name());
            }
            assert_eq!((f.steps, r.steps), (0, 0));
            assert!(f.m.equal(&r.m) && f.v.equal(&r.v));
        }
    }
}

#[test]
fn a_checkpoint_of_one_engine_resumes_in_the_other_exactly() {
    for (first, then) in [
        (EngineKind::Autograd, EngineKind::Fused),
        (EngineKind::Fused, EngineKind::Autograd),
        (EngineKind::Native, EngineKind::Autograd),
        (EngineKind::Autograd, EngineKind::Native),
        (EngineKind::Native, EngineKind::Fused),
        (EngineKind::Fused, EngineKind::Native),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut run = trainer(6, first);
        for _ in 0..40 {
            let _ = run.step();
        }
        checkpoint::save(dir.path(), &gan1d::saved::snapshot(&run, 0), None, checkpoint::LogRecords::empty())
            .unwrap();
        let manifest = checkpoint::read_manifest(dir.path()).unwrap();
        let resumed = gan1d::saved::resumed(dir.path(), &manifest, run.cfg(), then, Device::Cpu).unwrap();
        assert_eq!(resumed.engine_kind(), then);
        assert_eq!(resumed.iteration(), 40);
        for net in Net::BOTH {
            let (a, b) = (state(&run, net), state(&resumed, net));
            for ((name, x), (_, y)) in a.vars.iter().zip(&b.vars) {
                assert!(x.equal(y), "{first} → {then}: {} {name}", net.name());
            }
            assert!(a.m.equal(&b.m) && a.v.equal(&b.v) && a.steps == b.steps, "{first} → {then}: Adam");
        }
    }
}

/// Under spectral normalisation a checkpoint holds the trained weights and the kept `u`
/// beside the normalised network: every engine resumes them exactly, and normalises the
/// network from them again (to its own rounding of the division).
#[test]
fn a_spectrally_normalised_checkpoint_resumes_in_every_engine() {
    let cfg = TrainConfig { spectral_norm: true, penalty: Penalty::R1, ..TrainConfig::default() };
    let model = ModelConfig::default();
    for first in [EngineKind::Native, EngineKind::Fused, EngineKind::Autograd] {
        let dir = tempfile::tempdir().unwrap();
        let mut run = trainer_with(&model, &cfg, 6, first);
        for _ in 0..40 {
            let _ = run.step();
        }
        checkpoint::save(dir.path(), &gan1d::saved::snapshot(&run, 0), None, checkpoint::LogRecords::empty())
            .unwrap();
        let manifest = checkpoint::read_manifest(dir.path()).unwrap();
        for then in [EngineKind::Native, EngineKind::Fused, EngineKind::Autograd] {
            let resumed = gan1d::saved::resumed(dir.path(), &manifest, run.cfg(), then, Device::Cpu).unwrap();
            let (a, b) =
                (run.engine().export(Net::Discriminator), resumed.engine().export(Net::Discriminator));
            let (sa, sb) = (a.spectral.as_ref().unwrap(), b.spectral.as_ref().unwrap());
            assert!(sa.raw.equal(&sb.raw) && sa.u.equal(&sb.u), "{first} → {then}: the trained weights or u");
            assert!(a.m.equal(&b.m) && a.v.equal(&b.v), "{first} → {then}: Adam");
            let diff = (&a.params - &b.params).abs().max().double_value(&[]);
            assert!(diff < 1e-6, "{first} → {then}: the normalised network differs by {diff}");
            if first == then {
                assert!(
                    a.params.equal(&b.params),
                    "{first}: the normalised network is not recomputed exactly"
                );
            }
            // The normalised weights are the trained ones divided by a positive σ.
            assert!(!a.params.equal(&sa.raw));
        }
    }
}

/// Packing (PacGAN): every engine judges the same packs of consecutive points, step for step
/// against the autograd reference, under each kind of loss, on plane targets and a curve, with
/// and without a schedule of step sizes.
#[test]
fn they_agree_when_the_discriminator_judges_packs() {
    // With step sizes that halve every 100 iterations, too: every engine follows the schedule.
    for (pack, loss, d_steps, target, lr_half_life) in [
        (2, Loss::Bce, 1, "ring", None),
        (4, Loss::Relativistic, 2, "grid", Some(100)),
        (4, Loss::Hinge, 1, "x^2", None),
        (2, Loss::Wasserstein, 2, "grid", None),
        (8, Loss::LeastSquares, 2, "moons", Some(100)),
    ] {
        let model = ModelConfig { pack, generator_hidden: vec![15, 8], ..ModelConfig::default() };
        let cfg = TrainConfig {
            loss,
            d_steps,
            lr_half_life,
            target: TargetConfig::given(target, "-0.5,0.5".parse().unwrap()),
            ..TrainConfig::default()
        };
        let (ratio, what) = compare_along_a_run_with(&model, &cfg, 5, EngineKind::Native, &[0, 2, 40, 250]);
        eprintln!("pack {pack}, {loss}, {target}: worst {ratio:.3} of the allowance");
        assert!(
            ratio <= 1.0,
            "pack {pack}, {loss}, {target}: the engines disagree beyond float32 rounding: {ratio:.1}× the allowance at {what}"
        );
    }
}

/// Wide and odd widths (1 to 1 024 hidden units, one to three layers), where the native
/// engine's layer products run in register tiles, passes over the cache and vectors of the
/// CPU's widest kind: one iteration of each engine agrees with the reference early in a run,
/// under every activation, loss, packing and number of rounds. From the third iteration on:
/// Adam's very first update is ±α for any gradient above ε and steep near ε, so hundreds of
/// near-zero gradients of a wide layer make it a test of luck; the tutorial's widths check it.
#[test]
fn they_agree_at_every_width() {
    // G's and D's hidden widths, the activation, the loss, D's rounds, the packing.
    type Case = (&'static [i64], &'static [i64], Activation, Loss, u64, i64);
    let cases: [Case; 8] = [
        (&[1], &[1], Activation::Relu, Loss::Bce, 1, 1),
        (&[3, 2], &[2, 3], Activation::Tanh, Loss::LeastSquares, 1, 2),
        (&[17], &[33, 17], Activation::LeakyRelu(0.2), Loss::Hinge, 2, 1),
        (&[64, 64], &[64, 64], Activation::Elu, Loss::Relativistic, 1, 2),
        (&[255, 129], &[257, 255], Activation::Relu, Loss::Bce, 1, 1),
        (&[96, 96, 96], &[96, 96, 96], Activation::Tanh, Loss::Wasserstein, 2, 4),
        (&[512, 512], &[300], Activation::LeakyRelu(0.2), Loss::LeastSquares, 1, 1),
        (&[1024], &[1024], Activation::Elu, Loss::Bce, 1, 1),
    ];
    for (g, d, activation, loss, d_steps, pack) in cases {
        let model = ModelConfig {
            generator_hidden: g.to_vec(),
            discriminator_hidden: d.to_vec(),
            activation,
            pack,
            ..ModelConfig::default()
        };
        let cfg = TrainConfig { loss, d_steps, ..TrainConfig::default() };
        let (ratio, what) = compare_along_a_run_with(&model, &cfg, 9, EngineKind::Native, &[2, 5]);
        eprintln!("G {g:?}, D {d:?}, {activation}, {loss}: worst {ratio:.3} of the allowance");
        assert!(
            ratio <= 1.0,
            "G {g:?}, D {d:?}, {activation}, {loss}, {d_steps} rounds, pack {pack}: the engines disagree \
             beyond float32 rounding: {ratio:.1}× the allowance at {what}"
        );
    }
}
