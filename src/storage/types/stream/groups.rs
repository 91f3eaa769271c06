//! Consumer groups: their records (XGROUP and its subcommands, XINFO GROUPS, lag) and the
//! write helpers the PEL (`pel`) shares.

use super::consumers::ConsumerBook;
use super::{Entry, StreamState, Streams};
use crate::storage::codec::prefix_upper_bound;
use crate::storage::codec::stream::{
    consumer_key, consumer_pending_key, consumer_pending_prefix, consumer_prefix,
    group_consumer_pending_prefix, group_key, pending_key, pending_prefix, GroupRecord,
    PendingRecord, ENTRIES_READ_UNKNOWN,
};
use crate::storage::codec::Cf;
use crate::storage::collection::ElementCursor;
use crate::storage::write::WriteTxn;
use crate::storage::StorageError;
use crate::util::clock::unix_ms;
use crate::util::stream_id::StreamId;

/// What a group command found missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Key,
    Group,
}

/// A group command's result: the value, or what was missing.
pub type Found<T> = Result<T, Missing>;

/// A group as XINFO shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    pub name: Vec<u8>,
    pub record: GroupRecord,
}

impl WriteTxn<'_> {
    pub(super) fn put_group(&mut self, s: &StreamState, name: &[u8], g: &GroupRecord) {
        self.put_element(Cf::StreamGroup, &s.c, &group_key(name), &g.encode());
    }

    /// Adds (or moves) a PEL entry: the group's record and the consumer's index entry.
    pub(super) fn put_pending(
        &mut self,
        s: &StreamState,
        group: &[u8],
        id: StreamId,
        p: &PendingRecord,
    ) {
        self.put_element(Cf::StreamGroup, &s.c, &pending_key(group, id), &p.encode());
        self.put_element(
            Cf::StreamGroup,
            &s.c,
            &consumer_pending_key(group, &p.consumer, id),
            b"",
        );
    }

    pub(super) fn delete_pending(
        &mut self,
        s: &StreamState,
        group: &[u8],
        id: StreamId,
        consumer: &[u8],
    ) {
        self.delete_element(Cf::StreamGroup, &s.c, &pending_key(group, id));
        self.delete_element(
            Cf::StreamGroup,
            &s.c,
            &consumer_pending_key(group, consumer, id),
        );
    }

    /// Deletes every record under the sub-key `prefix` of `s`.
    fn delete_under(&mut self, s: &StreamState, prefix: &[u8]) {
        let from = s.key(prefix);
        if let Some(to) = prefix_upper_bound(&from) {
            self.delete_raw_range(Cf::StreamGroup, &from, &to);
        }
    }
}

/// A cursor over the records under sub-key `prefix` of `s`, yielding what follows the prefix.
pub(super) fn under<'a>(
    streams: &'a Streams<'_>,
    s: &StreamState,
    prefix: &[u8],
) -> ElementCursor<'a> {
    let full = s.key(prefix);
    let skip = full.len();
    ElementCursor::over(streams.engine.prefix(Cf::StreamGroup, &full), skip, false)
}

impl<'a> Streams<'a> {
    /// The record of group `name`.
    pub fn group(&self, s: &StreamState, name: &[u8]) -> Result<Option<GroupRecord>, StorageError> {
        Ok(self
            .engine
            .get(Cf::StreamGroup, &s.key(&group_key(name)))?
            .and_then(|raw| GroupRecord::decode(&raw)))
    }

    /// Every group of `s`, in name order.
    pub fn groups_of(&self, s: &StreamState) -> Result<Vec<GroupInfo>, StorageError> {
        let mut cur = under(self, s, &[crate::storage::codec::stream::tag::GROUP]);
        let mut out = Vec::new();
        while let Some((name, value)) = cur.current() {
            if let Some(record) = GroupRecord::decode(value) {
                out.push(GroupInfo {
                    name: name.to_vec(),
                    record,
                });
            }
            cur.advance();
        }
        cur.status()?;
        Ok(out)
    }

    /// The stream and its group `name`, for writers.
    pub(super) fn with_group(
        &self,
        key: &[u8],
        name: &[u8],
    ) -> Result<Found<(StreamState, GroupRecord)>, StorageError> {
        let Some(s) = self.for_write(key)? else {
            return Ok(Err(Missing::Key));
        };
        match self.group(&s, name)? {
            Some(g) => Ok(Ok((s, g))),
            None => Ok(Err(Missing::Group)),
        }
    }

    /// XGROUP CREATE: `start` `None` is `$`. `Ok(false)` when the group exists.
    pub fn create_group(
        &self,
        key: &[u8],
        name: &[u8],
        start: Option<StreamId>,
        make_stream: bool,
        entries_read: i64,
    ) -> Result<Found<bool>, StorageError> {
        let mut s = match self.for_write(key)? {
            Some(s) => s,
            None if make_stream => self.for_write_or_new(key)?,
            None => return Ok(Err(Missing::Key)),
        };
        if self.group(&s, name)?.is_some() {
            return Ok(Ok(false));
        }
        let g = GroupRecord {
            last_id: start.unwrap_or(s.counters.last_id),
            entries_read,
            consumers: 0,
            pending: 0,
        };
        let mut txn = self.txn();
        txn.put_group(&s, name, &g);
        s.counters.groups += 1;
        txn.store_stream(&mut s);
        txn.commit()?;
        Ok(Ok(true))
    }

    /// XGROUP SETID: `id` `None` is `$`.
    pub fn set_group_id(
        &self,
        key: &[u8],
        name: &[u8],
        id: Option<StreamId>,
        entries_read: i64,
    ) -> Result<Found<()>, StorageError> {
        let (s, mut g) = match self.with_group(key, name)? {
            Ok(found) => found,
            Err(m) => return Ok(Err(m)),
        };
        g.last_id = id.unwrap_or(s.counters.last_id);
        g.entries_read = entries_read;
        let mut txn = self.txn();
        txn.put_group(&s, name, &g);
        txn.commit()?;
        Ok(Ok(()))
    }

    /// XGROUP DESTROY: true when the group existed. Its waiters are woken (to fail).
    pub fn destroy_group(&self, key: &[u8], name: &[u8]) -> Result<Found<bool>, StorageError> {
        let mut s = match self.with_group(key, name)? {
            Ok((s, _)) => s,
            Err(Missing::Group) => return Ok(Ok(false)),
            Err(m) => return Ok(Err(m)),
        };
        let mut txn = self.txn();
        txn.delete_element(Cf::StreamGroup, &s.c, &group_key(name));
        txn.delete_under(&s, &pending_prefix(name));
        txn.delete_under(&s, &group_consumer_pending_prefix(name));
        txn.delete_under(&s, &consumer_prefix(name));
        s.counters.groups = s.counters.groups.saturating_sub(1);
        // Storing the header signals the key, so blocked XREADGROUP clients learn of it.
        txn.store_stream(&mut s);
        txn.commit()?;
        Ok(Ok(true))
    }

    /// XGROUP CREATECONSUMER: true when the consumer was created.
    pub fn create_consumer(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
    ) -> Result<Found<bool>, StorageError> {
        let (s, mut g) = match self.with_group(key, group)? {
            Ok(found) => found,
            Err(m) => return Ok(Err(m)),
        };
        let mut book = ConsumerBook::default();
        if book.get(self, &s, group, consumer)?.is_some() {
            return Ok(Ok(false));
        }
        book.seen(self, &s, group, &mut g, consumer, unix_ms())?;
        let mut txn = self.txn();
        book.flush(&mut txn, &s, group);
        txn.put_group(&s, group, &g);
        txn.commit()?;
        Ok(Ok(true))
    }

    /// XGROUP DELCONSUMER: removes the consumer and its pending entries; returns how many
    /// entries it had pending (0 when there was no such consumer).
    pub fn delete_consumer(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
    ) -> Result<Found<u64>, StorageError> {
        let (s, mut g) = match self.with_group(key, group)? {
            Ok(found) => found,
            Err(m) => return Ok(Err(m)),
        };
        let Some(rec) = self.consumer(&s, group, consumer)? else {
            return Ok(Ok(0));
        };
        let mut txn = self.txn();
        let mut n = 0u64;
        let mut cur = under(self, &s, &consumer_pending_prefix(group, consumer));
        while let Some((sub, _)) = cur.current() {
            if let Some(id) = StreamId::from_be_bytes(sub) {
                txn.delete_pending(&s, group, id, consumer);
                n += 1;
            }
            cur.advance();
        }
        cur.status()?;
        txn.delete_element(Cf::StreamGroup, &s.c, &consumer_key(group, consumer));
        g.pending = g.pending.saturating_sub(n);
        g.consumers = g.consumers.saturating_sub(1);
        txn.put_group(&s, group, &g);
        txn.commit()?;
        Ok(Ok(rec.pending.max(n)))
    }

    /// The lag of group `g` (entries not yet delivered), when it can be known. It may be
    /// negative, as in Redis, when ENTRIESREAD or XSETID set counters that disagree.
    pub fn lag(&self, s: &StreamState, g: &GroupRecord) -> Result<Option<i64>, StorageError> {
        let added = s.counters.entries_added as i64;
        if added == 0 {
            return Ok(Some(0));
        }
        if g.entries_read != ENTRIES_READ_UNKNOWN && !self.has_tombstones_from(s, g.last_id)? {
            return Ok(Some(added.wrapping_sub(g.entries_read)));
        }
        Ok(self
            .entries_read_at(s, g.last_id)?
            .map(|read| added.wrapping_sub(read as i64)))
    }

    /// XINFO STREAM's first or last entry.
    pub fn edge_entry(&self, s: &StreamState, last: bool) -> Result<Option<Entry>, StorageError> {
        Ok(self
            .range_of(s, StreamId::MIN, StreamId::MAX, 1, last)?
            .into_iter()
            .next())
    }
}
