//! The note the write path puts first in every batch: which command wrote it, in which
//! database, when, and in which EXEC transaction.
//!
//! It goes in as a log-data op (see `wal::batch`), what a human (or a replica's log) wants to
//! know about the command that made the batch. It must come first: a WAL record that group
//! commit merged from several batches is cut back into commands at each note
//! (`replication::binlog::split_by_notes`). Log data stays in the WAL only: it is never applied
//! to memtables and consumes no sequence number.
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
//! The layout lives in storage because the single write path writes it; replication only
//! reads it.

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
        let mut out = Vec::with_capacity(Self::FIXED_LEN + command.len() + Self::MARK_LEN);
        Self::encode_marked_into(&mut out, time_ms, db, command, mark);
        out
    }

    /// [`BatchNote::encode_marked`] appending to `out`, so the write path reuses one buffer.
    pub fn encode_marked_into(
        out: &mut Vec<u8>,
        time_ms: u64,
        db: u16,
        command: &str,
        mark: Option<TransactionMark>,
    ) {
        let mut len = command.len().min(u16::MAX as usize);
        while !command.is_char_boundary(len) {
            len -= 1;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn notes_round_trip(time_ms in any::<u64>(), db in any::<u16>(), command in ".{0,40}") {
            let note = BatchNote { time_ms, db, command };
            let raw = note.encode();
            prop_assert_eq!(BatchNote::decode_time(&raw), Some(time_ms));
            prop_assert_eq!(BatchNote::decode(&raw), Some(note));
        }

        #[test]
        fn decoding_never_panics_on_random_bytes(raw in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = BatchNote::decode(&raw);
            let _ = BatchNote::decode_time(&raw);
            let _ = BatchNote::decode_transaction(&raw);
        }
    }
}
