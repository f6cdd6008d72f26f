//! The tutorial's extensions from the command line: other targets and domains, architectures,
//! activations and tanh scaling. Each option is recorded in the checkpoint, taken from it by
//! `sample`, `evaluate`, `summary` and `--resume`, and contradicted only with a refusal.

mod common;

use std::path::Path;

use common::*;

fn train(dir: &Path, extra: &[&str]) -> std::process::Output {
    let out = dir.to_str().unwrap();
    let mut args = vec!["train", "--out", out, "--quiet", "--device", "cpu", "--seed", "3"];
    args.extend_from_slice(extra);
    gan1d(&args)
}

/// The tanh run's target and activation flags: y = 10x on [2, 4), whose data live in
/// [2, 4) × [20, 40), far from tanh's (-1, 1).
const RUN_FLAGS: [&str; 8] =
    ["--target", "10*x", "--domain", "2,4", "--activation", "leaky-relu:0.2", "--g-output", "tanh"];

#[test]
fn a_tanh_run_records_every_option_and_scales_every_generated_point_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let mut flags = vec!["--epochs", "60", "--eval-every", "30", "--g-hidden", "16,8", "--d-hidden", "12"];
    flags.extend(RUN_FLAGS);
    let o = train(&dir, &flags);
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest = read_manifest(&dir);
    assert_eq!(manifest["format_version"], 4);
    assert_eq!(manifest["train"]["target"]["expression"], "10*x");
    assert_eq!(manifest["train"]["target"]["domain"], serde_json::json!([2.0, 4.0]));
    assert_eq!(manifest["model"]["activation"], "leaky-relu:0.2");
    assert_eq!(manifest["model"]["generator_output"], "tanh");
    assert_eq!(manifest["model"]["generator_hidden"], serde_json::json!([16, 8]));
    assert_eq!(manifest["scaling"]["x"], serde_json::json!({"center": 3.0, "half_width": 1.0}));
    let y = &manifest["scaling"]["y"];
    assert!((y["center"].as_f64().unwrap() - 30.0).abs() < 1e-6, "{y}");
    assert!((y["half_width"].as_f64().unwrap() - 10.0).abs() < 1e-3, "{y}");

    // Every point leaves a tanh generator inside the scaled box, so on the data's axes it lies
    // in [2, 4] × [20, 40]; unscaled, it would be in (-1, 1)².
    let o = gan1d(&["sample", "--checkpoint", dir.to_str().unwrap(), "-n", "500"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let points = parse_csv(&stdout(&o));
    assert_eq!(points.len(), 500);
    assert!(
        points.iter().all(|&(x, y)| (2.0..=4.0).contains(&x) && (20.0..=40.0).contains(&y)),
        "{:?}",
        &points[..5]
    );
    // The points cover both halves of the domain, not one side of it.
    assert!(points.iter().any(|&(x, _)| x > 3.0) && points.iter().any(|&(x, _)| x < 3.0));

    // evaluate names the target and measures against it: the metric evaluation logged by train
    // agrees on the domain share (every x inside).
    let o = gan1d(&["evaluate", "--checkpoint", dir.to_str().unwrap(), "-n", "500", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(report["target"], "10*x");
    assert_eq!(report["domain"], serde_json::json!([2.0, 4.0]));
    assert!(report["generated"]["share_in_domain"].as_f64().unwrap() > 0.99, "{report}");
    // The real floor is measured on the target's own points: on the curve, spread over [2, 4).
    assert!(report["real_floor"]["residual_mean"].as_f64().unwrap() < 1e-5, "{report}");
    assert!(report["real_floor"]["ks"].as_f64().unwrap() < 0.1, "{report}");

    // summary describes the recorded architecture.
    let o =
        gan1d(&["summary", "--checkpoint", dir.to_str().unwrap(), "--diagram", tmp.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    // Generator 5·16+16 + 16·8+8 + 8·2+2 = 250; discriminator 2·12+12 + 12+1 = 49.
    for needle in ["hidden2 (Dense)", "Total params: 250", "Total params: 49", "Total params: 299"] {
        assert!(text.contains(needle), "missing {needle}: {text}");
    }
    assert!(tmp.path().join("generator_plot.png").is_file());

    // Resuming takes everything from the checkpoint; matching flags are accepted, others refused.
    let resume = |extra: &[&str]| {
        let mut args =
            vec!["train", "--resume", dir.to_str().unwrap(), "--quiet", "--device", "cpu", "--epochs", "90"];
        args.extend_from_slice(extra);
        gan1d(&args)
    };
    for (flag, value, shown, _) in [
        ("--target", "x^2", "x^2", "target"),
        ("--domain", "-1,1", "-1,1", "domain"),
        ("--activation", "relu", "relu", "activation"),
        ("--activation", "leaky-relu", "leaky-relu:0.3", "activation"),
        ("--g-output", "linear", "linear", "g_output"),
        ("--g-hidden", "16", "16", "g_hidden"),
    ] {
        let before = std::fs::read(dir.join("config.json")).unwrap();
        let o = resume(&[flag, value]);
        assert_refused(&o, &format!("{flag} {shown} contradicts the run's {flag}"));
        assert_eq!(std::fs::read(dir.join("config.json")).unwrap(), before, "{flag} changed the run");
    }
    // The same flags as the run's: accepted.
    let o = resume(&RUN_FLAGS);
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest = read_manifest(&dir);
    assert_eq!(manifest["iteration"], 90);
    assert_eq!(manifest["train"]["target"]["expression"], "10*x");
}

#[test]
fn every_built_in_target_trains_and_is_recorded_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["square", "cube", "sine", "gaussian", "quadratic", "multimodal"] {
        let dir = tmp.path().join(name);
        let o = train(&dir, &["--epochs", "20", "--eval-every", "20", "--target", name, "--domain", "-1,1"]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert_eq!(read_manifest(&dir)["train"]["target"]["expression"], name);
        let o = gan1d(&["evaluate", "--checkpoint", dir.to_str().unwrap(), "-n", "200", "--json"]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let report: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
        assert!(report["real_floor"]["residual_mean"].as_f64().unwrap() < 1e-6, "{name}: {report}");
        assert!(dir.join("plots").join("iter_00019.png").is_file(), "{name}");
    }
}

#[test]
fn bad_experiment_flags_are_refused_in_one_line_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    for (flags, needle) in [
        (vec!["--target", "sin(3*x"], "--target `sin(3*x`: expected an operator or `)` at character 8"),
        (vec!["--target", "2x"], "at character 2 (found `x`"),
        (vec!["--target", "y^2"], "unknown name `y` at character 1"),
        (vec!["--target", "log(x)"], "is not finite at x = -0.5"),
        (vec!["--target", "1/x", "--domain", "-1,1"], "not finite at x = 0"),
        (vec!["--domain", "1,-1"], "--domain must be LO,HI with LO < HI"),
        (vec!["--domain", "0"], "--domain must be LO,HI"),
        (vec!["--activation", "sigmoid"], "--activation must be relu, leaky-relu[:SLOPE], tanh or elu"),
        (vec!["--activation", "leaky-relu:1.5"], "slope must be a number from 0 to below 1"),
        (vec!["--g-output", "elu"], "--g-output must be linear or tanh"),
    ] {
        let o = train(&dir, &flags);
        assert_refused(&o, needle);
        assert_eq!(stderr(&o).trim().lines().count(), 1, "{flags:?}: {}", stderr(&o));
        assert!(!dir.exists(), "{flags:?} created the run folder");
    }
    let o = gan1d(&["explore", "function", "--out", tmp.path().to_str().unwrap(), "--target", "sin(("]);
    assert_refused(&o, "--target `sin((`");
}

#[test]
fn explore_draws_other_targets_on_other_domains() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    for command in ["function", "real"] {
        let o = gan1d(&["explore", command, "--out", out, "--target", "gaussian", "--domain", "-1,3"]);
        assert!(o.status.success(), "{command}: {}", stderr(&o));
        assert!(tmp.path().join(format!("{command}.png")).is_file());
    }
}

#[test]
fn summary_follows_the_architecture_flags() {
    let o = gan1d(&["summary", "--g-hidden", "32,16", "--d-hidden", "8", "--activation", "tanh"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for needle in
        ["hidden2 (Dense)             (None, 16)                528", "Total params: 754", "Total params: 33"]
    {
        assert!(text.contains(needle), "missing {needle}: {text}");
    }
    let o = gan1d(&["summary", "--checkpoint", "models", "--g-hidden", "4"]);
    assert_refused(&o, "--g-hidden");
}

#[test]
fn a_checkpoint_of_gan1d_0_2_reads_as_the_tutorials_target() {
    // The run gan1d 0.2 shipped in models/, kept as it was.
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gan1d-0.2-run");
    let manifest = read_manifest(&models);
    // Written before the target, activations and scaling were recorded.
    assert_eq!(manifest["format_version"], 2);
    assert!(manifest["train"].get("target").is_none() && manifest.get("scaling").is_none());
    let o = gan1d(&["evaluate", "--checkpoint", models.to_str().unwrap(), "-n", "2000", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(report["target"], "x^2");
    assert_eq!(report["domain"], serde_json::json!([-0.5, 0.5]));
    assert!(report["generated"]["residual_mean"].as_f64().unwrap() < 0.02, "{report}");
}

#[test]
fn a_resealed_manifest_with_an_impossible_target_or_scaling_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let o = train(&dir, &["--epochs", "10", "--eval-every", "10", "--g-output", "tanh"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pristine = read_manifest(&dir);
    for (what, edit, needle) in [
        (
            "target",
            ("train", "target", serde_json::json!({"expression": "log(x)", "domain": [-0.5, 0.5]})),
            "is not finite at x = -0.5",
        ),
        (
            "syntax",
            ("train", "target", serde_json::json!({"expression": "x +", "domain": [-0.5, 0.5]})),
            "at character 4",
        ),
        (
            "domain",
            ("train", "target", serde_json::json!({"expression": "x^2", "domain": [1.0, 0.0]})),
            "train.target.domain: the domain must be LO,HI with LO < HI",
        ),
        ("activation", ("model", "activation", serde_json::json!("swish")), "model.activation: must be relu"),
        (
            "scaling",
            ("scaling", "y", serde_json::json!({"center": 0.0, "half_width": 0.0})),
            "the scaling must have",
        ),
    ] {
        let mut manifest = pristine.clone();
        let (section, field, value) = edit;
        manifest[section][field] = value;
        write_sealed(&dir, manifest);
        for command in [
            &["sample", "--checkpoint", dir.to_str().unwrap(), "-n", "3"][..],
            &["evaluate", "--checkpoint", dir.to_str().unwrap()],
        ] {
            let o = gan1d(command);
            assert_refused(&o, needle);
            assert!(stderr(&o).contains("invalid checkpoint file"), "{what}: {}", stderr(&o));
            assert!(o.stdout.is_empty(), "{what}: {}", stdout(&o));
        }
    }
    write_sealed(&dir, pristine);
    assert!(gan1d(&["sample", "--checkpoint", dir.to_str().unwrap(), "-n", "3"]).status.success());
}
