//! libtorch's CUDA library is loaded only when a run asks for CUDA: a CPU run never maps it.
//! One test in its own process, so that nothing else in the process has asked for CUDA first.

use gan1d::config::{EngineKind, ModelConfig, TrainConfig};
use gan1d::device::{DeviceChoice, cuda_loaded};
use gan1d::train::{Start, Trainer};

#[test]
fn a_cpu_run_never_maps_cuda_and_cuda_is_loaded_when_asked_for() {
    assert!(!cuda_loaded(), "libtorch_cuda is mapped before anything asked for it");
    let device = DeviceChoice::Cpu.resolve().unwrap();
    let cfg = TrainConfig { epochs: 20, eval_every: 10, ..TrainConfig::default() };
    for engine in EngineKind::ALL {
        let mut trainer =
            Trainer::new(&ModelConfig::default(), &cfg, engine, device, None, Start::fresh(&[cfg.seed]))
                .unwrap();
        for _ in 0..20 {
            let _ = trainer.step();
        }
        let _ = trainer.evaluate();
    }
    assert!(!cuda_loaded(), "a CPU run mapped libtorch_cuda");

    // `auto` loads it only where a CUDA driver is installed.
    let driver = std::path::Path::new("/proc/driver/nvidia").exists();
    let picked = DeviceChoice::Auto.resolve().unwrap();
    if !driver {
        assert_eq!(picked, tch::Device::Cpu);
        assert!(!cuda_loaded(), "--device auto mapped libtorch_cuda on a machine without a CUDA driver");
    }

    // Asked for, it is loaded (where this libtorch has it); without a device, the error is one
    // line naming the flag.
    let resolved = DeviceChoice::Cuda(0).resolve();
    assert_eq!(cuda_loaded(), gan1d::device::load_cuda().is_ok(), "asked for, libtorch_cuda is loaded");
    match resolved {
        Ok(device) => assert!(device.is_cuda() && cuda_loaded()),
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with("--device cuda:0: ") && !message.contains('\n'), "{message}");
            assert!(message.contains("use --device cpu"), "{message}");
        }
    }
}
