//! `DIR/report.html`: a run's report in one file that opens from the file system, with no
//! network: the command line that made it, where it stands, its configuration, its metrics,
//! and its pictures inline (the latest evaluation's plot, the learning curves, the animation).
//! `gan1d train` rewrites it with each checkpoint, from the files the run has written.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::checkpoint::{self, Layout};

/// Evaluations listed at most; a long run's report keeps its latest.
const MAX_ROWS: usize = 60;
/// The largest picture inlined; a larger one is named, not embedded.
const MAX_PICTURE: u64 = 16 << 20;

/// What the report says about the session that wrote it.
pub struct Session<'a> {
    pub command: &'a str,
    /// The command line that began the run (the same as `command` for a new run).
    pub origin: &'a str,
    /// Iterations done and the total the session trains to.
    pub iterations_done: u64,
    pub epochs: u64,
    pub state: &'a str,
}

/// Writes `DIR/report.html` for the run in `dir` as its files are now.
pub fn write(dir: &Path, session: &Session) -> Result<()> {
    let html = render(dir, session);
    crate::fsio::write_atomically(&checkpoint::report_path(dir), |w| Ok(w.write_all(html.as_bytes())?))
}

/// The report's HTML.
pub fn render(dir: &Path, session: &Session) -> String {
    let layout = Layout::of(dir);
    let name =
        dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>gan1d run {title}</title>\
         <style>{STYLE}</style></head><body>\n<h1>gan1d run <code>{title}</code></h1>\n",
        title = escape(&name)
    );
    let _ = write!(
        out,
        "<p class=\"state\">{state}: {done} of {total} iterations done</p>\n\
         <h2>Command line</h2>\n<pre>{origin}</pre>\n",
        state = escape(session.state),
        done = session.iterations_done,
        total = session.epochs,
        origin = escape(session.origin)
    );
    if session.command != session.origin {
        let _ = writeln!(out, "<p>This session: <code>{}</code></p>", escape(session.command));
    }
    out += "<h2>Pictures</h2>\n";
    let pictures = pictures(dir, layout);
    if pictures.is_empty() {
        out += "<p>No picture yet: the first is drawn at the first evaluation.</p>\n";
    }
    for (caption, path) in pictures {
        out += &figure(&caption, &path);
    }
    match layout {
        Layout::Flat => {
            out += "<h2>Evaluations</h2>\n";
            out += &csv_table(&checkpoint::metrics_csv_path(dir), MAX_ROWS);
        }
        Layout::Members => {
            out += "<h2>Leaderboard</h2>\n";
            out += &csv_table(&checkpoint::leaderboard_path(dir), usize::MAX);
        }
    }
    out += "<h2>Configuration</h2>\n";
    let manifest = match layout {
        Layout::Flat => Some(checkpoint::manifest_path(dir)),
        Layout::Members => checkpoint::members_of(dir).ok().and_then(|(_, seeds, _)| {
            seeds.first().map(|&s| checkpoint::manifest_path(&checkpoint::member_dir(dir, s)))
        }),
    };
    let config = manifest.and_then(|p| crate::fsio::read_regular_file(&p, 1 << 20).ok());
    match config {
        Some(bytes) => {
            let _ = writeln!(out, "<pre>{}</pre>", escape(&String::from_utf8_lossy(&bytes)));
        }
        None => out += "<p>No checkpoint yet.</p>\n",
    }
    out += "<footer>Written by gan1d with each checkpoint; it opens without a network.</footer>\n</body></html>\n";
    out
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;\
color:#222}h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}\
pre{background:#f6f6f4;padding:.7em;overflow:auto;font-size:13px}table{border-collapse:collapse;\
font-size:13px}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:right}\
figure{margin:1em 0}img{max-width:100%;border:1px solid #ddd}.state{font-weight:600}\
footer{margin-top:2em;color:#777;font-size:12px}";

/// The pictures worth showing, captioned: the latest evaluation's plot (or small multiples),
/// the learning curves and the animation, where the run has drawn them.
fn pictures(dir: &Path, layout: Layout) -> Vec<(String, PathBuf)> {
    let prefix = match layout {
        Layout::Flat => "iter_",
        Layout::Members => "members_",
    };
    let latest = std::fs::read_dir(checkpoint::plots_dir(dir))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let iteration: u64 = name.strip_prefix(prefix)?.strip_suffix(".png")?.parse().ok()?;
            Some((iteration, e.path()))
        })
        .max_by_key(|(i, _)| *i);
    let mut shown = Vec::new();
    if let Some((iteration, path)) = latest {
        shown.push((format!("after {} iterations", iteration + 1), path));
    }
    for (caption, path) in [
        ("learning curves", checkpoint::curves_plot_path(dir)),
        ("training, frame by frame", checkpoint::animation_path(dir)),
    ] {
        if path.is_file() {
            shown.push((caption.to_string(), path));
        }
    }
    shown
}

/// A picture inline as a data URL, with its caption.
fn figure(caption: &str, path: &Path) -> String {
    let mime = if path.extension().is_some_and(|e| e == "gif") { "image/gif" } else { "image/png" };
    match crate::fsio::read_regular_file(path, MAX_PICTURE) {
        Ok(bytes) => format!(
            "<figure><img alt=\"{c}\" src=\"data:{mime};base64,{}\"><figcaption>{c}</figcaption></figure>\n",
            base64(&bytes),
            c = escape(caption)
        ),
        Err(_) => format!(
            "<p>{} ({} could not be read)</p>\n",
            escape(caption),
            escape(&path.display().to_string())
        ),
    }
}

/// A CSV log as an HTML table: its latest `max_rows` rows, without the columns that hold no
/// number in any row shown (a curve's run has no mode counts).
fn csv_table(path: &Path, max_rows: usize) -> String {
    let Ok(bytes) = crate::fsio::read_regular_file(path, 64 << 20) else {
        return "<p>None yet.</p>\n".to_string();
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = text.lines();
    let Some(header) = lines.next() else { return "<p>None yet.</p>\n".to_string() };
    let names: Vec<&str> = header.split(',').collect();
    let rows: Vec<Vec<&str>> =
        lines.map(|l| l.split(',').collect::<Vec<_>>()).filter(|r| r.len() == names.len()).collect();
    if rows.is_empty() {
        return "<p>None yet.</p>\n".to_string();
    }
    let skipped = rows.len().saturating_sub(max_rows);
    let rows = &rows[skipped..];
    let kept: Vec<usize> =
        (0..names.len()).filter(|&c| rows.iter().any(|r| !matches!(r[c], "NaN" | "" | "nan"))).collect();
    let mut out = String::from("<table><tr>");
    for &c in &kept {
        let _ = write!(out, "<th>{}</th>", escape(names[c]));
    }
    out += "</tr>\n";
    for row in rows {
        out += "<tr>";
        for &c in &kept {
            let _ = write!(out, "<td>{}</td>", escape(&short(row[c])));
        }
        out += "</tr>\n";
    }
    out += "</table>\n";
    if skipped > 0 {
        let _ = writeln!(
            out,
            "<p>The latest {} rows; the {skipped} before are in {}.</p>",
            rows.len(),
            escape(&path.display().to_string())
        );
    }
    out
}

/// A number as five significant digits; anything else as it is.
fn short(cell: &str) -> String {
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() && cell.contains('.') => {
            let digits = (4 - v.abs().log10().floor() as i32).clamp(0, 8) as usize;
            format!("{v:.digits$}")
        }
        _ => cell.to_string(),
    }
}

/// `text` safe inside HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out += "&amp;",
            '<' => out += "&lt;",
            '>' => out += "&gt;",
            '"' => out += "&quot;",
            '\'' => out += "&#39;",
            c => out.push(c),
        }
    }
    out
}

/// `bytes` in standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded, "{plain}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn text_is_escaped_and_numbers_shortened() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(short("0.07821754588990232"), "0.078218");
        assert_eq!(short("1999"), "1999");
        assert_eq!(short("NaN"), "NaN");
    }
}
