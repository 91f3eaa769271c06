//! The hot tier: an in-memory cache of meta records (strings inline) and, beside them,
//! decoded collection bodies, in front of RocksDB, bounded by `cache-maxmemory` and emptied by
//! Redis' eviction policies (`cache-maxmemory-policy`, alias `maxmemory-policy`).
//!
//! It is never authoritative. Writers update it after their batch has landed in RocksDB, still
//! under their key locks, so cached records always equal what is on disk. Readers fill it on a
//! miss only if no writer touched the same shard between their disk read and the fill (a shard
//! generation counter), so a slow reader can never put back a record a writer just replaced.
//!
//! Each of the [`SHARDS`] shards gets an equal part of the budget. A new key that does not fit
//! evicts entries its shard picks by the policy ([`policy`]: LRU clock or LFU Morris counter,
//! sampling `cache-maxmemory-samples` entries, volatile-* only among records with a deadline);
//! when nothing may be evicted (noeviction, or no deadline under volatile-*) the key is simply
//! not cached: clients are never refused, the data is on disk. A shrunk budget is enforced by a
//! background thread, a few entries per lock so clients are not paused; it is a memory bound, so
//! when the policy may not free enough, other entries go too (least recently used first).
//!
//! A record write ([`MetaCache::update`], or [`MetaCache::refresh`] on a slave) replaces the
//! record and drops the body; an element write ([`MetaCache::drop_body`]) drops only the body,
//! or replaces it with what the write left ([`MetaCache::set_body`], HSET). All bump the
//! generation, so [`MetaCache::fill_body`] from an older read never lands.
//!
//! Lookups count as accesses for the policies, except inside [`untouched`] (commands that
//! Redis runs with LOOKUP_NOTOUCH: OBJECT, TYPE, TTL, ...).
//!
//! It lives inside storage: it holds storage's decoded records (`codec::MetaValue`) and the
//! write path updates it.

pub mod body;
mod policy;
mod shard;
mod stats;

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

pub use body::Body;
pub use policy::{Policy, LFU_INIT_VAL, POLICY_NAMES};
use shard::{Shard, Tuning};
pub use stats::TierStats;

use super::codec::MetaValue;
use crate::util::fnv::fnv1a;

/// Number of independently locked shards.
pub const SHARDS: usize = 64;
/// Entries evicted per lock while enforcing a shrunk budget.
const SHRINK_BATCH: usize = 32;

/// The tier's run-time settings (from the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierSettings {
    /// `cache-maxmemory`: bytes; 0 caches nothing.
    pub capacity: usize,
    pub policy: Policy,
    /// `maxmemory-policy`: the policy of data eviction, whose counter (LRU clock or LFU
    /// counter) entries keep too, for OBJECT IDLETIME / FREQ and for choosing keys to delete.
    pub data_policy: Policy,
    /// Entries sampled per eviction.
    pub samples: usize,
    pub lfu_log_factor: u32,
    /// Minutes per decrement of an idle key's LFU counter (0: never).
    pub lfu_decay_time: u32,
}

impl TierSettings {
    /// Redis' defaults at `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> TierSettings {
        TierSettings {
            capacity,
            policy: Policy::AllkeysLru,
            data_policy: Policy::NoEviction,
            samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
        }
    }
}

/// A cached key's access data, for OBJECT IDLETIME / FREQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub idle_ms: u64,
    /// LFU counter after decay.
    pub freq: u8,
}

impl Access {
    /// What a key just loaded reports.
    pub const FRESH: Access = Access {
        idle_ms: 0,
        freq: LFU_INIT_VAL,
    };
}

struct Inner {
    shards: Box<[Mutex<Shard>]>,
    shard_budget: AtomicUsize,
    policy: AtomicU8,
    data_policy: AtomicU8,
    samples: AtomicUsize,
    log_factor: AtomicU32,
    decay_time: AtomicU32,
}

impl Inner {
    fn tuning(&self) -> Tuning {
        Tuning {
            policy: Policy::from_u8(self.policy.load(Ordering::Relaxed)),
            data_policy: Policy::from_u8(self.data_policy.load(Ordering::Relaxed)),
            samples: self.samples.load(Ordering::Relaxed),
            log_factor: self.log_factor.load(Ordering::Relaxed),
            decay_time: self.decay_time.load(Ordering::Relaxed),
            now_secs: crate::util::clock::unix_secs_coarse(),
        }
    }

    fn budget(&self) -> usize {
        self.shard_budget.load(Ordering::Relaxed)
    }

    /// Evicts until every shard is within budget, a batch per lock.
    fn shrink(&self) {
        for shard in self.shards.iter() {
            loop {
                let mut s = shard.lock();
                let budget = self.budget();
                let t = self.tuning();
                let mut stuck = false;
                for _ in 0..SHRINK_BATCH {
                    if s.bytes() <= budget {
                        break;
                    }
                    if !s.evict_one(&t, None) && !s.evict_any(&t) {
                        stuck = true;
                        break;
                    }
                }
                if stuck || s.bytes() <= budget {
                    break;
                }
            }
        }
    }
}

/// The cache of meta records, keyed by meta key.
pub struct MetaCache {
    inner: Arc<Inner>,
}

/// Result of a lookup.
pub enum Lookup {
    Hit(MetaValue),
    /// Not cached; pass the generation to [`MetaCache::fill`] after reading the disk.
    Miss(u64),
}

/// Result of a lookup of a record and its decoded body.
pub enum BodyLookup {
    Hit(MetaValue, Arc<Body>),
    /// The record is cached, its body not; pass the generation to [`MetaCache::fill_body`].
    /// The count is of such lookups since the key was last written.
    MetaOnly(MetaValue, u64, u32),
    Miss(u64),
}

thread_local! {
    static UNTOUCHED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with the tier's lookups on this thread not counting as accesses (Redis'
/// LOOKUP_NOTOUCH: OBJECT, TYPE, TTL and the like must not make a key look hot).
pub fn untouched<R>(f: impl FnOnce() -> R) -> R {
    /// Restores the previous mode even if `f` unwinds, so a worker thread never stays untouched.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            UNTOUCHED.with(|u| u.set(self.0));
        }
    }
    let _restore = Restore(UNTOUCHED.with(|u| u.replace(true)));
    f()
}

fn touching() -> bool {
    !UNTOUCHED.with(Cell::get)
}

impl MetaCache {
    /// A cache holding about `capacity_bytes` with the default policy; 0 disables it.
    pub fn new(capacity_bytes: usize) -> MetaCache {
        MetaCache::with_settings(TierSettings::with_capacity(capacity_bytes))
    }

    /// A cache with these settings.
    pub fn with_settings(settings: TierSettings) -> MetaCache {
        let cache = MetaCache {
            inner: Arc::new(Inner {
                shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
                shard_budget: AtomicUsize::new(0),
                policy: AtomicU8::new(0),
                data_policy: AtomicU8::new(Policy::NoEviction as u8),
                samples: AtomicUsize::new(5),
                log_factor: AtomicU32::new(10),
                decay_time: AtomicU32::new(1),
            }),
        };
        cache.configure(&settings);
        cache
    }

    /// Applies changed settings. A smaller capacity is enforced by a background thread.
    pub fn configure(&self, s: &TierSettings) {
        let inner = &self.inner;
        inner.policy.store(s.policy as u8, Ordering::Relaxed);
        inner
            .data_policy
            .store(s.data_policy as u8, Ordering::Relaxed);
        inner.samples.store(s.samples.max(1), Ordering::Relaxed);
        inner.log_factor.store(s.lfu_log_factor, Ordering::Relaxed);
        inner.decay_time.store(s.lfu_decay_time, Ordering::Relaxed);
        let budget = s.capacity / SHARDS;
        let old = inner.shard_budget.swap(budget, Ordering::Relaxed);
        if budget < old {
            let inner = Arc::clone(&self.inner);
            let spawned = std::thread::Builder::new()
                .name("cache-shrink".into())
                .spawn(move || inner.shrink());
            if spawned.is_err() {
                // No thread: enforce it here rather than not at all.
                self.inner.shrink();
            }
        }
    }

    /// Enforces the budget now (tests; the background shrink does the same).
    pub fn shrink_now(&self) {
        self.inner.shrink();
    }

    /// The policy in force.
    pub fn policy(&self) -> Policy {
        Policy::from_u8(self.inner.policy.load(Ordering::Relaxed))
    }

    fn shard(&self, key: &[u8]) -> &Mutex<Shard> {
        &self.inner.shards[(fnv1a(key) as usize) % SHARDS]
    }

    /// True when the cache holds nothing (capacity 0).
    pub fn is_disabled(&self) -> bool {
        self.inner.budget() == 0
    }

    /// Looks a meta key up (an access, unless [`untouched`]).
    pub fn get(&self, key: &[u8]) -> Lookup {
        let t = touching().then(|| self.inner.tuning());
        let mut shard = self.shard(key).lock();
        match shard.get(key, t.as_ref()) {
            Some(e) => Lookup::Hit(e.meta.clone()),
            None => Lookup::Miss(shard.generation),
        }
    }

    /// Looks a meta key and its decoded body up (an access, like [`MetaCache::get`]).
    pub fn get_body(&self, key: &[u8]) -> BodyLookup {
        let t = touching().then(|| self.inner.tuning());
        let mut shard = self.shard(key).lock();
        let generation = shard.generation;
        let meta = match shard.get(key, t.as_ref()) {
            Some(e) => match &e.body {
                Some(b) => return BodyLookup::Hit(e.meta.clone(), Arc::clone(b)),
                None => e.meta.clone(),
            },
            None => return BodyLookup::Miss(generation),
        };
        let quiet_reads = shard.peek_mut(key).map_or(0, |e| {
            e.quiet_reads = e.quiet_reads.saturating_add(1);
            e.quiet_reads
        });
        BodyLookup::MetaOnly(meta, generation, quiet_reads)
    }

    /// The access data of a cached key, without counting an access (OBJECT).
    pub fn access(&self, key: &[u8]) -> Option<Access> {
        let t = self.inner.tuning();
        let mut shard = self.shard(key).lock();
        shard.peek_mut(key).map(|e| {
            let (idle_ms, freq) = e.access(&t);
            Access { idle_ms, freq }
        })
    }

    /// Sets a cached key's idle time and/or LFU counter (RESTORE ... IDLETIME / FREQ).
    pub fn set_access(&self, key: &[u8], idle_secs: Option<u64>, freq: Option<u8>) {
        let t = self.inner.tuning();
        let mut shard = self.shard(key).lock();
        if let Some(e) = shard.peek_mut(key) {
            e.set_access(&t, idle_secs, freq);
        }
    }

    /// Caches a record read from disk, unless a writer changed the shard since `generation`.
    pub fn fill(&self, key: &[u8], value: &MetaValue, generation: u64) {
        let budget = self.inner.budget();
        if budget == 0 {
            return;
        }
        let t = self.inner.tuning();
        let mut shard = self.shard(key).lock();
        if shard.generation == generation && !shard.contains(key) {
            shard.admit(key, value.clone(), None, budget, &t);
        }
    }

    /// Caches a decoded body (and its record) read from disk, unless a writer changed the
    /// shard since `generation`; inserts the entry if absent.
    pub fn fill_body(&self, key: &[u8], meta: &MetaValue, body: Arc<Body>, generation: u64) {
        let budget = self.inner.budget();
        if budget == 0 {
            return;
        }
        let t = self.inner.tuning();
        let mut shard = self.shard(key).lock();
        if shard.generation != generation {
            return;
        }
        if !shard.replace(
            key,
            meta.clone(),
            Some(Arc::clone(&body)),
            budget,
            &t,
            false,
        ) {
            shard.admit(key, meta.clone(), Some(body), budget, &t);
        }
    }

    /// The body held for `key`, without counting an access (its writer loaded the key already).
    pub fn held_body(&self, key: &[u8]) -> Option<Arc<Body>> {
        let mut shard = self.shard(key).lock();
        shard.peek_mut(key).and_then(|e| e.body.clone())
    }

    /// Records a committed write that left `key`'s collection as `body`, so the next write or
    /// read of it needs no disk read (write-through). Only a key the tier holds takes it.
    pub fn set_body(&self, key: &[u8], body: Arc<Body>) {
        let budget = self.inner.budget();
        let t = self.inner.tuning();
        let mut shard = self.shard(key).lock();
        shard.generation += 1;
        if let Some(meta) = shard.peek_mut(key).map(|e| e.meta.clone()) {
            shard.replace(key, meta, Some(body), budget, &t, false);
        }
    }

    /// Records a committed element write: the key's record stays, its body goes.
    pub fn drop_body(&self, key: &[u8]) {
        let mut shard = self.shard(key).lock();
        shard.generation += 1;
        shard.drop_body(key);
    }

    /// Records a committed write: the key now holds `value` (None: deleted). A cached body is
    /// dropped.
    pub fn update(&self, key: &[u8], value: Option<&MetaValue>) {
        let budget = self.inner.budget();
        let t = self.inner.tuning();
        let mut shard = self.shard(key).lock();
        shard.generation += 1;
        match value {
            Some(v) if budget > 0 => {
                if !shard.replace(key, v.clone(), None, budget, &t, true) {
                    shard.admit(key, v.clone(), None, budget, &t);
                }
            }
            _ => shard.remove(key),
        }
    }

    /// Records a committed write like [`MetaCache::update`], but caches nothing new: a slave
    /// applying its master's stream would otherwise churn the cache with every written key.
    pub fn refresh(&self, key: &[u8], value: Option<&MetaValue>) {
        let budget = self.inner.budget();
        let t = self.inner.tuning();
        let mut shard = self.shard(key).lock();
        shard.generation += 1;
        match value {
            Some(v) => {
                shard.replace(key, v.clone(), None, budget, &t, false);
            }
            None => shard.remove(key),
        }
    }

    /// Forgets everything.
    pub fn clear(&self) {
        for shard in self.inner.shards.iter() {
            let mut s = shard.lock();
            s.generation += 1;
            s.clear();
        }
    }

    /// Forgets every key starting with `prefix` (a whole database was cleared).
    pub fn remove_prefix(&self, prefix: &[u8]) {
        for shard in self.inner.shards.iter() {
            let mut s = shard.lock();
            s.generation += 1;
            s.remove_where(|k| k.starts_with(prefix));
        }
    }

    /// Sizes and counters (INFO).
    pub fn stats(&self) -> TierStats {
        let mut out = TierStats::default();
        for shard in self.inner.shards.iter() {
            let s = shard.lock();
            out.memory += s.bytes();
            out.keys += s.len();
            out.hits += s.stats.hits;
            out.misses += s.stats.misses;
            out.evicted += s.stats.evicted;
        }
        out
    }

    /// Zeroes the counters (CONFIG RESETSTAT).
    pub fn reset_stats(&self) {
        for shard in self.inner.shards.iter() {
            shard.lock().stats = Default::default();
        }
    }

    /// Bytes accounted to cached entries.
    pub fn used_bytes(&self) -> usize {
        self.inner.shards.iter().map(|s| s.lock().bytes()).sum()
    }

    /// Number of cached records.
    pub fn len(&self) -> usize {
        self.inner.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn v(s: &str) -> MetaValue {
        MetaValue::string(Bytes::copy_from_slice(s.as_bytes()), 0, 0)
    }

    #[test]
    fn fill_then_hit() {
        let c = MetaCache::new(1 << 20);
        let Lookup::Miss(g) = c.get(b"k") else {
            panic!("empty cache hit")
        };
        c.fill(b"k", &v("a"), g);
        assert!(matches!(c.get(b"k"), Lookup::Hit(m) if m.body == "a"));
    }

    #[test]
    fn fill_after_a_concurrent_write_is_dropped() {
        let c = MetaCache::new(1 << 20);
        let Lookup::Miss(g) = c.get(b"k") else {
            panic!("empty cache hit")
        };
        // A writer commits "new" and then evicts nothing; the reader's stale "old" must not win.
        c.update(b"k", None);
        c.fill(b"k", &v("old"), g);
        assert!(matches!(c.get(b"k"), Lookup::Miss(_)));
    }

    #[test]
    fn refresh_updates_cached_keys_only() {
        let c = MetaCache::new(1 << 20);
        c.refresh(b"new", Some(&v("a")));
        assert!(matches!(c.get(b"new"), Lookup::Miss(_)));
        c.update(b"k", Some(&v("a")));
        c.refresh(b"k", Some(&v("b")));
        assert!(matches!(c.get(b"k"), Lookup::Hit(m) if m.body == "b"));
        let Lookup::Miss(g) = c.get(b"other") else {
            panic!("uncached key hit")
        };
        // A refresh is a write: a reader's fill from before it must not land.
        c.refresh(b"other", Some(&v("x")));
        c.fill(b"other", &v("stale"), g);
        assert!(matches!(c.get(b"other"), Lookup::Miss(_)));
        c.refresh(b"k", None);
        assert!(matches!(c.get(b"k"), Lookup::Miss(_)));
    }

    #[test]
    fn updates_replace_and_delete() {
        let c = MetaCache::new(1 << 20);
        c.update(b"k", Some(&v("a")));
        c.update(b"k", Some(&v("b")));
        assert!(matches!(c.get(b"k"), Lookup::Hit(m) if m.body == "b"));
        c.update(b"k", None);
        assert!(matches!(c.get(b"k"), Lookup::Miss(_)));
    }

    #[test]
    fn memory_stays_within_budget() {
        let c = MetaCache::new(64 * 1024);
        for i in 0..10_000 {
            c.update(format!("key{i}").as_bytes(), Some(&v("0123456789")));
        }
        assert!(c.used_bytes() <= 64 * 1024);
        assert!(!c.is_empty());
    }

    #[test]
    fn prefix_removal_clears_one_database() {
        let c = MetaCache::new(1 << 20);
        c.update(b"\x00\x01a", Some(&v("x")));
        c.update(b"\x00\x02a", Some(&v("y")));
        c.remove_prefix(b"\x00\x01");
        assert!(matches!(c.get(b"\x00\x01a"), Lookup::Miss(_)));
        assert!(matches!(c.get(b"\x00\x02a"), Lookup::Hit(_)));
    }

    #[test]
    fn disabled_cache_holds_nothing() {
        let c = MetaCache::new(0);
        c.update(b"k", Some(&v("a")));
        assert!(matches!(c.get(b"k"), Lookup::Miss(_)));
    }

    fn with(policy: Policy, capacity: usize) -> MetaCache {
        MetaCache::with_settings(TierSettings {
            policy,
            ..TierSettings::with_capacity(capacity)
        })
    }

    fn generation(c: &MetaCache, key: &[u8]) -> u64 {
        match c.get(key) {
            Lookup::Miss(g) => g,
            Lookup::Hit(_) => panic!("cached"),
        }
    }

    #[test]
    fn bodies_are_filled_kept_and_dropped() {
        let c = MetaCache::new(1 << 20);
        let g = generation(&c, b"h");
        c.fill_body(b"h", &v("hdr"), Arc::new(Body::Set(Default::default())), g);
        assert!(matches!(c.get_body(b"h"), BodyLookup::Hit(m, _) if m.body == "hdr"));
        // An element write keeps the record and drops the body.
        c.drop_body(b"h");
        let BodyLookup::MetaOnly(m, g, _) = c.get_body(b"h") else {
            panic!("body kept")
        };
        assert_eq!(m.body, "hdr");
        c.fill_body(b"h", &m, Arc::new(Body::Set(Default::default())), g);
        assert!(matches!(c.get_body(b"h"), BodyLookup::Hit(..)));
        // A record write drops the body too.
        c.update(b"h", Some(&v("hdr2")));
        assert!(matches!(c.get_body(b"h"), BodyLookup::MetaOnly(m, _, _) if m.body == "hdr2"));
        c.refresh(b"h", Some(&v("hdr3")));
        assert!(matches!(c.get_body(b"h"), BodyLookup::MetaOnly(m, _, _) if m.body == "hdr3"));
        c.update(b"h", None);
        assert!(matches!(c.get_body(b"h"), BodyLookup::Miss(_)));
    }

    #[test]
    fn body_fill_after_a_concurrent_write_is_dropped() {
        let c = MetaCache::new(1 << 20);
        c.update(b"h", Some(&v("hdr")));
        let BodyLookup::MetaOnly(m, g, _) = c.get_body(b"h") else {
            panic!("record cached")
        };
        c.drop_body(b"h");
        c.fill_body(b"h", &m, Arc::new(Body::Set(Default::default())), g);
        assert!(matches!(c.get_body(b"h"), BodyLookup::MetaOnly(..)));
        // An absent key is inserted with its body.
        let g = generation(&c, b"other");
        c.fill_body(
            b"other",
            &v("o"),
            Arc::new(Body::Set(Default::default())),
            g,
        );
        assert!(matches!(c.get_body(b"other"), BodyLookup::Hit(..)));
    }

    #[test]
    fn noeviction_stops_admitting_but_applies_updates() {
        let c = with(Policy::NoEviction, 64 * 1024);
        for i in 0..10_000 {
            c.update(format!("key{i}").as_bytes(), Some(&v("0123456789")));
        }
        let held = c.len();
        assert!(held > 0 && c.used_bytes() <= 64 * 1024);
        assert_eq!(c.stats().evicted, 0);
        let cached = (0..10_000)
            .map(|i| format!("key{i}"))
            .find(|k| matches!(c.get(k.as_bytes()), Lookup::Hit(_)));
        let Some(k) = cached else {
            panic!("nothing cached")
        };
        c.update(k.as_bytes(), Some(&v("new")));
        assert!(matches!(c.get(k.as_bytes()), Lookup::Hit(m) if m.body == "new"));
        assert_eq!(c.len(), held);
    }

    #[test]
    fn volatile_policy_keeps_keys_without_deadline() {
        let c = with(Policy::VolatileLru, SHARDS * 2048);
        let plain: Vec<String> = (0..64).map(|i| format!("plain{i}")).collect();
        for k in &plain {
            c.update(k.as_bytes(), Some(&v("x")));
        }
        let ttl = MetaValue::string(Bytes::from_static(b"x"), 1 << 50, 0);
        for i in 0..5_000 {
            c.update(format!("ttl{i}").as_bytes(), Some(&ttl));
        }
        assert!(c.stats().evicted > 0);
        assert!(c.used_bytes() <= SHARDS * 2048);
        for k in &plain {
            assert!(matches!(c.get(k.as_bytes()), Lookup::Hit(_)), "{k}");
        }
    }

    #[test]
    fn shrinking_evicts_and_growing_raises_the_limit() {
        let c = MetaCache::new(1 << 20);
        for i in 0..5_000 {
            c.update(format!("key{i}").as_bytes(), Some(&v("0123456789")));
        }
        assert!(c.used_bytes() > 256 * 1024);
        c.configure(&TierSettings::with_capacity(64 * 1024));
        c.shrink_now();
        assert!(c.used_bytes() <= 64 * 1024);
        // Under noeviction the smaller limit still holds: it is a memory bound.
        c.configure(&TierSettings::with_capacity(1 << 20));
        for i in 0..5_000 {
            c.update(format!("key{i}").as_bytes(), Some(&v("0123456789")));
        }
        c.configure(&TierSettings {
            policy: Policy::NoEviction,
            ..TierSettings::with_capacity(32 * 1024)
        });
        c.shrink_now();
        assert!(c.used_bytes() <= 32 * 1024);
        c.configure(&TierSettings::with_capacity(0));
        c.shrink_now();
        assert!(c.is_empty() && c.is_disabled());
    }

    #[test]
    fn untouched_lookups_leave_counters_alone() {
        // No decay: a minute turning during the test must not lower the counter.
        let c = MetaCache::with_settings(TierSettings {
            policy: Policy::AllkeysLfu,
            lfu_decay_time: 0,
            ..TierSettings::with_capacity(1 << 20)
        });
        c.update(b"k", Some(&v("a")));
        assert_eq!(c.access(b"k").map(|a| a.freq), Some(LFU_INIT_VAL));
        untouched(|| {
            for _ in 0..10 {
                c.get(b"k");
            }
        });
        assert_eq!(c.access(b"k").map(|a| a.freq), Some(LFU_INIT_VAL));
        c.get(b"k");
        assert_eq!(c.access(b"k").map(|a| a.freq), Some(LFU_INIT_VAL + 1));
        let s = c.stats();
        assert_eq!((s.hits, s.keys), (11, 1));
    }
}
