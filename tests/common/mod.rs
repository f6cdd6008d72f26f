//! Helpers shared by the tests that run the real binary and handle checkpoint folders.

#![allow(dead_code)]

pub mod server;
pub mod step;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_gan1d");

pub fn gan1d(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("the gan1d binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts that no panic, abort or backtrace reached stderr.
pub fn assert_no_panic(o: &Output) {
    let err = stderr(o);
    for bad in ["panicked", "RUST_BACKTRACE", "stack backtrace", "frame #", "terminate called", "Aborted"] {
        assert!(!err.contains(bad), "stderr shows {bad:?}: {err}");
    }
}

/// Asserts a refusal: exit code 2, stderr naming `needle`, and no panic or backtrace.
pub fn assert_refused(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "exit code; stderr: {err}");
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    assert_no_panic(o);
}

/// Parses `x,y` CSV as `sample` writes it.
pub fn parse_csv(text: &str) -> Vec<(f64, f64)> {
    text.lines()
        .skip(1)
        .map(|l| {
            let (x, y) = l.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

pub fn read_manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(dir.join("config.json")).unwrap()).unwrap()
}

/// The tensor file of `part` (`generator`, `discriminator`, `optimizer`) that the manifest names.
pub fn part_file(dir: &Path, part: &str) -> PathBuf {
    dir.join(read_manifest(dir)["files"][part]["name"].as_str().unwrap())
}

pub use gan1d::fsio::sha256_hex;

/// Writes `manifest` as a valid, sealed `config.json` of `dir`: each tensor file's checksum is
/// set to its bytes now, and the manifest's own checksum is computed as the README describes
/// (SHA-256 of the file with that value replaced by 64 zeros). Damage sealed this way gets past
/// the checksums, so the loader's checks of the contents are what is tested.
pub fn write_sealed(dir: &Path, mut manifest: serde_json::Value) {
    for part in ["generator", "discriminator", "optimizer"] {
        let bytes = manifest["files"][part]["name"].as_str().and_then(|name| fs::read(dir.join(name)).ok());
        if let Some(bytes) = bytes {
            manifest["files"][part]["sha256"] = sha256_hex(&bytes).into();
        }
    }
    let zeros = "0".repeat(64);
    manifest["manifest_sha256"] = zeros.clone().into();
    let text = format!("{}\n", serde_json::to_string_pretty(&manifest).unwrap());
    let digest = sha256_hex(text.as_bytes());
    let sealed = text.replacen(&zeros, &digest, 1);
    fs::write(dir.join("config.json"), sealed).unwrap();
}

/// Re-seals `dir`'s manifest after its tensor files were changed.
pub fn reseal(dir: &Path) {
    write_sealed(dir, read_manifest(dir));
}

/// Copies the files of the checkpoint folder `from` (not its plots) into a new folder `to`.
pub fn copy_run(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Copies `from` (files and folders) into a new folder `to`.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        } else {
            fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Every file under `dir` with its bytes, by relative path, sorted.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                files.push((name, fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// `gan1d train --device cpu --quiet ARGS`, running in the background.
pub fn spawn_train(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(["train", "--device", "cpu", "--quiet"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the gan1d binary starts")
}

/// Waits until `file` exists, failing the test after a minute.
pub fn wait_for(file: &Path) {
    let start = Instant::now();
    while !file.exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "{} never appeared", file.display());
        sleep(Duration::from_millis(20));
    }
}

pub fn send(child: &Child, signal: &str) {
    let status =
        Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
    assert!(status.success(), "kill -{signal} failed");
}

/// Waits for `child` to exit, failing the test (and killing it) after a minute.
pub fn finish(mut child: Child) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("gan1d did not exit within a minute");
        }
        sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// How many pixels of the 8-bit RGB PNG at `path` `pick` accepts.
pub fn pixels_where(path: &Path, pick: impl Fn(u8, u8, u8) -> bool) -> usize {
    let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(frame.color_type, png::ColorType::Rgb, "{}", path.display());
    pixels[..frame.buffer_size()].chunks(3).filter(|p| pick(p[0], p[1], p[2])).count()
}
