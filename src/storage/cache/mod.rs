//! The hot tier's first layer: an in-memory cache of meta records (strings inline) in front of
//! RocksDB, bounded by `cache-maxmemory`.
//!
//! It is never authoritative. Writers update it after their batch has landed in RocksDB, still
//! under their key locks, so cached records always equal what is on disk. Readers fill it on a
//! miss only if no writer touched the same shard between their disk read and the fill (a shard
//! generation counter), so a slow reader can never put back a record a writer just replaced.
//! When a shard is over its budget the entries inserted first are dropped first (FIFO by first
//! insertion; the eviction policies of the full hot tier build on this).
//!
//! It lives inside storage: it holds storage's decoded records (`codec::MetaValue`) and the
//! write path updates it.

pub mod body;

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use parking_lot::Mutex;

use super::codec::MetaValue;
use crate::util::fnv::{fnv1a, Fnv1a};
use body::Body;

/// Number of independently locked shards.
const SHARDS: usize = 64;
/// Bookkeeping bytes counted per entry on top of key and value: the map's slot (key vector,
/// record, stamp) and the eviction queue's slot, with allocator rounding.
const ENTRY_OVERHEAD: usize = 128;

/// FNV-1a: fast on short keys; the keys are ours (prefixed by db and slot), not adversarial
/// beyond what a bounded, evicting cache tolerates.
type FnvMap<V> = HashMap<Vec<u8>, V, BuildHasherDefault<Fnv1a>>;

struct Entry {
    value: MetaValue,
    body: Option<Arc<Body>>,
    /// Lookups for a body since the entry was last written: a body is read from disk only for
    /// collections read repeatedly without writes in between.
    quiet_reads: u32,
    /// Insertion stamp, matching the eviction queue's record of this insertion.
    stamp: u64,
}

#[derive(Default)]
struct Shard {
    map: FnvMap<Entry>,
    /// Insertions, oldest first, as (key, stamp); stale pairs are skipped at eviction.
    order: VecDeque<(Vec<u8>, u64)>,
    bytes: usize,
    /// Bumped by every write to the shard; see the module doc.
    generation: u64,
    next_stamp: u64,
}

/// What an entry costs: the key twice (map and eviction queue), the value, the bookkeeping.
fn entry_size(key: &[u8], value: &MetaValue, body: Option<&Arc<Body>>) -> usize {
    2 * key.len() + value.body.len() + ENTRY_OVERHEAD + body.map_or(0, |b| b.size_bytes())
}

impl Shard {
    fn insert(&mut self, key: &[u8], value: MetaValue, budget: usize) {
        self.insert_with(key, value, None, budget)
    }

    fn insert_with(
        &mut self,
        key: &[u8],
        value: MetaValue,
        body: Option<Arc<Body>>,
        budget: usize,
    ) {
        let size = entry_size(key, &value, body.as_ref());
        if size > budget {
            self.remove(key);
            return;
        }
        if let Some(entry) = self.map.get_mut(key) {
            // Rewrites keep the key's place in the eviction order: no allocation on the hot path.
            self.bytes = self.bytes + size - entry_size(key, &entry.value, entry.body.as_ref());
            entry.value = value;
            if body.is_none() {
                entry.quiet_reads = 0;
            }
            entry.body = body;
        } else {
            self.next_stamp += 1;
            let stamp = self.next_stamp;
            self.map.insert(
                key.to_vec(),
                Entry {
                    value,
                    body,
                    quiet_reads: 0,
                    stamp,
                },
            );
            self.bytes += size;
            self.order.push_back((key.to_vec(), stamp));
        }
        while self.bytes > budget {
            let Some((k, s)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&k).is_some_and(|e| e.stamp == s) {
                self.remove(&k);
            }
        }
        // Keep the queue from growing with stale pairs left by deletions.
        if self.order.len() > 2 * self.map.len() + 64 {
            let map = &self.map;
            self.order
                .retain(|(k, s)| map.get(k).is_some_and(|e| e.stamp == *s));
        }
    }

    fn remove(&mut self, key: &[u8]) {
        if let Some(old) = self.map.remove(key) {
            self.bytes -= entry_size(key, &old.value, old.body.as_ref());
        }
    }
}

/// The cache of meta records, keyed by meta key.
pub struct MetaCache {
    shards: Box<[Mutex<Shard>]>,
    shard_budget: usize,
}

/// Result of a lookup of a collection's body.
pub enum BodyLookup {
    Hit(MetaValue, Arc<Body>),
    /// The meta record is cached, its body is not; pass the generation to `fill_body`. The
    /// count is of such lookups since the collection was last written.
    MetaOnly(MetaValue, u64, u32),
    Miss(u64),
}

/// Result of a lookup.
pub enum Lookup {
    Hit(MetaValue),
    /// Not cached; pass the generation to [`MetaCache::fill`] after reading the disk.
    Miss(u64),
}

impl MetaCache {
    /// A cache holding about `capacity_bytes`; 0 disables it.
    pub fn new(capacity_bytes: usize) -> MetaCache {
        MetaCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            shard_budget: capacity_bytes / SHARDS,
        }
    }

    fn shard(&self, key: &[u8]) -> &Mutex<Shard> {
        &self.shards[(fnv1a(key) as usize) % SHARDS]
    }

    /// True when the cache holds nothing ever (capacity 0).
    pub fn is_disabled(&self) -> bool {
        self.shard_budget == 0
    }

    /// Looks a meta key up.
    pub fn get(&self, key: &[u8]) -> Lookup {
        let shard = self.shard(key).lock();
        match shard.map.get(key) {
            Some(e) => Lookup::Hit(e.value.clone()),
            None => Lookup::Miss(shard.generation),
        }
    }

    /// Looks a collection's meta record and body up.
    pub fn get_body(&self, key: &[u8]) -> BodyLookup {
        let mut shard = self.shard(key).lock();
        let generation = shard.generation;
        match shard.map.get_mut(key) {
            Some(Entry {
                value,
                body: Some(body),
                ..
            }) => BodyLookup::Hit(value.clone(), Arc::clone(body)),
            Some(e) => {
                e.quiet_reads = e.quiet_reads.saturating_add(1);
                BodyLookup::MetaOnly(e.value.clone(), generation, e.quiet_reads)
            }
            None => BodyLookup::Miss(generation),
        }
    }

    /// Caches a collection read from disk, unless a writer changed the shard since `generation`.
    pub fn fill_body(&self, key: &[u8], meta: &MetaValue, body: Arc<Body>, generation: u64) {
        if self.is_disabled() {
            return;
        }
        let mut shard = self.shard(key).lock();
        if shard.generation == generation {
            shard.insert_with(key, meta.clone(), Some(body), self.shard_budget);
        }
    }

    /// Records a committed element write: the collection's body (if held) is gone.
    pub fn drop_body(&self, key: &[u8]) {
        let mut shard = self.shard(key).lock();
        shard.generation += 1;
        let shard = &mut *shard;
        if let Some(e) = shard.map.get_mut(key) {
            e.quiet_reads = 0;
            if let Some(b) = e.body.take() {
                shard.bytes -= b.size_bytes();
            }
        }
    }

    /// Caches a record read from disk, unless a writer changed the shard since `generation`.
    pub fn fill(&self, key: &[u8], value: &MetaValue, generation: u64) {
        if self.is_disabled() {
            return;
        }
        let mut shard = self.shard(key).lock();
        if shard.generation == generation && !shard.map.contains_key(key) {
            shard.insert(key, value.clone(), self.shard_budget);
        }
    }

    /// Records a committed write: the key now holds `value` (None: deleted).
    pub fn update(&self, key: &[u8], value: Option<&MetaValue>) {
        let mut shard = self.shard(key).lock();
        shard.generation += 1;
        match value {
            Some(v) if !self.is_disabled() => shard.insert(key, v.clone(), self.shard_budget),
            _ => shard.remove(key),
        }
    }

    /// Records a committed write like [`MetaCache::update`], but caches nothing new: a slave
    /// applying its master's stream would otherwise churn the cache with every written key.
    pub fn refresh(&self, key: &[u8], value: Option<&MetaValue>) {
        let mut shard = self.shard(key).lock();
        shard.generation += 1;
        match value {
            Some(v) if shard.map.contains_key(key) => {
                shard.insert(key, v.clone(), self.shard_budget)
            }
            Some(_) => {}
            None => shard.remove(key),
        }
    }

    /// Forgets everything.
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            let mut s = shard.lock();
            s.generation += 1;
            s.map.clear();
            s.order.clear();
            s.bytes = 0;
        }
    }

    /// Forgets every key starting with `prefix` (a whole database was cleared).
    pub fn remove_prefix(&self, prefix: &[u8]) {
        for shard in self.shards.iter() {
            let mut s = shard.lock();
            s.generation += 1;
            let doomed: Vec<Vec<u8>> = s
                .map
                .keys()
                .filter(|k| k.starts_with(prefix))
                .cloned()
                .collect();
            for k in doomed {
                s.remove(&k);
            }
        }
    }

    /// Bytes accounted to cached entries (INFO).
    pub fn used_bytes(&self) -> usize {
        self.shards.iter().map(|s| s.lock().bytes).sum()
    }

    /// Number of cached records (INFO).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map.len()).sum()
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
}
