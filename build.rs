//! Link settings for libtorch, nothing else.
//!
//! torch-sys (`links = "tch"`) tells crates that depend on it directly where libtorch's
//! `lib` folder is, as `DEP_TCH_LIBTORCH_LIB`. We use it to
//! - give every binary (and test binary) an rpath to that folder, so `gan1d` starts without
//!   `LD_LIBRARY_PATH`;
//! - tell the program where that folder is (`GAN1D_LIBTORCH_LIB`), so that it loads
//!   `libtorch_cuda` from there only when a run asks for CUDA (`device`): nothing refers to it
//!   by symbol, so `--as-needed` leaves it out of the link, and a CPU run never maps it;
//! - record libtorch's version string for the checkpoint's JSON file.

use std::{env, fs, path::Path};

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib_dir) = env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=torch-sys did not report libtorch's lib folder; no rpath set");
        println!("cargo:rustc-env=GAN1D_LIBTORCH_VERSION=unknown");
        println!("cargo:rustc-env=GAN1D_LIBTORCH_LIB=");
        return;
    };
    let lib_dir = Path::new(&lib_dir);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    println!("cargo:rustc-env=GAN1D_LIBTORCH_LIB={}", lib_dir.display());
    println!("cargo:rustc-env=GAN1D_LIBTORCH_VERSION={}", libtorch_version(lib_dir));
}

/// The version libtorch states about itself: `version.py` in a PyTorch package,
/// `build-version` in a plain libtorch folder.
fn libtorch_version(lib_dir: &Path) -> String {
    let Some(root) = lib_dir.parent() else {
        return "unknown".into();
    };
    if let Ok(text) = fs::read_to_string(root.join("version.py")) {
        for line in text.lines() {
            if line.starts_with("__version__")
                && let Some((_, value)) = line.split_once('=')
            {
                return value.trim().trim_matches(['\'', '"']).to_string();
            }
        }
    }
    fs::read_to_string(root.join("build-version"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}
