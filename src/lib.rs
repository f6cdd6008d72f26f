//! gan1d: the tutorial's one-dimensional GAN on libtorch, with one function per subcommand.
//!
//! Data flows one way: `cli` → `plan` (the command line as typed values) → `config` → `train`
//! (over `data`, `engine`, which runs `engine::iteration` on `host` or `model`) → `evaluate` /
//! `metrics` / `view` (through `host`) → `rows` → `ranking` / `checkpoint` / `runlog`, and
//! `plot`. `saved` joins the loop and storage; `commands` holds one function per subcommand,
//! connecting those modules. A run has K ≥ 1 members everywhere below the commands: a single run
//! is K = 1. Modules are private unless the binary or a test needs them, so that the compiler
//! reports what nothing uses.

mod activation;
mod adam;
pub mod checkpoint;
pub mod cli;
mod commands;
pub mod config;
pub mod data;
pub mod device;
mod diagram;
pub mod engine;
pub mod evaluate;
mod export;
mod failure;
pub mod fsio;
pub mod host;
pub mod live;
mod loss;
mod metrics;
mod model;
pub mod output;
mod penalty;
mod plan;

mod plot;
mod pool;
mod progress;
mod ranking;
mod report;
pub mod rng;
mod rows;
mod runlog;
mod sample;
pub mod saved;
mod serve;
mod spectral;
mod state;
mod summary;
pub mod target;
pub mod train;
mod view;

use anyhow::Result;

pub use commands::Ending;

use cli::{Cli, Command};

/// The exit code for `error`: 128 + the signal's number when training stopped on a signal, 3
/// when it diverged, 2 for anything else (bad input, an unreadable file, a failed write).
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if let Some(ending) = error.downcast_ref::<Ending>() {
        ending.exit_code
    } else if error.downcast_ref::<train::Diverged>().is_some() {
        3
    } else {
        2
    }
}

/// Sets up the process before any command: a write past a file-size limit (`ulimit -f`) then
/// fails with an error that gan1d reports like a full disk, instead of killing the process by
/// SIGXFSZ with no message; and libtorch's errors are reported as errors (see `failure`).
pub fn prepare_process() {
    // SAFETY: ignoring a signal installs no handler and touches no Rust state.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    failure::quiet_libtorch_panics();
}

/// Runs one parsed command line. An error inside libtorch that no command caught is an error
/// too, of one line.
pub fn run(cli: Cli) -> Result<()> {
    failure::catch_libtorch(|| run_command(cli))
}

fn run_command(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train(args) => commands::train(&args.plan()),
        Command::Sample(args) => commands::sample(&args),
        Command::Evaluate(args) => commands::evaluate(&args),
        Command::Export(args) => commands::export(&args),
        Command::Explore(command) => commands::explore(&command),
        Command::Summary(args) => commands::summary(&args),
        Command::Leaderboard(args) => commands::leaderboard(&args),
        Command::Serve(args) => serve::serve(&args),
    }
}
