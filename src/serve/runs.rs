//! The runs `gan1d serve` shows: found in the folders it was given, never through a symbolic
//! link, and described as JSON for the page from the files `gan1d train` writes (the manifest,
//! the logs, the leaderboard and the live record). Reading only: nothing here writes.
//!
//! A run is named by an id, `K:relative/path` under the K-th folder served; a request's id is
//! looked up among the runs found, never joined onto a path, so no request reaches a file
//! outside them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::checkpoint::{self, Layout};
use crate::live::{Live, State};

/// How deep below a served folder runs are looked for (`runs/sweep/lr-1` is two).
const DEPTH: usize = 2;
/// History rows sent for the learning curves at most; longer logs are thinned evenly.
const HISTORY_ROWS: usize = 800;
/// The largest log read.
const MAX_LOG: u64 = 256 << 20;

/// A run found in a served folder.
#[derive(Debug, Clone)]
pub struct RunRef {
    pub id: String,
    pub dir: PathBuf,
}

/// Every run in `roots`, in order of root, then path.
pub fn discover(roots: &[PathBuf]) -> Vec<RunRef> {
    let mut found = Vec::new();
    for (k, root) in roots.iter().enumerate() {
        let mut here = Vec::new();
        walk(root, root, 0, &mut here);
        here.sort();
        found.extend(here.into_iter().map(|(rel, dir)| RunRef { id: format!("{k}:{rel}"), dir }));
    }
    found
}

fn walk(root: &Path, dir: &Path, depth: usize, found: &mut Vec<(String, PathBuf)>) {
    if is_run(dir) {
        let rel = dir.strip_prefix(root).map(|p| p.display().to_string()).unwrap_or_default();
        found.push((if rel.is_empty() { ".".to_string() } else { rel }, dir.to_path_buf()));
        return;
    }
    if depth >= DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // `file_type` does not follow a link: a link to a folder is not walked into.
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && !name.starts_with('.') && name != "plots" && name != "members" {
            walk(root, &entry.path(), depth + 1, found);
        }
    }
}

/// Whether `dir` holds a run: a manifest of either layout, or the live record of one that has
/// not reached its first checkpoint.
fn is_run(dir: &Path) -> bool {
    let file = |p: PathBuf| p.symlink_metadata().is_ok_and(|m| m.is_file());
    file(checkpoint::manifest_path(dir))
        || file(checkpoint::ensemble_manifest_path(dir))
        || file(checkpoint::live_path(dir))
}

/// A log's header and complete rows.
type Log = (Vec<String>, Vec<Vec<String>>);

/// Logs read so far, by path, with the length and time of change they had: a page that polls
/// a long run re-reads a log only when the run has written to it.
static LOGS: std::sync::Mutex<BTreeMap<PathBuf, Cached>> = std::sync::Mutex::new(BTreeMap::new());
/// A cached log with the length and time of change it was read at.
type Cached = (u64, std::time::SystemTime, std::sync::Arc<Log>);
/// Logs kept in [`LOGS`] at most; past it the cache starts again.
const CACHED_LOGS: usize = 256;

/// A log as written, or while a new run has not published it, its staged copy: the header's
/// names and the complete rows (a row being appended is left for the next read).
fn read_log(path: &Path) -> Option<std::sync::Arc<Log>> {
    let staged = checkpoint::staged_path(path);
    let path = if staged.symlink_metadata().is_ok() { staged } else { path.to_path_buf() };
    let metadata = path.symlink_metadata().ok().filter(|m| m.is_file())?;
    let stamp = (metadata.len(), metadata.modified().ok()?);
    if let Some((len, modified, log)) = LOGS.lock().unwrap_or_else(|e| e.into_inner()).get(&path)
        && (*len, *modified) == stamp
    {
        return Some(std::sync::Arc::clone(log));
    }
    let bytes = crate::fsio::read_regular_file(&path, MAX_LOG).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    let mut lines = complete.lines();
    let header: Vec<String> = lines.next()?.split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect::<Vec<_>>())
        .filter(|r| r.len() == header.len())
        .collect();
    let log = std::sync::Arc::new((header, rows));
    let mut cache = LOGS.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= CACHED_LOGS {
        cache.clear();
    }
    cache.insert(path, (stamp.0, stamp.1, std::sync::Arc::clone(&log)));
    Some(log)
}

/// A log's cell as a JSON number: whole numbers as integers, `NaN` and text as null.
fn number(cell: &str) -> Value {
    if let Ok(whole) = cell.parse::<u64>() {
        return Value::from(whole);
    }
    cell.parse::<f64>().ok().filter(|v| v.is_finite()).map_or(Value::Null, Value::from)
}

/// The manifest of a flat run, or of an ensemble's first member, as JSON.
fn config_of(dir: &Path) -> Option<Value> {
    let manifest = match Layout::of(dir) {
        Layout::Flat => checkpoint::manifest_path(dir),
        Layout::Members => {
            let (_, seeds, _) = checkpoint::members_of(dir).ok()?;
            checkpoint::manifest_path(&checkpoint::member_dir(dir, *seeds.first()?))
        }
    };
    serde_json::from_slice(&crate::fsio::read_regular_file(&manifest, 1 << 20).ok()?).ok()
}

/// The target a manifest names, as a short label: its name, a curve's with its domain.
fn target_label(config: &Value) -> String {
    let target = &config["train"]["target"];
    let expression = target["expression"].as_str().unwrap_or("?");
    if target.get("data").is_some_and(|d| !d.is_null()) {
        return format!("data {}", target["data"]["file"].as_str().unwrap_or("?"));
    }
    match target["domain"].as_array() {
        Some(d) if d.len() == 2 && crate::target::plane::Plane::parse(expression, None).is_none() => {
            format!("{expression} on [{}, {}]", d[0], d[1])
        }
        _ => expression.to_string(),
    }
}

/// What the run is doing: its live record while its session runs; as the session ended
/// otherwise; for a run without a record (an older gan1d's), from its checkpoint.
fn state(live: Option<&Live>, done: u64, epochs: u64) -> &'static str {
    match live {
        Some(l) if l.is_running() => "training",
        Some(l) => match l.state {
            // Its process is gone without saying how it ended: killed.
            State::Training => "interrupted",
            State::Paused => "paused",
            State::Finished if done >= epochs => "finished",
            State::Finished => "paused",
            // Done: its metric stopped improving.
            State::Stopped => "finished",
            State::Diverged => "diverged",
            State::Failed => "failed",
        },
        None if epochs > 0 && done >= epochs => "finished",
        None => "paused",
    }
}

/// One run's line in the list: where it stands, its target, choices and latest metrics.
pub fn summary(run: &RunRef) -> Value {
    let live = Live::read(&run.dir);
    let config = config_of(&run.dir);
    let layout = Layout::of(&run.dir);
    let saved = match layout {
        Layout::Flat => config.as_ref().and_then(|c| c["iteration"].as_u64()),
        Layout::Members => checkpoint::members_of(&run.dir).ok().and_then(|(_, _, m)| m.map(|m| m.iteration)),
    }
    .unwrap_or(0);
    let epochs = config.as_ref().and_then(|c| c["train"]["epochs"].as_u64()).unwrap_or(0);
    let running = live.as_ref().is_some_and(Live::is_running);
    // A session that ended stands where its last checkpoint does.
    let (done, epochs) = match &live {
        Some(l) if running => (l.iterations_done, l.epochs),
        _ => (saved, epochs),
    };
    let seeds: Vec<u64> = match layout {
        Layout::Flat => config.as_ref().and_then(|c| c["seed"].as_u64()).into_iter().collect(),
        Layout::Members => checkpoint::members_of(&run.dir).map(|(_, s, _)| s).unwrap_or_default(),
    };
    json!({
        "id": run.id,
        "path": run.dir.display().to_string(),
        "layout": if layout == Layout::Members { "members" } else { "flat" },
        "state": state(live.as_ref(), done, epochs),
        "iterations_done": done,
        "epochs": epochs,
        "seeds": seeds,
        "target": config.as_ref().map(target_label),
        "choices": config.as_ref().map(crate::summary::flat_choices),
        "metrics": latest_metrics(&run.dir, layout),
        "command": live.as_ref().map(|l| l.origin().to_string()),
        "session": live.as_ref().map(|l| l.command.clone()),
        "error": live.as_ref().and_then(|l| l.error.clone()),
        "losses": live.as_ref().and_then(|l| l.losses),
    })
}

/// The latest evaluation of a flat run, or the leader's of a run of members, by name.
fn latest_metrics(dir: &Path, layout: Layout) -> Value {
    let (header, row) = match layout {
        Layout::Flat => match read_log(&checkpoint::metrics_csv_path(dir)).as_deref() {
            Some((h, rows)) => match rows.last() {
                Some(r) => (h.clone(), r.clone()),
                None => return Value::Null,
            },
            None => return Value::Null,
        },
        Layout::Members => match read_log(&checkpoint::leaderboard_path(dir)).as_deref() {
            Some((h, rows)) => match rows.first() {
                Some(r) => (h.clone(), r.clone()),
                None => return Value::Null,
            },
            None => return Value::Null,
        },
    };
    let skip = ["iteration", "rank", "seed", "status", "diverged_after", "select", "best_iteration"];
    let map: serde_json::Map<String, Value> = header
        .iter()
        .zip(&row)
        .filter(|(h, _)| !skip.contains(&h.as_str()))
        .map(|(h, c)| (h.clone(), number(c)))
        .filter(|(_, v)| !v.is_null())
        .collect();
    Value::Object(map)
}

/// The last frame in a member's `frames.csv`: its iteration, points and cells as
/// `[x, y, realness, dx, dy]`.
fn logged_frame(dir: &Path) -> Option<Value> {
    let log = read_log(&checkpoint::frames_csv_path(dir))?;
    let (header, rows) = &*log;
    let col = |name: &str| header.iter().position(|h| h == name);
    let (it, x, y, kind, r, dx, dy) = (
        col("iterations_done")?,
        col("x")?,
        col("y")?,
        col("kind")?,
        col("realness")?,
        col("dx")?,
        col("dy")?,
    );
    let last = rows.last()?[it].clone();
    let start = rows.iter().rposition(|row| row[it] != last).map_or(0, |i| i + 1);
    let mut points = Vec::new();
    let mut cells = Vec::new();
    for row in &rows[start..] {
        let probe =
            json!([number(&row[x]), number(&row[y]), number(&row[r]), number(&row[dx]), number(&row[dy])]);
        if row[kind] == "cell" { cells.push(probe) } else { points.push(probe) }
    }
    Some(json!({
        "iterations_done": last.parse::<u64>().unwrap_or(0),
        "points": points,
        "cells": cells,
        "columns": crate::view::COLUMNS,
        "rows": crate::view::ROWS,
    }))
}

/// Real points of a run's target as its animation draws them, for the picture.
fn real_points(dir: &Path) -> Option<Vec<(f32, f32)>> {
    let member = match Layout::of(dir) {
        Layout::Flat => dir.to_path_buf(),
        Layout::Members => checkpoint::member_dir(dir, *checkpoint::members_of(dir).ok()?.1.first()?),
    };
    let manifest = checkpoint::read_manifest(&member).ok()?;
    let target = manifest.target().ok()?;
    Some(crate::data::reference_pairs(manifest.seed, crate::rng::Tag::FrameReference, 0, &target, 200))
}

/// Everything the run's page shows.
pub fn detail(run: &RunRef, real_cache: &std::sync::Mutex<BTreeMap<PathBuf, Vec<(f32, f32)>>>) -> Value {
    let mut out = summary(run);
    let layout = Layout::of(&run.dir);
    // An ensemble is shown through its leader (or, before its first ranking, its first seed).
    let member = match layout {
        Layout::Flat => Some(run.dir.clone()),
        Layout::Members => {
            let leader = read_log(&checkpoint::leaderboard_path(&run.dir)).and_then(|log| {
                let column = log.0.iter().position(|h| h == "seed")?;
                log.1.first()?.get(column)?.parse::<u64>().ok()
            });
            let first =
                checkpoint::members_of(&run.dir).ok().and_then(|(_, seeds, _)| seeds.first().copied());
            leader.or(first).map(|s| checkpoint::member_dir(&run.dir, s))
        }
    };
    let live = Live::read(&run.dir);
    // The newer of the live record's frame and the log's last one.
    let logged = member.as_deref().and_then(logged_frame);
    let logged_at = logged.as_ref().and_then(|f| f["iterations_done"].as_u64());
    let frame = match live.as_ref().and_then(|l| l.frame.clone()) {
        Some(f) if layout == Layout::Flat && logged_at.is_none_or(|at| f.iterations_done >= at) => {
            serde_json::to_value(f).unwrap_or(Value::Null)
        }
        _ => logged.unwrap_or(Value::Null),
    };
    let from_live =
        live.as_ref().and_then(|l| l.frame.as_ref()).map(|f| f.real.iter().map(|&[x, y]| (x, y)).collect());
    let real = if let Some(points) = from_live {
        points
    } else {
        let mut cache = real_cache.lock().unwrap_or_else(|e| e.into_inner());
        match cache.get(&run.dir) {
            Some(points) => points.clone(),
            None => match real_points(&run.dir) {
                Some(points) => {
                    cache.insert(run.dir.clone(), points.clone());
                    points
                }
                None => Vec::new(),
            },
        }
    };
    let history = member.as_deref().and_then(|m| read_log(&checkpoint::history_csv_path(m))).map(|log| {
        let (h, rows) = &*log;
        let stride = rows.len().div_ceil(HISTORY_ROWS).max(1);
        let mut kept: Vec<&Vec<String>> = rows.iter().step_by(stride).collect();
        if let Some(last) = rows.last()
            && !std::ptr::eq(*kept.last().unwrap_or(&last), last)
        {
            kept.push(last);
        }
        json!({ "header": h, "rows": kept.iter().map(|r| r.iter().map(|c| number(c)).collect::<Vec<_>>()).collect::<Vec<_>>() })
    });
    let table = |path: PathBuf| {
        read_log(&path).map(|log| {
            let (h, rows) = &*log;
            json!({ "header": h, "rows": rows.iter().map(|r| r.iter().map(|c| {
                let n = number(c);
                if n.is_null() && c != "NaN" && !c.is_empty() { Value::from(c.as_str()) } else { n }
            }).collect::<Vec<_>>()).collect::<Vec<_>>() })
        })
    };
    let metrics = member.as_deref().and_then(|m| table(checkpoint::metrics_csv_path(m)));
    let members = (layout == Layout::Members).then(|| {
        let board = table(checkpoint::leaderboard_path(&run.dir));
        let seeds = checkpoint::members_of(&run.dir).map(|(_, s, _)| s).unwrap_or_default();
        let frames: Vec<Value> = seeds
            .iter()
            .map(|&s| {
                let points = logged_frame(&checkpoint::member_dir(&run.dir, s))
                    .map(|f| f["points"].clone())
                    .unwrap_or(Value::Null);
                json!({ "seed": s, "points": points })
            })
            .collect();
        json!({ "leaderboard": board, "frames": frames })
    });
    let map = out.as_object_mut().expect("a summary is an object");
    map.insert("config".into(), config_of(&run.dir).unwrap_or(Value::Null));
    map.insert("frame".into(), frame);
    let shown = member
        .as_deref()
        .filter(|_| layout == Layout::Members)
        .and_then(|m| m.file_name())
        .map(|n| n.to_string_lossy().trim_start_matches("seed-").to_string());
    map.insert("frame_seed".into(), json!(shown));
    map.insert("real".into(), json!(real.iter().map(|&(x, y)| [x, y]).collect::<Vec<_>>()));
    map.insert("history".into(), history.unwrap_or(Value::Null));
    map.insert("evaluations".into(), metrics.unwrap_or(Value::Null));
    map.insert("members".into(), members.unwrap_or(Value::Null));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_being_appended_gives_its_complete_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        std::fs::write(&path, "a,b\n1,2\n3,4\n5,").unwrap();
        let log = read_log(&path).unwrap();
        assert_eq!(log.0, ["a", "b"]);
        assert_eq!(log.1, [["1", "2"], ["3", "4"]]);
        // Appended to: read again, the cache notwithstanding.
        std::fs::write(&path, "a,b\n1,2\n3,4\n5,6\n").unwrap();
        assert_eq!(read_log(&path).unwrap().1.len(), 3);
    }

    #[test]
    fn the_state_follows_the_record_or_the_checkpoint() {
        assert_eq!(state(None, 10, 10), "finished");
        assert_eq!(state(None, 5, 10), "paused");
        let mut stopped = Live::new(10, "gan1d train --keep-best ks --patience 2".into());
        stopped.pid = u32::MAX;
        stopped.state = State::Stopped;
        assert_eq!(state(Some(&stopped), 5, 10), "finished");
        let mut live = Live::new(10, String::new());
        live.pid = u32::MAX;
        assert_eq!(state(Some(&live), 5, 10), "interrupted");
        live.state = State::Paused;
        assert_eq!(state(Some(&live), 5, 10), "paused");
        live.state = State::Diverged;
        assert_eq!(state(Some(&live), 5, 10), "diverged");
    }
}
