//! The two configuration types: what the networks look like ([`ModelConfig`]) and how they
//! are trained ([`TrainConfig`]). Every default lives here, once, with the reason for it.
//! This module knows nothing of the command line or of files. The parameter layout is
//! `layout.rs`'s, the limits every setting must keep `limits.rs`'s.

mod layout;
pub mod limits;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

pub use crate::activation::Activation;
use crate::target::{Target, TargetConfig};
pub use layout::{Init, LayerSpec, POINT_DIM, Variable, parameter_count, variables};

/// The shape of the two networks. Saved beside the weights, so a checkpoint can always
/// rebuild the model it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Dimensions of the latent space the generator reads, each drawn from N(0, 1).
    /// The tutorial uses 5.
    pub latent_dim: i64,
    /// Width of each hidden layer of the generator, input side first. Tutorial: one layer of 15.
    pub generator_hidden: Vec<i64>,
    /// Width of each hidden layer of the discriminator. Tutorial: one layer of 25.
    pub discriminator_hidden: Vec<i64>,
    /// The activation of every hidden layer of both networks. Tutorial: ReLU. (Absent from
    /// checkpoints written before gan1d 0.3, which all used ReLU.)
    #[serde(default)]
    pub activation: Activation,
    /// The generator's output activation: linear (the tutorial's) or tanh, which needs the
    /// data scaled onto `[-1, 1]` (see `target::Scaling`).
    #[serde(default = "linear")]
    pub generator_output: Activation,
    /// The distribution of each latent dimension: the tutorial's N(0, 1), or U(−1, 1) as GAN
    /// Lab draws. (Written only when not the tutorial's, so older checkpoints read the same.)
    #[serde(default, skip_serializing_if = "is_default")]
    pub latent: Latent,
    /// Points the discriminator judges at once (PacGAN, Lin et al. 2018): each `pack`
    /// consecutive points of a batch concatenated into one input of `2 · pack` numbers, judged
    /// real or fake together. 1, the tutorial's, judges each point alone. (Written only when
    /// not 1.)
    #[serde(default = "alone", skip_serializing_if = "is_alone")]
    pub pack: i64,
}

fn alone() -> i64 {
    1
}

fn is_alone(value: &i64) -> bool {
    *value == 1
}

/// Whether `value` is its type's default: such fields are left out of `config.json`, so a
/// tutorial run's files stay those of earlier versions.
fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// Written out once for each of the choice enums below: their names on the command line and in
/// `config.json`, and the error that lists them.
macro_rules! named_choices {
    ($type:ident, $what:literal, $($variant:ident => $name:literal),+ $(,)?) => {
        impl $type {
            pub const ALL: &'static [$type] = &[$($type::$variant),+];

            /// The name it is written with.
            pub fn name(self) -> &'static str {
                match self {
                    $($type::$variant => $name),+
                }
            }
        }

        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $type {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $type::ALL.iter().copied().find(|c| c.name() == s).ok_or_else(|| {
                    let names: Vec<&str> = $type::ALL.iter().map(|c| c.name()).collect();
                    format!("`{s}` is not {}: use {}", $what, names.join(", "))
                })
            }
        }

        impl TryFrom<String> for $type {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                s.parse()
            }
        }

        impl From<$type> for String {
            fn from(c: $type) -> String {
                c.name().to_string()
            }
        }
    };
}

/// The distribution the generator's latent points are drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Latent {
    /// N(0, 1) in each dimension: the tutorial's `randn`.
    #[default]
    Normal,
    /// U(−1, 1) in each dimension.
    Uniform,
}

named_choices!(Latent, "a latent distribution", Normal => "normal", Uniform => "uniform");

/// The loss the two networks play, on the discriminator's logit `z` (its output layer is
/// linear). Every engine takes its value and gradient from `loss`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Loss {
    /// Binary cross-entropy, the tutorial's (Goodfellow et al. 2014, with the generator's
    /// non-saturating labels): D minimises `softplus(−z_real) + softplus(z_fake)`, G
    /// `softplus(−z_fake)`.
    #[default]
    Bce,
    /// Least squares (Mao et al. 2017, labels 0 and 1): D minimises `½(z_real − 1)² + ½z_fake²`,
    /// G `½(z_fake − 1)²`.
    LeastSquares,
    /// Hinge (Lim & Ye 2017; Miyato et al. 2018): D minimises `max(0, 1 − z_real) +
    /// max(0, 1 + z_fake)`, G `−z_fake`.
    Hinge,
    /// Relativistic standard GAN (Jolicoeur-Martineau 2018): on pairs of a real and a fake
    /// point, D minimises `softplus(−(z_real − z_fake))`, G `softplus(−(z_fake − z_real))`.
    /// D's two batches make one update.
    Relativistic,
    /// Wasserstein (Arjovsky et al. 2017), as WGAN-GP trains it: D, the critic, minimises
    /// `z_fake − z_real` over pairs of a real and a fake point (the mean of `d(x̃) − d(x)`), G
    /// `−z_fake`. D's two batches make one update.
    Wasserstein,
}

named_choices!(
    Loss,
    "a loss",
    Bce => "bce",
    LeastSquares => "least-squares",
    Hinge => "hinge",
    Relativistic => "relativistic",
    Wasserstein => "wasserstein",
);

impl Loss {
    /// Whether the discriminator's loss pairs real with fake points, so that its two batches
    /// make one update rather than the tutorial's two.
    pub fn is_paired(self) -> bool {
        matches!(self, Loss::Relativistic | Loss::Wasserstein)
    }

    /// Discriminator updates in `rounds` rounds: two a round (real, then fake), or one for a
    /// paired loss.
    pub fn d_updates(self, rounds: u64) -> u64 {
        rounds * if self.is_paired() { 1 } else { 2 }
    }
}

/// A penalty on the discriminator's input gradient, added to its loss at each of its updates
/// (the formulas are [`crate::penalty`]'s). Each packed input is one point of the penalty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Penalty {
    /// The tutorial's: none.
    #[default]
    None,
    /// R1 (Mescheder et al. 2018): `(W/2)·E‖∇ₓd(x)‖²` on the real points, at the update on
    /// them.
    R1,
    /// R2: the same on the fakes, at the update on them.
    R2,
    /// WGAN-GP (Gulrajani et al. 2017): `W·E(‖∇d(x̂)‖ − 1)²` at points `x̂ = u·x + (1 − u)·x̃`
    /// between a real and a fake point, `u ~ U(0, 1)`, at the update on the fakes.
    WganGp,
    /// DRAGAN (Kodali et al. 2017): the same one-centred penalty at real points pushed by
    /// `u · ½σ·r` (σ each coordinate's spread over the batch, `r ~ U(0, 1)` per coordinate), at
    /// the update on the real points.
    Dragan,
}

named_choices!(
    Penalty,
    "a penalty",
    None => "none",
    R1 => "r1",
    R2 => "r2",
    WganGp => "wgan-gp",
    Dragan => "dragan",
);

impl Penalty {
    /// `--penalty-weight`'s default: the weight each paper trains with (γ = 10 for R1 and R2,
    /// λ = 10 for WGAN-GP and DRAGAN).
    pub const DEFAULT_WEIGHT: f64 = 10.0;
}

/// A named set of choices: `train`'s defaults for everything it sets. Flags given beside it
/// override it, one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Recipe {
    /// The tutorial's choices, bit for bit.
    #[default]
    Tutorial,
    /// Choices measured to learn the built-in targets well (`bench/findings.sh`,
    /// `bench/mode_collapse.sh`): see [`Recipe::configs`].
    Robust,
}

named_choices!(Recipe, "a recipe", Tutorial => "tutorial", Robust => "robust");

impl Recipe {
    /// The configuration this recipe stands for, before any flag, for a curve or, with
    /// `plane`, for a target in the plane. There robust trains a deeper generator (three
    /// layers of 64) with BCE and WGAN-GP's penalty (λ 0.1), for 160 000 iterations with step
    /// sizes that halve every 40 000: on the grid of 25 that covered every mode of every seed
    /// measured, tighter than R1 or R2, where packing had lost some
    /// (`bench/mode_collapse.sh`).
    pub fn configs(self, plane: bool) -> (ModelConfig, TrainConfig) {
        let (model, train) = self.curve_configs();
        if self != Recipe::Robust || !plane {
            return (model, train);
        }
        (
            ModelConfig { generator_hidden: vec![64, 64, 64], ..model },
            TrainConfig {
                epochs: 160_000,
                eval_every: 40_000,
                lr_half_life: Some(40_000),
                loss: Loss::Bce,
                penalty: Penalty::WganGp,
                penalty_weight: Some(0.1),
                ..train
            },
        )
    }

    /// For a curve, robust is a tanh generator of two layers of 32 on scaled data, a
    /// discriminator of two layers of 64, the hinge loss, Adam's β₁ at 0.5 and 20 000
    /// iterations (`bench/findings.sh`).
    fn curve_configs(self) -> (ModelConfig, TrainConfig) {
        match self {
            Recipe::Tutorial => (ModelConfig::default(), TrainConfig::default()),
            Recipe::Robust => (
                ModelConfig {
                    generator_hidden: vec![32, 32],
                    discriminator_hidden: vec![64, 64],
                    generator_output: Activation::Tanh,
                    ..ModelConfig::default()
                },
                TrainConfig {
                    recipe: Recipe::Robust,
                    epochs: 20_000,
                    eval_every: 4_000,
                    loss: Loss::Hinge,
                    adam: AdamConfig { beta1: 0.5, ..AdamConfig::default() },
                    ..TrainConfig::default()
                },
            ),
        }
    }
}

fn linear() -> Activation {
    Activation::Linear
}

/// The metric that ranks the members (`--select`), lowest first; `ranking` reads it off an
/// evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Select {
    /// The energy distance to real points: shape and spread of the whole distribution.
    #[default]
    Energy,
    /// The mean distance of the generated points from the curve.
    Residual,
    /// The Kolmogorov–Smirnov statistic of the generated `x`: coverage of the domain.
    Ks,
    /// For a mixture: the modes missed plus the share of points of low quality, so that
    /// covering one more mode outranks any share.
    Modes,
}

impl Select {
    pub const ALL: [Select; 4] = [Select::Energy, Select::Residual, Select::Ks, Select::Modes];

    /// How a table heads it.
    pub fn label(self) -> &'static str {
        match self {
            Select::Energy => "energy distance",
            Select::Residual => "residual mean",
            Select::Ks => "KS",
            Select::Modes => "modes missed + low-quality share",
        }
    }
}

impl std::fmt::Display for Select {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Select::Energy => "energy",
            Select::Residual => "residual",
            Select::Ks => "ks",
            Select::Modes => "modes",
        })
    }
}

impl std::str::FromStr for Select {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Select::ALL
            .into_iter()
            .find(|m| m.to_string() == s)
            .ok_or_else(|| format!("`{s}` is not a ranking metric: use energy, residual, ks or modes"))
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            latent_dim: 5,
            generator_hidden: vec![15],
            discriminator_hidden: vec![25],
            activation: Activation::Relu,
            generator_output: Activation::Linear,
            latent: Latent::Normal,
            pack: 1,
        }
    }
}

/// The VarStore names of hidden layers, so that a layer's name can be `&'static str`.
const HIDDEN_NAMES: [&str; limits::MAX_DEPTH] = [
    "hidden", "hidden2", "hidden3", "hidden4", "hidden5", "hidden6", "hidden7", "hidden8", "hidden9",
    "hidden10", "hidden11", "hidden12", "hidden13", "hidden14", "hidden15", "hidden16",
];

impl ModelConfig {
    /// The generator's layers: `latent_dim → hidden… → 2`, hidden layers with the chosen
    /// activation and its initialiser, the output layer Glorot-initialised (Keras' default,
    /// which the tutorial's output layer gets) with the chosen output activation.
    pub fn generator_layers(&self) -> Vec<LayerSpec> {
        self.layers(self.latent_dim, &self.generator_hidden, POINT_DIM, self.generator_output)
    }

    /// The discriminator's layers: `2 · pack → hidden… → 1`, the output a logit.
    pub fn discriminator_layers(&self) -> Vec<LayerSpec> {
        self.layers(POINT_DIM * self.pack, &self.discriminator_hidden, 1, Activation::Linear)
    }

    /// Refuses a packing that does not divide the batches `cfg` trains on: each discriminator
    /// update judges half a batch, the generator's a whole one.
    pub fn check_pack(&self, cfg: &TrainConfig) -> Result<()> {
        if cfg.half_batch() % self.pack != 0 {
            bail!(
                "--pack {} must divide the {} points of each discriminator update (half of --batch {}); choose a \
                 --batch that is a multiple of {}",
                self.pack,
                cfg.half_batch(),
                cfg.batch,
                2 * self.pack
            );
        }
        Ok(())
    }

    fn layers(
        &self,
        input: i64,
        hidden: &[i64],
        output: i64,
        output_activation: Activation,
    ) -> Vec<LayerSpec> {
        let mut layers = Vec::with_capacity(hidden.len() + 1);
        let mut inputs = input;
        for (index, &width) in hidden.iter().enumerate() {
            let activation = self.activation;
            let name = HIDDEN_NAMES[index.min(limits::MAX_DEPTH - 1)];
            layers.push(LayerSpec {
                name,
                inputs,
                outputs: width,
                activation,
                init: activation.initialiser(),
            });
            inputs = width;
        }
        let init = Init::GlorotUniform;
        layers.push(LayerSpec { name: "out", inputs, outputs: output, activation: output_activation, init });
        layers
    }

    /// Rejects shapes no network can have, naming the flag that sets each value.
    pub fn validate(&self) -> Result<()> {
        in_range("--latent-dim", self.latent_dim, 1, limits::MAX_WIDTH)?;
        in_range("--pack", self.pack, 1, limits::MAX_PACK)?;
        for (name, widths) in
            [("generator", &self.generator_hidden), ("discriminator", &self.discriminator_hidden)]
        {
            if widths.is_empty() || widths.len() > limits::MAX_DEPTH {
                bail!("the {name} needs 1 to {} hidden layers, got {}", limits::MAX_DEPTH, widths.len());
            }
            for &w in widths {
                in_range(&format!("every {name} hidden layer's width"), w, 1, limits::MAX_WIDTH)?;
            }
        }
        match self.activation {
            Activation::Linear => {
                bail!("--activation must be relu, leaky-relu[:SLOPE], tanh or elu, got linear")
            }
            Activation::LeakyRelu(slope) if !(0.0..1.0).contains(&slope) => {
                bail!("leaky-relu's slope must be from 0 to below 1, got {slope}")
            }
            Activation::LeakyRelu(slope) if slope as f32 >= 1.0 => {
                bail!(
                    "leaky-relu's slope {slope} is 1 in float32, in which gan1d computes: the layer would be linear"
                )
            }
            _ => {}
        }
        if !matches!(self.generator_output, Activation::Linear | Activation::Tanh) {
            bail!("--g-output must be linear or tanh, got {}", self.generator_output);
        }
        Ok(())
    }
}

/// Adam's settings, as Keras defines them (its defaults are the tutorial's, since the tutorial
/// compiles with `optimizer='adam'`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamConfig {
    /// Step size. Keras' default.
    pub learning_rate: f64,
    /// Decay of the first-moment (mean) estimate. Keras' default.
    pub beta1: f64,
    /// Decay of the second-moment (uncentred variance) estimate. Keras' default.
    pub beta2: f64,
    /// Added to √v *before* bias correction, as Keras does (PyTorch adds it after).
    /// Keras' default is 1e-7, not PyTorch's 1e-8.
    pub epsilon: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self { learning_rate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }
    }
}

/// How an iteration's gradients and updates are computed. The engines run the same algorithm
/// on the same random draws and save the same checkpoints, so a run may be resumed with any;
/// they differ in speed, in where they run, and in float rounding only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// Plain Rust loops over flat parameters, the same bits on every CPU: the CPU's default.
    Native,
    /// Flat libtorch tensors, hand-written backward pass, one Adam update per network: the
    /// engine for CUDA.
    Fused,
    /// `nn::Linear` layers, autograd and a plainly written Keras Adam: the readable reference.
    Autograd,
}

impl EngineKind {
    pub const ALL: [EngineKind; 3] = [EngineKind::Native, EngineKind::Fused, EngineKind::Autograd];

    /// The engine a run on `device` gets when none is named: native on the CPU, fused on CUDA.
    pub fn for_device(device: tch::Device) -> EngineKind {
        if device == tch::Device::Cpu { EngineKind::Native } else { EngineKind::Fused }
    }
}

impl std::str::FromStr for EngineKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EngineKind::ALL
            .into_iter()
            .find(|kind| kind.to_string() == s)
            .ok_or_else(|| format!("must be native, fused or autograd, got `{s}`"))
    }
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EngineKind::Native => "native",
            EngineKind::Fused => "fused",
            EngineKind::Autograd => "autograd",
        })
    }
}

/// How a run is trained. Everything that decides the numbers a run produces is here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Seed of libtorch's random stream: the same seed on the same device gives the same run.
    pub seed: u64,
    /// Training iterations; the tutorial calls them epochs. Each iteration is two
    /// discriminator updates and one generator update.
    pub epochs: u64,
    /// Points in one generator update; each discriminator update sees half of it real and,
    /// in a separate update, half of it fake. Tutorial: 128.
    pub batch: i64,
    /// Iterations between evaluations (accuracy line, plot, checkpoint). Tutorial: 2 000.
    pub eval_every: u64,
    /// Real and generated points used for each evaluation's accuracies and plot. Tutorial: 100.
    pub eval_samples: i64,
    /// Generated points (from one latent batch fixed for the whole run) whose quality metrics
    /// each evaluation records: 1 000 puts the residual's mean within about ±5 % of its
    /// value without slowing the evaluation.
    pub metric_samples: i64,
    /// Iterations between two rows of the loss and accuracy history. Every 10 keeps 1 000
    /// rows for the default run: enough for smooth curves, nothing measurable in time.
    pub history_every: u64,
    /// The optimiser of the discriminator and, separately, of the generator.
    pub adam: AdamConfig,
    /// The function to learn and its domain. Tutorial: `x^2` on `[-0.5, 0.5)`. (Absent from
    /// checkpoints written before gan1d 0.3, which all learned that.)
    #[serde(default)]
    pub target: TargetConfig,
    /// The recipe this configuration was expanded from; its choices are the fields themselves.
    /// (This and the fields below are written only when not the tutorial's.)
    #[serde(default, skip_serializing_if = "is_default")]
    pub recipe: Recipe,
    /// The loss both networks are trained with. Tutorial: binary cross-entropy.
    #[serde(default, skip_serializing_if = "is_default")]
    pub loss: Loss,
    /// Discriminator rounds per generator update, each on fresh batches. Tutorial: 1.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub d_steps: u64,
    /// The generator's Adam step size, when not `adam.learning_rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_g: Option<f64>,
    /// The discriminator's Adam step size, when not `adam.learning_rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_d: Option<f64>,
    /// Iterations over which both step sizes halve, continuously: at the 0-based iteration
    /// `t` each is its value times `2^(−t / lr_half_life)`. None keeps them constant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_half_life: Option<u64>,
    /// The penalty on the discriminator's input gradient. Tutorial: none.
    #[serde(default, skip_serializing_if = "is_default")]
    pub penalty: Penalty,
    /// The penalty's weight, when not [`Penalty::DEFAULT_WEIGHT`]; only with a penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalty_weight: Option<f64>,
    /// Whether the discriminator's weight matrices are spectrally normalised
    /// ([`crate::spectral`]). Tutorial: no.
    #[serde(default, skip_serializing_if = "is_default")]
    pub spectral_norm: bool,
    /// A single run's metric for keeping its best checkpoint in `DIR/best/` at each
    /// evaluation (`--keep-best`); an ensemble keeps each member's best by `--select`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_best: Option<Select>,
    /// Evaluations without an improvement of the `keep_best` metric after which the run stops
    /// (`--patience`), its best checkpoint kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patience: Option<u64>,
}

fn one() -> u64 {
    1
}

fn is_one(n: &u64) -> bool {
    *n == 1
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            // Fixed rather than random so that a plain `gan1d train` is reproducible.
            seed: 42,
            epochs: 10_000,
            batch: 128,
            eval_every: 2_000,
            eval_samples: 100,
            metric_samples: 1000,
            history_every: 10,
            adam: AdamConfig::default(),
            target: TargetConfig::default(),
            recipe: Recipe::Tutorial,
            loss: Loss::Bce,
            d_steps: 1,
            lr_g: None,
            lr_d: None,
            lr_half_life: None,
            penalty: Penalty::None,
            penalty_weight: None,
            spectral_norm: false,
            keep_best: None,
            patience: None,
        }
    }
}

impl TrainConfig {
    /// Points in each of the two discriminator updates.
    pub fn half_batch(&self) -> i64 {
        self.batch / 2
    }

    /// The generator's Adam: `adam`, with `lr_g` for its step size if set.
    pub fn generator_adam(&self) -> AdamConfig {
        AdamConfig { learning_rate: self.lr_g.unwrap_or(self.adam.learning_rate), ..self.adam }
    }

    /// What the step sizes are multiplied by at the 0-based `iteration`: 1 without a half-life.
    pub fn rate_scale(&self, iteration: u64) -> f64 {
        match self.lr_half_life {
            Some(half_life) => libm::exp2(-(iteration as f64) / half_life as f64),
            None => 1.0,
        }
    }

    /// The discriminator's Adam: `adam`, with `lr_d` for its step size if set.
    pub fn discriminator_adam(&self) -> AdamConfig {
        AdamConfig { learning_rate: self.lr_d.unwrap_or(self.adam.learning_rate), ..self.adam }
    }

    /// Discriminator updates per iteration: two a round (real, then fake), or one for a paired
    /// loss.
    pub fn d_updates(&self) -> u64 {
        self.loss.d_updates(self.d_steps)
    }

    /// The penalty on the discriminator and its weight; `None` for no penalty.
    pub fn penalty_rule(&self) -> Option<(Penalty, f64)> {
        (self.penalty != Penalty::None)
            .then(|| (self.penalty, self.penalty_weight.unwrap_or(Penalty::DEFAULT_WEIGHT)))
    }

    /// Rejects settings that cannot train, naming the flag that sets each value.
    pub fn validate(&self) -> Result<()> {
        self.validate_numbers()?;
        // Parsing the target evaluates it over its domain: a millisecond or two.
        Target::new(&self.target)?;
        Ok(())
    }

    /// [`TrainConfig::validate`] without the target: every number in range.
    pub fn validate_numbers(&self) -> Result<()> {
        in_range("--epochs", self.epochs, 1, limits::MAX_EPOCHS)?;
        if self.batch % 2 != 0 || !(2..=limits::MAX_BATCH).contains(&self.batch) {
            bail!(
                "--batch must be an even number from 2 to {} (half of it real, half fake), got {}",
                limits::MAX_BATCH,
                self.batch
            );
        }
        in_range("--eval-every", self.eval_every, 1, limits::MAX_EPOCHS)?;
        in_range("the evaluation's sample count", self.eval_samples, 1, limits::MAX_EVAL_SAMPLES)?;
        in_range("the quality metrics' sample count", self.metric_samples, 2, limits::MAX_EVAL_SAMPLES)?;
        in_range("--history-every", self.history_every, 1, limits::MAX_EPOCHS)?;
        in_range("--d-steps", self.d_steps, 1, limits::MAX_D_STEPS)?;
        if let Some(half_life) = self.lr_half_life {
            in_range("--lr-half-life", half_life, 1, limits::MAX_EPOCHS)?;
        }
        let adam = &self.adam;
        let rates =
            [("--learning-rate", Some(adam.learning_rate)), ("--lr-g", self.lr_g), ("--lr-d", self.lr_d)];
        for (flag, rate) in rates {
            let Some(rate) = rate else { continue };
            if !(rate > 0.0 && rate <= limits::MAX_LEARNING_RATE) {
                bail!(
                    "{flag} must be a positive number of at most {:e}, got {rate}",
                    limits::MAX_LEARNING_RATE
                );
            }
            // Every number is checked as training holds it: in float32.
            if (rate as f32) < f32::MIN_POSITIVE {
                bail!(
                    "{flag} {rate:e} is {} in float32, in which gan1d trains; the smallest it keeps is {:e}",
                    rate as f32,
                    f32::MIN_POSITIVE
                );
            }
        }
        for (name, beta) in [("--beta1", adam.beta1), ("--beta2", adam.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                bail!("{name} must be in [0, 1), got {beta}");
            }
            if beta as f32 >= 1.0 {
                bail!(
                    "{name} {beta} is 1 in float32, in which gan1d keeps Adam's moments; at most {} stays below 1",
                    1.0f32.next_down()
                );
            }
        }
        if let Some(patience) = self.patience {
            in_range("--patience", patience, 1, limits::MAX_EPOCHS)?;
            if self.keep_best.is_none() {
                bail!(
                    "--patience {patience} stops a run when its --keep-best metric stops improving, and none is \
                     given: add --keep-best energy (or residual, ks, modes)"
                );
            }
        }
        if let Some(weight) = self.penalty_weight {
            if self.penalty == Penalty::None {
                bail!(
                    "--penalty-weight {weight} weighs a penalty, and the run has none: add --penalty r1, r2, \
                     wgan-gp or dragan, or leave --penalty-weight out"
                );
            }
            if !(weight > 0.0 && weight <= limits::MAX_PENALTY_WEIGHT) {
                bail!(
                    "--penalty-weight must be a positive number of at most {:e}, got {weight}",
                    limits::MAX_PENALTY_WEIGHT
                );
            }
            if (weight as f32) < f32::MIN_POSITIVE {
                bail!("--penalty-weight {weight:e} is {} in float32, in which gan1d trains", weight as f32);
            }
        }
        if !(adam.epsilon > 0.0 && adam.epsilon <= 1.0) {
            bail!("adam epsilon must be in (0, 1], got {}", adam.epsilon);
        }
        if (adam.epsilon as f32) < f32::MIN_POSITIVE {
            bail!(
                "adam epsilon {} is {} in float32, in which gan1d trains",
                adam.epsilon,
                adam.epsilon as f32
            );
        }
        Ok(())
    }
}

/// Fails unless `min ≤ value ≤ max`, naming `what` (a flag, or the setting).
fn in_range<T: PartialOrd + std::fmt::Display>(what: &str, value: T, min: T, max: T) -> Result<()> {
    if value < min {
        bail!("{what} must be at least {min}, got {value}");
    }
    if value > max {
        bail!("{what} must be at most {max}, got {value}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_tutorials() {
        let train = TrainConfig::default();
        assert_eq!((train.epochs, train.batch, train.eval_every), (10_000, 128, 2_000));
        assert_eq!(train.half_batch(), 64);
        assert_eq!(ModelConfig::default().latent_dim, 5);
        train.validate().unwrap();
        ModelConfig::default().validate().unwrap();
    }

    #[test]
    fn adam_defaults_are_keras() {
        // Written out, not derived: the tutorial compiles with Keras' `optimizer='adam'`.
        let AdamConfig { learning_rate, beta1, beta2, epsilon } = AdamConfig::default();
        assert_eq!((learning_rate, beta1, beta2, epsilon), (0.001, 0.9, 0.999, 1e-7));
    }

    #[test]
    fn activations_round_trip_and_get_their_initialisers() {
        for text in ["relu", "leaky-relu:0.3", "leaky-relu:0", "tanh", "elu", "linear"] {
            assert_eq!(text.parse::<Activation>().unwrap().to_string(), text);
        }
        assert_eq!("leaky-relu".parse(), Ok(Activation::LeakyRelu(0.3)));
        for bad in ["leaky-relu:1", "leaky-relu:-0.1", "leaky-relu:x", "sigmoid", "ReLU"] {
            assert!(bad.parse::<Activation>().is_err(), "{bad}");
        }
        assert_eq!(Activation::Relu.initialiser(), Init::HeUniform);
        assert_eq!(Activation::Elu.initialiser(), Init::HeUniform);
        assert_eq!(Activation::Tanh.initialiser(), Init::GlorotUniform);
        let cfg = ModelConfig {
            activation: Activation::Tanh,
            generator_hidden: vec![4, 3],
            ..ModelConfig::default()
        };
        let layers = cfg.generator_layers();
        assert_eq!(layers.iter().map(|l| l.name).collect::<Vec<_>>(), ["hidden", "hidden2", "out"]);
        assert_eq!((layers[1].inputs, layers[1].outputs, layers[1].init), (4, 3, Init::GlorotUniform));
        assert_eq!((layers[2].activation, layers[2].init), (Activation::Linear, Init::GlorotUniform));
        let bad = ModelConfig { activation: Activation::Linear, ..ModelConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("--activation"));
        let bad = ModelConfig { generator_output: Activation::Elu, ..ModelConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("--g-output"));
        // Checkpoints written before these fields existed read as the tutorial's.
        let old: ModelConfig =
            serde_json::from_str(r#"{"latent_dim":5,"generator_hidden":[15],"discriminator_hidden":[25]}"#)
                .unwrap();
        assert_eq!(old, ModelConfig::default());
    }

    #[test]
    fn engine_names_round_trip() {
        for kind in EngineKind::ALL {
            assert_eq!(kind.to_string().parse::<EngineKind>(), Ok(kind));
        }
        assert_eq!(EngineKind::for_device(tch::Device::Cpu), EngineKind::Native);
        assert_eq!(EngineKind::for_device(tch::Device::Cuda(0)), EngineKind::Fused);
        assert!("keras".parse::<EngineKind>().unwrap_err().contains("must be native, fused or autograd"));
    }

    #[test]
    fn rejects_zero_and_odd_batch_sizes() {
        for batch in [0, 1, 3, 127] {
            let cfg = TrainConfig { batch, ..TrainConfig::default() };
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.contains("--batch"), "{err}");
        }
    }

    #[test]
    fn rejects_absurdly_large_settings() {
        let err = TrainConfig { epochs: u64::MAX, ..TrainConfig::default() }.validate().unwrap_err();
        assert!(err.to_string().contains("--epochs must be at most"), "{err}");
        let err = TrainConfig { batch: 100_000_000_000, ..TrainConfig::default() }.validate().unwrap_err();
        assert!(err.to_string().contains("--batch"), "{err}");
        let err = ModelConfig { latent_dim: 100_000_000, ..ModelConfig::default() }.validate().unwrap_err();
        assert!(err.to_string().contains("--latent-dim must be at most 4096"), "{err}");
        let err = ModelConfig { generator_hidden: vec![], ..ModelConfig::default() }.validate().unwrap_err();
        assert!(err.to_string().contains("hidden layers"), "{err}");
        let adam = AdamConfig { learning_rate: f64::INFINITY, ..AdamConfig::default() };
        let err = TrainConfig { adam, ..TrainConfig::default() }.validate().unwrap_err();
        assert!(err.to_string().contains("--learning-rate"), "{err}");
    }

    #[test]
    fn rejects_zero_epochs_eval_every_and_latent_dim() {
        let err = TrainConfig { epochs: 0, ..TrainConfig::default() }.validate().unwrap_err();
        assert!(err.to_string().contains("--epochs"));
        let err = TrainConfig { eval_every: 0, ..TrainConfig::default() }.validate().unwrap_err();
        assert!(err.to_string().contains("--eval-every"));
        let err = ModelConfig { latent_dim: 0, ..ModelConfig::default() }.validate().unwrap_err();
        assert!(err.to_string().contains("--latent-dim"));
    }
}
