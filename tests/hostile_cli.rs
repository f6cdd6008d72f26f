//! Hostile command lines and folders: every case must be refused with exit code 2 and one line
//! on stderr that starts `error:`, with no panic, abort or hang, nothing on stdout, and every
//! file of the run folders involved left byte for byte as it was. Then the cases whose
//! documented answer is not a refusal: a closed stdout, a full one.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{BIN, assert_no_panic, gan1d, read_manifest, stderr, write_sealed};

/// A small trained run, made once; cases work on copies of it.
fn run() -> &'static PathBuf {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile-cli-run");
        let _ = fs::remove_dir_all(&dir);
        let o = gan1d(&[
            "train",
            "--epochs",
            "40",
            "--eval-every",
            "20",
            "--device",
            "cpu",
            "--quiet",
            "--out",
            p(&dir),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        dir
    })
}

/// A small trained ensemble of seeds 1 and 2, made once; cases work on copies of it.
fn ensemble() -> &'static PathBuf {
    static ENSEMBLE: OnceLock<PathBuf> = OnceLock::new();
    ENSEMBLE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile-cli-ensemble");
        let _ = fs::remove_dir_all(&dir);
        let o = gan1d(&[
            "train",
            "--seeds",
            "1,2",
            "--epochs",
            "40",
            "--eval-every",
            "20",
            "--device",
            "cpu",
            "--quiet",
            "--out",
            p(&dir),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        dir
    })
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Runs the binary with `args`, killing it after 20 s: a case that hangs fails.
fn bounded(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("gan1d {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// What a case does to its scratch folder before running (`R` is a copy of the run).
type Setup = Box<dyn Fn(&Path)>;

fn none() -> Setup {
    Box::new(|_| {})
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

fn replace_with(file: impl Fn(&Path) -> PathBuf + 'static, make: impl Fn(&Path) + 'static) -> Setup {
    Box::new(move |root| {
        let target = file(&root.join("R"));
        fs::remove_file(&target).unwrap();
        make(&target);
    })
}

fn symlink_to(to: &'static str) -> impl Fn(&Path) {
    move |at| std::os::unix::fs::symlink(to, at).unwrap()
}

fn generator_file(run: &Path) -> PathBuf {
    common::part_file(run, "generator")
}

fn manifest_file(run: &Path) -> PathBuf {
    run.join("config.json")
}

/// A copy of the run whose manifest, checksums made right again, has `edit` applied.
fn sealed(edit: impl Fn(&mut serde_json::Value) + 'static) -> Setup {
    Box::new(move |root| {
        let run = root.join("R");
        let mut manifest = read_manifest(&run);
        edit(&mut manifest);
        write_sealed(&run, manifest);
    })
}

/// Every case: a name, its arguments (`R` stands for the copied run, `T` for the scratch
/// folder), its setup, and a phrase the error must contain.
fn cases() -> Vec<(&'static str, Vec<&'static str>, Setup, &'static str)> {
    let train = |extra: &[&'static str]| [&["train", "--out", "T/new"], extra].concat();
    vec![
        ("negative epochs", train(&["--epochs", "-1"]), none(), "--epochs must be at least 1, got -1"),
        (
            "negative learning rate",
            train(&["--learning-rate", "-0.5"]),
            none(),
            "--learning-rate must be a positive",
        ),
        (
            "learning rate not a number",
            train(&["--learning-rate", "fast"]),
            none(),
            "--learning-rate must be a number",
        ),
        ("huge batch", train(&["--batch", "100000000000"]), none(), "--batch must be at most"),
        ("odd batch", train(&["--batch", "3"]), none(), "--batch must be an even number"),
        ("huge latent dim", train(&["--latent-dim", "100000000"]), none(), "--latent-dim must be at most"),
        ("huge thread count", train(&["--threads", "100000"]), none(), "--threads must be at most"),
        ("a hidden layer of width 0", train(&["--g-hidden", "16,0"]), none(), "--g-hidden must be widths"),
        (
            "seventeen hidden layers",
            train(&["--d-hidden", "4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4"]),
            none(),
            "1 to 16 layers",
        ),
        ("zero eval-every", train(&["--eval-every", "0"]), none(), "--eval-every must be at least 1"),
        (
            "negative history-every",
            train(&["--history-every", "-3"]),
            none(),
            "--history-every must be at least 1",
        ),
        (
            "zero checkpoint-every",
            train(&["--checkpoint-every", "0"]),
            none(),
            "--checkpoint-every must be at least 1",
        ),
        ("negative seed", train(&["--seed", "-1"]), none(), "--seed must be at least 0"),
        (
            "epochs in scientific notation",
            train(&["--epochs", "1e3"]),
            none(),
            "--epochs must be a whole number",
        ),
        (
            "unknown engine",
            train(&["--engine", "keras"]),
            none(),
            "--engine must be native, fused or autograd",
        ),
        ("unknown device", train(&["--device", "gpu"]), none(), "--device must be auto, cpu"),
        ("unknown flag", train(&["--bogus"]), none(), "unexpected argument '--bogus'"),
        ("missing value", vec!["train", "--epochs"], none(), "a value is required"),
        (
            "a folder holding a run",
            vec!["train", "--out", "R", "--epochs", "5"],
            none(),
            "already holds a run",
        ),
        (
            "a folder holding a run, on a device that is not there",
            vec!["train", "--out", "R", "--overwrite", "--epochs", "5", "--device", "cuda:7"],
            none(),
            "--device cuda:7",
        ),
        (
            "overwrite with resume",
            vec!["train", "--resume", "R", "--overwrite"],
            none(),
            "cannot be used with",
        ),
        ("resume with out", vec!["train", "--resume", "R", "--out", "T/x"], none(), "cannot be used with"),
        (
            "resume, a contradicting flag",
            vec!["train", "--resume", "R", "--batch", "64"],
            none(),
            "--batch 64 contradicts",
        ),
        (
            "resume, another architecture",
            vec!["train", "--resume", "R", "--g-hidden", "32,16"],
            none(),
            "--g-hidden 32,16 contradicts the run's --g-hidden 15",
        ),
        (
            "resume, adding a penalty",
            vec!["train", "--resume", "R", "--penalty", "r1"],
            none(),
            "--penalty r1 contradicts the run's --penalty none",
        ),
        (
            "resume, adding spectral normalisation",
            vec!["train", "--resume", "R", "--spectral-norm"],
            none(),
            "--spectral-norm true contradicts the run's --spectral-norm false",
        ),
        (
            "a penalty weight without a penalty",
            train(&["--penalty-weight", "2"]),
            none(),
            "--penalty-weight 2 weighs a penalty, and the run has none",
        ),
        (
            "a negative penalty weight",
            train(&["--penalty", "r1", "--penalty-weight", "-2"]),
            none(),
            "--penalty-weight must be a positive number",
        ),
        (
            "an infinite penalty weight",
            train(&["--penalty", "wgan-gp", "--penalty-weight", "inf"]),
            none(),
            "--penalty-weight must be a positive number",
        ),
        (
            "export with no format",
            vec!["export", "--checkpoint", "R", "--out", "T/g.bin"],
            none(),
            "name the format with --format",
        ),
        (
            "export, an unknown format",
            vec!["export", "--checkpoint", "R", "--format", "keras", "--out", "T/g.bin"],
            none(),
            "invalid value 'keras'",
        ),
        (
            "export over the run's manifest",
            vec!["export", "--checkpoint", "R", "--format", "onnx", "--out", "R/config.json"],
            none(),
            "belongs to a run",
        ),
        (
            "export from a folder that is no run",
            vec!["export", "--checkpoint", "T", "--out", "T/g.onnx"],
            none(),
            "config.json",
        ),
        (
            "export into a missing folder",
            vec!["export", "--checkpoint", "R", "--out", "T/missing/g.onnx"],
            none(),
            "does not exist",
        ),
        (
            "export, a member a single run lacks",
            vec!["export", "--checkpoint", "R", "--member", "9", "--out", "T/g.onnx"],
            none(),
            "no member with that seed",
        ),
        (
            "sample, negative count",
            vec!["sample", "--checkpoint", "R", "-n", "-1"],
            none(),
            "-n must be at least 1, got -1",
        ),
        (
            "sample, zero count",
            vec!["sample", "--checkpoint", "R", "-n", "0"],
            none(),
            "-n must be at least 1",
        ),
        (
            "sample, an SVG plot",
            vec!["sample", "--checkpoint", "R", "--plot", "T/p.svg"],
            none(),
            "PNG images only",
        ),
        (
            "sample, a plot without extension",
            vec!["sample", "--checkpoint", "R", "--plot", "T/p"],
            none(),
            "PNG images only",
        ),
        (
            "sample over its manifest",
            vec!["sample", "--checkpoint", "R", "--out", "R/config.json"],
            none(),
            "belongs to a run",
        ),
        (
            "sample over its metrics log",
            vec!["sample", "--checkpoint", "R", "--out", "R/metrics.csv"],
            none(),
            "belongs to a run",
        ),
        (
            "sample through a symlink into the checkpoint",
            vec!["sample", "--checkpoint", "R", "--out", "T/link.csv"],
            Box::new(|root: &Path| {
                std::os::unix::fs::symlink(generator_file(&root.join("R")), root.join("link.csv")).unwrap()
            }),
            "belongs to a run",
        ),
        (
            "sample, plot over its output",
            vec!["sample", "--checkpoint", "R", "--out", "T/a.png", "--plot", "T/a.png"],
            none(),
            "the same file",
        ),
        (
            "sample into a missing folder",
            vec!["sample", "--checkpoint", "R", "--out", "T/no/x.csv"],
            none(),
            "does not exist",
        ),
        (
            "sample into a folder",
            vec!["sample", "--checkpoint", "R", "--out", "T"],
            none(),
            "that is a folder",
        ),
        (
            "evaluate, too many points",
            vec!["evaluate", "--checkpoint", "R", "-n", "10000000000"],
            none(),
            "-n must be at most",
        ),
        (
            "evaluate, one point",
            vec!["evaluate", "--checkpoint", "R", "-n", "1"],
            none(),
            "-n must be at least 2",
        ),
        (
            "a manifest that is a named pipe",
            vec!["sample", "--checkpoint", "R"],
            replace_with(manifest_file, mkfifo),
            "named pipe",
        ),
        (
            "a tensor file that is a named pipe",
            vec!["sample", "--checkpoint", "R"],
            replace_with(generator_file, mkfifo),
            "named pipe",
        ),
        (
            "a manifest that links to an endless device",
            vec!["evaluate", "--checkpoint", "R"],
            replace_with(manifest_file, symlink_to("/dev/zero")),
            "a device",
        ),
        (
            "a tensor file that links to an endless device, sampled",
            vec!["sample", "--checkpoint", "R"],
            replace_with(generator_file, symlink_to("/dev/urandom")),
            "a device",
        ),
        (
            "a tensor file that links to an endless device, resumed",
            vec!["train", "--resume", "R", "--epochs", "50"],
            replace_with(generator_file, symlink_to("/dev/urandom")),
            "generator-000040.ot is a symbolic link (to /dev/urandom)",
        ),
        (
            "a lock file that is a named pipe",
            vec!["train", "--resume", "R", "--epochs", "50"],
            replace_with(|run: &Path| run.join(".gan1d.lock"), mkfifo),
            "cannot create the lock file",
        ),
        (
            "a manifest that is a folder",
            vec!["summary", "--checkpoint", "R"],
            replace_with(manifest_file, |at: &Path| fs::create_dir(at).unwrap()),
            "a folder",
        ),
        (
            "a sealed manifest with a huge latent size",
            vec!["sample", "--checkpoint", "R"],
            sealed(|m| m["model"]["latent_dim"] = 100_000_000.into()),
            "latent-dim must be at most",
        ),
        (
            "a sealed manifest with a huge batch",
            vec!["train", "--resume", "R", "--epochs", "50"],
            sealed(|m| m["train"]["batch"] = 100_000_000_000u64.into()),
            "--batch must be an even number",
        ),
        (
            "a sealed manifest with a huge evaluation",
            vec!["train", "--resume", "R", "--epochs", "50"],
            sealed(|m| m["train"]["eval_samples"] = 1_000_000_000u64.into()),
            "must be at most",
        ),
        (
            "a sealed manifest with no hidden layer",
            vec!["summary", "--checkpoint", "R"],
            sealed(|m| m["model"]["generator_hidden"] = serde_json::json!([])),
            "hidden layers",
        ),
        (
            "a sealed manifest with an enormous epoch count",
            vec!["train", "--resume", "R"],
            sealed(|m| m["train"]["epochs"] = u64::MAX.into()),
            "--epochs must be at most",
        ),
        (
            "a resume whose log belongs to another run",
            vec!["train", "--resume", "R", "--epochs", "60"],
            Box::new(|root: &Path| fs::write(root.join("R/metrics.csv"), "iteration\n1\n").unwrap()),
            "belongs to another run",
        ),
        // Domains whose ends are apart in float64 and one number in float32.
        ("a domain one float32 wide", train(&["--domain", "100,100.0000011"]), none(), "as float32 numbers"),
        (
            "explore, a domain one float32 wide",
            vec!["explore", "real", "--out", "T/x", "--domain", "100,100.0000011"],
            none(),
            "as float32 numbers",
        ),
        (
            "a sealed manifest whose domain is one float32 wide",
            vec!["evaluate", "--checkpoint", "R"],
            sealed(|m| m["train"]["target"]["domain"] = serde_json::json!([100.0, 100.0000011])),
            "as float32 numbers",
        ),
        (
            "a resume of a manifest whose domain is one float32 wide",
            vec!["train", "--resume", "R", "--epochs", "60"],
            sealed(|m| m["train"]["target"]["domain"] = serde_json::json!([100.0, 100.0000011])),
            "as float32 numbers",
        ),
        // No output lands on a file of any run, by name and place or by content.
        (
            "sample over another run's member manifest",
            vec!["sample", "--checkpoint", "R", "--out", "E/members/seed-1/config.json"],
            none(),
            "belongs to a run (config.json of the run in",
        ),
        (
            "sample over an ensemble's manifest",
            vec!["sample", "--checkpoint", "E", "--out", "E/ensemble.json"],
            none(),
            "belongs to a run",
        ),
        (
            "sample over an ensemble's leaderboard",
            vec!["sample", "--checkpoint", "E", "--member", "2", "--out", "E/leaderboard.csv"],
            none(),
            "belongs to a run",
        ),
        (
            "sample over a member's best checkpoint manifest",
            vec!["sample", "--checkpoint", "R", "--out", "E/members/seed-2/best/config.json"],
            none(),
            "belongs to a run",
        ),
        (
            "a sample plot over a run's evaluation plot",
            vec!["sample", "--checkpoint", "R", "--plot", "R/plots/iter_00019.png"],
            none(),
            "a plot of the run in",
        ),
        (
            "sample over a copy of a run's log",
            vec!["sample", "--checkpoint", "R", "--out", "T/kept.csv"],
            Box::new(|root: &Path| {
                fs::copy(root.join("R/metrics.csv"), root.join("kept.csv")).unwrap();
            }),
            "a log or leaderboard of a gan1d run",
        ),
        (
            "sample over a copy of a manifest",
            vec!["sample", "--checkpoint", "R", "--out", "T/kept.json"],
            Box::new(|root: &Path| {
                fs::copy(root.join("R/config.json"), root.join("kept.json")).unwrap();
            }),
            "checkpoint's manifest",
        ),
        (
            "sample over a copy of a tensor file",
            vec!["sample", "--checkpoint", "R", "--out", "T/kept.bin"],
            Box::new(|root: &Path| {
                fs::copy(generator_file(&root.join("R")), root.join("kept.bin")).unwrap();
            }),
            "a tensor file",
        ),
        (
            "sample through a link to nowhere",
            vec!["sample", "--checkpoint", "R", "--out", "T/gone.csv"],
            Box::new(|root: &Path| {
                std::os::unix::fs::symlink(root.join("nowhere"), root.join("gone.csv")).unwrap()
            }),
            "which does not exist",
        ),
        (
            "sample, plot and output one file through a link",
            vec!["sample", "--checkpoint", "R", "--out", "T/a.png", "--plot", "T/b.png"],
            Box::new(|root: &Path| {
                fs::write(root.join("a.png"), "mine").unwrap();
                std::os::unix::fs::symlink(root.join("a.png"), root.join("b.png")).unwrap()
            }),
            "the same file",
        ),
        (
            "explore's plot linked to a run's plot",
            vec!["explore", "real", "--out", "T"],
            Box::new(|root: &Path| {
                std::os::unix::fs::symlink(root.join("R/plots/iter_00019.png"), root.join("real.png"))
                    .unwrap()
            }),
            "a plot of the run in",
        ),
        (
            "a diagram linked to a run's manifest",
            vec!["summary", "--diagram", "T"],
            Box::new(|root: &Path| {
                std::os::unix::fs::symlink(root.join("R/config.json"), root.join("generator_plot.png"))
                    .unwrap()
            }),
            "belongs to a run",
        ),
        // A new run never lands inside another run's folder.
        (
            "a single run over an ensemble",
            vec!["train", "--out", "E", "--epochs", "5"],
            none(),
            "already holds a run",
        ),
        (
            "a single run over an ensemble's member",
            vec!["train", "--out", "E/members/seed-1", "--overwrite", "--epochs", "5"],
            none(),
            "a member's folder in the ensemble",
        ),
        (
            "a single run into an ensemble's members' folder",
            vec!["train", "--out", "E/members/seed-9", "--epochs", "5"],
            none(),
            "a member's folder in the ensemble",
        ),
        (
            "a single run over a best checkpoint",
            vec!["train", "--out", "E/members/seed-2/best", "--overwrite", "--epochs", "5"],
            none(),
            "the best checkpoint of the run",
        ),
        (
            "a single run into a run's plots",
            vec!["train", "--out", "R/plots", "--epochs", "5"],
            none(),
            "the plots of the run",
        ),
        // The leaderboard is checked like a checkpoint file.
        (
            "a leaderboard of garbage",
            vec!["leaderboard", "E"],
            Box::new(|root: &Path| {
                fs::write(root.join("E/leaderboard.csv"), "garbage\n\u{0}\u{1}\n").unwrap()
            }),
            "leaderboard.csv",
        ),
        (
            "a leaderboard ranking a stranger",
            vec!["leaderboard", "E"],
            Box::new(|root: &Path| edit_leaderboard(root, |text| text.replace(",1,trained", ",7,trained"))),
            "seed 7, which is not a member",
        ),
        (
            "sample from an ensemble whose leaderboard is damaged",
            vec!["sample", "--checkpoint", "E"],
            Box::new(|root: &Path| edit_leaderboard(root, |text| text.replacen("\n1,", "\n2,", 1))),
            "pick a member with --member",
        ),
        (
            "sample from an ensemble whose leaderboard is gone",
            vec!["sample", "--checkpoint", "E"],
            Box::new(|root: &Path| fs::remove_file(root.join("E/leaderboard.csv")).unwrap()),
            "pick a member with --member",
        ),
        (
            "a resume of an ensemble whose leaderboard is damaged",
            vec!["train", "--resume", "E", "--epochs", "60"],
            Box::new(|root: &Path| edit_leaderboard(root, |text| text.replace("trained", "diverged"))),
            "move it away and the resume rebuilds it",
        ),
        // Every flag given with --resume is applied or refused.
        (
            "a resume of an ensemble with another ranking",
            vec!["train", "--resume", "E", "--select", "ks", "--epochs", "60"],
            none(),
            "--select ks contradicts the ensemble's ranking by energy",
        ),
        (
            "a resume of a single run with a ranking",
            vec!["train", "--resume", "R", "--select", "energy", "--epochs", "60"],
            none(),
            "this is a single run",
        ),
        (
            "a resume of an ensemble with one seed",
            vec!["train", "--resume", "E", "--seed", "1", "--epochs", "60"],
            none(),
            "members keep their own",
        ),
        (
            "a resume of an ensemble on the autograd engine",
            vec!["train", "--resume", "E", "--engine", "autograd", "--epochs", "60"],
            none(),
            "--engine autograd trains one member at a time",
        ),
        (
            "a resume of an ensemble with a member missing",
            vec!["train", "--resume", "E", "--epochs", "60"],
            Box::new(|root: &Path| fs::remove_file(root.join("E/members/seed-2/config.json")).unwrap()),
            "member 2",
        ),
        (
            "a resume of an ensemble with a member damaged",
            vec!["train", "--resume", "E", "--epochs", "60"],
            Box::new(|root: &Path| {
                fs::write(common::part_file(&root.join("E/members/seed-2"), "generator"), b"PK").unwrap()
            }),
            "member 2",
        ),
        // A run's own files and folders are what they claim to be: never a link out of it.
        (
            "a resume whose plots folder is a link to another run's",
            vec!["train", "--resume", "R", "--epochs", "60"],
            link_plots_away(),
            "R/plots is a symbolic link",
        ),
        (
            "an overwrite whose plots folder is a link to another run's",
            vec!["train", "--out", "R", "--overwrite", "--epochs", "5"],
            link_plots_away(),
            "R/plots is a symbolic link",
        ),
        (
            "a new run into a folder whose plots folder is a link",
            vec!["train", "--out", "T/fresh", "--epochs", "5"],
            Box::new(|root: &Path| {
                fs::create_dir_all(root.join("fresh")).unwrap();
                std::os::unix::fs::symlink(root.join("R/plots"), root.join("fresh/plots")).unwrap();
            }),
            "fresh/plots is a symbolic link",
        ),
        (
            "a resume of an ensemble whose member is a link into another ensemble",
            vec!["train", "--resume", "E", "--epochs", "60"],
            Box::new(|root: &Path| {
                common::copy_tree(&root.join("E"), &root.join("E2"));
                fs::remove_dir_all(root.join("E/members/seed-2")).unwrap();
                std::os::unix::fs::symlink(root.join("E2/members/seed-2"), root.join("E/members/seed-2"))
                    .unwrap();
            }),
            "seed-2 is a symbolic link",
        ),
        (
            "a resume of an ensemble whose member's best is a link to its parent",
            vec!["train", "--resume", "E", "--epochs", "60"],
            Box::new(|root: &Path| {
                fs::remove_dir_all(root.join("E/members/seed-1/best")).unwrap();
                std::os::unix::fs::symlink("..", root.join("E/members/seed-1/best")).unwrap();
            }),
            "best is a symbolic link (to ..)",
        ),
        (
            "a resume whose curves are a link to a file elsewhere",
            vec!["train", "--resume", "R", "--epochs", "60"],
            Box::new(|root: &Path| {
                fs::write(root.join("mine.png"), b"the user's own picture").unwrap();
                fs::remove_file(root.join("R/plots/curves.png")).unwrap();
                std::os::unix::fs::symlink(root.join("mine.png"), root.join("R/plots/curves.png")).unwrap();
            }),
            "curves.png is a symbolic link",
        ),
        (
            "a resume whose lock file is a link",
            vec!["train", "--resume", "R", "--epochs", "60"],
            Box::new(|root: &Path| {
                fs::write(root.join("elsewhere"), b"").unwrap();
                let _ = fs::remove_file(root.join("R/.gan1d.lock"));
                std::os::unix::fs::symlink(root.join("elsewhere"), root.join("R/.gan1d.lock")).unwrap();
            }),
            ".gan1d.lock is a symbolic link",
        ),
        (
            "a resume whose plots folder is a file",
            vec!["train", "--resume", "R", "--epochs", "60"],
            Box::new(|root: &Path| {
                fs::remove_dir_all(root.join("R/plots")).unwrap();
                fs::write(root.join("R/plots"), b"not a folder").unwrap();
            }),
            "R/plots is not a folder",
        ),
        (
            "a resume inside a member's best checkpoint",
            vec!["train", "--resume", "E/members/seed-1/best", "--epochs", "60"],
            none(),
            "kept as it was at its evaluation",
        ),
        // Rankings of what cannot be compared.
        (
            "an ensemble of a plane target ranked by residual",
            train(&["--target", "ring", "--seeds", "1,2", "--select", "residual"]),
            none(),
            "--select residual ranks by the distance from a curve",
        ),
        (
            "a --data ensemble ranked by residual",
            vec![
                "train",
                "--out",
                "T/new",
                "--data",
                "T/points.csv",
                "--seeds",
                "1,2",
                "--select",
                "residual",
            ],
            Box::new(|root: &Path| write_points(&root.join("points.csv"), 1.0)),
            "--select residual ranks by the distance",
        ),
        ("one folder named twice", vec!["leaderboard", "E", "E"], none(), "name the same run folder"),
        (
            "one folder named twice through a link",
            vec!["leaderboard", "E", "T/alias"],
            Box::new(|root: &Path| std::os::unix::fs::symlink(root.join("E"), root.join("alias")).unwrap()),
            "name the same run folder",
        ),
        (
            "a leaderboard of two targets",
            vec!["leaderboard", "R", "T/sine"],
            trained(&["--target", "sine", "--out"], "sine"),
            "only runs of one target and domain",
        ),
        (
            "a leaderboard of one target on two domains",
            vec!["leaderboard", "R", "T/wide"],
            trained(&["--domain=-1,1", "--out"], "wide"),
            "x^2 on [-1, 1)",
        ),
        (
            "a leaderboard of a curve and a plane target",
            vec!["leaderboard", "T/ring", "E"],
            trained(&["--target", "ring", "--seeds", "3,4", "--out"], "ring"),
            "only runs of one target and domain",
        ),
        // Numbers checked where they enter, in the precision they are used in.
        (
            "a pole between the range check's points",
            train(&["--target", "1/(x-0.12345)", "--domain=-1,1"]),
            none(),
            "between the points the range check tried",
        ),
        (
            "the poles of tan(1000x)",
            train(&["--target", "tan(1000*x)", "--domain=-1,1"]),
            none(),
            "between the points the range check tried",
        ),
        (
            "a pole a millionth from a grid point",
            train(&["--target", "1/(x+1e-6)", "--domain=-1,1"]),
            none(),
            "between the points the range check tried",
        ),
        (
            "a resume of a sealed manifest whose target has a pole between grid points",
            vec!["train", "--resume", "R", "--epochs", "60"],
            sealed(|m| {
                m["train"]["target"]["expression"] = "1/(x-0.12345)".into();
                m["train"]["target"]["domain"] = serde_json::json!([-1.0, 1.0]);
            }),
            "between the points the range check tried",
        ),
        (
            "a learning rate that is 0 in float32",
            train(&["--learning-rate", "1e-50"]),
            none(),
            "is 0 in float32",
        ),
        ("a G learning rate that is 0 in float32", train(&["--lr-g", "1e-46"]), none(), "is 0 in float32"),
        ("a beta1 that is 1 in float32", train(&["--beta1", "0.999999999"]), none(), "is 1 in float32"),
        (
            "a beta2 that is 1 in float32",
            train(&["--beta2", "0.999999999"]),
            none(),
            "--beta2 0.999999999 is 1 in float32",
        ),
        (
            "a leaky slope that is 1 in float32",
            train(&["--activation", "leaky-relu:0.99999999999"]),
            none(),
            "is 1 in float32",
        ),
        (
            "data scaled by 1e-300",
            vec!["train", "--out", "T/new", "--data", "T/points.csv"],
            Box::new(|root: &Path| write_points(&root.join("points.csv"), 1e-300)),
            "and float32, in which gan1d trains, only 1",
        ),
        (
            "data that float32 merges",
            vec!["train", "--out", "T/new", "--data", "T/points.csv"],
            Box::new(|root: &Path| {
                let rows: String = (0..50).map(|i| format!("{},{i}\n", 1e5 + f64::from(i) * 1e-4)).collect();
                fs::write(root.join("points.csv"), format!("x,y\n{rows}")).unwrap();
            }),
            "holds 50 distinct numbers, and float32, in which gan1d trains, only 2",
        ),
        // Errors that name what was typed, in one line, with advice that works.
        (
            "a --data line number after blank lines and CRLF",
            vec!["train", "--out", "T/new", "--data", "T/points.csv"],
            Box::new(|root: &Path| {
                fs::write(root.join("points.csv"), "x,y\r\n1,2\r\n\r\n\r\n3,4\r\n\"5\n\",6\r\n7,zz\r\n")
                    .unwrap()
            }),
            "line 8: `zz` is not a number",
        ),
        (
            "a --data file whose name holds a line break and an escape sequence",
            vec!["train", "--out", "T/new", "--data", "T/a\nb\u{1b}[31m.csv"],
            Box::new(|root: &Path| fs::write(root.join("a\nb\u{1b}[31m.csv"), "x,y\n1,2\n").unwrap()),
            "a\\nb\\u{1b}[31m.csv",
        ),
        (
            "a new single run into an ensemble's folder",
            vec!["train", "--out", "E", "--epochs", "5"],
            none(),
            "`, or train into another --out",
        ),
        (
            "a new run into a folder holding only a log",
            vec!["train", "--out", "T/half", "--epochs", "5"],
            Box::new(|root: &Path| {
                fs::create_dir_all(root.join("half")).unwrap();
                fs::copy(root.join("R/metrics.csv"), root.join("half/metrics.csv")).unwrap();
            }),
            "it holds no checkpoint that can be resumed",
        ),
        (
            "a --diagram that names a file",
            vec!["summary", "--diagram", "T/notes.txt"],
            Box::new(|root: &Path| fs::write(root.join("notes.txt"), b"mine").unwrap()),
            "that is a file, and --diagram names a folder",
        ),
        ("an uppercase built-in target", train(&["--target", "SINE"]), none(), "names are lowercase: `sine`"),
        (
            "a sample of an ensemble's members folder",
            vec!["sample", "--checkpoint", "E/members"],
            none(),
            "that folder is the members' folder of the ensemble",
        ),
        (
            "a resume of a run's plots folder",
            vec!["train", "--resume", "R/plots", "--epochs", "60"],
            none(),
            "that folder is the plots of the run",
        ),
    ]
}

/// Moves the run's plots to another folder beside it and links `R/plots` there.
fn link_plots_away() -> Setup {
    Box::new(|root: &Path| {
        fs::rename(root.join("R/plots"), root.join("other-plots")).unwrap();
        std::os::unix::fs::symlink(root.join("other-plots"), root.join("R/plots")).unwrap();
    })
}

/// A short run trained into `T/NAME` with `flags` (which end with `--out`).
fn trained(flags: &'static [&'static str], name: &'static str) -> Setup {
    Box::new(move |root: &Path| {
        let out = root.join(name);
        let args = [
            &["train", "--epochs", "4", "--eval-every", "2", "--quiet", "--device", "cpu"],
            flags,
            &[p(&out)],
        ]
        .concat();
        let o = gan1d(&args);
        assert!(o.status.success(), "{}", stderr(&o));
    })
}

/// 40 points of a parabola, every number times `scale`, as a `--data` file at `path`.
fn write_points(path: &Path, scale: f64) {
    let rows: String =
        (0..40).map(|i| format!("{},{}\n", f64::from(i) * scale, f64::from(i * i) * scale)).collect();
    fs::write(path, format!("x,y\n{rows}")).unwrap();
}

/// Rewrites the copied ensemble's leaderboard with `edit`.
fn edit_leaderboard(root: &Path, edit: impl Fn(&str) -> String) {
    let path = root.join("E/leaderboard.csv");
    let text = fs::read_to_string(&path).unwrap();
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit changed nothing");
    fs::write(&path, edited).unwrap();
}

#[test]
fn every_hostile_command_line_is_refused_in_one_line_and_changes_nothing() {
    let cases = cases();
    for (name, args, setup, needle) in &cases {
        let scratch = tempfile::tempdir().unwrap();
        let root = scratch.path();
        common::copy_run(run(), &root.join("R"));
        common::copy_run(&run().join("plots"), &root.join("R/plots"));
        common::copy_tree(ensemble(), &root.join("E"));
        setup(root);
        let args: Vec<String> = args
            .iter()
            .map(|a| match *a {
                "R" | "E" => p(&root.join(*a)).to_string(),
                "T" => p(root).to_string(),
                a if a.starts_with("R/") || a.starts_with("E/") => p(&root.join(a)).to_string(),
                a if a.starts_with("T/") => p(&root.join(&a[2..])).to_string(),
                a => a.to_string(),
            })
            .collect();
        let before = listing(root);
        let o = bounded(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: exit code; stderr: {err}");
        assert_no_panic(&o);
        let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("gan1d: ")).collect();
        assert_eq!(lines.len(), 1, "{name}: the error is not one line: {err}");
        assert!(lines[0].starts_with("error: "), "{name}: {err}");
        assert!(err.contains(needle), "{name}: stderr lacks {needle:?}: {err}");
        assert!(o.stdout.is_empty(), "{name}: printed {}", String::from_utf8_lossy(&o.stdout));
        assert!(listing(root) == before, "{name}: the folders changed");
    }
    eprintln!("{} hostile command lines refused", cases.len());
}

/// Every path under `dir` with its bytes (or its kind, for special files), sorted.
fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            let kind = fs::symlink_metadata(&path).unwrap().file_type();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                out.push((name, fs::read(&path).unwrap()));
            } else {
                out.push((name, b"special".to_vec()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_closed_stdout_ends_printing_quietly_and_training_goes_on() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("run");
    let script = format!(
        "set -o pipefail; {BIN} train --epochs 400 --eval-every 100 --quiet --out {} | head -1",
        p(&out)
    );
    let o = Command::new("bash").args(["-c", &script]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_no_panic(&o);
    let printed = String::from_utf8_lossy(&o.stdout);
    assert!(printed.starts_with("99 ") && printed.lines().count() == 1, "{printed}");
    // Training went on to its end, with its checkpoint.
    assert_eq!(read_manifest(&out)["iteration"], 400);
    for command in ["explore discriminator --out", "summary --diagram"] {
        let script = format!("set -o pipefail; {BIN} {command} {} | head -1", p(scratch.path()));
        let o = Command::new("bash").args(["-c", &script]).output().unwrap();
        assert!(o.status.success(), "{command}: {}", stderr(&o));
        assert_no_panic(&o);
    }
}

#[test]
fn a_full_stdout_is_an_error_in_one_line() {
    let run = p(run());
    for command in [
        format!("summary --checkpoint {run}"),
        format!("evaluate --checkpoint {run} -n 100"),
        format!("evaluate --checkpoint {run} -n 100 --json"),
        format!("sample --checkpoint {run} -n 100"),
        "explore discriminator --out /tmp".to_string(),
    ] {
        let o = Command::new("bash").args(["-c", &format!("{BIN} {command} > /dev/full")]).output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{command}: {err}");
        assert_no_panic(&o);
        assert!(err.contains("No space left on device"), "{command}: {err}");
        assert_eq!(err.lines().filter(|l| l.starts_with("error:")).count(), 1, "{command}: {err}");
    }
}
