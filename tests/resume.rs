//! Never losing a run, with real processes: exact resume, stopping on SIGINT and SIGTERM,
//! `kill -9` at random moments, divergence, a full disk, and a folder another run holds.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::thread::sleep;
use std::time::Duration;

use common::{
    BIN, assert_no_panic, assert_refused, finish, gan1d, read_manifest, send, snapshot, spawn_train, stderr,
    stdout, wait_for,
};

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `gan1d train` with `args`, on the CPU, quietly.
fn train(args: &[&str]) -> Output {
    let mut all = vec!["train", "--device", "cpu", "--quiet"];
    all.extend_from_slice(args);
    gan1d(&all)
}

/// The folder's files but the lock, which holds no data.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    // The lock, and what describes a session rather than the run: the live record and the
    // report, which name the session's command line.
    let session =
        |name: &str| [".gan1d.lock", ".gan1d.live.json", "report.html"].iter().any(|s| name.ends_with(s));
    snapshot(dir).into_iter().filter(|(name, _)| !session(name)).collect()
}

#[test]
fn four_thousand_straight_equal_two_thousand_then_a_resume_to_four_thousand() {
    let tmp = tempfile::tempdir().unwrap();
    let (straight, split) = (tmp.path().join("straight"), tmp.path().join("split"));
    let a = train(&["--seed", "6", "--epochs", "4000", "--out", path(&straight)]);
    assert!(a.status.success(), "{}", stderr(&a));
    let b1 = train(&["--seed", "6", "--epochs", "2000", "--out", path(&split)]);
    assert!(b1.status.success(), "{}", stderr(&b1));
    let b2 = train(&["--resume", path(&split), "--epochs", "4000"]);
    assert!(b2.status.success(), "{}", stderr(&b2));
    assert!(stderr(&b2).contains("resuming"), "{}", stderr(&b2));

    assert_eq!(stdout(&a), stdout(&b1) + &stdout(&b2), "the printed evaluations differ");
    // Every file, weights, optimiser state, logs, plots and animation, byte for byte.
    let (left, right) = (contents(&straight), contents(&split));
    let names = |files: &[(String, Vec<u8>)]| files.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&left), names(&right));
    for ((name, x), (_, y)) in left.iter().zip(&right) {
        assert!(x == y, "{name} differs between the straight and the resumed run");
    }
    let sample = |dir: &Path| stdout(&gan1d(&["sample", "--checkpoint", path(dir), "-n", "500"]));
    assert_eq!(sample(&straight), sample(&split));
}

/// A run that keeps its best checkpoint and stops on patience, killed with `kill -9` partway
/// and resumed, ends as the same run trained straight: its `best/`, the iteration it stopped
/// at and every other file, byte for byte.
#[test]
fn keep_best_and_patience_survive_kill_9_and_resume_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let (straight, killed) = (tmp.path().join("straight"), tmp.path().join("killed"));
    let run = |out: &Path| -> Vec<String> {
        [
            "--seed",
            "4",
            "--epochs",
            "6000",
            "--eval-every",
            "100",
            "--keep-best",
            "ks",
            "--patience",
            "8",
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([path(out).to_string()])
        .collect()
    };
    let args = run(&straight);
    let a = train(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(a.status.success(), "{}", stderr(&a));
    let kill_args = run(&killed);
    let child = spawn_train(&kill_args.iter().map(String::as_str).collect::<Vec<_>>());
    wait_for(&killed.join("best").join("config.json"));
    sleep(Duration::from_millis(150));
    send(&child, "KILL");
    let _ = finish(child);
    let reached = read_manifest(&killed)["iteration"].as_u64().unwrap();
    let b = train(&["--resume", path(&killed)]);
    assert!(b.status.success(), "{}", stderr(&b));
    let (left, right) = (contents(&straight), contents(&killed));
    let names = |files: &[(String, Vec<u8>)]| files.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&left), names(&right));
    for ((name, x), (_, y)) in left.iter().zip(&right) {
        assert!(
            x == y,
            "{name} differs between the straight run and the one killed after {reached} iterations"
        );
    }
    assert!(left.iter().any(|(name, _)| name.starts_with("best/")), "no best checkpoint kept");
    let stopped = read_manifest(&straight)["iteration"].as_u64().unwrap();
    assert!(reached < stopped && stopped < 6000, "killed after {reached}, stopped after {stopped}: no test");
    eprintln!("killed after {reached} iterations; both ended after {stopped} (of 6000)");
}

#[test]
fn resuming_with_flags_that_contradict_the_run_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let o = train(&["--seed", "2", "--epochs", "30", "--eval-every", "10", "--out", path(&dir)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = contents(&dir);
    let d = path(&dir);
    for (flags, needle) in [
        (&["--batch", "64"][..], "--batch 64 contradicts the run's --batch 128"),
        (&["--latent-dim", "3"], "--latent-dim 3 contradicts the run's --latent-dim 5"),
        (&["--seed", "1"], "--seed 1 contradicts the run's --seed 2"),
        (&["--eval-every", "5"], "--eval-every 5 contradicts the run's --eval-every 10"),
        (&["--history-every", "3"], "--history-every 3 contradicts the run's --history-every 10"),
        (&["--learning-rate", "0.01"], "--learning-rate 0.01 contradicts the run's --learning-rate 0.001"),
        (&["--epochs", "20"], "--epochs 20 is below the 30 iterations the run has done"),
    ] {
        let mut args = vec!["--resume", d, "--epochs", "60"];
        if flags.first() == Some(&"--epochs") {
            args.truncate(2);
        }
        args.extend_from_slice(flags);
        assert_refused(&train(&args), needle);
        assert!(contents(&dir) == before, "a refused resume changed the folder ({flags:?})");
    }
    assert_refused(&train(&["--resume", path(&tmp.path().join("none"))]), "no checkpoint at");
    let o = train(&["--resume", d, "--out", d]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
    // Flags that repeat the run's own values are fine.
    // Flags that repeat the run's own values are fine, however written: a network's rate that
    // the run left to the shared one, a target with spaces.
    let o = train(&[
        "--resume",
        d,
        "--epochs",
        "40",
        "--batch",
        "128",
        "--seed",
        "2",
        "--eval-every",
        "10",
        "--lr-g",
        "0.001",
        "--target",
        " x ^ 2 ",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_manifest(&dir)["iteration"], 40);
}

/// A stop between an evaluation's checkpoint and its plot (a `kill -9`, a full disk) leaves a
/// run whose last plot is missing and a temporary file behind: made here by taking them away.
/// Every picture is there after a resume, byte for byte those of a run never stopped.
#[test]
fn a_resume_draws_the_pictures_a_stop_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let (straight, split) = (tmp.path().join("straight"), tmp.path().join("split"));
    let o = train(&["--seed", "3", "--epochs", "60", "--eval-every", "20", "--out", path(&straight)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = train(&["--seed", "3", "--epochs", "40", "--eval-every", "20", "--out", path(&split)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lose = |dir: &Path, last: &str| {
        for name in [last, "curves.png", "training.gif"] {
            fs::remove_file(dir.join("plots").join(name)).unwrap();
        }
        fs::write(dir.join("plots/.training.gif.x1y2z3.tmp"), b"half a gif").unwrap();
        fs::write(dir.join(".config.json.a1b2c3.tmp"), b"half a manifest").unwrap();
    };
    lose(&split, "iter_00039.png");
    let o = train(&["--resume", path(&split), "--epochs", "60"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("iter_00039.png, which the run had not drawn"), "{}", stderr(&o));
    let whole = contents(&straight);
    assert!(contents(&split) == whole, "the resumed run's files differ from the straight run's");
    // A finished run that lost its end pictures: a resume with nothing to train draws them.
    lose(&straight, "iter_00059.png");
    let o = train(&["--resume", path(&straight)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("had already done its 60 iterations"), "{}", stderr(&o));
    assert!(contents(&straight) == whole, "the completed pictures differ");
    // And again: nothing to do, nothing changed.
    let o = train(&["--resume", path(&straight), "--epochs", "60"]);
    assert!(o.status.success() && contents(&straight) == whole, "{}", stderr(&o));
    // An ensemble's small multiples, and temporaries at its top.
    let ensemble = tmp.path().join("ensemble");
    let o = train(&["--seeds", "1,2", "--epochs", "40", "--eval-every", "20", "--out", path(&ensemble)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let whole = contents(&ensemble);
    fs::remove_file(ensemble.join("plots/members_00039.png")).unwrap();
    for leftover in [".ensemble.json.k3j4.tmp", ".leaderboard.csv.m5n6.tmp"] {
        fs::write(ensemble.join(leftover), b"half").unwrap();
    }
    let o = train(&["--resume", path(&ensemble)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(contents(&ensemble) == whole, "the ensemble's completed folder differs");
}

/// Interrupts a long run with `signal` once its first checkpoint exists; checks the exit code,
/// the message and the checkpoint, then that resuming it gives exactly the straight run.
fn stop_with(signal: &str, exit_code: i32) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let child =
        spawn_train(&["--seed", "8", "--epochs", "1000000", "--eval-every", "300", "--out", path(&dir)]);
    wait_for(&dir.join("config.json"));
    sleep(Duration::from_millis(150));
    send(&child, signal);
    let o = finish(child);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(exit_code), "{err}");
    assert_no_panic(&o);
    let resume = format!("resume with: gan1d train --resume {} --device cpu --quiet", path(&dir));
    assert!(err.contains(&resume), "{err}");
    let reached = read_manifest(&dir)["iteration"].as_u64().unwrap();
    assert!(err.contains(&format!("stopped by SIG{signal} after {reached} of 1000000 iterations")), "{err}");
    assert!(reached > 300, "stopped at {reached}");

    // The checkpoint loads, and continuing it is the same as never having stopped.
    let total = (reached + 37).to_string();
    let o = train(&["--resume", path(&dir), "--epochs", &total]);
    assert!(o.status.success(), "{}", stderr(&o));
    let straight = tmp.path().join("straight");
    let o = train(&["--seed", "8", "--epochs", &total, "--eval-every", "300", "--out", path(&straight)]);
    assert!(o.status.success(), "{}", stderr(&o));
    for part in ["generator", "discriminator", "optimizer"] {
        let (a, b) = (common::part_file(&dir, part), common::part_file(&straight, part));
        assert_eq!(a.file_name(), b.file_name());
        assert!(fs::read(&a).unwrap() == fs::read(&b).unwrap(), "{part} differs after stop and resume");
    }
}

#[test]
fn sigint_stops_after_a_whole_iteration_with_a_checkpoint_and_exit_code_130() {
    stop_with("INT", 130);
}

#[test]
fn sigterm_stops_after_a_whole_iteration_with_a_checkpoint_and_exit_code_143() {
    stop_with("TERM", 143);
}

#[test]
fn kill_9_at_random_moments_never_leaves_a_folder_that_fails_to_load() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let d = path(&dir);
    // A fixed sequence of pseudo-random delays, so a failure can be repeated.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |below: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % below
    };
    // A first, complete run: from here on the folder must always hold a loadable checkpoint.
    let o = train(&["--epochs", "5", "--out", d]);
    assert!(o.status.success(), "{}", stderr(&o));
    // At least 14 rounds, and more (up to 40) until a kill has landed inside a save: the case
    // this test exists for must have happened, not only been likely.
    let mut mid_save = 0;
    for round in 0..40 {
        if round >= 14 && mid_save > 0 {
            break;
        }
        // Fresh runs over the folder and resumes of it, each saving after every iteration, so
        // that most kills land in the middle of a save.
        let seed = round.to_string();
        let args: Vec<&str> = if round % 3 == 2 {
            vec!["--resume", d, "--epochs", "1000000", "--checkpoint-every", "1"]
        } else {
            vec!["--seed", &seed, "--epochs", "1000000", "--checkpoint-every", "1", "--out", d, "--overwrite"]
        };
        let child = spawn_train(&args);
        sleep(Duration::from_millis(600 + next(900)));
        send(&child, "KILL");
        let _ = finish(child);
        assert!(dir.join("config.json").exists(), "round {round}: the folder lost its checkpoint");
        // A kill inside a save leaves a temporary file, or tensor files no manifest names yet.
        let named: Vec<String> = ["generator", "discriminator", "optimizer"]
            .iter()
            .map(|p| read_manifest(&dir)["files"][p]["name"].as_str().unwrap().to_string())
            .collect();
        let inside_a_save = fs::read_dir(&dir).unwrap().flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.ends_with(".tmp") || (name.ends_with(".ot") && !named.contains(&name))
        });
        mid_save += inside_a_save as u32;
        let o = gan1d(&["sample", "--checkpoint", d, "-n", "3"]);
        assert!(
            o.status.success(),
            "round {round}: the checkpoint does not load (killed inside a save: {inside_a_save}): {}",
            stderr(&o)
        );
    }
    assert!(mid_save > 0, "no kill of 40 landed inside a save: the test did not test what it is for");
    // The folder a kill left goes on training.
    let reached = read_manifest(&dir)["iteration"].as_u64().unwrap();
    let o = train(&["--resume", d, "--epochs", &(reached + 20).to_string()]);
    assert!(o.status.success(), "{}", stderr(&o));
    eprintln!("kill -9: every folder loaded after a kill, {mid_save} of them killed inside a save");
}

/// `kill -9` at pseudo-random moments of short runs, most of whose time is drawing (plots, the
/// learning curves, the animation): after a resume every folder holds every picture, byte for
/// byte those of the run never stopped, and no temporary file.
#[test]
fn kill_9_while_drawing_loses_no_picture_once_resumed() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |dir: &Path| {
        vec!["--seed", "5", "--epochs", "300", "--eval-every", "100", "--out", path(dir)]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let straight = tmp.path().join("straight");
    let o = train(&run(&straight).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    let whole = contents(&straight);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let (mut killed, mut resumed) = (0, 0);
    for round in 0..10 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let dir = tmp.path().join(format!("round-{round}"));
        let args = run(&dir);
        let child = spawn_train(&args.iter().map(String::as_str).collect::<Vec<_>>());
        // From the first checkpoint on, whatever the machine's speed: libtorch's start-up alone
        // can outlast a fixed delay on a loaded machine, and a run killed before it has nothing
        // to resume.
        let started = std::time::Instant::now();
        while !dir.join("config.json").exists() && started.elapsed() < Duration::from_secs(30) {
            sleep(Duration::from_millis(5));
        }
        sleep(Duration::from_millis(state % 700));
        send(&child, "KILL");
        killed += !finish(child).status.success() as u32;
        if !dir.join("config.json").exists() {
            continue;
        }
        let o = train(&["--resume", path(&dir)]);
        assert!(o.status.success(), "round {round}: {}", stderr(&o));
        resumed += 1;
        assert!(contents(&dir) == whole, "round {round}: the resumed folder differs from the straight run's");
    }
    assert!(
        killed >= 3 && resumed >= 3,
        "{killed} killed, {resumed} resumed: the test did not test what it is for"
    );
    eprintln!("kill -9 while drawing: {killed} killed, {resumed} resumed, every picture there");
}

#[test]
fn a_diverging_run_names_the_iteration_and_keeps_its_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    // A step size of 10⁸ overflows the weights within a few iterations.
    let o = train(&["--learning-rate", "1e8", "--checkpoint-every", "1", "--out", path(&dir)]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert_no_panic(&o);
    assert!(err.contains("error: training diverged at iteration "), "{err}");
    assert!(err.contains("NaN or infinite"), "{err}");
    let kept = read_manifest(&dir)["iteration"].as_u64().unwrap();
    assert!(err.contains(&format!("the last good checkpoint, after {kept} iterations, is kept in")), "{err}");
    let o = gan1d(&["sample", "--checkpoint", path(&dir), "-n", "3"]);
    assert!(o.status.success(), "the kept checkpoint does not load: {}", stderr(&o));

    let o = train(&["--learning-rate", "1e30", "--out", path(&tmp.path().join("early"))]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("no checkpoint of this run was written"), "{}", stderr(&o));
}

#[test]
fn a_full_disk_or_an_unwritable_folder_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    // A folder that cannot exist: its parent is a file.
    let file = tmp.path().join("file");
    fs::write(&file, "x").unwrap();
    assert_refused(&train(&["--epochs", "5", "--out", path(&file.join("run"))]), "cannot be written");

    // A run whose optimiser file is about 490 KB, continued under a 300 KB limit on file size:
    // the next checkpoint cannot be written, as on a full disk (the limit also works for root).
    // gan1d ignores SIGXFSZ, so the write fails with an error instead of killing it.
    let dir = tmp.path().join("run");
    let o = train(&["--latent-dim", "4096", "--epochs", "10", "--out", path(&dir)]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The checkpoint's own files (the logs and plots go on growing until the failure).
    let checkpoint = |dir: &Path| -> Vec<_> {
        contents(dir).into_iter().filter(|(n, _)| !n.ends_with(".csv") && !n.starts_with("plots")).collect()
    };
    let before = checkpoint(&dir);
    let script = format!("ulimit -f 300; exec {BIN} train --resume {} --epochs 20 --quiet", path(&dir));
    let o = Command::new("bash").args(["-c", &script]).output().unwrap();
    assert_refused(&o, "File too large");
    assert!(stderr(&o).contains("the last complete checkpoint, after 10 iterations"), "{}", stderr(&o));
    // The checkpoint is as it was, and no partial file is left anywhere.
    assert!(before == checkpoint(&dir), "the failed save changed the checkpoint");
    assert!(snapshot(&dir).iter().all(|(n, _)| !n.contains(".tmp")), "a temporary file was left");
    let o = train(&["--resume", path(&dir), "--epochs", "20"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_folder_in_use_refuses_a_second_run_and_serves_readers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    // A run that commits a new checkpoint, and deletes the last one, after every iteration.
    let child = spawn_train(&["--epochs", "1000000", "--checkpoint-every", "1", "--out", path(&dir)]);
    wait_for(&dir.join("config.json"));
    assert_refused(&train(&["--epochs", "10", "--out", path(&dir)]), "the folder already holds a run");
    assert_refused(
        &train(&["--epochs", "10", "--out", path(&dir), "--overwrite"]),
        "another `gan1d train` is writing",
    );
    assert_refused(&train(&["--resume", path(&dir)]), "another `gan1d train` is writing");
    // Readers meanwhile always get a whole checkpoint.
    for _ in 0..5 {
        let o = gan1d(&["sample", "--checkpoint", path(&dir), "-n", "3"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    send(&child, "TERM");
    assert_eq!(finish(child).status.code(), Some(143));
}

#[test]
fn a_run_of_gan1d_0_2_resumes_and_its_logs_go_on() {
    // The run gan1d 0.2 shipped in models/, kept as it was: no log records in its manifest,
    // and a metrics.csv with the old coverage column.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("old");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gan1d-0.2-run");
    common::copy_run(&shipped, &dir);
    assert!(read_manifest(&dir).get("logs").is_none(), "the fixture is no longer a 0.2 run");
    let history_before = fs::read_to_string(dir.join("history.csv")).unwrap();
    let o = train(&["--resume", path(&dir), "--epochs", "10040", "--eval-every", "2000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let metrics = fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let mut lines = metrics.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let gap = header.iter().position(|c| *c == "widest_gap").expect("a widest_gap column");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 6, "{metrics}");
    let gap_of = |row: &str| row.split(',').nth(gap).unwrap().to_string();
    assert!(rows[..5].iter().all(|r| gap_of(r) == "NaN"), "{metrics}");
    assert!(gap_of(rows[5]) != "NaN" && rows[5].starts_with("10039,"), "{metrics}");
    // A curve has no plane metrics: the columns gan1d 0.8 added stay NaN.
    assert!(rows[5].ends_with(",NaN,NaN,NaN,NaN"), "{metrics}");
    // The history's rows up to the checkpoint are kept, value for value (0.2 wrote 1.0 as `1`).
    let history = fs::read_to_string(dir.join("history.csv")).unwrap();
    let values = |text: &str, rows: usize| -> Vec<Vec<f64>> {
        text.lines().skip(1).take(rows).map(|l| l.split(',').map(|v| v.parse().unwrap()).collect()).collect()
    };
    let kept = history_before.lines().count() - 1;
    assert_eq!(values(&history, kept), values(&history_before, kept), "the earlier history changed");
    assert_eq!(history.lines().count() - 1, kept + 4, "{history}");
    assert!(
        read_manifest(&dir)["logs"]["history"]["bytes"].as_u64().unwrap() as usize > history_before.len()
    );
}
