//! The run's CSV logs (`metrics.csv`, `history.csv`, `frames.csv`), written and read through
//! the `csv` crate. Each log has one row type, whose serde derive is its header and columns.
//!
//! A log counts and hashes every byte it writes, so a checkpoint can record exactly how much
//! of each log belongs to it ([`LogRecord`]). A resumed run keeps that much, and only if those
//! bytes are the ones recorded: rows of two runs never mix, and rows written after the
//! checkpoint are dropped. A log whose rows the last checkpoint does not record as they will
//! stand (a new run's, or a resumed one cut to other rows, as the animation's frames are when
//! `--epochs` changes) is written under a staged name beside the final one until the next
//! checkpoint commits it, so that a process killed before then leaves the folder as the last
//! checkpoint describes it (see `commands/train`).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fsio;

/// How much of a log a checkpoint covers: its first `bytes` bytes, whose SHA-256 is `sha256`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogRecord {
    pub bytes: u64,
    pub sha256: String,
}

/// A file being appended to, counting and hashing every byte.
struct Hashing {
    file: File,
    hasher: Sha256,
    bytes: u64,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.file.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// A CSV log being written, with the rows it holds.
pub struct CsvLog<R> {
    path: PathBuf,
    writer: csv::Writer<Hashing>,
    rows: Vec<R>,
    /// The log's own name while it is written under a staged one.
    publish_to: Option<PathBuf>,
}

impl<R: Serialize + DeserializeOwned> CsvLog<R> {
    /// Creates (or empties) the log `staged`, to be moved to `path` by [`CsvLog::publish`]
    /// after the checkpoint that records it. Its header is written with its first row.
    pub fn create_staged(staged: &Path, path: &Path) -> Result<Self> {
        Self::start(staged, Vec::new(), Vec::new(), Some(path.to_path_buf()))
    }

    /// Reads the log at `path` to continue a run whose checkpoint recorded `record` for it,
    /// changing nothing yet. The file's first `record.bytes` bytes must be the recorded ones;
    /// without a record (a checkpoint of gan1d 0.2), the whole lines are taken. Of the rows
    /// there, those `keep` accepts stay, in order. If the file is not this run's but `staged`
    /// (left by a first checkpoint interrupted after its commit) is, `staged` is used.
    pub fn check(
        path: &Path,
        staged: &Path,
        record: Option<&LogRecord>,
        keep: impl Fn(&R) -> bool,
    ) -> Result<Reopened<R>> {
        let unusable = |what: String| {
            anyhow!(
                "cannot continue {}: {what}; move the file away to resume without its earlier rows",
                path.display()
            )
        };
        let read = |file: &Path| -> Result<Option<Vec<u8>>> {
            match fsio::read_regular_file(file, MAX_LOG_BYTES) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if fsio::is_not_found(&e) => Ok(None),
                Err(e) => Err(e).with_context(|| format!("cannot read {}", file.display())),
            }
        };
        let covered = |bytes: &[u8]| match record {
            Some(r) => {
                bytes.len() as u64 >= r.bytes && fsio::sha256_hex(&bytes[..r.bytes as usize]) == r.sha256
            }
            None => true,
        };
        let mut bytes = read(path)?;
        if !bytes.as_deref().is_some_and(covered)
            && let Some(staged_bytes) = read(staged)?.filter(|b| covered(b))
        {
            bytes = Some(staged_bytes);
        }
        let reopened = |text: Vec<u8>, rows: Vec<R>, missing: bool| Reopened {
            path: path.to_path_buf(),
            staged: staged.to_path_buf(),
            text,
            rows,
            missing,
            record: record.cloned(),
        };
        let Some(bytes) = bytes else {
            return Ok(reopened(Vec::new(), Vec::new(), true));
        };
        let prefix = match record {
            Some(r) if covered(&bytes) => &bytes[..r.bytes as usize],
            Some(_) => return Err(unusable("it does not hold this run's rows up to its checkpoint (it was changed, or belongs to another run)".into())),
            // Only lines ended by a newline were written whole.
            None => &bytes[..bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)],
        };
        let mut rows = Vec::new();
        for (index, row) in csv::Reader::from_reader(prefix).deserialize::<R>().enumerate() {
            rows.push(row.map_err(|e| unusable(format!("row {} cannot be read ({e})", index + 1)))?);
        }
        rows.retain(|row| keep(row));
        let mut text = Vec::new();
        {
            let mut writer = csv::Writer::from_writer(&mut text);
            for row in &rows {
                writer.serialize(row)?;
            }
            writer.flush()?;
        }
        Ok(reopened(text, rows, false))
    }

    /// Opens `path`, which holds exactly `written`, for appending rows after `rows`; it is
    /// staged for `publish_to` if given.
    fn start(path: &Path, written: Vec<u8>, rows: Vec<R>, publish_to: Option<PathBuf>) -> Result<Self> {
        let file =
            if written.is_empty() { File::create(path) } else { OpenOptions::new().append(true).open(path) }
                .with_context(|| format!("cannot open {} to write", path.display()))?;
        let hashing =
            Hashing { file, hasher: Sha256::new_with_prefix(&written), bytes: written.len() as u64 };
        let writer = csv::WriterBuilder::new().has_headers(written.is_empty()).from_writer(hashing);
        Ok(CsvLog { path: path.to_path_buf(), writer, rows, publish_to })
    }

    /// Adds `row` (buffered: [`CsvLog::flush`] writes it out).
    pub fn append(&mut self, row: R) -> Result<()> {
        self.writer.serialize(&row).with_context(|| format!("cannot write {}", self.path.display()))?;
        self.rows.push(row);
        Ok(())
    }

    /// Writes the appended rows to the file, so a reader sees every whole row.
    pub fn flush(&mut self) -> Result<()> {
        self.writer.flush().with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// The rows, from before this session and after.
    pub fn rows(&self) -> &[R] {
        &self.rows
    }

    /// What a checkpoint taken now covers of this log; flushes first.
    pub fn record(&mut self) -> Result<LogRecord> {
        self.flush()?;
        let inner = self.writer.get_ref();
        Ok(LogRecord { bytes: inner.bytes, sha256: hex(&inner.hasher.clone().finalize()) })
    }

    /// After the checkpoint that records it: moves a staged log to its own name, replacing
    /// what was there (the open file keeps being written at its new name). Returns whether it
    /// was staged.
    pub fn publish(&mut self) -> Result<bool> {
        let Some(path) = self.publish_to.take() else { return Ok(false) };
        std::fs::rename(&self.path, &path)
            .with_context(|| format!("cannot move {} to {}", self.path.display(), path.display()))?;
        self.path = path;
        Ok(true)
    }

    /// Whether it is written under a staged name.
    pub fn is_staged(&self) -> bool {
        self.publish_to.is_some()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A log read and checked by [`CsvLog::check`], to be continued.
pub struct Reopened<R> {
    path: PathBuf,
    staged: PathBuf,
    /// The kept rows, as the file will hold them.
    text: Vec<u8>,
    rows: Vec<R>,
    missing: bool,
    /// What the checkpoint records of the log.
    record: Option<LogRecord>,
}

impl<R: Serialize + DeserializeOwned> Reopened<R> {
    /// The rows kept.
    pub fn rows(&self) -> &[R] {
        &self.rows
    }

    /// What a user should hear before the log is opened: that it was missing and starts
    /// again from the checkpoint. Storage says it; the command layer prints it.
    pub fn warning(&self) -> Option<String> {
        self.missing
            .then(|| format!("{} is missing, so it starts again from the checkpoint", self.path.display()))
    }

    /// Opens the log for appending after the kept rows. When they are the bytes the
    /// checkpoint records, the log is rewritten with them atomically (dropping any staged
    /// copy); otherwise (other rows kept, or a missing log, which starts empty: see
    /// [`Reopened::warning`]) they go to the staged copy and the log stays as the checkpoint
    /// describes it until the next checkpoint publishes the copy.
    pub fn open(self) -> Result<CsvLog<R>> {
        let as_recorded = self
            .record
            .as_ref()
            .is_none_or(|r| self.text.len() as u64 == r.bytes && fsio::sha256_hex(&self.text) == r.sha256);
        let (to, publish_to) =
            if as_recorded { (&self.path, None) } else { (&self.staged, Some(self.path.clone())) };
        fsio::write_atomically(to, |out| Ok(out.write_all(&self.text)?))?;
        if as_recorded {
            let _ = std::fs::remove_file(&self.staged);
        }
        CsvLog::start(to, self.text, self.rows, publish_to)
    }
}

/// The largest log gan1d reads back: a run of the longest allowed length logs about 0.5 GB.
const MAX_LOG_BYTES: u64 = 4 << 30;

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
    struct Pair {
        i: u64,
        v: f64,
    }

    fn pairs(rows: &[(u64, f64)]) -> Vec<Pair> {
        rows.iter().map(|&(i, v)| Pair { i, v }).collect()
    }

    #[test]
    fn a_record_covers_what_was_written_and_reopening_keeps_exactly_that() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        let staged = dir.path().join(".log.csv.staged");
        let mut log = CsvLog::start(&path, Vec::new(), Vec::new(), None).unwrap();
        log.append(Pair { i: 1, v: 0.5 }).unwrap();
        log.append(Pair { i: 2, v: 0.25 }).unwrap();
        let record = log.record().unwrap();
        log.append(Pair { i: 3, v: 0.125 }).unwrap();
        log.flush().unwrap();
        drop(log);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "i,v\n1,0.5\n2,0.25\n3,0.125\n");
        assert_eq!(record.bytes, "i,v\n1,0.5\n2,0.25\n".len() as u64);

        let mut log =
            CsvLog::<Pair>::check(&path, &staged, Some(&record), |_| true).and_then(Reopened::open).unwrap();
        assert_eq!(log.rows(), pairs(&[(1, 0.5), (2, 0.25)]));
        log.append(Pair { i: 3, v: 1.0 }).unwrap();
        let again = log.record().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "i,v\n1,0.5\n2,0.25\n3,1.0\n");
        assert_eq!(again.sha256, fsio::sha256_hex(b"i,v\n1,0.5\n2,0.25\n3,1.0\n"));
    }

    #[test]
    fn another_runs_log_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        let staged = dir.path().join(".log.csv.staged");
        let mut log = CsvLog::start(&path, Vec::new(), Vec::new(), None).unwrap();
        log.append(Pair { i: 1, v: 0.5 }).unwrap();
        let record = log.record().unwrap();
        drop(log);
        std::fs::write(&path, "i,v\n1,0.75\n").unwrap();
        let err = CsvLog::<Pair>::check(&path, &staged, Some(&record), |_| true)
            .and_then(Reopened::open)
            .err()
            .unwrap();
        assert!(err.to_string().contains("another run"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "i,v\n1,0.75\n");
        // The staged log of an interrupted first checkpoint takes its place when it matches.
        std::fs::write(&staged, "i,v\n1,0.5\n2,9\n").unwrap();
        let log =
            CsvLog::<Pair>::check(&path, &staged, Some(&record), |_| true).and_then(Reopened::open).unwrap();
        assert_eq!(log.rows(), pairs(&[(1, 0.5)]));
        assert!(!staged.exists());
    }

    #[test]
    fn rows_cut_to_other_than_the_record_are_staged_until_published() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        let staged = dir.path().join(".log.csv.staged");
        let mut log = CsvLog::start(&path, Vec::new(), Vec::new(), None).unwrap();
        for i in 1..=4 {
            log.append(Pair { i, v: 0.5 }).unwrap();
        }
        let record = log.record().unwrap();
        drop(log);
        let before = std::fs::read(&path).unwrap();
        let mut log = CsvLog::<Pair>::check(&path, &staged, Some(&record), |p| p.i % 2 == 0)
            .and_then(Reopened::open)
            .unwrap();
        assert!(log.is_staged());
        log.append(Pair { i: 6, v: 1.0 }).unwrap();
        log.flush().unwrap();
        // Killed now, the folder is as its checkpoint describes it.
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(std::fs::read_to_string(&staged).unwrap(), "i,v\n2,0.5\n4,0.5\n6,1.0\n");
        let next = log.record().unwrap();
        assert!(log.publish().unwrap() && !log.is_staged() && !staged.exists());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "i,v\n2,0.5\n4,0.5\n6,1.0\n");
        assert!(!log.publish().unwrap());
        // A missing log is staged too, so the folder keeps saying it is missing until then.
        std::fs::remove_file(&path).unwrap();
        let log =
            CsvLog::<Pair>::check(&path, &staged, Some(&next), |_| true).and_then(Reopened::open).unwrap();
        assert!(log.is_staged() && !path.exists() && staged.exists());
    }

    #[test]
    fn without_a_record_whole_rows_are_kept_and_a_torn_line_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        let staged = dir.path().join(".log.csv.staged");
        std::fs::write(&path, "i,v\n1,0.5\n2,0.25\n3,0.125\n4,0.06").unwrap();
        let log = CsvLog::<Pair>::check(&path, &staged, None, |p| p.i <= 2).and_then(Reopened::open).unwrap();
        assert_eq!(log.rows(), pairs(&[(1, 0.5), (2, 0.25)]));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "i,v\n1,0.5\n2,0.25\n");
        std::fs::write(&path, "i,v\n1,0.5\nx,3\n").unwrap();
        let err =
            CsvLog::<Pair>::check(&path, &staged, None, |_| true).and_then(Reopened::open).err().unwrap();
        assert!(err.to_string().contains("row 2"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "i,v\n1,0.5\nx,3\n",
            "a refused log is left as it was"
        );
    }
}
