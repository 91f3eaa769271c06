//! The keys of one cluster slot: every key's records start with `db | slot`, so a slot is one
//! contiguous range of the meta column family (CLUSTER COUNTKEYSINSLOT, GETKEYSINSLOT, and
//! dropping a slot this node lost never scan the whole keyspace).

use super::{Keyspace, Writer};
use crate::storage::codec::{self, Cf, MetaValue};
use crate::storage::{Storage, StorageError};
use crate::util::clock::unix_ms;

/// Keys deleted per batch (and per key-lock hold) when a slot is dropped.
const DROP_BATCH: usize = 256;

impl Keyspace<'_> {
    /// Live keys of `slot`, at most `limit`, in key order.
    pub fn keys_in_slot(&self, slot: u16, limit: usize) -> Result<Vec<Vec<u8>>, StorageError> {
        let pdb = self.physical(self.db)?;
        let lower = codec::slot_lower_bound(pdb, slot);
        let upper = codec::slot_lower_bound(pdb, slot + 1);
        let now = unix_ms();
        let mut cur = self.engine.range(Cf::Meta, &lower, Some(&upper));
        let mut keys = Vec::new();
        while keys.len() < limit {
            let Some((k, v)) = cur.current() else {
                break;
            };
            if MetaValue::raw_is_live(v, now) {
                keys.push(k[codec::KEY_PREFIX_LEN..].to_vec());
            }
            cur.advance();
        }
        cur.status()?;
        Ok(keys)
    }

    /// How many live keys `slot` holds.
    pub fn count_in_slot(&self, slot: u16) -> Result<u64, StorageError> {
        let pdb = self.physical(self.db)?;
        let lower = codec::slot_lower_bound(pdb, slot);
        let upper = codec::slot_lower_bound(pdb, slot + 1);
        let now = unix_ms();
        let mut cur = self.engine.range(Cf::Meta, &lower, Some(&upper));
        let mut n = 0;
        while let Some((_, v)) = cur.current() {
            if MetaValue::raw_is_live(v, now) {
                n += 1;
            }
            cur.advance();
        }
        cur.status()?;
        Ok(n)
    }
}

impl Keyspace<'_> {
    /// Deletes the keys `next` lists, batch after batch (of at most `DROP_BATCH`), each under
    /// its key locks, through the write path so replicas follow, until it lists none.
    pub fn delete_batches(
        &self,
        mut next: impl FnMut(&Self, usize) -> Result<Vec<Vec<u8>>, StorageError>,
    ) -> Result<u64, StorageError> {
        let mut deleted = 0;
        loop {
            let batch = next(self, DROP_BATCH)?;
            if batch.is_empty() {
                return Ok(deleted);
            }
            let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
            let _locks = self.lock_keys(refs.iter().copied());
            deleted += self.delete(&refs)? as u64;
        }
    }
}

impl Storage {
    /// Deletes every key of `slot` in database 0 (a cluster node has no other).
    pub fn delete_slot(&self, slot: u16) -> Result<u64, StorageError> {
        self.at(0, Writer::named("del"))
            .keys()
            .delete_batches(|keys, limit| keys.keys_in_slot(slot, limit))
    }
}
