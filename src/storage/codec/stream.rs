//! Byte layouts of streams (see the layout table in `codec`): the stream's counters in its
//! meta record, entries in [`Cf::Stream`](super::Cf::Stream), and consumer groups, their
//! pending entries lists (PEL) and consumers in [`Cf::StreamGroup`](super::Cf::StreamGroup).
//!
//! Every sub-key of the group family starts with a tag byte, so one stream's groups, PELs and
//! consumers are separate contiguous ranges under the stream's element prefix:
//! ```text
//! 'g' | group                                   -> GroupRecord
//! 'p' | group len: u32 | group | id (16)        -> PendingRecord   (the group's PEL, by id)
//! 'c' | group len: u32 | group | consumer len: u32 | consumer | id (16) -> empty
//!                                                  (each consumer's PEL, by id)
//! 'k' | group len: u32 | group | consumer       -> ConsumerRecord
//! ```
//! Group names sort as bytes under 'g' (XINFO GROUPS lists them in name order, as Redis' radix
//! tree does); consumers sort by name within their group.

use crate::util::stream_id::StreamId;

/// Entries read unknown (Redis' `SCG_INVALID_ENTRIES_READ`).
pub const ENTRIES_READ_UNKNOWN: i64 = -1;

fn u64_at(raw: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(raw.get(at..at + 8)?.try_into().ok()?))
}

fn id_at(raw: &[u8], at: usize) -> Option<StreamId> {
    StreamId::from_be_bytes(raw.get(at..at + 16)?)
}

/// The stream counters kept after the collection header in the meta record
/// (`| last_id | max_deleted_id | entries_added | groups | tail_node | tail_entries |
/// tail_bytes | tail_last_id |`, ids 16 bytes, the rest u64 BE). The element count of the header is the
/// stream's length; its first id is found by a seek.
///
/// `tail_*` follow the node Redis would be filling (a listpack of at most
/// `stream-node-max-entries` entries and `stream-node-max-bytes` bytes): entries remember their
/// node, so that `~` trimming removes what Redis would remove (whole nodes only). A closed
/// node's last id (deleted entries included, as a listpack keeps them) is kept under 'n'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamCounters {
    pub last_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    pub groups: u64,
    pub tail_node: u64,
    pub tail_entries: u64,
    pub tail_bytes: u64,
    /// The id last appended to the tail node.
    pub tail_last_id: StreamId,
}

impl StreamCounters {
    /// Length of the encoding.
    pub const LEN: usize = 16 + 16 + 8 * 5 + 16;

    /// Length of the part that describes the stream's value (ids and counts), without the
    /// node bookkeeping (DEBUG DIGEST compares values).
    pub const VALUE_LEN: usize = 16 + 16 + 8 * 2;

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::LEN);
        out.extend_from_slice(&self.last_id.to_be_bytes());
        out.extend_from_slice(&self.max_deleted_id.to_be_bytes());
        for v in [
            self.entries_added,
            self.groups,
            self.tail_node,
            self.tail_entries,
            self.tail_bytes,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&self.tail_last_id.to_be_bytes());
        out
    }

    /// `None` when `raw` is too short.
    pub fn decode(raw: &[u8]) -> Option<StreamCounters> {
        Some(StreamCounters {
            last_id: id_at(raw, 0)?,
            max_deleted_id: id_at(raw, 16)?,
            entries_added: u64_at(raw, 32)?,
            groups: u64_at(raw, 40)?,
            tail_node: u64_at(raw, 48)?,
            tail_entries: u64_at(raw, 56)?,
            tail_bytes: u64_at(raw, 64)?,
            tail_last_id: id_at(raw, 72)?,
        })
    }
}

/// An entry value: `| node: u64 | pairs: u32 | (len: u32 | bytes) per field and value |`.
pub fn encode_entry(node: u64, fields: &[(&[u8], &[u8])]) -> Vec<u8> {
    let size: usize = fields.iter().map(|(f, v)| 8 + f.len() + v.len()).sum();
    let mut out = Vec::with_capacity(12 + size);
    out.extend_from_slice(&node.to_be_bytes());
    out.extend_from_slice(&(fields.len() as u32).to_be_bytes());
    for (f, v) in fields {
        for s in [f, v] {
            out.extend_from_slice(&(s.len() as u32).to_be_bytes());
            out.extend_from_slice(s);
        }
    }
    out
}

/// The node an encoded entry belongs to.
pub fn entry_node(raw: &[u8]) -> Option<u64> {
    u64_at(raw, 0)
}

/// The field/value pairs of an entry, in the order they were added.
pub type EntryFields = Vec<(Vec<u8>, Vec<u8>)>;

/// Decodes an entry value into its node and its field/value pairs.
pub fn decode_entry(raw: &[u8]) -> Option<(u64, EntryFields)> {
    let node = u64_at(raw, 0)?;
    let n = u32::from_be_bytes(raw.get(8..12)?.try_into().ok()?) as usize;
    let mut at = 12;
    let mut take = || -> Option<Vec<u8>> {
        let len = u32::from_be_bytes(raw.get(at..at + 4)?.try_into().ok()?) as usize;
        let s = raw.get(at + 4..(at + 4).checked_add(len)?)?.to_vec();
        at += 4 + len;
        Some(s)
    };
    let mut fields = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let f = take()?;
        let v = take()?;
        fields.push((f, v));
    }
    Some((node, fields))
}

/// Tags of the sub-keys in the group family.
pub mod tag {
    pub const GROUP: u8 = b'g';
    pub const PENDING: u8 = b'p';
    pub const CONSUMER_PENDING: u8 = b'c';
    pub const CONSUMER: u8 = b'k';
    pub const NODE: u8 = b'n';
}

/// Sub-key of a closed node's record (its last id, 16 bytes).
pub fn node_key(node: u64) -> [u8; 9] {
    let mut out = [0u8; 9];
    out[0] = tag::NODE;
    out[1..].copy_from_slice(&node.to_be_bytes());
    out
}

fn with_group(tag: u8, group: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + group.len() + 24);
    out.push(tag);
    out.extend_from_slice(&(group.len() as u32).to_be_bytes());
    out.extend_from_slice(group);
    out
}

/// Sub-key of a group record.
pub fn group_key(group: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + group.len());
    out.push(tag::GROUP);
    out.extend_from_slice(group);
    out
}

/// Prefix of a group's PEL; append an id for one entry.
pub fn pending_prefix(group: &[u8]) -> Vec<u8> {
    with_group(tag::PENDING, group)
}

/// Sub-key of one PEL entry.
pub fn pending_key(group: &[u8], id: StreamId) -> Vec<u8> {
    let mut out = pending_prefix(group);
    out.extend_from_slice(&id.to_be_bytes());
    out
}

/// Prefix of a consumer's PEL index; append an id for one entry.
pub fn consumer_pending_prefix(group: &[u8], consumer: &[u8]) -> Vec<u8> {
    let mut out = with_group(tag::CONSUMER_PENDING, group);
    out.extend_from_slice(&(consumer.len() as u32).to_be_bytes());
    out.extend_from_slice(consumer);
    out
}

/// Sub-key of one entry in a consumer's PEL index.
pub fn consumer_pending_key(group: &[u8], consumer: &[u8], id: StreamId) -> Vec<u8> {
    let mut out = consumer_pending_prefix(group, consumer);
    out.extend_from_slice(&id.to_be_bytes());
    out
}

/// Prefix of every consumer-PEL index entry of a group.
pub fn group_consumer_pending_prefix(group: &[u8]) -> Vec<u8> {
    with_group(tag::CONSUMER_PENDING, group)
}

/// Prefix of a group's consumer records; append a name for one consumer.
pub fn consumer_prefix(group: &[u8]) -> Vec<u8> {
    with_group(tag::CONSUMER, group)
}

/// Sub-key of a consumer record.
pub fn consumer_key(group: &[u8], consumer: &[u8]) -> Vec<u8> {
    let mut out = consumer_prefix(group);
    out.extend_from_slice(consumer);
    out
}

/// A group record: `| last_id (16) | entries_read: i64 | consumers: u64 | pending: u64 |`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupRecord {
    pub last_id: StreamId,
    /// [`ENTRIES_READ_UNKNOWN`] when unknown.
    pub entries_read: i64,
    pub consumers: u64,
    pub pending: u64,
}

impl GroupRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40);
        out.extend_from_slice(&self.last_id.to_be_bytes());
        out.extend_from_slice(&self.entries_read.to_be_bytes());
        out.extend_from_slice(&self.consumers.to_be_bytes());
        out.extend_from_slice(&self.pending.to_be_bytes());
        out
    }

    pub fn decode(raw: &[u8]) -> Option<GroupRecord> {
        Some(GroupRecord {
            last_id: id_at(raw, 0)?,
            entries_read: u64_at(raw, 16)? as i64,
            consumers: u64_at(raw, 24)?,
            pending: u64_at(raw, 32)?,
        })
    }
}

/// A PEL entry: `| delivery_time_ms: u64 | delivery_count: u64 | consumer |`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PendingRecord {
    pub delivery_time_ms: u64,
    pub delivery_count: u64,
    pub consumer: Vec<u8>,
}

impl PendingRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.consumer.len());
        out.extend_from_slice(&self.delivery_time_ms.to_be_bytes());
        out.extend_from_slice(&self.delivery_count.to_be_bytes());
        out.extend_from_slice(&self.consumer);
        out
    }

    pub fn decode(raw: &[u8]) -> Option<PendingRecord> {
        Some(PendingRecord {
            delivery_time_ms: u64_at(raw, 0)?,
            delivery_count: u64_at(raw, 8)?,
            consumer: raw.get(16..)?.to_vec(),
        })
    }
}

/// A consumer record: `| seen_time_ms: u64 | active_time_ms: u64 | pending: u64 |`
/// (active time 0 = never active).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsumerRecord {
    pub seen_time_ms: u64,
    pub active_time_ms: u64,
    pub pending: u64,
}

impl ConsumerRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        for v in [self.seen_time_ms, self.active_time_ms, self.pending] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out
    }

    pub fn decode(raw: &[u8]) -> Option<ConsumerRecord> {
        Some(ConsumerRecord {
            seen_time_ms: u64_at(raw, 0)?,
            active_time_ms: u64_at(raw, 8)?,
            pending: u64_at(raw, 16)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_round_trip() {
        let c = StreamCounters {
            last_id: StreamId::new(5, 6),
            max_deleted_id: StreamId::new(1, 2),
            entries_added: 7,
            groups: 2,
            tail_node: 3,
            tail_entries: 99,
            tail_bytes: 1234,
            tail_last_id: StreamId::new(5, 1),
        };
        assert_eq!(c.encode().len(), StreamCounters::LEN);
        assert_eq!(StreamCounters::decode(&c.encode()), Some(c));
        assert_eq!(StreamCounters::decode(&[0; 10]), None);
    }

    #[test]
    fn entries_round_trip() {
        let raw = encode_entry(4, &[(b"f", b"v"), (b"", b"xyz")]);
        let (node, fields) = decode_entry(&raw).expect("decodes");
        assert_eq!(node, 4);
        assert_eq!(entry_node(&raw), Some(4));
        assert_eq!(
            fields,
            vec![
                (b"f".to_vec(), b"v".to_vec()),
                (b"".to_vec(), b"xyz".to_vec())
            ]
        );
        assert_eq!(decode_entry(&raw[..raw.len() - 1]), None);
    }

    #[test]
    fn records_round_trip() {
        let g = GroupRecord {
            last_id: StreamId::new(1, 1),
            entries_read: ENTRIES_READ_UNKNOWN,
            consumers: 3,
            pending: 9,
        };
        assert_eq!(GroupRecord::decode(&g.encode()), Some(g));
        let p = PendingRecord {
            delivery_time_ms: 10,
            delivery_count: 2,
            consumer: b"alice".to_vec(),
        };
        assert_eq!(PendingRecord::decode(&p.encode()), Some(p));
        let c = ConsumerRecord {
            seen_time_ms: 1,
            active_time_ms: 2,
            pending: 3,
        };
        assert_eq!(ConsumerRecord::decode(&c.encode()), Some(c));
    }

    #[test]
    fn keys_of_one_group_stay_apart_from_others() {
        // "ab"'s PEL never falls inside the range of "a".
        let a = pending_prefix(b"a");
        let ab = pending_key(b"ab", StreamId::new(1, 1));
        assert!(!ab.starts_with(&a));
        assert!(pending_key(b"a", StreamId::new(1, 2)) < pending_key(b"a", StreamId::new(2, 0)));
        let c1 = consumer_pending_prefix(b"g", b"x");
        assert!(!consumer_pending_key(b"g", b"xy", StreamId::MIN).starts_with(&c1));
        assert!(group_key(b"a") < group_key(b"b"));
        assert!(consumer_key(b"g", b"a") < consumer_key(b"g", b"b"));
    }
}
