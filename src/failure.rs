//! libtorch's failures as errors. tch turns an error thrown inside libtorch (an allocation that
//! failed, above all) into a panic whose message holds the C++ exception and its stack frames.
//! [`quiet_libtorch_panics`] keeps such a panic from printing, and [`catch_libtorch`] turns it
//! back into an error of one line: [`OutOfMemory`] for an allocation, naming its size.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use anyhow::{Result, anyhow};

/// An allocation libtorch, or the native engine, could not make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory {
    pub bytes: u64,
}

impl std::fmt::Display for OutOfMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "out of memory: could not allocate {} ({} bytes), more than this machine lets gan1d have",
            human_bytes(self.bytes),
            self.bytes
        )
    }
}

impl std::error::Error for OutOfMemory {}

/// `bytes` as `8.0 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} bytes") } else { format!("{value:.1} {}", units[unit]) }
}

/// Installs a panic hook that stays silent for libtorch's errors (they are reported by
/// [`catch_libtorch`] or by `main`) and prints every other panic as before.
pub fn quiet_libtorch_panics() {
    let earlier = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if !is_libtorch(&message(info.payload())) {
            earlier(info);
        }
    }));
}

/// Runs `f`, turning a panic raised by a libtorch error into an error.
pub fn catch_libtorch<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let text = message(payload.as_ref());
            if is_libtorch(&text) { Err(error_of(&text)) } else { panic::resume_unwind(payload) }
        }
    }
}

/// The error a libtorch failure's panic message `text` describes, in one line.
pub fn error_of(text: &str) -> anyhow::Error {
    const ALLOCATE: &str = "you tried to allocate ";
    if let Some(at) = text.find(ALLOCATE) {
        let digits: String = text[at + ALLOCATE.len()..].chars().take_while(char::is_ascii_digit).collect();
        if let Ok(bytes) = digits.parse::<u64>() {
            return OutOfMemory { bytes }.into();
        }
    }
    // The exception's own text, without the stack frames and tch's wrapping.
    let inner = text.split_once("Torch(\"").map_or(text, |(_, rest)| rest);
    let first = inner.split("\\n").next().unwrap_or(inner).trim_end_matches("\")");
    anyhow!("libtorch failed: {}", first.lines().next().unwrap_or_default())
}

fn is_libtorch(text: &str) -> bool {
    text.contains("Torch(\"")
}

fn message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allocation_failure_reads_as_one_line_with_its_size() {
        let text = "called `Result::unwrap()` on an `Err` value: Torch(\"[enforce fail at alloc_cpu.cpp:127] err == 0. \
                    DefaultCPUAllocator: can't allocate memory: you tried to allocate 8589934592 bytes. Error code 12 \
                    (Cannot allocate memory)\\nframe #0: c10::ThrowEnforceNotMet(char const*, int)\")";
        let err = error_of(text);
        assert_eq!(err.downcast_ref::<OutOfMemory>(), Some(&OutOfMemory { bytes: 8 << 30 }));
        assert!(err.to_string().contains("8.0 GiB (8589934592 bytes)"), "{err}");
        let other =
            error_of("called `Result::unwrap()` on an `Err` value: Torch(\"shape mismatch\\nframe #0: x\")");
        assert_eq!(other.to_string(), "libtorch failed: shape mismatch");
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
    }

    #[test]
    fn a_libtorch_panic_is_caught_and_any_other_goes_on() {
        let caught = catch_libtorch::<()>(|| panic!("Torch(\"you tried to allocate 1024 bytes\")"));
        assert!(caught.unwrap_err().is::<OutOfMemory>());
        let other = panic::catch_unwind(|| catch_libtorch::<()>(|| panic!("a bug")));
        assert!(other.is_err());
    }
}
