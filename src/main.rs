//! The `gan1d` binary: parses the command line, runs it, and reports an error once.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = gan1d::cli::Cli::parse();
    match gan1d::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
