//! Consumer groups: their records, reading through a group (XREADGROUP), and the pending
//! entries list (XACK, XPENDING, XCLAIM, XAUTOCLAIM), after Redis' `t_stream.c`.
//!
//! A PEL entry is stored twice in one batch: in the group's PEL (by id, with its consumer,
//! delivery time and count) and in its consumer's index (by id), so acknowledging, claiming
//! and listing one consumer's entries are seeks, never scans of the whole PEL.

use super::consumers::ConsumerBook;
use super::{Entry, Fields, StreamState, Streams};
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

/// Where XREADGROUP reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    /// `>`: entries never delivered to the group.
    New,
    /// The consumer's own pending entries with ids above this one.
    History(StreamId),
}

/// A group as XINFO shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    pub name: Vec<u8>,
    pub record: GroupRecord,
}

/// XPENDING's summary form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PendingSummary {
    pub count: u64,
    pub first: Option<StreamId>,
    pub last: Option<StreamId>,
    /// Consumers with pending entries, in name order, with their counts.
    pub consumers: Vec<(Vec<u8>, u64)>,
}

/// One PEL entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingItem {
    pub id: StreamId,
    pub consumer: Vec<u8>,
    pub delivery_time_ms: u64,
    pub delivery_count: u64,
}

/// What XPENDING's extended form asks for: entries with ids in `[start, end]`, at most
/// `count`, of one consumer or all, idle at least `min_idle_ms`.
#[derive(Debug, Clone, Copy)]
pub struct PendingQuery<'a> {
    pub start: StreamId,
    pub end: StreamId,
    pub count: usize,
    pub consumer: Option<&'a [u8]>,
    pub min_idle_ms: u64,
}

/// What XAUTOCLAIM did: the id to continue from (`0-0` at the end), the entries claimed and
/// the ids dropped from the PEL because their entries were deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoClaimed {
    pub next: StreamId,
    pub claimed: Vec<Claimed>,
    pub deleted: Vec<StreamId>,
}

/// An entry XCLAIM/XAUTOCLAIM took: its id, and its fields unless JUSTID.
pub type Claimed = (StreamId, Option<Fields>);

/// XCLAIM's options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimOptions {
    /// The delivery time to set (IDLE/TIME), already clamped to `[0, now]`; `None`: now.
    pub delivery_time_ms: Option<u64>,
    pub retry_count: Option<u64>,
    pub force: bool,
    pub just_id: bool,
    pub last_id: Option<StreamId>,
}

impl WriteTxn<'_> {
    fn put_group(&mut self, s: &StreamState, name: &[u8], g: &GroupRecord) {
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

    fn delete_pending(&mut self, s: &StreamState, group: &[u8], id: StreamId, consumer: &[u8]) {
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
fn under<'a>(streams: &'a Streams<'_>, s: &StreamState, prefix: &[u8]) -> ElementCursor<'a> {
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
    fn with_group(
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

    /// One PEL entry of `group`.
    fn pending_entry(
        &self,
        s: &StreamState,
        group: &[u8],
        id: StreamId,
    ) -> Result<Option<PendingRecord>, StorageError> {
        Ok(self
            .engine
            .get(Cf::StreamGroup, &s.key(&pending_key(group, id)))?
            .and_then(|raw| PendingRecord::decode(&raw)))
    }

    /// XREADGROUP on one stream. `Ok(None)` when reading new entries finds none (the caller
    /// may block); a history read always answers, possibly with nothing. Entries of the
    /// history deleted from the stream come back without fields.
    pub fn read_group(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        from: ReadFrom,
        count: usize,
        no_ack: bool,
    ) -> Result<Found<Option<Vec<Claimed>>>, StorageError> {
        let (s, mut g) = match self.with_group(key, group)? {
            Ok(found) => found,
            Err(m) => return Ok(Err(m)),
        };
        let now = unix_ms();
        let mut book = ConsumerBook::default();
        let mut txn = self.txn();
        let out = match from {
            ReadFrom::New => {
                if !self.has_entries_after(&s, g.last_id)? {
                    return Ok(Ok(None));
                }
                book.seen(self, &s, group, &mut g, consumer, now)?
                    .0
                    .active_time_ms = now;
                let start = g.last_id.successor().unwrap_or(StreamId::MAX);
                let entries = self.range_of(&s, start, StreamId::MAX, count, false)?;
                let tombstones = self.tombstone_bound(&s)?;
                for (id, _) in &entries {
                    self.advance_group(&s, &mut g, *id, tombstones)?;
                    if !no_ack {
                        self.deliver(&mut txn, &s, group, &mut g, &mut book, consumer, *id, now)?;
                    }
                }
                entries
                    .into_iter()
                    .map(|(id, f)| (id, Some(f)))
                    .collect::<Vec<Claimed>>()
            }
            ReadFrom::History(after) => {
                book.seen(self, &s, group, &mut g, consumer, now)?;
                let mut out = Vec::new();
                if let Some(start) = after.successor() {
                    let prefix = consumer_pending_prefix(group, consumer);
                    let lower = s.key(&consumer_pending_key(group, consumer, start));
                    let upper = prefix_upper_bound(&s.key(&prefix));
                    let skip = s.key(&prefix).len();
                    let mut cur = ElementCursor::over(
                        self.engine.range(Cf::StreamGroup, &lower, upper.as_deref()),
                        skip,
                        false,
                    );
                    while let Some((sub, _)) = cur.current() {
                        if count != 0 && out.len() >= count {
                            break;
                        }
                        if let Some(id) = StreamId::from_be_bytes(sub) {
                            let fields = self.entry(&s, id)?;
                            if fields.is_some() {
                                if let Some(mut p) = self.pending_entry(&s, group, id)? {
                                    p.delivery_time_ms = now;
                                    p.delivery_count += 1;
                                    txn.put_element(
                                        Cf::StreamGroup,
                                        &s.c,
                                        &pending_key(group, id),
                                        &p.encode(),
                                    );
                                }
                            }
                            out.push((id, fields));
                        }
                        cur.advance();
                    }
                    cur.status()?;
                }
                out
            }
        };
        book.flush(&mut txn, &s, group);
        txn.put_group(&s, group, &g);
        txn.commit()?;
        Ok(Ok(Some(out)))
    }

    /// Moves the group's last delivered id to `id`, keeping its read counter when it can be
    /// known (Redis' rule for each entry XREADGROUP delivers).
    /// `tombstones` is [`Streams::tombstone_bound`] of `s`.
    fn advance_group(
        &self,
        s: &StreamState,
        g: &mut GroupRecord,
        id: StreamId,
        tombstones: Option<StreamId>,
    ) -> Result<(), StorageError> {
        if id <= g.last_id {
            return Ok(());
        }
        let tombstone_ahead = tombstones.is_some_and(|bound| id <= bound);
        if g.entries_read != ENTRIES_READ_UNKNOWN && !tombstone_ahead {
            g.entries_read += 1;
        } else if s.counters.entries_added != 0 {
            g.entries_read = self
                .entries_read_at(s, id)?
                .map_or(ENTRIES_READ_UNKNOWN, |n| n as i64);
        }
        g.last_id = id;
        Ok(())
    }

    /// Records a delivery of `id` to `consumer`: a new PEL entry, or an existing one
    /// reassigned (after XGROUP SETID moved the group back).
    #[allow(clippy::too_many_arguments)]
    fn deliver(
        &self,
        txn: &mut WriteTxn<'_>,
        s: &StreamState,
        group: &[u8],
        g: &mut GroupRecord,
        book: &mut ConsumerBook,
        consumer: &[u8],
        id: StreamId,
        now: u64,
    ) -> Result<(), StorageError> {
        if let Some(old) = self.pending_entry(s, group, id)? {
            txn.delete_pending(s, group, id, &old.consumer);
            if let Some(rec) = book.get(self, s, group, &old.consumer)? {
                rec.pending = rec.pending.saturating_sub(1);
            }
        } else {
            g.pending += 1;
        }
        let p = PendingRecord {
            delivery_time_ms: now,
            delivery_count: 1,
            consumer: consumer.to_vec(),
        };
        txn.put_pending(s, group, id, &p);
        if let Some(rec) = book.get(self, s, group, consumer)? {
            rec.pending += 1;
        }
        Ok(())
    }

    /// XACK: acknowledges the pending ids; returns how many were pending.
    pub fn ack(&self, key: &[u8], group: &[u8], ids: &[StreamId]) -> Result<u64, StorageError> {
        let (s, mut g) = match self.with_group(key, group)? {
            Ok(found) => found,
            Err(_) => return Ok(0),
        };
        let mut book = ConsumerBook::default();
        let mut txn = self.txn();
        let mut acked = 0u64;
        let mut seen = std::collections::HashSet::new();
        for &id in ids {
            if !seen.insert(id) {
                continue;
            }
            let Some(p) = self.pending_entry(&s, group, id)? else {
                continue;
            };
            txn.delete_pending(&s, group, id, &p.consumer);
            if let Some(rec) = book.get(self, &s, group, &p.consumer)? {
                rec.pending = rec.pending.saturating_sub(1);
            }
            acked += 1;
        }
        if acked == 0 {
            return Ok(0);
        }
        g.pending = g.pending.saturating_sub(acked);
        book.flush(&mut txn, &s, group);
        txn.put_group(&s, group, &g);
        txn.commit()?;
        Ok(acked)
    }

    /// The stream and group for a read command.
    fn read_group_record(
        &self,
        key: &[u8],
        group: &[u8],
    ) -> Result<Found<(StreamState, GroupRecord)>, StorageError> {
        let Some(s) = self.read(key)? else {
            return Ok(Err(Missing::Key));
        };
        match self.group(&s, group)? {
            Some(g) => Ok(Ok((s, g))),
            None => Ok(Err(Missing::Group)),
        }
    }

    /// XPENDING's summary.
    pub fn pending_summary(
        &self,
        key: &[u8],
        group: &[u8],
    ) -> Result<Found<PendingSummary>, StorageError> {
        let (s, g) = match self.read_group_record(key, group)? {
            Ok(found) => found,
            Err(m) => return Ok(Err(m)),
        };
        let mut summary = PendingSummary {
            count: g.pending,
            ..PendingSummary::default()
        };
        if g.pending == 0 {
            return Ok(Ok(summary));
        }
        let prefix = s.key(&pending_prefix(group));
        let skip = prefix.len();
        for reverse in [false, true] {
            let cur =
                ElementCursor::over(self.engine.prefix(Cf::StreamGroup, &prefix), skip, reverse);
            let id = cur
                .current()
                .and_then(|(sub, _)| StreamId::from_be_bytes(sub));
            cur.status()?;
            if reverse {
                summary.last = id;
            } else {
                summary.first = id;
            }
        }
        summary.consumers = self
            .consumers_of(&s, group)?
            .into_iter()
            .filter(|(_, c)| c.pending > 0)
            .map(|(name, c)| (name, c.pending))
            .collect();
        Ok(Ok(summary))
    }

    /// XPENDING's extended form (see [`PendingQuery`]).
    pub fn pending_range(
        &self,
        key: &[u8],
        group: &[u8],
        q: PendingQuery<'_>,
    ) -> Result<Found<Vec<PendingItem>>, StorageError> {
        let PendingQuery {
            start,
            end,
            count,
            consumer,
            min_idle_ms,
        } = q;
        let (s, _) = match self.read_group_record(key, group)? {
            Ok(found) => found,
            Err(m) => return Ok(Err(m)),
        };
        let now = unix_ms();
        let mut out = Vec::new();
        if count == 0 || start > end {
            return Ok(Ok(out));
        }
        let sub_prefix = match consumer {
            Some(c) => consumer_pending_prefix(group, c),
            None => pending_prefix(group),
        };
        let mut from = sub_prefix.clone();
        from.extend_from_slice(&start.to_be_bytes());
        let mut to = sub_prefix.clone();
        to.extend_from_slice(&super::entries::after_id(end));
        let lower = s.key(&from);
        let upper = s.key(&to);
        let skip = s.key(&sub_prefix).len();
        let mut cur = ElementCursor::over(
            self.engine.range(Cf::StreamGroup, &lower, Some(&upper)),
            skip,
            false,
        );
        while let Some((sub, value)) = cur.current() {
            if out.len() >= count {
                break;
            }
            let Some(id) = StreamId::from_be_bytes(sub) else {
                cur.advance();
                continue;
            };
            let p = match consumer {
                Some(_) => self.pending_entry(&s, group, id)?,
                None => PendingRecord::decode(value),
            };
            if let Some(p) = p {
                let idle = now.saturating_sub(p.delivery_time_ms);
                if min_idle_ms == 0 || idle >= min_idle_ms {
                    out.push(PendingItem {
                        id,
                        consumer: p.consumer,
                        delivery_time_ms: p.delivery_time_ms,
                        delivery_count: p.delivery_count,
                    });
                }
            }
            cur.advance();
        }
        cur.status()?;
        Ok(Ok(out))
    }

    /// The PEL of `group` (of one consumer when given), at most `count` (0: all) from the
    /// first: XINFO STREAM FULL.
    pub fn pending_of(
        &self,
        s: &StreamState,
        group: &[u8],
        consumer: Option<&[u8]>,
        count: usize,
    ) -> Result<Vec<PendingItem>, StorageError> {
        let mut out = Vec::new();
        let prefix = match consumer {
            Some(c) => consumer_pending_prefix(group, c),
            None => pending_prefix(group),
        };
        let mut cur = under(self, s, &prefix);
        while let Some((sub, value)) = cur.current() {
            if count != 0 && out.len() >= count {
                break;
            }
            if let Some(id) = StreamId::from_be_bytes(sub) {
                let p = match consumer {
                    Some(_) => self.pending_entry(s, group, id)?,
                    None => PendingRecord::decode(value),
                };
                if let Some(p) = p {
                    out.push(PendingItem {
                        id,
                        consumer: p.consumer,
                        delivery_time_ms: p.delivery_time_ms,
                        delivery_count: p.delivery_count,
                    });
                }
            }
            cur.advance();
        }
        cur.status()?;
        Ok(out)
    }

    /// Moves PEL entry `id` (record `p`) to `consumer` with a new delivery time and count.
    #[allow(clippy::too_many_arguments)]
    fn take_over(
        &self,
        txn: &mut WriteTxn<'_>,
        s: &StreamState,
        group: &[u8],
        book: &mut ConsumerBook,
        consumer: &[u8],
        id: StreamId,
        mut p: PendingRecord,
        delivery_time_ms: u64,
        delivery_count: u64,
    ) -> Result<(), StorageError> {
        if p.consumer != consumer {
            if !p.consumer.is_empty() {
                txn.delete_element(
                    Cf::StreamGroup,
                    &s.c,
                    &consumer_pending_key(group, &p.consumer, id),
                );
                if let Some(rec) = book.get(self, s, group, &p.consumer)? {
                    rec.pending = rec.pending.saturating_sub(1);
                }
            }
            if let Some(rec) = book.get(self, s, group, consumer)? {
                rec.pending += 1;
            }
            p.consumer = consumer.to_vec();
        }
        p.delivery_time_ms = delivery_time_ms;
        p.delivery_count = delivery_count;
        txn.put_pending(s, group, id, &p);
        Ok(())
    }

    /// Drops PEL entry `id` whose stream entry is gone.
    #[allow(clippy::too_many_arguments)]
    fn drop_deleted(
        &self,
        txn: &mut WriteTxn<'_>,
        s: &StreamState,
        group: &[u8],
        g: &mut GroupRecord,
        book: &mut ConsumerBook,
        id: StreamId,
        p: &PendingRecord,
    ) -> Result<(), StorageError> {
        txn.delete_pending(s, group, id, &p.consumer);
        if let Some(rec) = book.get(self, s, group, &p.consumer)? {
            rec.pending = rec.pending.saturating_sub(1);
        }
        g.pending = g.pending.saturating_sub(1);
        Ok(())
    }

    /// XCLAIM.
    pub fn claim(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        min_idle_ms: u64,
        ids: &[StreamId],
        opts: &ClaimOptions,
    ) -> Result<Found<Vec<Claimed>>, StorageError> {
        let (s, mut g) = match self.with_group(key, group)? {
            Ok(found) => found,
            Err(m) => return Ok(Err(m)),
        };
        let now = unix_ms();
        let mut txn = self.txn();
        let mut book = ConsumerBook::default();
        if let Some(last) = opts.last_id {
            if last > g.last_id {
                g.last_id = last;
            }
        }
        let delivery_time = opts.delivery_time_ms.unwrap_or(now);
        let mut out = Vec::new();
        let mut consumer_ready = false;
        for &id in ids {
            let pending = self.pending_entry(&s, group, id)?;
            let fields = self.entry(&s, id)?;
            let Some(fields) = fields else {
                if let Some(p) = pending {
                    self.drop_deleted(&mut txn, &s, group, &mut g, &mut book, id, &p)?;
                }
                continue;
            };
            let p = match pending {
                Some(p) => {
                    if min_idle_ms > 0 && now.saturating_sub(p.delivery_time_ms) < min_idle_ms {
                        continue;
                    }
                    p
                }
                None if opts.force => {
                    // A new PEL entry counts as delivered once, as Redis creates it.
                    g.pending += 1;
                    PendingRecord {
                        delivery_time_ms: now,
                        delivery_count: 1,
                        consumer: Vec::new(),
                    }
                }
                None => continue,
            };
            if !consumer_ready {
                book.seen(self, &s, group, &mut g, consumer, now)?;
                consumer_ready = true;
            }
            let count = match opts.retry_count {
                Some(n) => n,
                None if !opts.just_id => p.delivery_count + 1,
                None => p.delivery_count,
            };
            self.take_over(
                &mut txn,
                &s,
                group,
                &mut book,
                consumer,
                id,
                p,
                delivery_time,
                count,
            )?;
            out.push((id, (!opts.just_id).then_some(fields)));
        }
        book.flush(&mut txn, &s, group);
        txn.put_group(&s, group, &g);
        txn.commit()?;
        Ok(Ok(out))
    }

    /// XAUTOCLAIM: claims up to `count` entries idle at least `min_idle_ms` from `start` on.
    #[allow(clippy::too_many_arguments)]
    pub fn auto_claim(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        min_idle_ms: u64,
        start: StreamId,
        count: u64,
        just_id: bool,
    ) -> Result<Found<AutoClaimed>, StorageError> {
        let (s, mut g) = match self.with_group(key, group)? {
            Ok(found) => found,
            Err(m) => return Ok(Err(m)),
        };
        let now = unix_ms();
        let mut txn = self.txn();
        let mut book = ConsumerBook::default();
        let mut claimed = Vec::new();
        let mut deleted = Vec::new();
        let mut count = count;
        let mut attempts = count.saturating_mul(10);
        let prefix = pending_prefix(group);
        let mut from = prefix.clone();
        from.extend_from_slice(&start.to_be_bytes());
        let skip = s.key(&prefix).len();
        let upper = prefix_upper_bound(&s.key(&prefix));
        let mut cur = ElementCursor::over(
            self.engine
                .range(Cf::StreamGroup, &s.key(&from), upper.as_deref()),
            skip,
            false,
        );
        let mut consumer_ready = false;
        while attempts > 0 && count > 0 {
            let Some((sub, value)) = cur.current() else {
                break;
            };
            attempts -= 1;
            let (Some(id), Some(p)) = (StreamId::from_be_bytes(sub), PendingRecord::decode(value))
            else {
                cur.advance();
                continue;
            };
            cur.advance();
            let Some(fields) = self.entry(&s, id)? else {
                self.drop_deleted(&mut txn, &s, group, &mut g, &mut book, id, &p)?;
                deleted.push(id);
                count -= 1;
                continue;
            };
            if min_idle_ms > 0 && now.saturating_sub(p.delivery_time_ms) < min_idle_ms {
                continue;
            }
            if !consumer_ready {
                book.seen(self, &s, group, &mut g, consumer, now)?;
                consumer_ready = true;
            }
            let n = if just_id {
                p.delivery_count
            } else {
                p.delivery_count + 1
            };
            self.take_over(&mut txn, &s, group, &mut book, consumer, id, p, now, n)?;
            claimed.push((id, (!just_id).then_some(fields)));
            count -= 1;
        }
        let next = cur
            .current()
            .and_then(|(sub, _)| StreamId::from_be_bytes(sub))
            .unwrap_or(StreamId::MIN);
        cur.status()?;
        book.flush(&mut txn, &s, group);
        txn.put_group(&s, group, &g);
        txn.commit()?;
        Ok(Ok(AutoClaimed {
            next,
            claimed,
            deleted,
        }))
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
