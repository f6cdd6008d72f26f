//! Save → load round trips through the checkpoint module.

use std::sync::Mutex;

use gan1d::checkpoint;
use gan1d::config::{ModelConfig, TrainConfig};
use gan1d::data::latent_points;
use gan1d::train::Trainer;
use tch::{Device, nn::Module};

static RNG: Mutex<()> = Mutex::new(());

#[test]
fn a_saved_then_loaded_generator_samples_identically() {
    let _rng = RNG.lock().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig { seed: 11, epochs: 50, ..TrainConfig::default() };
    let mut trainer = Trainer::new(&ModelConfig::default(), &cfg, Device::Cpu).unwrap();
    for _ in 0..50 {
        let _ = trainer.step();
    }
    checkpoint::save(dir.path(), &trainer, None).unwrap();

    let (manifest, _vs, loaded) = checkpoint::load_generator(dir.path(), Device::Cpu).unwrap();
    assert_eq!(manifest.iteration, 50);
    assert_eq!(manifest.train, cfg);
    assert_eq!((manifest.generator_adam_steps, manifest.discriminator_adam_steps), (50, 100));
    let zs = latent_points(500, 5, Device::Cpu);
    let original = trainer.generator.forward(&zs);
    assert!(original.equal(&loaded.forward(&zs)));
}

#[test]
fn a_failed_load_leaves_the_model_unchanged() {
    let _rng = RNG.lock().unwrap();
    let dir = tempfile::tempdir().unwrap();
    tch::manual_seed(0);
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let generator = gan1d::model::Generator::new(&vs.root(), &ModelConfig::default());
    let before = generator.0.params().copy();
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
    assert!(generator.0.params().equal(&before));
}
