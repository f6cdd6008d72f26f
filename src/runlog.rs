//! The run's CSV logs (`metrics.csv`, `history.csv`): a header when created, then one line per
//! row, flushed as written so a log read during training is complete up to its last line.

use std::fs::File;
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

    pub fn append(&mut self, line: &str) -> Result<()> {
        writeln!(self.file, "{line}")
            .and_then(|()| self.file.flush())
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}
