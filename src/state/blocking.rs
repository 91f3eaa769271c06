//! Clients parked in blocking commands (BLPOP, BZPOPMIN, BLMOVE, ...).
//!
//! A blocking command that finds no data asks to wait (`Ctx::block`); the worker then parks the
//! client here and goes on with other work, so a blocked client never holds a worker thread.
//! Waiters queue per key in arrival order. When the write path signals a key (see
//! `storage::ready`), a worker re-runs the waiting commands in that order until one blocks
//! again (the key is empty); served clients get their reply and resume their queues. A timer
//! thread answers clients whose deadline passed; CLIENT UNBLOCK and disconnects unpark too.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use parking_lot::{Condvar, Mutex};

use super::client::Client;
use crate::resp::Reply;
use crate::storage::ready::{DbKey, ReadyKeys};

/// The connection side of a parked client, implemented by the server's connections.
pub trait ParkedConn: Send + Sync {
    /// Sends `reply` (already encoded) and resumes running the connection's queued commands.
    fn resume(self: Arc<Self>, reply: &[u8]);
}

/// One parked client.
pub struct Waiter {
    pub client: Arc<Client>,
    pub conn: Arc<dyn ParkedConn>,
    /// The blocking command, re-run when one of its keys gets data.
    pub argv: Vec<Bytes>,
    /// Physical database of the keys.
    pub pdb: u16,
    pub keys: Vec<Bytes>,
    pub deadline: Option<Instant>,
    pub on_timeout: Reply,
}

#[derive(Default)]
struct Registry {
    waiters: HashMap<u64, Waiter>,
    by_key: HashMap<DbKey, VecDeque<u64>>,
    deadlines: BTreeSet<(Instant, u64)>,
}

/// The parked clients (see the module doc).
#[derive(Default)]
pub struct BlockedClients {
    registry: Mutex<Registry>,
    /// Wakes the timer thread when an earlier deadline arrives or on stop.
    timer_wake: Condvar,
    /// Held while a worker serves signalled keys, so one waiter never runs twice at once.
    serving: Mutex<()>,
    stopping: AtomicBool,
}

impl BlockedClients {
    /// Parks a client. Its keys are signalled once right away, so a push that landed between
    /// the command's failed read and this call is not missed (the command simply runs again).
    pub fn park(&self, ready: &ReadyKeys, waiter: Waiter) {
        self.insert(ready, waiter, true);
    }

    /// Puts back a waiter taken for a re-run that has to wait again, at the head of its keys'
    /// queues (it was first in line).
    pub fn reinstate(&self, ready: &ReadyKeys, waiter: Waiter) {
        let client = Arc::clone(&waiter.client);
        self.insert(ready, waiter, false);
        if client.is_closing() {
            self.unpark(ready, client.id);
        }
    }

    fn insert(&self, ready: &ReadyKeys, waiter: Waiter, arriving: bool) {
        let id = waiter.client.id;
        waiter.client.blocked.store(true, Ordering::Relaxed);
        let mut r = self.registry.lock();
        let mut seen: Vec<&Bytes> = Vec::new();
        for key in &waiter.keys {
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let k = (waiter.pdb, key.to_vec());
            let queue = r.by_key.entry(k.clone()).or_default();
            if arriving {
                queue.push_back(id);
            } else {
                queue.push_front(id);
            }
            ready.watch(waiter.pdb, key);
            if arriving {
                ready.force_signal(k);
            }
        }
        if let Some(d) = waiter.deadline {
            r.deadlines.insert((d, id));
            self.timer_wake.notify_one();
        }
        r.waiters.insert(id, waiter);
    }

    /// Removes a parked client, returning it (None if it is not parked).
    pub fn unpark(&self, ready: &ReadyKeys, id: u64) -> Option<Waiter> {
        let mut r = self.registry.lock();
        let waiter = r.waiters.remove(&id)?;
        let mut seen: Vec<&Bytes> = Vec::new();
        for key in &waiter.keys {
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let k = (waiter.pdb, key.to_vec());
            if let Some(q) = r.by_key.get_mut(&k) {
                q.retain(|&w| w != id);
                if q.is_empty() {
                    r.by_key.remove(&k);
                }
            }
            ready.unwatch(waiter.pdb, key);
        }
        if let Some(d) = waiter.deadline {
            r.deadlines.remove(&(d, id));
        }
        waiter.client.blocked.store(false, Ordering::Relaxed);
        Some(waiter)
    }

    /// SWAPDB of the physical databases `a` and `b`: waiters follow their logical database to
    /// the other physical one, and their keys are re-checked there.
    pub fn swap_dbs(&self, ready: &ReadyKeys, a: u16, b: u16) {
        if a == b {
            return;
        }
        // Not under `serving`: SWAPDB may run inside EXEC, which holds the structure lock that a
        // serving worker's command waits for. A waiter being re-run right now keeps its old
        // database (it was first in line there anyway).
        let ids: Vec<u64> = {
            let r = self.registry.lock();
            r.waiters
                .values()
                .filter(|w| w.pdb == a || w.pdb == b)
                .map(|w| w.client.id)
                .collect()
        };
        let moved: Vec<Waiter> = ids
            .into_iter()
            .filter_map(|id| self.unpark(ready, id))
            .collect();
        for mut w in moved {
            w.pdb = if w.pdb == a { b } else { a };
            self.park(ready, w);
        }
    }

    /// The ids of the clients waiting on `key`, in arrival order.
    pub fn waiting_on(&self, key: &DbKey) -> Vec<u64> {
        let r = self.registry.lock();
        r.by_key
            .get(key)
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The name of the command parked client `id` waits in.
    pub fn command_of(&self, id: u64) -> Option<Bytes> {
        let r = self.registry.lock();
        r.waiters.get(&id).and_then(|w| w.argv.first().cloned())
    }

    /// Serialises the serving of signalled keys (see the field).
    pub fn serving(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.serving.lock()
    }

    /// Number of parked clients (INFO's blocked_clients).
    pub fn count(&self) -> usize {
        self.registry.lock().waiters.len()
    }

    /// Every parked client with the keys it waits on (a cluster node redirects those whose
    /// slot left it).
    pub fn parked_keys(&self) -> Vec<(u64, Vec<Bytes>)> {
        self.registry
            .lock()
            .waiters
            .iter()
            .map(|(id, w)| (*id, w.keys.clone()))
            .collect()
    }

    /// CLIENT UNBLOCK: answers a parked client with its timeout reply, or with an
    /// `-UNBLOCKED` error; false when the client is not blocked.
    pub fn unblock(&self, ready: &ReadyKeys, id: u64, with_error: bool) -> bool {
        let Some(w) = self.unpark(ready, id) else {
            return false;
        };
        let reply = if with_error {
            Reply::err("UNBLOCKED client unblocked via CLIENT UNBLOCK")
        } else {
            w.on_timeout.clone()
        };
        answer(w, &reply);
        true
    }

    /// Runs the timer until [`BlockedClients::stop`]: answers clients whose deadline passed.
    pub fn run_timer(&self, ready: &ReadyKeys) {
        let mut r = self.registry.lock();
        while !self.stopping.load(Ordering::Relaxed) {
            let now = Instant::now();
            let due: Vec<u64> = r
                .deadlines
                .iter()
                .take_while(|(d, _)| *d <= now)
                .map(|&(_, id)| id)
                .collect();
            if !due.is_empty() {
                drop(r);
                for id in due {
                    if let Some(w) = self.unpark(ready, id) {
                        let reply = w.on_timeout.clone();
                        answer(w, &reply);
                    }
                }
                r = self.registry.lock();
                continue;
            }
            match r.deadlines.first().map(|&(d, _)| d) {
                Some(d) => {
                    self.timer_wake.wait_until(&mut r, d);
                }
                None => self.timer_wake.wait(&mut r),
            }
        }
    }

    /// Stops the timer thread.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        let _r = self.registry.lock();
        self.timer_wake.notify_all();
    }
}

/// Sends `reply` to an unparked client and resumes its connection.
pub fn answer(w: Waiter, reply: &Reply) {
    let mut out = BytesMut::new();
    reply.encode(&mut out, w.client.protocol());
    w.conn.resume(&out);
}
