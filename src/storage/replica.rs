//! What storage does for replication: the persistent replication ids and positions, and
//! applying a master's write batches on a slave.
//!
//! The binlog is RocksDB's WAL (see `replication`), so a master's batch arrives exactly as it was
//! committed there. A slave writes it unchanged together with its new position ([`SysKey::REPL_MASTER`]),
//! so a restart resumes right after the last batch applied. What the write path keeps in memory
//! beside RocksDB (meta cache, key counters, database map, blocked clients, WATCH) is brought
//! up to date from the batch's operations afterwards.

use std::sync::atomic::Ordering;

use super::batch_note::BatchNote;
use super::codec::{self, Cf, CounterKind, MetaValue, SysKey};
use super::types::Writer;
use super::wal::{parse_batch, OpKind};
use super::{Storage, StorageError};

/// A fresh 40-hex-digit replication id.
pub fn new_replication_id() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..40)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

impl Storage {
    /// This node's replication id, created on first use.
    pub fn replication_id(&self) -> Result<String, StorageError> {
        if let Some(raw) = self.engine.get(Cf::Default, SysKey::REPL_ID)? {
            if let Ok(id) = String::from_utf8(raw) {
                return Ok(id);
            }
        }
        self.renew_replication_id()
    }

    /// Starts a new history for this node (a freshly installed snapshot), unrelated to any
    /// earlier one.
    pub fn renew_replication_id(&self) -> Result<String, StorageError> {
        let id = new_replication_id();
        let mut txn = self.txn_noted(Writer::named("replication"), BatchNote::NO_DB);
        txn.put_system(SysKey::REPL_ID, id.as_bytes());
        txn.delete_system(SysKey::REPL_ID2);
        txn.commit()?;
        Ok(id)
    }

    /// After a crash: the binlog may have lost a tail that slaves already received, and the
    /// sequence numbers after what survived are about to be reused for other data. A new
    /// history starts here; the old one stays valid up to the last sequence number recovered,
    /// so slaves that are not past it resume incrementally (Redis' `replid2`).
    /// Returns the new id and the last sequence number of the old history.
    pub fn start_history_after_crash(&self) -> Result<(String, u64), StorageError> {
        let old = self.replication_id()?;
        let survived = self.recovered_sequence;
        let id = new_replication_id();
        let mut txn = self.txn_noted(Writer::named("replication"), BatchNote::NO_DB);
        txn.put_system(SysKey::REPL_ID, id.as_bytes());
        txn.put_system(SysKey::REPL_ID2, &encode_position(&old, survived));
        txn.commit()?;
        Ok((id, survived))
    }

    /// The history this node followed before a crash started its current one, and the last
    /// sequence number valid in it.
    pub fn previous_history(&self) -> Result<Option<(String, u64)>, StorageError> {
        let Some(raw) = self.engine.get(Cf::Default, SysKey::REPL_ID2)? else {
            return Ok(None);
        };
        Ok(decode_position(&raw))
    }

    /// True when a slave that applied `applied` of history `replid` holds a prefix of this
    /// node's data: `replid` is the current history, or the previous one up to where it ended.
    pub fn continues_history(&self, replid: &str, applied: u64) -> Result<bool, StorageError> {
        if replid.is_empty() {
            return Ok(false);
        }
        if replid == self.replication_id()? {
            return Ok(true);
        }
        Ok(self
            .previous_history()?
            .is_some_and(|(id, last)| id == replid && applied <= last))
    }

    /// The master history this slave follows and the last of its sequence numbers applied here.
    pub fn master_position(&self) -> Result<Option<(String, u64)>, StorageError> {
        let Some(raw) = self.engine.get(Cf::Default, SysKey::REPL_MASTER)? else {
            return Ok(None);
        };
        Ok(decode_position(&raw))
    }

    /// Records where this slave stands in its master's history (after a full sync).
    pub fn set_master_position(&self, replid: &str, seq: u64) -> Result<(), StorageError> {
        let mut txn = self.txn_noted(Writer::named("replication"), BatchNote::NO_DB);
        txn.put_system(SysKey::REPL_MASTER, &encode_position(replid, seq));
        txn.commit()
    }

    /// Forgets the master (promotion): a later SLAVEOF starts with a full sync.
    pub fn clear_master_position(&self) -> Result<(), StorageError> {
        let mut txn = self.txn_noted(Writer::named("replication"), BatchNote::NO_DB);
        txn.delete_system(SysKey::REPL_MASTER);
        txn.commit()
    }

    /// Marks this store as a slave's: keys are not expired here (the master's deletions
    /// arrive through the binlog), neither by the expirer nor by compaction dropping their
    /// elements, but still read as missing once their deadline passed.
    pub fn set_replica(&self, replica: bool) {
        self.replica.store(replica, Ordering::Relaxed);
        self.engine.set_expired_elements_dead(!replica);
    }

    pub fn is_replica(&self) -> bool {
        self.replica.load(Ordering::Relaxed)
    }

    /// Held by a command while it runs: on a slave, it then sees each master batch applied
    /// wholly or not at all (see [`super::replica_view`]). Nothing on a master.
    pub fn view_whole_batches(&self) -> Option<super::replica_view::ViewGuard<'_>> {
        self.is_replica()
            .then(|| self.replica_view.enter(|| self.settle_round()))
    }

    /// After promotion: versions for new collections continue above every version the old
    /// master handed out (its persisted floor arrived with its data).
    pub fn continue_versions_after_master(&self) -> Result<(), StorageError> {
        self.versions.advance_past_persisted_floor(&self.engine)
    }

    /// Writes a consistent copy of the database into `dir` (full sync) and returns the
    /// sequence number its data ends at. Writers wait while the files are linked and copied.
    pub fn checkpoint(&self, dir: &std::path::Path) -> Result<u64, StorageError> {
        let _quiet = self.lock_structure();
        let seq = self.engine.latest_sequence();
        self.engine.checkpoint(dir)?;
        Ok(seq)
    }

    /// Applies one batch of the master (`data` as committed there), recording that the
    /// master's history `replid` is applied up to `last_seq`. Returns the master's commit time
    /// (Unix ms) of the newest batch, from its note, when it has one.
    pub fn apply_replicated(
        &self,
        data: &[u8],
        replid: &str,
        last_seq: u64,
    ) -> Result<Option<u64>, StorageError> {
        let parsed = parse_batch(data).map_err(|e| StorageError::Corrupt(format!("batch: {e}")))?;
        let position = encode_position(replid, last_seq);
        // Commands wait until the cache below is as current as RocksDB.
        let _applying = self.replica_view.applying();
        // Like any writer, so a checkpoint (for a slave of this slave) sees no write in flight.
        let _writer = self.lock_keys(std::iter::empty());
        let mut extra: Vec<(Cf, &[u8], Vec<u8>)> =
            vec![(Cf::Default, SysKey::REPL_MASTER, position)];
        // The master's own replication ids (a new history after its crash) are not this
        // node's: its own are written back after them in the same batch.
        let renames_master = parsed.ops.iter().any(|op| {
            self.engine.cf_by_id(op.cf) == Some(Cf::Default)
                && (op.key == SysKey::REPL_ID || op.key == SysKey::REPL_ID2)
        });
        if renames_master {
            // Both exist here (the id is created at start); an empty value reads as none.
            for key in [SysKey::REPL_ID, SysKey::REPL_ID2] {
                let own = self.engine.get(Cf::Default, key)?.unwrap_or_default();
                extra.push((Cf::Default, key, own));
            }
        }
        let extra: Vec<(Cf, &[u8], &[u8])> = extra
            .iter()
            .map(|(cf, k, v)| (*cf, *k, v.as_slice()))
            .collect();
        self.engine.write_replicated(data, &extra)?;
        let mut counters_changed = false;
        let mut committed_ms = None;
        // Keys touched, for WATCH and client-side caching; collected only while some client
        // watches or tracks.
        let watching = self.watches.any() || self.key_changes.wanted();
        let mut cleared = false;
        let mut touched = Vec::new();
        for op in &parsed.ops {
            let cf = self.engine.cf_by_id(op.cf);
            match (cf, op.kind) {
                (Some(Cf::Meta), OpKind::Put) => {
                    let meta = MetaValue::decode(&op.value);
                    self.cache.refresh(&op.key, meta.as_ref());
                    if let (Some((pdb, _, key)), Some(meta)) =
                        (codec::decode_meta_key(&op.key), meta.as_ref())
                    {
                        if matches!(
                            meta.data_type,
                            super::DataType::List | super::DataType::ZSet | super::DataType::Stream
                        ) {
                            self.ready.signal(pdb, key);
                        }
                        if watching {
                            touched.push(((pdb, key.to_vec()), false));
                        }
                    }
                }
                (Some(Cf::Meta), OpKind::Delete | OpKind::SingleDelete) => {
                    self.cache.refresh(&op.key, None);
                    if let Some((pdb, _, key)) = codec::decode_meta_key(&op.key) {
                        // A deleted stream's XREADGROUP waiters fail (others wait on).
                        self.ready.signal(pdb, key);
                        if watching {
                            touched.push(((pdb, key.to_vec()), true));
                        }
                    }
                }
                (Some(Cf::Meta), OpKind::DeleteRange) => {
                    // FLUSHDB / FLUSHALL: the range is whole databases.
                    self.cache.remove_prefix(&common_prefix(&op.key, &op.value));
                    counters_changed = true;
                    cleared = true;
                }
                (_, OpKind::LogData) => {
                    if let Some(ms) = BatchNote::decode_time(&op.value) {
                        committed_ms = Some(ms);
                    }
                }
                (Some(Cf::Default), OpKind::Merge) => match SysKey::counter_of(&op.key) {
                    Some((kind, pdb)) => self.apply_counter(kind, pdb, &op.value),
                    None => counters_changed = true,
                },
                (Some(Cf::Default), OpKind::Put) if op.key == SysKey::DB_MAP => {
                    self.reload_db_map()?;
                    cleared = true;
                }
                (Some(cf), _) if cf.holds_elements() => {
                    if let Some((meta_key, _, _)) = codec::decode_element_key(&op.key) {
                        // The tier's copy of the collection is gone with the write.
                        self.cache.drop_body(&meta_key);
                        if watching && matches!(op.kind, OpKind::Put | OpKind::Delete) {
                            if let Some((pdb, _, key)) = codec::decode_meta_key(&meta_key) {
                                touched.push(((pdb, key.to_vec()), false));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if counters_changed {
            self.reload_counters()?;
        }
        if watching {
            self.watches
                .touch(touched.iter().map(|(k, deleted)| (k, *deleted)));
            if cleared {
                self.key_changes.report_all();
            } else {
                self.key_changes
                    .report(touched.iter().map(|((_, key), _)| key.as_slice()));
            }
        }
        self.stats
            .changes_since_save
            .fetch_add(parsed.ops.len() as u64, Ordering::Relaxed);
        Ok(committed_ms)
    }

    /// Follows a counter operand in memory: reading the record back would walk its operands.
    fn apply_counter(&self, kind: CounterKind, pdb: u16, operand: &[u8]) {
        let counters = match kind {
            CounterKind::Keys => &self.dbsize,
            CounterKind::Expires => &self.expires,
        };
        if let Some(c) = counters.get(pdb as usize) {
            let current = c.load(Ordering::Relaxed);
            c.store(codec::counter::apply(current, operand), Ordering::Relaxed);
        }
    }

    /// Re-reads the per-database key counters from disk.
    fn reload_counters(&self) -> Result<(), StorageError> {
        for (pdb, (keys, expires)) in self.dbsize.iter().zip(&self.expires).enumerate() {
            let read = |key: Vec<u8>| -> Result<i64, StorageError> {
                Ok(self
                    .engine
                    .get_with(Cf::Default, &key, codec::counter::decode_value)?
                    .unwrap_or(0))
            };
            keys.store(read(SysKey::dbsize(pdb as u16))?, Ordering::Relaxed);
            expires.store(read(SysKey::expires(pdb as u16))?, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Re-reads the logical → physical database map (SWAPDB on the master).
    fn reload_db_map(&self) -> Result<(), StorageError> {
        let databases = self.databases();
        let map = super::load_db_map(&self.engine, databases)?;
        *self.db_map.write() = map;
        Ok(())
    }
}

/// The longest common prefix of a range's two ends: what a whole-database range covers.
fn common_prefix(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter()
        .zip(b)
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| *x)
        .collect()
}

fn encode_position(replid: &str, seq: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(replid.len() + 8);
    v.extend_from_slice(replid.as_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v
}

fn decode_position(raw: &[u8]) -> Option<(String, u64)> {
    let split = raw.len().checked_sub(8)?;
    let seq = u64::from_be_bytes(raw[split..].try_into().ok()?);
    let replid = String::from_utf8(raw[..split].to_vec()).ok()?;
    Some((replid, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_round_trips() {
        let id = new_replication_id();
        assert_eq!(id.len(), 40);
        let raw = encode_position(&id, 123_456);
        assert_eq!(decode_position(&raw), Some((id, 123_456)));
        assert_eq!(decode_position(b"short"), None);
    }

    #[test]
    fn common_prefix_of_database_bounds() {
        assert_eq!(common_prefix(b"\x00\x01a", b"\x00\x02"), b"\x00".to_vec());
        assert_eq!(common_prefix(b"ab", b"ab"), b"ab".to_vec());
    }
}
