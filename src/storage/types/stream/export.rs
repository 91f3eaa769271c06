//! A whole stream as plain data ([`StreamValue`]), out of storage and into it: the shape DUMP,
//! RESTORE and RDB loading share.

use super::{StreamState, Streams};
use crate::dataset::stream::{PendingEntry, StreamConsumer, StreamGroup, StreamValue};
use crate::storage::codec::stream::{consumer_key, group_key, ConsumerRecord};
use crate::storage::codec::stream::{
    encode_entry, GroupRecord, PendingRecord, ENTRIES_READ_UNKNOWN,
};
use crate::storage::codec::{Cf, DataType};
use crate::storage::write::WriteTxn;
use crate::storage::{KeyState, StorageError};
use crate::util::stream_id::StreamId;

impl Streams<'_> {
    /// The stream at `key` as plain data; `None` when absent.
    pub fn export_key(&self, key: &[u8]) -> Result<Option<StreamValue>, StorageError> {
        match self.stream_read(self.db, key)? {
            Some(s) => Ok(Some(self.export(&s)?)),
            None => Ok(None),
        }
    }

    /// `s` as plain data: entries, counters, groups with their PELs and consumers.
    pub fn export(&self, s: &StreamState) -> Result<StreamValue, StorageError> {
        let entries = self.range_of(s, StreamId::MIN, StreamId::MAX, 0, false)?;
        let mut groups = Vec::new();
        for g in self.groups_of(s)? {
            let pending = self
                .pending_of(s, &g.name, None, 0)?
                .into_iter()
                .map(|p| PendingEntry {
                    id: p.id,
                    consumer: p.consumer,
                    delivery_time_ms: p.delivery_time_ms,
                    delivery_count: p.delivery_count,
                })
                .collect();
            let consumers = self
                .consumers_of(s, &g.name)?
                .into_iter()
                .map(|(name, c)| StreamConsumer {
                    name,
                    seen_time_ms: c.seen_time_ms,
                    active_time_ms: (c.active_time_ms != 0).then_some(c.active_time_ms),
                })
                .collect();
            groups.push(StreamGroup {
                name: g.name,
                last_id: g.record.last_id,
                entries_read: (g.record.entries_read != ENTRIES_READ_UNKNOWN)
                    .then_some(g.record.entries_read as u64),
                pending,
                consumers,
            });
        }
        Ok(StreamValue {
            entries,
            last_id: s.counters.last_id,
            max_deleted_id: s.counters.max_deleted_id,
            entries_added: s.counters.entries_added,
            groups,
        })
    }

    /// Writes `v` as the new value of the key `state` describes (whatever it held), with
    /// deadline `expire_ms` (0: none), into `txn`.
    pub fn import(
        &self,
        txn: &mut WriteTxn<'_>,
        state: KeyState,
        v: &StreamValue,
        expire_ms: u64,
    ) -> Result<(), StorageError> {
        let c = self.fresh_collection(state, DataType::Stream);
        let mut s = StreamState::new(c)?;
        for (id, fields) in &v.entries {
            let pairs: Vec<(&[u8], &[u8])> = fields
                .iter()
                .map(|(f, v)| (f.as_slice(), v.as_slice()))
                .collect();
            self.place_in_node(txn, &mut s, *id, &pairs);
            txn.put_element(
                Cf::Stream,
                &s.c,
                &id.to_be_bytes(),
                &encode_entry(s.counters.tail_node, &pairs),
            );
        }
        s.c.header.count = v.entries.len() as u64;
        s.counters.last_id = v.last_id;
        s.counters.max_deleted_id = v.max_deleted_id;
        s.counters.entries_added = v.entries_added;
        s.counters.groups = v.groups.len() as u64;
        for g in &v.groups {
            let mut pending_of = std::collections::BTreeMap::<&[u8], u64>::new();
            for p in &g.pending {
                *pending_of.entry(p.consumer.as_slice()).or_default() += 1;
                let rec = PendingRecord {
                    delivery_time_ms: p.delivery_time_ms,
                    delivery_count: p.delivery_count,
                    consumer: p.consumer.clone(),
                };
                txn.put_pending(&s, &g.name, p.id, &rec);
            }
            for c in &g.consumers {
                let rec = ConsumerRecord {
                    seen_time_ms: c.seen_time_ms,
                    active_time_ms: c.active_time_ms.unwrap_or(0),
                    pending: pending_of.get(c.name.as_slice()).copied().unwrap_or(0),
                };
                txn.put_element(
                    Cf::StreamGroup,
                    &s.c,
                    &consumer_key(&g.name, &c.name),
                    &rec.encode(),
                );
            }
            let rec = GroupRecord {
                last_id: g.last_id,
                entries_read: g.entries_read.map_or(ENTRIES_READ_UNKNOWN, |n| n as i64),
                consumers: g.consumers.len() as u64,
                pending: g.pending.len() as u64,
            };
            txn.put_element(Cf::StreamGroup, &s.c, &group_key(&g.name), &rec.encode());
        }
        s.c.expire_ms = expire_ms;
        txn.store_stream(&mut s);
        Ok(())
    }
}
