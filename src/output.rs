//! What gan1d prints, and how a failing stdout or stderr is handled, decided in one place.
//!
//! `println!` panics when stdout is closed (`gan1d … | head -1`) or full (`> /dev/full`). Here:
//! - a closed stdout (a reader that stopped early) is no error: [`Stdout::line`] reports it, and
//!   the command ends quietly, or, for `train`, goes on without printing;
//! - any other failure to write stdout is an error naming it, which exits 2 like bad input;
//! - stderr carries notes and the final error; failing to write those is ignored, since there
//!   is nowhere left to report it.

use std::io::{self, Write};

use anyhow::{Context, Result};

/// Whether a line reached stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Printed {
    Yes,
    /// stdout is closed: its reader has gone. Print nothing more.
    Closed,
}

/// Standard output, remembering when its reader has gone.
#[derive(Debug, Default)]
pub struct Stdout {
    closed: bool,
}

impl Stdout {
    /// Writes `text` and a newline, flushed. Once stdout is found closed, writes nothing more.
    pub fn line(&mut self, text: &str) -> Result<Printed> {
        self.text(&format!("{text}\n"))
    }

    /// Writes `text` as it is, flushed.
    pub fn text(&mut self, text: &str) -> Result<Printed> {
        if self.closed {
            return Ok(Printed::Closed);
        }
        let mut stdout = io::stdout().lock();
        match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
            Ok(()) => Ok(Printed::Yes),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(Printed::Closed)
            }
            Err(e) => Err(e).context("cannot write to standard output"),
        }
    }
}

/// Whether `error` is a write into a closed pipe.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}

/// Writes `text` and a newline to stderr, ignoring failure.
pub fn note(text: &str) {
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
}

/// `text` as one line of a terminal: every control character (a newline or a NUL from a file
/// name or a file's contents, an escape sequence) is written as its escape (`\n`, `\0`,
/// `\u{1b}`), so that an error or a note is one line whatever it quotes.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(one_line("a\nb\0c\u{1b}[31m x² ±"), "a\\nb\\0c\\u{1b}[31m x² ±");
    }
}
