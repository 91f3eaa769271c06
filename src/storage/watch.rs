//! Keys watched by WATCH, and the clients whose watch a write invalidated.
//!
//! WATCH registers exact (physical db, key) pairs per client. The write path reports every key
//! it stores or removes (and every database it clears or swaps); a client watching such a key
//! becomes *dirty* and its next EXEC fails. A client that WATCHed a key while it was already
//! logically expired (but still stored) does not count the removal of that key as a change,
//! as in Redis 7.0. When nothing is watched the write path pays one atomic load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use super::ready::DbKey;

/// One watched key of a client.
struct Watched {
    key: DbKey,
    /// The key was stored but expired when WATCH ran.
    expired: bool,
}

#[derive(Default)]
struct ClientWatches {
    keys: Vec<Watched>,
    dirty: bool,
}

#[derive(Default)]
struct Registry {
    by_key: HashMap<DbKey, Vec<u64>>,
    clients: HashMap<u64, ClientWatches>,
}

impl Registry {
    fn drop_keys(&mut self, id: u64, keys: &[Watched]) {
        for w in keys {
            if let Some(ids) = self.by_key.get_mut(&w.key) {
                ids.retain(|&c| c != id);
                if ids.is_empty() {
                    self.by_key.remove(&w.key);
                }
            }
        }
    }

    /// Marks `id` dirty; its keys no longer matter until it unwatches.
    fn make_dirty(&mut self, id: u64) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        c.dirty = true;
        let keys = std::mem::take(&mut c.keys);
        self.drop_keys(id, &keys);
    }

    /// `key` was deleted (`deleted`) or modified: clients watching it become dirty, except
    /// that deleting a key that was already expired when watched is no logical change.
    fn touch(&mut self, key: &DbKey, deleted: bool) {
        let Some(ids) = self.by_key.get(key).cloned() else {
            return;
        };
        for id in ids {
            let Some(c) = self.clients.get_mut(&id) else {
                continue;
            };
            let w = c.keys.iter_mut().find(|w| &w.key == key);
            if let Some(w) = w.filter(|w| w.expired && deleted) {
                // Gone now, so no longer "watched while expired".
                w.expired = false;
                continue;
            }
            self.make_dirty(id);
        }
    }
}

/// The watch registry (see the module doc).
#[derive(Default)]
pub struct Watches {
    registry: Mutex<Registry>,
    /// Number of watched keys: lets the write path skip the lock when nothing is watched.
    count: AtomicUsize,
}

/// What SWAPDB needs to know of a key in one physical database: (stored, stored but expired).
pub type KeyPresence = (bool, bool);

impl Watches {
    fn publish(&self, r: &Registry) {
        self.count.store(r.by_key.len(), Ordering::Release);
    }

    /// True when some client watches some key (cheap; no lock).
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Acquire) > 0
    }

    /// Client `id` watches `key` (`expired`: stored but expired now). Watching twice is one
    /// watch; a dirty client watches nothing more (its EXEC fails anyway).
    pub fn watch(&self, id: u64, key: DbKey, expired: bool) {
        let mut r = self.registry.lock();
        let c = r.clients.entry(id).or_default();
        if c.dirty || c.keys.iter().any(|w| w.key == key) {
            return;
        }
        c.keys.push(Watched {
            key: key.clone(),
            expired,
        });
        r.by_key.entry(key).or_default().push(id);
        self.publish(&r);
    }

    /// Forgets every watch of client `id` and its dirty flag; returns whether it was dirty.
    pub fn unwatch_all(&self, id: u64) -> bool {
        if !self.any() {
            // Nothing watched, but a dirty client may still be listed.
            let mut r = self.registry.lock();
            return r.clients.remove(&id).is_some_and(|c| c.dirty);
        }
        let mut r = self.registry.lock();
        let Some(c) = r.clients.remove(&id) else {
            return false;
        };
        r.drop_keys(id, &c.keys);
        self.publish(&r);
        c.dirty
    }

    /// Whether a write invalidated client `id`'s watches.
    pub fn is_dirty(&self, id: u64) -> bool {
        self.registry
            .lock()
            .clients
            .get(&id)
            .is_some_and(|c| c.dirty)
    }

    /// Every key client `id` watches.
    pub fn keys_of(&self, id: u64) -> Vec<DbKey> {
        let r = self.registry.lock();
        r.clients
            .get(&id)
            .map(|c| c.keys.iter().map(|w| w.key.clone()).collect())
            .unwrap_or_default()
    }

    /// The keys client `id` watched while they were not expired (EXEC fails if one has
    /// expired since).
    pub fn live_when_watched(&self, id: u64) -> Vec<DbKey> {
        let r = self.registry.lock();
        r.clients
            .get(&id)
            .map(|c| {
                c.keys
                    .iter()
                    .filter(|w| !w.expired)
                    .map(|w| w.key.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Reports keys stored (`deleted` false) or removed by a committed write.
    pub fn touch<'k>(&self, keys: impl IntoIterator<Item = (&'k DbKey, bool)>) {
        if !self.any() {
            return;
        }
        let mut r = self.registry.lock();
        for (key, deleted) in keys {
            r.touch(key, deleted);
        }
        self.publish(&r);
    }

    /// The watched keys of physical database `pdb`.
    pub fn keys_in(&self, pdb: u16) -> Vec<Vec<u8>> {
        if !self.any() {
            return Vec::new();
        }
        let r = self.registry.lock();
        r.by_key
            .keys()
            .filter(|(p, _)| *p == pdb)
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// SWAPDB of two logical databases stored in physical `a` and `b`. `presence(pdb, key)`
    /// tells whether a key is stored there and whether it is expired. A watch is invalidated
    /// when its key exists on either side, except when an expired key is replaced by nothing
    /// or by another expired key, or nothing by an expired key. Watches then follow their
    /// logical database to its new physical id.
    pub fn swap_dbs(&self, a: u16, b: u16, presence: impl Fn(u16, &[u8]) -> KeyPresence) {
        if !self.any() || a == b {
            return;
        }
        let mut r = self.registry.lock();
        let keys: Vec<DbKey> = r
            .by_key
            .keys()
            .filter(|(p, _)| *p == a || *p == b)
            .cloned()
            .collect();
        for key in &keys {
            let other = if key.0 == a { b } else { a };
            let (in_old, _) = presence(key.0, &key.1);
            let (in_new, new_expired) = presence(other, &key.1);
            if !in_old && !in_new {
                continue;
            }
            let ids = r.by_key.get(key).cloned().unwrap_or_default();
            for id in ids {
                let Some(c) = r.clients.get_mut(&id) else {
                    continue;
                };
                let Some(w) = c.keys.iter_mut().find(|w| &w.key == key) else {
                    continue;
                };
                if w.expired {
                    if !in_new {
                        w.expired = false;
                        continue;
                    }
                    if new_expired {
                        continue;
                    }
                } else if !in_old && new_expired {
                    w.expired = true;
                    continue;
                }
                r.make_dirty(id);
            }
        }
        // Move the remaining watches to the physical database their logical one now uses.
        let swap = |p: u16| {
            if p == a {
                b
            } else if p == b {
                a
            } else {
                p
            }
        };
        let by_key = std::mem::take(&mut r.by_key);
        r.by_key = by_key
            .into_iter()
            .map(|((p, k), ids)| ((swap(p), k), ids))
            .collect();
        for c in r.clients.values_mut() {
            for w in &mut c.keys {
                w.key.0 = swap(w.key.0);
            }
        }
        self.publish(&r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> DbKey {
        (0, s.as_bytes().to_vec())
    }

    #[test]
    fn touching_a_watched_key_makes_its_watchers_dirty() {
        let w = Watches::default();
        w.watch(1, k("a"), false);
        w.watch(2, k("b"), false);
        w.touch([(&k("a"), false)]);
        assert!(w.is_dirty(1));
        assert!(!w.is_dirty(2));
        assert!(w.unwatch_all(1));
        assert!(!w.is_dirty(1));
        assert!(w.any());
        assert!(!w.unwatch_all(2));
        assert!(!w.any());
    }

    #[test]
    fn deleting_a_key_expired_when_watched_is_no_change() {
        let w = Watches::default();
        w.watch(1, k("a"), true);
        w.touch([(&k("a"), true)]);
        assert!(!w.is_dirty(1));
        // Recreated afterwards: a change.
        w.touch([(&k("a"), false)]);
        assert!(w.is_dirty(1));
    }

    #[test]
    fn swapped_watches_follow_their_logical_database() {
        let w = Watches::default();
        w.watch(1, (0, b"x".to_vec()), false);
        w.swap_dbs(0, 1, |_, _| (false, false));
        assert!(!w.is_dirty(1));
        w.touch([(&(0, b"x".to_vec()), false)]);
        assert!(!w.is_dirty(1));
        w.touch([(&(1, b"x".to_vec()), false)]);
        assert!(w.is_dirty(1));
    }
}
