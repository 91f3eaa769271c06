//! Codis' per-slot key index, kept when `slotmigrate` is on (Pika's directive): one empty
//! record per key in the default column family,
//!
//! ```text
//! "codis-slot" | db: u16 BE | codis slot: u16 BE | user key  ->  (empty)
//! ```
//!
//! written in the same batch as the key's creation and deletion, so SLOTSINFO, SLOTSSCAN and
//! SLOTSMGRT* read one Codis slot's keys without walking the keyspace. An entry may outlive
//! its key (an expired key dropped by compaction): readers confirm against the meta record,
//! and SLOTSCHECK removes such entries.

use std::sync::atomic::Ordering;

use crate::storage::codec::{self, Cf, MetaValue};
use crate::storage::types::{Keyspace, Writer};
use crate::storage::{Storage, StorageError};
use crate::util::clock::unix_ms;
use crate::util::codis::codis_slot;

/// Prefix of every index record.
const PREFIX: &[u8] = b"codis-slot";

/// Marks an index that covers every key (built, then kept by every write since).
const COMPLETE: &[u8] = b"codis-slot-index-complete";

/// Index records written per batch while the index is built.
const BUILD_BATCH: usize = 10_000;

/// The index record of `key` in physical database `pdb`.
pub fn entry(pdb: u16, key: &[u8]) -> Vec<u8> {
    let mut k = slot_prefix(pdb, codis_slot(key));
    k.extend_from_slice(key);
    k
}

/// The first index record of a Codis slot.
fn slot_prefix(pdb: u16, slot: u16) -> Vec<u8> {
    let mut k = PREFIX.to_vec();
    k.extend_from_slice(&pdb.to_be_bytes());
    k.extend_from_slice(&slot.to_be_bytes());
    k
}

/// Bounds of every index record of database `pdb`.
pub fn db_range(pdb: u16) -> (Vec<u8>, Vec<u8>) {
    let mut lower = PREFIX.to_vec();
    lower.extend_from_slice(&pdb.to_be_bytes());
    let mut upper = PREFIX.to_vec();
    match pdb.checked_add(1) {
        Some(next) => upper.extend_from_slice(&next.to_be_bytes()),
        None => upper.extend_from_slice(&[0xff; 3]),
    }
    (lower, upper)
}

impl Storage {
    /// Turns the index on or off at start: on, it is built first if it does not cover every
    /// key; off, it is dropped (writes no longer keep it).
    pub fn set_codis_index(&self, on: bool) -> Result<(), StorageError> {
        let complete = self.engine().get(Cf::Default, COMPLETE)?.is_some();
        if on && !complete {
            self.build_codis_index()?;
        } else if !on && complete {
            let mut txn = self.txn_noted(
                Writer::INTERNAL,
                crate::storage::batch_note::BatchNote::NO_DB,
            );
            txn.delete_system(COMPLETE);
            for pdb in 0..self.databases() as u16 {
                let (lower, upper) = db_range(self.physical(pdb as usize)?);
                txn.delete_system_range(&lower, &upper);
            }
            txn.commit()?;
        }
        self.codis_index.store(on, Ordering::SeqCst);
        Ok(())
    }

    /// True when writes keep the index.
    pub fn codis_index_on(&self) -> bool {
        self.codis_index.load(Ordering::Relaxed)
    }

    /// Writes an index record for every key (writers are kept out meanwhile).
    fn build_codis_index(&self) -> Result<(), StorageError> {
        let _structure = self.lock_structure();
        tracing::info!("building the Codis slot index (slotmigrate yes)");
        let mut built = 0u64;
        let mut txn = self.txn_noted(
            Writer::INTERNAL,
            crate::storage::batch_note::BatchNote::NO_DB,
        );
        let mut in_batch = 0;
        let mut cur = self.engine().range(Cf::Meta, &[], None);
        while let Some((k, _)) = cur.current() {
            if let Some((pdb, _, key)) = codec::decode_meta_key(k) {
                txn.put_system(&entry(pdb, key), b"");
                in_batch += 1;
                built += 1;
            }
            if in_batch >= BUILD_BATCH {
                txn.commit()?;
                txn = self.txn_noted(
                    Writer::INTERNAL,
                    crate::storage::batch_note::BatchNote::NO_DB,
                );
                in_batch = 0;
            }
            cur.advance();
        }
        cur.status()?;
        txn.put_system(COMPLETE, b"");
        txn.commit()?;
        tracing::info!("Codis slot index built: {built} keys");
        Ok(())
    }
}

impl Keyspace<'_> {
    /// Live keys of Codis slot `slot`, skipping the first `skip` entries, at most `limit`.
    /// Returns them with the number of entries walked (the SLOTSSCAN cursor moves by it).
    pub fn codis_keys(
        &self,
        slot: u16,
        skip: usize,
        limit: usize,
    ) -> Result<(Vec<Vec<u8>>, usize), StorageError> {
        let pdb = self.physical(self.db)?;
        let lower = slot_prefix(pdb, slot);
        let upper = slot_prefix(pdb, slot + 1);
        let now = unix_ms();
        let mut cur = self.engine().range(Cf::Default, &lower, Some(&upper));
        let (mut keys, mut walked) = (Vec::new(), 0usize);
        while keys.len() < limit {
            let Some((k, _)) = cur.current() else {
                break;
            };
            if walked >= skip {
                let key = &k[lower.len()..];
                let meta = self.engine().get(
                    Cf::Meta,
                    &codec::encode_meta_key(pdb, crate::util::slot::key_slot(key), key),
                )?;
                if meta.is_some_and(|v| MetaValue::raw_is_live(&v, now)) {
                    keys.push(key.to_vec());
                }
            }
            walked += 1;
            cur.advance();
        }
        cur.status()?;
        Ok((keys, walked))
    }

    /// How many live keys Codis slot `slot` holds.
    pub fn codis_count(&self, slot: u16) -> Result<u64, StorageError> {
        Ok(self.codis_keys(slot, 0, usize::MAX)?.0.len() as u64)
    }

    /// SLOTSCHECK: adds the record of every key the index misses and drops records whose key
    /// is gone. Returns (added, dropped).
    pub fn codis_check(&self) -> Result<(u64, u64), StorageError> {
        let _structure = self.lock_structure();
        let pdb = self.physical(self.db)?;
        let (mut added, mut dropped) = (0, 0);
        let mut txn = self.txn();
        let (lower, upper) = (codec::db_lower_bound(pdb), codec::db_upper_bound(pdb));
        let mut cur = self.engine().range(Cf::Meta, &lower, Some(&upper));
        while let Some((k, _)) = cur.current() {
            let key = &k[codec::KEY_PREFIX_LEN..];
            let record = entry(pdb, key);
            if self.engine().get(Cf::Default, &record)?.is_none() {
                txn.put_system(&record, b"");
                added += 1;
            }
            cur.advance();
        }
        cur.status()?;
        let (lower, upper) = db_range(pdb);
        let mut cur = self.engine().range(Cf::Default, &lower, Some(&upper));
        while let Some((k, _)) = cur.current() {
            let key = &k[lower.len() + 2..];
            let meta_key = codec::encode_meta_key(pdb, crate::util::slot::key_slot(key), key);
            if self.engine().get(Cf::Meta, &meta_key)?.is_none() {
                txn.delete_system(k);
                dropped += 1;
            }
            cur.advance();
        }
        cur.status()?;
        txn.commit()?;
        Ok((added, dropped))
    }
}
