//! Keys that blocked clients wait on, and which of them received data.
//!
//! A blocking command (BLPOP, BZPOPMIN, ...) that finds nothing *watches* its keys; the write
//! path *signals* every watched list or sorted-set key a committed batch stored, whoever wrote
//! it (a client, a transaction, replication). The server takes the signalled keys after each
//! command and serves the waiting clients in arrival order. Watching counts, so several waiters
//! on one key keep it watched until the last one leaves. Keys are physical (db, key) pairs.
//!
//! Keys signalled outside a command (batches a slave applied) have no command after which the
//! server would look: their writer [publishes](ReadyKeys::publish) them, which wakes the
//! server through [`ReadyKeys::published`].

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

/// A physical database id and a user key.
pub type DbKey = (u16, Vec<u8>);

/// Watched keys and the signalled ones (see the module doc).
pub struct ReadyKeys {
    watched: Mutex<HashMap<DbKey, usize>>,
    /// Number of watched keys: lets the write path skip the lock when nobody waits.
    watched_count: AtomicUsize,
    ready: Mutex<Vec<DbKey>>,
    /// Set when `ready` is non-empty.
    pending: AtomicBool,
    /// One wake-up for the server, held until a worker takes it (more would add nothing:
    /// serving takes every signalled key).
    published_tx: Sender<()>,
    published_rx: Receiver<()>,
}

impl Default for ReadyKeys {
    fn default() -> Self {
        let (published_tx, published_rx) = crossbeam_channel::bounded(1);
        ReadyKeys {
            watched: Mutex::default(),
            watched_count: AtomicUsize::new(0),
            ready: Mutex::default(),
            pending: AtomicBool::new(false),
            published_tx,
            published_rx,
        }
    }
}

impl ReadyKeys {
    /// One more waiter on `key`.
    pub fn watch(&self, pdb: u16, key: &[u8]) {
        let mut w = self.watched.lock();
        *w.entry((pdb, key.to_vec())).or_insert(0) += 1;
        self.watched_count.store(w.len(), Ordering::Release);
    }

    /// One waiter fewer on `key`.
    pub fn unwatch(&self, pdb: u16, key: &[u8]) {
        let mut w = self.watched.lock();
        let k = (pdb, key.to_vec());
        if let Some(n) = w.get_mut(&k) {
            *n -= 1;
            if *n == 0 {
                w.remove(&k);
            }
        }
        self.watched_count.store(w.len(), Ordering::Release);
    }

    /// The watched keys of physical database `pdb` (FLUSHDB re-checks them).
    pub fn watched_in(&self, pdb: u16) -> Vec<Vec<u8>> {
        if !self.any_watched() {
            return Vec::new();
        }
        self.watched
            .lock()
            .keys()
            .filter(|(p, _)| *p == pdb)
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// True when some client waits on some key (cheap; no lock).
    pub fn any_watched(&self) -> bool {
        self.watched_count.load(Ordering::Acquire) > 0
    }

    /// Marks `key` as having received data if someone waits on it.
    pub fn signal(&self, pdb: u16, key: &[u8]) {
        if !self.any_watched() {
            return;
        }
        let k = (pdb, key.to_vec());
        if !self.watched.lock().contains_key(&k) {
            return;
        }
        self.force_signal(k);
    }

    /// Marks `key` for a re-check whether or not it is watched yet (a client about to wait
    /// re-checks its keys, closing the gap between its failed read and its registration).
    pub fn force_signal(&self, key: DbKey) {
        let mut r = self.ready.lock();
        if !r.contains(&key) {
            r.push(key);
        }
        self.pending.store(true, Ordering::Release);
    }

    /// True when signalled keys wait to be served (cheap; no lock).
    pub fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Tells the server that keys were signalled outside a command (a slave applied the
    /// master's batches), so that it serves their waiters now.
    pub fn publish(&self) {
        if self.has_pending() {
            // Full: a wake-up is already waiting for a worker.
            let _ = self.published_tx.try_send(());
        }
    }

    /// Receives a message after each [`ReadyKeys::publish`] that found signalled keys: the
    /// server waits on it.
    pub fn published(&self) -> &Receiver<()> {
        &self.published_rx
    }

    /// Takes the signalled keys, in signal order, without duplicates.
    pub fn take(&self) -> Vec<DbKey> {
        let mut r = self.ready.lock();
        self.pending.store(false, Ordering::Release);
        let mut seen = HashSet::new();
        std::mem::take(&mut *r)
            .into_iter()
            .filter(|k| seen.insert(k.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_watched_keys_are_signalled() {
        let r = ReadyKeys::default();
        r.signal(0, b"a");
        assert!(!r.has_pending());
        r.watch(0, b"a");
        r.watch(0, b"a");
        r.signal(0, b"b");
        assert!(!r.has_pending());
        r.signal(0, b"a");
        r.signal(0, b"a");
        assert_eq!(r.take(), vec![(0, b"a".to_vec())]);
        assert!(!r.has_pending());
        r.unwatch(0, b"a");
        assert!(r.any_watched());
        r.unwatch(0, b"a");
        assert!(!r.any_watched());
    }

    #[test]
    fn publishing_wakes_the_server_once_and_only_for_signalled_keys() {
        let r = ReadyKeys::default();
        r.publish();
        assert!(r.published().try_recv().is_err());
        r.watch(0, b"a");
        r.signal(0, b"a");
        r.publish();
        r.publish();
        assert!(r.published().try_recv().is_ok());
        assert!(r.published().try_recv().is_err());
    }
}
