//! The pending entries lists (PEL) of consumer groups: reading through a group (XREADGROUP),
//! XACK, XPENDING, XCLAIM and XAUTOCLAIM, after Redis' `t_stream.c`.
//!
//! A PEL entry is stored twice in one batch: in the group's PEL (by id, with its consumer,
//! delivery time and count) and in its consumer's index (by id), so acknowledging, claiming
//! and listing one consumer's entries are seeks, never scans of the whole PEL.

use super::consumers::ConsumerBook;
use super::groups::{under, Found, Missing};
use super::{after, Fields, StreamState, Streams};
use crate::storage::codec::prefix_upper_bound;
use crate::storage::codec::stream::{
    consumer_pending_key, consumer_pending_prefix, pending_key, pending_prefix, GroupRecord,
    PendingRecord, ENTRIES_READ_UNKNOWN,
};
use crate::storage::codec::Cf;
use crate::storage::collection::ElementCursor;
use crate::storage::write::WriteTxn;
use crate::storage::StorageError;
use crate::util::clock::unix_ms;
use crate::util::stream_id::StreamId;

/// Where XREADGROUP reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    /// `>`: entries never delivered to the group.
    New,
    /// The consumer's own pending entries with ids above this one.
    History(StreamId),
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

impl<'a> Streams<'a> {
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
        to.extend_from_slice(&after(end));
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
            if let Some(p) = self.walked_pending(&s, group, consumer, id, value)? {
                let idle = now.saturating_sub(p.delivery_time_ms);
                if min_idle_ms == 0 || idle >= min_idle_ms {
                    out.push(p);
                }
            }
            cur.advance();
        }
        cur.status()?;
        Ok(Ok(out))
    }

    /// The pending entry `id` met while walking the PEL of `group`: the group's PEL holds the
    /// record itself (`value`); a consumer's index (`consumer` given) points to the group's.
    fn walked_pending(
        &self,
        s: &StreamState,
        group: &[u8],
        consumer: Option<&[u8]>,
        id: StreamId,
        value: &[u8],
    ) -> Result<Option<PendingItem>, StorageError> {
        let record = match consumer {
            Some(_) => self.pending_entry(s, group, id)?,
            None => PendingRecord::decode(value),
        };
        Ok(record.map(|p| PendingItem {
            id,
            consumer: p.consumer,
            delivery_time_ms: p.delivery_time_ms,
            delivery_count: p.delivery_count,
        }))
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
                if let Some(p) = self.walked_pending(s, group, consumer, id, value)? {
                    out.push(p);
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
}
