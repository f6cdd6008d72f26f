//! Hostile checkpoint files: a bounded property test over random, truncated, bit-flipped and
//! hand-made files. Every case must be refused with an error that names the problem: in
//! process, by both loaders, without a panic; and through the binary, with exit code 2, nothing
//! on stdout, and the folder left as it was.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{
    assert_refused, gan1d, part_file, read_manifest, reseal, snapshot, stderr, stdout, write_sealed,
};
use gan1d::checkpoint;
use tch::{Device, Kind, Tensor};

const PARTS: [&str; 3] = ["generator", "discriminator", "optimizer"];

/// Two small runs: the one every case damages, and another (other seed, other latent size)
/// whose files get mixed in.
fn runs() -> &'static (PathBuf, PathBuf) {
    static RUNS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    RUNS.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile");
        let _ = fs::remove_dir_all(&root);
        let (base, other) = (root.join("base"), root.join("other"));
        for (dir, seed, latent) in [(&base, "1", "5"), (&other, "2", "3")] {
            let o = gan1d(&[
                "train",
                "--epochs",
                "30",
                "--eval-every",
                "30",
                "--seed",
                seed,
                "--latent-dim",
                latent,
                "--device",
                "cpu",
                "--quiet",
                "--out",
                dir.to_str().unwrap(),
            ]);
            assert!(o.status.success(), "{}", stderr(&o));
        }
        (base, other)
    })
}

/// A small deterministic generator of test cases (xorshift64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.below(256) as u8).collect()
    }
}

type Damage = Box<dyn Fn(&Path)>;

/// Marks a case whose damage may leave a valid checkpoint: it must not crash, and must either
/// be refused or load finite weights of the right shapes.
const MAY_LOAD: &str = " [may load]";

/// Saves `vars` as `part`'s file and reseals, so that the loader's content checks are reached.
fn sealed_tensors(part: &'static str, vars: Vec<(&'static str, Tensor)>) -> Damage {
    Box::new(move |d: &Path| {
        Tensor::save_multi(&vars, part_file(d, part)).unwrap();
        reseal(d);
    })
}

fn edit_sealed(f: impl Fn(&mut serde_json::Value) + 'static) -> Damage {
    Box::new(move |d: &Path| {
        let mut v = read_manifest(d);
        f(&mut v);
        write_sealed(d, v);
    })
}

/// Every case: a description and what it does to a copy of the base run.
fn cases() -> Vec<(String, Damage)> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut cases: Vec<(String, Damage)> = Vec::new();
    let (_, other) = runs();
    let files = ["generator", "discriminator", "optimizer", "config"];
    let file_of = |d: &Path, which: &str| {
        if which == "config" { d.join("config.json") } else { part_file(d, which) }
    };
    for which in files {
        cases
            .push((format!("{which}: empty"), Box::new(move |d| fs::write(file_of(d, which), b"").unwrap())));
        cases.push((
            format!("{which}: deleted"),
            Box::new(move |d| fs::remove_file(file_of(d, which)).unwrap()),
        ));
        for _ in 0..3 {
            let length = 1 + rng.below(5000);
            let noise = rng.bytes(length);
            cases.push((
                format!("{which}: {} random bytes", noise.len()),
                Box::new(move |d| fs::write(file_of(d, which), &noise).unwrap()),
            ));
        }
        for sealed in [false, true] {
            // Sealing only makes sense for tensor files: the manifest's own checksum catches the rest.
            if sealed && which == "config" {
                continue;
            }
            let tag = if sealed { ", resealed" } else { "" };
            for _ in 0..8 {
                let keep = rng.below(1 << 20);
                cases.push((
                    format!("{which}: truncated{tag} (keep {keep} mod length)"),
                    Box::new(move |d| {
                        let path = file_of(d, which);
                        let bytes = fs::read(&path).unwrap();
                        fs::write(&path, &bytes[..keep % bytes.len()]).unwrap();
                        if sealed {
                            reseal(d);
                        }
                    }),
                ));
            }
            for _ in 0..12 {
                let (at, bit) = (rng.below(1 << 20), rng.below(8));
                // Resealed, a flipped bit may fall in a weight and leave a valid, different file:
                // those cases may load, and are marked so.
                let may_load = if sealed { MAY_LOAD } else { "" };
                cases.push((
                    format!("{which}: bit {bit} flipped{tag} (at {at} mod length){may_load}"),
                    Box::new(move |d| {
                        let path = file_of(d, which);
                        let mut bytes = fs::read(&path).unwrap();
                        let len = bytes.len();
                        bytes[at % len] ^= 1 << bit;
                        fs::write(&path, bytes).unwrap();
                        if sealed {
                            reseal(d);
                        }
                    }),
                ));
            }
        }
    }
    // Files from another run, as they are and resealed into this run's manifest.
    for part in PARTS {
        let theirs = part_file(other, part);
        let t = theirs.clone();
        cases.push((
            format!("{part}: another run's file"),
            Box::new(move |d| {
                fs::copy(&t, part_file(d, part)).unwrap();
            }),
        ));
        // The discriminator does not depend on the latent size: resealed into this run, the
        // other run's is a valid discriminator.
        let may_load = if part == "discriminator" { MAY_LOAD } else { "" };
        cases.push((
            format!("{part}: another run's file (other latent size), resealed{may_load}"),
            Box::new(move |d| {
                fs::copy(&theirs, part_file(d, part)).unwrap();
                reseal(d);
            }),
        ));
    }
    let o = other.clone();
    cases.push((
        "config: another run's manifest".into(),
        Box::new(move |d| {
            fs::copy(o.join("config.json"), d.join("config.json")).unwrap();
        }),
    ));
    // Hand-made tensor files with one thing wrong each.
    let f32s = |shape: &[i64]| Tensor::zeros(shape, (Kind::Float, Device::Cpu));
    let generator = || {
        vec![
            ("hidden.weight", f32s(&[15, 5])),
            ("hidden.bias", f32s(&[15])),
            ("out.weight", f32s(&[2, 15])),
            ("out.bias", f32s(&[2])),
        ]
    };
    type Vars = Vec<(&'static str, Tensor)>;
    let mut made: Vec<(&str, &str, Vars)> = Vec::new();
    let mut v = generator();
    v[0].1 = v[0].1.to_kind(Kind::Double);
    made.push(("generator", "f64 weights", v));
    let mut v = generator();
    v[1].1 = Tensor::zeros([15], (Kind::Int64, Device::Cpu));
    made.push(("generator", "integer biases", v));
    let mut v = generator();
    v.pop();
    made.push(("generator", "a missing variable", v));
    let mut v = generator();
    v.push(("extra", f32s(&[1])));
    made.push(("generator", "an extra variable", v));
    let mut v = generator();
    v[2].1 = f32s(&[15, 2]);
    made.push(("generator", "a transposed weight", v));
    let mut v = generator();
    v[3].1 = f32s(&[]);
    made.push(("generator", "a scalar bias", v));
    let mut v = generator();
    v[0].1 = f32s(&[15, 5]) / 0.0;
    made.push(("generator", "NaN weights", v));
    let mut v = generator();
    v[0].1 = f32s(&[15, 5]).fill(f64::INFINITY);
    made.push(("generator", "infinite weights", v));
    let mut v = generator();
    v[0].0 = "hidden.weights";
    made.push(("generator", "a misspelt name", v));
    made.push(("generator", "no variables", Vec::new()));
    made.push(("discriminator", "the generator's variables", generator()));
    made.push(("optimizer", "the generator's variables", generator()));
    made.push((
        "optimizer",
        "moments one element short",
        vec![
            ("generator.m", f32s(&[121])),
            ("generator.v", f32s(&[122])),
            ("discriminator.m", f32s(&[101])),
            ("discriminator.v", f32s(&[101])),
        ],
    ));
    made.push((
        "optimizer",
        "f64 moments",
        vec![
            ("generator.m", Tensor::zeros([122], (Kind::Double, Device::Cpu))),
            ("generator.v", f32s(&[122])),
            ("discriminator.m", f32s(&[101])),
            ("discriminator.v", f32s(&[101])),
        ],
    ));
    for (part, what, vars) in made {
        let part: &'static str = PARTS.into_iter().find(|p| *p == part).unwrap();
        cases.push((format!("{part}: {what}, resealed"), sealed_tensors(part, vars)));
    }
    // Manifests that are sealed but wrong.
    type Edit = fn(&mut serde_json::Value);
    let edits: [(&str, Edit); 14] = [
        ("newer format", |v| v["format_version"] = (checkpoint::FORMAT_VERSION + 1).into()),
        ("older format", |v| v["format_version"] = 1.into()),
        ("no format version", |v| drop(v.as_object_mut().unwrap().remove("format_version"))),
        ("no model", |v| drop(v.as_object_mut().unwrap().remove("model"))),
        ("an unknown field", |v| v["extra"] = 1.into()),
        ("a negative iteration", |v| v["iteration"] = (-5).into()),
        ("an iteration past u64", |v| v["iteration"] = serde_json::json!(1e30)),
        ("a string batch", |v| v["train"]["batch"] = "128".into()),
        ("an odd batch", |v| v["train"]["batch"] = 127.into()),
        ("a zero-width layer", |v| v["model"]["generator_hidden"] = serde_json::json!([0])),
        ("a wider layer", |v| v["model"]["generator_hidden"] = serde_json::json!([16])),
        ("a path outside the folder", |v| v["files"]["generator"]["name"] = "../../etc/passwd".into()),
        ("the manifest as a tensor file", |v| v["files"]["optimizer"]["name"] = "config.json".into()),
        ("a negative learning rate", |v| v["train"]["adam"]["learning_rate"] = (-1.0).into()),
    ];
    for (what, edit) in edits {
        cases.push((format!("config: {what}, resealed"), edit_sealed(edit)));
    }
    cases.push((
        "config: the generator's file named for the discriminator, resealed".into(),
        edit_sealed(|v| v["files"]["discriminator"]["name"] = v["files"]["generator"]["name"].clone()),
    ));
    cases
}

/// A fresh copy of the base run, damaged by `damage`.
fn damaged(root: &Path, index: usize, damage: &Damage) -> PathBuf {
    let dir = root.join(format!("case-{index}"));
    common::copy_run(&runs().0, &dir);
    damage(&dir);
    dir
}

#[test]
fn every_hostile_checkpoint_is_refused_in_process_by_both_loaders() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = cases();
    assert!(cases.len() >= 150, "{} cases", cases.len());
    let (mut refused, mut valid) = (0, 0);
    for (index, (what, damage)) in cases.iter().enumerate() {
        let dir = damaged(tmp.path(), index, damage);
        // Reading the generator (sample, evaluate) reads one tensor file; a resume reads all.
        let resumed = checkpoint::read_manifest(&dir).and_then(|manifest| {
            let cfg = manifest.train.clone();
            gan1d::saved::resumed(&dir, &manifest, &cfg, gan1d::config::EngineKind::Native, Device::Cpu)
        });
        let error = match resumed {
            Ok(trainer) if what.ends_with(MAY_LOAD) => {
                // The loader's checks held: every weight is finite.
                for net in gan1d::engine::Net::BOTH {
                    let state = trainer.engine().export(net);
                    for t in [&state.params, &state.m, &state.v] {
                        assert!(t.isfinite().all().int64_value(&[]) == 1, "case {what}");
                    }
                }
                valid += 1;
                fs::remove_dir_all(&dir).unwrap();
                continue;
            }
            Ok(_) => panic!("case {index} ({what}): resuming was not refused"),
            Err(error) => error,
        };
        refused += 1;
        let message = format!("{error:#}");
        assert!(message.contains("checkpoint") || message.contains("config.json"), "case {what}: {message}");
        if !what.starts_with("discriminator") && !what.starts_with("optimizer") {
            let loaded = checkpoint::load_generator(&dir, Device::Cpu).map(|_| ());
            assert!(loaded.is_err(), "case {index} ({what}): the generator loaded");
        }
        fs::remove_dir_all(&dir).unwrap();
    }
    eprintln!(
        "hostile files: {} cases: {refused} refused, {valid} resealed bit flips left a valid file and loaded",
        cases.len()
    );
    // Every case was judged, and only the bit flips that may load did.
    assert_eq!(refused + valid, cases.len());
    assert!(valid <= cases.iter().filter(|(what, _)| what.ends_with(MAY_LOAD)).count());
}

#[test]
fn hostile_checkpoints_make_the_binary_exit_2_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = cases();
    // Each process costs most of a second: every third case through `sample`, every ninth also
    // through `train --resume`.
    let (mut tried, mut considered) = (0, 0);
    for (index, (what, damage)) in cases.iter().enumerate().step_by(3) {
        if what.ends_with(MAY_LOAD) {
            continue;
        }
        considered += 1;
        let dir = damaged(tmp.path(), index, damage);
        let before = snapshot(&dir);
        let d = dir.to_str().unwrap();
        if !what.starts_with("discriminator") && !what.starts_with("optimizer") {
            let o = gan1d(&["sample", "--checkpoint", d, "-n", "5"]);
            eprintln!("case {index}: {what}: {}", stderr(&o).trim());
            assert_refused(&o, "error: ");
            assert!(stdout(&o).is_empty(), "case {what}: wrote {}", stdout(&o));
            tried += 1;
        }
        if index % 9 == 0 || what.starts_with("discriminator") || what.starts_with("optimizer") {
            let o = gan1d(&["train", "--resume", d, "--epochs", "60", "--quiet"]);
            eprintln!("case {index}: {what}: {}", stderr(&o).trim());
            assert_refused(&o, "error: ");
            tried += 1;
        }
        assert!(snapshot(&dir) == before, "case {what}: a refused command changed the folder");
    }
    eprintln!("hostile files: {tried} refusals through the binary");
    // Each case considered went through at least one command.
    assert!(considered > 40 && tried >= considered, "{tried} refusals of {considered} cases");
}
