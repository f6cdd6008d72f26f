//! Targets in the plane: the mixtures of the mode-collapse literature, moons, a spiral and a
//! user's own points (`--data`), with their metrics, pictures and packing; hostile CSV files
//! and resumes that contradict the target or the packing are refused with nothing changed.

mod common;

use std::path::Path;

use common::{assert_refused, gan1d, read_manifest, stderr, stdout};

fn train(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["train", "--quiet", "--device", "cpu", "--out", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    gan1d(&args)
}

fn evaluate_json(dir: &Path, n: &str) -> serde_json::Value {
    let o = gan1d(&["evaluate", "--checkpoint", dir.to_str().unwrap(), "-n", n, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(stdout(&o).trim()).unwrap()
}

#[test]
fn a_mixture_is_trained_scored_by_its_modes_and_drawn_with_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ring");
    let o = train(&dir, &["--target", "ring", "--pack", "2", "--epochs", "200", "--eval-every", "100"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest = read_manifest(&dir);
    assert_eq!(manifest["train"]["target"]["expression"], "ring");
    assert_eq!(manifest["model"]["pack"], 2);

    let report = evaluate_json(&dir, "2500");
    let (generated, floor) = (&report["generated"], &report["real_floor"]);
    // A perfect sampler covers all 8 modes with about 98.9 % of its points within 3σ.
    assert_eq!(floor["modes_covered"], 8.0);
    assert_eq!(floor["modes"], 8.0);
    let hq = floor["high_quality_share"].as_f64().unwrap();
    assert!((0.98..=0.995).contains(&hq), "{hq}");
    // A generator 200 iterations old is far from that.
    let covered = generated["modes_covered"].as_f64().unwrap();
    assert!((0.0..=8.0).contains(&covered));
    assert!(generated["high_quality_share"].as_f64().unwrap() < hq);
    // The curve's metrics do not apply: null; the domain is a curve's.
    assert!(generated["residual_mean"].is_null() && report["domain"].is_null());
    assert!(generated["ks_y"].is_number() && generated["energy_distance"].is_number());

    // The text table names the mixture's metrics, not the curve's.
    let o = gan1d(&["evaluate", "--checkpoint", dir.to_str().unwrap(), "-n", "500"]);
    let text = stdout(&o);
    assert!(text.contains("target ring: 8 Gaussians, σ 0.01;"), "{text}");
    assert!(text.contains("modes covered") && !text.contains("residual"), "{text}");
    // Counts print as whole numbers: `modes  8  8`, not `8.00000`.
    let modes = text.lines().find(|l| l.starts_with("modes ") && !l.starts_with("modes covered")).unwrap();
    assert_eq!(modes.split_whitespace().collect::<Vec<_>>(), ["modes", "8", "8"], "{text}");
    let covered = text.lines().find(|l| l.starts_with("modes covered")).unwrap();
    assert!(!covered.contains('.'), "{text}");

    // metrics.csv keeps them at each evaluation; the pictures are drawn.
    let metrics = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert!(metrics.lines().next().unwrap().ends_with("ks_y,modes,modes_covered,high_quality_share"));
    for picture in ["iter_00199.png", "training.gif", "curves.png"] {
        assert!(dir.join("plots").join(picture).is_file(), "{picture}");
    }
    // sample draws 2-D points.
    let o = gan1d(&["sample", "--checkpoint", dir.to_str().unwrap(), "-n", "5"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(common::parse_csv(&stdout(&o)).len(), 5);
}

#[test]
fn every_plane_target_draws_its_own_points() {
    let tmp = tempfile::tempdir().unwrap();
    for target in ["grid", "moons", "spiral", "ring:3:0.1", "grid:2"] {
        let out = tmp.path().join(target.replace(':', "-"));
        let o = gan1d(&["explore", "real", "--target", target, "--out", out.to_str().unwrap()]);
        assert!(o.status.success(), "{target}: {}", stderr(&o));
        assert!(out.join("real.png").is_file());
    }
    let o = gan1d(&["explore", "function", "--target", "ring", "--out", tmp.path().to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("explore function draws a curve"), "{}", stderr(&o));
}

/// A user's points: learnt, recorded in the checkpoint (so that evaluating needs no file), and
/// measured against them with each coordinate's KS.
#[test]
fn your_own_points_are_learnt_and_kept_in_the_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("mine.csv");
    let mut text = String::from("x,y\n");
    for i in 0..200 {
        let t = i as f64 / 200.0 * std::f64::consts::TAU;
        text.push_str(&format!("{},{}\n", 3.0 + t.cos(), 2.0 * t.sin()));
    }
    std::fs::write(&csv, &text).unwrap();
    let dir = tmp.path().join("run");
    let o = train(&dir, &["--data", csv.to_str().unwrap(), "--epochs", "100", "--eval-every", "100"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest = read_manifest(&dir);
    let data = &manifest["train"]["target"]["data"];
    assert_eq!(data["file"], "mine.csv");
    assert_eq!(data["points"].as_array().unwrap().len(), 200);
    assert_eq!(manifest["format_version"], 4);
    std::fs::remove_file(&csv).unwrap();
    let report = evaluate_json(&dir, "1000");
    assert!(report["generated"]["ks"].is_number() && report["generated"]["ks_y"].is_number());
    assert!(report["generated"].get("modes_covered").is_none());
    // Real points against real points: close.
    assert!(report["real_floor"]["ks"].as_f64().unwrap() < 0.1);
    let o = gan1d(&["summary", "--checkpoint", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A `--data` ensemble keeps its points once, at its top; every member's manifest (and its
/// best's) names them by their SHA-256, and every command finds them from a member's folder.
#[test]
fn an_ensembles_points_are_kept_once_and_found_from_every_member() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("mine.csv");
    let rows: String =
        (0..5000).map(|i| format!("{},{}\n", (i % 71) as f64 * 0.1, (i % 13) as f64)).collect();
    std::fs::write(&csv, format!("x,y\n{rows}")).unwrap();
    let dir = tmp.path().join("ens");
    let o = train(
        &dir,
        &["--data", csv.to_str().unwrap(), "--seeds", "1,2", "--epochs", "20", "--eval-every", "10"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let kept = std::fs::read_to_string(dir.join("target-points.csv")).unwrap();
    assert_eq!(kept.lines().count(), 5001);
    for member in ["members/seed-1", "members/seed-2/best"] {
        let text = std::fs::read_to_string(dir.join(member).join("config.json")).unwrap();
        assert!(text.len() < 8_000 && !text.contains("\"points\""), "{member}: {} bytes", text.len());
        let data = &read_manifest(&dir.join(member))["train"]["target"]["data"];
        assert_eq!(data["file"], "mine.csv");
        assert_eq!(data["kept_beside"].as_str().unwrap().len(), 64);
        // A manifest that names points beside it says so by its version; others stay at 4.
        assert_eq!(read_manifest(&dir.join(member))["format_version"], 5);
        let o = gan1d(&["sample", "--checkpoint", dir.join(member).to_str().unwrap(), "-n", "5"]);
        assert!(o.status.success(), "{member}: {}", stderr(&o));
    }
    std::fs::remove_file(&csv).unwrap();
    assert!(evaluate_json(&dir, "500")["generated"]["ks_y"].is_number());
    let o =
        gan1d(&["train", "--quiet", "--device", "cpu", "--resume", dir.to_str().unwrap(), "--epochs", "30"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Other points in their place are not the run's.
    std::fs::write(dir.join("target-points.csv"), kept.replacen("0,0", "0,1", 1)).unwrap();
    assert_refused(
        &gan1d(&["sample", "--checkpoint", dir.to_str().unwrap()]),
        "target-points.csv, and no such file holding them",
    );
}

#[test]
fn hostile_data_files_are_refused_in_one_line_with_nothing_written() {
    let tmp = tempfile::tempdir().unwrap();
    let rows = |n: usize| (0..n).map(|i| format!("{i},{}\n", i * 2)).collect::<String>();
    let cases: Vec<(&str, String, &str)> = vec![
        ("header.csv", format!("a,b\n{}", rows(20)), "the first line must be the header `x,y`, got `a,b`"),
        ("word.csv", format!("x,y\n{}1,two\n", rows(20)), "line 22: `two` is not a number"),
        ("nan.csv", format!("x,y\n{}NaN,1\n", rows(20)), "line 22: NaN is not a finite number"),
        ("inf.csv", format!("x,y\n{}1,inf\n", rows(20)), "line 22: inf is not a finite number"),
        ("huge.csv", format!("x,y\n{}1,1e9\n", rows(20)), "1e9 is not a finite number within ±1e6"),
        ("three.csv", format!("x,y\n{}1,2,3\n", rows(20)), "line 22"),
        ("few.csv", format!("x,y\n{}", rows(5)), "5 points; at least 16 are needed"),
        ("empty.csv", String::new(), "the first line must be the header"),
    ];
    let dir = tmp.path().join("run");
    for (name, contents, needle) in &cases {
        let file = tmp.path().join(name);
        std::fs::write(&file, contents).unwrap();
        let o = train(&dir, &["--data", file.to_str().unwrap()]);
        assert_refused(&o, needle);
        assert_eq!(stderr(&o).trim().lines().count(), 1, "{name}: {}", stderr(&o));
        assert!(!dir.exists(), "{name} wrote {}", dir.display());
    }
    for (flags, needle) in [
        (vec!["--data", tmp.path().to_str().unwrap()], "it is a folder"),
        (vec!["--data", "/no/such/file.csv"], "--data /no/such/file.csv: cannot read it"),
        (vec!["--target", "ring", "--domain", "-1,1"], "--domain -1,1 is for a curve's x"),
        (vec!["--target", "ring:0"], "from 1 to 1024 are allowed"),
        (vec!["--target", "grid:5:7"], "SIGMA must be from 0.0001 to 1"),
        (vec!["--target", "x^2", "--seeds", "1,2", "--select", "modes"], "--select modes ranks by the modes"),
        (vec!["--target", "ring", "--pack", "3"], "--pack 3 must divide the 64 points"),
        (vec!["--pack", "0"], "--pack"),
        (vec!["--pack", "17"], "--pack"),
    ] {
        let o = train(&dir, &flags);
        assert_refused(&o, needle);
        assert!(!dir.exists(), "{flags:?} wrote {}", dir.display());
    }
}

#[test]
fn a_resume_that_contradicts_the_target_or_the_packing_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("grid");
    let o = train(&dir, &["--target", "grid", "--pack", "4", "--epochs", "20", "--eval-every", "20"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = tmp.path().join("other.csv");
    std::fs::write(&csv, (0..20).fold("x,y\n".to_string(), |s, i| format!("{s}{i},{i}\n"))).unwrap();
    let before = common::snapshot(&dir);
    for (flags, needle) in [
        (vec!["--target", "ring"], "--target ring contradicts the run's --target grid"),
        (vec!["--pack", "2"], "--pack 2 contradicts the run's --pack 4"),
        (vec!["--data", csv.to_str().unwrap()], "--data other.csv (20 points, sha256"),
    ] {
        let mut args =
            vec!["train", "--quiet", "--device", "cpu", "--resume", dir.to_str().unwrap(), "--epochs", "40"];
        args.extend_from_slice(&flags);
        let o = gan1d(&args);
        assert_refused(&o, needle);
        assert!(common::snapshot(&dir) == before, "{flags:?} changed the run");
    }
    let o =
        gan1d(&["train", "--quiet", "--device", "cpu", "--resume", dir.to_str().unwrap(), "--epochs", "40"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_manifest(&dir)["iteration"], 40);
}

#[test]
fn an_ensemble_of_a_mixture_is_ranked_by_its_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ens");
    let o = train(
        &dir,
        &[
            "--target",
            "ring",
            "--seeds",
            "1..3",
            "--select",
            "modes",
            "--epochs",
            "100",
            "--eval-every",
            "50",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let board = std::fs::read_to_string(dir.join("leaderboard.csv")).unwrap();
    let header: Vec<&str> = board.lines().next().unwrap().split(',').collect();
    let at = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let (score, covered, hq) = (at("score"), at("modes_covered"), at("high_quality_share"));
    for line in board.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let number = |i: usize| cells[i].parse::<f64>().unwrap();
        // The score is the modes missed plus the low-quality share.
        assert!((number(score) - ((8.0 - number(covered)) + (1.0 - number(hq)))).abs() < 1e-9, "{line}");
    }
    let o = gan1d(&["leaderboard", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `--recipe robust` on a target in the plane trains a generator of three layers of 64 with
/// BCE and WGAN-GP's penalty (λ 0.1) for 160 000 iterations, halving the step sizes every
/// 40 000; single flags still override it.
#[test]
fn the_robust_recipe_for_the_plane_penalises_and_decays() {
    let tmp = tempfile::tempdir().unwrap();
    let dir2 = tmp.path().join("short");
    let o = train(&dir2, &["--recipe", "robust", "--target", "ring", "--epochs", "10", "--eval-every", "10"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest = read_manifest(&dir2);
    let (m, t) = (&manifest["model"], &manifest["train"]);
    assert_eq!((m.get("pack"), t["lr_half_life"].as_u64()), (None, Some(40_000)));
    assert!(t.get("loss").is_none(), "bce is left out: {t}");
    assert_eq!((t["penalty"].as_str(), t["penalty_weight"].as_f64()), (Some("wgan-gp"), Some(0.1)));
    assert!(t.get("spectral_norm").is_none(), "no spectral normalisation: {t}");
    assert_eq!(m["generator_hidden"], serde_json::json!([64, 64, 64]));
    assert_eq!(m["discriminator_hidden"], serde_json::json!([64, 64]));
    let dir3 = tmp.path().join("packed");
    let o = train(
        &dir3,
        &["--recipe", "robust", "--target", "grid", "--pack", "2", "--penalty", "none", "--epochs", "10"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest = read_manifest(&dir3);
    assert_eq!(manifest["model"]["pack"].as_i64(), Some(2));
    assert!(manifest["train"].get("penalty").is_none() && manifest["train"].get("penalty_weight").is_none());
    // A curve keeps the curve's recipe: hinge, no penalty, no normalisation.
    let dir4 = tmp.path().join("curve");
    let o = train(&dir4, &["--recipe", "robust", "--epochs", "10", "--eval-every", "10"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t = &read_manifest(&dir4)["train"];
    assert_eq!(t["loss"].as_str(), Some("hinge"));
    assert!(t.get("penalty").is_none() && t.get("spectral_norm").is_none(), "{t}");
    // A switch set by hand beside the recipe, and turned off again.
    let dir5 = tmp.path().join("curve-normalised");
    let o = train(&dir5, &["--recipe", "robust", "--spectral-norm", "--epochs", "10"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_manifest(&dir5)["train"]["spectral_norm"].as_bool(), Some(true));
    let dir6 = tmp.path().join("curve-plain");
    let o = train(&dir6, &["--recipe", "robust", "--spectral-norm", "false", "--epochs", "10"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(read_manifest(&dir6)["train"].get("spectral_norm").is_none());
}

/// The largest data set allowed (100 000 points) is recorded in the checkpoint and read back;
/// one point more is refused.
#[test]
fn the_largest_data_set_round_trips_and_one_more_point_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let rows = |n: usize| {
        (0..n).fold(String::from("x,y\n"), |mut s, i| {
            s.push_str(&format!(
                "{},{}\n",
                (i as f64 * 0.618_034).fract() * 2.0 - 1.0,
                (i as f64 * 0.414_213).fract()
            ));
            s
        })
    };
    let (largest, over) = (tmp.path().join("largest.csv"), tmp.path().join("over.csv"));
    std::fs::write(&largest, rows(100_000)).unwrap();
    std::fs::write(&over, rows(100_001)).unwrap();
    let dir = tmp.path().join("run");
    let o = train(&dir, &["--data", largest.to_str().unwrap(), "--epochs", "2", "--eval-every", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_manifest(&dir)["train"]["target"]["data"]["points"].as_array().unwrap().len(), 100_000);
    evaluate_json(&dir, "100");
    let o = train(&tmp.path().join("other"), &["--data", over.to_str().unwrap()]);
    assert_refused(&o, "more than 100000 points; keep a sample of them");
}
