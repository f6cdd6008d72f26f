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

/// Moves `bar` to `position`, the iteration a resumed run starts from, without counting the
/// jump as this session's progress: the rate and ETA then measure only what this session does.
pub fn resume_at(bar: &ProgressBar, position: u64) {
    bar.set_position(position);
    bar.reset_eta();
    bar.reset_elapsed();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_position_is_not_counted_as_progress() {
        let bar = training_bar(1_000_000, Verbosity::Quiet);
        resume_at(&bar, 500_000);
        std::thread::sleep(std::time::Duration::from_millis(100));
        bar.set_position(500_010);
        // 10 iterations in about 0.1 s; counting the jump would give millions per second.
        assert!(bar.per_sec() < 1000.0, "{} it/s", bar.per_sec());
        assert!(bar.elapsed() < std::time::Duration::from_secs(5));
    }
}
