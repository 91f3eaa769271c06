//! Striped per-key locks that make read-modify-write commands atomic.
//!
//! A key maps to one of a fixed number of mutexes by hash. A command that touches several keys
//! locks their stripes in ascending index order, each once, so two commands can never wait on each
//! other in a cycle. Every key lock also holds the shared side of the *structure lock*, which
//! FLUSHDB, FLUSHALL and SWAPDB take exclusively: they never interleave with a half-done write.
//!
//! The locks are not reentrant, yet EXEC runs commands that ask for locks while it holds some:
//! - EXEC usually locks the keys of all its queued commands at once ([`LockTable::lock_held`],
//!   ascending like any command) and records the stripes in a thread-local set while it runs
//!   them; a key lock the thread then asks for is granted without locking when its stripes are
//!   in that set. EXEC declares every key its commands touch, so nothing else is asked for; a
//!   stripe outside the set (a bug) is waited for only briefly, never into a deadlock.
//! - A transaction with a command that reaches beyond its declared keys (FLUSHALL, KEYS, SORT
//!   BY ...) runs under the structure lock held exclusively. That already excludes every other
//!   writer, so further key or structure locks the thread asks for are granted without locking.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

thread_local! {
    /// True while this thread holds the structure lock exclusively.
    static STRUCTURE_HELD: Cell<bool> = const { Cell::new(false) };
    /// The stripes (ascending) this thread holds through a [`HeldKeysGuard`], with the shared
    /// structure lock; `None` outside one.
    static STRIPES_HELD: RefCell<Option<Vec<usize>>> = const { RefCell::new(None) };
}

/// Number of stripes; a power of two so the hash is masked, not divided.
const STRIPES: usize = 4096;

/// How long a thread holding a [`HeldKeysGuard`] waits for a stripe outside it before going on
/// without it: waiting longer could deadlock with a thread that waits for one of its stripes.
const UNDECLARED_STRIPE_WAIT: Duration = Duration::from_millis(200);

/// The lock table owned by the storage.
pub struct LockTable {
    stripes: Box<[Mutex<()>]>,
    structure: RwLock<()>,
}

/// Proof that a set of keys is locked; unlocks on drop.
pub struct KeysGuard<'a> {
    _stripes: Vec<MutexGuard<'a, ()>>,
    /// None when this thread already holds the structure lock (exclusively, or shared through a
    /// [`HeldKeysGuard`]).
    _structure: Option<RwLockReadGuard<'a, ()>>,
}

/// Keys locked for a whole transaction: while it lives, key locks this thread asks for on
/// those keys are granted without locking.
pub struct HeldKeysGuard<'a> {
    _keys: KeysGuard<'a>,
    /// False for a nested guard, which leaves the outer guard's set alone.
    owns_set: bool,
}

impl Drop for HeldKeysGuard<'_> {
    fn drop(&mut self) {
        // The set goes before the stripes do: nothing may be granted from it afterwards.
        if self.owns_set {
            STRIPES_HELD.with(|s| *s.borrow_mut() = None);
        }
    }
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
    (crate::util::fnv::fnv1a(key) as usize) & (STRIPES - 1)
}

/// The stripes of `keys`, ascending, each once.
fn stripes_of<'k>(keys: impl IntoIterator<Item = &'k [u8]>) -> Vec<usize> {
    let mut idx: Vec<usize> = keys.into_iter().map(stripe_of).collect();
    idx.sort_unstable();
    idx.dedup();
    idx
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
        let idx = stripes_of(keys);
        let nested = STRIPES_HELD.with(|s| {
            s.borrow()
                .as_deref()
                .map(|held| self.lock_beyond(held, &idx))
        });
        if let Some(guard) = nested {
            return guard;
        }
        let structure = self.structure.read();
        let stripes = idx.into_iter().map(|i| self.stripes[i].lock()).collect();
        KeysGuard {
            _stripes: stripes,
            _structure: Some(structure),
        }
    }

    /// A key lock asked for under a [`HeldKeysGuard`]: stripes in `held` are granted as they
    /// are; any other one means a command touched a key its transaction did not declare.
    fn lock_beyond(&self, held: &[usize], idx: &[usize]) -> KeysGuard<'_> {
        let mut stripes = Vec::new();
        for &i in idx {
            if held.binary_search(&i).is_ok() {
                continue;
            }
            match self.stripes[i].try_lock_for(UNDECLARED_STRIPE_WAIT) {
                Some(guard) => stripes.push(guard),
                None => tracing::error!(
                    "a transaction touched a key it did not declare and went on without its lock"
                ),
            }
        }
        KeysGuard {
            _stripes: stripes,
            _structure: None,
        }
    }

    /// Locks every key in `keys` like [`LockTable::lock`] and lets this thread's later key
    /// lock requests for them through without locking, until the guard drops (EXEC).
    pub fn lock_held<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> HeldKeysGuard<'_> {
        let outer = structure_held() || STRIPES_HELD.with(|s| s.borrow().is_some());
        if outer {
            return HeldKeysGuard {
                _keys: self.lock(keys),
                owns_set: false,
            };
        }
        let idx = stripes_of(keys);
        let structure = self.structure.read();
        let stripes = idx.iter().map(|&i| self.stripes[i].lock()).collect();
        STRIPES_HELD.with(|s| *s.borrow_mut() = Some(idx));
        HeldKeysGuard {
            _keys: KeysGuard {
                _stripes: stripes,
                _structure: Some(structure),
            },
            owns_set: true,
        }
    }

    /// Waits for running key-level writers to finish and keeps new ones out until the guard
    /// drops. Nested requests on the holding thread are granted at once.
    pub fn lock_structure(&self) -> StructureGuard<'_> {
        if structure_held() {
            return StructureGuard { guard: None };
        }
        if STRIPES_HELD.with(|s| s.borrow().is_some()) {
            // The shared side is held by this very thread: waiting would never end. EXEC
            // takes the exclusive lock itself for the commands that need it.
            tracing::error!("the structure lock was asked for under a transaction's key locks");
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
    fn held_keys_are_granted_again_without_locking() {
        let t = LockTable::default();
        {
            let _held = t.lock_held([&b"a"[..], b"b"]);
            let _k = t.lock([&b"a"[..]]);
            let _k2 = t.lock([&b"b"[..], b"a"]);
            let _nothing = t.lock(std::iter::empty());
        }
        // Released, and the thread's set is gone: a plain lock really locks again.
        std::thread::scope(|s| {
            s.spawn(|| drop(t.lock([&b"a"[..]])));
            s.spawn(|| drop(t.lock_structure()));
        });
        let _k = t.lock([&b"a"[..]]);
        assert!(t.stripes[stripe_of(b"a")].try_lock().is_none());
    }

    #[test]
    fn held_keys_keep_other_threads_out() {
        let t = LockTable::default();
        let held = t.lock_held([&b"a"[..]]);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let started = std::time::Instant::now();
                drop(t.lock([&b"a"[..]]));
                started.elapsed()
            });
            std::thread::sleep(Duration::from_millis(100));
            drop(held);
            let waited = waiter.join().expect("no panic");
            assert!(waited >= Duration::from_millis(90), "{waited:?}");
        });
    }

    #[test]
    fn an_undeclared_key_under_held_keys_is_locked_when_free() {
        let t = LockTable::default();
        let _held = t.lock_held([&b"a"[..]]);
        let k = t.lock([&b"zz"[..]]);
        assert!(t.stripes[stripe_of(b"zz")].try_lock().is_none());
        drop(k);
        assert!(t.stripes[stripe_of(b"zz")].try_lock().is_some());
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
