//! Client-side caching (`CLIENT TRACKING`): which clients may hold which keys, and their
//! invalidation messages, as Redis 7.0's `tracking.c`.
//!
//! Two modes. In the default mode the keys a client read with a read-only command are
//! remembered (key -> client ids); the first change of such a key sends each of those clients
//! one invalidation and forgets the key. In BCAST mode a client registers prefixes and hears of
//! every change of a key under one of them, without anything remembered per key. Database
//! flushes and swaps invalidate everything (a null instead of keys).
//!
//! Changes reach the table from the storage write path (see `storage::key_changes`), on any
//! thread. They are held in a per-thread outbox while the thread runs a round of commands and
//! delivered once the round's writes have landed and its replies are out: so an invalidation
//! never announces a write other readers cannot see yet, a client's own invalidations follow
//! its replies (as Redis' pending keys do), and the changes of one round reach a BCAST client
//! as one message per prefix (as Redis' once per event loop). Elsewhere (the expirer, a
//! replica applying its master's binlog) they are delivered at once.
//!
//! Delivery: a RESP3 client gets a push `invalidate [keys]`; with REDIRECT the target gets it,
//! or, when it speaks RESP2 and is in Pub/Sub mode, a message on `__redis__:invalidate`; a
//! vanished redirect target marks the redirect broken and a RESP3 client is told
//! `tracking-redir-broken`. When nobody tracks (and the table is empty), the write path and
//! the read path each pay one atomic load.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;

use super::client::Client;
use crate::resp::{Protocol, Reply};
use crate::storage::key_changes::KeyChangeListener;

/// The Pub/Sub channel a RESP2 redirect target hears invalidations on.
pub const INVALIDATION_CHANNEL: &[u8] = b"__redis__:invalidate";

/// A client's tracking options (CLIENT TRACKING ON ...).
#[derive(Default, Clone)]
pub struct TrackingMode {
    /// Client id invalidations go to instead (0: none).
    pub redirect: u64,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// Prefixes of BCAST mode (the empty prefix: every key).
    pub prefixes: BTreeSet<Bytes>,
}

/// What one client has of tracking; lives on its [`Client`].
#[derive(Default)]
pub struct ClientTracking {
    /// Tracking is on (readable without the lock on every read command).
    on: AtomicBool,
    /// CLIENT CACHING YES/NO was given for the next command (or transaction).
    caching: AtomicBool,
    /// The redirect target was gone when an invalidation was due.
    broken_redirect: AtomicBool,
    mode: Mutex<TrackingMode>,
    /// The redirect target, found when tracking was enabled.
    redirect_to: Mutex<Option<Weak<Client>>>,
}

impl ClientTracking {
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// The options, while tracking is on.
    pub fn mode(&self) -> Option<TrackingMode> {
        self.is_on().then(|| self.mode.lock().clone())
    }

    pub fn caching_given(&self) -> bool {
        self.caching.load(Ordering::Relaxed)
    }

    /// CLIENT CACHING YES/NO: applies to the next command.
    pub fn give_caching(&self) {
        self.caching.store(true, Ordering::Relaxed);
    }

    /// The command CLIENT CACHING applied to is over.
    pub fn spend_caching(&self) {
        if self.caching_given() {
            self.caching.store(false, Ordering::Relaxed);
        }
    }

    pub fn redirect_broken(&self) -> bool {
        self.broken_redirect.load(Ordering::Relaxed)
    }

    /// The id CLIENT GETREDIR and CLIENT LIST's `redir=` report: -1 while not tracking.
    pub fn redirect_id(&self) -> i64 {
        if self.is_on() {
            self.mode.lock().redirect as i64
        } else {
            -1
        }
    }

    /// CLIENT LIST's tracking flags: `t` tracking, `R` broken redirect, `B` broadcast.
    pub fn list_flags(&self, flags: &mut String) {
        if !self.is_on() {
            return;
        }
        flags.push('t');
        if self.redirect_broken() {
            flags.push('R');
        }
        if self.mode.lock().bcast {
            flags.push('B');
        }
    }

    /// Whether the read command that just ran should remember its keys for this client:
    /// default mode, and in OPTIN mode only after CACHING YES, in OPTOUT mode unless CACHING NO.
    fn remembers_reads(&self) -> bool {
        if !self.is_on() {
            return false;
        }
        let m = self.mode.lock();
        let caching = self.caching_given();
        if m.bcast {
            false
        } else if m.optin {
            caching
        } else if m.optout {
            !caching
        } else {
            true
        }
    }
}

/// An invalidation's payload: some keys, or all of them (a flush).
enum Invalidated {
    Keys(Vec<Bytes>),
    All,
}

/// A change reported by the write path: keys (or everything), and the client whose command
/// made it (for NOLOOP).
enum Change {
    Keys(Vec<Bytes>, Option<u64>),
    All,
}

#[derive(Default)]
struct Table {
    /// Default mode: key -> ids of the clients that may hold it.
    keys: HashMap<Bytes, BTreeSet<u64>>,
    /// Ids summed over `keys` (INFO's tracking_total_items).
    items: u64,
    /// BCAST mode: prefix -> ids of the clients registered for it.
    prefixes: BTreeMap<Bytes, BTreeSet<u64>>,
    /// Every client with tracking on.
    clients: HashMap<u64, Weak<Client>>,
}

thread_local! {
    /// The client whose command this thread runs (NOLOOP compares writers with it).
    static CURRENT: Cell<Option<u64>> = const { Cell::new(None) };
    /// Changes held while this thread runs a round (see the module doc).
    static OUTBOX: RefCell<Outbox> = const { RefCell::new(Outbox { holding: false, changes: Vec::new() }) };
    /// Set when a read-only command ran inside the script this thread runs.
    static SCRIPT_READ: Cell<bool> = const { Cell::new(false) };
}

struct Outbox {
    holding: bool,
    changes: Vec<Change>,
}

/// The client a command runs for on this thread, until dropped.
pub struct CurrentClient(Option<u64>);

impl CurrentClient {
    pub fn enter(id: u64) -> CurrentClient {
        CurrentClient(CURRENT.with(|c| c.replace(Some(id))))
    }
}

impl Drop for CurrentClient {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// Notes that a script called a read-only command (its declared keys are then remembered).
pub fn note_script_read() {
    SCRIPT_READ.with(|r| r.set(true));
}

/// Takes (and clears) the note of [`note_script_read`].
pub fn take_script_read() -> bool {
    SCRIPT_READ.with(|r| r.replace(false))
}

/// The server's tracking table (see the module doc).
#[derive(Default)]
pub struct Tracking {
    table: Mutex<Table>,
    /// Clients with tracking on: the read path's one atomic check.
    clients: AtomicUsize,
    /// Keys in the default-mode table, for the table limit without the lock.
    keys: AtomicUsize,
    /// The storage's flag asking the write path for changed keys.
    wanted: OnceLock<Arc<AtomicBool>>,
    /// `tracking-table-max-keys` (0: no limit).
    max_keys: AtomicU64,
}

/// What the storage write path reports to.
struct Listener(Arc<Tracking>);

impl KeyChangeListener for Listener {
    fn keys_changed(&self, keys: &mut dyn Iterator<Item = &[u8]>) {
        let mut list: Vec<Bytes> = Vec::new();
        for key in keys {
            if list.last().map(|k| k.as_ref()) != Some(key) {
                list.push(Bytes::copy_from_slice(key));
            }
        }
        let by = CURRENT.with(|c| c.get());
        self.0.changed(Change::Keys(list, by));
    }

    fn key_expired(&self, key: &[u8]) {
        self.0
            .changed(Change::Keys(vec![Bytes::copy_from_slice(key)], None));
    }

    fn all_changed(&self) {
        self.0.changed(Change::All);
    }
}

impl Tracking {
    /// Connects a new table to the storage's write path.
    pub fn install(storage: &crate::storage::Storage, max_keys: u64) -> Arc<Tracking> {
        let tracking = Arc::new(Tracking::default());
        tracking.max_keys.store(max_keys, Ordering::Relaxed);
        let flag = storage
            .key_changes
            .install(Box::new(Listener(Arc::clone(&tracking))));
        let _ = tracking.wanted.set(flag);
        tracking
    }

    /// True while some client tracks (one atomic load).
    pub fn any(&self) -> bool {
        self.clients.load(Ordering::Relaxed) > 0
    }

    /// Publishes the counts the lock-free checks read. Changes are wanted while a client
    /// tracks or keys remain in the table (as Redis, a flush or a change forgets keys read by
    /// clients that stopped tracking since).
    fn publish(&self, t: &Table) {
        let n = t.clients.len();
        self.clients.store(n, Ordering::Relaxed);
        self.keys.store(t.keys.len(), Ordering::Relaxed);
        if let Some(flag) = self.wanted.get() {
            flag.store(n > 0 || !t.keys.is_empty(), Ordering::Release);
        }
    }

    /// CLIENT TRACKING ON with checked options; `redirect_to` is the redirect target found.
    pub fn enable(
        &self,
        client: &Arc<Client>,
        mode: TrackingMode,
        redirect_to: Option<Weak<Client>>,
    ) {
        let ct = &client.tracking;
        let mut t = self.table.lock();
        let mut current = ct.mode.lock();
        let was_on = ct.is_on();
        let mut prefixes = if was_on {
            std::mem::take(&mut current.prefixes)
        } else {
            BTreeSet::new()
        };
        if mode.bcast {
            let new: Vec<Bytes> = if mode.prefixes.is_empty() {
                vec![Bytes::new()]
            } else {
                mode.prefixes.iter().cloned().collect()
            };
            for p in new {
                t.prefixes.entry(p.clone()).or_default().insert(client.id);
                prefixes.insert(p);
            }
        }
        *current = TrackingMode { prefixes, ..mode };
        *ct.redirect_to.lock() = redirect_to;
        ct.broken_redirect.store(false, Ordering::Relaxed);
        ct.on.store(true, Ordering::Relaxed);
        t.clients.insert(client.id, Arc::downgrade(client));
        drop(current);
        self.publish(&t);
    }

    /// CLIENT TRACKING OFF, RESET, disconnect. The keys it read stay in the table (as in
    /// Redis): they go when they change.
    pub fn disable(&self, client: &Client) {
        let ct = &client.tracking;
        if !ct.is_on() {
            return;
        }
        let mut t = self.table.lock();
        let mut mode = ct.mode.lock();
        for p in std::mem::take(&mut mode.prefixes) {
            if let Some(ids) = t.prefixes.get_mut(&p) {
                ids.remove(&client.id);
                if ids.is_empty() {
                    t.prefixes.remove(&p);
                }
            }
        }
        *mode = TrackingMode::default();
        *ct.redirect_to.lock() = None;
        ct.on.store(false, Ordering::Relaxed);
        ct.caching.store(false, Ordering::Relaxed);
        ct.broken_redirect.store(false, Ordering::Relaxed);
        t.clients.remove(&client.id);
        drop(mode);
        self.publish(&t);
    }

    /// After a read-only command of `client` ran: remembers `keys` if its mode asks for it.
    pub fn remember<'k>(&self, client: &Client, keys: impl IntoIterator<Item = &'k [u8]>) {
        if !client.tracking.remembers_reads() {
            return;
        }
        let mut t = self.table.lock();
        for key in keys {
            let ids = t.keys.entry(Bytes::copy_from_slice(key)).or_default();
            if ids.insert(client.id) {
                t.items += 1;
            }
        }
        self.publish(&t);
        drop(t);
        self.limit_table();
    }

    /// `tracking-table-max-keys` changed.
    pub fn set_max_keys(&self, max: u64) {
        self.max_keys.store(max, Ordering::Relaxed);
        self.limit_table();
    }

    /// Invalidates keys of the default-mode table until it holds at most
    /// `tracking-table-max-keys` keys (their clients are told, as for a change).
    fn limit_table(&self) {
        let max = self.max_keys.load(Ordering::Relaxed) as usize;
        if max == 0 || self.keys.load(Ordering::Relaxed) <= max {
            return;
        }
        let evicted: Vec<Bytes> = {
            let t = self.table.lock();
            let surplus = t.keys.len().saturating_sub(max);
            t.keys.keys().take(surplus).cloned().collect()
        };
        if !evicted.is_empty() {
            self.changed(Change::Keys(evicted, None));
        }
    }

    /// (clients tracking, keys in the table, client ids in it, BCAST prefixes), for INFO.
    pub fn figures(&self) -> (usize, usize, u64, usize) {
        let t = self.table.lock();
        (t.clients.len(), t.keys.len(), t.items, t.prefixes.len())
    }

    /// A reported change: held while this thread runs a round, delivered at once otherwise.
    fn changed(&self, change: Change) {
        let now = OUTBOX.with(|o| {
            let mut o = o.borrow_mut();
            if o.holding {
                o.changes.push(change);
                None
            } else {
                Some(change)
            }
        });
        if let Some(change) = now {
            self.deliver(vec![change]);
        }
    }

    /// This thread starts a round: changes wait for [`Tracking::release`].
    pub fn hold(&self) {
        let held = OUTBOX.with(|o| {
            let mut o = o.borrow_mut();
            o.holding = true;
            std::mem::take(&mut o.changes)
        });
        if !held.is_empty() {
            self.deliver(held);
        }
    }

    /// Runs `f` with the changes it reports delivered at once, even inside a round (eviction
    /// before a command: its writes have landed, and its invalidations must precede the
    /// command's reply). Changes held before stay held.
    pub fn delivering_at_once<R>(&self, f: impl FnOnce() -> R) -> R {
        /// Restores the holding mode even if `f` unwinds.
        struct Restore(bool);
        impl Drop for Restore {
            fn drop(&mut self) {
                OUTBOX.with(|o| o.borrow_mut().holding = self.0);
            }
        }
        let _restore =
            Restore(OUTBOX.with(|o| std::mem::replace(&mut o.borrow_mut().holding, false)));
        f()
    }

    /// The round's writes have landed and its replies are out: delivers what it changed.
    pub fn release(&self) {
        let held = OUTBOX.with(|o| {
            let mut o = o.borrow_mut();
            o.holding = false;
            std::mem::take(&mut o.changes)
        });
        if !held.is_empty() {
            self.deliver(held);
        }
    }

    /// Works out who hears of `changes` and sends it to them.
    fn deliver(&self, changes: Vec<Change>) {
        let mut out: Vec<(Arc<Client>, Invalidated)> = Vec::new();
        {
            let mut t = self.table.lock();
            let t = &mut *t;
            // BCAST: prefix -> changed key -> the client whose command changed it last.
            let mut bcast: BTreeMap<Bytes, BTreeMap<Bytes, Option<u64>>> = BTreeMap::new();
            for change in changes {
                match change {
                    Change::Keys(keys, by) => {
                        for key in keys {
                            for prefix in t.prefixes.keys() {
                                if key.starts_with(prefix) {
                                    bcast
                                        .entry(prefix.clone())
                                        .or_default()
                                        .insert(key.clone(), by);
                                }
                            }
                            let Some(ids) = t.keys.remove(&key) else {
                                continue;
                            };
                            t.items -= ids.len() as u64;
                            for id in ids {
                                let Some(target) = t.clients.get(&id).and_then(Weak::upgrade)
                                else {
                                    continue;
                                };
                                let Some(mode) = target.tracking.mode() else {
                                    continue;
                                };
                                // Keys read before a switch to BCAST are not reported.
                                if mode.bcast || (mode.noloop && by == Some(id)) {
                                    continue;
                                }
                                out.push((target, Invalidated::Keys(vec![key.clone()])));
                            }
                        }
                    }
                    Change::All => {
                        for target in t.clients.values().filter_map(Weak::upgrade) {
                            out.push((target, Invalidated::All));
                        }
                        t.keys.clear();
                        t.items = 0;
                    }
                }
            }
            for (prefix, keys) in bcast {
                let Some(ids) = t.prefixes.get(&prefix) else {
                    continue;
                };
                for id in ids {
                    let Some(target) = t.clients.get(id).and_then(Weak::upgrade) else {
                        continue;
                    };
                    let noloop = target.tracking.mode.lock().noloop;
                    let list: Vec<Bytes> = keys
                        .iter()
                        .filter(|(_, by)| !(noloop && **by == Some(*id)))
                        .map(|(k, _)| k.clone())
                        .collect();
                    if !list.is_empty() {
                        out.push((target, Invalidated::Keys(list)));
                    }
                }
            }
            self.publish(t);
        }
        for (target, what) in out {
            send(&target, what);
        }
    }
}

/// Sends one invalidation for `client` (to it, or to its redirect target).
fn send(client: &Client, what: Invalidated) {
    let redirect = client.tracking.mode.lock().redirect;
    let payload = match what {
        Invalidated::Keys(keys) => Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
        Invalidated::All => Reply::Null,
    };
    if redirect == 0 {
        if client.protocol() == Protocol::Resp3 {
            push(client, vec![Reply::bulk_from_slice(b"invalidate"), payload]);
        }
        // A RESP2 connection cannot take a push between its replies.
        return;
    }
    let target = client
        .tracking
        .redirect_to
        .lock()
        .as_ref()
        .and_then(Weak::upgrade)
        .filter(|t| !t.is_closing());
    let Some(target) = target else {
        client
            .tracking
            .broken_redirect
            .store(true, Ordering::Relaxed);
        if client.protocol() == Protocol::Resp3 {
            push(
                client,
                vec![
                    Reply::bulk_from_slice(b"tracking-redir-broken"),
                    Reply::Integer(redirect as i64),
                ],
            );
        }
        return;
    };
    if target.protocol() == Protocol::Resp3 {
        push(
            &target,
            vec![Reply::bulk_from_slice(b"invalidate"), payload],
        );
    } else if target.is_subscribed() {
        push(
            &target,
            vec![
                Reply::bulk_from_slice(b"message"),
                Reply::bulk_from_slice(INVALIDATION_CHANNEL),
                payload,
            ],
        );
    }
}

/// Writes a push frame straight to a client's socket, in its protocol.
fn push(client: &Client, frame: Vec<Reply>) {
    let mut out = BytesMut::new();
    Reply::Push(frame).encode(&mut out, client.protocol());
    if let Some(sink) = client.sink.get().and_then(Weak::upgrade) {
        sink.push(&out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: u64) -> Arc<Client> {
        let addr = "127.0.0.1:1".parse().expect("a literal address");
        let user = crate::state::acl::Acl::new("").default_user();
        Arc::new(Client::new(id, addr, addr, true, user))
    }

    #[test]
    fn a_change_forgets_the_key_and_its_readers() {
        let t = Tracking::default();
        let c = client(1);
        t.enable(&c, TrackingMode::default(), None);
        t.remember(&c, [&b"a"[..], b"b"]);
        assert_eq!(t.figures(), (1, 2, 2, 0));
        t.deliver(vec![Change::Keys(vec![Bytes::from_static(b"a")], None)]);
        assert_eq!(t.figures(), (1, 1, 1, 0));
        t.deliver(vec![Change::All]);
        assert_eq!(t.figures(), (1, 0, 0, 0));
        t.disable(&c);
        assert!(!t.any());
    }

    #[test]
    fn optin_remembers_only_after_caching_yes() {
        let t = Tracking::default();
        let c = client(1);
        let mode = TrackingMode {
            optin: true,
            ..TrackingMode::default()
        };
        t.enable(&c, mode, None);
        t.remember(&c, [&b"a"[..]]);
        assert_eq!(t.figures().1, 0);
        c.tracking.give_caching();
        t.remember(&c, [&b"a"[..]]);
        assert_eq!(t.figures().1, 1);
    }

    #[test]
    fn bcast_prefixes_are_counted_once_and_dropped_with_their_last_client() {
        let t = Tracking::default();
        let (a, b) = (client(1), client(2));
        let mode = TrackingMode {
            bcast: true,
            prefixes: [Bytes::from_static(b"p:")].into_iter().collect(),
            ..TrackingMode::default()
        };
        t.enable(&a, mode.clone(), None);
        t.enable(&b, mode, None);
        assert_eq!(t.figures().3, 1);
        t.disable(&a);
        assert_eq!(t.figures().3, 1);
        t.disable(&b);
        assert_eq!(t.figures(), (0, 0, 0, 0));
    }

    #[test]
    fn the_table_limit_evicts_down_to_it() {
        let t = Tracking::default();
        let c = client(1);
        t.enable(&c, TrackingMode::default(), None);
        t.remember(&c, [&b"a"[..], b"b", b"c"]);
        t.set_max_keys(1);
        assert_eq!(t.figures().1, 1);
    }
}
