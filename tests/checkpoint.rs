//! The checkpoint module in process: save → load round trips, copy-on-write file names, a
//! failed save, and an exact resume.

mod common;

use gan1d::checkpoint;
use gan1d::config::{EngineKind, ModelConfig, TrainConfig};
use gan1d::data::latent_points;
use gan1d::engine::Net;
use gan1d::train::Trainer;
use tch::{Device, nn::Module};

/// A tutorial-sized trainer seeded with `seed`, planned for `epochs`, after `steps` iterations.
fn trained(seed: u64, epochs: u64, steps: u64) -> (TrainConfig, Trainer) {
    let cfg = TrainConfig { seed, epochs, ..TrainConfig::default() };
    let mut trainer = Trainer::new(&ModelConfig::default(), &cfg, EngineKind::Fused, Device::Cpu).unwrap();
    for _ in 0..steps {
        let _ = trainer.step();
    }
    (cfg, trainer)
}

#[test]
fn a_saved_then_loaded_generator_samples_identically() {
    let _rng = common::rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let (cfg, trainer) = trained(11, 50, 50);
    checkpoint::save(dir.path(), &trainer, None, checkpoint::LogRecords::empty()).unwrap();

    let (manifest, _vs, loaded) = checkpoint::load_generator(dir.path(), Device::Cpu).unwrap();
    assert_eq!(manifest.iteration, 50);
    assert_eq!(manifest.train, cfg);
    assert_eq!((manifest.generator_adam_steps, manifest.discriminator_adam_steps), (50, 100));
    let zs = latent_points(500, 5, Device::Cpu);
    let original = trainer.engine().module(Net::Generator).forward(&zs);
    assert!(original.equal(&loaded.forward(&zs)));
}

#[test]
fn a_failed_load_leaves_the_model_unchanged() {
    let _rng = common::rng_lock();
    let dir = tempfile::tempdir().unwrap();
    tch::manual_seed(0);
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let generator = gan1d::model::Generator::new(&vs.root(), &ModelConfig::default());
    let before = generator.network().params().copy();
    // Right names, one wrong shape: the loader must refuse before copying anything.
    let file = dir.path().join("g.ot");
    let mut vars: Vec<(String, tch::Tensor)> =
        vs.variables().into_iter().map(|(k, t)| (k, t.zeros_like())).collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let last = vars.last_mut().unwrap();
    last.1 = tch::Tensor::zeros([1], (tch::Kind::Float, Device::Cpu));
    tch::Tensor::save_multi(&vars, &file).unwrap();
    let err = checkpoint::load_vars(&file, &vs).unwrap_err();
    assert!(format!("{err:#}").contains("with shape"), "{err:#}");
    assert!(generator.network().params().equal(&before));
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
    let _rng = common::rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let (_, mut trainer) = trained(4, 20, 1);
    checkpoint::save(dir.path(), &trainer, None, checkpoint::LogRecords::empty()).unwrap();
    assert_eq!(
        names_in(dir.path()),
        ["config.json", "discriminator-000001.ot", "generator-000001.ot", "optimizer-000001.ot"]
    );
    // Saving again at the same iteration (a new run in the same folder) takes other names,
    // then removes the old files.
    checkpoint::save(dir.path(), &trainer, None, checkpoint::LogRecords::empty()).unwrap();
    assert_eq!(
        names_in(dir.path()),
        ["config.json", "discriminator-000001-b.ot", "generator-000001-b.ot", "optimizer-000001-b.ot"]
    );
    let _ = trainer.step();
    checkpoint::save(dir.path(), &trainer, None, checkpoint::LogRecords::empty()).unwrap();
    assert_eq!(checkpoint::read_manifest(dir.path()).unwrap().iteration, 2);
    assert_eq!(names_in(dir.path()).len(), 4);
}

#[test]
fn a_save_that_fails_removes_what_it_wrote_and_keeps_the_previous_checkpoint() {
    let _rng = common::rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let (_, mut trainer) = trained(5, 20, 1);
    checkpoint::save(dir.path(), &trainer, None, checkpoint::LogRecords::empty()).unwrap();
    let before = names_in(dir.path());
    let _ = trainer.step();
    // A folder where the optimiser's new file would be renamed to: its write fails.
    std::fs::create_dir(dir.path().join("optimizer-000002.ot")).unwrap();
    let err = checkpoint::save(dir.path(), &trainer, None, checkpoint::LogRecords::empty()).unwrap_err();
    assert!(format!("{err:#}").contains("cannot write checkpoint file"), "{err:#}");
    std::fs::remove_dir(dir.path().join("optimizer-000002.ot")).unwrap();
    assert_eq!(names_in(dir.path()), before);
    let (manifest, _, _) = checkpoint::load_generator(dir.path(), Device::Cpu).unwrap();
    assert_eq!(manifest.iteration, 1);
}

#[test]
fn resuming_in_process_continues_exactly() {
    let _rng = common::rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let (cfg, straight) = trained(12, 60, 60);
    let (_, first) = trained(12, 60, 25);
    checkpoint::save(dir.path(), &first, None, checkpoint::LogRecords::empty()).unwrap();
    drop(first);
    let manifest = checkpoint::read_manifest(dir.path()).unwrap();
    let mut resumed =
        checkpoint::resume(dir.path(), &manifest, &cfg, EngineKind::Fused, Device::Cpu).unwrap();
    assert_eq!(resumed.iteration(), 25);
    for _ in 25..60 {
        let _ = resumed.step();
    }
    for net in Net::BOTH {
        let vars = |t: &Trainer| t.engine().var_store(net).variables();
        for (name, var) in vars(&straight) {
            assert!(vars(&resumed)[&name].equal(&var), "{} {name}", net.name());
        }
        let (a, b) = (resumed.engine().adam_state(net), straight.engine().adam_state(net));
        assert!(a.m.equal(&b.m) && a.v.equal(&b.v) && a.steps == b.steps);
    }
}
