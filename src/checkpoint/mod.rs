//! The checkpoint folder: its layout, saving, and validated loading. The only module that
//! builds paths inside a checkpoint.
//!
//! ```text
//! DIR/config.json                  the manifest: configuration, iteration, seed, versions, and the
//!                                  name and SHA-256 of each tensor file and of itself; written last
//! DIR/generator-NNNNNN.ot          the generator's variables (hidden.weight, hidden.bias, out.weight,
//!                                  out.bias) after NNNNNN iterations
//! DIR/discriminator-NNNNNN.ot      the discriminator's variables, same names
//! DIR/optimizer-NNNNNN.ot          both Adams' moments (generator.m, generator.v, discriminator.m, …)
//! DIR/metrics.csv                  quality metrics at each evaluation       } written by the command
//! DIR/history.csv                  losses and accuracies every k iterations } layer, at the paths
//! DIR/frames.csv                   the animation's frames                   } given here
//! DIR/plots/                       iter_NNNNN.png per evaluation, curves.png, training.gif
//! ```
//!
//! A save never touches the files the current `config.json` names: the tensor files of a new
//! checkpoint get new names, are written under temporary names, synced and renamed, and only
//! then is `config.json` replaced, in one rename. That rename is the commit: a process killed
//! at any moment leaves either the old checkpoint or the new one, each complete. Files no
//! longer named are deleted after the commit.
//!
//! Loading checks `config.json` against its own checksum, each tensor file against the checksum
//! recorded for it, then every variable's name, shape, type and finiteness, all before changing
//! anything: tch's own `VarStore::load` broadcasts mismatched shapes, adopts the file's type,
//! and stops half-way on error.
//!
//! `layout` names every path, `manifest` reads and seals `config.json`, `save` writes a
//! checkpoint and `load` reads one back. None of them raises training's errors: a refusal to
//! save non-finite values is a [`NotFinite`], which `train` reports as divergence.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::config::{LayerSpec, ModelConfig, TrainConfig, variables};
use crate::fsio;
use crate::runlog::LogRecord;
use crate::state::{Net, NetState};
use crate::target::{Scaling, Target};

mod folder;
mod layout;
mod load;
mod manifest;
mod save;

pub use folder::*;
pub use layout::*;
pub use load::*;
pub use manifest::*;
pub use save::*;

/// The tensor files of a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Generator,
    Discriminator,
    Optimizer,
}

impl Part {
    pub const ALL: [Part; 3] = [Part::Generator, Part::Discriminator, Part::Optimizer];

    /// The start of the part's file names, and its key in the manifest.
    pub fn stem(self) -> &'static str {
        match self {
            Part::Generator => "generator",
            Part::Discriminator => "discriminator",
            Part::Optimizer => "optimizer",
        }
    }
}

/// What one checkpoint holds: a run's configuration, how far it is, and its two networks'
/// state (one run each, `[1, n]`). The training loop makes it; storage only reads it.
#[derive(Debug)]
pub struct Snapshot<'a> {
    pub model: &'a ModelConfig,
    pub train: &'a TrainConfig,
    pub scaling: Scaling,
    /// Iterations completed.
    pub iteration: u64,
    /// The device the run trains on (recorded in the manifest).
    pub device: Device,
    pub generator: NetState,
    pub discriminator: NetState,
    /// Whether a `--data` run's points are kept once in the run folder ([`write_points`])
    /// rather than in this checkpoint's manifest: so for the members of an ensemble.
    pub points_beside: bool,
}

pub use crate::fsio::sha256_hex;

/// `cpu`, `cuda:0`, …
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(i) => format!("cuda:{i}"),
        _ => "cpu".to_string(),
    }
}

/// The first line of a libtorch error: the rest is a C++ stack trace that helps nobody here.
fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_inside_the_folder() {
        let dir = Path::new("models");
        assert_eq!(manifest_path(dir), Path::new("models/config.json"));
        assert_eq!(eval_plot_path(dir, 1999), Path::new("models/plots/iter_01999.png"));
    }

    #[test]
    fn first_line_drops_the_stack_trace() {
        assert_eq!(first_line("bad zip\nException raised from x\nframe #0"), "bad zip");
    }

    #[test]
    fn only_gan1d_checkpoint_files_count_as_its_own() {
        for ours in [
            "generator-002000.ot",
            "optimizer-000001-b.ot",
            ".discriminator-000010.ot.tmp",
            "generator.ot",
            ".config.json.tmp",
            ".frames.csv.tmp",
        ] {
            assert!(is_checkpoint_file(ours), "{ours}");
        }
        for theirs in [
            "generator.py",
            "notes.txt",
            "generators.ot",
            "history.csv",
            "config.json",
            "plots",
            ".gan1d.lock",
        ] {
            assert!(!is_checkpoint_file(theirs), "{theirs}");
        }
    }

    #[test]
    fn the_seal_detects_any_changed_byte() {
        let text = "{\n  \"a\": 1,\n  \"manifest_sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\"\n}\n";
        let digest = sha256_hex(text.as_bytes());
        let sealed = text.replacen(&"0".repeat(64), &digest, 1);
        assert!(seal_holds(&sealed, &digest));
        assert!(!seal_holds(&sealed.replacen("1", "2", 1), &digest));
        assert!(!seal_holds(&sealed, &"0".repeat(64)));
    }
}
