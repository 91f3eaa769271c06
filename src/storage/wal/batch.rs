//! Logical records of the WAL: RocksDB write batches, decoded without RocksDB.
//!
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
//! Ops without a cf id belong to the default column family (id 0; `codec::Cf` says which id
//! the others have). The ops that change data take consecutive sequence numbers from
//! `sequence`; `count` counts them.
//!
//! When several threads commit at once RocksDB may write their batches as **one** WAL record
//! (group commit): the batches' ops concatenated, with the first sequence number and the sum
//! of the counts. The note pika puts first in each batch (`storage::batch_note`) lets a reader
//! cut such a record back into commands (`replication::binlog::split_by_notes`).

use super::FormatError;

/// Size of the batch header (sequence and count).
pub const BATCH_HEADER_LEN: usize = 12;

/// What a batch op does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// Stores a value under a key.
    Put,
    /// Removes a key.
    Delete,
    /// Removes a key written once (RocksDB's single delete).
    SingleDelete,
    /// Adds a merge operand to a key.
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
    /// Column family id (see `codec::Cf::from_index`).
    pub cf: u32,
    /// What the op does.
    pub kind: OpKind,
    /// The key written (empty for log data).
    pub key: Vec<u8>,
    /// Value, merge operand, end key of a range delete, or the blob of log data.
    pub value: Vec<u8>,
}

impl BatchOp {
    /// An op of `kind` on `key` in column family `cf`, with `value`.
    pub fn new(cf: u32, kind: OpKind, key: &[u8], value: &[u8]) -> BatchOp {
        BatchOp {
            cf,
            kind,
            key: key.to_vec(),
            value: value.to_vec(),
        }
    }
}

/// A decoded write batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedBatch {
    /// Sequence number of the first data op.
    pub sequence: u64,
    /// Number of data ops (log data excluded), as the header says.
    pub count: u32,
    /// The ops, log data included, in batch order.
    pub ops: Vec<BatchOp>,
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

/// One op as it lies in a batch's bytes, borrowed (log data: `cf` 0, `key` empty, the blob
/// in `value`); see [`BatchOp`] for the fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpRef<'a> {
    /// Column family id.
    pub cf: u32,
    /// What the op does.
    pub kind: OpKind,
    /// The key written (empty for log data).
    pub key: &'a [u8],
    /// Value, merge operand, end key of a range delete, or the blob of log data.
    pub value: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// The op at the cursor (past the header), `None` at the end of the batch.
    fn next_op(&mut self) -> Result<Option<OpRef<'a>>, FormatError> {
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
                    return Ok(Some(OpRef {
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
            return Ok(Some(OpRef {
                cf,
                kind,
                key,
                value,
            }));
        }
    }
}

/// The ops of a batch read in place, without copying them (see [`batch_ops`]).
pub struct BatchOps<'a> {
    cursor: Cursor<'a>,
}

impl<'a> Iterator for BatchOps<'a> {
    type Item = Result<OpRef<'a>, FormatError>;

    /// The next op; after an error, nothing more.
    fn next(&mut self) -> Option<Self::Item> {
        match self.cursor.next_op() {
            Ok(op) => op.map(Ok),
            Err(e) => {
                self.cursor.pos = self.cursor.data.len();
                Some(Err(e))
            }
        }
    }
}

/// The ops of batch `data` (a WAL record), read in place. Neither the header's count nor
/// its presence is checked: a batch shorter than a header has no ops.
pub fn batch_ops(data: &[u8]) -> BatchOps<'_> {
    BatchOps {
        cursor: Cursor {
            data,
            pos: BATCH_HEADER_LEN.min(data.len()),
        },
    }
}

/// The blob of batch `data`'s first op when that op is log data, without reading the rest.
pub fn first_log_data(data: &[u8]) -> Option<&[u8]> {
    if data.get(BATCH_HEADER_LEN) != Some(&0x3) {
        return None;
    }
    let mut c = Cursor {
        data,
        pos: BATCH_HEADER_LEN + 1,
    };
    c.slice("log data").ok()
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            parsed.ops,
            vec![BatchOp::new(300, OpKind::Put, &[b'k'; 300], b"")]
        );
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

    #[test]
    fn batch_ops_reads_in_place_and_stops_at_damage() {
        let mut data = vec![0u8; 12];
        data[8] = 1;
        data.extend_from_slice(&[0x3, 2, b'n', b'o', 0x1, 1, b'k', 1, b'v', 0x16]);
        let ops: Vec<_> = batch_ops(&data).collect();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[0].as_ref().ok().map(|o| o.value), Some(&b"no"[..]));
        assert_eq!(ops[1].as_ref().ok().map(|o| o.key), Some(&b"k"[..]));
        assert!(ops[2].is_err());
        assert_eq!(first_log_data(&data), Some(&b"no"[..]));
        assert_eq!(first_log_data(&data[..14]), None);
        assert_eq!(batch_ops(b"short").count(), 0);
    }
}
