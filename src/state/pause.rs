//! CLIENT PAUSE: commands that arrive while the server is paused wait, parked like blocked
//! clients on a reserved key, and run in arrival order when the pause ends (its timeout, or
//! CLIENT UNPAUSE). WRITE pauses only what may write; ALL pauses every command. Slaves'
//! replication links are never paused.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::storage::Storage;
use crate::util::clock::unix_ms;

/// The key paused clients wait on: when signalled they run again (a user key of that name
/// would only wake them early to wait again).
pub const PAUSE_KEY: &[u8] = b"\x00client-pause";

/// The server's pause, if any.
#[derive(Default)]
pub struct ClientPause {
    /// Unix ms the pause lasts until; past it nothing is paused.
    until_ms: AtomicU64,
    /// Every command waits, not only writes.
    all: AtomicBool,
}

impl ClientPause {
    /// Pauses until unix ms `until` (a later end or ALL extends a pause in force, as in
    /// Redis), and wakes the paused clients when it ends.
    pub fn pause(&self, until: u64, all: bool, storage: &Arc<Storage>) {
        let active = self.until_ms.load(Ordering::SeqCst) > unix_ms();
        self.all.store(
            all || (active && self.all.load(Ordering::SeqCst)),
            Ordering::SeqCst,
        );
        self.until_ms.fetch_max(until, Ordering::SeqCst);
        // Expiry deletes keys: it waits too, as in Redis (reads still see them expired).
        storage.pause_expiry_until(self.until_ms.load(Ordering::SeqCst));
        // A weak handle: a sleeping timer must not keep the storage open (an in-process
        // restart after a full sync waits for every holder to let go).
        let storage = Arc::downgrade(storage);
        let wait = until.saturating_sub(unix_ms());
        let spawned = std::thread::Builder::new()
            .name("client-pause".into())
            .spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(wait));
                if let Some(storage) = storage.upgrade() {
                    wake(&storage);
                }
            });
        if spawned.is_err() {
            tracing::warn!(
                "cannot start the CLIENT PAUSE timer: paused clients run when signalled"
            );
        }
    }

    /// Ends the pause at once (CLIENT UNPAUSE).
    pub fn unpause(&self, storage: &Storage) {
        self.until_ms.store(0, Ordering::SeqCst);
        self.all.store(false, Ordering::SeqCst);
        storage.pause_expiry_until(0);
        wake(storage);
    }

    /// Whether a command must wait now: `writes` tells whether it may write, and is asked
    /// only while a pause is in force.
    pub fn holds(&self, writes: impl FnOnce() -> bool) -> bool {
        // Asked before every command: without a pause, the clock is not read.
        let until = self.until_ms.load(Ordering::Relaxed);
        if until == 0 || until <= unix_ms() {
            return false;
        }
        self.all.load(Ordering::Relaxed) || writes()
    }
}

/// Signals the pause key of every database, so the paused clients run again.
fn wake(storage: &Storage) {
    for db in 0..storage.databases() {
        if let Ok(pdb) = storage.physical(db) {
            storage.ready.force_signal((pdb, PAUSE_KEY.to_vec()));
        }
    }
    storage.ready.publish();
}
