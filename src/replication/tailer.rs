//! Follows the binlog (RocksDB's WAL files) from a sequence number, reading only what was
//! appended since the last look.
//!
//! RocksDB's own reader (`GetUpdatesSince`) starts over from the head of the WAL file at every
//! call, checksumming all of it: a master polling for a slave that keeps up would spend a file's
//! worth of CRC per few batches. The tailer keeps its file open and its place in it instead. A
//! WAL file keeps its number when RocksDB archives it, and the open handle survives the move.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::storage::wal::{read_wal_at, wal_file_number, wal_files};

/// A WAL record: one or several committed batches joined (first sequence, count, bytes).
pub type Record = (u64, u32, Vec<u8>);

/// Why the binlog cannot be followed from a position.
#[derive(Debug)]
pub enum TailError {
    /// The position is no longer (or not yet) in the binlog.
    NotAvailable(String),
    Io(std::io::Error),
}

impl std::fmt::Display for TailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TailError::NotAvailable(why) => write!(f, "{why}"),
            TailError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TailError {}

impl From<std::io::Error> for TailError {
    fn from(e: std::io::Error) -> Self {
        TailError::Io(e)
    }
}

/// A reader positioned in the binlog.
pub struct Tailer {
    db_path: PathBuf,
    number: u64,
    file: File,
    /// File offset of the first byte of `pending`.
    base: u64,
    /// Bytes read from the file that do not make a complete record yet.
    pending: Vec<u8>,
    /// The next sequence number to return.
    next_seq: u64,
}

/// The first sequence number and count of a WAL record (a batch header).
fn header(record: &[u8]) -> Option<(u64, u32)> {
    let seq = u64::from_le_bytes(record.get(..8)?.try_into().ok()?);
    let count = u32::from_le_bytes(record.get(8..12)?.try_into().ok()?);
    Some((seq, count))
}

/// Opens WAL file `number`, live or archived.
fn open_wal(db_path: &Path, number: u64) -> std::io::Result<Option<File>> {
    let name = format!("{number:06}.log");
    for dir in [db_path.to_path_buf(), db_path.join("archive")] {
        match File::open(dir.join(&name)) {
            Ok(f) => return Ok(Some(f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// The first sequence number of a WAL file, reading only its head.
pub fn first_sequence(path: &Path) -> Option<u64> {
    let mut head = Vec::new();
    File::open(path)
        .ok()?
        .take(64 * 1024)
        .read_to_end(&mut head)
        .ok()?;
    let records = read_wal_at(&head, 0, wal_file_number(path)).ok()?;
    header(&records.records.first()?.data).map(|(seq, _)| seq)
}

impl Tailer {
    /// A reader whose first record will be the one starting at sequence number `from`.
    pub fn open(db_path: &Path, from: u64) -> Result<Tailer, TailError> {
        let mut chosen = None;
        for path in wal_files(db_path)? {
            match first_sequence(&path) {
                Some(first) if first <= from => chosen = Some(path),
                Some(_) => break,
                None => {}
            }
        }
        let number = chosen.as_deref().and_then(wal_file_number).ok_or_else(|| {
            TailError::NotAvailable(format!("sequence {from} is older than the binlog kept"))
        })?;
        let file = open_wal(db_path, number)?
            .ok_or_else(|| TailError::NotAvailable(format!("WAL file {number} vanished")))?;
        Ok(Tailer {
            db_path: db_path.to_path_buf(),
            number,
            file,
            base: 0,
            pending: Vec::new(),
            next_seq: from,
        })
    }

    /// The records committed since the last call, in order; empty when there is nothing new.
    /// `NotAvailable` when the binlog has a gap at the position (purged under the reader).
    pub fn poll(&mut self) -> Result<Vec<Record>, TailError> {
        loop {
            let records = self.read_appended()?;
            if !records.is_empty() {
                return Ok(records);
            }
            // Nothing new here: move on once RocksDB writes a newer file (this one is final;
            // read it once more for what was appended just before the switch).
            let Some(newer) = self.newer_file()? else {
                return Ok(Vec::new());
            };
            let records = self.read_appended()?;
            if !records.is_empty() {
                return Ok(records);
            }
            let file = open_wal(&self.db_path, newer)?
                .ok_or_else(|| TailError::NotAvailable(format!("WAL file {newer} vanished")))?;
            self.number = newer;
            self.file = file;
            self.base = 0;
            self.pending.clear();
        }
    }

    fn read_appended(&mut self) -> Result<Vec<Record>, TailError> {
        self.file.read_to_end(&mut self.pending)?;
        if self.pending.is_empty() {
            return Ok(Vec::new());
        }
        let parsed = read_wal_at(&self.pending, self.base, Some(self.number))
            .map_err(|e| TailError::Io(std::io::Error::other(e.to_string())))?;
        let consumed = (parsed.end - self.base) as usize;
        self.pending.drain(..consumed);
        self.base = parsed.end;
        let mut out = Vec::with_capacity(parsed.records.len());
        for record in parsed.records {
            let Some((seq, count)) = header(&record.data) else {
                continue;
            };
            if seq < self.next_seq {
                if seq + u64::from(count) > self.next_seq {
                    return Err(TailError::NotAvailable(format!(
                        "sequence {} is not where a batch starts",
                        self.next_seq
                    )));
                }
                continue;
            }
            if seq > self.next_seq {
                return Err(TailError::NotAvailable(format!(
                    "binlog gap: expected sequence {}, found {seq}",
                    self.next_seq
                )));
            }
            self.next_seq = seq + u64::from(count);
            out.push((seq, count, record.data));
        }
        Ok(out)
    }

    /// The number of the next WAL file, if RocksDB has started one.
    fn newer_file(&self) -> Result<Option<u64>, TailError> {
        Ok(wal_files(&self.db_path)?
            .iter()
            .filter_map(|p| wal_file_number(p))
            .filter(|&n| n > self.number)
            .min())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::engine::EngineOptions;
    use crate::storage::Storage;

    #[test]
    fn follows_appends_and_file_switches_from_a_position() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path(), 1, &EngineOptions::default()).unwrap();
        storage.put_test_string("a");
        let from = storage.engine().latest_sequence() + 1;
        let mut tailer = Tailer::open(dir.path(), from).unwrap();
        assert!(tailer.poll().unwrap().is_empty());
        storage.put_test_string("b");
        let got = tailer.poll().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, from);
        // A memtable flush moves on to a new WAL file (the old one is archived).
        storage.save().unwrap();
        storage.put_test_string("c");
        storage.put_test_string("d");
        let got = tailer.poll().unwrap();
        assert_eq!(got.len(), 2, "both batches after the switch");
        assert_eq!(
            got[1].0 + u64::from(got[1].1) - 1,
            storage.engine().latest_sequence()
        );
    }

    #[test]
    fn a_position_before_the_kept_binlog_is_not_available() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path(), 1, &EngineOptions::default()).unwrap();
        storage.put_test_string("a");
        storage.save().unwrap();
        for f in std::fs::read_dir(dir.path().join("archive")).unwrap() {
            std::fs::remove_file(f.unwrap().path()).unwrap();
        }
        storage.put_test_string("b");
        assert!(matches!(
            Tailer::open(dir.path(), 1),
            Err(TailError::NotAvailable(_))
        ));
    }
}
