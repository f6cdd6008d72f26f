//! The command line: clap definitions, help text, and conversion into the configuration types.
//! Defaults come from the configuration types themselves, so each is written once.

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::{AdamConfig, EngineKind, ModelConfig, TrainConfig};
use crate::device::DeviceChoice;

#[derive(Debug, Parser)]
#[command(
    name = "gan1d",
    version,
    about = "Train, sample and inspect a GAN that learns y = x² on [-0.5, 0.5)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses `args` (the program name first), exiting with clap's message on bad flags, and
    /// records which `train` flags were typed rather than defaulted.
    pub fn parse_with_sources<I, T>(args: I) -> Cli
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Cli::command().get_matches_from(args);
        let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        if let (Command::Train(args), Some(("train", sub))) = (&mut cli.command, matches.subcommand()) {
            args.given = given_flags(sub);
        }
        cli
    }
}

/// The ids of the arguments set on the command line.
fn given_flags(matches: &ArgMatches) -> Vec<String> {
    matches
        .ids()
        .filter(|id| matches.value_source(id.as_str()) == Some(ValueSource::CommandLine))
        .map(|id| id.as_str().to_string())
        .collect()
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train the tutorial's GAN and write a checkpoint with plots into --out, or continue the
    /// run in --resume DIR
    Train(TrainArgs),
    /// Draw points from a trained generator as CSV (header x,y)
    Sample(SampleArgs),
    /// Measure a trained generator against the true function and its domain
    Evaluate(EvaluateArgs),
    /// Reproduce one of the tutorial's intermediate steps (plots into --out)
    #[command(subcommand)]
    Explore(ExploreCommand),
    /// Print Keras-style summaries of the discriminator, the generator and the composite model
    Summary(SummaryArgs),
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Training iterations (each: two discriminator updates, one generator update). With
    /// --resume: the run's new total; left out, the run's own
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    pub epochs: u64,
    /// Points per generator update; each discriminator update uses half of it
    #[arg(long, default_value_t = TrainConfig::default().batch, allow_negative_numbers = true)]
    pub batch: i64,
    /// Iterations between evaluations (accuracy line, plot, checkpoint)
    #[arg(long, default_value_t = TrainConfig::default().eval_every)]
    pub eval_every: u64,
    /// Dimensions of the generator's latent space
    #[arg(long, default_value_t = ModelConfig::default().latent_dim, allow_negative_numbers = true)]
    pub latent_dim: i64,
    /// Seed of the random stream: on the CPU the same seed repeats a run exactly
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    pub seed: u64,
    /// auto (CUDA if present, else CPU), cpu, cuda or cuda:N
    #[arg(long, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// fused (flat parameters, hand-written gradients: fast) or autograd (nn::Linear layers and
    /// autograd: the readable reference). Same algorithm, draws and checkpoints; a resumed run
    /// may switch
    #[arg(long, default_value_t = EngineKind::default())]
    pub engine: EngineKind,
    /// CPU threads for libtorch; for these tiny tensors one is fastest
    #[arg(long, default_value_t = 1, value_parser = at_least_one)]
    pub threads: u64,
    /// Folder for the checkpoint and plots (created if missing; an existing checkpoint is replaced)
    #[arg(long, value_name = "DIR", default_value = "models")]
    pub out: PathBuf,
    /// Continue the run whose checkpoint is in DIR, exactly where it stopped, writing into DIR;
    /// flags that would change the run (--batch, --seed, …) must match it or be left out
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    /// Also write a checkpoint every N iterations (it is always written at each evaluation,
    /// at the end, and on SIGINT or SIGTERM)
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub checkpoint_every: Option<u64>,
    /// Adam's step size, for both networks
    #[arg(long, default_value_t = TrainConfig::default().adam.learning_rate)]
    pub learning_rate: f64,
    /// Iterations between two rows of DIR/history.csv (losses and batch accuracies)
    #[arg(long, default_value_t = TrainConfig::default().history_every, value_parser = at_least_one)]
    pub history_every: u64,
    /// Hide the progress bar and the per-evaluation metric line on stderr
    #[arg(long, short)]
    pub quiet: bool,
    /// The ids of the flags given on the command line (filled by [`Cli::parse_with_sources`]).
    #[arg(skip)]
    pub given: Vec<String>,
}

impl TrainArgs {
    /// The configuration these flags describe; the rest keeps its defaults.
    pub fn configs(&self) -> (ModelConfig, TrainConfig) {
        let model = ModelConfig { latent_dim: self.latent_dim, ..ModelConfig::default() };
        let train = TrainConfig {
            seed: self.seed,
            epochs: self.epochs,
            batch: self.batch,
            eval_every: self.eval_every,
            history_every: self.history_every,
            adam: AdamConfig { learning_rate: self.learning_rate, ..AdamConfig::default() },
            ..TrainConfig::default()
        };
        (model, train)
    }

    /// Whether the flag with clap id `id` (e.g. `batch`) was given on the command line.
    pub fn was_given(&self, id: &str) -> bool {
        self.given.iter().any(|g| g == id)
    }
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Checkpoint folder written by `gan1d train`
    #[arg(long, value_name = "DIR")]
    pub checkpoint: PathBuf,
    /// Number of points
    #[arg(short = 'n', default_value_t = 100, value_parser = at_least_one)]
    pub n: u64,
    /// Seed of the latent points: the same seed gives byte-identical output
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the CSV to this file instead of stdout
    #[arg(long, value_name = "FILE.csv")]
    pub out: Option<PathBuf>,
    /// Also draw the points (at most the first 10 000) over the target curve into this PNG
    #[arg(long, value_name = "FILE.png")]
    pub plot: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Checkpoint folder written by `gan1d train`
    #[arg(long, value_name = "DIR")]
    pub checkpoint: PathBuf,
    /// Generated points to measure (the same points `sample` gives for this -n and --seed)
    #[arg(short = 'n', default_value_t = 10_000, value_parser = at_least_two)]
    pub n: u64,
    /// Seed of the latent points and of the real reference points
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ExploreCommand {
    /// Line plot of the target x² at -0.5, -0.4 … 0.5 (function.png)
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
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// Summarise the models of this checkpoint instead of the tutorial's
    #[arg(long, value_name = "DIR")]
    pub checkpoint: Option<PathBuf>,
    /// Also draw a diagram of each model into DIR (discriminator_plot.png, generator_plot.png,
    /// gan_plot.png)
    #[arg(long, value_name = "DIR")]
    pub diagram: Option<PathBuf>,
}

/// Parses a count that must be positive, with a message that says so.
fn at_least_one(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("expected a whole number of at least 1, got `{s}`")),
    }
}

/// Parses a count of at least two (statistics need a pair).
fn at_least_two(s: &str) -> Result<u64, String> {
    match at_least_one(s)? {
        1 => Err("must be at least 2".to_string()),
        n => Ok(n),
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
        let cli = Cli::parse_from(["gan1d", "train", "--epochs", "7", "--batch", "6", "--latent-dim", "3"]);
        let Command::Train(args) = cli.command else { panic!("not train") };
        let (model, train) = args.configs();
        assert_eq!((train.epochs, train.batch, model.latent_dim), (7, 6, 3));
        assert_eq!(train.eval_every, TrainConfig::default().eval_every);
    }

    #[test]
    fn typed_flags_are_told_from_defaults() {
        let cli = Cli::parse_with_sources(["gan1d", "train", "--batch", "128", "--resume", "m"]);
        let Command::Train(args) = cli.command else { panic!("not train") };
        assert!(args.was_given("batch") && args.was_given("resume"));
        assert!(!args.was_given("epochs") && !args.was_given("seed"));
    }

    #[test]
    fn engine_defaults_to_fused_and_takes_autograd() {
        let parse = |extra: &[&str]| {
            let cli = Cli::parse_from([&["gan1d", "train"], extra].concat());
            let Command::Train(args) = cli.command else { panic!("not train") };
            args.engine
        };
        assert_eq!(parse(&[]), EngineKind::Fused);
        assert_eq!(parse(&["--engine", "autograd"]), EngineKind::Autograd);
        assert!(Cli::try_parse_from(["gan1d", "train", "--engine", "keras"]).is_err());
    }
}
