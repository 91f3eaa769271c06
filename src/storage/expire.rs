//! Removal of keys whose deadline has passed.
//!
//! Reads treat an expired key as absent at once (lazy expiry) and queue it here; the active
//! expirer thread deletes queued keys and walks the deadline-ordered expiry index from its
//! oldest entries up to "now", so each cycle costs in proportion to the keys that are due, never
//! to the size of the keyspace. A removal is an ordinary write through the single write path (it
//! will be replicated like any DEL), made under the key's lock after re-reading the key, so a
//! concurrent SET that gave the key a new life always wins.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};

use super::codec::{
    decode_expire_key, decode_meta_key, encode_element_prefix, encode_expire_key,
    prefix_upper_bound, Cf, CollectionHeader,
};
use super::collection::element_cfs;
use super::types::Writer;
use super::{KeyState, Storage, StorageError};
use crate::util::clock::unix_ms;
use crate::util::stop::StopSignal;

/// Most entries handled per cycle before checking for shutdown again.
const BATCH: usize = 1000;
/// Pause between cycles when nothing is due.
const IDLE: Duration = Duration::from_millis(100);
/// The index is re-read from this far before the last processed deadline, covering writes that
/// computed their deadline just before a cycle and committed just after it.
const WATERMARK_MARGIN_MS: u64 = 10_000;

/// A key and its physical database.
type DbKey = (u16, Vec<u8>);

/// Keys found expired by readers, waiting for the expirer to delete them.
pub struct LazyQueue {
    tx: Sender<DbKey>,
    rx: Receiver<DbKey>,
}

impl Default for LazyQueue {
    fn default() -> Self {
        let (tx, rx) = bounded(4096);
        LazyQueue { tx, rx }
    }
}

impl LazyQueue {
    /// Queues a key; when the queue is full the active walk will find the key anyway.
    pub fn push(&self, pdb: u16, key: &[u8]) {
        let _ = self.tx.try_send((pdb, key.to_vec()));
    }
}

thread_local! {
    /// Keys the command running on this thread found expired, while one runs under
    /// [`Storage::deleting_found_expired`].
    static FOUND_EXPIRED: RefCell<Option<Vec<DbKey>>> = const { RefCell::new(None) };
}

/// What removing a key found expired came to.
enum Removal {
    /// It is not expired (any more).
    NotDue,
    Removed,
    /// A big collection: the column families and element prefix to compact before removing it.
    Reclaim(&'static [Cf], Vec<u8>),
}

/// Lets DEBUG SET-ACTIVE-EXPIRE pause the active walk (lazy expiry still applies).
pub static ACTIVE_EXPIRE_ENABLED: AtomicBool = AtomicBool::new(true);

/// `small-compaction-threshold`: an expiring collection of at least this many elements has
/// their range compacted before its key is removed (0: never).
pub static RECLAIM_MIN_ELEMENTS: AtomicU64 = AtomicU64::new(5000);

/// The element column families and element prefix of the collection `state` holds, when it
/// has at least [`RECLAIM_MIN_ELEMENTS`] elements: an expiring one is compacted away before
/// its key is removed, so its disk space comes back now, not at some later compaction
/// (Pika's small compaction).
fn reclaimable_elements(state: &KeyState) -> Option<(&'static [Cf], Vec<u8>)> {
    let min = RECLAIM_MIN_ELEMENTS.load(Ordering::Relaxed);
    let meta = state.stored.as_ref()?;
    if min == 0 || !meta.data_type.is_collection() {
        return None;
    }
    let header = CollectionHeader::decode(&meta.body)?;
    (header.count >= min).then(|| {
        let prefix = encode_element_prefix(state.pdb, state.slot, state.key(), header.version);
        (element_cfs(meta.data_type), prefix)
    })
}

impl Storage {
    /// Keeps expired keys (read as missing all the same) until unix ms `until`, 0 for none:
    /// a CLIENT PAUSE holds back what writes, expiry included.
    pub fn pause_expiry_until(&self, until: u64) {
        self.expiry_paused_until.store(until, Ordering::Relaxed);
    }

    fn expiry_paused(&self) -> bool {
        let until = self.expiry_paused_until.load(Ordering::Relaxed);
        until != 0 && until > crate::util::clock::unix_ms()
    }

    /// Deletes `key` of physical db `pdb` if it is still expired. Returns whether it was removed.
    fn expire_if_due(&self, pdb: u16, key: &[u8]) -> Result<bool, StorageError> {
        if self.is_replica() {
            // The master's deletion arrives through replication.
            return Ok(false);
        }
        let (cfs, from) = match self.remove_unless_big(key, || self.load_physical(pdb, key))? {
            Removal::NotDue => return Ok(false),
            Removal::Removed => return Ok(true),
            Removal::Reclaim(cfs, from) => (cfs, from),
        };
        // Compacted without the key's lock, which its writers would wait for: the compaction
        // filter drops an expired key's elements on a master, and a key recreated meanwhile
        // has a new version, whose elements it keeps.
        let to = prefix_upper_bound(&from);
        for &cf in cfs {
            self.engine.compact_range(cf, Some(&from), to.as_deref());
        }
        let _guard = self.lock_keys([key]);
        // Read as is: finding it expired above told tracking clients already.
        let state = self.load_as_is(pdb, key)?;
        if !state.is_expired() {
            return Ok(false);
        }
        self.remove_expired(&state)
    }

    /// Under `key`'s lock, removes it when `load` finds it expired, unless it is a big
    /// collection whose elements are to be compacted away first.
    fn remove_unless_big(
        &self,
        key: &[u8],
        load: impl FnOnce() -> Result<KeyState, StorageError>,
    ) -> Result<Removal, StorageError> {
        let _guard = self.lock_keys([key]);
        let state = load()?;
        if !state.is_expired() {
            return Ok(Removal::NotDue);
        }
        match reclaimable_elements(&state) {
            Some((cfs, from)) => Ok(Removal::Reclaim(cfs, from)),
            None => self.remove_expired(&state).map(|_| Removal::Removed),
        }
    }

    /// Runs `command`, then deletes the keys it found expired, as Redis deletes an expired
    /// key in the read that finds it: the client's next command (INFO, SCAN, DBSIZE) sees it
    /// gone and counted. Left to the expirer: big collections (their compaction would hold up
    /// the thread), keys found while a pause holds expiry back, keys found on a slave (the
    /// master's deletion arrives through replication).
    pub fn deleting_found_expired<R>(&self, command: impl FnOnce() -> R) -> R {
        let outermost = FOUND_EXPIRED.with(|found| {
            let mut found = found.borrow_mut();
            if found.is_some() {
                return false;
            }
            *found = Some(Vec::new());
            true
        });
        let result = command();
        if outermost {
            let found = FOUND_EXPIRED.with(|found| found.borrow_mut().take());
            for (pdb, key) in found.unwrap_or_default() {
                self.delete_found_expired(pdb, &key);
            }
        }
        result
    }

    /// A read found `key` expired: the running command's thread deletes it after the command
    /// (see [`Storage::deleting_found_expired`]), or else the expirer does.
    pub(super) fn found_expired(&self, pdb: u16, key: &[u8]) {
        let kept = FOUND_EXPIRED.with(|found| match found.borrow_mut().as_mut() {
            Some(keys) => {
                keys.push((pdb, key.to_vec()));
                true
            }
            None => false,
        });
        if !kept {
            self.lazy_expired.push(pdb, key);
        }
    }

    fn delete_found_expired(&self, pdb: u16, key: &[u8]) {
        if self.is_replica() {
            return;
        }
        if self.expiry_paused() {
            self.lazy_expired.push(pdb, key);
            return;
        }
        // Read as is: the read that found it expired told tracking clients already.
        match self.remove_unless_big(key, || self.load_as_is(pdb, key)) {
            Ok(Removal::NotDue | Removal::Removed) => {}
            Ok(Removal::Reclaim(..)) => self.lazy_expired.push(pdb, key),
            Err(e) => {
                tracing::warn!("lazy expiry failed: {e}");
                self.lazy_expired.push(pdb, key);
            }
        }
    }

    /// Removes the expired record `state`, under its key's lock. Returns true.
    fn remove_expired(&self, state: &KeyState) -> Result<bool, StorageError> {
        // Removing an expired record publishes `expired` (see `WriteTxn::remove`); reading it
        // expired (before, or earlier) told client-side caching already.
        self.timed("expire-del", || {
            let mut txn = self
                .txn_noted(Writer::named("expired"), state.pdb)
                .unreported();
            txn.remove(state);
            txn.commit()
        })?;
        self.stats.expired_keys.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    /// Handles up to `BATCH` due index entries from `from_deadline`; returns the last deadline
    /// seen and whether the batch was full (more may be due).
    fn expire_cycle(&self, from_deadline: u64) -> Result<(u64, bool), StorageError> {
        if self.is_replica() {
            return Ok((from_deadline, false));
        }
        let now = unix_ms();
        let lower = from_deadline.to_be_bytes();
        let upper = (now + 1).to_be_bytes();
        let mut due = Vec::new();
        {
            let mut cur = self.engine.range(Cf::Expire, &lower, Some(&upper));
            while let Some((k, _)) = cur.current() {
                due.push(k.to_vec());
                if due.len() >= BATCH {
                    break;
                }
                cur.advance();
            }
            cur.status()?;
        }
        let mut last = from_deadline;
        for raw in &due {
            let Some((deadline, meta_key)) = decode_expire_key(raw) else {
                continue;
            };
            last = deadline;
            let Some((pdb, slot, key)) = decode_meta_key(meta_key) else {
                continue;
            };
            if !self.expire_if_due(pdb, key)? {
                // Stale entry: the key was deleted or got another deadline.
                let _guard = self.lock_keys([key]);
                let state = self.load_physical(pdb, key)?;
                if state.stored.as_ref().map(|m| m.expire_ms) != Some(deadline) {
                    let mut txn = self.txn_noted(Writer::named("expired"), pdb);
                    txn.drop_stale_expire_entry(&encode_expire_key(deadline, pdb, slot, key));
                    txn.commit()?;
                }
            }
        }
        Ok((last, due.len() >= BATCH))
    }

    /// Deletes queued lazily-expired keys.
    fn drain_lazy(&self, first: Option<DbKey>) -> Result<(), StorageError> {
        let mut next = first;
        let mut handled = 0;
        while let Some((pdb, key)) = next {
            self.expire_if_due(pdb, &key)?;
            handled += 1;
            if handled >= BATCH {
                break;
            }
            next = self.lazy_expired.rx.try_recv().ok();
        }
        Ok(())
    }
}

/// How often a paused expirer looks whether the pause is over.
const PAUSED_POLL: Duration = Duration::from_millis(10);

/// The active expirer: deletes keys reads found expired and, while active expiry is on, scans
/// for due keys; returns when `stop` is set.
pub fn run_expirer(storage: &Storage, stop: &StopSignal) {
    let mut watermark = 0u64;
    let mut busy = false;
    while !stop.is_stopped() {
        let first = if busy {
            storage.lazy_expired.rx.try_recv().ok()
        } else {
            match storage.lazy_expired.rx.recv_timeout(IDLE) {
                Ok(item) => Some(item),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        };
        if storage.expiry_paused() {
            // CLIENT PAUSE: what reads queued stays queued for after the pause.
            if let Some((pdb, key)) = first {
                storage.lazy_expired.push(pdb, &key);
            }
            std::thread::sleep(PAUSED_POLL);
            continue;
        }
        if let Err(e) = storage.drain_lazy(first) {
            tracing::warn!("lazy expiry failed: {e}");
        }
        if !ACTIVE_EXPIRE_ENABLED.load(Ordering::Relaxed) {
            busy = false;
            continue;
        }
        let cycle = storage.timed("expire-cycle", || {
            storage.expire_cycle(watermark.saturating_sub(WATERMARK_MARGIN_MS))
        });
        if let Err(e) = storage.engine().sync_wal() {
            tracing::warn!("WAL flush after expiry failed: {e}");
        }
        match cycle {
            Ok((last, more)) => {
                if more {
                    storage
                        .stats
                        .expire_cycles_capped
                        .fetch_add(1, Ordering::Relaxed);
                }
                watermark = watermark.max(last);
                busy = more;
            }
            Err(e) => {
                tracing::warn!("active expiry failed: {e}");
                busy = false;
            }
        }
    }
}
