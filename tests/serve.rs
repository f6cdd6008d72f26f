//! `gan1d serve` over HTTP: what it answers, what it refuses, and that the runs it starts,
//! pauses, resumes and steps are the runs the command line makes. The page in a real browser is
//! `tests/browser.rs`.

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::server::Served;
use common::*;

/// A short run of `args` into `dir`, trained by the command line.
fn train(dir: &Path, args: &[&str]) {
    let mut all = vec!["train", "--quiet", "--out", dir.to_str().unwrap()];
    all.extend(args);
    let o = gan1d(&all);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The files of a run that must match byte for byte: checkpoint, logs and manifest less the
/// libtorch version line and the session's own records.
fn same_run(a: &Path, b: &Path) {
    for name in ["metrics.csv", "history.csv", "frames.csv"] {
        assert!(fs::read(a.join(name)).unwrap() == fs::read(b.join(name)).unwrap(), "{name} differs");
    }
    for part in ["generator", "discriminator", "optimizer"] {
        let (pa, pb) = (part_file(a, part), part_file(b, part));
        assert_eq!(pa.file_name(), pb.file_name());
        assert!(fs::read(&pa).unwrap() == fs::read(&pb).unwrap(), "{part} differs");
    }
}

#[test]
fn hostile_requests_are_refused_and_only_runs_inside_the_folders_are_served() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("runs");
    fs::create_dir(&root).unwrap();
    train(&root.join("a"), &["--epochs", "200", "--eval-every", "100"]);
    // Outside the served folder: a run reached only through a link, and a secret file.
    let outside = tmp.path().join("outside");
    train(&outside, &["--epochs", "100", "--eval-every", "100"]);
    fs::write(tmp.path().join("secret.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
    fs::create_dir(root.join("notes")).unwrap();
    fs::write(root.join("notes").join("config.txt"), "not a run").unwrap();
    let served = Served::start(&[&root]);

    let runs = served.json("/api/runs");
    let ids: Vec<&str> = runs["runs"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["0:a"], "{runs}");
    let run = served.json("/api/run?id=0:a");
    assert_eq!((run["state"].as_str(), run["iterations_done"].as_u64()), (Some("finished"), Some(200)));
    assert_eq!(run["frame"]["cells"].as_array().unwrap().len(), 300);
    assert_eq!(run["real"].as_array().unwrap().len(), 200);

    let port = served.port;
    let token = &served.token;
    let request = |method: &str, path: &str, headers: &str| {
        served.raw(&format!("{method} {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n"))
    };
    let host = format!("Host: 127.0.0.1:{port}\r\n");
    let with_token = format!("{host}X-Gan1d-Token: {token}\r\n");
    // The page itself needs the URL's token.
    assert_eq!(request("GET", "/", &host).0, 403);
    assert_eq!(request("GET", "/?token=0123", &host).0, 403);
    let (status, page) = request("GET", &format!("/?token={token}"), &host);
    assert_eq!(status, 200);
    assert!(page.contains("<canvas id=\"field\""), "{page}");
    for (method, path, headers, expected) in [
        // No token, a wrong one, or one in the query where the header is asked for.
        ("GET", "/api/runs".to_string(), host.clone(), 403),
        ("GET", "/api/runs".to_string(), format!("{host}X-Gan1d-Token: {}\r\n", "0".repeat(32)), 403),
        ("GET", format!("/api/runs?token={token}"), host.clone(), 403),
        // Another site's name (DNS rebinding), or none.
        (
            "GET",
            "/api/runs".to_string(),
            format!("Host: evil.example:{port}\r\nX-Gan1d-Token: {token}\r\n"),
            403,
        ),
        ("GET", "/api/runs".to_string(), format!("X-Gan1d-Token: {token}\r\n"), 403),
        ("GET", format!("/?token={token}"), format!("Host: 127.0.0.1.evil.example:{port}\r\n"), 403),
        // Paths out of the folders, by dots, encoded slashes, absolute paths and links.
        ("GET", "/api/run?id=0:../outside".to_string(), with_token.clone(), 404),
        ("GET", "/api/run?id=0:..%2Foutside".to_string(), with_token.clone(), 404),
        ("GET", "/api/run?id=0%3A%2E%2E%2Foutside".to_string(), with_token.clone(), 404),
        ("GET", format!("/api/run?id={}", outside.display()), with_token.clone(), 404),
        ("GET", "/api/run?id=0:link".to_string(), with_token.clone(), 404),
        ("GET", "/api/run?id=1:a".to_string(), with_token.clone(), 404),
        ("GET", "/api/run?id=0:notes".to_string(), with_token.clone(), 404),
        ("GET", "/api/run".to_string(), with_token.clone(), 400),
        ("GET", "/../secret.txt".to_string(), with_token.clone(), 404),
        ("GET", "/%2e%2e/secret.txt".to_string(), with_token.clone(), 404),
        ("GET", "/api/../../secret.txt".to_string(), with_token.clone(), 404),
        ("GET", "/report.html".to_string(), with_token.clone(), 404),
        ("GET", format!("/api/runs?{}", "x".repeat(5000)), with_token.clone(), 414),
        ("DELETE", "/api/runs".to_string(), with_token.clone(), 405),
        // A change without its JSON body type, or from another site's page.
        ("POST", "/api/pause?id=0:a".to_string(), format!("{with_token}Content-Length: 0\r\n"), 415),
        (
            "POST",
            "/api/pause?id=0:a".to_string(),
            format!("{with_token}Origin: http://evil.example\r\nContent-Type: application/json\r\n"),
            403,
        ),
        (
            "POST",
            "/api/start".to_string(),
            format!("{with_token}Content-Type: application/json\r\nContent-Length: 100000\r\n"),
            413,
        ),
    ] {
        let (status, body) = request(method, &path, &headers);
        assert_eq!(status, expected, "{method} {path} with {headers:?}: {body}");
        if status != 200 {
            assert!(body.contains("\"error\""), "{body}");
            assert!(!body.contains("secret"), "{body}");
        }
    }
    // Changes the page may not ask for, each refused in one line, with nothing made.
    for (body, says) in [
        (r#"{"name":"../escape"}"#, "the run's name"),
        (r#"{"name":"a"}"#, "already exists"),
        (r#"{"name":"n","flags":"--out /tmp/x"}"#, "--out is the page's"),
        (r#"{"name":"n","flags":"--epochs 0"}"#, "--epochs must be at least 1, got 0"),
        (r#"{"name":"n","target":"x^"}"#, "x^"),
        (r#"{"name":"n","unknown":1}"#, "unknown field"),
        ("not json", "not a start request"),
    ] {
        let (status, answer) = served.post("/api/start", body);
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer.contains(says), "{body}: {answer}");
    }
    let (status, answer) = served.post("/api/pause?id=0:a", "{}");
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("is not training"), "{answer}");
    let (status, answer) = served.post("/api/step?id=0:a&n=0", "{}");
    assert_eq!(status, 400, "{answer}");
    let mut names: Vec<String> =
        fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["a", "link", "notes"]);
}

#[test]
fn many_clients_at_once_and_runs_changing_under_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("runs");
    fs::create_dir(&root).unwrap();
    train(&root.join("a"), &["--epochs", "100", "--eval-every", "100"]);
    let served = Served::start(&[&root]);
    std::thread::scope(|scope| {
        let clients: Vec<_> = (0..12)
            .map(|_| {
                scope.spawn(|| {
                    for _ in 0..8 {
                        assert_eq!(served.get("/api/runs").0, 200);
                        let (status, _) = served.get("/api/run?id=0:a");
                        // The run may vanish under a client (below); nothing else.
                        assert!(status == 200 || status == 404, "{status}");
                    }
                })
            })
            .collect();
        // Meanwhile: a new run appears, a folder becomes a damaged run, the first one goes.
        train(&root.join("b"), &["--seeds", "1,2", "--epochs", "100", "--eval-every", "50"]);
        fs::create_dir(root.join("damaged")).unwrap();
        fs::write(root.join("damaged").join("config.json"), "{ not json").unwrap();
        fs::remove_dir_all(root.join("a")).unwrap();
        for client in clients {
            client.join().unwrap();
        }
    });
    let runs = served.json("/api/runs");
    let ids: Vec<&str> = runs["runs"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["0:b", "0:damaged"], "{runs}");
    let members = served.json("/api/run?id=0:b");
    assert_eq!(members["layout"], "members");
    assert_eq!(members["members"]["frames"].as_array().unwrap().len(), 2);
    assert_eq!(members["members"]["leaderboard"]["rows"].as_array().unwrap().len(), 2);
    // A damaged run is listed without a checkpoint, not an error.
    assert_eq!(served.json("/api/run?id=0:damaged")["config"], serde_json::Value::Null);
}

#[test]
fn a_run_started_from_the_page_pauses_resumes_and_steps_as_the_command_line_would() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("runs");
    fs::create_dir(&root).unwrap();
    let served = Served::start(&[&root]);
    let (status, answer) = served.post(
        "/api/start",
        r#"{"name":"p","target":"ring","seeds":"3","flags":"--epochs 20000 --eval-every 5000"}"#,
    );
    assert_eq!(status, 200, "{answer}");
    let started: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let dir = root.join("p");
    assert_eq!(
        started["command"].as_str().unwrap(),
        format!(
            "gan1d train --out {} --target ring --seed 3 --epochs 20000 --eval-every 5000",
            dir.display()
        )
    );
    let id = started["id"].as_str().unwrap().to_string();
    let training = served.wait_for(&id, Duration::from_secs(60), |r| {
        r["state"] == "training" && r["iterations_done"].as_u64() > Some(0)
    });
    assert!(training["frame"]["points"].as_array().is_some_and(|p| p.len() == 200), "the live frame");
    let (status, answer) = served.post(&format!("/api/pause?id={id}"), "{}");
    assert_eq!(status, 200, "{answer}");
    let paused = served.wait_for(&id, Duration::from_secs(60), |r| r["state"] != "training");
    assert_eq!(paused["state"], "paused", "{}", paused["error"]);
    let at = paused["iterations_done"].as_u64().unwrap();
    assert!(at > 0 && at < 20000, "paused at {at}");
    assert_eq!(read_manifest(&dir)["iteration"].as_u64(), Some(at), "the checkpoint is where the pause was");
    let (status, answer) = served.post(&format!("/api/resume?id={id}"), "{}");
    assert_eq!(status, 200, "{answer}");
    served.wait_for(&id, Duration::from_secs(120), |r| r["state"] == "finished");
    // The same command line, typed: the same run, bit for bit.
    let typed = tmp.path().join("typed");
    train(&typed, &["--target", "ring", "--seed", "3", "--epochs", "20000", "--eval-every", "5000"]);
    same_run(&dir, &typed);
    // A step of 500 is a resume to 20 500.
    let (status, answer) = served.post(&format!("/api/step?id={id}&n=500"), "{}");
    assert_eq!(status, 200, "{answer}");
    let stepped = served.wait_for(&id, Duration::from_secs(60), |r| {
        r["state"] == "finished" && r["iterations_done"] == 20500
    });
    assert_eq!(stepped["epochs"], 20500);
    assert!(fs::read_to_string(dir.join("report.html")).unwrap().contains("20500 of 20500 iterations"));
}
