//! The training progress bar: its style and where it draws. Presentation only.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// Whether progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// A bar on stderr, which indicatif leaves undrawn when stderr is not a terminal.
    Normal,
    /// Nothing (`--quiet`).
    Quiet,
}

/// A bar counting `total` iterations, with rate, ETA and a message for the live losses.
pub fn training_bar(total: u64, verbosity: Verbosity) -> ProgressBar {
    let target = match verbosity {
        Verbosity::Normal => ProgressDrawTarget::stderr(),
        Verbosity::Quiet => ProgressDrawTarget::hidden(),
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    bar.set_style(
        ProgressStyle::with_template("{bar:30.cyan/blue} {pos:>6}/{len} it  {rate:>9}  eta {eta:>4}  {msg}")
            .expect("the template is valid")
            .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0} it/s", state.per_sec());
            })
            .progress_chars("█▉▊▋▌▍▎▏ "),
    );
    bar
}
