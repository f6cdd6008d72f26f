//! The real binary in temporary folders: train → sample → summary, and every refusal of bad
//! input (exit code 2, one clear line, no panic).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use common::{assert_refused, gan1d, parse_csv, part_file, pixels_where, reseal, stderr, stdout};

/// A small checkpoint trained once for all tests (40 iterations, evaluations at 20 and 40),
/// with the output of that run.
fn trained() -> &'static (PathBuf, Output) {
    static RUN: OnceLock<(PathBuf, Output)> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-trained");
        let _ = fs::remove_dir_all(&dir);
        let out = gan1d(&[
            "train",
            "--epochs",
            "40",
            "--eval-every",
            "20",
            "--seed",
            "3",
            "--device",
            "cpu",
            "--out",
            dir.to_str().unwrap(),
        ]);
        (dir, out)
    })
}

/// A private copy of the trained checkpoint to damage.
fn copy_of_trained(tmp: &Path) -> PathBuf {
    let copy = tmp.join("copy");
    common::copy_run(&trained().0, &copy);
    copy
}

#[test]
fn train_prints_only_the_tutorials_lines_and_writes_the_checkpoint() {
    let (dir, out) = trained();
    assert!(out.status.success(), "{}", stderr(out));
    let text = stdout(out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for (line, iteration) in lines.iter().zip(["19", "39"]) {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields.len(), 3, "{line}");
        assert_eq!(fields[0], iteration);
        for acc in &fields[1..] {
            let v: f64 = acc.parse().unwrap();
            assert!((0.0..=1.0).contains(&v), "{line}");
        }
    }
    for file in [
        "generator-000040.ot",
        "discriminator-000040.ot",
        "optimizer-000040.ot",
        "config.json",
        "frames.csv",
        "plots/iter_00019.png",
        "plots/iter_00039.png",
    ] {
        let path = dir.join(file);
        assert!(path.metadata().map(|m| m.len() > 0).unwrap_or(false), "{} missing", path.display());
    }
    // The checkpoint at iteration 20 was replaced by the one at 40, leaving nothing behind.
    for stale in ["generator-000020.ot", ".config.json.tmp", ".generator-000040.ot.tmp"] {
        assert!(!dir.join(stale).exists(), "{stale} left behind");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(manifest["iteration"], 40);
    assert_eq!(manifest["seed"], 3);
    assert_eq!(manifest["train"]["batch"], 128);
    assert_eq!(manifest["model"]["latent_dim"], 5);
    assert!(manifest["libtorch_version"].as_str().unwrap().starts_with("2.13"));
    // PNG signature.
    assert_eq!(&fs::read(dir.join("plots/iter_00039.png")).unwrap()[..4], b"\x89PNG");
    assert_eq!(&fs::read(dir.join("plots/curves.png")).unwrap()[..4], b"\x89PNG");
    assert_eq!(&fs::read(dir.join("plots/training.gif")).unwrap()[..6], b"GIF89a");

    // One metrics row per evaluation, matching the printed lines; history every 10 iterations.
    let metrics = fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let rows: Vec<&str> = metrics.lines().collect();
    assert!(rows[0].starts_with("iteration,acc_real,acc_fake,residual_mean,"), "{}", rows[0]);
    assert_eq!(rows.len(), 3, "{metrics}");
    for (row, line) in rows[1..].iter().zip(&lines) {
        let fields: Vec<&str> = row.split(',').collect();
        assert_eq!(fields.len(), rows[0].split(',').count());
        let printed: Vec<f64> = line.split(' ').map(|v| v.parse().unwrap()).collect();
        let logged: Vec<f64> = fields[..3].iter().map(|v| v.parse().unwrap()).collect();
        assert_eq!(printed, logged);
    }
    let history = fs::read_to_string(dir.join("history.csv")).unwrap();
    let iterations: Vec<&str> = history.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(iterations, ["9", "19", "29", "39"]);
    assert!(history.starts_with("iteration,d_loss_real,d_loss_fake,g_loss,d_acc_real,d_acc_fake\n"));
}

#[test]
fn evaluate_measures_the_points_sample_gives() {
    let (dir, _) = trained();
    let dir = dir.to_str().unwrap();
    let o = gan1d(&["evaluate", "--checkpoint", dir, "-n", "800", "--seed", "4", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let points = parse_csv(&stdout(&gan1d(&["sample", "--checkpoint", dir, "-n", "800", "--seed", "4"])));

    // An independent computation of three metrics from sample's output.
    let residual = points.iter().map(|(x, y)| (y - x * x).abs()).sum::<f64>() / 800.0;
    let mut xs: Vec<f64> = points.iter().map(|p| p.0).collect();
    xs.sort_by(f64::total_cmp);
    let ks = xs
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = (x + 0.5).clamp(0.0, 1.0);
            ((i + 1) as f64 / 800.0 - f).max(f - i as f64 / 800.0)
        })
        .fold(0.0, f64::max);
    let left = xs.iter().filter(|&&x| x < 0.0).count() as f64 / 800.0;
    let generated = &report["generated"];
    assert_eq!(generated["n"], 800);
    assert!((generated["residual_mean"].as_f64().unwrap() - residual).abs() < 1e-6);
    assert!((generated["ks"].as_f64().unwrap() - ks).abs() < 1e-6);
    assert_eq!(generated["share_left_branch"].as_f64().unwrap(), left);
    let floor = &report["real_floor"];
    assert!(floor["residual_mean"].as_f64().unwrap() < 1e-6);
    assert_eq!(floor["share_in_domain"], 1.0);

    let table = stdout(&gan1d(&["evaluate", "--checkpoint", dir, "-n", "800", "--seed", "4"]));
    assert!(table.contains("real floor") && table.contains("KS statistic of x"), "{table}");
    assert_refused(&gan1d(&["evaluate", "--checkpoint", dir, "-n", "1"]), "-n");
}

#[test]
fn explore_reproduces_the_tutorials_steps() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    for (step, file) in [("function", "function.png"), ("real", "real.png"), ("untrained", "untrained.png")] {
        let o = gan1d(&["explore", step, "--out", out]);
        assert!(o.status.success(), "{step}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{step} printed {}", stdout(&o));
        assert_eq!(&fs::read(tmp.path().join(file)).unwrap()[..4], b"\x89PNG", "{step}");
    }

    let o = gan1d(&["explore", "discriminator", "--out", out]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let rows: Vec<(u64, f64, f64)> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), 1000);
    assert_eq!(rows[999].0, 999);
    // As the tutorial's run ends: real points always recognised, most fakes too.
    let last: Vec<_> = rows[900..].to_vec();
    let mean = |f: fn(&(u64, f64, f64)) -> f64| last.iter().map(f).sum::<f64>() / last.len() as f64;
    assert!(mean(|r| r.1) > 0.97, "real accuracy {}", mean(|r| r.1));
    let fake = mean(|r| r.2);
    assert!((0.7..0.97).contains(&fake), "fake accuracy {fake}");
    assert_eq!(&fs::read(tmp.path().join("discriminator.png")).unwrap()[..4], b"\x89PNG");

    let o = gan1d(&["summary", "--diagram", out]);
    assert!(o.status.success(), "{}", stderr(&o));
    for file in ["discriminator_plot.png", "generator_plot.png", "gan_plot.png"] {
        assert_eq!(&fs::read(tmp.path().join(file)).unwrap()[..4], b"\x89PNG", "{file}");
    }
    let file = tmp.path().join("a-file");
    fs::write(&file, "x").unwrap();
    assert_refused(&gan1d(&["explore", "real", "--out", file.to_str().unwrap()]), "--out");
    assert_refused(&gan1d(&["summary", "--diagram", file.to_str().unwrap()]), "--diagram");
}

#[test]
fn sample_is_reproducible_and_writes_csv_and_plot() {
    let (dir, _) = trained();
    let dir = dir.to_str().unwrap();
    let a = gan1d(&["sample", "--checkpoint", dir, "-n", "250", "--seed", "9"]);
    let b = gan1d(&["sample", "--checkpoint", dir, "-n", "250", "--seed", "9"]);
    let c = gan1d(&["sample", "--checkpoint", dir, "-n", "250", "--seed", "10"]);
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
    assert_ne!(a.stdout, c.stdout);
    let text = stdout(&a);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("x,y"));
    let rows: Vec<(f32, f32)> = lines
        .map(|l| {
            let (x, y) = l.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), 250);

    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("s.csv");
    let png = tmp.path().join("s.png");
    let o = gan1d(&[
        "sample",
        "--checkpoint",
        dir,
        "-n",
        "250",
        "--seed",
        "9",
        "--out",
        csv.to_str().unwrap(),
        "--plot",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert_eq!(fs::read(&csv).unwrap(), a.stdout);
    assert_eq!(&fs::read(&png).unwrap()[..4], b"\x89PNG");
}

#[test]
fn summary_prints_the_three_tables() {
    let o = gan1d(&["summary"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(text.contains("Total params: 101"), "{text}");
    assert!(text.contains("Total params: 122"), "{text}");
    assert!(text.contains("Total params: 223\nTrainable params: 122\nNon-trainable params: 101"), "{text}");
}

#[test]
fn a_single_run_keeps_its_best_checkpoint_and_stops_when_it_no_longer_improves() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = dir.to_str().unwrap();
    let o = gan1d(&[
        "train",
        "--quiet",
        "--keep-best",
        "energy",
        "--patience",
        "3",
        "--epochs",
        "100000",
        "--eval-every",
        "200",
        "--out",
        out,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = stderr(&o);
    assert!(
        said.contains("stopped early after") && said.contains("has not improved for 3 evaluations"),
        "{said}"
    );
    // The metrics: the best evaluation is the one best/ holds, and three came after it.
    let metrics = fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let mut lines = metrics.lines();
    let energy = lines.next().unwrap().split(',').position(|h| h == "energy_distance").unwrap();
    let rows: Vec<(u64, f64)> = lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[0].parse().unwrap(), cells[energy].parse().unwrap())
        })
        .collect();
    let best = rows.iter().enumerate().min_by(|a, b| a.1.1.total_cmp(&b.1.1)).unwrap().0;
    assert_eq!(rows.len() - 1 - best, 3, "{metrics}");
    let manifest = |d: &Path| -> serde_json::Value {
        serde_json::from_str(&fs::read_to_string(d.join("config.json")).unwrap()).unwrap()
    };
    assert_eq!(manifest(&dir.join("best"))["iteration"].as_u64(), Some(rows[best].0 + 1));
    assert_eq!(manifest(&dir)["iteration"].as_u64(), Some(rows.last().unwrap().0 + 1));
    assert!(said.contains(&format!("after {} iterations", rows[best].0 + 1)), "{said}");
    // A run that stopped early has its end pictures, and its best checkpoint samples.
    for picture in ["curves.png", "training.gif"] {
        assert!(dir.join("plots").join(picture).is_file(), "{picture}");
    }
    let sampled = gan1d(&["sample", "--checkpoint", dir.join("best").to_str().unwrap(), "-n", "5"]);
    assert!(sampled.status.success(), "{}", stderr(&sampled));
    // Its live record says how it ended, for `gan1d serve` (which shows it finished).
    let live: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join(".gan1d.live.json")).unwrap()).unwrap();
    assert_eq!(live["state"], "stopped");
    // What cannot work is refused in one line.
    let other = tmp.path().join("other");
    let other = other.to_str().unwrap();
    for (flags, says) in [
        (vec!["--patience", "3"], "add --keep-best energy"),
        (vec!["--keep-best", "energy", "--seeds", "1,2"], "--keep-best and --patience are for a single run"),
        (vec!["--keep-best", "modes"], "--keep-best modes ranks by the modes of a mixture target"),
        (vec!["--keep-best", "energy", "--patience", "0"], "--patience must be at least 1"),
    ] {
        let mut args = vec!["train", "--out", other];
        args.extend(flags);
        assert_refused(&gan1d(&args), says);
        assert!(!Path::new(other).exists());
    }
}

#[test]
fn invalid_flags_are_refused_with_the_flags_name() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("never");
    let out = out.to_str().unwrap();
    for (args, needle) in [
        (vec!["train", "--epochs", "0"], "--epochs"),
        (vec!["train", "--batch", "3"], "--batch"),
        (vec!["train", "--batch", "1"], "--batch"),
        (vec!["train", "--batch", "0"], "--batch"),
        (vec!["train", "--batch", "-4"], "--batch"),
        (vec!["train", "--eval-every", "0"], "--eval-every"),
        (vec!["train", "--latent-dim", "0"], "--latent-dim"),
        (vec!["train", "--threads", "0"], "--threads"),
        (vec!["train", "--history-every", "0"], "--history-every"),
        (vec!["train", "--device", "tpu"], "--device"),
        (vec!["sample", "--checkpoint", "x", "-n", "0"], "-n"),
    ] {
        let mut full = args.clone();
        full.extend(["--out", out]);
        if args[0] == "sample" {
            full.truncate(args.len());
        }
        let o = gan1d(&full);
        assert_refused(&o, needle);
        assert!(!Path::new(out).exists(), "{args:?} started work");
    }
}

#[test]
fn an_unwritable_out_folder_is_refused_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    fs::write(&file, "x").unwrap();
    let below_file = file.join("run");
    let o = gan1d(&["train", "--epochs", "5", "--out", below_file.to_str().unwrap()]);
    assert_refused(&o, "--out");
    assert!(o.stdout.is_empty());

    let (dir, _) = trained();
    let o = gan1d(&["sample", "--checkpoint", dir.to_str().unwrap(), "--out", below_file.to_str().unwrap()]);
    assert_refused(&o, "--out");
}

#[test]
fn a_cuda_device_that_is_not_there_is_an_error_not_a_fallback() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    // Without CUDA, any CUDA device is refused; with it, the first number past the last device.
    let _ = gan1d::device::load_cuda();
    let (missing, needle) = if tch::Cuda::is_available() {
        (vec![format!("cuda:{}", tch::Cuda::device_count())], "CUDA device(s), numbered from 0")
    } else {
        (vec!["cuda".to_string(), "cuda:1".to_string()], "no CUDA device")
    };
    for device in &missing {
        let o = gan1d(&["train", "--device", device, "--epochs", "5", "--out", out]);
        assert_refused(&o, needle);
        assert!(!tmp.path().join("config.json").exists(), "{device}: a refused run wrote a checkpoint");
    }
}

#[test]
fn auto_device_says_what_it_picked() {
    let tmp = tempfile::tempdir().unwrap();
    let o = gan1d(&["train", "--epochs", "2", "--eval-every", "2", "--out", tmp.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("--device auto picked"), "{}", stderr(&o));
}

/// Damages a copy of the trained checkpoint with `damage`, then expects `sample` to refuse it
/// with exit code 2 and a message containing `needle`.
fn refused_after(damage: impl FnOnce(&Path), needle: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_of_trained(tmp.path());
    damage(&dir);
    let o = gan1d(&["sample", "--checkpoint", dir.to_str().unwrap(), "-n", "5"]);
    assert_refused(&o, needle);
    assert!(o.stdout.is_empty(), "wrote output: {}", stdout(&o));
}

fn generator(dir: &Path) -> PathBuf {
    part_file(dir, "generator")
}

#[test]
fn a_missing_checkpoint_says_to_train_first() {
    let tmp = tempfile::tempdir().unwrap();
    let o = gan1d(&["sample", "--checkpoint", tmp.path().join("none").to_str().unwrap()]);
    assert_refused(&o, "run `gan1d train");
    let o = gan1d(&["sample", "--checkpoint", tmp.path().to_str().unwrap()]);
    assert_refused(&o, "config.json is missing");
    refused_after(|d| fs::remove_file(generator(d)).unwrap(), "the file is missing");
}

#[test]
fn damaged_tensor_files_are_refused() {
    refused_after(|d| fs::write(generator(d), b"").unwrap(), "SHA-256");
    refused_after(
        |d| {
            fs::write(generator(d), b"").unwrap();
            reseal(d);
        },
        "the file is empty",
    );
    refused_after(
        |d| {
            let bytes = fs::read(generator(d)).unwrap();
            fs::write(generator(d), &bytes[..bytes.len() / 2]).unwrap();
            reseal(d);
        },
        "not a readable tensor file",
    );
    refused_after(
        |d| {
            let noise: Vec<u8> = (0..3000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
            fs::write(generator(d), noise).unwrap();
            reseal(d);
        },
        "not a readable tensor file",
    );
    refused_after(
        |d| {
            let mut bytes = fs::read(generator(d)).unwrap();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x10;
            fs::write(generator(d), bytes).unwrap();
        },
        "SHA-256",
    );
}

#[test]
fn tensors_of_another_shape_type_or_name_are_refused() {
    use tch::{Device, Kind, Tensor};
    let save = |d: &Path, vars: Vec<(&str, Tensor)>| {
        Tensor::save_multi(&vars, generator(d)).unwrap();
        reseal(d);
    };
    // The discriminator's weights where the generator's belong.
    refused_after(
        |d| {
            fs::copy(part_file(d, "discriminator"), generator(d)).unwrap();
            reseal(d);
        },
        "expected variable `hidden.bias` with shape [15], found [25]",
    );
    let zeros = |shape: &[i64]| Tensor::zeros(shape, (Kind::Float, Device::Cpu));
    type Edit = fn(&mut Vec<(&'static str, Tensor)>);
    let edits: [(Edit, &str); 5] = [
        (|v| v[0].1 = v[0].1.to_kind(Kind::Double), "of type float32, found Double"),
        (|v| v[1].1 = Tensor::zeros([1], (Kind::Float, Device::Cpu)), "with shape [15], found [1]"),
        (|v| drop(v.pop()), "`out.bias`, which is missing"),
        (
            |v| v.push(("extra", Tensor::zeros([1], (Kind::Float, Device::Cpu)))),
            "unexpected variable `extra`",
        ),
        (|v| v[0].1 = &v[0].1 / 0.0, "NaN or infinite"),
    ];
    for (edit, needle) in edits {
        refused_after(
            |d| {
                // The generator's own variables, all well formed, then one thing wrong.
                let mut vars = vec![
                    ("hidden.weight", zeros(&[15, 5])),
                    ("hidden.bias", zeros(&[15])),
                    ("out.weight", zeros(&[2, 15])),
                    ("out.bias", zeros(&[2])),
                ];
                edit(&mut vars);
                save(d, vars);
            },
            needle,
        );
    }
}

#[test]
fn a_bad_manifest_is_refused() {
    // Each edit is sealed, so it is the manifest's contents that are judged.
    let edit = |d: &Path, f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = common::read_manifest(d);
        f(&mut v);
        common::write_sealed(d, v);
    };
    refused_after(|d| fs::write(d.join("config.json"), "{ not json").unwrap(), "not valid JSON");
    refused_after(|d| fs::write(d.join("config.json"), "").unwrap(), "not valid JSON");
    refused_after(|d| fs::write(d.join("config.json"), [0xff, 0xfe, 0x7b]).unwrap(), "not UTF-8");
    refused_after(
        |d| edit(d, &|v| v["format_version"] = 99.into()),
        "was written by a newer gan1d (format version 99; this gan1d",
    );
    // A newer gan1d's file may hold fields, values and a seal this one does not know: the
    // version is judged before any of them.
    let newer = |d: &Path| {
        let mut v = common::read_manifest(d);
        v["format_version"] = 6.into();
        v["a_field_of_the_future"] = 1.into();
        v["train"]["loss"] = "a-loss-of-the-future".into();
        fs::write(d.join("config.json"), v.to_string()).unwrap();
    };
    refused_after(newer, "was written by a newer gan1d (format version 6;");
    refused_after(
        |d| edit(d, &|v| v["format_version"] = 1.into()),
        "format version 1 was written by an older",
    );
    refused_after(|d| edit(d, &|v| v["model"]["latent_dim"] = 0.into()), "--latent-dim must be at least 1");
    refused_after(
        |d| edit(d, &|v| v["model"]["latent_dim"] = 4.into()),
        "expected variable `hidden.weight` with shape [15, 4], found [15, 5]",
    );
    refused_after(|d| edit(d, &|v| v["model"]["generator_hidden"] = "wide".into()), "generator_hidden");
    refused_after(
        |d| edit(d, &|v| v["files"]["generator"]["name"] = "../x.ot".into()),
        "is not a generator tensor file name",
    );
    refused_after(|d| edit(d, &|v| v["iteration"] = 41.into()), "Adam steps");
    refused_after(|d| edit(d, &|v| v["surprise"] = true.into()), "unknown field `surprise`");
    // Any changed byte, unsealed, is caught by the manifest's own checksum.
    refused_after(
        |d| {
            let text = fs::read_to_string(d.join("config.json")).unwrap();
            fs::write(d.join("config.json"), text.replacen("\"seed\": 3", "\"seed\": 4", 1)).unwrap();
        },
        "do not match its own checksum",
    );
}

#[test]
fn the_shipped_generator_loads_and_draws_the_parabola() {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let o = gan1d(&["sample", "--checkpoint", models.to_str().unwrap(), "-n", "1000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let rows: Vec<(f64, f64)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let (x, y) = l.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), 1000);
    let residual = rows.iter().map(|(x, y)| (y - x * x).abs()).sum::<f64>() / 1000.0;
    assert!(residual < 0.02, "mean |y - x²| of the shipped generator: {residual}");
    let o = gan1d(&["summary", "--checkpoint", models.to_str().unwrap()]);
    assert!(stdout(&o).contains("Total params: 223"));
}

/// `make train` (`train --seed 42 --out models`) rebuilds the shipped run byte for byte: the
/// native engine gives the same bits on every CPU, and so do the logs, metrics and plots
/// computed from them. Only the libtorch version in `config.json` may differ, where a user's
/// own LIBTORCH is not the project's.
#[test]
fn the_shipped_run_is_rebuilt_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("models");
    let o = gan1d(&["train", "--seed", "42", "--device", "cpu", "--quiet", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let shipped = shipped_models();
    let mut files = Vec::new();
    for (name, theirs) in &shipped {
        files.push(name.clone());
        let ours = fs::read(out.join(name)).unwrap_or_else(|e| panic!("{}: {e}", name.display()));
        if name == Path::new("config.json") {
            let version = |b: &[u8]| {
                let text = String::from_utf8(b.to_vec()).unwrap();
                let line = text.lines().find(|l| l.contains("\"libtorch_version\"")).unwrap().to_string();
                text.replace(&line, "")
            };
            if version(&ours) == version(theirs) && &ours != theirs {
                eprintln!("config.json differs only in libtorch's version");
                continue;
            }
        }
        assert!(&ours == theirs, "{} differs from the shipped models/", name.display());
    }
    let made: Vec<PathBuf> = walk(&out).iter().map(|p| p.strip_prefix(&out).unwrap().to_path_buf()).collect();
    assert_eq!(made.len(), files.len(), "the run made {made:?}, models/ ships {files:?}");
    assert!(files.len() >= 13, "{files:?}");
}

/// The files of `models/` as the repository commits them (`git show HEAD:models/…`), so that a
/// `make train` before the tests, which rewrites `models/`, cannot make the comparison pass.
/// Outside a git checkout (a source archive), the files on disk.
fn shipped_models() -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let git = |args: &[&str]| std::process::Command::new("git").arg("-C").arg(root).args(args).output();
    match git(&["ls-tree", "-r", "--name-only", "HEAD", "models/"]) {
        Ok(listed) if listed.status.success() => {
            let names = String::from_utf8(listed.stdout).unwrap();
            names
                .lines()
                .map(|name| {
                    let shown = git(&["show", &format!("HEAD:{name}")]).unwrap();
                    assert!(shown.status.success(), "git show HEAD:{name}: {}", stderr(&shown));
                    (Path::new(name).strip_prefix("models").unwrap().to_path_buf(), shown.stdout)
                })
                .collect()
        }
        _ => {
            eprintln!("not a git checkout: comparing against models/ as it is on disk");
            let shipped = root.join("models");
            walk(&shipped)
                .into_iter()
                .map(|p| (p.strip_prefix(&shipped).unwrap().to_path_buf(), fs::read(&p).unwrap()))
                .collect()
        }
    }
}

/// Every file under `dir`, recursively, but the lock and what describes the session rather than
/// the run (the live record and the report, which name the command line and its folder).
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else if ![".gan1d.lock", ".gan1d.live.json", "report.html"]
            .contains(&path.file_name().unwrap().to_str().unwrap())
        {
            found.push(path);
        }
    }
    found
}

/// The dimensions of a PNG file and how many distinct colours it uses.
fn png_facts(path: &Path) -> ((u32, u32), usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let colours: std::collections::HashSet<&[u8]> = pixels[..frame.buffer_size()].chunks(3).collect();
    ((frame.width, frame.height), colours.len())
}

/// An evaluation's plot shows its 100 real points in red and 100 generated ones in blue: each
/// dot is about 28 pixels, and dots overlap, so a few hundred pixels of each at least.
#[test]
fn an_evaluation_plot_shows_the_real_and_the_generated_points() {
    let (dir, out) = trained();
    assert!(out.status.success(), "{}", stderr(out));
    let plot = dir.join("plots/iter_00039.png");
    let red = pixels_where(&plot, |r, g, b| r > 180 && g < 90 && b < 90);
    let blue = pixels_where(&plot, |r, g, b| b > 180 && r < 90 && g < 90);
    assert!(red > 400 && blue > 400, "red {red}, blue {blue} pixels");
    // Far fewer than the plot: points, not a flood of colour.
    assert!(red + blue < 800 * 600 / 10, "red {red}, blue {blue} pixels");
}

/// The discriminator's view in an evaluation plot: a heat map interpolated to the pixel (far
/// more shades than its 13-step scale has) and its colour bar, whose two ends are the scale's
/// purple and green, in the legend's column.
#[test]
fn an_evaluation_plot_shows_an_interpolated_heat_map_and_its_colour_bar() {
    let (dir, out) = trained();
    assert!(out.status.success(), "{}", stderr(out));
    let plot = dir.join("plots/iter_00039.png");
    let (purple, green) = ([176u8, 128, 220], [126u8, 204, 126]);
    let exactly = |c: [u8; 3]| pixels_where(&plot, move |r, g, b| [r, g, b] == c);
    assert!(
        exactly(purple) >= 10 && exactly(green) >= 10,
        "purple {}, green {}",
        exactly(purple),
        exactly(green)
    );
    // Pixels of heat: greenish or purplish. Blocks would each be one of the scale's 13 shades;
    // interpolated, most lie between two.
    let heat = |r: u8, g: u8, b: u8| (g > r && g > b && r == b) || (b > g && r > g && r < 250);
    let scale: [[u8; 3]; 13] = [
        [176, 128, 220],
        [190, 150, 228],
        [204, 172, 236],
        [218, 194, 243],
        [232, 216, 248],
        [245, 238, 252],
        [255, 255, 255],
        [236, 248, 236],
        [214, 240, 214],
        [192, 231, 192],
        [170, 222, 170],
        [148, 213, 148],
        [126, 204, 126],
    ];
    let all = pixels_where(&plot, heat);
    let on_scale = pixels_where(&plot, |r, g, b| heat(r, g, b) && scale.contains(&[r, g, b]));
    assert!(
        all > 2_000 && on_scale * 2 < all,
        "{all} pixels of heat, {on_scale} of them on the scale's shades"
    );
}

/// `sample --plot` of 10 000 points draws them faint, and the curve over them.
#[test]
fn a_sample_plot_of_many_points_draws_them_faint() {
    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("s.png");
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/models");
    let o = gan1d(&[
        "sample",
        "--checkpoint",
        shipped,
        "-n",
        "10000",
        "--plot",
        plot.to_str().unwrap(),
        "--out",
        "/dev/null",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let strong = pixels_where(&plot, |r, g, b| b > 180 && r < 90 && g < 90);
    let faint = pixels_where(&plot, |r, g, b| b > 180 && (90..250).contains(&r) && r == g);
    assert!(faint > 5_000 && strong < faint, "strong {strong}, faint {faint} pixels of blue");
}

#[test]
fn the_pictures_have_their_sizes_and_are_not_blank() {
    let (dir, out) = trained();
    assert!(out.status.success(), "{}", stderr(out));
    let plots = dir.join("plots");
    for (file, size) in
        [("iter_00019.png", (800, 600)), ("iter_00039.png", (800, 600)), ("curves.png", (900, 960))]
    {
        let (found, colours) = png_facts(&plots.join(file));
        assert_eq!(found, size, "{file}");
        // White, text, grid, the curve and two point colours at least.
        assert!(colours > 10, "{file} is nearly blank: {colours} colours");
    }
    let gif = fs::read(plots.join("training.gif")).unwrap();
    assert_eq!(&gif[..6], b"GIF89a");
    assert_eq!((u16::from_le_bytes([gif[6], gif[7]]), u16::from_le_bytes([gif[8], gif[9]])), (600, 360));
    assert!(gif.len() > 10_000, "the animation is nearly empty: {} bytes", gif.len());
}
