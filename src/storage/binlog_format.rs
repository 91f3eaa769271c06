//! Byte formats of the binlog, and readers for them.
//!
//! The binlog *is* RocksDB's write-ahead log: every committed write batch is already appended
//! to the WAL, so replication reads it instead of writing a second log, and the write path pays
//! for one log, not two. Positions in the binlog are RocksDB sequence numbers. Old WAL files are
//! kept for a while in `<db-path>/archive/` so replicas that fall behind can catch up.
//!
//! This module knows the formats only; it opens no database, so tools can read the log of a
//! running server (or a copy of its files) without taking RocksDB's lock.
//!
//! # WAL files
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
//!
//! # Logical records: write batches
//! Every logical record is one RocksDB `WriteBatch` ([`parse_batch`]):
//! ```text
//! batch:   | sequence: u64 LE | count: u32 LE | op ... |
//! op:      | tag: u8 | [cf: varint32] | fields... |       slice = | len: varint32 | bytes |
//!          0x1 put            key, value            0x5 same with cf
//!          0x0 delete         key                   0x4 same with cf
//!          0x7 single delete  key                   0x8 same with cf
//!          0x2 merge          key, operand          0x6 same with cf
//!          0xF delete range   begin key, end key    0xE same with cf
//!          0x3 log data       blob (no cf; not applied; takes no sequence number)
//!          0xD no-op          (nothing)
//! ```
//! Ops without a cf id belong to the default column family (id 0). The ops that change data
//! take consecutive sequence numbers from `sequence`; `count` counts them.
//!
//! When several threads commit at once RocksDB may write their batches as **one** WAL record
//! (group commit): the batches' ops concatenated, with the first sequence number and the sum
//! of the counts. [`ParsedBatch::split_by_notes`] cuts such a record back into commands.
//!
//! # Batch notes
//! The write path puts a [`BatchNote`] first in each batch, as a log-data op: what a human
//! (or a replica's log) wants to know about the command that made the batch. It must come
//! first: [`ParsedBatch::split_by_notes`] starts a command at each note. Log data stays in the
//! WAL only: it is never applied to memtables and consumes no sequence number.
//! ```text
//! note:    | "PKN1" | time_ms: u64 BE | db: u16 BE | command len: u16 BE | command bytes |
//!          [ "T" | transaction id: u64 BE | closing: u8 ] |
//!          db = u16::MAX: several databases or none; later versions may append fields,
//!          which readers of this version ignore.
//! ```
//! The optional transaction mark ([`TransactionMark`]) ties the batches of one EXEC together:
//! every batch its commands write carries the transaction's id, and a last batch with
//! `closing` = 1 (a write of [`SysKey::TRANSACTION_END`](super::codec::SysKey)) ends the
//! group. A slave applies a group atomically, so its readers never see half a transaction.
//! Other clients' batches may fall between a group's batches (EXEC locks only its keys).
//!
//! # Column family ids
//! RocksDB numbers column families in creation order: "default" is 0 and the engine creates
//! the others in the order of `Cf::ALL` ([`cf_name`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::codec::{self, MetaValue};
use super::engine::Cf;

/// Why bytes could not be read as a binlog format.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("write batch truncated at byte {offset} ({what})")]
    Truncated { offset: usize, what: &'static str },
    #[error("unknown write batch tag 0x{tag:02x} at byte {offset}")]
    UnknownTag { tag: u8, offset: usize },
    #[error("write batch header counts {header} operations but it holds {found}")]
    CountMismatch { header: u32, found: u64 },
    #[error("the WAL is compressed (compression type {0}), which this reader does not support")]
    CompressedWal(u32),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

// ---------------------------------------------------------------------------------------------
// Write batches
// ---------------------------------------------------------------------------------------------

/// Size of the batch header (sequence and count).
pub const BATCH_HEADER_LEN: usize = 12;

/// What a batch op does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Put,
    Delete,
    SingleDelete,
    Merge,
    /// `key` is the first key deleted, `value` the end of the range (excluded).
    DeleteRange,
    /// A blob kept in the WAL only (`value`; `key` is empty, `cf` 0).
    LogData,
}

impl OpKind {
    /// True for the ops that change data and so take a sequence number.
    pub fn takes_sequence(self) -> bool {
        self != OpKind::LogData
    }

    /// Short lower-case name, for listings.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Put => "put",
            OpKind::Delete => "del",
            OpKind::SingleDelete => "sdel",
            OpKind::Merge => "merge",
            OpKind::DeleteRange => "delrange",
            OpKind::LogData => "logdata",
        }
    }
}

/// One op of a write batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOp {
    /// Column family id (see [`cf_name`]).
    pub cf: u32,
    pub kind: OpKind,
    pub key: Vec<u8>,
    /// Value, merge operand, end key of a range delete, or the blob of log data.
    pub value: Vec<u8>,
}

/// A decoded write batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedBatch {
    /// Sequence number of the first data op.
    pub sequence: u64,
    /// Number of data ops (log data excluded), as the header says.
    pub count: u32,
    pub ops: Vec<BatchOp>,
}

/// A slice of a batch belonging to one command: see [`ParsedBatch::split_by_notes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOps<'a> {
    /// Sequence number of the first data op of the command (of the op it would have when it has
    /// none).
    pub sequence: u64,
    /// Number of data ops.
    pub count: u32,
    pub note: Option<BatchNote>,
    /// The command's ops, its note excluded.
    pub ops: &'a [BatchOp],
}

impl ParsedBatch {
    /// Sequence number of the last data op (`sequence - 1` for a batch without any).
    /// A damaged header near `u64::MAX` saturates instead of overflowing.
    pub fn last_sequence(&self) -> u64 {
        match self.count {
            0 => self.sequence.saturating_sub(1),
            n => self.sequence.saturating_add(u64::from(n - 1)),
        }
    }

    /// Splits the batch at its notes: each note starts a new command, and ops before the first
    /// note form a command without a note. A batch RocksDB wrote alone gives one command; a
    /// group commit gives one per batch of the group.
    pub fn split_by_notes(&self) -> Vec<CommandOps<'_>> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut note = None;
        let mut seq = self.sequence;
        let mut count = 0u32;
        for (i, op) in self.ops.iter().enumerate() {
            if op.kind == OpKind::LogData {
                if let Some(next) = BatchNote::decode(&op.value) {
                    if i > start || note.is_some() {
                        out.push(CommandOps {
                            sequence: seq,
                            count,
                            note: note.take(),
                            ops: &self.ops[start..i],
                        });
                        // Wrapping: a damaged header may start near u64::MAX.
                        seq = seq.wrapping_add(u64::from(count));
                        count = 0;
                    }
                    note = Some(next);
                    start = i + 1;
                    continue;
                }
            }
            if op.kind.takes_sequence() {
                count += 1;
            }
        }
        if start < self.ops.len() || note.is_some() || out.is_empty() {
            out.push(CommandOps {
                sequence: seq,
                count,
                note,
                ops: &self.ops[start..],
            });
        }
        out
    }
}

/// Reads varint32s and length-prefixed slices off a batch, tracking the offset for errors.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn varint32(&mut self, what: &'static str) -> Result<u32, FormatError> {
        let mut value = 0u32;
        for i in 0..5 {
            let Some(&b) = self.data.get(self.pos) else {
                return Err(FormatError::Truncated {
                    offset: self.pos,
                    what,
                });
            };
            self.pos += 1;
            // The fifth byte may only hold the top 4 bits.
            if i == 4 && b > 0x0f {
                return Err(FormatError::Truncated {
                    offset: self.pos - 1,
                    what,
                });
            }
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        unreachable!("the fifth byte either ends the varint or is rejected")
    }

    fn slice(&mut self, what: &'static str) -> Result<&'a [u8], FormatError> {
        let len = self.varint32(what)? as usize;
        let end = self
            .pos
            .checked_add(len)
            .filter(|&e| e <= self.data.len())
            .ok_or(FormatError::Truncated {
                offset: self.pos,
                what,
            })?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
}

/// One op as it lies in a batch's bytes (log data: `cf` 0, `key` empty, the blob in `value`).
struct RawOp<'a> {
    cf: u32,
    kind: OpKind,
    key: &'a [u8],
    value: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// The op at the cursor (past the header), `None` at the end of the batch.
    fn next_op(&mut self) -> Result<Option<RawOp<'a>>, FormatError> {
        loop {
            let Some(&tag) = self.data.get(self.pos) else {
                return Ok(None);
            };
            let at = self.pos;
            self.pos += 1;
            let (kind, has_cf, has_value) = match tag {
                0x1 => (OpKind::Put, false, true),
                0x5 => (OpKind::Put, true, true),
                0x0 => (OpKind::Delete, false, false),
                0x4 => (OpKind::Delete, true, false),
                0x7 => (OpKind::SingleDelete, false, false),
                0x8 => (OpKind::SingleDelete, true, false),
                0x2 => (OpKind::Merge, false, true),
                0x6 => (OpKind::Merge, true, true),
                0xF => (OpKind::DeleteRange, false, true),
                0xE => (OpKind::DeleteRange, true, true),
                0x3 => {
                    let blob = self.slice("log data")?;
                    return Ok(Some(RawOp {
                        cf: 0,
                        kind: OpKind::LogData,
                        key: &[],
                        value: blob,
                    }));
                }
                0xD => continue,
                _ => return Err(FormatError::UnknownTag { tag, offset: at }),
            };
            let cf = if has_cf {
                self.varint32("column family")?
            } else {
                0
            };
            let key = self.slice("key")?;
            let value = if has_value { self.slice("value")? } else { &[] };
            return Ok(Some(RawOp {
                cf,
                kind,
                key,
                value,
            }));
        }
    }
}

/// Decodes a write batch (a WAL record). Never panics, whatever the input.
pub fn parse_batch(data: &[u8]) -> Result<ParsedBatch, FormatError> {
    if data.len() < BATCH_HEADER_LEN {
        return Err(FormatError::Truncated {
            offset: data.len(),
            what: "header",
        });
    }
    let sequence = u64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
    let count = u32::from_le_bytes(data[8..12].try_into().expect("4 bytes"));
    let mut c = Cursor {
        data,
        pos: BATCH_HEADER_LEN,
    };
    // Every op takes at least 3 bytes: never trust `count` for an allocation.
    let mut ops = Vec::with_capacity((count as usize).min(data.len() / 3));
    let mut found = 0u64;
    while let Some(op) = c.next_op()? {
        if op.kind.takes_sequence() {
            found += 1;
        }
        ops.push(BatchOp {
            cf: op.cf,
            kind: op.kind,
            key: op.key.to_vec(),
            value: op.value.to_vec(),
        });
    }
    if found != u64::from(count) {
        return Err(FormatError::CountMismatch {
            header: count,
            found,
        });
    }
    Ok(ParsedBatch {
        sequence,
        count,
        ops,
    })
}

/// The transaction marks of the notes in batch `data` (a WAL record), in order, without
/// copying its ops.
pub fn transaction_marks(data: &[u8]) -> Result<Vec<TransactionMark>, FormatError> {
    let mut c = Cursor {
        data,
        pos: BATCH_HEADER_LEN.min(data.len()),
    };
    let mut marks = Vec::new();
    while let Some(op) = c.next_op()? {
        if op.kind == OpKind::LogData {
            marks.extend(BatchNote::decode_transaction(op.value));
        }
    }
    Ok(marks)
}

// ---------------------------------------------------------------------------------------------
// Batch notes
/// The commit time (Unix ms) in the note that opens batch `data`, without parsing the rest;
/// `None` when the batch does not start with a note.
pub fn batch_commit_time(data: &[u8]) -> Option<u64> {
    if data.get(BATCH_HEADER_LEN) != Some(&0x3) {
        return None;
    }
    let mut c = Cursor {
        data,
        pos: BATCH_HEADER_LEN + 1,
    };
    BatchNote::decode_time(c.slice("log data").ok()?)
}

// ---------------------------------------------------------------------------------------------

/// The place of a batch in an EXEC transaction (an optional field of [`BatchNote`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionMark {
    /// Names the transaction; unique among the transactions of one master process.
    pub id: u64,
    /// True for the batch that ends the transaction.
    pub closing: bool,
}

/// What the write path records about the command behind a batch (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchNote {
    /// When the batch was committed, Unix milliseconds.
    pub time_ms: u64,
    /// Physical database the command wrote, [`BatchNote::NO_DB`] for several or none.
    pub db: u16,
    /// The command (its name, possibly with more); at most `u16::MAX` bytes are stored.
    pub command: String,
}

impl BatchNote {
    /// The note's magic, which also versions its layout.
    pub const MAGIC: &'static [u8; 4] = b"PKN1";
    /// `db` of a batch touching several databases or none.
    pub const NO_DB: u16 = u16::MAX;
    const FIXED_LEN: usize = 4 + 8 + 2 + 2;
    /// The tag that opens a transaction mark, and the mark's whole length.
    const MARK_TAG: u8 = b'T';
    const MARK_LEN: usize = 1 + 8 + 1;

    /// Serialises the note; a command longer than `u16::MAX` bytes is cut at a character
    /// boundary.
    pub fn encode(&self) -> Vec<u8> {
        Self::encode_parts(self.time_ms, self.db, &self.command)
    }

    /// [`BatchNote::encode`] from the parts, for the write path (no note built first).
    pub fn encode_parts(time_ms: u64, db: u16, command: &str) -> Vec<u8> {
        Self::encode_marked(time_ms, db, command, None)
    }

    /// [`BatchNote::encode_parts`] with the transaction mark of a batch EXEC writes.
    pub fn encode_marked(
        time_ms: u64,
        db: u16,
        command: &str,
        mark: Option<TransactionMark>,
    ) -> Vec<u8> {
        let mut len = command.len().min(u16::MAX as usize);
        while !command.is_char_boundary(len) {
            len -= 1;
        }
        let mut out = Vec::with_capacity(Self::FIXED_LEN + len + Self::MARK_LEN);
        out.extend_from_slice(Self::MAGIC);
        out.extend_from_slice(&time_ms.to_be_bytes());
        out.extend_from_slice(&db.to_be_bytes());
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&command.as_bytes()[..len]);
        if let Some(mark) = mark {
            out.push(Self::MARK_TAG);
            out.extend_from_slice(&mark.id.to_be_bytes());
            out.push(u8::from(mark.closing));
        }
        out
    }

    /// The transaction mark of a note; `None` when `raw` is not a note or has no mark.
    pub fn decode_transaction(raw: &[u8]) -> Option<TransactionMark> {
        if raw.get(..4)? != Self::MAGIC {
            return None;
        }
        let len = u16::from_be_bytes(raw.get(14..16)?.try_into().ok()?) as usize;
        let mark = raw.get(Self::FIXED_LEN + len..Self::FIXED_LEN + len + Self::MARK_LEN)?;
        if mark[0] != Self::MARK_TAG {
            return None;
        }
        Some(TransactionMark {
            id: u64::from_be_bytes(mark[1..9].try_into().ok()?),
            closing: mark[9] != 0,
        })
    }

    /// Only the commit time of a note (no allocation, for the replication hot path); `None`
    /// when `raw` is not a note.
    pub fn decode_time(raw: &[u8]) -> Option<u64> {
        if raw.get(..4)? != Self::MAGIC {
            return None;
        }
        Some(u64::from_be_bytes(raw.get(4..12)?.try_into().ok()?))
    }

    /// Parses a note; `None` when `raw` is not one (other log data, or damaged). Bytes after
    /// the command are ignored; invalid UTF-8 in the command is replaced.
    pub fn decode(raw: &[u8]) -> Option<BatchNote> {
        let time_ms = Self::decode_time(raw)?;
        let db = u16::from_be_bytes(raw.get(12..14)?.try_into().ok()?);
        let len = u16::from_be_bytes(raw.get(14..16)?.try_into().ok()?) as usize;
        let command = raw.get(16..16 + len)?;
        Some(BatchNote {
            time_ms,
            db,
            command: String::from_utf8_lossy(command).into_owned(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// WAL files
// ---------------------------------------------------------------------------------------------

/// Size of a WAL block.
pub const WAL_BLOCK_SIZE: usize = 32768;
pub(crate) const HEADER_LEN: usize = 7;
pub(crate) const RECYCLABLE_HEADER_LEN: usize = 11;

/// One logical record of a WAL file: the bytes of a write batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalRecord {
    /// Offset in the file of its first physical record.
    pub offset: u64,
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

fn masked_crc32c(bytes: &[u8]) -> u32 {
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

// ---------------------------------------------------------------------------------------------
// Naming things for humans
// ---------------------------------------------------------------------------------------------

/// The column family of a RocksDB column family id, as the engine creates them (`"?"` for
/// an id it does not create).
pub fn cf_name(id: u32) -> &'static str {
    cf_of(id).map_or("?", Cf::name)
}

fn cf_of(id: u32) -> Option<Cf> {
    Cf::ALL.get(id as usize).copied()
}

/// Appends `bytes` as redis-cli prints strings: bare when plain printable ASCII, otherwise
/// quoted with `\n`, `\r`, `\t`, `\a`, `\b`, `\\`, `\"` and `\xNN` escapes.
pub fn push_escaped(out: &mut String, bytes: &[u8]) {
    let plain = !bytes.is_empty()
        && bytes
            .iter()
            .all(|&b| (0x21..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if plain {
        out.extend(bytes.iter().map(|&b| b as char));
        return;
    }
    crate::util::repr::push_quoted(out, bytes);
}

/// `bytes` escaped as by [`push_escaped`].
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    push_escaped(&mut s, bytes);
    s
}

/// Longest value shown by [`describe_op`] before it is cut.
const VALUE_SHOWN: usize = 64;

fn push_value(out: &mut String, name: &str, value: &[u8]) {
    let _ = write!(out, " {name}=");
    if value.len() > VALUE_SHOWN {
        push_escaped(out, &value[..VALUE_SHOWN]);
        let _ = write!(out, "...({} bytes)", value.len());
    } else {
        push_escaped(out, value);
    }
}

/// `db=N key=K` of a meta key (or of a bare `db` prefix, as range deletes use).
fn push_meta_key(out: &mut String, raw: &[u8]) {
    match codec::decode_meta_key(raw) {
        Some((db, _, key)) => {
            let _ = write!(out, "db={db} key=");
            push_escaped(out, key);
        }
        None if raw.len() == 2 => {
            let _ = write!(out, "db={}", u16::from_be_bytes([raw[0], raw[1]]));
        }
        None => {
            out.push_str("raw=");
            push_escaped(out, raw);
        }
    }
}

fn push_element_key(out: &mut String, cf: Cf, raw: &[u8]) {
    let Some((meta_key, version, sub)) = codec::decode_element_key(raw) else {
        out.push_str("raw=");
        push_escaped(out, raw);
        return;
    };
    push_meta_key(out, &meta_key);
    match cf {
        Cf::List if sub.len() == 8 => {
            // Relative to where the list started, so LPUSHed elements go negative.
            let stored = u64::from_be_bytes(sub.try_into().expect("8 bytes"));
            let index = stored.wrapping_sub(super::list::INITIAL_INDEX) as i64;
            let _ = write!(out, " index={index}");
        }
        Cf::ZScore if sub.len() >= 8 => {
            let score = codec::decode_score(sub).unwrap_or(f64::NAN);
            let _ = write!(out, " score={score}");
            out.push_str(" sub=");
            push_escaped(out, &sub[8..]);
        }
        _ => {
            out.push_str(" sub=");
            push_escaped(out, sub);
        }
    }
    let _ = write!(out, " ver={version}");
}

/// `dbsize db=N` and the like for the system records of the default column family.
fn push_system_key(out: &mut String, raw: &[u8]) {
    for counter in [&b"dbsize"[..], b"expires"] {
        if let Some(db) = raw.strip_prefix(counter).filter(|d| d.len() == 2) {
            let _ = write!(
                out,
                "{} db={}",
                String::from_utf8_lossy(counter),
                u16::from_be_bytes([db[0], db[1]])
            );
            return;
        }
    }
    out.push_str("key=");
    push_escaped(out, raw);
}

/// A one-line description of an op for humans, decoding pika's key layouts (see `codec`):
/// `put meta db=0 key=foo type=string val=bar`, `del hash db=0 key=h sub=f ver=3` (`ver`: the
/// collection's version), `put list db=0 key=l index=-1 ver=2 val=x` (`index` counted from
/// where the list started),
/// `merge default dbsize db=0 +1`, `logdata note time_ms=... db=0 cmd=SET`.
pub fn describe_op(op: &BatchOp) -> String {
    let mut out = String::new();
    out.push_str(op.kind.name());
    if op.kind == OpKind::LogData {
        match BatchNote::decode(&op.value) {
            Some(n) => {
                let _ = write!(out, " note time_ms={} db={} cmd=", n.time_ms, n.db);
                push_escaped(&mut out, n.command.as_bytes());
            }
            None => push_value(&mut out, "blob", &op.value),
        }
        return out;
    }
    let _ = write!(out, " {}", cf_name(op.cf));
    let cf = cf_of(op.cf);
    let describe_key = |out: &mut String, key: &[u8]| {
        out.push(' ');
        match cf {
            Some(Cf::Meta) => push_meta_key(out, key),
            Some(Cf::Expire) => match codec::decode_expire_key(key) {
                Some((deadline, meta_key)) => {
                    push_meta_key(out, meta_key);
                    let _ = write!(out, " deadline_ms={deadline}");
                }
                None => {
                    out.push_str("raw=");
                    push_escaped(out, key);
                }
            },
            Some(Cf::Default) => push_system_key(out, key),
            Some(c) if c.holds_elements() => push_element_key(out, c, key),
            _ => {
                out.push_str("raw=");
                push_escaped(out, key);
            }
        }
    };
    match op.kind {
        OpKind::DeleteRange => {
            describe_key(&mut out, &op.key);
            out.push_str(" ..");
            describe_key(&mut out, &op.value);
        }
        _ => describe_key(&mut out, &op.key),
    }
    match (op.kind, cf) {
        (OpKind::Put, Some(Cf::Meta)) => match MetaValue::decode(&op.value) {
            Some(m) => {
                let _ = write!(out, " type={}", m.data_type.name());
                if m.expire_ms != 0 {
                    let _ = write!(out, " expire_ms={}", m.expire_ms);
                }
                if m.data_type == codec::DataType::String {
                    push_value(&mut out, "val", &m.body);
                } else if let Some(h) = codec::CollectionHeader::decode(&m.body) {
                    let _ = write!(out, " ver={} count={}", h.version, h.count);
                }
            }
            None => push_value(&mut out, "raw", &op.value),
        },
        (OpKind::Put, Some(Cf::ZSet)) => match codec::decode_score(&op.value) {
            Some(score) => {
                let _ = write!(out, " score={score}");
            }
            None => push_value(&mut out, "raw", &op.value),
        },
        (OpKind::Put, Some(Cf::Hash | Cf::List)) => push_value(&mut out, "val", &op.value),
        (OpKind::Merge, Some(Cf::Default)) if op.value.len() == 9 => {
            let n = codec::counter::decode_value(&op.value);
            match op.value[0] {
                b'+' => {
                    let _ = write!(out, " {n:+}");
                }
                b'=' => {
                    let _ = write!(out, " ={n}");
                }
                _ => push_value(&mut out, "operand", &op.value),
            }
        }
        (OpKind::Put | OpKind::Merge, _) if !op.value.is_empty() => {
            push_value(&mut out, "val", &op.value)
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, DB};

    /// Opens a RocksDB at `dir` with column families "a" and "b" (ids 1 and 2).
    fn open_db(dir: &Path, manual_flush: bool, recycle: bool) -> DB {
        let mut o = Options::default();
        o.create_if_missing(true);
        o.create_missing_column_families(true);
        o.set_manual_wal_flush(manual_flush);
        if recycle {
            o.set_recycle_log_file_num(4);
        }
        let cfs = ["a", "b"].map(|n| ColumnFamilyDescriptor::new(n, Options::default()));
        DB::open_cf_descriptors(&o, dir, cfs).expect("open rocksdb")
    }

    fn sample_batch(db: &DB) -> WriteBatch {
        let a = db.cf_handle("a").expect("cf a");
        let b = db.cf_handle("b").expect("cf b");
        let mut batch = WriteBatch::default();
        batch.put_log_data(b"note-ish");
        batch.put(b"k0", b"v0");
        batch.put_cf(a, b"k1", b"v1");
        batch.delete_cf(b, b"k2");
        batch.delete(b"k3");
        batch.merge_cf(a, b"k4", b"+1");
        batch.merge(b"k5", b"m");
        batch.delete_range_cf(b, &b"from"[..], b"to");
        batch.delete_range(b"x", b"y");
        batch.single_delete_cf(a, b"k6");
        batch.single_delete(b"k7");
        batch
    }

    fn op(cf: u32, kind: OpKind, key: &[u8], value: &[u8]) -> BatchOp {
        BatchOp {
            cf,
            kind,
            key: key.to_vec(),
            value: value.to_vec(),
        }
    }

    #[test]
    fn parses_real_rocksdb_batches() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open_db(dir.path(), false, false);
        let batch = sample_batch(&db);
        let parsed = parse_batch(batch.data()).expect("parse");
        assert_eq!(parsed.sequence, 0);
        assert_eq!(parsed.count, 10);
        assert_eq!(parsed.count as usize, batch.len());
        assert_eq!(
            parsed.ops,
            vec![
                op(0, OpKind::LogData, b"", b"note-ish"),
                op(0, OpKind::Put, b"k0", b"v0"),
                op(1, OpKind::Put, b"k1", b"v1"),
                op(2, OpKind::Delete, b"k2", b""),
                op(0, OpKind::Delete, b"k3", b""),
                op(1, OpKind::Merge, b"k4", b"+1"),
                op(0, OpKind::Merge, b"k5", b"m"),
                op(2, OpKind::DeleteRange, b"from", b"to"),
                op(0, OpKind::DeleteRange, b"x", b"y"),
                op(1, OpKind::SingleDelete, b"k6", b""),
                op(0, OpKind::SingleDelete, b"k7", b""),
            ]
        );
        assert_eq!(parsed.last_sequence(), 9);
    }

    #[test]
    fn parses_long_slices_and_big_cf_ids() {
        // Multi-byte varints: a 300-byte key and a cf id above 127.
        let mut data = vec![0u8; 12];
        data[..8].copy_from_slice(&77u64.to_le_bytes());
        data[8..12].copy_from_slice(&1u32.to_le_bytes());
        data.push(0x5);
        data.extend_from_slice(&[0xac, 0x02]); // 300
        data.extend_from_slice(&[0xac, 0x02]);
        data.extend_from_slice(&[b'k'; 300]);
        data.push(0);
        data.push(0xD); // no-op
        let parsed = parse_batch(&data).expect("parse");
        assert_eq!(parsed.sequence, 77);
        assert_eq!(parsed.ops, vec![op(300, OpKind::Put, &[b'k'; 300], b"")]);
    }

    #[test]
    fn rejects_unknown_tags_and_wrong_counts() {
        let mut data = vec![0u8; 12];
        data[8] = 1;
        data.extend_from_slice(&[0x16, 1, b'k', 1, b'v']); // wide-column entity
        assert!(matches!(
            parse_batch(&data),
            Err(FormatError::UnknownTag {
                tag: 0x16,
                offset: 12
            })
        ));
        let mut data = vec![0u8; 12];
        data[8] = 2;
        data.extend_from_slice(&[0x1, 1, b'k', 1, b'v']);
        assert!(matches!(
            parse_batch(&data),
            Err(FormatError::CountMismatch {
                header: 2,
                found: 1
            })
        ));
        assert!(matches!(
            parse_batch(&[0; 11]),
            Err(FormatError::Truncated { .. })
        ));
        // An over-long varint is rejected, not wrapped.
        let mut data = vec![0u8; 12];
        data.extend_from_slice(&[0x1, 0xff, 0xff, 0xff, 0xff, 0x7f]);
        assert!(parse_batch(&data).is_err());
    }

    /// Tiny deterministic generator so failures reproduce.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn never_panics_on_truncated_or_garbled_input() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open_db(dir.path(), false, false);
        let batch = sample_batch(&db);
        let good = batch.data().to_vec();
        for cut in 0..good.len() {
            assert!(parse_batch(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let mut data = good.clone();
            for _ in 0..1 + rng.next() % 4 {
                let i = (rng.next() as usize) % data.len();
                data[i] = rng.next() as u8;
            }
            let _ = parse_batch(&data);
            let len = (rng.next() % 64) as usize;
            let noise: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let _ = parse_batch(&noise);
            let _ = read_wal(&noise, Some(rng.next() % 4));
            let _ = BatchNote::decode(&noise);
        }
        // A real WAL with a multi-block record, damaged at random: records that survive the
        // checksums parse or fail cleanly.
        let mut small = WriteBatch::default();
        small.put_log_data(b"note");
        small.put(b"k", b"v");
        small.delete_range(b"a", b"b");
        db.write(small).expect("write");
        let mut big = WriteBatch::default();
        big.put(b"big", vec![7u8; 70_000]);
        db.write(big).expect("write");
        db.flush_wal(true).expect("flush");
        let file = logs(dir.path()).pop().expect("a wal file");
        let wal = std::fs::read(&file).expect("read");
        assert_eq!(read_wal(&wal, None).expect("read").records.len(), 2);
        for _ in 0..2_000 {
            let mut data = wal.clone();
            for _ in 0..1 + rng.next() % 3 {
                let i = (rng.next() as usize) % data.len();
                data[i] = rng.next() as u8;
            }
            let cut = (rng.next() as usize) % (data.len() + 1);
            if let Ok(r) = read_wal(&data[..cut], Some(rng.next() % 8)) {
                for record in r.records {
                    let _ = parse_batch(&record.data);
                }
            }
        }
    }

    #[test]
    fn commit_time_comes_from_the_opening_note() {
        let note = BatchNote {
            time_ms: 1_700_000_000_456,
            db: 0,
            command: "SET".into(),
        };
        let mut batch = WriteBatch::default();
        batch.put_log_data(note.encode());
        batch.put(b"k", b"v");
        assert_eq!(batch_commit_time(batch.data()), Some(1_700_000_000_456));
        // No note first, another blob, or a cut batch: no time.
        let mut plain = WriteBatch::default();
        plain.put(b"k", b"v");
        assert_eq!(batch_commit_time(plain.data()), None);
        let mut other = WriteBatch::default();
        other.put_log_data(b"not a note");
        assert_eq!(batch_commit_time(other.data()), None);
        assert_eq!(batch_commit_time(&batch.data()[..20]), None);
    }

    #[test]
    fn notes_round_trip() {
        let note = BatchNote {
            time_ms: 1_700_000_000_123,
            db: 3,
            command: "HSET".into(),
        };
        let raw = note.encode();
        assert_eq!(&raw[..4], b"PKN1");
        assert_eq!(&raw[4..12], &1_700_000_000_123u64.to_be_bytes());
        assert_eq!(&raw[12..16], &[0, 3, 0, 4]);
        assert_eq!(&raw[16..], b"HSET");
        assert_eq!(BatchNote::decode(&raw), Some(note.clone()));
        // Fields a later version appends are ignored.
        let mut longer = raw.clone();
        longer.extend_from_slice(b"more");
        assert_eq!(BatchNote::decode(&longer), Some(note));
        assert_eq!(BatchNote::decode(&raw[..raw.len() - 1]), None);
        assert_eq!(BatchNote::decode(b"PKN2xxxxxxxxxxxxxxxx"), None);
        // A command too long for the length field is cut at a character boundary.
        let long = BatchNote {
            time_ms: 0,
            db: BatchNote::NO_DB,
            command: "é".repeat(40_000),
        };
        let back = BatchNote::decode(&long.encode()).expect("decodes");
        assert_eq!(back.command.len(), 65_534);
        assert!(long.command.starts_with(&back.command));
    }

    #[test]
    fn transaction_marks_round_trip_and_old_readers_ignore_them() {
        let mark = TransactionMark {
            id: 0x0102_0304_0506_0708,
            closing: true,
        };
        let raw = BatchNote::encode_marked(7, 1, "SET", Some(mark));
        assert_eq!(&raw[16..19], b"SET");
        assert_eq!(&raw[19..], b"T\x01\x02\x03\x04\x05\x06\x07\x08\x01");
        assert_eq!(BatchNote::decode_transaction(&raw), Some(mark));
        let plain = BatchNote::encode_parts(7, 1, "SET");
        assert_eq!(BatchNote::decode_transaction(&plain), None);
        // A reader of the note alone sees the same note with or without the mark.
        assert_eq!(BatchNote::decode(&raw), BatchNote::decode(&plain));
        assert_eq!(BatchNote::decode_transaction(&raw[..raw.len() - 1]), None);
        let mut other = plain.clone();
        other.extend_from_slice(b"Xmore than ten bytes");
        assert_eq!(BatchNote::decode_transaction(&other), None);
    }

    #[test]
    fn transaction_marks_are_read_from_every_note_of_a_record() {
        let mark = |id, closing| TransactionMark { id, closing };
        let mut batch = WriteBatch::default();
        batch.put_log_data(BatchNote::encode_marked(1, 0, "SET", Some(mark(5, false))));
        batch.put(b"k", b"v");
        batch.put_log_data(BatchNote::encode_parts(1, 0, "DEL"));
        batch.delete(b"j");
        batch.put_log_data(b"not a note");
        batch.put_log_data(BatchNote::encode_marked(2, 0, "exec", Some(mark(5, true))));
        batch.put(b"end", b"");
        assert_eq!(
            transaction_marks(batch.data()).expect("parses"),
            vec![mark(5, false), mark(5, true)]
        );
        assert!(transaction_marks(&batch.data()[..batch.data().len() - 1]).is_err());
        assert_eq!(transaction_marks(b"short").expect("empty"), Vec::new());
    }

    fn note_op(command: &str) -> BatchOp {
        let note = BatchNote {
            time_ms: 5,
            db: 0,
            command: command.into(),
        };
        op(0, OpKind::LogData, b"", &note.encode())
    }

    #[test]
    fn split_by_notes_cuts_group_commits_into_commands() {
        let put = |k: &[u8]| op(1, OpKind::Put, k, b"v");
        let merged = ParsedBatch {
            sequence: 100,
            count: 5,
            ops: vec![
                note_op("SET"),
                put(b"a"),
                note_op("MSET"),
                put(b"b"),
                put(b"c"),
                op(0, OpKind::LogData, b"", b"not a note"),
                note_op("DEL"),
                put(b"d"),
                put(b"e"),
            ],
        };
        let parts = merged.split_by_notes();
        let summary: Vec<_> = parts
            .iter()
            .map(|p| {
                (
                    p.sequence,
                    p.count,
                    p.note.as_ref().map(|n| n.command.as_str()),
                    p.ops.len(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (100, 1, Some("SET"), 1),
                (101, 2, Some("MSET"), 3),
                (103, 2, Some("DEL"), 2),
            ]
        );
        // Without notes the batch is one command.
        let plain = ParsedBatch {
            sequence: 7,
            count: 2,
            ops: vec![put(b"a"), put(b"b")],
        };
        let parts = plain.split_by_notes();
        assert_eq!(parts.len(), 1);
        assert_eq!(
            (parts[0].sequence, parts[0].count, parts[0].ops.len()),
            (7, 2, 2)
        );
        assert!(parts[0].note.is_none());
        // Ops before the first note are their own command.
        let mixed = ParsedBatch {
            sequence: 1,
            count: 2,
            ops: vec![put(b"a"), note_op("SET"), put(b"b")],
        };
        let parts = mixed.split_by_notes();
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[1].sequence, parts[1].count), (2, 1));
    }

    #[test]
    fn concurrent_writers_split_back_into_their_batches() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open_db(dir.path(), true, false);
        const THREADS: u64 = 4;
        const PER_THREAD: u64 = 300;
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let db = &db;
                s.spawn(move || {
                    for i in 0..PER_THREAD {
                        let note = BatchNote {
                            time_ms: i,
                            db: t as u16,
                            command: format!("T{t}"),
                        };
                        let mut batch = WriteBatch::default();
                        batch.put_log_data(note.encode());
                        batch.put(format!("t{t}:{i}"), b"a");
                        batch.put(format!("t{t}:{i}:b"), b"b");
                        db.write(batch).expect("write");
                    }
                });
            }
        });
        db.flush_wal(true).expect("flush");
        let mut commands = 0;
        let mut merged_records = 0;
        let mut next_seq = 1;
        for file in logs(dir.path()) {
            for record in read_wal_file(&file).expect("read").records {
                let batch = parse_batch(&record.data).expect("parse");
                let parts = batch.split_by_notes();
                merged_records += usize::from(parts.len() > 1);
                for part in parts {
                    let note = part.note.expect("every batch has its note");
                    assert_eq!(part.sequence, next_seq);
                    assert_eq!(part.count, 2);
                    let (t, i) = (note.db, note.time_ms);
                    assert_eq!(part.ops[0].key, format!("t{t}:{i}").into_bytes());
                    assert_eq!(part.ops[1].key, format!("t{t}:{i}:b").into_bytes());
                    next_seq += 2;
                    commands += 1;
                }
            }
        }
        assert_eq!(commands, THREADS * PER_THREAD);
        eprintln!("group-committed WAL records: {merged_records}");
    }

    /// The `*.log` files of `dir`, by number.
    fn logs(dir: &Path) -> Vec<PathBuf> {
        wal_files(dir).expect("list wal files")
    }

    /// Writes batches (one spanning several blocks), reads them back from the WAL, then checks
    /// that a cut or damaged tail is detected.
    fn wal_round_trip(manual_flush: bool, recycle: bool) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open_db(dir.path(), manual_flush, recycle);
        let a = db.cf_handle("a").expect("cf a");
        let mut expected: Vec<(u64, Vec<u8>)> = Vec::new();
        for i in 0..40u32 {
            let mut batch = WriteBatch::default();
            batch.put_log_data(format!("batch {i}"));
            let value_len = match i {
                7 => 100_000, // FIRST, MIDDLE, MIDDLE, LAST
                20 => 32_768 - 7 - 30,
                _ => 10 + (i as usize * 37) % 300,
            };
            batch.put_cf(a, format!("key{i}"), vec![b'a' + (i % 26) as u8; value_len]);
            if i % 3 == 0 {
                batch.delete(format!("gone{i}"));
            }
            let first_seq = db.latest_sequence_number() + 1;
            expected.push((first_seq, batch.data()[BATCH_HEADER_LEN..].to_vec()));
            db.write(batch).expect("write");
        }
        db.flush_wal(true).expect("flush wal");
        let files = logs(dir.path());
        assert_eq!(files.len(), 1, "{files:?}");
        let read = read_wal_file(&files[0]).expect("read wal");
        assert_eq!(read.torn, None);
        assert_eq!(read.records.len(), expected.len());
        for (record, (seq, body)) in read.records.iter().zip(&expected) {
            let parsed = parse_batch(&record.data).expect("parse");
            assert_eq!(parsed.sequence, *seq);
            assert_eq!(&record.data[BATCH_HEADER_LEN..], &body[..]);
        }
        let big = &read.records[7];
        assert!(big.data.len() > 2 * WAL_BLOCK_SIZE);

        // Cut inside the big record: the records before it survive, the tail is reported.
        let bytes = std::fs::read(&files[0]).expect("read file");
        let cut_at = big.offset as usize + 40_000;
        let cut = read_wal(&bytes[..cut_at], wal_file_number(&files[0])).expect("read");
        assert_eq!(cut.records, read.records[..7]);
        assert_eq!(
            cut.torn,
            Some(TornTail {
                offset: big.offset,
                kind: TornKind::Short
            })
        );
        // Cut at every length inside the last record: never returned, always reported.
        let last = read.records.last().expect("records");
        for end in last.offset as usize + 1..bytes.len() {
            let r = read_wal(&bytes[..end], None).expect("read");
            assert_eq!(r.records.len(), read.records.len() - 1, "cut at {end}");
            assert_eq!(r.torn.map(|t| t.offset), Some(last.offset), "cut at {end}");
        }
        // A damaged byte in record 10 ends the log there.
        let mut damaged = bytes.clone();
        let tenth = read.records[10].offset as usize;
        damaged[tenth + 20] ^= 0x40;
        let r = read_wal(&damaged, None).expect("read");
        assert_eq!(r.records, read.records[..10]);
        assert_eq!(
            r.torn,
            Some(TornTail {
                offset: tenth as u64,
                kind: TornKind::BadChecksum
            })
        );
    }

    #[test]
    fn wal_reader_returns_every_batch_with_manual_wal_flush() {
        wal_round_trip(true, false);
    }

    #[test]
    fn wal_reader_returns_every_batch_with_default_options() {
        wal_round_trip(false, false);
    }

    #[test]
    fn wal_reader_understands_recyclable_records() {
        wal_round_trip(false, true);
    }

    #[test]
    fn recycled_file_ends_at_records_of_another_log_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open_db(dir.path(), false, true);
        for i in 0..3 {
            db.put(format!("k{i}"), b"v").expect("put");
        }
        db.flush_wal(true).expect("flush");
        let file = logs(dir.path()).pop().expect("a wal file");
        let n = wal_file_number(&file).expect("number");
        let bytes = std::fs::read(&file).expect("read");
        assert!((5..=8).contains(&bytes[6]), "recyclable record type");
        assert_eq!(read_wal(&bytes, Some(n)).expect("read").records.len(), 3);
        // Read as if the file had another number: its records are a previous user's.
        let other = read_wal(&bytes, Some(n + 1)).expect("read");
        assert!(other.records.is_empty() && other.torn.is_none());
    }

    #[test]
    fn zero_filled_space_is_padding() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open_db(dir.path(), false, false);
        db.put(b"k", b"v").expect("put");
        db.flush_wal(true).expect("flush");
        let file = logs(dir.path()).pop().expect("a wal file");
        let mut bytes = std::fs::read(&file).expect("read");
        let clean = read_wal(&bytes, None).expect("read");
        bytes.resize(bytes.len() + 3 * WAL_BLOCK_SIZE + 5, 0);
        assert_eq!(read_wal(&bytes, None).expect("read"), clean);
    }

    #[test]
    fn wal_files_lists_live_and_archived_logs_by_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive = dir.path().join("archive");
        std::fs::create_dir(&archive).expect("mkdir");
        for p in [
            dir.path().join("000012.log"),
            dir.path().join("000009.log"),
            dir.path().join("LOG"),
            dir.path().join("MANIFEST-000005"),
            archive.join("000003.log"),
            archive.join("000009.log"),
        ] {
            std::fs::write(p, b"").expect("write");
        }
        let names: Vec<_> = wal_files(dir.path())
            .expect("list")
            .iter()
            .map(|p| p.strip_prefix(dir.path()).expect("inside").to_path_buf())
            .collect();
        assert_eq!(
            names,
            ["archive/000003.log", "archive/000009.log", "000012.log"]
                .map(PathBuf::from)
                .to_vec()
        );
        assert_eq!(wal_file_number(Path::new("/x/000123.log")), Some(123));
        assert_eq!(wal_file_number(Path::new("/x/a123.log")), None);
    }

    #[test]
    fn engine_column_family_ids_follow_cf_all() {
        use super::super::engine::{Engine, EngineOptions};
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Engine::open(dir.path(), &EngineOptions::default()).expect("open");
        let mut batch = engine.batch();
        for cf in Cf::ALL {
            batch.put(cf, cf.name().as_bytes(), b"");
        }
        engine.write(batch).expect("write");
        engine.sync_wal().expect("sync");
        let mut seen = Vec::new();
        for file in logs(dir.path()) {
            for record in read_wal_file(&file).expect("read").records {
                let batch = parse_batch(&record.data).expect("parse");
                if batch.ops.len() == Cf::ALL.len() {
                    seen = batch.ops;
                }
            }
        }
        assert_eq!(seen.len(), Cf::ALL.len(), "the batch is in the WAL");
        for op in &seen {
            assert_eq!(cf_name(op.cf).as_bytes(), &op.key[..]);
        }
        assert_eq!(cf_name(99), "?");
    }

    #[test]
    fn escapes_like_redis_cli() {
        assert_eq!(escape(b"foo:1"), "foo:1");
        assert_eq!(escape(b""), "\"\"");
        assert_eq!(escape(b"a b"), "\"a b\"");
        assert_eq!(escape(b"q\"\\\n\x00\xff"), "\"q\\\"\\\\\\n\\x00\\xff\"");
        assert_eq!(escape("é".as_bytes()), "\"\\xc3\\xa9\"");
    }

    #[test]
    fn describes_pika_keys() {
        use codec::{encode_element_prefix, encode_expire_key, encode_meta_key, DataType};
        let cf = |c: Cf| Cf::ALL.iter().position(|&x| x == c).expect("cf") as u32;
        let meta = MetaValue::string(bytes::Bytes::from_static(b"bar"), 0, 0);
        let d = describe_op(&op(
            cf(Cf::Meta),
            OpKind::Put,
            &encode_meta_key(0, 12182, b"foo"),
            &meta.encode(),
        ));
        assert_eq!(d, "put meta db=0 key=foo type=string val=bar");
        let hash = MetaValue {
            data_type: DataType::Hash,
            flags: 0,
            expire_ms: 99,
            body: codec::CollectionHeader {
                version: 3,
                count: 2,
                extra: vec![],
            }
            .encode(),
        };
        let d = describe_op(&op(
            cf(Cf::Meta),
            OpKind::Put,
            &encode_meta_key(1, 5, b"h"),
            &hash.encode(),
        ));
        assert_eq!(
            d,
            "put meta db=1 key=h type=hash expire_ms=99 ver=3 count=2"
        );
        let mut field = encode_element_prefix(0, 5, b"h", 3);
        field.extend_from_slice(b"f\x01");
        assert_eq!(
            describe_op(&op(cf(Cf::Hash), OpKind::Delete, &field, b"")),
            "del hash db=0 key=h sub=\"f\\x01\" ver=3"
        );
        let mut item = encode_element_prefix(0, 5, b"l", 4);
        item.extend_from_slice(&(super::super::list::INITIAL_INDEX - 2).to_be_bytes());
        assert_eq!(
            describe_op(&op(cf(Cf::List), OpKind::Put, &item, b"x")),
            "put list db=0 key=l index=-2 ver=4 val=x"
        );
        let mut by_score = encode_element_prefix(0, 5, b"z", 1);
        by_score.extend_from_slice(&codec::encode_score(1.5));
        by_score.extend_from_slice(b"m");
        assert_eq!(
            describe_op(&op(cf(Cf::ZScore), OpKind::Put, &by_score, b"")),
            "put zscore db=0 key=z score=1.5 sub=m ver=1"
        );
        assert_eq!(
            describe_op(&op(
                cf(Cf::Expire),
                OpKind::Put,
                &encode_expire_key(1234, 2, 0, b"k"),
                b""
            )),
            "put expire db=2 key=k deadline_ms=1234"
        );
        assert_eq!(
            describe_op(&op(
                0,
                OpKind::Merge,
                &codec::SysKey::dbsize(0),
                &codec::counter::add(1)
            )),
            "merge default dbsize db=0 +1"
        );
        assert_eq!(
            describe_op(&op(
                cf(Cf::Meta),
                OpKind::DeleteRange,
                &codec::db_lower_bound(4),
                &codec::db_upper_bound(4)
            )),
            "delrange meta db=4 .. db=5"
        );
        assert_eq!(
            describe_op(&note_op("SET")),
            "logdata note time_ms=5 db=0 cmd=SET"
        );
        assert_eq!(
            describe_op(&op(0, OpKind::LogData, b"", b"x y")),
            "logdata blob=\"x y\""
        );
        assert_eq!(describe_op(&op(42, OpKind::Put, b"k", b"")), "put ? raw=k");
    }
}

/// Property tests: the binlog readers take any bytes (a torn, damaged or foreign file)
/// without panicking; encoded batches and WAL files read back exactly; damage can make a WAL
/// yield fewer records, never different ones.
#[cfg(test)]
pub(crate) mod proptests {
    use super::*;
    use crate::util::mutate;
    use proptest::prelude::*;

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(any::<u8>(), 0..max)
    }

    fn put_varint32(out: &mut Vec<u8>, mut v: u32) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn put_slice(out: &mut Vec<u8>, s: &[u8]) {
        put_varint32(out, s.len() as u32);
        out.extend_from_slice(s);
    }

    /// A batch op as a writer may produce it; `explicit_cf` writes the column family even for
    /// the default one (RocksDB's "with cf" tags accept id 0).
    fn op() -> impl Strategy<Value = (BatchOp, bool)> {
        let kind = prop_oneof![
            Just(OpKind::Put),
            Just(OpKind::Delete),
            Just(OpKind::SingleDelete),
            Just(OpKind::Merge),
            Just(OpKind::DeleteRange),
            Just(OpKind::LogData),
        ];
        (
            kind,
            prop_oneof![0u32..12, any::<u32>()],
            bytes(40),
            bytes(40),
            any::<bool>(),
        )
            .prop_map(|(kind, cf, key, value, explicit_cf)| {
                let op = match kind {
                    OpKind::LogData => BatchOp {
                        cf: 0,
                        kind,
                        key: Vec::new(),
                        value,
                    },
                    OpKind::Delete | OpKind::SingleDelete => BatchOp {
                        cf,
                        kind,
                        key,
                        value: Vec::new(),
                    },
                    _ => BatchOp {
                        cf,
                        kind,
                        key,
                        value,
                    },
                };
                (op, explicit_cf)
            })
    }

    fn encode_batch(sequence: u64, ops: &[(BatchOp, bool)]) -> Vec<u8> {
        let count = ops.iter().filter(|(o, _)| o.kind.takes_sequence()).count() as u32;
        let mut out = Vec::new();
        out.extend_from_slice(&sequence.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        for (op, explicit_cf) in ops {
            let with_cf = *explicit_cf || op.cf != 0;
            let tag = match (op.kind, with_cf) {
                (OpKind::Put, false) => 0x1,
                (OpKind::Put, true) => 0x5,
                (OpKind::Delete, false) => 0x0,
                (OpKind::Delete, true) => 0x4,
                (OpKind::SingleDelete, false) => 0x7,
                (OpKind::SingleDelete, true) => 0x8,
                (OpKind::Merge, false) => 0x2,
                (OpKind::Merge, true) => 0x6,
                (OpKind::DeleteRange, false) => 0xF,
                (OpKind::DeleteRange, true) => 0xE,
                (OpKind::LogData, _) => 0x3,
            };
            out.push(tag);
            if op.kind == OpKind::LogData {
                put_slice(&mut out, &op.value);
                continue;
            }
            if with_cf {
                put_varint32(&mut out, op.cf);
            }
            put_slice(&mut out, &op.key);
            if !matches!(op.kind, OpKind::Delete | OpKind::SingleDelete) {
                put_slice(&mut out, &op.value);
            }
        }
        out
    }

    /// Sequence numbers, often at the top of the range where sums overflow.
    fn sequence() -> impl Strategy<Value = u64> {
        prop_oneof![any::<u64>(), (u64::MAX - 16)..=u64::MAX]
    }

    /// Notes mixed among the ops, as the write path and group commits produce them.
    fn ops_with_notes() -> impl Strategy<Value = Vec<(BatchOp, bool)>> {
        let note = (any::<u64>(), any::<u16>(), "[a-z ]{0,12}").prop_map(|(t, db, cmd)| {
            let value = BatchNote {
                time_ms: t,
                db,
                command: cmd,
            }
            .encode();
            (
                BatchOp {
                    cf: 0,
                    kind: OpKind::LogData,
                    key: Vec::new(),
                    value,
                },
                false,
            )
        });
        prop::collection::vec(prop_oneof![3 => op(), 1 => note], 0..12)
    }

    /// Writes `records` as a WAL file does: physical records in 32 KiB blocks, fragmented at
    /// block ends, zero trailers where fewer than a header's bytes are left. With
    /// `log_number`, the recyclable record types carrying it are used.
    pub(crate) fn encode_wal(records: &[Vec<u8>], log_number: Option<u32>) -> Vec<u8> {
        let header_len = if log_number.is_some() {
            RECYCLABLE_HEADER_LEN
        } else {
            HEADER_LEN
        };
        let mut out = Vec::new();
        for record in records {
            let mut rest = &record[..];
            let mut first = true;
            loop {
                let left = WAL_BLOCK_SIZE - out.len() % WAL_BLOCK_SIZE;
                if left < header_len {
                    out.resize(out.len() + left, 0);
                    continue;
                }
                let n = rest.len().min(left - header_len);
                let last = n == rest.len();
                let mut kind: u8 = match (first, last) {
                    (true, true) => 1,
                    (true, false) => 2,
                    (false, false) => 3,
                    (false, true) => 4,
                };
                let mut covered = vec![];
                if let Some(number) = log_number {
                    kind += 4;
                    covered.push(kind);
                    covered.extend_from_slice(&number.to_le_bytes());
                } else {
                    covered.push(kind);
                }
                covered.extend_from_slice(&rest[..n]);
                out.extend_from_slice(&masked_crc32c(&covered).to_le_bytes());
                out.extend_from_slice(&(n as u16).to_le_bytes());
                out.extend_from_slice(&covered);
                rest = &rest[n..];
                first = false;
                if last {
                    break;
                }
            }
        }
        out
    }

    /// Logical records from a few bytes to more than a block, so fragments occur.
    fn wal_records() -> impl Strategy<Value = Vec<Vec<u8>>> {
        let record = prop_oneof![
            4 => bytes(200),
            1 => (1usize..40_000, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
        ];
        prop::collection::vec(record, 0..6)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn parse_batch_never_panics_on_random_bytes(raw in bytes(256)) {
            if let Ok(batch) = parse_batch(&raw) {
                let _ = batch.split_by_notes();
                let _ = batch.last_sequence();
                batch.ops.iter().for_each(|op| { describe_op(op); });
            }
            let _ = batch_commit_time(&raw);
            let _ = BatchNote::decode(&raw);
        }

        #[test]
        fn batches_round_trip(sequence in sequence(), ops in ops_with_notes()) {
            let raw = encode_batch(sequence, &ops);
            let batch = parse_batch(&raw).expect("a well-formed batch parses");
            prop_assert_eq!(batch.sequence, sequence);
            let want: Vec<BatchOp> = ops.into_iter().map(|(o, _)| o).collect();
            prop_assert_eq!(&batch.ops, &want);
            // Splitting at the notes loses no op and counts every data op once.
            let commands = batch.split_by_notes();
            let ops_seen: usize = commands.iter().map(|c| c.ops.len() + usize::from(c.note.is_some())).sum();
            prop_assert!(ops_seen <= want.len());
            let counted: u64 = commands.iter().map(|c| u64::from(c.count)).sum();
            prop_assert_eq!(counted, u64::from(batch.count));
        }

        #[test]
        fn damaged_batches_never_panic(
            sequence in sequence(),
            ops in ops_with_notes(),
            edits in mutate::mutations(6),
        ) {
            let raw = mutate::apply(&encode_batch(sequence, &ops), &edits);
            if let Ok(batch) = parse_batch(&raw) {
                let _ = batch.split_by_notes();
                let _ = batch.last_sequence();
                batch.ops.iter().for_each(|op| { describe_op(op); });
            }
            let _ = batch_commit_time(&raw);
        }

        #[test]
        fn describe_op_never_panics(
            cf in 0u32..16,
            kind in 0usize..6,
            key in bytes(40),
            value in bytes(80),
        ) {
            let kinds = [OpKind::Put, OpKind::Delete, OpKind::SingleDelete, OpKind::Merge,
                OpKind::DeleteRange, OpKind::LogData];
            describe_op(&BatchOp { cf, kind: kinds[kind], key, value });
        }

        #[test]
        fn notes_round_trip(time_ms in any::<u64>(), db in any::<u16>(), command in ".{0,40}") {
            let note = BatchNote { time_ms, db, command };
            let raw = note.encode();
            prop_assert_eq!(BatchNote::decode_time(&raw), Some(time_ms));
            prop_assert_eq!(BatchNote::decode(&raw), Some(note));
        }

        #[test]
        fn read_wal_never_panics_on_random_bytes(
            raw in bytes(512),
            base in prop_oneof![Just(0u64), 0u64..(1 << 40)],
            log_number in prop::option::of(any::<u64>()),
        ) {
            let _ = read_wal_at(&raw, base, log_number);
        }

        #[test]
        fn wal_files_round_trip(records in wal_records(), recyclable in any::<bool>()) {
            let log_number = recyclable.then_some(7u32);
            let raw = encode_wal(&records, log_number);
            let read = read_wal(&raw, log_number.map(u64::from)).expect("uncompressed");
            prop_assert_eq!(read.torn, None);
            prop_assert_eq!(read.end, raw.len() as u64);
            let data: Vec<Vec<u8>> = read.records.into_iter().map(|r| r.data).collect();
            prop_assert_eq!(data, records);
        }

        #[test]
        fn damaged_wal_files_yield_only_records_that_were_written(
            records in wal_records(),
            recyclable in any::<bool>(),
            edits in mutate::mutations(3),
        ) {
            let log_number = recyclable.then_some(7u32);
            let raw = mutate::apply(&encode_wal(&records, log_number), &edits);
            let Ok(read) = read_wal(&raw, log_number.map(u64::from)) else {
                // Only a damaged "set compression" record can claim compression.
                return Ok(());
            };
            prop_assert!(read.end <= raw.len() as u64);
            // Every record returned is one that was written, in order: damage can lose
            // records (a checksum failure ends the log; a header zeroed into "preallocated
            // space" skips the rest of its block, as in RocksDB) but never invents one.
            let mut originals = records.iter();
            for got in &read.records {
                prop_assert!(
                    originals.any(|want| *want == got.data),
                    "a record that was never written came out of a damaged WAL"
                );
            }
        }
    }
}
