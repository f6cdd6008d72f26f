//! The `gan1d` binary: parses the command line, runs it, and reports an error once.

use std::process::ExitCode;

fn main() -> ExitCode {
    gan1d::prepare_process();
    let cli = match gan1d::cli::Cli::parse_with_sources(std::env::args_os()) {
        Ok(cli) => cli,
        Err(refused) => return ExitCode::from(gan1d::cli::report(&refused)),
    };
    match gan1d::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            match error.downcast_ref::<gan1d::Ending>() {
                // Already whole: the error, if any, then where the run's checkpoint is.
                Some(ending) => gan1d::output::note(&ending.to_string()),
                None => {
                    gan1d::output::note(&format!("error: {}", gan1d::output::one_line(&format!("{error:#}"))))
                }
            }
            ExitCode::from(gan1d::exit_code(&error))
        }
    }
}
