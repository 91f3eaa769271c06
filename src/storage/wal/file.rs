//! WAL files: how RocksDB frames logical records into a file.
//!
//! `<db-path>/NNNNNN.log` (the live files) and `<db-path>/archive/NNNNNN.log` (archived ones);
//! the decimal file number orders them, and sequence numbers grow with it ([`wal_files`]).
//! A file is a series of 32 KiB blocks holding physical records ([`read_wal`]):
//! ```text
//! record:  | crc: u32 LE | length: u16 LE | type: u8 | [log number: u32 LE] | payload |
//!          crc     = masked crc32c over type, log number (if present) and payload:
//!                    mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8
//!          type    1 FULL, 2 FIRST, 3 MIDDLE, 4 LAST: a logical record whole or in fragments;
//!                  5..8 the same for recycled files, with the 4-byte log number in the header
//!                  (it tells this file's records from a previous user's leftovers);
//!                  9 "set compression type" (u32 LE; pika never compresses the WAL);
//!                  >= 10 metadata (timestamp sizes, predecessor WAL info), skipped; odd ones
//!                  carry the log number too;
//!                  0 with length 0: preallocated space, the rest of the block is empty.
//! block:   records never cross a block boundary; fewer than 7 bytes left = zero trailer.
//! ```
//! A record is never split across blocks; big logical records become FIRST, MIDDLE..., LAST.
//! A record cut short by the end of the file or failing its checksum ends the readable log:
//! the *torn tail* of a crash (or, on a file being written, the part not yet written).

use std::path::{Path, PathBuf};

use super::FormatError;

/// Size of a WAL block.
pub const WAL_BLOCK_SIZE: usize = 32768;
/// Size of a physical record's header (checksum, length, type).
pub(crate) const HEADER_LEN: usize = 7;
/// Size of the header of a recyclable record type, which adds the log number.
pub(crate) const RECYCLABLE_HEADER_LEN: usize = 11;

/// One logical record of a WAL file: the bytes of a write batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalRecord {
    /// Offset in the file of its first physical record.
    pub offset: u64,
    /// The record's bytes, its fragments joined.
    pub data: Vec<u8>,
}

/// How the readable part of a WAL file ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TornKind {
    /// The file ends inside a record: a crash mid-write, or a file still being written.
    Short,
    /// A record fails its checksum.
    BadChecksum,
    /// Records that cannot follow each other or a header that cannot be (corruption).
    Malformed,
}

/// Where and why reading stopped before the end of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    /// Offset of the first byte not returned (the start of the lost logical record).
    pub offset: u64,
    /// What was wrong there.
    pub kind: TornKind,
}

impl std::fmt::Display for TornTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            TornKind::Short => "record cut short by the end of the file",
            TornKind::BadChecksum => "record with a bad checksum",
            TornKind::Malformed => "malformed record",
        };
        write!(f, "{what} at offset {}", self.offset)
    }
}

/// The logical records of a WAL file, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalRecords {
    /// The complete records read, in file order.
    pub records: Vec<WalRecord>,
    /// File offset just past the last complete record: where reading resumes.
    pub end: u64,
    /// Set when reading stopped before the end of the file; nothing from there is returned.
    pub torn: Option<TornTail>,
}

/// The file number of a WAL file name (`000123.log` → 123).
pub fn wal_file_number(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let digits = name.strip_suffix(".log")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The WAL files of the database at `db_path`, live and archived, ordered by file number (so
/// by sequence number). A file seen in both places (archived while listing) is listed once,
/// from the archive.
pub fn wal_files(db_path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<(u64, PathBuf)> = Vec::new();
    for (dir, required) in [
        (db_path.to_path_buf(), true),
        (db_path.join("archive"), false),
    ] {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let path = entry?.path();
            if let Some(n) = wal_file_number(&path) {
                found.retain(|(m, _)| *m != n);
                found.push((n, path));
            }
        }
    }
    found.sort_by_key(|(n, _)| *n);
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// Reads the WAL file at `path` (see [`read_wal`]); its log number comes from its name.
pub fn read_wal_file(path: &Path) -> Result<WalRecords, FormatError> {
    let data = std::fs::read(path).map_err(|source| FormatError::Io {
        path: path.display().to_string(),
        source,
    })?;
    read_wal(&data, wal_file_number(path))
}

/// RocksDB's masked CRC32C of a record (see the module doc).
pub(super) fn masked_crc32c(bytes: &[u8]) -> u32 {
    const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
    let c = CRC32C.checksum(bytes);
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

fn is_recyclable(record_type: u8) -> bool {
    matches!(record_type, 5..=8) || (record_type >= 10 && record_type & 1 == 1)
}

/// Splits the contents of a WAL file into its logical records. `log_number` (the file's
/// number) tells a recycled file's own records from stale ones left by its previous use;
/// without it every well-formed record counts.
///
/// Reading stops at the first record cut short, failing its checksum or out of sequence, and
/// reports it in [`WalRecords::torn`]; nothing at or after it is returned. The only error is a
/// compressed WAL, which this reader cannot decode.
pub fn read_wal(data: &[u8], log_number: Option<u64>) -> Result<WalRecords, FormatError> {
    read_wal_at(data, 0, log_number)
}

/// Like [`read_wal`] for the part of a WAL file that starts at file offset `base`, where a
/// logical record starts (or 0). Offsets in the result are file offsets; `end` tells where to
/// resume. Lets a reader follow a growing file by reading only what was appended.
pub fn read_wal_at(
    data: &[u8],
    base: u64,
    log_number: Option<u64>,
) -> Result<WalRecords, FormatError> {
    let base = base as usize;
    let mut out = WalRecords {
        end: base as u64,
        ..WalRecords::default()
    };
    // The logical record being assembled from fragments, and where it started.
    let mut pending: Option<(usize, Vec<u8>)> = None;
    let mut pos = 0usize;
    let torn = |pending: &Option<(usize, Vec<u8>)>, at: usize, kind| TornTail {
        offset: (base + pending.as_ref().map_or(at, |(start, _)| *start)) as u64,
        kind,
    };
    while pos < data.len() {
        let block_left = WAL_BLOCK_SIZE - (base + pos) % WAL_BLOCK_SIZE;
        if block_left < HEADER_LEN {
            // Zero trailer of the block.
            pos += block_left;
            continue;
        }
        let rest = &data[pos..];
        if rest.len() < HEADER_LEN {
            if rest.iter().any(|&b| b != 0) || pending.is_some() {
                out.torn = Some(torn(&pending, pos, TornKind::Short));
            }
            break;
        }
        let length = u16::from_le_bytes([rest[4], rest[5]]) as usize;
        let record_type = rest[6];
        if record_type == 0 && length == 0 {
            // Preallocated, never written: the rest of the block is empty.
            pos += block_left;
            continue;
        }
        let header_len = if is_recyclable(record_type) {
            RECYCLABLE_HEADER_LEN
        } else {
            HEADER_LEN
        };
        if rest.len() < header_len {
            out.torn = Some(torn(&pending, pos, TornKind::Short));
            break;
        }
        if header_len + length > block_left {
            // Length or type damaged: records never cross blocks.
            out.torn = Some(torn(&pending, pos, TornKind::Malformed));
            break;
        }
        if rest.len() < header_len + length {
            out.torn = Some(torn(&pending, pos, TornKind::Short));
            break;
        }
        let stored_crc = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"));
        if masked_crc32c(&rest[6..header_len + length]) != stored_crc {
            out.torn = Some(torn(&pending, pos, TornKind::BadChecksum));
            break;
        }
        if header_len == RECYCLABLE_HEADER_LEN {
            let stored = u32::from_le_bytes(rest[7..11].try_into().expect("4 bytes"));
            if log_number.is_some_and(|n| n as u32 != stored) {
                // Left over from the file's previous use: the log ends here.
                if pending.is_some() {
                    out.torn = Some(torn(&pending, pos, TornKind::Short));
                }
                break;
            }
        }
        let payload = &rest[header_len..header_len + length];
        let at = pos;
        pos += header_len + length;
        match record_type {
            1 | 5 | 2 | 6 => {
                // A non-empty unfinished record may not be followed by a new one. (Old writers
                // could leave an empty FIRST at a block end; that one is dropped.)
                if pending.as_ref().is_some_and(|(_, p)| !p.is_empty()) {
                    out.torn = Some(torn(&pending, at, TornKind::Malformed));
                    return Ok(out);
                }
                if matches!(record_type, 1 | 5) {
                    pending = None;
                    out.records.push(WalRecord {
                        offset: (base + at) as u64,
                        data: payload.to_vec(),
                    });
                } else {
                    pending = Some((at, payload.to_vec()));
                }
            }
            3 | 7 | 4 | 8 => {
                let Some((start, mut buf)) = pending.take() else {
                    out.torn = Some(torn(&None, at, TornKind::Malformed));
                    return Ok(out);
                };
                buf.extend_from_slice(payload);
                if matches!(record_type, 4 | 8) {
                    out.records.push(WalRecord {
                        offset: (base + start) as u64,
                        data: buf,
                    });
                } else {
                    pending = Some((start, buf));
                }
            }
            9 => {
                let compression = payload
                    .get(..4)
                    .map_or(0, |b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
                if compression != 0 {
                    return Err(FormatError::CompressedWal(compression));
                }
            }
            // Metadata records (timestamp sizes, predecessor WAL info): nothing for us.
            t if t >= 10 => {}
            _ => {
                out.torn = Some(torn(&pending, at, TornKind::Malformed));
                return Ok(out);
            }
        }
        if pending.is_none() {
            out.end = (base + pos) as u64;
        }
    }
    if out.torn.is_none() {
        if let Some((start, _)) = pending {
            out.torn = Some(TornTail {
                offset: (base + start) as u64,
                kind: TornKind::Short,
            });
        }
    }
    Ok(out)
}
