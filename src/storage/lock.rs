//! Striped per-key locks that make read-modify-write commands atomic.
//!
//! A key maps to one of a fixed number of mutexes by hash. A command that touches several keys
//! locks their stripes in ascending index order, each once, so two commands can never wait on each
//! other in a cycle. Every key lock also holds the shared side of the *structure lock*, which
//! FLUSHDB, FLUSHALL and SWAPDB take exclusively: they never interleave with a half-done write.

use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

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
    _structure: RwLockReadGuard<'a, ()>,
}

/// Proof that no key-level writer is running; held by whole-database operations.
pub struct StructureGuard<'a> {
    _guard: RwLockWriteGuard<'a, ()>,
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
        let structure = self.structure.read();
        let mut idx: Vec<usize> = keys.into_iter().map(stripe_of).collect();
        idx.sort_unstable();
        idx.dedup();
        let stripes = idx.into_iter().map(|i| self.stripes[i].lock()).collect();
        KeysGuard {
            _stripes: stripes,
            _structure: structure,
        }
    }

    /// Waits for running key-level writers to finish and keeps new ones out.
    pub fn lock_structure(&self) -> StructureGuard<'_> {
        StructureGuard {
            _guard: self.structure.write(),
        }
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
