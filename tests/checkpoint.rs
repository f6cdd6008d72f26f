//! The checkpoint module in process: save → load round trips, copy-on-write file names, a
//! failed save, and an exact resume.

mod common;

use gan1d::checkpoint;
use gan1d::config::{EngineKind, ModelConfig, TrainConfig};
use gan1d::data::latent_points;
use gan1d::engine::Net;
use gan1d::train::{Start, Trainer};
use tch::Device;

/// A tutorial-sized trainer seeded with `seed`, planned for `epochs`, after `steps` iterations.
fn trained(seed: u64, epochs: u64, steps: u64) -> (TrainConfig, Trainer) {
    let cfg = TrainConfig { seed, epochs, ..TrainConfig::default() };
    let mut trainer = Trainer::new(
        &ModelConfig::default(),
        &cfg,
        EngineKind::Native,
        Device::Cpu,
        None,
        Start::fresh(&[cfg.seed]),
    )
    .unwrap();
    for _ in 0..steps {
        let _ = trainer.step();
    }
    (cfg, trainer)
}

#[test]
fn a_saved_then_loaded_generator_samples_identically() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, trainer) = trained(11, 50, 50);
    checkpoint::save(dir.path(), &gan1d::saved::snapshot(&trainer, 0), None, checkpoint::LogRecords::empty())
        .unwrap();

    let (manifest, params) = checkpoint::load_generator(dir.path(), Device::Cpu).unwrap();
    assert_eq!(manifest.iteration, 50);
    assert_eq!(manifest.train, cfg);
    assert_eq!((manifest.generator_adam_steps, manifest.discriminator_adam_steps), (50, 100));
    let loaded = gan1d::host::HostNetwork::new(&manifest.model.generator_layers(), &params).unwrap();
    let zs = latent_points(
        &gan1d::rng::Keys::new(&[1], Device::Cpu),
        gan1d::rng::Tag::Sample,
        0,
        500,
        &Default::default(),
    );
    let original = trainer.engine().forward(Net::Generator, &zs);
    assert!(original.abs().sum(tch::Kind::Float).double_value(&[]) > 1.0, "a trained generator gives zeros");
    assert!(original.equal(&loaded.forward(&zs)));
}

fn names_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_new_checkpoint_never_overwrites_the_files_of_the_committed_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut trainer) = trained(4, 20, 1);
    checkpoint::save(dir.path(), &gan1d::saved::snapshot(&trainer, 0), None, checkpoint::LogRecords::empty())
        .unwrap();
    assert_eq!(
        names_in(dir.path()),
        ["config.json", "discriminator-000001.ot", "generator-000001.ot", "optimizer-000001.ot"]
    );
    // Saving again at the same iteration (a new run in the same folder) takes other names,
    // then removes the old files.
    checkpoint::save(dir.path(), &gan1d::saved::snapshot(&trainer, 0), None, checkpoint::LogRecords::empty())
        .unwrap();
    assert_eq!(
        names_in(dir.path()),
        ["config.json", "discriminator-000001-b.ot", "generator-000001-b.ot", "optimizer-000001-b.ot"]
    );
    let _ = trainer.step();
    checkpoint::save(dir.path(), &gan1d::saved::snapshot(&trainer, 0), None, checkpoint::LogRecords::empty())
        .unwrap();
    assert_eq!(checkpoint::read_manifest(dir.path()).unwrap().iteration, 2);
    assert_eq!(names_in(dir.path()).len(), 4);
}

#[test]
fn a_save_that_fails_removes_what_it_wrote_and_keeps_the_previous_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut trainer) = trained(5, 20, 1);
    checkpoint::save(dir.path(), &gan1d::saved::snapshot(&trainer, 0), None, checkpoint::LogRecords::empty())
        .unwrap();
    let before = names_in(dir.path());
    let _ = trainer.step();
    // A folder where the optimiser's new file would be renamed to: its write fails.
    std::fs::create_dir(dir.path().join("optimizer-000002.ot")).unwrap();
    let err = checkpoint::save(
        dir.path(),
        &gan1d::saved::snapshot(&trainer, 0),
        None,
        checkpoint::LogRecords::empty(),
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("cannot write checkpoint file"), "{err:#}");
    std::fs::remove_dir(dir.path().join("optimizer-000002.ot")).unwrap();
    assert_eq!(names_in(dir.path()), before);
    let (manifest, _) = checkpoint::load_generator(dir.path(), Device::Cpu).unwrap();
    assert_eq!(manifest.iteration, 1);
}

#[test]
fn resuming_in_process_continues_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, straight) = trained(12, 60, 60);
    let (_, first) = trained(12, 60, 25);
    checkpoint::save(dir.path(), &gan1d::saved::snapshot(&first, 0), None, checkpoint::LogRecords::empty())
        .unwrap();
    drop(first);
    let manifest = checkpoint::read_manifest(dir.path()).unwrap();
    // The seed is the checkpoint's: a configuration naming another continues the saved run.
    let other = TrainConfig { seed: 99, ..cfg };
    let mut resumed =
        gan1d::saved::resumed(dir.path(), &manifest, &other, EngineKind::Native, Device::Cpu).unwrap();
    assert_eq!((resumed.seeds(), resumed.cfg().seed), (vec![12], 12));
    assert_eq!(resumed.iteration(), 25);
    for _ in 25..60 {
        let _ = resumed.step();
    }
    for net in Net::BOTH {
        let (a, b) = (resumed.engine().export(net), straight.engine().export(net));
        assert!(a.params.equal(&b.params), "{}", net.name());
        assert!(a.m.equal(&b.m) && a.v.equal(&b.v) && a.steps == b.steps);
    }
}
