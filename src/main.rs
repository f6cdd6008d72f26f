//! The `gan1d` binary: parses the command line, runs it, and reports an error once.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = gan1d::cli::Cli::parse_with_sources(std::env::args_os());
    match gan1d::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // `train` has already said what happened and where its checkpoint is.
        Err(error) if error.downcast_ref::<gan1d::Reported>().is_some() => {
            ExitCode::from(gan1d::exit_code(&error))
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(gan1d::exit_code(&error))
        }
    }
}
