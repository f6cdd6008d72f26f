//! Ensembles: K runs trained at once. A member must take the step its seed takes alone (to
//! float32 rounding, from a shared state), a diverging member must not stop the others, and
//! the folder an ensemble writes must work with every command.

mod common;

use std::fs;
use std::path::Path;
use std::thread::sleep;
use std::time::Duration;

use common::step::{disagreement, member, state};
use common::{
    assert_no_panic, assert_refused, finish, gan1d, read_manifest, send, spawn_train, stderr, stdout,
    wait_for,
};
use gan1d::config::{EngineKind, ModelConfig, TrainConfig};
use gan1d::engine::{Net, NetState, StepLosses};
use gan1d::evaluate::EvalReport;
use gan1d::train::{FitEnd, Observer, Start, Status, Trainer};
use tch::Device;

fn single(seed: u64, cfg: &TrainConfig) -> Trainer {
    single_with(EngineKind::Native, seed, cfg)
}

fn single_with(kind: EngineKind, seed: u64, cfg: &TrainConfig) -> Trainer {
    tch::set_num_threads(1);
    Trainer::new(
        &ModelConfig::default(),
        &TrainConfig { seed, ..cfg.clone() },
        kind,
        Device::Cpu,
        None,
        Start::fresh(&[seed]),
    )
    .unwrap()
}

/// The run whose members are `runs` (one member each, all at one iteration), in their states.
fn together(runs: &[Trainer], cfg: &TrainConfig) -> Trainer {
    together_with(EngineKind::Native, runs, cfg)
}

fn together_with(kind: EngineKind, runs: &[Trainer], cfg: &TrainConfig) -> Trainer {
    let seeds: Vec<u64> = runs.iter().map(|r| r.cfg().seed).collect();
    let stack = |net: Net| {
        let rows: Vec<NetState> = runs.iter().map(|r| r.engine().export(net)).collect();
        NetState::stack(&rows.iter().collect::<Vec<_>>(), rows[0].steps)
    };
    let start = Start {
        seeds,
        saved: Some((runs[0].iteration(), [stack(Net::Generator), stack(Net::Discriminator)])),
        statuses: Vec::new(),
    };
    Trainer::new(&ModelConfig::default(), cfg, kind, Device::Cpu, None, start).unwrap()
}

#[test]
fn a_member_takes_the_step_its_seed_takes_alone() {
    for kind in [EngineKind::Native, EngineKind::Fused] {
        members_step_as_alone(kind);
    }
}

fn members_step_as_alone(kind: EngineKind) {
    let cfg = TrainConfig::default();
    let seeds = [3u64, 8, 21, 1 << 40];
    let (mut worst, mut bitwise, mut compared) = (0.0f64, 0, 0);
    for at in [0u64, 40, 300] {
        let mut alone: Vec<Trainer> = seeds.iter().map(|&s| single_with(kind, s, &cfg)).collect();
        for run in &mut alone {
            for _ in 0..at {
                let _ = run.step();
            }
        }
        let before: Vec<_> =
            alone.iter().map(|t| [state(t, Net::Generator), state(t, Net::Discriminator)]).collect();
        let mut ensemble = together_with(kind, &alone, &cfg);
        let _ = ensemble.step();
        for (k, run) in alone.iter_mut().enumerate() {
            let _ = run.step();
            assert_eq!(ensemble.iteration(), run.iteration());
            for (i, net) in Net::BOTH.into_iter().enumerate() {
                let (ours, theirs) = (member(&ensemble, k, net), state(run, net));
                let (ratio, what) = disagreement(&before[k][i], &ours, &theirs);
                assert!(
                    ratio <= 1.0,
                    "seed {} at {at}, {net:?}: {ratio:.3} of the allowance: {what}",
                    seeds[k]
                );
                worst = worst.max(ratio);
                compared += 1;
                let same = ours.vars.iter().zip(&theirs.vars).all(|((_, a), (_, b))| a.equal(b))
                    && ours.m.equal(&theirs.m)
                    && ours.v.equal(&theirs.v);
                bitwise += same as usize;
                assert_eq!(ours.steps, theirs.steps);
            }
        }
    }
    println!(
        "{kind}: member against single run: worst {worst:.4} of the allowance; {bitwise} of {compared} states \
         bit-identical"
    );
    if kind == EngineKind::Native {
        assert_eq!(bitwise, compared, "the native engine's members step exactly as their seeds alone");
    }
}

/// Counts what the ensemble reports.
#[derive(Default)]
struct Record {
    diverged: Vec<(usize, u64)>,
    evaluations: Vec<Vec<Option<f64>>>,
}

impl Observer for Record {
    fn stepped(&mut self, _: &mut Trainer, _: &StepLosses) -> anyhow::Result<()> {
        Ok(())
    }
    fn progress(&mut self, _: &Trainer, _: &[(f64, f64, f64)]) -> anyhow::Result<()> {
        Ok(())
    }
    fn diverged(&mut self, _: &Trainer, member: usize, iteration: u64, _: &str) -> anyhow::Result<()> {
        self.diverged.push((member, iteration));
        Ok(())
    }
    fn evaluated(&mut self, _: &mut Trainer, reports: &[Option<EvalReport>]) -> anyhow::Result<()> {
        self.evaluations.push(reports.iter().map(|r| r.as_ref().map(|r| r.metrics.residual_mean)).collect());
        Ok(())
    }
}

#[test]
fn a_diverging_member_is_frozen_and_the_others_go_on() {
    let cfg = TrainConfig { epochs: 300, eval_every: 100, ..TrainConfig::default() };
    let members: Vec<Trainer> = [1u64, 2, 3].iter().map(|&s| single(s, &cfg)).collect();
    let healthy_start = together(&members, &cfg);
    // Member 1's generator gets an infinite weight: its losses stop being finite at once.
    let poisoned = healthy_start.engine().export(Net::Generator);
    let _ = poisoned.params.narrow(0, 1, 1).narrow(1, 0, 1).fill_(f64::INFINITY);
    let start = Start {
        seeds: vec![1, 2, 3],
        saved: Some((0, [poisoned, healthy_start.engine().export(Net::Discriminator)])),
        statuses: Vec::new(),
    };
    let mut ensemble =
        Trainer::new(&ModelConfig::default(), &cfg, EngineKind::Native, Device::Cpu, None, start).unwrap();
    let mut record = Record::default();
    assert_eq!(ensemble.fit(&mut record).unwrap(), FitEnd::Completed);
    assert_eq!(record.diverged, [(1, 99)]);
    assert_eq!(ensemble.status(1), Status::Diverged(99));
    assert_eq!(record.evaluations.len(), 3);
    for evaluation in &record.evaluations {
        assert!(evaluation[1].is_none(), "a frozen member was evaluated");
        assert!(evaluation[0].unwrap().is_finite() && evaluation[2].unwrap().is_finite());
    }
    // The others trained exactly as they do beside a healthy member: its numbers stay in its
    // own rows.
    let mut healthy = together(&members, &cfg);
    let mut healthy_record = Record::default();
    healthy.fit(&mut healthy_record).unwrap();
    for (poisoned, healthy) in record.evaluations.iter().zip(&healthy_record.evaluations) {
        assert_eq!((poisoned[0], poisoned[2]), (healthy[0], healthy[2]));
    }
}

fn train(args: &[&str]) -> std::process::Output {
    let mut all = vec!["train", "--device", "cpu", "--quiet"];
    all.extend_from_slice(args);
    gan1d(&all)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ensemble_manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(dir.join("ensemble.json")).unwrap()).unwrap()
}

/// `leaderboard.csv` as (rank, seed, score, best_iteration) rows.
fn leaderboard(dir: &Path) -> Vec<(u64, u64, f64, u64)> {
    let text = fs::read_to_string(dir.join("leaderboard.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (rank, seed, score, best) =
        (column("rank"), column("seed"), column("score"), column("best_iteration"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[rank].parse().unwrap(),
                f[seed].parse().unwrap(),
                f[score].parse().unwrap(),
                f[best].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn an_ensemble_writes_member_run_folders_a_leaderboard_and_small_multiples() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ens");
    let o = train(&["--seeds", "3..5,9", "--epochs", "400", "--eval-every", "200", "--out", path(&dir)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 2, "one line per evaluation: {}", stdout(&o));
    let manifest = ensemble_manifest(&dir);
    assert_eq!(manifest["seeds"], serde_json::json!([3, 4, 5, 9]));
    assert_eq!((manifest["select"].as_str(), manifest["iteration"].as_u64()), (Some("energy"), Some(400)));
    for seed in [3, 4, 5, 9] {
        let member = dir.join(format!("members/seed-{seed}"));
        assert_eq!(read_manifest(&member)["iteration"], 400);
        assert_eq!(read_manifest(&member)["seed"], seed);
        let metrics = fs::read_to_string(member.join("metrics.csv")).unwrap();
        assert_eq!(metrics.lines().count(), 3, "{metrics}");
        assert_eq!(fs::read_to_string(member.join("history.csv")).unwrap().lines().count(), 41);
        assert!(read_manifest(&member.join("best"))["iteration"].as_u64().unwrap() <= 400);
        // The frames a single run keeps: points with the discriminator's view, and its heat map.
        let frames = fs::read_to_string(member.join("frames.csv")).unwrap();
        let column = frames.lines().next().unwrap().split(',').position(|c| c == "realness").unwrap();
        let (mut points, mut cells) = (0, 0);
        for row in frames.lines().skip(1) {
            let fields: Vec<&str> = row.split(',').collect();
            assert!(fields[column].parse::<f32>().unwrap().is_finite(), "seed {seed}: {row}");
            if fields.contains(&"cell") { cells += 1 } else { points += 1 }
        }
        assert!(points > 0 && cells == points * 300 / 200, "seed {seed}: {points} points, {cells} cells");
    }
    for iteration in ["00199", "00399"] {
        // Four panels of generated points in blue: a few hundred pixels at least, not a flood.
        let plot = dir.join(format!("plots/members_{iteration}.png"));
        let blue = common::pixels_where(&plot, |r, g, b| b > 180 && r < 140 && g < 140);
        assert!((300..100_000).contains(&blue), "{} blue pixels in {}", blue, plot.display());
    }
    // Ranked by score, lowest first, each member once.
    let rows = leaderboard(&dir);
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert!(rows.windows(2).all(|w| w[0].2 <= w[1].2), "{rows:?}");
    let mut seeds: Vec<u64> = rows.iter().map(|r| r.1).collect();
    seeds.sort();
    assert_eq!(seeds, [3, 4, 5, 9]);
    // Each member's best checkpoint is its best evaluation.
    for &(_, seed, score, best) in &rows {
        let best_dir = dir.join(format!("members/seed-{seed}/best"));
        assert_eq!(read_manifest(&best_dir)["iteration"].as_u64(), Some(best + 1));
        let metrics = fs::read_to_string(dir.join(format!("members/seed-{seed}/metrics.csv"))).unwrap();
        let column = metrics.lines().next().unwrap().split(',').position(|c| c == "energy_distance").unwrap();
        let energies: Vec<f64> =
            metrics.lines().skip(1).map(|l| l.split(',').nth(column).unwrap().parse().unwrap()).collect();
        assert_eq!(energies.iter().copied().fold(f64::INFINITY, f64::min), score);
    }

    // The folder itself means its best member, named on stderr; --member picks another.
    let best_seed = rows[0].1;
    let o = gan1d(&["sample", "--checkpoint", path(&dir), "-n", "5"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("using seed {best_seed}'s best checkpoint")), "{}", stderr(&o));
    let member = dir.join(format!("members/seed-{best_seed}/best"));
    let direct = gan1d(&["sample", "--checkpoint", path(&member), "-n", "5"]);
    assert_eq!(stdout(&o), stdout(&direct));
    let o = gan1d(&["evaluate", "--checkpoint", path(&dir), "--member", "9", "-n", "500", "--json"]);
    assert!(o.status.success() && stderr(&o).contains("seed 9"), "{}", stderr(&o));
    let o = gan1d(&["summary", "--checkpoint", path(&dir)]);
    assert!(o.status.success() && stdout(&o).contains("Trainable params: 122"), "{}", stderr(&o));
    assert_refused(
        &gan1d(&["sample", "--checkpoint", path(&dir), "--member", "6"]),
        "no member with that seed",
    );
    // A member's folder is a run of one member: it names its own seed and no other.
    assert_refused(
        &gan1d(&["sample", "--checkpoint", path(&member), "--member", "6"]),
        "no member with that seed",
    );
    let own =
        gan1d(&["sample", "--checkpoint", path(&member), "--member", &best_seed.to_string(), "-n", "5"]);
    assert_eq!(stdout(&own), stdout(&direct));
    assert!(own.status.success(), "{}", stderr(&own));

    // A member folder is an ordinary run: it resumes alone.
    let o = train(&["--resume", path(&dir.join("members/seed-4")), "--epochs", "450"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_manifest(&dir.join("members/seed-4"))["iteration"], 450);

    // An ensemble never replaces a folder.
    let before = common::snapshot(&dir);
    assert_refused(&train(&["--seeds", "1..2", "--out", path(&dir)]), "already holds a run");
    assert_refused(&train(&["--seeds", "1..2", "--overwrite", "--out", path(&dir)]), "never replaces");
    // Nor does a single run's --overwrite replace an ensemble's folder.
    assert_refused(&train(&["--epochs", "20", "--overwrite", "--out", path(&dir)]), "holds an ensemble");
    assert_eq!(common::snapshot(&dir), before);
}

#[test]
fn bad_seed_lists_are_refused_in_one_line_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("never");
    for (list, needle) in [
        ("1..3,2", "seed 2 twice"),
        ("5..1", "empty"),
        ("1..5000", "more than 4096"),
        ("a,b", "is not a seed"),
        ("", "is not a seed"),
    ] {
        let o = train(&["--seeds", list, "--out", path(&out)]);
        assert_refused(&o, needle);
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    }
    assert_refused(&train(&["--seeds", "1..2", "--seed", "3", "--out", path(&out)]), "--seed");
    assert_refused(&train(&["--seeds", "1..2", "--engine", "autograd", "--out", path(&out)]), "--engine");
    assert_refused(&train(&["--select", "ks", "--out", path(&out)]), "--seeds");
    assert_refused(
        &train(&["--seeds", "1..2", "--select", "best", "--out", path(&out)]),
        "not a ranking metric",
    );
    assert!(!out.exists());
    // The reference engine trains a run of one member, whichever flag names its seed.
    let o = train(&[
        "--seeds",
        "5",
        "--engine",
        "autograd",
        "--epochs",
        "20",
        "--eval-every",
        "10",
        "--out",
        path(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_manifest(&out.join("members/seed-5"))["iteration"], 20);
}

#[test]
fn an_ensemble_resumed_is_the_ensemble_never_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let (straight, resumed) = (tmp.path().join("straight"), tmp.path().join("resumed"));
    let common = ["--seeds", "2,7,8", "--eval-every", "150", "--select", "residual"];
    let o = train(&[&common[..], &["--epochs", "450", "--out", path(&straight)]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let o = train(&[&common[..], &["--epochs", "300", "--out", path(&resumed)]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_refused(&train(&["--resume", path(&resumed), "--batch", "64"]), "contradicts");
    let o = train(&["--resume", path(&resumed), "--epochs", "450"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same_members(&straight, &resumed, &[2, 7, 8]);
    assert_eq!(
        fs::read(straight.join("leaderboard.csv")).unwrap(),
        fs::read(resumed.join("leaderboard.csv")).unwrap()
    );
}

/// Every member of the two ensembles holds the same checkpoint and logs, byte for byte.
fn assert_same_members(a: &Path, b: &Path, seeds: &[u64]) {
    for seed in seeds {
        let (ma, mb) = (a.join(format!("members/seed-{seed}")), b.join(format!("members/seed-{seed}")));
        for part in ["generator", "discriminator", "optimizer"] {
            for (x, y) in [(ma.clone(), mb.clone()), (ma.join("best"), mb.join("best"))] {
                let (fx, fy) = (common::part_file(&x, part), common::part_file(&y, part));
                assert_eq!(fx.file_name(), fy.file_name());
                assert!(
                    fs::read(&fx).unwrap() == fs::read(&fy).unwrap(),
                    "seed {seed}: {} differs",
                    fy.display()
                );
            }
        }
        // The animation's frames follow the run's total, which a resume may change.
        for log in ["metrics.csv", "history.csv"] {
            assert!(
                fs::read(ma.join(log)).unwrap() == fs::read(mb.join(log)).unwrap(),
                "seed {seed}: {log} differs"
            );
        }
    }
}

#[test]
fn sigint_stops_every_member_with_a_checkpoint_and_the_resume_is_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ens");
    let child =
        spawn_train(&["--seeds", "4..6", "--epochs", "1000000", "--eval-every", "300", "--out", path(&dir)]);
    wait_for(&dir.join("members/seed-6/config.json"));
    sleep(Duration::from_millis(150));
    send(&child, "INT");
    let o = finish(child);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert_no_panic(&o);
    let reached = ensemble_manifest(&dir)["iteration"].as_u64().unwrap();
    assert!(err.contains(&format!("stopped by SIGINT after {reached} of 1000000 iterations")), "{err}");
    assert!(
        err.contains(&format!("resume with: gan1d train --resume {} --device cpu --quiet", path(&dir))),
        "{err}"
    );
    for seed in 4..=6 {
        assert_eq!(
            read_manifest(&dir.join(format!("members/seed-{seed}")))["iteration"].as_u64(),
            Some(reached)
        );
    }
    let total = (reached + 37).to_string();
    let o = train(&["--resume", path(&dir), "--epochs", &total]);
    assert!(o.status.success(), "{}", stderr(&o));
    let straight = tmp.path().join("straight");
    let o = train(&["--seeds", "4..6", "--epochs", &total, "--eval-every", "300", "--out", path(&straight)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same_members(&straight, &dir, &[4, 5, 6]);
}

#[test]
fn kill_9_during_an_ensemble_leaves_every_member_loadable() {
    let tmp = tempfile::tempdir().unwrap();
    for (round, delay) in [350u64, 500, 650].into_iter().enumerate() {
        let dir = tmp.path().join(format!("ens{round}"));
        let child = spawn_train(&[
            "--seeds",
            "1..4",
            "--epochs",
            "1000000",
            "--checkpoint-every",
            "7",
            "--out",
            path(&dir),
        ]);
        wait_for(&dir.join("ensemble.json"));
        sleep(Duration::from_millis(delay));
        send(&child, "KILL");
        let _ = finish(child);
        for seed in 1..=4 {
            let member = dir.join(format!("members/seed-{seed}"));
            if member.join("config.json").exists() {
                let o = gan1d(&["sample", "--checkpoint", path(&member), "-n", "3"]);
                assert!(o.status.success(), "seed {seed} after kill -9: {}", stderr(&o));
            }
        }
        // Resuming continues every member, bringing level those a kill left behind, exactly as
        // an ensemble that was never stopped.
        let total = (ensemble_manifest(&dir)["iteration"].as_u64().unwrap() + 20).to_string();
        let o = train(&["--resume", path(&dir), "--epochs", &total]);
        assert!(o.status.success(), "{}", stderr(&o));
        let straight = tmp.path().join(format!("straight{round}"));
        let o = train(&["--seeds", "1..4", "--epochs", &total, "--out", path(&straight)]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_same_members(&straight, &dir, &[1, 2, 3, 4]);
    }
}

#[test]
fn members_saved_at_different_iterations_are_brought_level_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, kept, straight) =
        (tmp.path().join("ens"), tmp.path().join("kept"), tmp.path().join("straight"));
    let o = train(&["--seeds", "1..3", "--epochs", "20", "--eval-every", "10", "--out", path(&dir)]);
    assert!(o.status.success(), "{}", stderr(&o));
    common::copy_tree(&dir.join("members/seed-2"), &kept);
    let o = train(&["--resume", path(&dir), "--epochs", "30"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // As a stop in the middle of a checkpoint round leaves it: member 2 still after 20
    // iterations, the others and the manifest after 30.
    fs::remove_dir_all(dir.join("members/seed-2")).unwrap();
    common::copy_tree(&kept, &dir.join("members/seed-2"));
    let o = train(&["--resume", path(&dir), "--epochs", "40"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("training those behind to 30 first"), "{}", stderr(&o));
    let o = train(&["--seeds", "1..3", "--epochs", "40", "--eval-every", "10", "--out", path(&straight)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same_members(&straight, &dir, &[1, 2, 3]);
}

#[test]
fn a_refused_resume_of_an_ensemble_changes_no_member() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ens");
    let o = train(&["--seeds", "1..3", "--epochs", "40", "--eval-every", "20", "--out", path(&dir)]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Member 3's manifest is damaged; members 1 and 2 come first and are fine.
    let manifest = dir.join("members/seed-3/config.json");
    let text = fs::read_to_string(&manifest).unwrap();
    fs::write(&manifest, text.replacen("\"iteration\": 40", "\"iteration\": 41", 1)).unwrap();
    let before = common::snapshot(&dir);
    // A new total rewrites the animation's frames of every member it resumes.
    assert_refused(&train(&["--resume", path(&dir), "--epochs", "100"]), "member 3");
    assert!(common::snapshot(&dir) == before, "a refused resume changed the folder");
}

#[test]
fn a_damaged_ensemble_manifest_is_refused_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ens");
    let o = train(&["--seeds", "1,2", "--epochs", "20", "--eval-every", "10", "--out", path(&dir)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let good = ensemble_manifest(&dir);
    let with = |key: &str, value: serde_json::Value| {
        let mut m = good.clone();
        m[key] = value;
        m.to_string()
    };
    for (damaged, needle) in [
        (with("extra", 1.into()), "unknown field"),
        (with("seeds", serde_json::json!([1, 1])), "distinct"),
        (with("seeds", serde_json::json!([])), "distinct"),
        (with("format_version", 9.into()), "written by a newer gan1d (format version 9;"),
        (
            serde_json::json!({"format_version": 3, "select": "a-metric-of-the-future", "more": 1})
                .to_string(),
            "written by a newer gan1d (format version 3;",
        ),
        (with("format_version", 0.into()), "no format version this gan1d reads"),
        (with("select", "best".into()), "ensemble manifest"),
        (with("diverged", serde_json::json!({"5": 3})), "diverged member 5"),
        ("{".to_string(), "ensemble manifest"),
    ] {
        fs::write(dir.join("ensemble.json"), &damaged).unwrap();
        let before = common::snapshot(&dir);
        for o in [
            train(&["--resume", path(&dir), "--epochs", "30"]),
            gan1d(&["sample", "--checkpoint", path(&dir)]),
            gan1d(&["leaderboard", path(&dir)]),
        ] {
            assert_refused(&o, needle);
        }
        assert_eq!(common::snapshot(&dir).len(), before.len());
    }
}

#[test]
fn leaderboard_merges_the_parts_of_a_split_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("part-a"), tmp.path().join("part-b"));
    for (dir, seeds) in [(&a, "1..2"), (&b, "3..4")] {
        let o = train(&["--seeds", seeds, "--epochs", "200", "--eval-every", "100", "--out", path(dir)]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = gan1d(&["leaderboard", path(&a), path(&b), "--csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 4, "{text}");
    let ranks: Vec<&str> = rows.iter().map(|r| r.split(',').next().unwrap()).collect();
    assert_eq!(ranks, ["1", "2", "3", "4"]);
    let mut all = leaderboard(&a);
    all.extend(leaderboard(&b));
    all.sort_by(|x, y| x.2.total_cmp(&y.2));
    let seeds: Vec<String> = rows.iter().map(|r| r.split(',').nth(1).unwrap().to_string()).collect();
    assert_eq!(seeds, all.iter().map(|r| r.1.to_string()).collect::<Vec<_>>());
    let table = gan1d(&["leaderboard", path(&a), path(&b)]);
    assert!(table.status.success() && stdout(&table).lines().count() == 5, "{}", stdout(&table));
    assert_refused(&gan1d(&["leaderboard", path(&a), path(&a)]), "name the same run folder");
    // A single run's folder ranks as its one member.
    let one = gan1d(&["leaderboard", path(&a.join("members/seed-1")), "--csv"]);
    assert!(one.status.success(), "{}", stderr(&one));
    let rows: Vec<String> = stdout(&one).lines().skip(1).map(String::from).collect();
    assert_eq!(rows.len(), 1, "{}", stdout(&one));
    assert!(rows[0].starts_with("1,1,trained,"), "{}", rows[0]);
    assert_refused(&gan1d(&["leaderboard", path(&a.join("members"))]), "not a run folder");
}

#[test]
fn leaderboard_compares_configurations_on_the_same_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = |name: &str| tmp.path().join(name);
    // Two losses on seeds 1 and 2, the hinge one split across two folders (one seed each).
    for (name, seeds, loss) in [("bce", "1..2", "bce"), ("hinge-a", "1", "hinge"), ("hinge-b", "2", "hinge")]
    {
        let o = train(&[
            "--seeds",
            seeds,
            "--loss",
            loss,
            "--epochs",
            "200",
            "--eval-every",
            "100",
            "--out",
            path(&dir(name)),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let folders = [dir("bce"), dir("hinge-a"), dir("hinge-b")];
    let all = folders.each_ref().map(|f| path(f));
    let o = gan1d(&[&["leaderboard", "--csv"], &all[..]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("4 members") && stderr(&o).contains("2 configurations that differ in loss"),
        "{}",
        stderr(&o)
    );
    let text = stdout(&o);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[header.len() - 2..], ["loss", "folder"], "{text}");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4, "{text}");
    assert_eq!(rows.iter().map(|r| r[0]).collect::<Vec<_>>(), ["1", "2", "3", "4"]);
    let scores: Vec<f64> = rows.iter().map(|r| r[5].parse().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] <= w[1]), "{scores:?}");
    // Each seed once per configuration, each row naming its configuration's loss.
    let mut pairs: Vec<(&str, &str)> = rows.iter().map(|r| (r[1], r[r.len() - 2])).collect();
    pairs.sort();
    assert_eq!(pairs, [("1", "(default)"), ("1", "hinge"), ("2", "(default)"), ("2", "hinge")]);
    // The table puts the configurations first, by their median.
    let table = stdout(&gan1d(&[&["leaderboard"], &all[..]].concat()));
    assert!(table.starts_with("configurations, by the median energy distance"), "{table}");
    assert_eq!(table.lines().filter(|l| l.contains("hinge")).count(), 3, "{table}");
    // One configuration in two folders still needs its own seeds; another target is refused.
    let twice = train(&[
        "--seeds",
        "2",
        "--loss",
        "hinge",
        "--epochs",
        "200",
        "--eval-every",
        "100",
        "--out",
        path(&dir("again")),
    ]);
    assert!(twice.status.success(), "{}", stderr(&twice));
    assert_refused(&gan1d(&["leaderboard", path(&dir("hinge-b")), path(&dir("again"))]), "seed 2 is in both");
    let sine = train(&[
        "--seeds",
        "1",
        "--target",
        "sine",
        "--epochs",
        "100",
        "--eval-every",
        "100",
        "--out",
        path(&dir("sine")),
    ]);
    assert!(sine.status.success(), "{}", stderr(&sine));
    let o = gan1d(&["leaderboard", path(&dir("bce")), path(&dir("sine"))]);
    assert_refused(&o, "only runs of one target and domain");
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

/// Makes member `seed` of the ensemble in `dir` diverge on its next iteration: its generator's
/// output layer becomes 3e38 throughout, finite but overflowing at once (the manifest is
/// re-sealed).
fn poison(dir: &Path, seed: u64) {
    let member = dir.join(format!("members/seed-{seed}"));
    let file = common::part_file(&member, "generator");
    let mut vars = tch::Tensor::load_multi(&file).unwrap();
    for (name, tensor) in &mut vars {
        if name.starts_with("out.") {
            let _ = tensor.fill_(3e38);
        }
    }
    tch::Tensor::save_multi(&vars, &file).unwrap();
    common::reseal(&member);
}

#[test]
fn a_member_that_diverges_is_marked_frozen_and_kept_in_its_place_on_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let (once, twice) = (tmp.path().join("once"), tmp.path().join("twice"));
    for dir in [&once, &twice] {
        let o = train(&["--seeds", "1..3", "--epochs", "200", "--eval-every", "100", "--out", path(dir)]);
        assert!(o.status.success(), "{}", stderr(&o));
        poison(dir, 2);
    }
    let poisoned = fs::read(common::part_file(&once.join("members/seed-2"), "generator")).unwrap();
    let o = train(&["--resume", path(&twice), "--epochs", "400"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("seed 2 diverged after iteration 299"), "{}", stderr(&o));
    assert_eq!(ensemble_manifest(&twice)["diverged"], serde_json::json!({"2": 299}));
    let board = fs::read_to_string(twice.join("leaderboard.csv")).unwrap();
    assert!(board.lines().any(|l| l.contains(",2,diverged,299,")), "{board}");
    // Resumed again, it holds its place and the others go on exactly as in one session.
    let o = train(&["--resume", path(&twice), "--epochs", "600"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = train(&["--resume", path(&once), "--epochs", "600"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same_members(&once, &twice, &[1, 3]);
    for dir in [&once, &twice] {
        let member = dir.join("members/seed-2");
        assert_eq!(read_manifest(&member)["iteration"], 200, "a frozen member's checkpoint stays");
        assert!(fs::read(common::part_file(&member, "generator")).unwrap() == poisoned);
        assert_eq!(ensemble_manifest(dir)["iteration"], 600);
    }
    assert_eq!(
        fs::read(once.join("leaderboard.csv")).unwrap(),
        fs::read(twice.join("leaderboard.csv")).unwrap()
    );
}

#[test]
fn an_ensemble_that_fails_before_its_first_checkpoint_takes_away_what_it_wrote() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ens");
    let o =
        train(&["--seeds", "1..3", "--learning-rate", "1e8", "--eval-every", "1000", "--out", path(&dir)]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("every member of the ensemble has diverged"), "{}", stderr(&o));
    assert!(stderr(&o).contains("is as it was"), "{}", stderr(&o));
    assert_no_panic(&o);
    assert!(!dir.join("ensemble.json").exists() && !dir.join("members").exists());
    // So the same command can run again there.
    let o = train(&["--seeds", "1..2", "--epochs", "20", "--eval-every", "10", "--out", path(&dir)]);
    assert!(o.status.success(), "{}", stderr(&o));
}
