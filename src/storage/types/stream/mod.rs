//! The stream type (the [`Streams`] view): entries by id, consumer groups with their pending
//! entries lists (PEL) and consumers, all under one collection header (layouts in
//! `codec::stream`).
//!
//! - `entries`: XADD, ranges, XDEL, trimming, XSETID;
//! - `groups`: group records (XGROUP, lag);
//! - `pel`: reading through a group, the pending entries lists (XACK, XPENDING, XCLAIM,
//!   XAUTOCLAIM);
//! - `consumers`: consumer records;
//! - `export`: the whole stream as a [`StreamValue`](crate::dataset::stream::StreamValue).
//!
//! Every operation costs what it touches: appends and point operations are O(log n) seeks,
//! ranges are O(range), a group's or consumer's PEL is its own key range. Writers run under
//! the dispatcher's key lock and commit one batch. An empty stream stays (unlike the other
//! collections): its counters (last id, entries added) must survive.

mod consumers;
mod entries;
mod export;
mod groups;
mod pel;

pub use entries::{AddId, AddOutcome, SetIdOutcome, TrimSpec, TrimStrategy};
pub use groups::{Found, GroupInfo, Missing};
pub use pel::{
    AutoClaimed, ClaimOptions, Claimed, PendingItem, PendingQuery, PendingSummary, ReadFrom,
};

use super::Streams;
use crate::storage::codec::stream::StreamCounters;
use crate::storage::codec::{Cf, DataType};
use crate::storage::collection::{elements_between_in, Collection, ElementCursor};
use crate::storage::engine::ReadView;
use crate::storage::write::WriteTxn;
use crate::storage::{Storage, StorageError};
use crate::util::stream_id::StreamId;

/// The fields of one entry, in the order they were added.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// One entry: its id and fields.
pub type Entry = (StreamId, Fields);

/// A stream loaded for reading or writing: its collection header and counters.
#[derive(Debug, Clone)]
pub struct StreamState {
    pub c: Collection,
    pub counters: StreamCounters,
}

impl StreamState {
    pub(super) fn new(c: Collection) -> Result<StreamState, StorageError> {
        let counters = if c.existed {
            StreamCounters::decode(&c.header.extra).ok_or_else(|| {
                StorageError::Corrupt(format!(
                    "stream counters of {:?}",
                    String::from_utf8_lossy(c.state.key())
                ))
            })?
        } else {
            StreamCounters::default()
        };
        Ok(StreamState { c, counters })
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.c.header.count
    }

    /// True when the stream holds no entry (it may still have counters and groups).
    pub fn is_empty(&self) -> bool {
        self.c.header.count == 0
    }

    /// The full element key of a sub-key.
    pub(super) fn key(&self, sub: &[u8]) -> Vec<u8> {
        self.c.element_key(sub)
    }
}

/// The exclusive upper sub-key bound just past `id` (ids are exactly 16 bytes).
pub(super) fn after(id: StreamId) -> [u8; 17] {
    let mut out = [0u8; 17];
    out[..16].copy_from_slice(&id.to_be_bytes());
    out
}

impl WriteTxn<'_> {
    /// Stores a stream's header and counters; an empty stream is kept.
    pub(super) fn store_stream(&mut self, s: &mut StreamState) {
        s.c.header.extra = s.counters.encode();
        self.put(&s.c.state, &s.c.meta());
    }
}

impl Storage {
    /// The live stream at `key` (None when absent, WrongType for another type).
    pub(in crate::storage) fn stream_read(
        &self,
        db: usize,
        key: &[u8],
    ) -> Result<Option<StreamState>, StorageError> {
        match self.read_collection(db, key, DataType::Stream)? {
            Some(c) => Ok(Some(StreamState::new(c)?)),
            None => Ok(None),
        }
    }

    /// A cursor over the entries of `s` with ids in `[start, end]`, forward or backward.
    pub(super) fn entry_cursor(
        &self,
        s: &StreamState,
        start: StreamId,
        end: StreamId,
        reverse: bool,
    ) -> ElementCursor<'_> {
        elements_between_in(
            &ReadView::Live(&self.engine),
            Cf::Stream,
            &s.c,
            &start.to_be_bytes(),
            &after(end),
            reverse,
        )
    }

    /// The first (or with `last`, the last) entry id of `s`.
    pub(super) fn edge_id(
        &self,
        s: &StreamState,
        last: bool,
    ) -> Result<Option<StreamId>, StorageError> {
        if s.is_empty() {
            return Ok(None);
        }
        let cur = self.entry_cursor(s, StreamId::MIN, StreamId::MAX, last);
        let id = cur
            .current()
            .and_then(|(sub, _)| StreamId::from_be_bytes(sub));
        cur.status()?;
        Ok(id)
    }
}

impl Streams<'_> {
    /// The live stream at `key` for a read command, counting the keyspace hit or miss.
    pub fn read(&self, key: &[u8]) -> Result<Option<StreamState>, StorageError> {
        let s = self.stream_read(self.db, key)?;
        self.count_lookup(s.is_some());
        Ok(s)
    }

    /// For writers: the live stream, or `None` when absent.
    pub(super) fn for_write(&self, key: &[u8]) -> Result<Option<StreamState>, StorageError> {
        self.stream_read(self.db, key)
    }

    /// For writers: the live stream, or a new empty one.
    pub(super) fn for_write_or_new(&self, key: &[u8]) -> Result<StreamState, StorageError> {
        StreamState::new(self.write_collection(self.db, key, DataType::Stream)?)
    }

    /// XLEN.
    pub fn len(&self, key: &[u8]) -> Result<u64, StorageError> {
        Ok(self.read(key)?.map_or(0, |s| s.len()))
    }

    /// The id of the first entry (`None` when the stream is empty).
    pub fn first_id(&self, s: &StreamState) -> Result<Option<StreamId>, StorageError> {
        self.edge_id(s, false)
    }

    /// The id of the last entry (`None` when the stream is empty).
    pub fn last_entry_id(&self, s: &StreamState) -> Result<Option<StreamId>, StorageError> {
        self.edge_id(s, true)
    }
}

impl Streams<'_> {
    /// The node of the first entry (XINFO's radix tree figures).
    pub fn first_node(&self, s: &StreamState) -> Result<Option<u64>, StorageError> {
        let cur = self.entry_cursor(s, StreamId::MIN, StreamId::MAX, false);
        let node = cur
            .current()
            .and_then(|(_, v)| crate::storage::codec::stream::entry_node(v));
        cur.status()?;
        Ok(node)
    }
}

#[cfg(test)]
mod tests {
    use crate::dataset::stream::StreamValue;
    use crate::storage::codec::Cf;
    use crate::storage::engine::EngineOptions;
    use crate::storage::types::stream::{AddId, AddOutcome, ReadFrom};
    use crate::storage::types::Writer;
    use crate::storage::Storage;
    use crate::util::stream_id::StreamId;

    fn open(dir: &std::path::Path) -> Storage {
        Storage::open(dir, 16, &EngineOptions::default()).expect("open storage")
    }

    fn filled(s: &Storage) {
        let v = s.at(0, Writer::INTERNAL).stream();
        for i in 1..=5u64 {
            let got = v
                .add(
                    b"s",
                    AddId::Explicit(StreamId::new(i, 0)),
                    &[(b"f", b"v")],
                    false,
                    None,
                )
                .unwrap();
            assert_eq!(
                got,
                AddOutcome::Added {
                    id: StreamId::new(i, 0),
                    trimmed: 0
                }
            );
        }
        assert_eq!(
            v.create_group(b"s", b"g", Some(StreamId::MIN), false, 0)
                .unwrap(),
            Ok(true)
        );
        let read = v
            .read_group(b"s", b"g", b"alice", ReadFrom::New, 3, false)
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(read.len(), 3);
        assert_eq!(v.delete(b"s", &[StreamId::new(2, 0)]).unwrap(), 1);
    }

    fn raw_count(s: &Storage, cf: Cf) -> usize {
        let mut cur = s.engine.range(cf, b"", None);
        let mut n = 0;
        while cur.current().is_some() {
            n += 1;
            cur.advance();
        }
        n
    }

    #[test]
    fn export_then_import_gives_the_same_stream() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = open(dir.path());
        filled(&s);
        let v = s.at(0, Writer::INTERNAL).stream();
        let exported: StreamValue = v.export_key(b"s").unwrap().expect("a stream");
        assert_eq!(exported.entries.len(), 4);
        assert_eq!(exported.groups[0].pending.len(), 3);
        assert_eq!(exported.max_deleted_id, StreamId::new(2, 0));
        let state = s.load(0, b"copy").unwrap();
        let mut txn = s.at(0, Writer::INTERNAL).txn();
        v.import(&mut txn, state, &exported, 0).unwrap();
        txn.commit().unwrap();
        let again = v.export_key(b"copy").unwrap().expect("imported");
        assert_eq!(again.normalized(), exported.normalized());
    }

    #[test]
    fn compaction_drops_the_entries_and_groups_of_a_deleted_stream() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = open(dir.path());
        filled(&s);
        assert_eq!(raw_count(&s, Cf::Stream), 4);
        assert!(raw_count(&s, Cf::StreamGroup) > 0);
        assert_eq!(s.at(0, Writer::INTERNAL).keys().delete(&[b"s"]).unwrap(), 1);
        s.compact(None, None).unwrap();
        assert_eq!(raw_count(&s, Cf::Stream), 0);
        assert_eq!(raw_count(&s, Cf::StreamGroup), 0);
    }
}
