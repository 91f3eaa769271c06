//! A slave's commands see each master batch whole.
//!
//! A master batch lands in RocksDB in one write, but the meta cache beside it is brought up to
//! date key by key afterwards. A command reading two keys meanwhile (MGET, a script, EXEC) could
//! find one in its new state and one in its old: half of a master transaction. So the applier
//! holds [`ReplicaView`] exclusively from its write until the cache is current, and a command on
//! a slave holds it shared while it runs.
//!
//! Lock order: the view comes before any key or structure lock. A round keeps key locks from
//! one command to the next (see `lock`), so a command that finds the view taken first settles
//! its round (gives those locks back) and only then waits.

use std::cell::Cell;

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

thread_local! {
    /// True while this thread holds the view shared: commands nested in the one holding it
    /// (a busy script answering other clients) must not ask again behind a waiting applier.
    static HELD: Cell<bool> = const { Cell::new(false) };
}

#[derive(Default)]
pub struct ReplicaView {
    lock: RwLock<()>,
}

/// A command's hold on the view; holds nothing when the thread held it already.
pub struct ViewGuard<'a> {
    guard: Option<RwLockReadGuard<'a, ()>>,
}

impl Drop for ViewGuard<'_> {
    fn drop(&mut self) {
        if self.guard.is_some() {
            HELD.with(|h| h.set(false));
        }
    }
}

impl ReplicaView {
    /// Holds the view for a command; `settle` gives back the locks the thread's round keeps,
    /// and is called before waiting.
    pub fn enter(&self, settle: impl FnOnce()) -> ViewGuard<'_> {
        if HELD.with(Cell::get) {
            return ViewGuard { guard: None };
        }
        let guard = match self.lock.try_read() {
            Some(guard) => guard,
            None => {
                settle();
                self.lock.read()
            }
        };
        HELD.with(|h| h.set(true));
        ViewGuard { guard: Some(guard) }
    }

    /// Keeps commands out while a master batch lands and the cache catches up.
    pub fn applying(&self) -> RwLockWriteGuard<'_, ()> {
        self.lock.write()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_nested_command_does_not_wait_behind_a_waiting_applier() {
        let view = Arc::new(ReplicaView::default());
        let outer = view.enter(|| {});
        let applier = {
            let view = Arc::clone(&view);
            std::thread::spawn(move || drop(view.applying()))
        };
        // Let the applier queue up for the lock.
        std::thread::sleep(Duration::from_millis(50));
        let mut settled = false;
        let inner = view.enter(|| settled = true);
        assert!(!settled, "the nested command waited");
        drop(inner);
        drop(outer);
        applier.join().expect("applier");
    }

    #[test]
    fn a_command_settles_its_round_before_waiting() {
        let view = Arc::new(ReplicaView::default());
        let applying = view.applying();
        let command = {
            let view = Arc::clone(&view);
            std::thread::spawn(move || {
                let mut settled = false;
                drop(view.enter(|| settled = true));
                settled
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        drop(applying);
        assert!(command.join().expect("command"));
    }
}
