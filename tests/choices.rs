//! The training choices from the command line: recorded in the checkpoint, continued exactly by
//! a resume, refused when a resume contradicts them, expanded from a recipe with single flags
//! overriding it, and refused in one line when bad.

mod common;

use common::{assert_refused, gan1d, read_manifest, stderr, stdout};

const CHOICES: [&str; 25] = [
    "--loss",
    "hinge",
    "--d-steps",
    "2",
    "--lr-g",
    "0.002",
    "--lr-d",
    "0.0005",
    "--beta1",
    "0.5",
    "--beta2",
    "0.99",
    "--latent",
    "uniform",
    "--lr-half-life",
    "10",
    "--penalty",
    "wgan-gp",
    "--penalty-weight",
    "5",
    "--spectral-norm",
    "--keep-best",
    "ks",
    "--patience",
    "1000",
];

fn train(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["train", "--quiet", "--device", "cpu", "--out", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    gan1d(&args)
}

#[test]
fn choices_are_recorded_continued_exactly_and_contradictions_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let straight = tmp.path().join("straight");
    let o = train(&straight, &[&["--epochs", "40", "--eval-every", "20"], &CHOICES[..]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest = read_manifest(&straight);
    let t = &manifest["train"];
    assert_eq!((t["loss"].as_str(), t["d_steps"].as_u64()), (Some("hinge"), Some(2)));
    assert_eq!((t["lr_g"].as_f64(), t["lr_d"].as_f64()), (Some(0.002), Some(0.0005)));
    assert_eq!((t["adam"]["beta1"].as_f64(), t["adam"]["beta2"].as_f64()), (Some(0.5), Some(0.99)));
    assert_eq!(manifest["model"]["latent"], "uniform");
    assert_eq!(t["lr_half_life"].as_u64(), Some(10));
    assert_eq!((t["penalty"].as_str(), t["penalty_weight"].as_f64()), (Some("wgan-gp"), Some(5.0)));
    assert_eq!(t["spectral_norm"].as_bool(), Some(true));
    assert_eq!((t["keep_best"].as_str(), t["patience"].as_u64()), (Some("ks"), Some(1000)));
    // Two rounds of two discriminator updates per iteration.
    assert_eq!(manifest["discriminator_adam_steps"], 160);
    assert_eq!(manifest["generator_adam_steps"], 40);

    // Half the run, then a resume to the same total: the same weights, bit for bit.
    let halves = tmp.path().join("halves");
    let o = train(&halves, &[&["--epochs", "20", "--eval-every", "20"], &CHOICES[..]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let resume = |extra: &[&str]| {
        let mut args = vec!["train", "--quiet", "--device", "cpu", "--resume", halves.to_str().unwrap()];
        args.extend_from_slice(extra);
        gan1d(&args)
    };
    for (flag, value, _, stored) in [
        ("--loss", "bce", "loss", "hinge"),
        ("--d-steps", "1", "d_steps", "2"),
        ("--lr-g", "0.001", "lr_g", "0.002"),
        ("--lr-d", "0.001", "lr_d", "0.0005"),
        ("--beta1", "0.9", "beta1", "0.5"),
        ("--beta2", "0.999", "beta2", "0.99"),
        ("--latent", "normal", "latent", "uniform"),
        ("--recipe", "robust", "recipe", "tutorial"),
        ("--lr-half-life", "7", "lr_half_life", "10"),
        ("--penalty", "dragan", "penalty", "wgan-gp"),
        // An unset weight would be the default, 10: no match for the run's 5.
        ("--penalty-weight", "10", "penalty_weight", "5"),
        ("--keep-best", "energy", "keep_best", "ks"),
        ("--patience", "5", "patience", "1000"),
    ] {
        let before = std::fs::read(halves.join("config.json")).unwrap();
        let o = resume(&["--epochs", "40", flag, value]);
        assert_refused(&o, &format!("{flag} {value} contradicts the run's {flag} {stored}"));
        assert_eq!(std::fs::read(halves.join("config.json")).unwrap(), before, "{flag} changed the run");
    }
    let o = resume(&[&["--epochs", "40"], &CHOICES[..]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    for part in ["generator-000040.ot", "discriminator-000040.ot", "optimizer-000040.ot"] {
        let (a, b) = (std::fs::read(straight.join(part)).unwrap(), std::fs::read(halves.join(part)).unwrap());
        assert!(a == b, "{part} differs after a resume");
    }
    // So is the best checkpoint kept by --keep-best.
    let best = |dir: &std::path::Path| read_manifest(&dir.join("best"))["files"]["generator"]["name"].clone();
    assert_eq!(best(&straight), best(&halves));
    let name = best(&straight).as_str().unwrap().to_string();
    let generator = |dir: &std::path::Path| std::fs::read(dir.join("best").join(&name)).unwrap();
    assert!(generator(&straight) == generator(&halves), "the best checkpoints differ after a resume");
    // The animation's frames, heat maps and pulls included, are those of the straight run.
    let frames = |dir: &std::path::Path| std::fs::read_to_string(dir.join("frames.csv")).unwrap();
    assert!(frames(&straight).contains(",cell,"), "no heat map in the frames");
    assert_eq!(frames(&straight), frames(&halves));
    assert!(halves.join("plots").join("training.gif").is_file());
}

#[test]
fn a_recipe_sets_the_defaults_and_single_flags_override_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("robust");
    let o = train(
        &dir,
        &["--recipe", "robust", "--epochs", "30", "--eval-every", "30", "--loss", "bce", "--g-hidden", "8"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest = read_manifest(&dir);
    let (t, m) = (&manifest["train"], &manifest["model"]);
    assert_eq!(t["recipe"], "robust");
    // Given beside the recipe: the flags' values.
    // (config.json leaves out a choice that is the tutorial's: no `loss` means bce.)
    assert_eq!((t.get("loss"), t["epochs"].as_u64()), (None, Some(30)));
    assert_eq!(m["generator_hidden"], serde_json::json!([8]));
    // Left out: the recipe's.
    assert_eq!(m["discriminator_hidden"], serde_json::json!([64, 64]));
    assert_eq!((m["generator_output"].as_str(), t["adam"]["beta1"].as_f64()), (Some("tanh"), Some(0.5)));

    // summary shows what the recipe expanded to, from the flags and from the checkpoint.
    let o = gan1d(&["summary", "--recipe", "robust"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for needle in [
        "hidden2 (Dense)",
        "Training (recipe robust):",
        "hinge",
        " 20000",
        "penalty                     none",
        "spectral-norm               no",
    ] {
        assert!(text.contains(needle), "missing {needle}: {text}");
    }
    let o = gan1d(&["summary", "--checkpoint", dir.to_str().unwrap()]);
    let text = stdout(&o);
    assert!(text.contains("Training (recipe robust):") && text.contains(" bce"), "{text}");
    // The tutorial's summary stays the tutorial's three tables.
    assert!(!stdout(&gan1d(&["summary"])).contains("Training"));
}

#[test]
fn bad_choices_are_refused_in_one_line_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    for (flags, needle) in [
        (
            vec!["--loss", "mse"],
            "`mse` is not a loss: use bce, least-squares, hinge, relativistic, wasserstein",
        ),
        (vec!["--d-steps", "0"], "--d-steps must be at least 1, got 0"),
        (vec!["--d-steps", "1000"], "--d-steps must be at most 100"),
        (vec!["--beta1", "1"], "--beta1 must be from 0 to below 1, got 1"),
        (vec!["--beta2", "-0.1"], "--beta2 must be from 0 to below 1, got -0.1"),
        (vec!["--beta2", "nan"], "--beta2 must be from 0 to below 1, got nan"),
        (vec!["--lr-g", "-1"], "--lr-g must be a positive number"),
        (vec!["--lr-d", "x"], "--lr-d must be a number"),
        (vec!["--latent", "cauchy"], "`cauchy` is not a latent distribution: use normal, uniform"),
        (vec!["--recipe", "fast"], "`fast` is not a recipe: use tutorial, robust"),
        (vec!["--penalty", "gp"], "`gp` is not a penalty: use none, r1, r2, wgan-gp, dragan"),
        (vec!["--penalty", "r1", "--penalty-weight", "-1"], "--penalty-weight must be a positive number"),
        (vec!["--penalty", "r1", "--penalty-weight", "inf"], "--penalty-weight must be a positive number"),
        (vec!["--penalty", "r2", "--penalty-weight", "nan"], "--penalty-weight must be a positive number"),
        (vec!["--penalty", "dragan", "--penalty-weight", "0"], "--penalty-weight must be a positive number"),
        (
            vec!["--penalty-weight", "1"],
            "--penalty-weight 1 weighs a penalty, and the run has none: add --penalty r1, r2, wgan-gp or \
             dragan, or leave --penalty-weight out",
        ),
        (vec!["--penalty", "none", "--penalty-weight", "1"], "--penalty-weight 1 weighs a penalty"),
        (vec!["--penalty", "r1", "--penalty-weight", "1e-50"], "--penalty-weight 1e-50 is 0 in float32"),
    ] {
        let o = train(&dir, &flags);
        assert_refused(&o, needle);
        assert_eq!(o.status.code(), Some(2), "{flags:?}");
        assert!(!dir.exists(), "{flags:?} wrote {}", dir.display());
    }
}

/// Each loss learns the tutorial's x² from the tutorial's networks in 4 000 iterations: over
/// four seeds, the median residual is within a sixth of the curve's height (measured: 0.011 to
/// 0.030; a loss with a sign wrong, or D's and G's terms swapped, does not learn at all).
#[test]
fn every_loss_learns_the_tutorials_parabola() {
    let tmp = tempfile::tempdir().unwrap();
    for loss in ["bce", "least-squares", "hinge", "relativistic"] {
        let mut residuals = Vec::new();
        for seed in ["1", "2", "3", "4"] {
            let dir = tmp.path().join(format!("{loss}-{seed}"));
            let o =
                train(&dir, &["--loss", loss, "--seed", seed, "--epochs", "4000", "--eval-every", "4000"]);
            assert!(o.status.success(), "{loss}: {}", stderr(&o));
            let o = gan1d(&["evaluate", "--checkpoint", dir.to_str().unwrap(), "-n", "2000", "--json"]);
            let report: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
            residuals.push(report["generated"]["residual_mean"].as_f64().unwrap());
        }
        residuals.sort_by(f64::total_cmp);
        let median = (residuals[1] + residuals[2]) / 2.0;
        eprintln!("{loss}: residuals {residuals:?}");
        assert!(median < 0.04, "{loss}: median residual {median} ({residuals:?})");
    }
}
