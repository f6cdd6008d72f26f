//! Hostile runs whose documented answer is not a plain refusal: outputs written to streams and
//! through links, kills around a resume that changes the run's total, two runs writing one
//! member, a target undefined beside its domain, and a run too large for memory. Each case
//! runs under a time limit and checks the bytes of every folder involved.

mod common;

use std::fs;
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::Duration;

use common::{
    BIN, assert_no_panic, finish, gan1d, read_manifest, send, snapshot, spawn_train, stderr, stdout, wait_for,
};

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `gan1d train --device cpu --quiet ARGS`, failing the test after a minute.
fn train(args: &[&str]) -> std::process::Output {
    finish(spawn_train(args))
}

fn mkfifo(at: &Path) {
    assert!(Command::new("mkfifo").arg(at).status().unwrap().success());
}

/// Runs `read` on a thread; the returned function waits at most 30 s for its bytes.
fn bounded(read: impl FnOnce() -> Vec<u8> + Send + 'static) -> impl FnOnce() -> Vec<u8> {
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || send.send(read()));
    move || {
        receive.recv_timeout(Duration::from_secs(30)).expect("nothing was written to the reader within 30 s")
    }
}

#[test]
fn outputs_to_streams_and_links_are_written_and_never_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let o = train(&["--epochs", "40", "--eval-every", "20", "--out", path(&run)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let sample = |extra: &[&str]| {
        let args = [&["sample", "--checkpoint", path(&run), "-n", "50", "--seed", "3"], extra].concat();
        finish(
            Command::new(BIN)
                .args(args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        )
    };
    let expected = stdout(&sample(&[]));
    assert!(expected.starts_with("x,y\n") && expected.lines().count() == 51, "{expected}");
    // Each reader gives up after 30 s: a FIFO replaced by a file is never written to.
    let reader = |fifo: &Path| {
        let fifo = fifo.to_path_buf();
        bounded(move || {
            let mut bytes = Vec::new();
            fs::File::open(&fifo).unwrap().read_to_end(&mut bytes).unwrap();
            bytes
        })
    };
    // A FIFO is written to, and stays a FIFO.
    let fifo = tmp.path().join("points");
    mkfifo(&fifo);
    let read = reader(&fifo);
    let o = sample(&["--out", path(&fifo)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8(read()).unwrap(), expected);
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());

    // A plot to a FIFO is a whole PNG.
    let fifo_png = tmp.path().join("plot.png");
    mkfifo(&fifo_png);
    let read = reader(&fifo_png);
    let o = sample(&["--out", path(&tmp.path().join("p.csv")), "--plot", path(&fifo_png)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let png = read();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000, "{} bytes", png.len());
    assert!(fs::symlink_metadata(&fifo_png).unwrap().file_type().is_fifo());

    // A socket is connected to, and stays a socket.
    let socket = tmp.path().join("socket");
    let listener = UnixListener::bind(&socket).unwrap();
    let accept = bounded(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).unwrap();
        bytes
    });
    let o = sample(&["--out", path(&socket)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8(accept()).unwrap(), expected);
    assert!(fs::symlink_metadata(&socket).unwrap().file_type().is_socket());

    // A link is followed: its target gets the points, and the link stays.
    let target = tmp.path().join("target.csv");
    fs::write(&target, "old\n").unwrap();
    let link = tmp.path().join("link.csv");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = sample(&["--out", path(&link)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(fs::read_to_string(&target).unwrap(), expected);

    // `-` is stdout.
    assert_eq!(stdout(&sample(&["--out", "-"])), expected);
}

/// Kills a resume that changes the run's total before its next checkpoint, and checks the
/// folder: its checkpoint and logs are those of before the resume (the animation's frames
/// included), and resuming it gives what resuming an untouched copy gives.
fn kill_a_resume_with_a_new_total(train_args: &[&str], member_dirs: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let (run, copy) = (tmp.path().join("run"), tmp.path().join("copy"));
    // Its one checkpoint, at its end: the resume's next one is a million iterations away.
    let args = [train_args, &["--epochs", "200", "--eval-every", "1000000", "--out", path(&run)]].concat();
    let o = train(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(Command::new("cp").args(["-a", path(&run), path(&copy)]).status().unwrap().success());
    let kept = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        // history.csv gains rows after the checkpoint, which a resume drops; the live record
        // describes the killed session, not the run.
        snapshot(dir)
            .into_iter()
            .filter(|(name, _)| {
                !name.ends_with("history.csv")
                    && !name.contains(".staged")
                    && !name.contains(".gan1d.live.json")
            })
            .collect()
    };
    let before = kept(&run);
    let child = spawn_train(&["--resume", path(&run), "--epochs", "100000000"]);
    // The resume has cut each member's frames to the new spacing once its staged copy exists.
    for member in member_dirs {
        wait_for(&run.join(member).join(".frames.csv.staged"));
    }
    sleep(Duration::from_millis(300));
    send(&child, "KILL");
    let _ = finish(child);
    assert!(kept(&run) == before, "the killed resume changed the checkpoint or its logs");
    for dir in [&run, &copy] {
        let o = train(&["--resume", path(dir), "--epochs", "300"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    for member in member_dirs {
        let (a, b) = (run.join(member), copy.join(member));
        for file in ["frames.csv", "metrics.csv", "history.csv", "config.json"] {
            assert!(
                fs::read(a.join(file)).unwrap() == fs::read(b.join(file)).unwrap(),
                "{member}/{file} differs"
            );
        }
        assert_eq!(read_manifest(&a)["iteration"], 300);
    }
}

#[test]
fn kill_9_after_a_resume_with_a_new_total_leaves_a_single_run_resumable() {
    kill_a_resume_with_a_new_total(&[], &["."]);
}

#[test]
fn kill_9_after_a_resume_with_a_new_total_leaves_an_ensemble_resumable() {
    kill_a_resume_with_a_new_total(&["--seeds", "1,2"], &["members/seed-1", "members/seed-2"]);
}

/// Reads `child`'s stderr until a line holds `needle`, which training prints once it holds its
/// locks; the rest of stderr is left unread.
fn wait_for_note(child: &mut std::process::Child, needle: &str) {
    use std::io::BufRead;
    let err = child.stderr.take().expect("stderr is piped");
    let mut lines = std::io::BufReader::new(err).lines();
    let found = lines.by_ref().map_while(Result::ok).any(|line| line.contains(needle));
    assert!(found, "the run ended without printing {needle:?}");
    // Keep draining, so that the run never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
}

#[test]
fn a_member_is_never_written_by_two_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let ens = tmp.path().join("ens");
    let member = ens.join("members/seed-2");
    let o = train(&["--seeds", "1,2", "--epochs", "100", "--eval-every", "1000000", "--out", path(&ens)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let refused = |args: &[&str], needle: &str| {
        let o = train(args);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert_no_panic(&o);
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
    };
    // The ensemble holds its members' locks.
    let mut whole = spawn_train(&["--resume", path(&ens), "--epochs", "100000000"]);
    wait_for_note(&mut whole, "gan1d: resuming");
    refused(&["--resume", path(&member), "--epochs", "100000000"], "another `gan1d train` is writing into");
    send(&whole, "INT");
    let o = finish(whole);
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    // A member trained alone holds its own, and the ensemble waits for it.
    let mut alone = spawn_train(&["--resume", path(&member), "--epochs", "100000000"]);
    wait_for_note(&mut alone, "gan1d: resuming");
    let other = snapshot(&ens.join("members/seed-1"));
    let top = fs::read(ens.join("ensemble.json")).unwrap();
    refused(&["--resume", path(&ens), "--epochs", "100000000"], "another `gan1d train` is writing into");
    assert!(snapshot(&ens.join("members/seed-1")) == other, "the refused resume changed member 1");
    assert_eq!(fs::read(ens.join("ensemble.json")).unwrap(), top);
    send(&alone, "INT");
    let o = finish(alone);
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
}

#[test]
fn a_target_undefined_beside_its_domain_still_has_numbers_and_a_best_member() {
    let tmp = tempfile::tempdir().unwrap();
    let ens = tmp.path().join("sqrt");
    let o = train(&[
        "--target",
        "sqrt(x)",
        "--domain",
        "0,1",
        "--seeds",
        "1,2,3",
        "--select",
        "residual",
        "--epochs",
        "300",
        "--eval-every",
        "100",
        "--out",
        path(&ens),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (mut outside, mut rows) = (0, 0);
    for seed in 1..=3 {
        let metrics = fs::read_to_string(ens.join(format!("members/seed-{seed}/metrics.csv"))).unwrap();
        for line in metrics.lines().skip(1) {
            let fields: Vec<f64> = line.split(',').map(|f| f.parse().unwrap()).collect();
            let (residual, in_domain) = (fields[3], fields[7]);
            assert!(residual.is_finite(), "seed {seed}: {line}");
            outside += (in_domain < 1.0) as u32;
            rows += 1;
        }
        // Each log's header is one `part_of_a_run` recognises.
        let member = ens.join(format!("members/seed-{seed}"));
        for (log, start) in
            ["history.csv", "metrics.csv", "frames.csv"].iter().zip(gan1d::checkpoint::LOG_HEADER_STARTS)
        {
            let text = fs::read_to_string(member.join(log)).unwrap();
            assert!(text.starts_with(start), "{log}: {}", text.lines().next().unwrap_or_default());
        }
    }
    let board = fs::read_to_string(ens.join("leaderboard.csv")).unwrap();
    assert!(board.starts_with(gan1d::checkpoint::LOG_HEADER_STARTS[3]), "{board}");
    // The case is the one meant: some evaluations met points outside the domain.
    assert!(outside > 0, "no evaluation of {rows} had a point outside [0, 1)");
    let o = gan1d(&["sample", "--checkpoint", path(&ens), "-n", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("the best member by residual mean"), "{}", stderr(&o));
}

#[test]
fn a_run_too_large_for_memory_fails_in_one_line_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, extra) in [("single", ""), ("ensemble", "--seeds 1,2")] {
        let out = tmp.path().join(name);
        // Within the documented ranges; more than 6 GB of address space allows.
        let script = format!(
            "ulimit -v 6000000; exec {BIN} train --batch 1048576 --g-hidden 4096 --d-hidden 4096 --epochs 1 \
             --device cpu --quiet {extra} --out {}",
            path(&out)
        );
        let child = Command::new("bash")
            .args(["-c", &script])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let o = finish(child);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert_no_panic(&o);
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{name}: {err}");
        assert!(
            errors[0].contains("out of memory") && errors[0].contains("--batch 1048576"),
            "{name}: {err}"
        );
        assert!(err.lines().all(|l| l.starts_with("error:") || l.starts_with("gan1d: ")), "{name}: {err}");
        assert!(o.stdout.is_empty());
        assert!(!out.exists(), "{name}: the failed run left {:?}", snapshot(&out));
    }
}
