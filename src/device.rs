//! Which device a run uses: the `--device` choice and its resolution against what libtorch
//! finds on this machine. Never falls back silently: asking for CUDA where there is none is
//! an error.
//!
//! libtorch's CUDA half (`libtorch_cuda.so` and the CUDA libraries it pulls in, several hundred
//! megabytes) is loaded only when a run asks for CUDA, or when `auto` finds a CUDA driver on
//! the machine: a CPU run never maps it, which is most of a CPU run's start-up time and memory.
//! Loaded later, it registers CUDA with libtorch as it does when linked in.

use std::fmt;
use std::str::FromStr;

use anyhow::{Result, bail};
use tch::{Cuda, Device};

/// The `--device` flag: `auto`, `cpu`, `cuda` or `cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// CUDA device 0 when libtorch finds one, else the CPU.
    #[default]
    Auto,
    Cpu,
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| format!("must be auto, cpu, cuda or cuda:N, got `{s}`")),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Auto => write!(f, "auto"),
            DeviceChoice::Cpu => write!(f, "cpu"),
            DeviceChoice::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

/// The folder of the libtorch gan1d was built against.
const LIBTORCH_LIB: &str = env!("GAN1D_LIBTORCH_LIB");

/// Whether the machine has a CUDA driver, which `auto` needs before it loads libtorch's CUDA.
fn cuda_driver_present() -> bool {
    // SAFETY: dlopen with a constant, NUL-terminated name; the handle is kept (never closed).
    !unsafe { libc::dlopen(c"libcuda.so.1".as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL) }.is_null()
}

/// Loads libtorch's CUDA library into the process, once; the error says why it could not be.
pub fn load_cuda() -> Result<(), String> {
    static LOADED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    LOADED
        .get_or_init(|| {
            let path = std::path::Path::new(LIBTORCH_LIB).join("libtorch_cuda.so");
            if !path.exists() {
                return Err(format!("this libtorch has no CUDA support ({} is missing)", path.display()));
            }
            let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
                .map_err(|_| format!("{} holds a NUL byte", path.display()))?;
            // SAFETY: dlopen with a NUL-terminated path; RTLD_GLOBAL lets the CUDA library's
            // symbols serve libtorch's, as when it is linked in. The handle is never closed.
            let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
            if handle.is_null() {
                // SAFETY: dlerror returns NULL or a NUL-terminated message of the last failure.
                let message = unsafe { libc::dlerror() };
                let why = if message.is_null() {
                    "unknown error".to_string()
                } else {
                    unsafe { std::ffi::CStr::from_ptr(message) }.to_string_lossy().into_owned()
                };
                return Err(format!("cannot load {}: {why}", path.display()));
            }
            Ok(())
        })
        .clone()
}

/// Whether libtorch's CUDA library is mapped into this process.
pub fn cuda_loaded() -> bool {
    std::fs::read_to_string("/proc/self/maps").is_ok_and(|maps| maps.contains("libtorch_cuda.so"))
}

impl DeviceChoice {
    /// The device to use, or an error saying why the requested one is not there.
    pub fn resolve(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Auto => {
                let cuda = cuda_driver_present() && load_cuda().is_ok() && Cuda::is_available();
                Ok(if cuda { Device::Cuda(0) } else { Device::Cpu })
            }
            DeviceChoice::Cuda(i) => {
                if let Err(why) = load_cuda() {
                    bail!("--device {self}: {why}; use --device cpu");
                }
                if !Cuda::is_available() {
                    bail!("--device {self}: libtorch finds no CUDA device on this machine; use --device cpu");
                }
                let count = Cuda::device_count() as usize;
                if i >= count {
                    bail!("--device {self}: this machine has {count} CUDA device(s), numbered from 0");
                }
                Ok(Device::Cuda(i))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!("auto".parse(), Ok(DeviceChoice::Auto));
        assert_eq!("cpu".parse(), Ok(DeviceChoice::Cpu));
        assert_eq!("cuda".parse(), Ok(DeviceChoice::Cuda(0)));
        assert_eq!("cuda:3".parse(), Ok(DeviceChoice::Cuda(3)));
        assert!("gpu".parse::<DeviceChoice>().is_err());
        assert!("cuda:x".parse::<DeviceChoice>().is_err());
    }
}
