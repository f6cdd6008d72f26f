//! The page of `gan1d serve` in a real browser: headless Chromium, driven over the DevTools
//! protocol on a pipe (`--remote-debugging-pipe`: JSON messages ended by a NUL byte on file
//! descriptors 3 and 4). A run is started from the page's form, watched, paused and resumed
//! with its buttons; what is drawn is checked by counting the screenshot's pixels by colour,
//! the counter from the page's DOM.
//!
//! Chromium is the Debian package `chromium` (`.ci/run` installs it). Without one the test says
//! so and passes, unless GAN1D_REQUIRE_BROWSER=1 (as `.ci/run` sets) makes that a failure.

mod common;

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::server::Served;
use common::*;
use serde_json::{Value, json};

/// The page's colours of real and generated points (`REAL`, `FAKE` in page.html).
const REAL: [u8; 3] = [0, 130, 50];
const FAKE: [u8; 3] = [120, 40, 170];

struct Browser {
    child: Child,
    to: File,
    from: BufReader<File>,
    next: u64,
    session: String,
    _profile: tempfile::TempDir,
}

fn chromium() -> Option<PathBuf> {
    if let Some(given) = std::env::var_os("GAN1D_CHROMIUM") {
        return Some(PathBuf::from(given));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

impl Browser {
    /// A headless browser showing `url`.
    fn open(binary: &Path, url: &str) -> Browser {
        let pipe = || {
            let mut fds = [0; 2];
            // SAFETY: pipe fills two descriptors that this function then owns.
            assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
            fds
        };
        let (commands, answers) = (pipe(), pipe());
        let profile = tempfile::tempdir().unwrap();
        let mut command = Command::new(binary);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-pipe",
                "--no-first-run",
            ])
            .args(["--window-size=1280,1600", "--force-device-scale-factor=1", "--hide-scrollbars"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let (read_commands, write_answers) = (commands[0], answers[1]);
        // SAFETY: between fork and exec only async-signal-safe calls: the ends the browser
        // uses become its descriptors 3 and 4, moved high first so that neither overwrites the
        // other.
        unsafe {
            command.pre_exec(move || {
                let r = libc::fcntl(read_commands, libc::F_DUPFD, 100);
                let w = libc::fcntl(write_answers, libc::F_DUPFD, 100);
                if r < 0 || w < 0 || libc::dup2(r, 3) < 0 || libc::dup2(w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("chromium starts");
        // SAFETY: each descriptor is closed once: the browser's ends here, ours by the files.
        unsafe {
            libc::close(commands[0]);
            libc::close(answers[1]);
        }
        let (to, from) = unsafe { (File::from_raw_fd(commands[1]), File::from_raw_fd(answers[0])) };
        let mut browser = Browser {
            child,
            to,
            from: BufReader::new(from),
            next: 0,
            session: String::new(),
            _profile: profile,
        };
        let target = browser.send("Target.createTarget", json!({ "url": url }));
        let attached =
            browser.send("Target.attachToTarget", json!({ "targetId": target["targetId"], "flatten": true }));
        browser.session = attached["sessionId"].as_str().unwrap().to_string();
        browser
    }

    /// Sends one DevTools command (to the page once attached) and waits for its result.
    fn send(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let mut message = json!({ "id": self.next, "method": method, "params": params });
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).unwrap();
        loop {
            let mut raw = Vec::new();
            let n = self.from.read_until(0, &mut raw).unwrap();
            assert!(n > 0, "the browser closed its pipe");
            raw.pop();
            let answer: Value = serde_json::from_slice(&raw).unwrap();
            if answer["id"] == self.next {
                assert!(answer.get("error").is_none(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.send(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        assert!(result.get("exceptionDetails").is_none(), "{expression}: {result}");
        result["result"]["value"].clone()
    }

    /// Waits for `expression` to be true.
    fn wait(&mut self, expression: &str, limit: Duration) {
        let began = Instant::now();
        while self.eval(expression) != json!(true) {
            assert!(began.elapsed() < limit, "never true: {expression}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The RGB pixels of the element `id` as the screen shows it: width, height, pixels.
    fn shot(&mut self, id: &str) -> (u32, u32, Vec<u8>) {
        let rect = self.eval(&format!(
            "(() => {{ const r = document.getElementById('{id}').getBoundingClientRect(); \
             return [r.left + scrollX, r.top + scrollY, r.width, r.height]; }})()"
        ));
        let [x, y, w, h] = [0, 1, 2, 3].map(|i| rect[i].as_f64().unwrap());
        let shot = self.send(
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": true, "clip": { "x": x, "y": y, "width": w, "height": h, "scale": 1 } }),
        );
        let png = decode_base64(shot["data"].as_str().unwrap());
        let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size()];
        let frame = reader.next_frame(&mut pixels).unwrap();
        let channels = frame.color_type.samples();
        let rgb: Vec<u8> =
            pixels[..frame.buffer_size()].chunks(channels).flat_map(|p| [p[0], p[1], p[2]]).collect();
        (frame.width, frame.height, rgb)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = text.bytes().filter(|&c| c != b'=' && !c.is_ascii_whitespace()).map(value).collect();
    bytes
        .chunks(4)
        .flat_map(|q| {
            let n = q.iter().enumerate().fold(0u32, |n, (i, &v)| n | u32::from(v) << (18 - 6 * i));
            [(n >> 16) as u8, (n >> 8) as u8, n as u8].into_iter().take(q.len() - 1)
        })
        .collect()
}

/// Pixels within 3 of `colour` on every channel.
fn count(rgb: &[u8], colour: [u8; 3]) -> usize {
    rgb.chunks(3).filter(|p| p.iter().zip(colour).all(|(&a, b)| a.abs_diff(b) <= 3)).count()
}

/// What lies behind the points and arrows: pixels at least 5 px from any point or arrow,
/// those of them tinted (not white), and their distinct colours.
#[derive(Debug)]
struct HeatMap {
    open: usize,
    tinted: usize,
    shades: usize,
}

fn heat_map(w: usize, h: usize, rgb: &[u8]) -> HeatMap {
    let pixel = |x: usize, y: usize| &rgb[(y * w + x) * 3..(y * w + x) * 3 + 3];
    // Points in their colours, arrows dark; the text of the axes' corner is left out.
    let drawn = |p: &[u8]| {
        [REAL, FAKE].iter().any(|c| p.iter().zip(c).all(|(&a, &b)| a.abs_diff(b) <= 40))
            || p.iter().all(|&v| v < 150)
    };
    let mut near = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            if drawn(pixel(x, y)) {
                for yy in y.saturating_sub(5)..(y + 6).min(h) {
                    for xx in x.saturating_sub(5)..(x + 6).min(w) {
                        near[yy * w + xx] = true;
                    }
                }
            }
        }
    }
    let mut shades = std::collections::HashSet::new();
    let (mut open, mut tinted) = (0, 0);
    for y in 0..h.saturating_sub(20) {
        for x in 0..w {
            if near[y * w + x] {
                continue;
            }
            open += 1;
            let p = pixel(x, y);
            if p.iter().any(|&v| v < 250) {
                tinted += 1;
                shades.insert(p.to_vec());
            }
        }
    }
    HeatMap { open, tinted, shades: shades.len() }
}

#[test]
fn the_page_draws_a_run_it_started_follows_it_live_and_pauses_and_resumes_it_exactly() {
    let Some(binary) = chromium() else {
        assert!(
            std::env::var_os("GAN1D_REQUIRE_BROWSER").is_none(),
            "GAN1D_REQUIRE_BROWSER is set and no chromium is found"
        );
        eprintln!("no chromium on PATH: the browser test is skipped (install the Debian package chromium)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("runs");
    fs::create_dir(&root).unwrap();
    let served = Served::start(&[&root]);
    let mut browser = Browser::open(&binary, &served.url);
    browser.wait(
        "document.readyState === 'complete' && !!document.getElementById('start-form')",
        Duration::from_secs(30),
    );
    // Marks this page: a reload would lose the mark.
    browser.eval("window.unreloaded = true");

    // A ring run with the robust recipe, started from the form.
    browser.eval(
        "(() => { const set = (id, v) => document.getElementById(id).value = v; set('start-name', 'ring'); \
         set('start-target', 'ring'); set('start-recipe', 'robust'); set('start-seeds', '1'); \
         set('start-flags', '--epochs 30000 --eval-every 10000'); document.getElementById('start-button').click(); })()",
    );
    browser.wait("document.getElementById('run-state').textContent === 'training'", Duration::from_secs(30));

    // The counter advances without a reload.
    let mut seen = Vec::new();
    let began = Instant::now();
    while seen.len() < 3 {
        let now = browser.eval("+document.getElementById('iteration').textContent").as_u64().unwrap();
        if seen.last() != Some(&now) {
            seen.push(now);
        }
        assert!(began.elapsed() < Duration::from_secs(20), "the counter stood still: {seen:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(browser.eval("window.unreloaded === true"), json!(true), "the page reloaded");

    // The picture: real and generated points in their colours over a heat map of many shades.
    let (w, h, rgb) = browser.shot("field");
    assert_eq!((w, h), (480, 480));
    let (real, fake) = (count(&rgb, REAL), count(&rgb, FAKE));
    // The ring's real points stand on 8 small modes, so they cover few pixels.
    assert!(real > 30 && fake > 100, "points: {real} real, {fake} generated pixels");
    let map = heat_map(w as usize, h as usize, &rgb);
    assert!(map.tinted > map.open / 2 && map.shades > 40, "heat map: {map:?}");

    // Pause: the run checkpoints and stops; resume: it finishes.
    browser.eval("document.getElementById('pause').click()");
    browser.wait("document.getElementById('run-state').textContent === 'paused'", Duration::from_secs(30));
    let dir = root.join("ring");
    let at = read_manifest(&dir)["iteration"].as_u64().unwrap();
    assert!(at > 0 && at < 30000, "paused at {at}");
    assert_eq!(browser.eval("+document.getElementById('iteration').textContent").as_u64(), Some(at));
    browser.wait("!document.getElementById('resume').disabled", Duration::from_secs(10));
    browser.eval("document.getElementById('resume').click()");
    browser.wait("document.getElementById('run-state').textContent === 'finished'", Duration::from_secs(90));
    assert_eq!(browser.eval("window.unreloaded === true"), json!(true), "the page reloaded");

    // The command line the page shows makes the same run, bit for bit.
    let command =
        browser.eval("document.getElementById('command').textContent").as_str().unwrap().to_string();
    let typed = tmp.path().join("typed");
    let mut words: Vec<String> = command.split(' ').skip(1).map(String::from).collect();
    assert_eq!(words[..3], ["train".to_string(), "--out".into(), dir.display().to_string()], "{command}");
    words[2] = typed.display().to_string();
    let o = Command::new(BIN).args(&words).arg("--quiet").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    for name in ["metrics.csv", "history.csv", "frames.csv"] {
        assert!(fs::read(dir.join(name)).unwrap() == fs::read(typed.join(name)).unwrap(), "{name} differs");
    }
    for part in ["generator", "discriminator", "optimizer"] {
        assert!(
            fs::read(part_file(&dir, part)).unwrap() == fs::read(part_file(&typed, part)).unwrap(),
            "{part}"
        );
    }
}
