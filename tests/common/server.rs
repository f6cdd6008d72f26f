//! A `gan1d serve` process for tests, and a plain HTTP/1.1 client that sends exactly the
//! request it is given (hostile ones included).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::BIN;

pub struct Served {
    child: Child,
    /// Its stdout, kept open for what it prints after the URL.
    _stdout: BufReader<std::process::ChildStdout>,
    pub port: u16,
    pub token: String,
    pub url: String,
}

impl Served {
    /// `gan1d serve DIRS --port 0`, once it has printed its URL.
    pub fn start(dirs: &[&Path]) -> Served {
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(dirs)
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("gan1d serve starts");
        let mut first = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut first).unwrap();
        let url = first
            .trim()
            .strip_prefix("gan1d serve: ")
            .unwrap_or_else(|| panic!("no URL in {first:?}"))
            .to_string();
        let port = url.split(':').nth(2).unwrap().split('/').next().unwrap().parse().unwrap();
        let token = url.split("token=").nth(1).unwrap().to_string();
        Served { child, _stdout: stdout, port, token, url }
    }

    /// A request with the right Host and token headers.
    pub fn get(&self, path: &str) -> (u16, String) {
        self.raw(&format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Gan1d-Token: {}\r\nConnection: close\r\n\r\n",
            self.port, self.token
        ))
    }

    pub fn post(&self, path: &str, body: &str) -> (u16, String) {
        self.raw(&format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Gan1d-Token: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            self.token,
            body.len()
        ))
    }

    pub fn json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Sends `request` as it is; the status and body of the answer.
    pub fn raw(&self, request: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("the server accepts");
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer).into_owned();
        let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        (status, dechunk(&body))
    }

    /// The run `id` as the page sees it, once `ready` holds (polled for up to `limit`).
    pub fn wait_for(
        &self,
        id: &str,
        limit: Duration,
        ready: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let began = Instant::now();
        loop {
            let run = self.json(&format!("/api/run?id={id}"));
            if ready(&run) {
                return run;
            }
            assert!(began.elapsed() < limit, "run {id} never got there: {}", summary(&run));
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn summary(run: &serde_json::Value) -> String {
    format!("state {} at {} of {}", run["state"], run["iterations_done"], run["epochs"])
}

/// A chunked body's content (tiny_http chunks large answers).
fn dechunk(body: &str) -> String {
    let looks_chunked =
        body.split("\r\n").next().is_some_and(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_hexdigit()));
    if !looks_chunked {
        return body.to_string();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { return body.to_string() };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
