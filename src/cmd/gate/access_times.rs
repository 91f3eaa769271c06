//! Approximate last-access times of keys, for OBJECT IDLETIME.
//!
//! Redis keeps a 24-bit LRU clock in every object; here values live in RocksDB, and writing an
//! access time per read would double the I/O. Instead a fixed, lock-free table in memory maps a
//! hash of (database, key) to the second of its last access. Slots are shared by keys whose
//! hashes collide: a key whose slot was taken over since its last access is reported as idle
//! since the table started, which is what a key loaded from disk and never touched looks like.
//! The table costs `SLOTS` × 8 bytes whatever the data set size.

use std::hash::Hasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::Instant;

use crate::util::fnv::Fnv1a;

/// Number of slots (a power of two).
const SLOTS: usize = 1 << 18;

struct AccessTable {
    started: Instant,
    /// Each slot: the key's 32-bit tag in the high half, its access second + 1 in the low half
    /// (0 = empty).
    slots: Box<[AtomicU64]>,
}

static TABLE: LazyLock<AccessTable> = LazyLock::new(|| AccessTable {
    started: Instant::now(),
    slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
});

/// FNV-1a over the database number and the key.
fn hash(db: usize, key: &[u8]) -> u64 {
    let mut h = Fnv1a::default();
    h.write(&(db as u64).to_le_bytes());
    h.write(key);
    h.finish()
}

fn slot_and_tag(db: usize, key: &[u8]) -> (usize, u64) {
    let h = hash(db, key);
    ((h as usize) & (SLOTS - 1), h >> 32)
}

impl AccessTable {
    fn now_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}

/// Records an access to `key` of database `db` now.
pub fn touch(db: usize, key: &[u8]) {
    let table = &*TABLE;
    let (slot, tag) = slot_and_tag(db, key);
    let value = (tag << 32) | ((table.now_secs() + 1) & 0xffff_ffff);
    table.slots[slot].store(value, Ordering::Relaxed);
}

/// Seconds since the last recorded access to `key` of database `db`.
pub fn idle_secs(db: usize, key: &[u8]) -> u64 {
    let table = &*TABLE;
    let (slot, tag) = slot_and_tag(db, key);
    let now = table.now_secs();
    let stored = table.slots[slot].load(Ordering::Relaxed);
    let secs = stored & 0xffff_ffff;
    if secs == 0 || stored >> 32 != tag {
        return now;
    }
    now.saturating_sub(secs - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touched_key_is_not_idle() {
        touch(3, b"access-test-key");
        assert_eq!(idle_secs(3, b"access-test-key"), 0);
    }

    #[test]
    fn databases_hash_apart() {
        assert_ne!(hash(0, b"k"), hash(1, b"k"));
    }
}
