//! Stream entries: XADD with its id rules and trimming, ranges, XDEL, XTRIM, XSETID.
//!
//! Trimming follows Redis' node structure: each entry remembers the node (listpack) Redis
//! would have put it in, so `~` removes whole nodes only, and reaches the same lengths as
//! Redis does.

use super::{Entry, StreamState, Streams};
use crate::storage::codec::stream::{decode_entry, encode_entry, entry_node, node_key};
use crate::storage::codec::Cf;
use crate::storage::collection::EncodingLimits;
use crate::storage::write::WriteTxn;
use crate::storage::StorageError;
use crate::util::stream_id::StreamId;

/// The id XADD asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddId {
    /// `*`: the current time, or the next sequence of the last id.
    Auto,
    /// `<ms>-*`: the next free sequence in that millisecond.
    AutoSeq(u64),
    /// A full id.
    Explicit(StreamId),
}

/// What XADD did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// The entry's id, and how many entries the trim options then removed.
    Added { id: StreamId, trimmed: u64 },
    /// NOMKSTREAM and no stream.
    NoStream,
    /// The id is not above the stream's last id.
    IdTooSmall,
    /// The last id is the greatest possible one.
    Exhausted,
}

/// What XSETID did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetIdOutcome {
    Done,
    NoKey,
    /// The id is below the last entry's.
    IdTooSmall,
    /// ENTRIESADDED is below the stream's length.
    EntriesAddedTooSmall,
}

/// How to trim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimStrategy {
    MaxLen(u64),
    MinId(StreamId),
}

/// A trim request: strategy, `~` and the LIMIT on entries removed (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrimSpec {
    pub strategy: TrimStrategy,
    pub approx: bool,
    pub limit: u64,
}

/// Redis' estimate of a listpack's size for an entry of these fields.
fn entry_bytes(fields: &[(&[u8], &[u8])]) -> u64 {
    fields
        .iter()
        .map(|(f, v)| f.len() as u64 + v.len() as u64 + 4)
        .sum::<u64>()
        + 6
}

impl Streams<'_> {
    /// XADD: appends an entry (creating the stream unless `no_create`), then trims.
    pub fn add(
        &self,
        key: &[u8],
        id: AddId,
        fields: &[(&[u8], &[u8])],
        no_create: bool,
        trim: Option<TrimSpec>,
    ) -> Result<AddOutcome, StorageError> {
        let mut s = if no_create {
            match self.for_write(key)? {
                Some(s) => s,
                None => return Ok(AddOutcome::NoStream),
            }
        } else {
            self.for_write_or_new(key)?
        };
        let last = s.counters.last_id;
        if last == StreamId::MAX {
            return Ok(AddOutcome::Exhausted);
        }
        let id = match id {
            AddId::Auto => {
                let ms = crate::util::clock::unix_ms();
                if ms > last.ms {
                    StreamId::new(ms, 0)
                } else {
                    match last.successor() {
                        Some(id) => id,
                        None => return Ok(AddOutcome::Exhausted),
                    }
                }
            }
            AddId::AutoSeq(ms) if ms == last.ms => match last.seq.checked_add(1) {
                Some(seq) => StreamId::new(ms, seq),
                None => return Ok(AddOutcome::IdTooSmall),
            },
            AddId::AutoSeq(ms) => StreamId::new(ms, 0),
            AddId::Explicit(id) => id,
        };
        if id <= last {
            return Ok(AddOutcome::IdTooSmall);
        }
        let mut txn = self.txn();
        self.place_in_node(&mut txn, &mut s, id, fields);
        txn.put_element(
            Cf::Stream,
            &s.c,
            &id.to_be_bytes(),
            &encode_entry(s.counters.tail_node, fields),
        );
        s.c.header.count += 1;
        s.counters.entries_added += 1;
        s.counters.last_id = id;
        txn.store_stream(&mut s);
        txn.commit()?;
        if let Some(spec) = trim {
            // A second batch: the trim walks the entries as stored, the new one included,
            // against the key state the first batch left.
            let Some(mut s) = self.for_write(key)? else {
                return Ok(AddOutcome::Added { id, trimmed: 0 });
            };
            let mut txn = self.txn();
            let trimmed = self.trim_in(&mut s, spec, &mut txn)?;
            if trimmed > 0 {
                txn.store_stream(&mut s);
            }
            txn.commit()?;
            return Ok(AddOutcome::Added { id, trimmed });
        }
        Ok(AddOutcome::Added { id, trimmed: 0 })
    }

    /// Puts entry `id` in the tail node, or starts a new node when the tail is full
    /// (`stream-node-max-entries`, `stream-node-max-bytes`), recording the closed node's last
    /// id.
    pub(super) fn place_in_node(
        &self,
        txn: &mut WriteTxn<'_>,
        s: &mut StreamState,
        id: StreamId,
        fields: &[(&[u8], &[u8])],
    ) {
        let bytes = entry_bytes(fields);
        if s.counters.tail_entries > 0 {
            let max_bytes = match EncodingLimits::get(&self.limits.stream_node_max_bytes) {
                0 => 1 << 30,
                b => b.min(1 << 30),
            };
            let max_entries = EncodingLimits::get(&self.limits.stream_node_max_entries);
            let c = &s.counters;
            let full = c.tail_bytes + bytes >= max_bytes
                || (max_entries > 0 && c.tail_entries >= max_entries);
            if full {
                txn.put_element(
                    Cf::StreamGroup,
                    &s.c,
                    &node_key(c.tail_node),
                    &c.tail_last_id.to_be_bytes(),
                );
                s.counters.tail_node += 1;
                s.counters.tail_entries = 0;
                s.counters.tail_bytes = 0;
            }
        }
        let c = &mut s.counters;
        if c.tail_entries == 0 {
            // A node starts with its master entry (the fields of its first entry).
            c.tail_bytes = 16 + bytes;
        }
        c.tail_entries += 1;
        c.tail_bytes += bytes;
        c.tail_last_id = id;
    }

    /// The last id of `node`, deleted entries included (a listpack keeps them until the
    /// node goes); `live_last` when unknown.
    fn node_last_id(
        &self,
        s: &StreamState,
        node: Option<u64>,
        live_last: StreamId,
    ) -> Result<StreamId, StorageError> {
        let Some(node) = node else {
            return Ok(live_last);
        };
        if node == s.counters.tail_node && s.counters.tail_entries > 0 {
            return Ok(s.counters.tail_last_id.max(live_last));
        }
        Ok(self
            .engine
            .get(Cf::StreamGroup, &s.key(&node_key(node)))?
            .and_then(|raw| StreamId::from_be_bytes(&raw))
            .map_or(live_last, |id| id.max(live_last)))
    }

    /// Starts a new node for the next entry when the tail node lost all its entries (Redis
    /// frees an emptied node).
    fn retire_empty_tail(
        &self,
        s: &mut StreamState,
        deleted_nodes: &[u64],
    ) -> Result<(), StorageError> {
        if s.counters.tail_entries == 0 || !deleted_nodes.contains(&s.counters.tail_node) {
            return Ok(());
        }
        let last = self.last_entry_id(s)?;
        let tail_alive = match last {
            Some(id) => {
                self.engine
                    .get_with(Cf::Stream, &s.key(&id.to_be_bytes()), entry_node)?
                    .flatten()
                    == Some(s.counters.tail_node)
            }
            None => false,
        };
        if !tail_alive {
            s.counters.tail_node += 1;
            s.counters.tail_entries = 0;
            s.counters.tail_bytes = 0;
        }
        Ok(())
    }

    /// Entries of `s` with ids in `[start, end]`, at most `count` (0: all), ascending or, with
    /// `reverse`, descending.
    pub fn range_of(
        &self,
        s: &StreamState,
        start: StreamId,
        end: StreamId,
        count: usize,
        reverse: bool,
    ) -> Result<Vec<Entry>, StorageError> {
        let mut out = Vec::new();
        if start > end || s.is_empty() {
            return Ok(out);
        }
        let mut cur = self.entry_cursor(s, start, end, reverse);
        while let Some((sub, value)) = cur.current() {
            if count != 0 && out.len() >= count {
                break;
            }
            if let (Some(id), Some((_, fields))) =
                (StreamId::from_be_bytes(sub), decode_entry(value))
            {
                out.push((id, fields));
            }
            cur.advance();
        }
        cur.status()?;
        Ok(out)
    }

    /// XRANGE/XREVRANGE: `None` when the key is missing.
    pub fn range(
        &self,
        key: &[u8],
        start: StreamId,
        end: StreamId,
        count: usize,
        reverse: bool,
    ) -> Result<Option<Vec<Entry>>, StorageError> {
        match self.read(key)? {
            Some(s) => Ok(Some(self.range_of(&s, start, end, count, reverse)?)),
            None => Ok(None),
        }
    }

    /// One entry's fields, `None` when it does not exist.
    pub(super) fn entry(
        &self,
        s: &StreamState,
        id: StreamId,
    ) -> Result<Option<super::Fields>, StorageError> {
        Ok(self
            .engine
            .get(Cf::Stream, &s.key(&id.to_be_bytes()))?
            .and_then(|raw| decode_entry(&raw).map(|(_, f)| f)))
    }

    /// XDEL: deletes the entries that exist; returns how many did.
    pub fn delete(&self, key: &[u8], ids: &[StreamId]) -> Result<u64, StorageError> {
        let Some(mut s) = self.for_write(key)? else {
            return Ok(0);
        };
        let mut txn = self.txn();
        let mut deleted = 0u64;
        let mut nodes = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for &id in ids {
            if !seen.insert(id) {
                continue;
            }
            let ek = s.key(&id.to_be_bytes());
            let Some(node) = self.engine.get_with(Cf::Stream, &ek, entry_node)? else {
                continue;
            };
            txn.delete_raw(Cf::Stream, &ek);
            nodes.extend(node);
            deleted += 1;
            if id > s.counters.max_deleted_id {
                s.counters.max_deleted_id = id;
            }
        }
        if deleted == 0 {
            return Ok(0);
        }
        s.c.header.count = s.c.header.count.saturating_sub(deleted);
        txn.store_stream(&mut s);
        txn.commit()?;
        // Whether the tail node emptied is read after the deletions landed.
        let Some(mut s) = self.for_write(key)? else {
            return Ok(deleted);
        };
        let before = s.counters;
        self.retire_empty_tail(&mut s, &nodes)?;
        if s.counters != before {
            let mut txn = self.txn();
            txn.store_stream(&mut s);
            txn.commit()?;
        }
        Ok(deleted)
    }

    /// XTRIM: returns the number of entries removed (0 for a missing key).
    pub fn trim(&self, key: &[u8], spec: TrimSpec) -> Result<u64, StorageError> {
        let Some(mut s) = self.for_write(key)? else {
            return Ok(0);
        };
        let mut txn = self.txn();
        let removed = self.trim_in(&mut s, spec, &mut txn)?;
        if removed > 0 {
            txn.store_stream(&mut s);
            txn.commit()?;
        }
        Ok(removed)
    }

    /// Trims `s` as Redis' `streamTrim` does, node by node from the oldest: a whole node goes
    /// when the stream stays long enough without it (or all its ids are below MINID); then,
    /// unless `~`, entries of the next node go one by one. Returns the count removed.
    fn trim_in(
        &self,
        s: &mut StreamState,
        spec: TrimSpec,
        txn: &mut WriteTxn<'_>,
    ) -> Result<u64, StorageError> {
        let mut deleted = 0u64;
        let mut len = s.len();
        let mut retired_tail = false;
        let mut cur = self.entry_cursor(s, StreamId::MIN, StreamId::MAX, false);
        loop {
            if let TrimStrategy::MaxLen(max) = spec.strategy {
                if len <= max {
                    break;
                }
            }
            // The next node's entries.
            let Some((_, value)) = cur.current() else {
                break;
            };
            let node = entry_node(value);
            let mut ids = Vec::new();
            while let Some((sub, value)) = cur.current() {
                if entry_node(value) != node {
                    break;
                }
                if let Some(id) = StreamId::from_be_bytes(sub) {
                    ids.push(id);
                }
                cur.advance();
            }
            let entries = ids.len() as u64;
            if spec.limit != 0 && deleted + entries > spec.limit {
                break;
            }
            let remove_node = match spec.strategy {
                TrimStrategy::MaxLen(max) => len.saturating_sub(entries) >= max,
                TrimStrategy::MinId(min) => match ids.last() {
                    Some(&last) => self.node_last_id(s, node, last)? < min,
                    None => false,
                },
            };
            if remove_node {
                for id in &ids {
                    txn.delete_raw(Cf::Stream, &s.key(&id.to_be_bytes()));
                }
                if let Some(node) = node {
                    txn.delete_element(Cf::StreamGroup, &s.c, &node_key(node));
                }
                len -= entries;
                deleted += entries;
                if node == Some(s.counters.tail_node) {
                    retired_tail = true;
                }
                continue;
            }
            if spec.approx {
                break;
            }
            for id in ids {
                let keep = match spec.strategy {
                    TrimStrategy::MaxLen(max) => len <= max,
                    TrimStrategy::MinId(min) => id >= min,
                };
                if keep {
                    break;
                }
                txn.delete_raw(Cf::Stream, &s.key(&id.to_be_bytes()));
                len -= 1;
                deleted += 1;
            }
            break;
        }
        cur.status()?;
        s.c.header.count = len;
        if retired_tail {
            s.counters.tail_node += 1;
            s.counters.tail_entries = 0;
            s.counters.tail_bytes = 0;
        }
        Ok(deleted)
    }

    /// XSETID: sets the last id and, when given, entries-added and max-deleted-id.
    pub fn set_id(
        &self,
        key: &[u8],
        id: StreamId,
        entries_added: Option<u64>,
        max_deleted: Option<StreamId>,
    ) -> Result<SetIdOutcome, StorageError> {
        let Some(mut s) = self.for_write(key)? else {
            return Ok(SetIdOutcome::NoKey);
        };
        if !s.is_empty() {
            let top = self.last_entry_id(&s)?.unwrap_or(StreamId::MIN);
            if id < top {
                return Ok(SetIdOutcome::IdTooSmall);
            }
            if entries_added.is_some_and(|n| n < s.len()) {
                return Ok(SetIdOutcome::EntriesAddedTooSmall);
            }
        }
        s.counters.last_id = id;
        if let Some(n) = entries_added {
            s.counters.entries_added = n;
        }
        if let Some(m) = max_deleted {
            s.counters.max_deleted_id = m;
        }
        let mut txn = self.txn();
        txn.store_stream(&mut s);
        txn.commit()?;
        Ok(SetIdOutcome::Done)
    }

    /// True when a deleted entry may lie in `[start, MAX]` (Redis' `streamRangeHasTombstones`).
    pub(super) fn has_tombstones_from(
        &self,
        s: &StreamState,
        start: StreamId,
    ) -> Result<bool, StorageError> {
        Ok(self.tombstone_bound(s)?.is_some_and(|bound| start <= bound))
    }

    /// The greatest id at or below which a deleted entry may lie among the entries (the max
    /// deleted id, unless it is below the first entry); `None` when there is none. Readers
    /// checking many ids compute it once.
    pub(super) fn tombstone_bound(
        &self,
        s: &StreamState,
    ) -> Result<Option<StreamId>, StorageError> {
        let max_deleted = s.counters.max_deleted_id;
        if s.is_empty() || max_deleted == StreamId::MIN {
            return Ok(None);
        }
        let first = self.first_id(s)?.unwrap_or(StreamId::MIN);
        Ok((first <= max_deleted).then_some(max_deleted))
    }

    /// The number of entries added up to `id` when it can be known (Redis'
    /// `streamEstimateDistanceFromFirstEverEntry`); `None` otherwise.
    pub(super) fn entries_read_at(
        &self,
        s: &StreamState,
        id: StreamId,
    ) -> Result<Option<u64>, StorageError> {
        let c = &s.counters;
        if c.entries_added == 0 {
            return Ok(Some(0));
        }
        if s.is_empty() && id <= c.last_id {
            return Ok(Some(c.entries_added));
        }
        if id == c.last_id {
            return Ok(Some(c.entries_added));
        }
        if id > c.last_id {
            return Ok(None);
        }
        let first = self.first_id(s)?.unwrap_or(StreamId::MIN);
        if c.max_deleted_id == StreamId::MIN || c.max_deleted_id < first {
            if id < first {
                return Ok(Some(c.entries_added - s.len()));
            }
            if id == first {
                return Ok(Some(c.entries_added - s.len() + 1));
            }
        }
        Ok(None)
    }

    /// Whether `s` holds an entry above `id` (a blocked reader would be served).
    pub fn has_entries_after(&self, s: &StreamState, id: StreamId) -> Result<bool, StorageError> {
        Ok(self.last_entry_id(s)?.is_some_and(|last| last > id))
    }
}
