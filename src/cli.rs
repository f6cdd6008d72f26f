//! The command line: clap definitions, help text, and conversion into the configuration types.
//! Defaults come from the configuration types themselves, so each is written once.

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::{
    Activation, AdamConfig, EngineKind, Latent, Loss, ModelConfig, Penalty, Recipe, TrainConfig, limits,
};
use crate::device::DeviceChoice;
use crate::plan::{ModelChoices, TrainPlan, Typed};
use crate::ranking::Select;
use crate::target::{Domain, TargetConfig};

#[derive(Debug, Parser)]
#[command(
    name = "gan1d",
    version,
    about = "Train, sample and inspect small GANs that learn a curve y = f(x) (the tutorial's x² on [-0.5, 0.5) by default), a distribution in the plane, or your own points"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses `args` (the program name first) and records which `train` flags were typed
    /// rather than defaulted. Bad flags, `--help` and `--version` come back as clap's error,
    /// for [`report`].
    pub fn parse_with_sources<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        match (&mut cli.command, matches.subcommand()) {
            (Command::Train(args), Some(("train", sub))) => args.typed = Typed::read(args, sub),
            (Command::Summary(args), Some(("summary", sub))) => {
                args.typed = ModelChoices::read(&args.architecture, sub)
            }
            _ => {}
        }
        Ok(cli)
    }
}

/// Reports what [`Cli::parse_with_sources`] refused and returns the exit code: a command line
/// clap cannot use on one line of stderr (code 2), as every gan1d error is; `--help` and
/// `--version` as clap writes them (code 0).
pub fn report(error: &clap::Error) -> u8 {
    if !error.use_stderr() {
        // A closed stdout loses the help text, nothing else.
        let _ = error.print();
        return 0;
    }
    crate::output::note(&format!("error: {}", crate::output::one_line(&one_line(error))));
    2
}

/// A clap error as one line: `--epochs must be at least 1, got -1` for a value our parsers
/// refuse, clap's own first line with a pointer to `--help` for anything else.
pub fn one_line(error: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let flag = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg.split([' ', '=']).next().unwrap_or(arg).to_string(),
        _ => String::new(),
    };
    if error.kind() == ErrorKind::ValueValidation
        && let Some(reason) = std::error::Error::source(error)
    {
        return format!("{flag} {reason}");
    }
    if error.kind() == ErrorKind::MissingRequiredArgument
        && let Some(ContextValue::Strings(missing)) = error.get(ContextKind::InvalidArg)
    {
        return format!("missing {}; see `gan1d --help`", missing.join(", "));
    }
    let rendered = error.render().to_string();
    let first = rendered.lines().next().unwrap_or_default().trim_start_matches("error: ").to_string();
    format!("{first}; see `gan1d --help`")
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train the tutorial's GAN and write a checkpoint with plots into --out, or continue the
    /// run in --resume DIR
    Train(Box<TrainArgs>),
    /// Draw points from a trained generator as CSV (header x,y; with --latent the latent point of each too)
    Sample(SampleArgs),
    /// Measure a trained generator against its target: the curve and its domain, or the points in the plane
    Evaluate(EvaluateArgs),
    /// Write a trained generator as safetensors, TorchScript or ONNX, for PyTorch, onnxruntime
    /// and other programs
    Export(ExportArgs),
    /// Reproduce one of the tutorial's intermediate steps (plots into --out)
    #[command(subcommand)]
    Explore(ExploreCommand),
    /// Print Keras-style summaries of the discriminator, the generator and the composite model
    Summary(SummaryArgs),
    /// Print the merged ranking of the members of one or several run folders
    Leaderboard(LeaderboardArgs),
    /// Serve a local web page that shows the runs in DIR (default runs/) as they train,
    /// compares them, and starts, pauses, resumes and steps runs
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Folders holding runs (a run folder, or folders of them up to two levels deep); runs
    /// started from the page go into the first. Default: runs/, made if missing
    #[arg(value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// The port to listen on; 0 picks a free one (the printed URL names it)
    #[arg(long, default_value_t = 8765)]
    pub port: u16,
    /// The address to listen on. Another than 127.0.0.1 lets other machines reach the page
    /// (with the URL's token); gan1d warns when it does
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Training iterations (each: two discriminator updates, one generator update). With
    /// --resume: the run's new total; left out, the run's own
    #[arg(long, default_value_t = TrainConfig::default().epochs, value_parser = whole(1, limits::MAX_EPOCHS), allow_negative_numbers = true)]
    pub epochs: u64,
    /// Points per generator update; each discriminator update uses half of it
    #[arg(long, default_value_t = TrainConfig::default().batch, value_parser = signed(2, limits::MAX_BATCH), allow_negative_numbers = true)]
    pub batch: i64,
    /// Iterations between evaluations (accuracy line, plot, checkpoint)
    #[arg(long, default_value_t = TrainConfig::default().eval_every, value_parser = whole(1, limits::MAX_EPOCHS), allow_negative_numbers = true)]
    pub eval_every: u64,
    #[command(flatten)]
    pub architecture: ArchitectureArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Seed of the random stream: on the CPU the same seed repeats a run exactly
    #[arg(long, default_value_t = TrainConfig::default().seed, value_parser = whole(0, u64::MAX), allow_negative_numbers = true)]
    pub seed: u64,
    /// Train an ensemble: one member per seed, all at once, into --out (`1..64`, both ends
    /// included, or `3,7,11`, or both: `1..8,20`)
    #[arg(long, value_name = "LIST", conflicts_with_all = ["seed", "resume"])]
    pub seeds: Option<SeedList>,
    /// With --seeds: the metric that ranks the members, lowest first (energy: energy distance
    /// to real points; residual: mean distance from the curve; ks: coverage of the domain)
    #[arg(long, value_name = "energy|residual|ks", default_value_t = Select::Energy, requires = "seeds")]
    pub select: Select,
    /// auto (CUDA if present, else CPU), cpu, cuda or cuda:N
    #[arg(long, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// native (plain Rust loops, the same bits on every CPU; the CPU's default), fused (libtorch
    /// tensors, hand-written gradients; CUDA's default) or autograd (nn::Linear layers and
    /// autograd: the readable reference; one member). Same algorithm, draws and checkpoints; a
    /// resumed run may switch
    #[arg(long, value_name = "native|fused|autograd")]
    pub engine: Option<EngineKind>,
    /// CPU threads: the native engine spreads an ensemble's members over them, and splits a
    /// single wide run's large layers over those left (the numbers do not change); libtorch
    /// uses them too
    #[arg(long, default_value_t = 1, value_parser = whole(1, limits::MAX_THREADS), allow_negative_numbers = true)]
    pub threads: u64,
    /// Folder for the checkpoint and plots (created if missing); one that holds a run needs
    /// --overwrite, or --resume to continue it
    #[arg(long, value_name = "DIR", default_value = "models")]
    pub out: PathBuf,
    /// Replace the run already in --out: its files stay until the new run's first checkpoint,
    /// then only the new run's remain
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
    /// Continue the run whose checkpoint is in DIR, exactly where it stopped, writing into DIR;
    /// flags that would change the run (--batch, --seed, …) must match it or be left out
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    /// Also write a checkpoint every N iterations (it is always written at each evaluation,
    /// at the end, and on SIGINT or SIGTERM)
    #[arg(long, value_name = "N", value_parser = whole(1, limits::MAX_EPOCHS), allow_negative_numbers = true)]
    pub checkpoint_every: Option<u64>,
    /// Adam's step size, for both networks (unless --lr-g or --lr-d sets one's)
    #[arg(long, visible_alias = "lr", default_value_t = TrainConfig::default().adam.learning_rate, value_parser = positive(limits::MAX_LEARNING_RATE), allow_negative_numbers = true)]
    pub learning_rate: f64,
    /// The generator's Adam step size (two time-scale updates, Heusel et al. 2017) [default:
    /// --learning-rate]
    #[arg(long, value_name = "LR", value_parser = positive(limits::MAX_LEARNING_RATE), allow_negative_numbers = true)]
    pub lr_g: Option<f64>,
    /// The discriminator's Adam step size [default: --learning-rate]
    #[arg(long, value_name = "LR", value_parser = positive(limits::MAX_LEARNING_RATE), allow_negative_numbers = true)]
    pub lr_d: Option<f64>,
    /// Adam's β₁, the decay of its gradient mean, for both networks
    #[arg(long, default_value_t = AdamConfig::default().beta1, value_parser = unit_interval, allow_negative_numbers = true)]
    pub beta1: f64,
    /// Adam's β₂, the decay of its squared-gradient mean, for both networks
    #[arg(long, default_value_t = AdamConfig::default().beta2, value_parser = unit_interval, allow_negative_numbers = true)]
    pub beta2: f64,
    /// The loss: bce (the tutorial's binary cross-entropy), least-squares (Mao et al. 2017),
    /// hinge (Lim & Ye 2017), relativistic (Jolicoeur-Martineau 2018) or wasserstein (Arjovsky
    /// et al. 2017); see the README
    #[arg(long, value_name = "NAME", default_value_t = TrainConfig::default().loss)]
    pub loss: Loss,
    /// Discriminator rounds (a real and a fake update each, on fresh batches) per generator
    /// update
    #[arg(long, value_name = "N", default_value_t = TrainConfig::default().d_steps, value_parser = whole(1, limits::MAX_D_STEPS), allow_negative_numbers = true)]
    pub d_steps: u64,
    /// A penalty on the discriminator's input gradient: none, r1 (on real points; Mescheder et
    /// al. 2018), r2 (on fakes), wgan-gp (one-centred, between real and fake points;
    /// Gulrajani et al. 2017) or dragan (one-centred, near real points; Kodali et al. 2017);
    /// see the README
    #[arg(long, value_name = "NAME", default_value_t = TrainConfig::default().penalty)]
    pub penalty: Penalty,
    /// The penalty's weight: γ of R1 and R2 (the penalty is γ/2 times the mean squared norm),
    /// λ of WGAN-GP and DRAGAN; only with --penalty [default: 10]
    #[arg(long, value_name = "W", value_parser = positive(limits::MAX_PENALTY_WEIGHT), allow_negative_numbers = true)]
    pub penalty_weight: Option<f64>,
    /// Divide each of the discriminator's weight matrices by its largest singular value,
    /// estimated by one power iteration per update (Miyato et al. 2018); see the README.
    /// `--spectral-norm false` turns off a recipe's
    #[arg(long, value_name = "true|false", num_args = 0..=1, default_missing_value = "true", default_value_t = false, action = clap::ArgAction::Set)]
    pub spectral_norm: bool,
    /// Keep the run's best checkpoint by METRIC in DIR/best/ at each evaluation (energy,
    /// residual, ks, modes; lowest is best), as an ensemble keeps each member's. A single run
    /// only: --seeds ranks by --select
    #[arg(long, value_name = "METRIC")]
    pub keep_best: Option<Select>,
    /// Stop when the --keep-best metric has not improved for N evaluations in a row; the best
    /// checkpoint is kept, the reason printed
    #[arg(long, value_name = "N", value_parser = whole(1, limits::MAX_EPOCHS), allow_negative_numbers = true)]
    pub patience: Option<u64>,
    /// Iterations over which both networks' Adam step sizes halve, continuously (at iteration
    /// t, each is its value times 2^(-t/N)); unset keeps them constant
    #[arg(long, value_name = "N", value_parser = whole(1, limits::MAX_EPOCHS), allow_negative_numbers = true)]
    pub lr_half_life: Option<u64>,
    /// Iterations between two rows of DIR/history.csv (losses and batch accuracies)
    #[arg(long, default_value_t = TrainConfig::default().history_every, value_parser = whole(1, limits::MAX_EPOCHS), allow_negative_numbers = true)]
    pub history_every: u64,
    /// Hide the progress bar and the per-evaluation metric line on stderr
    #[arg(long, short)]
    pub quiet: bool,
    /// What the command line typed (filled by [`Cli::parse_with_sources`]).
    #[arg(skip)]
    pub typed: Typed,
}

/// The networks' shape: `train`'s and `summary`'s flags.
#[derive(Debug, Args)]
pub struct ArchitectureArgs {
    /// Dimensions of the generator's latent space
    #[arg(long, default_value_t = ModelConfig::default().latent_dim, value_parser = signed(1, limits::MAX_WIDTH), allow_negative_numbers = true)]
    pub latent_dim: i64,
    /// Widths of the generator's hidden layers, input side first, one number a layer (1 to 16
    /// layers, each 1 to 4096 wide)
    #[arg(long, value_name = "W[,W…]", default_value_t = Widths(ModelConfig::default().generator_hidden), allow_negative_numbers = true)]
    pub g_hidden: Widths,
    /// Widths of the discriminator's hidden layers, input side first, one number a layer
    #[arg(long, value_name = "W[,W…]", default_value_t = Widths(ModelConfig::default().discriminator_hidden), allow_negative_numbers = true)]
    pub d_hidden: Widths,
    /// The hidden layers' activation, in both networks: relu, leaky-relu[:SLOPE] (slope 0 to
    /// below 1, default 0.3 as Keras), tanh or elu. ReLU, LeakyReLU and ELU layers start
    /// He-uniform, tanh layers Glorot-uniform
    #[arg(long, value_name = "NAME", default_value_t = ModelConfig::default().activation, value_parser = hidden_activation)]
    pub activation: Activation,
    /// The generator's output: linear (the tutorial's) or tanh, for which the data are scaled
    /// onto [-1, 1] on each axis and every generated point is scaled back
    #[arg(long, value_name = "linear|tanh", default_value_t = ModelConfig::default().generator_output, value_parser = output_activation)]
    pub g_output: Activation,
    /// The distribution of each latent coordinate: normal (the tutorial's N(0, 1)) or uniform
    /// (U(-1, 1))
    #[arg(long, value_name = "normal|uniform", default_value_t = ModelConfig::default().latent)]
    pub latent: Latent,
    /// Points the discriminator judges at once (PacGAN): each M consecutive points of a batch
    /// concatenated into one input of 2M numbers, real or fake together; M must divide half
    /// of --batch
    #[arg(long, value_name = "M", default_value_t = ModelConfig::default().pack, value_parser = signed(1, limits::MAX_PACK), allow_negative_numbers = true)]
    pub pack: i64,
    /// A named set of choices that sets every default it covers (architecture, loss, Adam,
    /// iterations; see the README): tutorial (the tutorial's, bit for bit) or robust (learns
    /// every built-in target). Flags given beside it override it
    #[arg(long, value_name = "tutorial|robust", default_value_t = Recipe::Tutorial)]
    pub recipe: Recipe,
}

/// The function to learn: `train`'s and `explore`'s flags.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// What to learn: a curve y = f(x), a built-in (square, cube, sine, gaussian, quadratic,
    /// multimodal; see the README) or an expression in x with numbers, + - * / ^, parentheses,
    /// sin cos tan exp log sqrt abs tanh, pi and e, e.g. '0.5*sin(6*x) + x^2'; or a
    /// distribution in the plane: ring, grid (ring:N, grid:N, ring:N:SIGMA, ...), moons, spiral
    #[arg(long, value_name = "EXPR", default_value = crate::target::DEFAULT_EXPRESSION, allow_hyphen_values = true)]
    pub target: String,
    /// The interval [LO, HI) that a curve's x is drawn from uniformly, e.g. --domain -1,1
    #[arg(long, value_name = "LO,HI", default_value_t = Domain::DEFAULT, allow_hyphen_values = true)]
    pub domain: Domain,
    /// Learn the distribution of your own points: a CSV file with the header x,y and one point
    /// a row (16 to 100 000 rows), recorded in the checkpoint
    #[arg(long, value_name = "FILE.csv", conflicts_with_all = ["target", "domain"])]
    pub data: Option<std::path::PathBuf>,
}

impl TargetArgs {
    /// The target these flags name; `--data`'s file is read and checked here.
    /// Whether the target these flags name is a distribution in the plane (a name only: the
    /// target is checked later).
    pub fn is_plane(&self) -> bool {
        self.data.is_some() || crate::target::plane::Plane::parse(self.target.trim(), None).is_some()
    }

    pub fn target_config(&self) -> anyhow::Result<TargetConfig> {
        match &self.data {
            Some(path) => Ok(TargetConfig::data(crate::target::plane::read_data(path)?)),
            None => Ok(TargetConfig::given(&self.target, self.domain)),
        }
    }
}

impl TrainArgs {
    /// What this command line asks `train` to do.
    pub fn plan(&self) -> TrainPlan {
        TrainPlan::of(self)
    }
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Checkpoint folder written by `gan1d train`; an ensemble's folder means its best member
    #[arg(long, value_name = "DIR")]
    pub checkpoint: PathBuf,
    /// Use member S: with an ensemble's folder its best checkpoint instead of the best member's;
    /// a single run's folder holds only its own seed
    #[arg(long, value_name = "S", value_parser = whole(0, u64::MAX))]
    pub member: Option<u64>,
    /// Number of points
    #[arg(short = 'n', default_value_t = 100, value_parser = whole(1, limits::MAX_SAMPLES), allow_negative_numbers = true)]
    pub n: u64,
    /// Seed of the latent points: the same seed gives byte-identical output
    #[arg(long, default_value_t = 0, value_parser = whole(0, u64::MAX), allow_negative_numbers = true)]
    pub seed: u64,
    /// Write the CSV to this file instead of stdout
    #[arg(long, value_name = "FILE.csv")]
    pub out: Option<PathBuf>,
    /// Also draw the points (at most the first 10 000) over the target curve into this PNG
    #[arg(long, value_name = "FILE.png")]
    pub plot: Option<PathBuf>,
    /// Also write the latent point each sample came from, as columns z1,…,zk after x,y: the
    /// inputs on which to check an exported generator (`gan1d export`)
    #[arg(long)]
    pub latent: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Checkpoint folder written by `gan1d train`; an ensemble's folder means its best member
    #[arg(long, value_name = "DIR")]
    pub checkpoint: PathBuf,
    /// Use member S: with an ensemble's folder its best checkpoint instead of the best member's;
    /// a single run's folder holds only its own seed
    #[arg(long, value_name = "S", value_parser = whole(0, u64::MAX))]
    pub member: Option<u64>,
    /// The file format; by default the one --out's extension names (.safetensors, .pt, .onnx)
    #[arg(long, value_enum)]
    pub format: Option<crate::export::Format>,
    /// The file to write (`-`: stdout)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Checkpoint folder written by `gan1d train`; an ensemble's folder means its best member
    #[arg(long, value_name = "DIR")]
    pub checkpoint: PathBuf,
    /// Use member S: with an ensemble's folder its best checkpoint instead of the best member's;
    /// a single run's folder holds only its own seed
    #[arg(long, value_name = "S", value_parser = whole(0, u64::MAX))]
    pub member: Option<u64>,
    /// Generated points to measure (the same points `sample` gives for this -n and --seed)
    #[arg(short = 'n', default_value_t = 10_000, value_parser = whole(2, limits::MAX_EVALUATE_POINTS), allow_negative_numbers = true)]
    pub n: u64,
    /// Seed of the latent points and of the real reference points
    #[arg(long, default_value_t = 0, value_parser = whole(0, u64::MAX), allow_negative_numbers = true)]
    pub seed: u64,
    /// Print one JSON object instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ExploreCommand {
    /// Line plot of the target at 11 evenly spaced x across the domain, the tutorial's -0.5,
    /// -0.4 … 0.5 by default (function.png)
    Function(ExploreArgs),
    /// Scatter plot of 100 random real samples (real.png)
    Real(ExploreArgs),
    /// Train the discriminator alone on real points and uniform fakes in [-1, 1]², printing
    /// `i acc_real acc_fake` per batch (discriminator.png)
    Discriminator(ExploreArgs),
    /// Scatter plot of 100 samples of an untrained generator (untrained.png)
    Untrained(ExploreArgs),
}

#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// Folder for the PNG file
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Seed of the random draws
    #[arg(long, default_value_t = TrainConfig::default().seed, value_parser = whole(0, u64::MAX), allow_negative_numbers = true)]
    pub seed: u64,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// Summarise the models of this checkpoint instead of those the architecture flags describe
    #[arg(long, value_name = "DIR", conflicts_with_all = ["latent_dim", "g_hidden", "d_hidden", "activation", "g_output", "latent", "pack", "recipe"])]
    pub checkpoint: Option<PathBuf>,
    /// With an ensemble's folder: use member S instead of the best member
    #[arg(long, value_name = "S", value_parser = whole(0, u64::MAX), requires = "checkpoint")]
    pub member: Option<u64>,
    #[command(flatten)]
    pub architecture: ArchitectureArgs,
    /// Also draw a diagram of each model into DIR (discriminator_plot.png, generator_plot.png,
    /// gan_plot.png)
    #[arg(long, value_name = "DIR")]
    pub diagram: Option<PathBuf>,
    /// The architecture flags typed (filled by [`Cli::parse_with_sources`]).
    #[arg(skip)]
    pub typed: ModelChoices,
}

#[derive(Debug, Args)]
pub struct LeaderboardArgs {
    /// Run folders written by `gan1d train`: an ensemble's (`--seeds`) or a single run's
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Print CSV (with a `folder` column) instead of a table
    #[arg(long)]
    pub csv: bool,
}

/// The seeds of an ensemble, written `1..64` (both ends included), `3,7,11`, or a mix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedList(pub Vec<u64>);

impl std::str::FromStr for SeedList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let max = crate::config::limits::MAX_MEMBERS;
        let number = |t: &str| {
            t.trim()
                .parse::<u64>()
                .map_err(|_| format!("must be seeds like 1..64 or 3,7,11; `{}` is not a seed", t.trim()))
        };
        let mut seeds = Vec::new();
        for part in s.split(',') {
            match part.split_once("..") {
                Some((low, high)) => {
                    let (low, high) = (number(low)?, number(high)?);
                    if low > high {
                        return Err(format!(
                            "the range {low}..{high} is empty; write the smaller seed first"
                        ));
                    }
                    if high - low >= max as u64 {
                        return Err(format!(
                            "the range {low}..{high} has more than {max} seeds, the most one ensemble trains"
                        ));
                    }
                    seeds.extend(low..=high);
                }
                None => seeds.push(number(part)?),
            }
            if seeds.len() > max {
                return Err(format!("names more than {max} seeds, the most one ensemble trains"));
            }
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(repeated) = seeds.iter().find(|s| !seen.insert(**s)) {
            return Err(format!("names seed {repeated} twice"));
        }
        Ok(SeedList(seeds))
    }
}

impl std::fmt::Display for SeedList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: Vec<String> = self.0.iter().map(u64::to_string).collect();
        f.write_str(&text.join(","))
    }
}

/// The widths of a network's hidden layers, written `15` or `32,16`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Widths(pub Vec<i64>);

impl std::str::FromStr for Widths {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let width = whole(1, limits::MAX_WIDTH as u64);
        let widths = s.split(',').map(|w| width(w).map(|w| w as i64)).collect::<Result<Vec<_>, _>>();
        match widths {
            Ok(widths) if widths.len() <= limits::MAX_DEPTH => Ok(Widths(widths)),
            Ok(widths) => Err(format!("must name 1 to {} layers, got {}", limits::MAX_DEPTH, widths.len())),
            Err(reason) => Err(format!("must be widths separated by commas, each of which {reason}")),
        }
    }
}

impl std::fmt::Display for Widths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: Vec<String> = self.0.iter().map(i64::to_string).collect();
        f.write_str(&text.join(","))
    }
}

/// `--activation`: any hidden activation, not `linear`.
fn hidden_activation(s: &str) -> Result<Activation, String> {
    match s.parse()? {
        Activation::Linear => Err("must be relu, leaky-relu[:SLOPE], tanh or elu, got `linear`".into()),
        a => Ok(a),
    }
}

/// `--g-output`: `linear` or `tanh`.
fn output_activation(s: &str) -> Result<Activation, String> {
    match s {
        "linear" => Ok(Activation::Linear),
        "tanh" => Ok(Activation::Tanh),
        _ => Err(format!("must be linear or tanh, got `{s}`")),
    }
}

/// A parser of whole numbers from `min` to `max`, whose refusals read as the end of a sentence
/// that starts with the flag: `must be at least 1, got -1`.
fn whole(min: u64, max: u64) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync + 'static {
    move |s: &str| match s.trim().parse::<i128>() {
        Ok(n) if n < min as i128 => Err(format!("must be at least {min}, got {s}")),
        Ok(n) if n > max as i128 => Err(format!("must be at most {max}, got {s}")),
        Ok(n) => Ok(n as u64),
        Err(_) => Err(format!("must be a whole number from {min} to {max}, got `{s}`")),
    }
}

/// [`whole`] for settings the configuration keeps as `i64`.
fn signed(min: i64, max: i64) -> impl Fn(&str) -> Result<i64, String> + Clone + Send + Sync + 'static {
    let parse = whole(min as u64, max as u64);
    move |s: &str| parse(s).map(|n| n as i64)
}

/// `--beta1`, `--beta2`: a number in [0, 1).
fn unit_interval(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if (0.0..1.0).contains(&x) => Ok(x),
        Ok(_) => Err(format!("must be from 0 to below 1, got {s}")),
        Err(_) => Err(format!("must be a number, got `{s}`")),
    }
}

/// A parser of positive numbers of at most `max`.
fn positive(max: f64) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync + 'static {
    move |s: &str| match s.trim().parse::<f64>() {
        Ok(x) if x > 0.0 && x <= max => Ok(x),
        Ok(_) => Err(format!("must be a positive number of at most {max:e}, got {s}")),
        Err(_) => Err(format!("must be a number, got `{s}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn train_flags_convert_into_configs() {
        let cli =
            Cli::parse_with_sources(["gan1d", "train", "--epochs", "7", "--batch", "6", "--latent-dim", "3"])
                .unwrap();
        let Command::Train(args) = cli.command else { panic!("not train") };
        let (model, train) = args.plan().configs().unwrap();
        assert_eq!((train.epochs, train.batch, model.latent_dim), (7, 6, 3));
        assert_eq!(train.eval_every, TrainConfig::default().eval_every);
    }

    #[test]
    fn lr_is_the_learning_rate() {
        let cli = Cli::parse_with_sources(["gan1d", "train", "--lr", "0.002"]).unwrap();
        let Command::Train(train) = cli.command else { panic!("not train") };
        assert_eq!(train.learning_rate, 0.002);
        let typed = train.typed.choices.typed_flags();
        assert!(typed.iter().any(|f| f.contains("learning-rate")), "{typed:?}");
    }

    #[test]
    fn refused_values_read_as_one_line_naming_the_flag() {
        let error = |args: &[&str]| one_line(&Cli::try_parse_from(args).unwrap_err());
        assert_eq!(error(&["gan1d", "train", "--epochs", "-1"]), "--epochs must be at least 1, got -1");
        assert_eq!(
            error(&["gan1d", "train", "--learning-rate", "-0.5"]),
            "--learning-rate must be a positive number of at most 1e30, got -0.5"
        );
        assert_eq!(
            error(&["gan1d", "sample", "--checkpoint", "m", "-n", "-1"]),
            "-n must be at least 1, got -1"
        );
        assert!(error(&["gan1d", "train", "--threads", "100000"]).starts_with("--threads must be at most"));
        assert!(error(&["gan1d", "train", "--batch", "x"]).contains("whole number"));
        let unknown = error(&["gan1d", "train", "--bogus"]);
        assert!(unknown.contains("--bogus") && !unknown.contains('\n'), "{unknown}");
    }

    #[test]
    fn hidden_widths_parse_as_one_number_a_layer() {
        let cli =
            Cli::parse_with_sources(["gan1d", "train", "--g-hidden", "32,16", "--d-hidden", "8"]).unwrap();
        let Command::Train(args) = cli.command else { panic!("not train") };
        let (model, _) = args.plan().configs().unwrap();
        assert_eq!((model.generator_hidden, model.discriminator_hidden), (vec![32, 16], vec![8]));
        let defaults = Cli::parse_with_sources(["gan1d", "train"]).unwrap();
        let Command::Train(args) = defaults.command else { panic!("not train") };
        assert_eq!(args.plan().configs().unwrap().0, ModelConfig::default());
        let error = |value: &str| {
            one_line(&Cli::try_parse_from(["gan1d", "train", "--g-hidden", value]).unwrap_err())
        };
        assert!(
            error("16,0").starts_with("--g-hidden must be widths separated by commas"),
            "{}",
            error("16,0")
        );
        assert!(error("-5").contains("at least 1, got -5"), "{}", error("-5"));
        assert!(error(&["4"; 17].join(",")).contains("1 to 16 layers"));
    }

    #[test]
    fn experiment_flags_convert_into_configs() {
        let cli = Cli::parse_with_sources([
            "gan1d",
            "train",
            "--target",
            "-x^3",
            "--domain",
            "-1,1",
            "--activation",
            "leaky-relu",
            "--g-output",
            "tanh",
        ])
        .unwrap();
        let Command::Train(args) = cli.command else { panic!("not train") };
        let (model, train) = args.plan().configs().unwrap();
        assert_eq!(
            (train.target.expression.as_str(), train.target.domain.to_string()),
            ("-x^3", "-1,1".into())
        );
        assert_eq!(
            (model.activation, model.generator_output),
            (Activation::LeakyRelu(0.3), Activation::Tanh)
        );
        let defaults = Cli::parse_with_sources(["gan1d", "train"]).unwrap();
        let Command::Train(args) = defaults.command else { panic!("not train") };
        assert_eq!(args.plan().configs().unwrap().1, TrainConfig::default());
        let error = |flags: &[&str]| {
            one_line(&Cli::try_parse_from([&["gan1d", "train"], flags].concat()).unwrap_err())
        };
        assert_eq!(
            error(&["--activation", "linear"]),
            "--activation must be relu, leaky-relu[:SLOPE], tanh or elu, got `linear`"
        );
        assert!(
            error(&["--activation", "leaky-relu:2"]).contains("slope must be a number from 0 to below 1")
        );
        assert_eq!(error(&["--g-output", "relu"]), "--g-output must be linear or tanh, got `relu`");
        assert!(error(&["--domain", "1,-1"]).starts_with("--domain must be LO,HI with LO < HI"));
        assert!(error(&["--domain", "-1"]).starts_with("--domain must be LO,HI"));
    }

    #[test]
    fn engine_is_chosen_by_the_device_unless_named() {
        let parse = |extra: &[&str]| {
            let cli = Cli::parse_with_sources([&["gan1d", "train"], extra].concat()).unwrap();
            let Command::Train(args) = cli.command else { panic!("not train") };
            args.engine
        };
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&["--engine", "autograd"]), Some(EngineKind::Autograd));
        assert_eq!(parse(&["--engine", "native"]), Some(EngineKind::Native));
        assert!(Cli::try_parse_from(["gan1d", "train", "--engine", "keras"]).is_err());
    }
}
