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
    /// How many entries a group whose last delivered id is `id` has read, where that follows
    /// from the counters alone (Redis' `streamEstimateDistanceFromFirstEverEntry`); `None`
    /// when deletions make it unknowable.
    pub fn estimate_entries_read(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let length = self.entries.len() as u64;
        if length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        let first = self
            .entries
            .first()
            .map_or(StreamId::MIN, |(first, _)| *first);
        let unfragmented = self.max_deleted_id == StreamId::MIN || self.max_deleted_id < first;
        if unfragmented {
            match id.cmp(&first) {
                std::cmp::Ordering::Less => return Some(self.entries_added - length),
                std::cmp::Ordering::Equal => return Some(self.entries_added - length + 1),
                std::cmp::Ordering::Greater => {}
            }
        }
        None
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(ids: &[(u64, u64)], last: (u64, u64), added: u64) -> StreamValue {
        StreamValue {
            entries: ids
                .iter()
                .map(|&(ms, seq)| (StreamId::new(ms, seq), vec![(b"f".to_vec(), b"v".to_vec())]))
                .collect(),
            last_id: StreamId::new(last.0, last.1),
            entries_added: added,
            ..StreamValue::default()
        }
    }

    #[test]
    fn read_counters_are_estimated_as_redis_does_for_old_files() {
        // Six added, three trimmed away: 4-0..6-0 left.
        let s = stream(&[(4, 0), (5, 0), (6, 0)], (6, 0), 6);
        let at = |ms| s.estimate_entries_read(StreamId::new(ms, 0));
        assert_eq!(at(0), Some(3), "before the first entry");
        assert_eq!(at(4), Some(4), "the first entry");
        assert_eq!(at(5), None, "between first and last");
        assert_eq!(at(6), Some(6), "the last entry");
        assert_eq!(at(7), None, "a future id");
        let mut fragmented = s.clone();
        fragmented.max_deleted_id = StreamId::new(5, 0);
        assert_eq!(fragmented.estimate_entries_read(StreamId::new(4, 0)), None);
        assert_eq!(
            stream(&[], (0, 0), 0).estimate_entries_read(StreamId::MAX),
            Some(0)
        );
        assert_eq!(
            stream(&[], (9, 0), 4).estimate_entries_read(StreamId::new(3, 0)),
            Some(4)
        );
    }
}
