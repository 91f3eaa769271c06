//! Group commit seen from the storage: a worker round's writes land together, and no other
//! writer reads around them before they have.
//!
//! A worker calls [`Storage::begin_round`] before it runs the commands of a round and
//! [`Storage::end_round`] before it sends their replies. Meanwhile:
//! - the engine collects the round's batches into one write (see `engine::round`), and the
//!   thread's own reads write them first when they need them;
//! - the key locks its commands took stay held until then (see `lock`), so no other writer
//!   reads around a pending write;
//! - the shared cache of meta records is updated at once, as before (the thread's own reads
//!   find the round's records there); fills from disk wait until no other thread has writes
//!   pending (see `engine::round`), and a round that fails to land empties the cache, since
//!   what is on disk is then unknown.
//!
//! A round is settled early (written, its locks released, still open) when it must wait for a
//! lock another thread holds or when a write wakes blocked clients (they may be served by
//! another worker). It is paused (settled and closed until the guard drops) for work that
//! takes the structure lock or a transaction's held keys, whose batches must land in lock order.

use super::Storage;

/// Undoes a pause when dropped: the round opens again.
pub struct RoundPause<'a> {
    storage: &'a Storage,
    reopen: bool,
}

impl Drop for RoundPause<'_> {
    fn drop(&mut self) {
        if self.reopen {
            self.storage.begin_round();
        }
    }
}

/// A lock guard taken with the round paused; the round opens again after the guard drops.
pub struct Paused<'a, G> {
    _guard: G,
    _pause: RoundPause<'a>,
}

impl<'a, G> Paused<'a, G> {
    pub(super) fn new(pause: RoundPause<'a>, guard: G) -> Paused<'a, G> {
        Paused {
            _guard: guard,
            _pause: pause,
        }
    }
}

impl Storage {
    /// Opens a round on this thread (a worker, before it runs a round of commands).
    pub fn begin_round(&self) {
        self.engine.begin_round();
        self.locks.begin_round();
    }

    /// Lands the round's writes, publishes its meta records and releases its locks. An error
    /// means some of the round's writes may not have landed: acknowledge none of them.
    pub fn end_round(&self) -> Result<(), super::StorageError> {
        let landed = self.engine.end_round();
        self.after_landing(landed.is_ok());
        self.locks.end_round();
        landed
    }

    /// Lands the round's writes so far and releases its locks; the round stays open. Inside
    /// a transaction's key locks ([`super::lock::held_keys_active`]) the locks stay: some of the
    /// transaction's keys may be among those the round keeps.
    pub(super) fn settle_round(&self) {
        if !self.engine.in_round() {
            return;
        }
        let landed = self.engine.settle_round();
        self.after_landing(landed);
        if super::lock::held_keys_active() {
            return;
        }
        self.locks.end_round();
        self.locks.begin_round();
    }

    /// Settles and closes the round until the returned guard drops.
    pub(super) fn pause_round(&self) -> RoundPause<'_> {
        // Inside a transaction's key locks the round keeps its locks (see `settle_round`);
        // its writes land first, as a pause would land them.
        if super::lock::held_keys_active() {
            self.settle_round();
            return RoundPause {
                storage: self,
                reopen: false,
            };
        }
        let open = self.engine.in_round();
        if open {
            let landed = self.engine.close_round();
            self.after_landing(landed);
            self.locks.end_round();
        }
        RoundPause {
            storage: self,
            reopen: open,
        }
    }

    /// A round that failed to land leaves the cache with records disk may not have.
    fn after_landing(&self, landed: bool) {
        if !landed {
            self.cache.clear();
        }
    }
}
