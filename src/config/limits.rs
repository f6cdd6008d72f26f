//! The ranges every setting must fall in, whether it comes from a flag or a checkpoint's
//! `config.json`. They bound the memory and time a run can ask for to what a small GAN
//! playground can use, far beyond what it needs, so that a typo fails at once with a message
//! instead of exhausting memory.

/// Iterations of one run: 10⁸ is about ten hours at gan1d's speed.
pub const MAX_EPOCHS: u64 = 100_000_000;
/// Members one process trains at once (`--seeds`).
pub const MAX_MEMBERS: usize = 4096;
/// Points per generator update (2²⁰): a few hundred megabytes of activations at most.
pub const MAX_BATCH: i64 = 1 << 20;
/// Latent dimensions and hidden-layer widths.
pub const MAX_WIDTH: i64 = 4096;
/// Hidden layers per network.
pub const MAX_DEPTH: usize = 16;
/// Points of one evaluation's accuracies and metrics.
pub const MAX_EVAL_SAMPLES: i64 = 1_000_000;
/// Adam's step size. Anything above about 0.01 trains badly and much more diverges, which
/// `train` reports (exit code 3); past 10³⁰ the first step overflows float32 outright.
pub const MAX_LEARNING_RATE: f64 = 1e30;
/// Discriminator rounds per generator update (`--d-steps`).
pub const MAX_D_STEPS: u64 = 100;
/// A gradient penalty's weight (`--penalty-weight`): published weights are 0.1 to 10; far
/// beyond, the penalty drowns the loss.
pub const MAX_PENALTY_WEIGHT: f64 = 1e6;
/// The most points the discriminator judges at once (`--pack`).
pub const MAX_PACK: i64 = 16;
/// libtorch CPU threads: more than any machine here has; each costs a stack.
pub const MAX_THREADS: u64 = 1024;
/// Points `gan1d sample` streams out.
pub const MAX_SAMPLES: u64 = 1_000_000_000_000;
/// Points `gan1d evaluate` holds in memory to measure (about 80 MB each for 10⁷).
pub const MAX_EVALUATE_POINTS: u64 = 10_000_000;
/// The largest `|LO|` or `|HI|` of `--domain`: float32 keeps about 7 digits, so a domain far
/// from 0 would leave too few for its points.
pub const MAX_DOMAIN_ABS: f64 = 1e6;
/// The narrowest `--domain`.
pub const MIN_DOMAIN_WIDTH: f64 = 1e-6;
/// The longest `--target` expression.
pub const MAX_EXPRESSION_BYTES: usize = 1000;
