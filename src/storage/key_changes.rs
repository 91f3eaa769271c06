//! Changed keys reported beyond WATCH: client-side caching (`CLIENT TRACKING`) hears of every
//! key a committed write stored or removed, and of every database cleared or swapped.
//!
//! The storage layer knows nothing of clients, so it reports to a [`KeyChangeListener`] the
//! server installs. While nobody tracks (the listener's `wanted` flag is off) the write path
//! pays one atomic load and collects nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// Who hears of changed keys (the server's tracking table).
pub trait KeyChangeListener: Send + Sync {
    /// These keys (user key names, any database, possibly repeated) were stored or removed.
    fn keys_changed(&self, keys: &mut dyn Iterator<Item = &[u8]>);
    /// A read found `key` expired: it is gone as far as readers are concerned (no client's
    /// write removed it).
    fn key_expired(&self, key: &[u8]);
    /// Whole databases were cleared or swapped: every key may have changed.
    fn all_changed(&self);
}

/// The listener slot and the flag that says whether it wants anything now.
#[derive(Default)]
pub struct KeyChanges {
    /// On while some client tracks; shared with the listener, which switches it.
    wanted: Arc<AtomicBool>,
    listener: OnceLock<Box<dyn KeyChangeListener>>,
}

impl KeyChanges {
    /// Installs the listener (once; a later call is ignored) and returns the flag it switches
    /// on while it wants reports.
    pub fn install(&self, listener: Box<dyn KeyChangeListener>) -> Arc<AtomicBool> {
        let _ = self.listener.set(listener);
        Arc::clone(&self.wanted)
    }

    /// True while the listener wants reports (one atomic load).
    pub fn wanted(&self) -> bool {
        self.wanted.load(Ordering::Acquire)
    }

    /// Reports changed keys, if wanted.
    pub fn report<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) {
        if !self.wanted() {
            return;
        }
        if let Some(l) = self.listener.get() {
            l.keys_changed(&mut keys.into_iter());
        }
    }

    /// Reports a key a read found expired, if wanted.
    pub fn report_expired(&self, key: &[u8]) {
        if !self.wanted() {
            return;
        }
        if let Some(l) = self.listener.get() {
            l.key_expired(key);
        }
    }

    /// Reports that every key may have changed (FLUSHDB, FLUSHALL, SWAPDB), if wanted.
    pub fn report_all(&self) {
        if !self.wanted() {
            return;
        }
        if let Some(l) = self.listener.get() {
            l.all_changed();
        }
    }
}
