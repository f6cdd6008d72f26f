//! Between the loop and storage: what a checkpoint of one of a trainer's members holds, and a
//! trainer rebuilt from a checkpoint. The loop (`train`) never reads or names files and
//! storage (`checkpoint`) never builds the thing that runs; this module, above both, joins them
//! for the command layer and the tests.

use std::path::Path;

use anyhow::Result;
use tch::Device;

use crate::checkpoint::{self, Manifest, Snapshot};
use crate::config::{EngineKind, TrainConfig};
use crate::train::{Start, Trainer};

/// What a checkpoint of `trainer`'s member `k` holds now.
pub fn snapshot(trainer: &Trainer, k: usize) -> Snapshot<'_> {
    let [generator, discriminator] = trainer.member_state(k);
    Snapshot {
        model: trainer.model_cfg(),
        train: trainer.member_cfg(k),
        scaling: trainer.scaling(),
        iteration: trainer.iteration(),
        device: trainer.device(),
        generator,
        discriminator,
        points_beside: false,
    }
}

/// The one-member run saved in `dir` under `manifest`, rebuilt on `device` with
/// `engine_kind`'s engine (any engine continues any engine's checkpoint) to continue under
/// `cfg` (the saved configuration, possibly with more epochs) as the seed the checkpoint holds,
/// whatever `cfg`'s. Every file is checked before anything is built.
pub fn resumed(
    dir: &Path,
    manifest: &Manifest,
    cfg: &TrainConfig,
    engine_kind: EngineKind,
    device: Device,
) -> Result<Trainer> {
    let state = checkpoint::load_state(dir, manifest, device)?;
    let start =
        Start { seeds: vec![manifest.seed], saved: Some((manifest.iteration, state)), statuses: Vec::new() };
    Trainer::new(&manifest.model, cfg, engine_kind, device, Some(manifest.scaling), start)
}
