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
//!
//! Inside a worker's round (group commit, see `storage::round`) the locks a command took are
//! kept until the round's writes have landed: [`KeysGuard`] hands its stripes to the round when
//! it drops, and [`LockTable::end_round`] releases them. Later commands of the round are granted
//! the stripes the round keeps. A round thread never waits while it keeps stripes (two rounds
//! could wait on each other): it tries the locks it lacks, and when one is taken it first
//! settles its round (writes it, releases what it kept), then waits like any thread.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use smallvec::SmallVec;

thread_local! {
    /// True while this thread holds the structure lock exclusively.
    static STRUCTURE_HELD: Cell<bool> = const { Cell::new(false) };
    /// The stripes (ascending) this thread holds through a [`HeldKeysGuard`], with the shared
    /// structure lock; `None` outside one.
    static STRIPES_HELD: RefCell<Option<Vec<usize>>> = const { RefCell::new(None) };
    /// The locks this thread's open round keeps; `None` outside a round.
    static ROUND_KEPT: RefCell<Option<RoundKept>> = const { RefCell::new(None) };
}

/// Locks kept by a round until its writes have landed.
struct RoundKept {
    /// One bit per stripe: set when the round keeps it locked (its guard forgotten).
    kept: [u64; STRIPES / 64],
    /// The kept stripes, in the order they were kept.
    stripes: Vec<usize>,
    /// Whether the round keeps one shared structure lock (its guard forgotten).
    structure: bool,
}

impl Default for RoundKept {
    fn default() -> Self {
        RoundKept {
            kept: [0; STRIPES / 64],
            stripes: Vec::new(),
            structure: false,
        }
    }
}

impl RoundKept {
    fn keeps(&self, stripe: usize) -> bool {
        self.kept[stripe / 64] & (1 << (stripe % 64)) != 0
    }

    /// Keeps `stripe`; false when it was kept already.
    fn keep(&mut self, stripe: usize) -> bool {
        if self.keeps(stripe) {
            return false;
        }
        self.kept[stripe / 64] |= 1 << (stripe % 64);
        self.stripes.push(stripe);
        true
    }
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

/// Proof that a set of keys is locked; unlocks on drop, or hands its locks to the thread's
/// round when it was taken in one.
pub struct KeysGuard<'a> {
    stripes: Vec<(usize, MutexGuard<'a, ()>)>,
    /// None when this thread already holds the structure lock (exclusively, shared through a
    /// [`HeldKeysGuard`], or kept by its round).
    structure: Option<RwLockReadGuard<'a, ()>>,
    /// Taken inside a round: the round keeps the locks when the guard drops.
    in_round: bool,
}

impl Drop for KeysGuard<'_> {
    fn drop(&mut self) {
        if !self.in_round {
            return;
        }
        ROUND_KEPT.with(|kept| {
            // A round closed meanwhile (paused for EXEC or a structure lock): plain unlock.
            let mut kept = kept.borrow_mut();
            let Some(kept) = kept.as_mut() else {
                return;
            };
            for (i, guard) in self.stripes.drain(..) {
                if kept.keep(i) {
                    // Released by `LockTable::end_round`.
                    std::mem::forget(guard);
                }
            }
            if let Some(guard) = self.structure.take() {
                if !kept.structure {
                    kept.structure = true;
                    std::mem::forget(guard);
                }
            }
        });
    }
}

/// The stripes of a read's keys, unlocked when it drops (see [`LockTable::lock_to_read`]).
pub struct ReadGuard<'a> {
    stripes: SmallVec<[MutexGuard<'a, ()>; 2]>,
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

/// The outcome of trying a round's locks.
enum RoundTry<'a> {
    /// No round is open on this thread.
    NoRound,
    Locked(KeysGuard<'a>),
    /// A lock is taken by another thread.
    Busy,
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

/// Whether this thread's round keeps `stripe` locked.
fn round_keeps(stripe: usize) -> bool {
    ROUND_KEPT.with(|kept| kept.borrow().as_ref().is_some_and(|k| k.keeps(stripe)))
}

/// True while this thread runs a transaction under a [`HeldKeysGuard`]: its round must keep
/// every lock it has until the guard drops (see `Storage::settle_round`).
pub fn held_keys_active() -> bool {
    STRIPES_HELD.with(|s| s.borrow().is_some())
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
    /// Locks every key in `keys` (duplicates allowed), in a deadlock-free order. Inside a
    /// round, `settle` is called before waiting for a lock (see the module doc): it must write
    /// the round and end its locks ([`LockTable::end_round`]), leaving a new round open.
    pub fn lock<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k [u8]>,
        settle: &dyn Fn(),
    ) -> KeysGuard<'_> {
        if structure_held() {
            return KeysGuard {
                stripes: Vec::new(),
                structure: None,
                in_round: false,
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
        let in_round = match self.try_lock_in_round(&idx) {
            RoundTry::NoRound => false,
            RoundTry::Locked(guard) => return guard,
            RoundTry::Busy => {
                settle();
                true
            }
        };
        let structure = self.structure.read();
        let stripes = idx
            .into_iter()
            .map(|i| (i, self.stripes[i].lock()))
            .collect();
        KeysGuard {
            stripes,
            structure: Some(structure),
            in_round,
        }
    }

    /// Locks the stripes of `keys` for a command that only reads them: it waits for the
    /// writes pending on its keys to land (a writer keeps its stripes until then), so it
    /// never sees half of another thread's transaction or MSET. Unlike a writer's, the locks
    /// go as soon as the guard drops, even inside a round, and the structure lock is not
    /// taken. Stripes the round keeps are this thread's already; when another one is taken,
    /// the round is settled (`settle`) before waiting, as for a writer.
    pub fn lock_to_read<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k [u8]>,
        settle: &dyn Fn(),
    ) -> ReadGuard<'_> {
        let mut guard = ReadGuard {
            stripes: SmallVec::new(),
        };
        // Under the structure lock or a transaction's keys, no writer runs beside it that it
        // could wait for without waiting on itself.
        if structure_held() || held_keys_active() {
            return guard;
        }
        let mut idx: SmallVec<[usize; 4]> = keys.into_iter().map(stripe_of).collect();
        idx.sort_unstable();
        idx.dedup();
        let in_round = ROUND_KEPT.with(|kept| match kept.borrow().as_ref() {
            Some(kept) => {
                idx.retain(|i| !kept.keeps(*i));
                true
            }
            None => false,
        });
        if in_round {
            for &i in &idx {
                match self.stripes[i].try_lock() {
                    Some(g) => guard.stripes.push(g),
                    None => break,
                }
            }
            if guard.stripes.len() == idx.len() {
                return guard;
            }
            guard.stripes.clear();
            settle();
        }
        guard.stripes = idx.iter().map(|&i| self.stripes[i].lock()).collect();
        guard
    }

    /// Inside a round: the stripes of `idx` the round does not keep yet, without waiting.
    fn try_lock_in_round(&self, idx: &[usize]) -> RoundTry<'_> {
        ROUND_KEPT.with(|kept| {
            let kept = kept.borrow();
            let Some(kept) = kept.as_ref() else {
                return RoundTry::NoRound;
            };
            let structure = if kept.structure {
                None
            } else {
                match self.structure.try_read() {
                    Some(guard) => Some(guard),
                    None => return RoundTry::Busy,
                }
            };
            let mut stripes = Vec::with_capacity(idx.len());
            for &i in idx {
                if kept.keeps(i) {
                    continue;
                }
                match self.stripes[i].try_lock() {
                    Some(guard) => stripes.push((i, guard)),
                    None => return RoundTry::Busy,
                }
            }
            RoundTry::Locked(KeysGuard {
                stripes,
                structure,
                in_round: true,
            })
        })
    }

    /// Opens a round on this thread: key locks taken from now on are kept until
    /// [`LockTable::end_round`].
    pub fn begin_round(&self) {
        ROUND_KEPT.with(|kept| {
            kept.borrow_mut().get_or_insert_with(RoundKept::default);
        });
    }

    /// Releases the locks this thread's round kept and closes the round.
    pub fn end_round(&self) {
        let Some(kept) = ROUND_KEPT.with(|kept| kept.borrow_mut().take()) else {
            return;
        };
        for i in kept.stripes {
            // SAFETY: the round kept this stripe locked, its guard forgotten (`KeysGuard`'s
            // drop); nothing else unlocks it.
            unsafe { self.stripes[i].force_unlock() };
        }
        if kept.structure {
            // SAFETY: as above, one shared lock whose guard was forgotten.
            unsafe { self.structure.force_unlock_read() };
        }
    }

    /// A key lock asked for under a [`HeldKeysGuard`]: stripes in `held` are granted as they
    /// are; any other one means a command touched a key its transaction did not declare.
    fn lock_beyond(&self, held: &[usize], idx: &[usize]) -> KeysGuard<'_> {
        let mut stripes = Vec::new();
        for &i in idx {
            if held.binary_search(&i).is_ok() || round_keeps(i) {
                continue;
            }
            match self.stripes[i].try_lock_for(UNDECLARED_STRIPE_WAIT) {
                Some(guard) => stripes.push((i, guard)),
                None => tracing::error!(
                    "a transaction touched a key it did not declare and went on without its lock"
                ),
            }
        }
        KeysGuard {
            stripes,
            structure: None,
            in_round: false,
        }
    }

    /// Locks every key in `keys` like [`LockTable::lock`] and lets this thread's later key
    /// lock requests for them through without locking, until the guard drops (EXEC, a
    /// script). Inside a round the stripes the round keeps are granted as they are, and the
    /// guard hands its own to the round when it drops, so the transaction's writes join the
    /// round's one landing; `settle` is called before waiting, as for [`LockTable::lock`].
    pub fn lock_held<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k [u8]>,
        settle: &dyn Fn(),
    ) -> HeldKeysGuard<'_> {
        let outer = structure_held() || STRIPES_HELD.with(|s| s.borrow().is_some());
        if outer {
            return HeldKeysGuard {
                _keys: self.lock(keys, &|| {}),
                owns_set: false,
            };
        }
        let idx = stripes_of(keys);
        let keys_guard = match self.try_lock_in_round(&idx) {
            RoundTry::Locked(guard) => guard,
            RoundTry::NoRound => self.lock_waiting(&idx, false),
            RoundTry::Busy => {
                settle();
                self.lock_waiting(&idx, true)
            }
        };
        STRIPES_HELD.with(|s| *s.borrow_mut() = Some(idx));
        HeldKeysGuard {
            _keys: keys_guard,
            owns_set: true,
        }
    }

    /// Locks the stripes `idx` (ascending) and the shared structure lock, waiting as long as
    /// it takes; the caller keeps no lock (a settled round keeps none).
    fn lock_waiting(&self, idx: &[usize], in_round: bool) -> KeysGuard<'_> {
        let structure = self.structure.read();
        let stripes = idx.iter().map(|&i| (i, self.stripes[i].lock())).collect();
        KeysGuard {
            stripes,
            structure: Some(structure),
            in_round,
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
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    impl LockTable {
        fn lock_plain<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> KeysGuard<'_> {
            self.lock(keys, &|| {})
        }

        fn stripe_free(&self, key: &[u8]) -> bool {
            self.stripes[stripe_of(key)].try_lock().is_some()
        }
    }

    #[test]
    fn a_round_keeps_its_locks_until_it_ends() {
        let t = LockTable::default();
        t.begin_round();
        drop(t.lock_plain([&b"a"[..]]));
        // Kept: another thread cannot take it, this one is granted it again.
        std::thread::scope(|s| {
            assert!(!s.spawn(|| t.stripe_free(b"a")).join().expect("no panic"));
        });
        drop(t.lock_plain([&b"a"[..], b"b"]));
        t.end_round();
        std::thread::scope(|s| {
            assert!(s.spawn(|| t.stripe_free(b"a")).join().expect("no panic"));
            assert!(s.spawn(|| t.stripe_free(b"b")).join().expect("no panic"));
            s.spawn(|| drop(t.lock_structure()));
        });
    }

    #[test]
    fn a_transaction_in_a_round_uses_and_leaves_its_locks_to_the_round() {
        let t = LockTable::default();
        t.begin_round();
        drop(t.lock_plain([&b"earlier"[..]]));
        let started = std::time::Instant::now();
        {
            let _held = t.lock_held([&b"mine"[..]], &|| panic!("no settling"));
            assert!(held_keys_active());
            // An undeclared key the round keeps is granted, without the undeclared wait.
            drop(t.lock_plain([&b"earlier"[..]]));
        }
        {
            // A declared one the round keeps is granted as well.
            let _held = t.lock_held([&b"earlier"[..], b"mine"], &|| panic!("no settling"));
        }
        assert!(started.elapsed() < UNDECLARED_STRIPE_WAIT);
        assert!(!held_keys_active());
        // Both stay locked for other threads until the round ends.
        std::thread::scope(|s| {
            assert!(!s.spawn(|| t.stripe_free(b"mine")).join().expect("no panic"));
            assert!(!s
                .spawn(|| t.stripe_free(b"earlier"))
                .join()
                .expect("no panic"));
        });
        t.end_round();
        std::thread::scope(|s| {
            assert!(s.spawn(|| t.stripe_free(b"mine")).join().expect("no panic"));
            s.spawn(|| drop(t.lock_structure()));
        });
    }

    #[test]
    fn a_round_settles_before_waiting_for_a_lock_another_thread_holds() {
        let t = LockTable::default();
        let settled = AtomicUsize::new(0);
        t.begin_round();
        drop(t.lock_plain([&b"mine"[..]]));
        // On this thread, the round keeps "mine" and must settle to wait for "theirs".
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            let holder = s.spawn(|| {
                let guard = t.lock_plain([&b"theirs"[..]]);
                tx.clone().send(()).expect("receiver alive");
                std::thread::sleep(Duration::from_millis(50));
                // Free now: the round released it while settling.
                let mine_free = t.stripe_free(b"mine");
                drop(guard);
                mine_free
            });
            rx.recv().expect("holder locked");
            let settle = || {
                settled.fetch_add(1, Ordering::SeqCst);
                t.end_round();
                t.begin_round();
            };
            drop(t.lock([&b"theirs"[..]], &settle));
            assert!(holder.join().expect("no panic"));
        });
        assert_eq!(settled.load(Ordering::SeqCst), 1);
        t.end_round();
    }

    #[test]
    fn duplicate_keys_do_not_self_deadlock() {
        let t = LockTable::default();
        let _g = t.lock_plain([&b"a"[..], b"a", b"b"]);
    }

    #[test]
    fn locks_nest_under_an_exclusive_structure_lock() {
        let t = LockTable::default();
        {
            let _s = t.lock_structure();
            let _k = t.lock_plain([&b"a"[..]]);
            let _k2 = t.lock_plain([&b"a"[..]]);
            let _inner = t.lock_structure();
        }
        // Released: another thread can take it.
        std::thread::scope(|s| {
            s.spawn(|| drop(t.lock_structure()));
        });
        let _k = t.lock_plain([&b"a"[..]]);
    }

    #[test]
    fn held_keys_are_granted_again_without_locking() {
        let t = LockTable::default();
        {
            let _held = t.lock_held([&b"a"[..], b"b"], &|| {});
            let _k = t.lock_plain([&b"a"[..]]);
            let _k2 = t.lock_plain([&b"b"[..], b"a"]);
            let _nothing = t.lock_plain(std::iter::empty());
        }
        // Released, and the thread's set is gone: a plain lock really locks again.
        std::thread::scope(|s| {
            s.spawn(|| drop(t.lock_plain([&b"a"[..]])));
            s.spawn(|| drop(t.lock_structure()));
        });
        let _k = t.lock_plain([&b"a"[..]]);
        assert!(t.stripes[stripe_of(b"a")].try_lock().is_none());
    }

    #[test]
    fn held_keys_keep_other_threads_out() {
        let t = LockTable::default();
        let held = t.lock_held([&b"a"[..]], &|| {});
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let started = std::time::Instant::now();
                drop(t.lock_plain([&b"a"[..]]));
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
        let _held = t.lock_held([&b"a"[..]], &|| {});
        let k = t.lock_plain([&b"zz"[..]]);
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
                            let _g = t.lock_plain([&b"x"[..], b"y"]);
                        } else {
                            let _g = t.lock_plain([&b"y"[..], b"x"]);
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
