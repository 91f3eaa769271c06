//! Damaged files found at start-up, named, instead of data silently lost or wrong.
//!
//! - **Binlog (WAL) files** are checked before RocksDB opens them. RocksDB replays a WAL up
//!   to its first unreadable record and drops the rest, which is right for the torn tail a
//!   crash leaves but would silently lose acknowledged writes if the damage sits in the middle.
//!   So a live WAL file with readable records *after* an unreadable one stops the start, with
//!   an error naming the file and the offset.
//! - **Table (SST) files**: every block carries a checksum that RocksDB verifies on each read,
//!   so a damaged block answers an error, never wrong data. Damage in a file's index or footer
//!   stops the open with RocksDB's error, which names the file; damage in data blocks is found
//!   by [`verify_tables`], which reads them all in the background after start-up.

use std::path::{Path, PathBuf};

use super::engine::Engine;
use super::wal::{self, read_wal_at, HEADER_LEN, RECYCLABLE_HEADER_LEN, WAL_BLOCK_SIZE};
use super::StorageError;

/// A live binlog file with readable records after an unreadable part.
#[derive(Debug, thiserror::Error)]
#[error(
    "binlog file {} is damaged at offset {offset}: records written after the damage follow it, \
     and starting would silently drop them. Keep a copy of the file; to start without them, \
     truncate it there (truncate -s {offset} {})",
    path.display(),
    path.display()
)]
pub struct DamagedBinlog {
    pub path: PathBuf,
    pub offset: u64,
}

/// Checks the live WAL files of the database at `db_path` (not the archived ones, which are
/// only read for replication and report their own damage there).
pub fn check_binlog(db_path: &Path) -> Result<(), StorageError> {
    if !db_path.exists() {
        return Ok(());
    }
    let files = wal::wal_files(db_path).map_err(|e| {
        StorageError::Engine(format!(
            "cannot list binlog files in {}: {e}",
            db_path.display()
        ))
    })?;
    for path in files.iter().filter(|p| p.parent() == Some(db_path)) {
        let data = match std::fs::read(path) {
            Ok(data) => data,
            // Removed meanwhile (archived by a server still closing): nothing to replay.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(StorageError::Engine(format!(
                    "cannot read binlog file {}: {e}",
                    path.display()
                )))
            }
        };
        if let Some(offset) = damage_followed_by_records(&data, wal::wal_file_number(path)) {
            return Err(StorageError::Corrupt(
                DamagedBinlog {
                    path: path.clone(),
                    offset,
                }
                .to_string(),
            ));
        }
    }
    Ok(())
}

/// Where `data` (one WAL file) stops being readable, if readable records follow in a later
/// block; None for a file readable to its end or ending in a torn tail.
pub fn damage_followed_by_records(data: &[u8], log_number: Option<u64>) -> Option<u64> {
    let read = read_wal_at(data, 0, log_number).ok()?;
    let damage = read.torn?.offset;
    let first_block_after = (damage as usize / WAL_BLOCK_SIZE + 1) * WAL_BLOCK_SIZE;
    (first_block_after..data.len())
        .step_by(WAL_BLOCK_SIZE)
        .any(|block| {
            let start = first_record_start(data, block);
            start < data.len()
                && read_wal_at(&data[start..], start as u64, log_number)
                    .is_ok_and(|after| !after.records.is_empty())
        })
        .then_some(damage)
}

/// Where the first record starting in the block at `block` begins: past the fragments that
/// end a record begun in an earlier block (MIDDLE and LAST types, plain or recyclable).
fn first_record_start(data: &[u8], block: usize) -> usize {
    let mut pos = block;
    while pos + HEADER_LEN <= data.len() && pos < block + WAL_BLOCK_SIZE {
        let length = u16::from_le_bytes([data[pos + 4], data[pos + 5]]) as usize;
        let header = match data[pos + 6] {
            3 | 4 => HEADER_LEN,
            7 | 8 => RECYCLABLE_HEADER_LEN,
            _ => break,
        };
        pos += header + length;
    }
    pos
}

/// Reads every entry of every table file (see [`Engine::verify_tables`]), stopping early
/// when `stop` says so. Returns the number of entries read.
pub fn verify_tables(engine: &Engine, stop: &dyn Fn() -> bool) -> Result<u64, StorageError> {
    engine.verify_tables(stop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::wal::{proptests::encode_wal, read_wal};

    /// A WAL file of `n` 500-byte records, and the offset of each record.
    fn wal_with_records(n: usize) -> (Vec<u8>, Vec<u64>) {
        let records: Vec<Vec<u8>> = (0..n).map(|i| vec![i as u8; 500]).collect();
        let data = encode_wal(&records, None);
        let offsets = read_wal(&data, None)
            .expect("readable")
            .records
            .iter()
            .map(|r| r.offset)
            .collect();
        (data, offsets)
    }

    #[test]
    fn a_readable_file_and_a_torn_tail_are_not_damage() {
        let (data, _) = wal_with_records(200);
        assert_eq!(damage_followed_by_records(&data, None), None);
        for cut in [data.len() - 1, data.len() / 2, 10] {
            assert_eq!(
                damage_followed_by_records(&data[..cut], None),
                None,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn damage_with_records_after_it_is_found_at_its_offset() {
        let (mut data, offsets) = wal_with_records(200);
        assert!(
            data.len() > 3 * WAL_BLOCK_SIZE,
            "the records span several blocks"
        );
        let victim = offsets[10] as usize;
        data[victim + 7] ^= 0xff;
        assert_eq!(
            damage_followed_by_records(&data, None),
            Some(offsets[10]),
            "the first unreadable record"
        );
    }

    #[test]
    fn damage_in_the_last_block_is_a_torn_tail() {
        let (mut data, offsets) = wal_with_records(200);
        let last = *offsets.last().unwrap() as usize;
        data[last + 7] ^= 0xff;
        assert_eq!(damage_followed_by_records(&data, None), None);
    }
}
