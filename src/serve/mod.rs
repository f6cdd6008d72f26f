//! `gan1d serve`: a local web page that lists the runs in the folders given, compares them,
//! draws one run as it trains (the discriminator's heat map, the generated points and their
//! pulls, the learning curves), and starts, pauses, resumes and steps runs.
//!
//! This file is the HTTP side: the address, the token, the checks every request passes, and the
//! routes. `runs.rs` reads the runs, `control.rs` starts and signals `gan1d train` processes,
//! `page.html` is the page, embedded in the binary. The server is tiny_http: small, threaded,
//! no async runtime, maintained, and enough for one user's browser on their own machine.
//!
//! Safe by default: it listens on 127.0.0.1 unless `--host` says otherwise; every request
//! carries the random token printed in the URL (the page sends it in a header); the Host header
//! must name this server, so a page of another site cannot reach it through DNS rebinding; a
//! request that changes anything is a POST with the token in its header and a JSON body, which
//! no other site's page can send without the browser asking first; runs are named by ids looked
//! up among the runs found, never by paths; bodies, URLs and concurrent sessions are bounded.

mod control;
mod runs;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use tiny_http::{Header, Method, Request, Response, Server};

use crate::cli::ServeArgs;
use control::{Children, StartRequest};
use runs::RunRef;

/// The page, with its script and style.
const PAGE: &str = include_str!("page.html");
/// The longest URL and body a request may have.
const MAX_URL: usize = 4096;
const MAX_BODY: u64 = 16 * 1024;
/// Threads answering requests: a slow one (a start waits for its run) leaves others free.
const WORKERS: usize = 8;

/// What every request handler shares.
struct Shared {
    roots: Vec<PathBuf>,
    token: String,
    /// The Host headers this server answers to.
    hosts: Vec<String>,
    children: Children,
    real_points: Mutex<BTreeMap<PathBuf, Vec<(f32, f32)>>>,
}

pub fn serve(args: &ServeArgs) -> Result<()> {
    let roots = served_folders(&args.dirs)?;
    let host = args.host.as_str();
    let server =
        Server::http((host, args.port)).map_err(|e| anyhow!("cannot listen on {host}:{}: {e}", args.port))?;
    let port = server.server_addr().to_ip().map(|a| a.port()).ok_or_else(|| anyhow!("not an IP address"))?;
    let loopback = ["127.0.0.1", "localhost", "::1"].contains(&host);
    if !loopback {
        crate::output::note(&format!(
            "gan1d: warning: listening on {host}, not only this machine: anyone who can reach it and holds the URL's \
             token can start and stop runs here"
        ));
    }
    let shown = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
    let mut hosts = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")];
    hosts.push(format!("{shown}:{port}"));
    let token = new_token()?;
    let shared = Arc::new(Shared {
        roots,
        token,
        hosts,
        children: Children::default(),
        real_points: Mutex::default(),
    });
    let url_host = if host == "0.0.0.0" || host == "::" { "127.0.0.1".to_string() } else { shown };
    // A closed stdout loses these lines, not the server.
    use std::io::Write;
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "gan1d serve: http://{url_host}:{port}/?token={}", shared.token);
    for root in &shared.roots {
        let _ = writeln!(stdout, "gan1d serve: runs in {}", root.display());
    }
    let _ = stdout.flush();
    let server = Arc::new(server);
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (server, shared) = (Arc::clone(&server), Arc::clone(&shared));
            std::thread::spawn(move || {
                while let Ok(request) = server.recv() {
                    answer(&shared, request);
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    Ok(())
}

/// The folders to serve, each an existing folder; `runs`, made if missing, when none is named.
fn served_folders(dirs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    if dirs.is_empty() {
        let runs = PathBuf::from("runs");
        if runs.symlink_metadata().is_err() {
            std::fs::create_dir(&runs).context("cannot make the folder runs/ to serve")?;
            crate::output::note("gan1d: made the folder runs/ for the runs started from the page");
        }
        return served_folders(&[runs]);
    }
    let mut roots = Vec::new();
    for dir in dirs {
        let real = std::fs::canonicalize(dir).with_context(|| format!("cannot serve {}", dir.display()))?;
        if !real.is_dir() {
            bail!("cannot serve {}: not a folder", dir.display());
        }
        roots.push(real);
    }
    Ok(roots)
}

/// 128 random bits as hex, from the system's generator.
fn new_token() -> Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("cannot draw a random token from /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// An answer: status and JSON, or the page.
enum Answer {
    Json(u16, Value),
    Page,
}

fn error(status: u16, message: impl Into<String>) -> Answer {
    Answer::Json(status, json!({ "error": message.into() }))
}

fn answer(shared: &Shared, mut request: Request) {
    let answer = route(shared, &mut request);
    let (status, body, kind) = match answer {
        Answer::Json(status, value) => (status, value.to_string(), "application/json"),
        Answer::Page => (200, PAGE.to_string(), "text/html; charset=utf-8"),
    };
    let mut response = Response::from_string(body).with_status_code(status);
    for (name, value) in [
        ("Content-Type", kind),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; \
             form-action 'none'; frame-ancestors 'none'",
        ),
    ] {
        if let Ok(header) = Header::from_bytes(name, value) {
            response.add_header(header);
        }
    }
    let _ = request.respond(response);
}

fn header<'a>(request: &'a Request, name: &'static str) -> Option<&'a str> {
    request.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str())
}

/// A query's parameters, percent-decoded.
fn query(url: &str) -> BTreeMap<String, String> {
    url.split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

/// `text` percent-decoded (`+` as a space), or `None` when that is not UTF-8 or malformed.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Equal in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn route(shared: &Shared, request: &mut Request) -> Answer {
    let url = request.url().to_string();
    if url.len() > MAX_URL {
        return error(414, "the URL is too long");
    }
    // The Host check first: a page of another site that rebinds its name to this machine
    // sends its own name.
    let host = header(request, "Host").unwrap_or_default().to_ascii_lowercase();
    if !shared.hosts.contains(&host) {
        return error(403, "this server answers only to its own address (the Host header names another)");
    }
    let path = url.split('?').next().unwrap_or_default().to_string();
    let params = query(&url);
    let token_ok = |t: Option<&str>| t.is_some_and(|t| same(t, &shared.token));
    let method = request.method().clone();
    match (&method, path.as_str()) {
        (Method::Get, "/") => {
            if token_ok(params.get("token").map(String::as_str)) {
                Answer::Page
            } else {
                error(403, "the URL's token is missing or wrong: open the URL gan1d serve printed")
            }
        }
        (_, p) if p.starts_with("/api/") => {
            if !token_ok(header(request, "X-Gan1d-Token")) {
                return error(403, "the X-Gan1d-Token header is missing or wrong");
            }
            match method {
                Method::Get => get(shared, p, &params),
                Method::Post => {
                    if let Some(origin) = header(request, "Origin") {
                        let origin = origin.to_ascii_lowercase();
                        let own = origin
                            .strip_prefix("http://")
                            .is_some_and(|o| shared.hosts.iter().any(|h| h == o));
                        if !own {
                            return error(403, "a request from another site's page is refused");
                        }
                    }
                    if !header(request, "Content-Type").is_some_and(|t| t.starts_with("application/json")) {
                        return error(415, "send the request's body as application/json");
                    }
                    if request.body_length().is_some_and(|n| n as u64 > MAX_BODY) {
                        return error(413, "the request's body is too large");
                    }
                    let mut body = Vec::new();
                    if request.as_reader().take(MAX_BODY + 1).read_to_end(&mut body).is_err() {
                        return error(400, "cannot read the request's body");
                    }
                    if body.len() as u64 > MAX_BODY {
                        return error(413, "the request's body is too large");
                    }
                    post(shared, p, &params, &body)
                }
                _ => error(405, "only GET and POST are answered"),
            }
        }
        _ => error(404, "no such page"),
    }
}

/// The run an id names, among those found now.
fn find(shared: &Shared, params: &BTreeMap<String, String>) -> Result<RunRef, Answer> {
    let id = params.get("id").ok_or_else(|| error(400, "name a run with id="))?;
    runs::discover(&shared.roots)
        .into_iter()
        .find(|r| r.id == *id)
        .ok_or_else(|| error(404, format!("no run {id:?}")))
}

fn get(shared: &Shared, path: &str, params: &BTreeMap<String, String>) -> Answer {
    shared.children.reap();
    match path {
        "/api/runs" => {
            let runs: Vec<Value> = runs::discover(&shared.roots).iter().map(runs::summary).collect();
            let roots: Vec<String> = shared.roots.iter().map(|r| r.display().to_string()).collect();
            Answer::Json(200, json!({ "roots": roots, "runs": runs }))
        }
        "/api/run" => match find(shared, params) {
            Ok(run) => Answer::Json(200, runs::detail(&run, &shared.real_points)),
            Err(answer) => answer,
        },
        _ => error(404, "no such call"),
    }
}

fn post(shared: &Shared, path: &str, params: &BTreeMap<String, String>, body: &[u8]) -> Answer {
    let failed = |e: anyhow::Error| error(400, crate::output::one_line(&format!("{e:#}")));
    match path {
        "/api/start" => {
            let request: StartRequest = match serde_json::from_slice(body) {
                Ok(r) => r,
                Err(e) => return error(400, format!("the request is not a start request: {e}")),
            };
            let root = &shared.roots[0];
            let started = Children::start_args(root, &request).and_then(|args| {
                let dir = control::run_dir(root, &request.name);
                let command = shared.children.start(&dir, &args)?;
                Ok((dir, command))
            });
            match started {
                Ok((dir, command)) => {
                    let id = runs::discover(&shared.roots).into_iter().find(|r| r.dir == dir).map(|r| r.id);
                    Answer::Json(200, json!({ "id": id, "command": command }))
                }
                Err(e) => failed(e),
            }
        }
        "/api/pause" | "/api/resume" | "/api/step" => {
            let run = match find(shared, params) {
                Ok(run) => run,
                Err(answer) => return answer,
            };
            let done = runs::summary(&run)["iterations_done"].as_u64().unwrap_or(0);
            let result = match path {
                "/api/pause" => Children::pause(&run.dir).map(|()| String::new()),
                "/api/resume" => shared.children.resume(&run.dir, done, None),
                _ => match params.get("n").map(|n| n.parse::<u64>()) {
                    Some(Ok(n @ 1..)) => shared.children.resume(&run.dir, done, Some(n)),
                    _ => Err(anyhow!("step takes n=, a whole number of iterations of at least 1")),
                },
            };
            match result {
                Ok(command) => Answer::Json(200, json!({ "id": run.id, "command": command })),
                Err(e) => failed(e),
            }
        }
        _ => error(404, "no such call"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_decoded_and_bad_escapes_dropped() {
        let q = query("/api/run?id=0%3Aring%2D1&n=5&bad=%zz&x=a+b");
        assert_eq!(q.get("id").map(String::as_str), Some("0:ring-1"));
        assert_eq!(q.get("n").map(String::as_str), Some("5"));
        assert_eq!(q.get("x").map(String::as_str), Some("a b"));
        assert!(!q.contains_key("bad"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }

    #[test]
    fn a_served_folder_must_exist() {
        let error = served_folders(&[PathBuf::from("/no/such/folder")]).unwrap_err();
        assert!(format!("{error:#}").contains("cannot serve /no/such/folder"), "{error:#}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert!(format!("{:#}", served_folders(&[file]).unwrap_err()).contains("not a folder"));
    }
}
