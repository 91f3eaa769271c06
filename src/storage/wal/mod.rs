//! RocksDB's write-ahead log, read without RocksDB: the binlog's bytes.
//!
//! The binlog *is* RocksDB's write-ahead log: every committed write batch is already appended
//! to the WAL, so replication reads it instead of writing a second log, and the write path pays
//! for one log, not two. Positions in the binlog are RocksDB sequence numbers. Old WAL files are
//! kept for a while in `<db-path>/archive/` so replicas that fall behind can catch up.
//!
//! This module knows the formats only; it opens no database, so tools can read the log of a
//! running server (or a copy of its files) without taking RocksDB's lock. Two layers:
//! - [`file`]: how a WAL file frames logical records into blocks, and where the files are;
//! - [`batch`]: what a logical record holds, a RocksDB write batch.
//!
//! What pika itself puts in a batch is described elsewhere: the keys and values in `codec`,
//! the note that opens each batch in `batch_note`; `replication::binlog` reads the log as
//! commands.

pub mod batch;
pub mod file;

#[cfg(test)]
pub(crate) mod proptests;
#[cfg(test)]
mod tests;

pub use batch::{
    batch_ops, first_log_data, parse_batch, BatchOp, BatchOps, OpKind, OpRef, ParsedBatch,
    BATCH_HEADER_LEN,
};
pub use file::{
    read_wal, read_wal_at, read_wal_file, wal_file_number, wal_files, TornKind, TornTail,
    WalRecord, WalRecords, WAL_BLOCK_SIZE,
};
pub(crate) use file::{HEADER_LEN, RECYCLABLE_HEADER_LEN};

/// Why bytes could not be read as a WAL file or a write batch.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The batch ends inside an op or its header.
    #[error("write batch truncated at byte {offset} ({what})")]
    Truncated {
        /// Where the missing bytes start.
        offset: usize,
        /// What was being read.
        what: &'static str,
    },
    /// An op tag this reader does not know (a newer RocksDB feature, or damage).
    #[error("unknown write batch tag 0x{tag:02x} at byte {offset}")]
    UnknownTag {
        /// The tag byte.
        tag: u8,
        /// Where it is in the batch.
        offset: usize,
    },
    /// The header's op count disagrees with the ops found.
    #[error("write batch header counts {header} operations but it holds {found}")]
    CountMismatch {
        /// The count the header gives.
        header: u32,
        /// The data ops found.
        found: u64,
    },
    /// The WAL is compressed, which this reader cannot decode.
    #[error("the WAL is compressed (compression type {0}), which this reader does not support")]
    CompressedWal(u32),
    /// A WAL file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
}
