//! `gan1d export`: each format holds the generator that `sample` runs. TorchScript is loaded
//! back through libtorch and safetensors read back and applied by hand, both on the latent
//! points `sample --latent` prints; the Python check (`bench/export_check.sh`, in `make test`)
//! loads all three formats as a PyTorch or onnxruntime user does.

mod common;

use std::fs;
use std::path::Path;

use common::{assert_refused, gan1d, stderr, stdout};
use tch::{CModule, Tensor};

const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models");

/// `sample --latent`'s rows: the point and the latent point it came from.
fn samples(checkpoint: &str, n: &str) -> Vec<(Vec<f32>, Vec<f32>)> {
    let o = gan1d(&["sample", "--checkpoint", checkpoint, "--latent", "-n", n, "--seed", "9"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("x,y,z1,z2,z3,z4,z5"));
    lines
        .map(|line| {
            let numbers: Vec<f32> = line.split(',').map(|v| v.parse().unwrap()).collect();
            (numbers[..2].to_vec(), numbers[2..].to_vec())
        })
        .collect()
}

fn export(format: &str, out: &Path) {
    let o = gan1d(&["export", "--checkpoint", SHIPPED, "--format", format, "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("after 10000 iterations"), "{}", stderr(&o));
}

#[test]
fn sample_latent_prints_the_latent_columns_beside_the_same_points() {
    let rows = samples(SHIPPED, "50");
    assert_eq!(rows.len(), 50);
    assert!(rows.iter().all(|(point, z)| point.len() == 2 && z.len() == 5));
    let plain = gan1d(&["sample", "--checkpoint", SHIPPED, "-n", "50", "--seed", "9"]);
    let points: Vec<String> = rows.iter().map(|(p, _)| format!("{},{}", p[0], p[1])).collect();
    assert_eq!(stdout(&plain), format!("x,y\n{}\n", points.join("\n")));
}

#[test]
fn a_torchscript_export_runs_the_samples_latent_points_to_their_points() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.pt");
    export("torchscript", &file);
    let module = CModule::load(&file).unwrap();
    let rows = samples(SHIPPED, "500");
    let z: Vec<f32> = rows.iter().flat_map(|(_, z)| z.clone()).collect();
    let points = module.forward_ts(&[Tensor::from_slice(&z).view([500, 5])]).unwrap();
    assert_eq!(points.size(), [500, 2]);
    let got = Vec::<f32>::try_from(points.flatten(0, -1)).unwrap();
    let expected: Vec<f32> = rows.iter().flat_map(|(p, _)| p.clone()).collect();
    let worst = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst <= 1e-6, "TorchScript differs from sample by up to {worst}");
}

#[test]
fn a_safetensors_export_holds_a_sequentials_state_dict_and_describes_its_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.safetensors");
    export("safetensors", &file);
    let bytes = fs::read(&file).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let facts = header.metadata().clone().unwrap();
    assert_eq!(
        facts["layers"],
        r#"[{"activation":"relu","in":5,"out":15},{"activation":"linear","in":15,"out":2}]"#
    );
    assert_eq!((facts["latent_dim"].as_str(), facts["latent"].as_str()), ("5", "normal"));
    assert_eq!((facts["scale"].as_str(), facts["shift"].as_str()), ("[1, 1]", "[0, 0]"));
    assert_eq!(facts["iterations"], "10000");
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names = file.names();
    names.sort();
    assert_eq!(names, ["0.bias", "0.weight", "2.bias", "2.weight"]);
    let read = |name: &str, shape: &[usize]| {
        let view = file.tensor(name).unwrap();
        assert_eq!(view.shape(), shape, "{name}");
        view.data().chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64).collect::<Vec<f64>>()
    };
    let (w0, b0, w2, b2) =
        (read("0.weight", &[15, 5]), read("0.bias", &[15]), read("2.weight", &[2, 15]), read("2.bias", &[2]));
    // The network applied by hand, in double precision: ReLU(z W₀ᵀ + b₀) W₂ᵀ + b₂.
    for (point, z) in samples(SHIPPED, "200") {
        let hidden: Vec<f64> = (0..15)
            .map(|j| (b0[j] + (0..5).map(|i| w0[j * 5 + i] * z[i] as f64).sum::<f64>()).max(0.0))
            .collect();
        for k in 0..2 {
            let out = b2[k] + (0..15).map(|j| w2[k * 15 + j] * hidden[j]).sum::<f64>();
            assert!((out - point[k] as f64).abs() <= 1e-5, "output {k} at {z:?}: {out} against {}", point[k]);
        }
    }
}

#[test]
fn an_onnx_export_is_a_model_proto_with_the_generators_weights_and_facts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.onnx");
    // The format from the extension.
    let o = gan1d(&["export", "--checkpoint", SHIPPED, "--out", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = fs::read(&file).unwrap();
    // ir_version (field 1, varint) 8 first, then the producer's name.
    assert_eq!(&bytes[..9], b"\x08\x08\x12\x05gan1d");
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    for op in ["Gemm", "Relu", "Mul", "Add", "points", "latent_dim"] {
        assert!(contains(op.as_bytes()), "the ONNX file lacks {op}");
    }
    assert!(!contains(b"Tanh"), "the tutorial's generator has no tanh");
    // Each weight's float32 bytes, as the safetensors export holds them.
    let tensors = dir.path().join("g.safetensors");
    export("safetensors", &tensors);
    let tensors = fs::read(&tensors).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&tensors).unwrap();
    for (name, view) in tensors.tensors() {
        assert!(contains(view.data()), "the ONNX file lacks the bytes of {name}");
    }
}

#[test]
fn export_writes_to_a_pipe_and_refuses_what_it_cannot_write() {
    // To stdout when it is not a terminal: the same bytes as to a file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.onnx");
    export("onnx", &file);
    let o = gan1d(&["export", "--checkpoint", SHIPPED, "--format", "onnx", "--out", "-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, fs::read(&file).unwrap());
    // An existing file is replaced whole; a failed export leaves it.
    let before = fs::read(&file).unwrap();
    let o = gan1d(&["export", "--checkpoint", dir.path().to_str().unwrap(), "--out", file.to_str().unwrap()]);
    assert_refused(&o, "config.json");
    assert_eq!(fs::read(&file).unwrap(), before);
}
