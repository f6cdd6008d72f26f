//! The run's CSV logs (`metrics.csv`, `history.csv`, `frames.csv`): a header when created, then
//! one line per row, flushed as written so a log read during training is complete up to its last
//! line. A resumed run reopens them, keeping the rows from before its checkpoint.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::metrics::Metrics;
use crate::train::HistoryRow;

/// Header of `metrics.csv`. `iteration` is 0-based, as in the printed evaluation lines.
pub fn metrics_header() -> String {
    format!("iteration,acc_real,acc_fake,{}", Metrics::CSV_HEADER)
}

pub fn metrics_row(iteration: u64, acc_real: f64, acc_fake: f64, metrics: &Metrics) -> String {
    format!("{iteration},{acc_real},{acc_fake},{}", metrics.csv_values())
}

/// Header of `history.csv`. `iteration` is 0-based; accuracies are on that iteration's batches.
pub const HISTORY_HEADER: &str = "iteration,d_loss_real,d_loss_fake,g_loss,d_acc_real,d_acc_fake";

pub fn history_row(row: &HistoryRow) -> String {
    format!(
        "{},{},{},{},{},{}",
        row.iteration, row.d_loss_real, row.d_loss_fake, row.g_loss, row.d_acc_real, row.d_acc_fake
    )
}

/// Header of `frames.csv`: the animation's points, one row per point, frame by frame.
/// `iterations_done` is 0 for the untrained generator.
pub const FRAMES_HEADER: &str = "iterations_done,x,y";

pub fn frame_row(iterations_done: u64, (x, y): (f32, f32)) -> String {
    // Rust prints the shortest decimal that reads back as the same f32: the frames round-trip.
    format!("{iterations_done},{x},{y}")
}

/// A CSV file being written line by line.
pub struct CsvLog {
    path: PathBuf,
    file: BufWriter<File>,
}

impl CsvLog {
    /// Creates (or empties) `path` and writes `header`.
    pub fn create(path: &Path, header: &str) -> Result<Self> {
        let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut log = CsvLog { path: path.to_path_buf(), file: BufWriter::new(file) };
        log.append(header)?;
        Ok(log)
    }

    /// Reopens the log at `path` to continue a run. The rows `parse` reads and `keep` accepts
    /// stay, in order and byte for byte; the rest, such as rows written after the checkpoint
    /// the run resumes from, are dropped, as is a last line cut short by a crash. The file is
    /// rewritten atomically before new rows are appended. Returns `None` if there is no file.
    pub fn reopen<T>(
        path: &Path,
        header: &str,
        parse: impl Fn(&[&str]) -> Option<T>,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Option<(Self, Vec<T>)>> {
        let text = match fs::read(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            other => other.with_context(|| format!("cannot read {}", path.display()))?,
        };
        let unusable = |what: String| {
            anyhow::anyhow!(
                "cannot continue {}: {what}; move the file away to resume without its earlier rows",
                path.display()
            )
        };
        let text = String::from_utf8(text).map_err(|_| unusable("it is not UTF-8 text".into()))?;
        // Only lines ended by a newline were written whole.
        let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        let mut lines = whole.lines();
        match lines.next() {
            Some(found) if found == header => {}
            Some(found) => return Err(unusable(format!("its header is `{found}`, expected `{header}`"))),
            None => return Err(unusable("it has no header line".into())),
        }
        let mut kept_lines = vec![header];
        let mut rows = Vec::new();
        for (number, line) in lines.enumerate() {
            let fields: Vec<&str> = line.split(',').collect();
            let row = parse(&fields)
                .ok_or_else(|| unusable(format!("line {} is not a row: `{line}`", number + 2)))?;
            if keep(&row) {
                kept_lines.push(line);
                rows.push(row);
            }
        }
        let tmp = path.with_file_name(format!(
            ".{}.tmp",
            path.file_name().expect("log paths name a file").to_string_lossy()
        ));
        let rewrite = || -> std::io::Result<()> {
            let mut file = File::create(&tmp)?;
            for line in &kept_lines {
                writeln!(file, "{line}")?;
            }
            file.sync_all()?;
            fs::rename(&tmp, path)
        };
        if let Err(e) = rewrite() {
            let _ = fs::remove_file(&tmp);
            return Err(e).with_context(|| format!("cannot rewrite {}", path.display()));
        }
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {} to append", path.display()))?;
        Ok(Some((CsvLog { path: path.to_path_buf(), file: BufWriter::new(file) }, rows)))
    }

    pub fn append(&mut self, line: &str) -> Result<()> {
        writeln!(self.file, "{line}")
            .and_then(|()| self.file.flush())
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_pair(fields: &[&str]) -> Option<(u64, f64)> {
        match fields {
            [a, b] => Some((a.parse().ok()?, b.parse().ok()?)),
            _ => None,
        }
    }

    #[test]
    fn reopening_keeps_chosen_rows_drops_a_torn_line_and_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        fs::write(&path, "i,v\n1,0.5\n2,0.25\n3,0.125\n4,0.06").unwrap();
        let (mut log, rows) = CsvLog::reopen(&path, "i,v", parse_pair, |r| r.0 <= 2).unwrap().unwrap();
        assert_eq!(rows, [(1, 0.5), (2, 0.25)]);
        log.append("3,1").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "i,v\n1,0.5\n2,0.25\n3,1\n");
    }

    #[test]
    fn reopening_refuses_another_header_or_a_bad_row_and_reports_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        assert!(CsvLog::reopen(&path, "i,v", parse_pair, |_| true).unwrap().is_none());
        fs::write(&path, "a,b\n1,2\n").unwrap();
        let err = CsvLog::reopen(&path, "i,v", parse_pair, |_| true).err().unwrap();
        assert!(err.to_string().contains("header is `a,b`"), "{err}");
        fs::write(&path, "i,v\n1,2\nx,3\n").unwrap();
        let err = CsvLog::reopen(&path, "i,v", parse_pair, |_| true).err().unwrap();
        assert!(err.to_string().contains("line 3"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "i,v\n1,2\nx,3\n", "a refused log is left as it was");
    }
}
