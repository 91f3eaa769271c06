//! The single write path: every mutation of user data is a [`WriteTxn`] committed here.
//!
//! A transaction collects the RocksDB mutations of one command, keeps the expiry index and the
//! per-database key counters in step with the meta records it writes, and applies everything as
//! one atomic batch. Replication will hook its binlog append into [`WriteTxn::commit`], so no
//! other code may write user data to the engine.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::batch_note::{BatchNote, TransactionMark};
use super::cache::body::Body;
use super::codec::{self, encode_expire_key, Cf, DataType, MetaValue, SysKey};
use super::engine::Batch;
use super::types::Writer;
use super::{KeyState, Storage, StorageError};
use crate::util::keyspace_events::EventClasses;

thread_local! {
    /// A meta record or batch note being encoded into a batch (which copies it): one buffer per thread
    /// instead of an allocation per write.
    static ENCODED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Largest [`ENCODED`] buffer kept for the next write: a big value's is given back.
const ENCODED_KEPT: usize = 64 * 1024;

/// Mutations of one command, applied atomically by [`WriteTxn::commit`].
pub struct WriteTxn<'a> {
    storage: &'a Storage,
    batch: Batch<'a>,
    /// Changes per physical database of (key count, count of keys with a deadline), applied
    /// after the batch lands.
    dbsize_deltas: Vec<(u16, i64, i64)>,
    /// Meta records written (None: deleted), applied to the cache after the batch lands.
    cache_updates: Vec<(Vec<u8>, Option<MetaValue>)>,
    /// Collections the write leaves as these bodies (write-through; see `set_body`).
    body_sets: Vec<(Vec<u8>, Arc<Body>)>,
    /// Collections whose elements this batch writes (meta keys): their tier bodies are dropped
    /// after it lands. Collected only while the tier holds collection types.
    body_drops: Vec<Vec<u8>>,
    /// Physical databases cleared by this batch, dropped from the cache after it lands.
    cleared_dbs: Vec<u16>,
    /// List, sorted-set and stream keys stored (and streams removed), signalled to blocked clients after the batch lands.
    stored_blockable: Vec<(u16, Vec<u8>)>,
    /// Keys stored (false) or removed (true), reported to WATCH and to client-side caching
    /// after the batch lands; only collected while some key is watched or some client tracks.
    touched: Vec<(super::ready::DbKey, bool)>,
    /// Whether the batch's changes go to client-side caching (a lazily expired key's removal
    /// was reported when a read found it).
    reported: bool,
    /// Set when the batch lands inside a transaction group, so the group writes its end.
    group_wrote: Option<&'a std::cell::Cell<bool>>,
    /// Keyspace notifications the batch raises (`expired` for an expired record it replaces,
    /// `new` for a key it creates), published after it lands; only collected while those
    /// classes are on.
    events: Vec<StorageEvent>,
}

/// A keyspace notification raised by the write path: class, event, physical database, key.
type StorageEvent = (EventClasses, &'static str, u16, Vec<u8>);

/// The batches written by scopes whose [`Writer`] carries this group (the commands of one EXEC)
/// form one transaction in the binlog (see `batch_note`): a slave applies them together.
/// Ending it writes the closing batch, if any batch was written.
pub struct TransactionGroup<'a> {
    storage: &'a Storage,
    id: u64,
    /// Whether a batch of the group was committed yet.
    wrote: std::cell::Cell<bool>,
}

impl TransactionGroup<'_> {
    /// Ends the group: writes its closing batch when the transaction wrote anything.
    pub fn finish(self) -> Result<(), StorageError> {
        self.close()
    }

    /// Idempotent: the first call ends the thread's transaction, later ones find none.
    fn close(&self) -> Result<(), StorageError> {
        if !self.wrote.replace(false) {
            return Ok(());
        }
        let mut txn = self.storage.txn_marked(
            "exec",
            BatchNote::NO_DB,
            Some(TransactionMark {
                id: self.id,
                closing: true,
            }),
        );
        txn.put_system(SysKey::TRANSACTION_END, &self.id.to_be_bytes());
        txn.commit()
    }
}

impl Drop for TransactionGroup<'_> {
    /// Ends a group `finish` was not reached for (a command panicked inside EXEC): a slave
    /// would otherwise hold its batches back.
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::error!("cannot write the end of transaction {}: {e}", self.id);
        }
    }
}

impl Storage {
    /// Starts a transaction (EXEC): the batches of writers that carry the group are marked as
    /// one, until it is finished.
    pub fn begin_transaction(&self) -> TransactionGroup<'_> {
        let id = self.next_transaction_id.fetch_add(1, Ordering::Relaxed);
        TransactionGroup {
            storage: self,
            id,
            wrote: std::cell::Cell::new(false),
        }
    }

    /// Starts a write transaction of `writer` in logical database `db` (see [`Scope::txn`]).
    ///
    /// [`Scope::txn`]: super::types::Scope::txn
    pub(super) fn txn_by<'a>(&'a self, writer: Writer<'a>, db: usize) -> WriteTxn<'a> {
        self.txn_noted(writer, self.physical(db).unwrap_or(BatchNote::NO_DB))
    }

    /// Starts a write transaction of `writer` whose note names physical database `pdb`
    /// ([`BatchNote::NO_DB`] for writes of no one database).
    pub(super) fn txn_noted<'a>(&'a self, writer: Writer<'a>, pdb: u16) -> WriteTxn<'a> {
        let mark = writer.transaction.map(|group| TransactionMark {
            id: group.id,
            closing: false,
        });
        let mut txn = self.txn_marked(writer.command, pdb, mark);
        txn.group_wrote = writer.transaction.map(|group| &group.wrote);
        txn
    }

    /// Starts a write transaction whose note names `command` and carries `mark`.
    fn txn_marked(&self, command: &str, db: u16, mark: Option<TransactionMark>) -> WriteTxn<'_> {
        let mut batch = self.engine.batch();
        // First in the batch, so a WAL record that merged several batches splits at notes.
        ENCODED.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            BatchNote::encode_marked_into(
                &mut buf,
                crate::util::clock::unix_ms(),
                db,
                command,
                mark,
            );
            batch.log_data(&buf);
        });
        WriteTxn {
            storage: self,
            batch,
            dbsize_deltas: Vec::new(),
            cache_updates: Vec::new(),
            body_sets: Vec::new(),
            body_drops: Vec::new(),
            cleared_dbs: Vec::new(),
            stored_blockable: Vec::new(),
            touched: Vec::new(),
            reported: true,
            group_wrote: None,
            events: Vec::new(),
        }
    }
}

impl<'a> WriteTxn<'a> {
    fn add_counts(&mut self, pdb: u16, keys: i64, expires: i64) {
        if keys == 0 && expires == 0 {
            // An overwrite: nothing to count, and no allocation for it.
            return;
        }
        match self.dbsize_deltas.iter_mut().find(|(p, _, _)| *p == pdb) {
            Some((_, k, e)) => {
                *k += keys;
                *e += expires;
            }
            None => self.dbsize_deltas.push((pdb, keys, expires)),
        }
    }

    /// Whether changed keys are collected: some key is watched or some client tracks.
    fn collects_touched(&self) -> bool {
        self.storage.watches.any() || self.storage.key_changes.wanted()
    }

    /// Keeps the batch's changes from client-side caching (they were reported already).
    pub(super) fn unreported(mut self) -> Self {
        self.reported = false;
        self
    }

    fn touch(&mut self, pdb: u16, key: &[u8], deleted: bool) {
        if self.collects_touched() {
            self.touched.push(((pdb, key.to_vec()), deleted));
        }
    }

    /// An element write changes its collection's key.
    fn touch_element(&mut self, element_key: &[u8]) {
        if self.storage.tier.holds_bodies() {
            if let Some((meta_key, _, _)) = codec::decode_element_key(element_key) {
                if self.body_drops.last() != Some(&meta_key) {
                    self.body_drops.push(meta_key);
                }
            }
        }
        if !self.collects_touched() {
            return;
        }
        if let Some((meta_key, _, _)) = codec::decode_element_key(element_key) {
            if let Some((pdb, _, key)) = codec::decode_meta_key(&meta_key) {
                self.touched.push(((pdb, key.to_vec()), false));
            }
        }
    }

    fn drop_expire_entry(&mut self, state: &KeyState, keep_deadline: u64) {
        if let Some(old) = &state.stored {
            if old.expire_ms != 0 && old.expire_ms != keep_deadline {
                let k = encode_expire_key(old.expire_ms, state.pdb, state.slot, state.key());
                self.batch.delete(Cf::Expire, &k);
            }
        }
    }

    /// Raises `expired` for an expired record `state` replaces and `new` for a key it creates
    /// (once per key and batch).
    fn note_creation(&mut self, state: &KeyState) {
        if state.live().is_some() {
            return;
        }
        let created = |e: &StorageEvent| e.1 == "new" && e.2 == state.pdb && e.3 == state.key();
        if self.events.iter().any(created) {
            return;
        }
        if state.stored.is_some() {
            let key = state.key().to_vec();
            self.events
                .push((EventClasses::EXPIRED, "expired", state.pdb, key));
        }
        self.events
            .push((EventClasses::NEW, "new", state.pdb, state.key().to_vec()));
    }

    /// Stores `meta` as the new record of the key described by `state` (read under its lock).
    pub fn put(&mut self, state: &KeyState, meta: &MetaValue) {
        if self
            .storage
            .notifier
            .wants(EventClasses::NEW | EventClasses::EXPIRED)
        {
            self.note_creation(state);
        }
        self.drop_expire_entry(state, meta.expire_ms);
        if meta.expire_ms != 0 {
            let k = encode_expire_key(meta.expire_ms, state.pdb, state.slot, state.key());
            self.batch.put(Cf::Expire, &k, b"");
        }
        ENCODED.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            meta.encode_into(&mut buf);
            self.batch.put(Cf::Meta, &state.meta_key, &buf);
            if buf.capacity() > ENCODED_KEPT {
                *buf = Vec::new();
            }
        });
        self.cache_updates
            .push((state.meta_key.clone(), Some(meta.detached())));
        if state.stored.is_none() && self.storage.codis_index_on() {
            let record = super::codis_index::entry(state.pdb, state.key());
            self.batch.put(Cf::Default, &record, b"");
        }
        let had_ttl = state.stored.as_ref().is_some_and(|m| m.expire_ms != 0);
        let keys = i64::from(state.stored.is_none());
        let expires = i64::from(meta.expire_ms != 0) - i64::from(had_ttl);
        self.add_counts(state.pdb, keys, expires);
        self.touch(state.pdb, state.key(), false);
        // A stream replaced by another type wakes its XREADGROUP waiters, which then fail.
        let was_stream = state
            .stored
            .as_ref()
            .is_some_and(|m| m.data_type == DataType::Stream);
        if (was_stream
            || matches!(
                meta.data_type,
                DataType::List | DataType::ZSet | DataType::Stream
            ))
            && self.storage.ready.any_watched()
        {
            self.stored_blockable
                .push((state.pdb, state.key().to_vec()));
        }
    }

    /// Leaves the tier holding `body` for the collection at `meta_key` once the write has
    /// committed, instead of dropping its body, when the tier holds the key then.
    pub(super) fn set_body(&mut self, meta_key: &[u8], body: Body) {
        self.body_drops.retain(|k| k != meta_key);
        self.body_sets.push((meta_key.to_vec(), Arc::new(body)));
    }

    /// Writes a collection element (see `collection`); only element column families.
    pub(super) fn put_raw(&mut self, cf: Cf, key: &[u8], value: &[u8]) {
        debug_assert!(cf.holds_elements());
        self.touch_element(key);
        self.batch.put(cf, key, value);
    }

    /// Deletes the collection elements whose keys lie in `[from, to)` (a stream's consumer
    /// group and everything under it); only element column families.
    pub(super) fn delete_raw_range(&mut self, cf: Cf, from: &[u8], to: &[u8]) {
        debug_assert!(cf.holds_elements());
        self.touch_element(from);
        self.batch.delete_range(cf, from, to);
    }

    /// Deletes a collection element (see `collection`); only element column families.
    pub(super) fn delete_raw(&mut self, cf: Cf, key: &[u8]) {
        debug_assert!(cf.holds_elements());
        self.touch_element(key);
        self.batch.delete(cf, key);
    }

    /// Removes the key described by `state`, if it is stored at all (expired or not).
    pub fn remove(&mut self, state: &KeyState) {
        if state.stored.is_none() {
            return;
        }
        // A command removing a record whose deadline passed finds it expired first, as Redis.
        if state.live().is_none() && self.storage.notifier.wants(EventClasses::EXPIRED) {
            self.events.push((
                EventClasses::EXPIRED,
                "expired",
                state.pdb,
                state.key().to_vec(),
            ));
        }
        self.drop_expire_entry(state, 0);
        self.batch.delete(Cf::Meta, &state.meta_key);
        self.cache_updates.push((state.meta_key.clone(), None));
        if self.storage.codis_index_on() {
            let record = super::codis_index::entry(state.pdb, state.key());
            self.batch.delete(Cf::Default, &record);
        }
        let had_ttl = state.stored.as_ref().is_some_and(|m| m.expire_ms != 0);
        self.add_counts(state.pdb, -1, -i64::from(had_ttl));
        self.touch(state.pdb, state.key(), true);
        // XREADGROUP waiters on a deleted stream are answered with an error.
        let was_stream = state
            .stored
            .as_ref()
            .is_some_and(|m| m.data_type == DataType::Stream);
        if was_stream && self.storage.ready.any_watched() {
            self.stored_blockable
                .push((state.pdb, state.key().to_vec()));
        }
    }

    /// Deletes an expiry-index entry that no longer matches its key.
    pub fn drop_stale_expire_entry(&mut self, raw_index_key: &[u8]) {
        self.batch.delete(Cf::Expire, raw_index_key);
    }

    /// Empties physical database `pdb` (caller holds the structure lock).
    pub fn clear_db(&mut self, pdb: u16) {
        self.cleared_dbs.push(pdb);
        // Waiters on keys of the database re-check them (XREADGROUP fails on a vanished stream).
        for key in self.storage.ready.watched_in(pdb) {
            self.stored_blockable.push((pdb, key));
        }
        // Watched keys stored there (expired or not) are deleted by the clear.
        for key in self.storage.watches.keys_in(pdb) {
            let stored = self
                .storage
                .load_physical(pdb, &key)
                .map_or(true, |s| s.stored.is_some());
            if stored {
                self.touched.push(((pdb, key), true));
            }
        }
        self.batch.delete_range(
            Cf::Meta,
            &codec::db_lower_bound(pdb),
            &codec::db_upper_bound(pdb),
        );
        let (lower, upper) = super::codis_index::db_range(pdb);
        self.batch.delete_range(Cf::Default, &lower, &upper);
        // Expiry entries of the cleared keys go stale; the expirer drops them at their deadline.
        let current = |counters: &[std::sync::atomic::AtomicI64]| {
            counters
                .get(pdb as usize)
                .map(|c| c.load(Ordering::Relaxed))
                .unwrap_or(0)
        };
        let keys = current(&self.storage.dbsize);
        let expires = current(&self.storage.expires);
        self.add_counts(pdb, -keys, -expires);
    }

    /// Stores a system record (database map and the like) with the user data of this batch.
    pub fn put_system(&mut self, key: &[u8], value: &[u8]) {
        self.batch.put(Cf::Default, key, value);
    }

    /// Deletes a system record.
    pub fn delete_system(&mut self, key: &[u8]) {
        self.batch.delete(Cf::Default, key);
    }

    /// Deletes the system records in `[from, to)`.
    pub fn delete_system_range(&mut self, from: &[u8], to: &[u8]) {
        self.batch.delete_range(Cf::Default, from, to);
    }

    /// True when the transaction has nothing to write.
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty() && self.dbsize_deltas.is_empty()
    }

    /// Applies everything atomically and then publishes the counter changes.
    pub fn commit(mut self) -> Result<(), StorageError> {
        if self.is_empty() {
            return Ok(());
        }
        let deltas = std::mem::take(&mut self.dbsize_deltas);
        for &(pdb, keys, expires) in &deltas {
            if keys != 0 {
                self.batch.merge(
                    Cf::Default,
                    &SysKey::dbsize(pdb),
                    &codec::counter::add(keys),
                );
            }
            if expires != 0 {
                self.batch.merge(
                    Cf::Default,
                    &SysKey::expires(pdb),
                    &codec::counter::add(expires),
                );
            }
        }
        let storage = self.storage;
        storage.engine.write(self.batch)?;
        if let Some(wrote) = self.group_wrote {
            wrote.set(true);
        }
        for pdb in &self.cleared_dbs {
            storage.cache.remove_prefix(&codec::db_lower_bound(*pdb));
        }
        let changes = self.cache_updates.len() + self.cleared_dbs.len();
        for (key, meta) in &self.cache_updates {
            match meta {
                Some(m) if !storage.tier.admits_record(m) => storage.cache.refresh(key, None),
                _ => storage.cache.update(key, meta.as_ref()),
            }
        }
        for key in &self.body_drops {
            storage.cache.drop_body(key);
        }
        for (key, body) in self.body_sets.drain(..) {
            storage.cache.set_body(&key, body);
        }
        if !self.stored_blockable.is_empty() {
            // Blocked clients may be served by another worker: the data must have landed.
            storage.settle_round();
        }
        for (pdb, key) in &self.stored_blockable {
            storage.ready.signal(*pdb, key);
        }
        storage
            .watches
            .touch(self.touched.iter().map(|(k, deleted)| (k, *deleted)));
        if self.reported {
            if !self.cleared_dbs.is_empty() {
                storage.key_changes.report_all();
            } else if !self.touched.is_empty() {
                storage
                    .key_changes
                    .report(self.touched.iter().map(|((_, key), _)| key.as_slice()));
            }
        }
        storage
            .stats
            .changes_since_save
            .fetch_add(changes as u64, Ordering::Relaxed);
        for (pdb, keys, expires) in deltas {
            if let Some(c) = storage.dbsize.get(pdb as usize) {
                c.fetch_add(keys, Ordering::Relaxed);
            }
            if let Some(c) = storage.expires.get(pdb as usize) {
                c.fetch_add(expires, Ordering::Relaxed);
            }
        }
        for (class, event, pdb, key) in &self.events {
            storage.notify_physical(*class, event, *pdb, key);
        }
        Ok(())
    }
}
