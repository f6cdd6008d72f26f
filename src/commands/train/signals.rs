//! SIGINT and SIGTERM for `gan1d train`: caught into flags that the training loop reads after
//! each iteration.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};

/// SIGINT and SIGTERM, caught so that training stops after a whole iteration and writes a
/// checkpoint. A second signal of the same kind ends the process at once: the checkpoint being
/// written stays atomic.
pub(super) struct StopSignals {
    flags: Vec<(Signal, Arc<AtomicBool>)>,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Signal {
    pub(super) name: &'static str,
    pub(super) exit_code: u8,
}

impl StopSignals {
    pub(super) fn install() -> Result<Self> {
        let mut flags = Vec::new();
        for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            let flag = Arc::new(AtomicBool::new(false));
            let exit_code = 128 + number as u8;
            let register = || -> std::io::Result<()> {
                signal_hook::flag::register_conditional_shutdown(
                    number,
                    exit_code as i32,
                    Arc::clone(&flag),
                )?;
                signal_hook::flag::register(number, Arc::clone(&flag))?;
                Ok(())
            };
            register().with_context(|| format!("cannot install a handler for {name}"))?;
            flags.push((Signal { name, exit_code }, flag));
        }
        Ok(StopSignals { flags })
    }

    pub(super) fn received(&self) -> Option<Signal> {
        self.flags.iter().find(|(_, flag)| flag.load(Ordering::Relaxed)).map(|(signal, _)| *signal)
    }
}
