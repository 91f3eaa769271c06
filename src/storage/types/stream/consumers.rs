//! Consumer records of a group: seen time, active time and the size of each consumer's PEL
//! (its entries are indexed under 'c' in the group family, see `codec::stream`).

use std::collections::BTreeMap;

use super::{StreamState, Streams};
use crate::storage::codec::stream::{consumer_key, consumer_prefix, ConsumerRecord, GroupRecord};
use crate::storage::codec::Cf;
use crate::storage::collection::ElementCursor;
use crate::storage::write::WriteTxn;
use crate::storage::StorageError;

/// The consumers one command reads and changes, written back together at its end.
#[derive(Default)]
pub(super) struct ConsumerBook {
    loaded: BTreeMap<Vec<u8>, Option<ConsumerRecord>>,
}

impl ConsumerBook {
    /// The record of `name`, read once per command; `None` when there is no such consumer.
    pub(super) fn get(
        &mut self,
        streams: &Streams<'_>,
        s: &StreamState,
        group: &[u8],
        name: &[u8],
    ) -> Result<Option<&mut ConsumerRecord>, StorageError> {
        if !self.loaded.contains_key(name) {
            let rec = streams.consumer(s, group, name)?;
            self.loaded.insert(name.to_vec(), rec);
        }
        Ok(self.loaded.get_mut(name).and_then(Option::as_mut))
    }

    /// The record of `name`, created (counted in `g`) when missing; its seen time becomes
    /// `now` either way (Redis refreshes it on every lookup by a reading command).
    pub(super) fn seen(
        &mut self,
        streams: &Streams<'_>,
        s: &StreamState,
        group: &[u8],
        g: &mut GroupRecord,
        name: &[u8],
        now: u64,
    ) -> Result<(&mut ConsumerRecord, bool), StorageError> {
        let exists = self.get(streams, s, group, name)?.is_some();
        if !exists {
            g.consumers += 1;
            self.loaded.insert(
                name.to_vec(),
                Some(ConsumerRecord {
                    seen_time_ms: now,
                    active_time_ms: 0,
                    pending: 0,
                }),
            );
        }
        let rec = self
            .loaded
            .get_mut(name)
            .and_then(Option::as_mut)
            .ok_or_else(|| StorageError::Corrupt("consumer record".into()))?;
        rec.seen_time_ms = now;
        Ok((rec, !exists))
    }

    /// Writes every record read or created.
    pub(super) fn flush(self, txn: &mut WriteTxn<'_>, s: &StreamState, group: &[u8]) {
        for (name, rec) in self.loaded {
            if let Some(rec) = rec {
                txn.put_element(
                    Cf::StreamGroup,
                    &s.c,
                    &consumer_key(group, &name),
                    &rec.encode(),
                );
            }
        }
    }
}

impl Streams<'_> {
    /// Whether stream `key` has a group `group` with a consumer `name` (no keyspace hit or
    /// miss is counted: commands ask it to know whether they created the consumer).
    pub fn has_consumer(
        &self,
        key: &[u8],
        group: &[u8],
        name: &[u8],
    ) -> Result<bool, StorageError> {
        let Some(s) = self.stream_read(self.db, key)? else {
            return Ok(false);
        };
        Ok(self.consumer(&s, group, name)?.is_some())
    }

    /// The record of consumer `name` of `group`.
    pub(super) fn consumer(
        &self,
        s: &StreamState,
        group: &[u8],
        name: &[u8],
    ) -> Result<Option<ConsumerRecord>, StorageError> {
        Ok(self
            .engine
            .get(Cf::StreamGroup, &s.key(&consumer_key(group, name)))?
            .and_then(|raw| ConsumerRecord::decode(&raw)))
    }

    /// Every consumer of `group`, in name order.
    pub fn consumers_of(
        &self,
        s: &StreamState,
        group: &[u8],
    ) -> Result<Vec<(Vec<u8>, ConsumerRecord)>, StorageError> {
        let prefix = s.key(&consumer_prefix(group));
        let skip = prefix.len();
        let mut cur =
            ElementCursor::over(self.engine.prefix(Cf::StreamGroup, &prefix), skip, false);
        let mut out = Vec::new();
        while let Some((name, value)) = cur.current() {
            if let Some(rec) = ConsumerRecord::decode(value) {
                out.push((name.to_vec(), rec));
            }
            cur.advance();
        }
        cur.status()?;
        Ok(out)
    }
}
