//! A stream as a plain value: its entries, its counters and its consumer groups, in the shape
//! every reader and writer of datasets shares (RDB types 15/19/21, DUMP payloads, the storage,
//! command streams for export).

pub use crate::util::stream_id::StreamId;

/// The fields of one entry, in the order they were added.
pub type StreamFields = Vec<(Vec<u8>, Vec<u8>)>;

/// A whole stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamValue {
    /// Entries in id order.
    pub entries: Vec<(StreamId, StreamFields)>,
    /// The greatest id ever added (XADD's floor), even if that entry was deleted since.
    pub last_id: StreamId,
    /// The greatest id deleted or trimmed away (`0-0` if none).
    pub max_deleted_id: StreamId,
    /// Entries ever added (XINFO's entries-added).
    pub entries_added: u64,
    /// Consumer groups, in any order.
    pub groups: Vec<StreamGroup>,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamGroup {
    pub name: Vec<u8>,
    /// The last id delivered to the group.
    pub last_id: StreamId,
    /// Entries the group has read (XINFO's entries-read); `None` when unknown.
    pub entries_read: Option<u64>,
    /// Delivered, unacknowledged entries, each owned by one consumer.
    pub pending: Vec<PendingEntry>,
    pub consumers: Vec<StreamConsumer>,
}

/// An entry of a group's pending entries list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PendingEntry {
    pub id: StreamId,
    /// The consumer that owns it (one of the group's consumers).
    pub consumer: Vec<u8>,
    /// Unix milliseconds of its last delivery.
    pub delivery_time_ms: u64,
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamConsumer {
    pub name: Vec<u8>,
    /// Unix milliseconds of its last interaction (XINFO's seen-time).
    pub seen_time_ms: u64,
    /// Unix milliseconds of its last successful read or claim (XINFO's active-time); `None`
    /// where the source does not keep it (RDB types 15 and 19).
    pub active_time_ms: Option<u64>,
}

impl StreamValue {
    /// The same stream with groups, their pending entries and consumers sorted, so equal
    /// contents compare equal.
    pub fn normalized(mut self) -> StreamValue {
        self.groups.sort_by(|a, b| a.name.cmp(&b.name));
        for g in &mut self.groups {
            g.pending.sort_by_key(|p| p.id);
            g.consumers.sort_by(|a, b| a.name.cmp(&b.name));
        }
        self
    }
}
