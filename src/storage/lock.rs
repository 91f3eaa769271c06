//! Striped per-key locks that make read-modify-write commands atomic.
//!
//! A key maps to one of a fixed number of mutexes by hash. A command that touches several keys
//! locks their stripes in ascending index order, each once, so two commands can never wait on each
//! other in a cycle. Every key lock also holds the shared side of the *structure lock*, which
//! FLUSHDB, FLUSHALL and SWAPDB take exclusively: they never interleave with a half-done write.
//!
//! A thread that holds the structure lock exclusively (EXEC runs a whole transaction under it)
//! already excludes every other writer, so further key or structure locks it asks for are
//! granted without locking: the locks are not reentrant, and a transaction may contain
//! FLUSHALL or write the same key twice.

use std::cell::Cell;

use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

thread_local! {
    /// True while this thread holds the structure lock exclusively.
    static STRUCTURE_HELD: Cell<bool> = const { Cell::new(false) };
}

/// Number of stripes; a power of two so the hash is masked, not divided.
const STRIPES: usize = 4096;

/// The lock table owned by the storage.
pub struct LockTable {
    stripes: Box<[Mutex<()>]>,
    structure: RwLock<()>,
}

/// Proof that a set of keys is locked; unlocks on drop.
pub struct KeysGuard<'a> {
    _stripes: Vec<MutexGuard<'a, ()>>,
    /// None when this thread already holds the structure lock exclusively.
    _structure: Option<RwLockReadGuard<'a, ()>>,
}

/// Proof that no key-level writer is running; held by whole-database operations.
pub struct StructureGuard<'a> {
    /// None when this thread already held the lock (a nested request).
    guard: Option<RwLockWriteGuard<'a, ()>>,
}

impl Drop for StructureGuard<'_> {
    fn drop(&mut self) {
        if self.guard.take().is_some() {
            STRUCTURE_HELD.with(|h| h.set(false));
        }
    }
}

/// True while the current thread holds the structure lock exclusively.
fn structure_held() -> bool {
    STRUCTURE_HELD.with(Cell::get)
}

/// FNV-1a: fast on short keys, and stable, so a key always lands on the same stripe.
fn stripe_of(key: &[u8]) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h as usize) & (STRIPES - 1)
}

impl Default for LockTable {
    fn default() -> Self {
        LockTable {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            structure: RwLock::new(()),
        }
    }
}

impl LockTable {
    /// Locks every key in `keys` (duplicates allowed), in a deadlock-free order.
    pub fn lock<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> KeysGuard<'_> {
        if structure_held() {
            return KeysGuard {
                _stripes: Vec::new(),
                _structure: None,
            };
        }
        let structure = self.structure.read();
        let mut idx: Vec<usize> = keys.into_iter().map(stripe_of).collect();
        idx.sort_unstable();
        idx.dedup();
        let stripes = idx.into_iter().map(|i| self.stripes[i].lock()).collect();
        KeysGuard {
            _stripes: stripes,
            _structure: Some(structure),
        }
    }

    /// Waits for running key-level writers to finish and keeps new ones out until the guard
    /// drops. Nested requests on the holding thread are granted at once.
    pub fn lock_structure(&self) -> StructureGuard<'_> {
        if structure_held() {
            return StructureGuard { guard: None };
        }
        let guard = self.structure.write();
        STRUCTURE_HELD.with(|h| h.set(true));
        StructureGuard { guard: Some(guard) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn duplicate_keys_do_not_self_deadlock() {
        let t = LockTable::default();
        let _g = t.lock([&b"a"[..], b"a", b"b"]);
    }

    #[test]
    fn locks_nest_under_an_exclusive_structure_lock() {
        let t = LockTable::default();
        {
            let _s = t.lock_structure();
            let _k = t.lock([&b"a"[..]]);
            let _k2 = t.lock([&b"a"[..]]);
            let _inner = t.lock_structure();
        }
        // Released: another thread can take it.
        std::thread::scope(|s| {
            s.spawn(|| drop(t.lock_structure()));
        });
        let _k = t.lock([&b"a"[..]]);
    }

    #[test]
    fn opposite_key_orders_do_not_deadlock() {
        let t = Arc::new(LockTable::default());
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let t = Arc::clone(&t);
                std::thread::spawn(move || {
                    for _ in 0..2000 {
                        if i % 2 == 0 {
                            let _g = t.lock([&b"x"[..], b"y"]);
                        } else {
                            let _g = t.lock([&b"y"[..], b"x"]);
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("no panic");
        }
    }
}
