//! gan1d: the tutorial's one-dimensional GAN on libtorch, with one function per subcommand.
//!
//! Data flows one way: `cli` → `config` → `train` (over `data`, `model`, `adam`) →
//! `evaluate` / `metrics` → `checkpoint` / `runlog` / `plot`. `commands` holds one function per
//! subcommand, connecting those modules.

pub mod adam;
pub mod checkpoint;
pub mod cli;
mod commands;
pub mod config;
pub mod data;
pub mod device;
pub mod diagram;
pub mod evaluate;
pub mod metrics;
pub mod model;
pub mod plot;
pub mod progress;
pub mod runlog;
pub mod sample;
pub mod summary;
pub mod train;

use anyhow::Result;

use cli::{Cli, Command};

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train(args) => commands::train(&args),
        Command::Sample(args) => commands::sample(&args),
        Command::Evaluate(args) => commands::evaluate(&args),
        Command::Explore(command) => commands::explore(&command),
        Command::Summary(args) => commands::summary(&args),
    }
}
