//! One independently locked part of the tier: its entries, their byte count, its generation
//! counter and its share of the budget's eviction work.
//!
//! Entries sit in an `IndexMap` so that eviction can sample them at random positions in O(1);
//! removal swaps the last entry into the hole.

use std::hash::BuildHasherDefault;
use std::sync::Arc;

use indexmap::IndexMap;

use super::body::Body;
use super::policy::{self, Policy, LFU_INIT_VAL};
use super::stats::ShardStats;
use crate::storage::codec::MetaValue;
use crate::util::fnv::Fnv1a;

/// Bookkeeping bytes counted per entry on top of key, record and body: the map's slot (hash,
/// key vector, record, body pointer, counters), its index slot, allocator rounding.
const ENTRY_OVERHEAD: usize = 128;

/// Extra sampling rounds a volatile policy makes when its first samples hold no entry with a
/// deadline, before giving up (the shard then stops admitting).
const VOLATILE_ROUNDS: usize = 8;

/// What an entry costs.
pub(super) fn entry_size(key: &[u8], meta: &MetaValue, body: Option<&Arc<Body>>) -> usize {
    key.len() + meta.body.len() + body.map_or(0, |b| b.size_bytes()) + ENTRY_OVERHEAD
}

/// The settings eviction and access tracking read, loaded once per operation.
#[derive(Clone, Copy)]
pub(super) struct Tuning {
    pub policy: Policy,
    /// Data eviction's policy: its counter moves too (see `TierSettings::data_policy`).
    pub data_policy: Policy,
    pub samples: usize,
    pub log_factor: u32,
    pub decay_time: u32,
    /// Seconds since the Unix epoch.
    pub now_secs: u64,
}

impl Tuning {
    fn fresh_access(&self) -> (u32, u32) {
        (
            policy::lru_clock(self.now_secs),
            policy::lfu_pack(policy::lfu_minutes(self.now_secs), LFU_INIT_VAL),
        )
    }
}

pub(super) struct Entry {
    pub meta: MetaValue,
    pub body: Option<Arc<Body>>,
    size: usize,
    /// The body's share of `size`, as counted when it was cached.
    body_size: usize,
    /// LRU clock of the last access.
    lru: u32,
    /// LFU data (minutes << 8 | counter).
    lfu: u32,
    /// Lookups for a body since the key was last written (see `MetaCache::get_body`).
    pub quiet_reads: u32,
}

impl Entry {
    /// Records an access: only the counters the two policies (the tier's and data
    /// eviction's) read move, as Redis moves only its policy's.
    fn touch(&mut self, t: &Tuning) {
        let lfu = (t.policy.is_lfu(), t.data_policy.is_lfu());
        if lfu.0 || lfu.1 {
            let minutes = policy::lfu_minutes(t.now_secs);
            self.lfu = policy::lfu_touch(self.lfu, minutes, t.decay_time, t.log_factor);
        }
        if !lfu.0 || !lfu.1 {
            self.lru = policy::lru_clock(t.now_secs);
        }
    }

    /// Milliseconds since the last access, and the decayed access frequency.
    pub fn access(&self, t: &Tuning) -> (u64, u8) {
        (
            policy::idle_ms(self.lru, policy::lru_clock(t.now_secs)),
            policy::lfu_decayed(self.lfu, policy::lfu_minutes(t.now_secs), t.decay_time),
        )
    }

    /// Sets the access data (RESTORE ... IDLETIME / FREQ).
    pub fn set_access(&mut self, t: &Tuning, idle_secs: Option<u64>, freq: Option<u8>) {
        if let Some(idle) = idle_secs {
            self.lru = policy::lru_clock(t.now_secs.saturating_sub(idle));
        }
        if let Some(f) = freq {
            self.lfu = policy::lfu_pack(policy::lfu_minutes(t.now_secs), f);
        }
    }

    /// How much the policy wants this entry gone (higher goes first); None: not a candidate.
    fn eviction_score(&self, t: &Tuning) -> Option<u64> {
        let volatile = self.meta.expire_ms != 0;
        if t.policy.volatile_only() && !volatile {
            return None;
        }
        Some(match t.policy {
            Policy::NoEviction => return None,
            Policy::AllkeysLru | Policy::VolatileLru => self.access(t).0,
            Policy::AllkeysLfu | Policy::VolatileLfu => u64::from(255 - self.access(t).1),
            Policy::VolatileTtl => u64::MAX - self.meta.expire_ms,
            // Any candidate will do: the first one sampled wins.
            Policy::AllkeysRandom | Policy::VolatileRandom => 0,
        })
    }
}

type FnvIndexMap<V> = IndexMap<Vec<u8>, V, BuildHasherDefault<Fnv1a>>;

#[derive(Default)]
pub(super) struct Shard {
    map: FnvIndexMap<Entry>,
    bytes: usize,
    /// Entries whose record has a deadline: the only candidates of the volatile policies.
    volatile: usize,
    /// Bumped by every write to the shard; see the module doc.
    pub generation: u64,
    pub stats: ShardStats,
}

impl Shard {
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.map.contains_key(key)
    }

    /// A lookup; `touch` counts it as an access.
    pub fn get(&mut self, key: &[u8], touch: Option<&Tuning>) -> Option<&Entry> {
        let found = match self.map.get_mut(key) {
            Some(e) => {
                if let Some(t) = touch {
                    e.touch(t);
                }
                self.stats.hits += 1;
                Some(&*e)
            }
            None => {
                self.stats.misses += 1;
                None
            }
        };
        found
    }

    /// A lookup that is no access and no hit (OBJECT).
    pub fn peek_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.map.get_mut(key)
    }

    /// Caches a key not held yet, making room by the policy; false when there is no room
    /// (noeviction, or no candidate under a volatile policy).
    pub fn admit(
        &mut self,
        key: &[u8],
        meta: MetaValue,
        body: Option<Arc<Body>>,
        budget: usize,
        t: &Tuning,
    ) -> bool {
        let size = entry_size(key, &meta, body.as_ref());
        let body_size = body.as_ref().map_or(0, |b| b.size_bytes());
        if size > budget {
            return false;
        }
        while self.bytes + size > budget {
            if !self.evict_one(t, None) {
                return false;
            }
        }
        let (lru, lfu) = t.fresh_access();
        self.bytes += size;
        self.volatile += usize::from(meta.expire_ms != 0);
        self.map.insert(
            key.to_vec(),
            Entry {
                meta,
                body,
                size,
                body_size,
                lru,
                lfu,
                quiet_reads: 0,
            },
        );
        true
    }

    /// Replaces a cached key's record (and body); false when the key is not cached. `touch`
    /// counts it as an access. If the shard is then over budget, other entries make room by
    /// the policy, or else this one goes.
    pub fn replace(
        &mut self,
        key: &[u8],
        meta: MetaValue,
        body: Option<Arc<Body>>,
        budget: usize,
        t: &Tuning,
        touch: bool,
    ) -> bool {
        let Some(e) = self.map.get_mut(key) else {
            return false;
        };
        let size = entry_size(key, &meta, body.as_ref());
        e.body_size = body.as_ref().map_or(0, |b| b.size_bytes());
        self.bytes = self.bytes + size - e.size;
        self.volatile =
            self.volatile + usize::from(meta.expire_ms != 0) - usize::from(e.meta.expire_ms != 0);
        if body.is_none() {
            e.quiet_reads = 0;
        }
        e.meta = meta;
        e.body = body;
        e.size = size;
        if touch {
            e.touch(t);
        }
        if self.bytes > budget {
            while self.bytes > budget && self.evict_one(t, Some(key)) {}
            if self.bytes > budget {
                self.remove(key);
            }
        }
        true
    }

    /// Drops a cached key's body, keeping its record.
    pub fn drop_body(&mut self, key: &[u8]) {
        if let Some(e) = self.map.get_mut(key) {
            e.quiet_reads = 0;
            if e.body.take().is_some() {
                e.size -= e.body_size;
                self.bytes -= e.body_size;
                e.body_size = 0;
            }
        }
    }

    pub fn remove(&mut self, key: &[u8]) {
        if let Some(old) = self.map.swap_remove(key) {
            self.forget(&old);
        }
    }

    fn forget(&mut self, old: &Entry) {
        self.bytes -= old.size;
        self.volatile -= usize::from(old.meta.expire_ms != 0);
    }

    /// Removes every entry `doomed` says so of.
    pub fn remove_where(&mut self, mut doomed: impl FnMut(&[u8]) -> bool) {
        self.map.retain(|k, _| !doomed(k));
        self.bytes = self.map.values().map(|e| e.size).sum();
        self.volatile = self.map.values().filter(|e| e.meta.expire_ms != 0).count();
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.bytes = 0;
        self.volatile = 0;
    }

    /// Evicts the entry the policy picks among `t.samples` random ones, never `keep`; false
    /// when none qualifies.
    pub fn evict_one(&mut self, t: &Tuning, keep: Option<&[u8]>) -> bool {
        match self.pick(t, keep) {
            Some(i) => {
                if let Some((_, old)) = self.map.swap_remove_index(i) {
                    self.forget(&old);
                    self.stats.evicted += 1;
                }
                true
            }
            None => false,
        }
    }

    /// Evicts without regard to the policy's restrictions (the budget shrank under what the
    /// policy may free): least recently used among the samples first.
    pub fn evict_any(&mut self, t: &Tuning) -> bool {
        let forced = Tuning {
            policy: if t.policy.is_lfu() {
                Policy::AllkeysLfu
            } else {
                Policy::AllkeysLru
            },
            ..*t
        };
        self.evict_one(&forced, None)
    }

    fn pick(&self, t: &Tuning, keep: Option<&[u8]>) -> Option<usize> {
        let len = self.map.len();
        if len == 0 || t.policy == Policy::NoEviction {
            return None;
        }
        if t.policy.volatile_only() && self.volatile == 0 {
            return None;
        }
        let keep_at = keep.and_then(|k| self.map.get_index_of(k));
        let rounds = if t.policy.volatile_only() {
            VOLATILE_ROUNDS
        } else {
            1
        };
        let samples = t.samples.max(1);
        let mut best: Option<(usize, u64)> = None;
        for _ in 0..rounds {
            for _ in 0..samples {
                let i = (policy::random_u64() % len as u64) as usize;
                if Some(i) == keep_at {
                    continue;
                }
                let Some((_, e)) = self.map.get_index(i) else {
                    continue;
                };
                if let Some(score) = e.eviction_score(t) {
                    if best.is_none_or(|(_, s)| score > s) {
                        best = Some((i, score));
                    }
                    if matches!(t.policy, Policy::AllkeysRandom | Policy::VolatileRandom) {
                        return Some(i);
                    }
                }
            }
            if best.is_some() {
                break;
            }
        }
        best.map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn meta(expire_ms: u64) -> MetaValue {
        MetaValue::string(Bytes::from_static(b"v"), expire_ms, 0)
    }

    fn tuning(policy: Policy, now_secs: u64) -> Tuning {
        // Many samples: with ten entries every one is looked at, so picks are deterministic.
        Tuning {
            policy,
            data_policy: Policy::NoEviction,
            samples: 400,
            log_factor: 10,
            decay_time: 1,
            now_secs,
        }
    }

    /// A budget for exactly `n` entries of `meta(_)` under keys like "k00".
    fn budget_for(n: usize) -> usize {
        n * entry_size(b"k00", &meta(0), None)
    }

    fn keys(s: &Shard) -> Vec<String> {
        let mut v: Vec<String> = s
            .map
            .keys()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn volatile_ttl_evicts_the_nearest_deadline() {
        let t = tuning(Policy::VolatileTtl, 1000);
        let mut s = Shard::default();
        let budget = budget_for(4);
        for (k, e) in [("k00", 0), ("k01", 900), ("k02", 500), ("k03", 700)] {
            assert!(s.admit(k.as_bytes(), meta(e), None, budget, &t));
        }
        assert!(s.admit(b"k04", meta(800), None, budget, &t));
        assert_eq!(keys(&s), ["k00", "k01", "k03", "k04"]);
        assert!(s.admit(b"k05", meta(0), None, budget, &t));
        assert_eq!(keys(&s), ["k00", "k01", "k04", "k05"]);
        assert_eq!(s.stats.evicted, 2);
    }

    #[test]
    fn volatile_policies_never_evict_keys_without_deadline() {
        for policy in [
            Policy::VolatileLru,
            Policy::VolatileLfu,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
        ] {
            let t = tuning(policy, 1000);
            let mut s = Shard::default();
            let budget = budget_for(3);
            assert!(s.admit(b"k00", meta(0), None, budget, &t));
            assert!(s.admit(b"k01", meta(0), None, budget, &t));
            assert!(s.admit(b"k02", meta(5), None, budget, &t));
            assert!(s.admit(b"k03", meta(6), None, budget, &t), "{policy:?}");
            assert_eq!(keys(&s), ["k00", "k01", "k03"], "{policy:?}");
            // Only keys without deadline left to evict: the shard stops admitting.
            assert!(s.admit(b"k04", meta(0), None, budget, &t));
            assert!(!s.admit(b"k05", meta(0), None, budget, &t), "{policy:?}");
            assert_eq!(keys(&s), ["k00", "k01", "k04"], "{policy:?}");
        }
    }

    #[test]
    fn lru_evicts_the_longest_idle() {
        let mut s = Shard::default();
        let budget = budget_for(3);
        for (i, k) in ["k00", "k01", "k02"].iter().enumerate() {
            let t = tuning(Policy::AllkeysLru, 1000 + i as u64);
            assert!(s.admit(k.as_bytes(), meta(0), None, budget, &t));
        }
        // k00 is read again later: k01 is now the longest idle.
        assert!(s
            .get(b"k00", Some(&tuning(Policy::AllkeysLru, 1010)))
            .is_some());
        assert!(s.admit(
            b"k03",
            meta(0),
            None,
            budget,
            &tuning(Policy::AllkeysLru, 1011)
        ));
        assert_eq!(keys(&s), ["k00", "k02", "k03"]);
    }

    #[test]
    fn lfu_keeps_the_often_read_key() {
        let t = tuning(Policy::AllkeysLfu, 60_000);
        let mut s = Shard::default();
        let budget = budget_for(3);
        assert!(s.admit(b"k00", meta(0), None, budget, &t));
        for _ in 0..100 {
            s.get(b"k00", Some(&t));
        }
        let freq = s.peek_mut(b"k00").map(|e| e.access(&t).1);
        assert!(freq.is_some_and(|f| f > LFU_INIT_VAL + 1), "{freq:?}");
        for i in 1..50 {
            let k = format!("k{i:02}");
            assert!(s.admit(k.as_bytes(), meta(0), None, budget, &t));
            // Each newcomer is read once, so it is not the coldest when the next one comes.
            s.get(k.as_bytes(), Some(&t));
        }
        assert!(s.contains(b"k00"));
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn noeviction_admits_until_full_and_still_updates() {
        let t = tuning(Policy::NoEviction, 1000);
        let mut s = Shard::default();
        let budget = budget_for(2);
        assert!(s.admit(b"k00", meta(0), None, budget, &t));
        assert!(s.admit(b"k01", meta(0), None, budget, &t));
        assert!(!s.admit(b"k02", meta(0), None, budget, &t));
        assert!(s.replace(b"k00", meta(7), None, budget, &t, true));
        assert_eq!(s.peek_mut(b"k00").map(|e| e.meta.expire_ms), Some(7));
        // A rewrite that no longer fits invalidates the key instead of evicting another.
        let big = MetaValue::string(Bytes::from(vec![b'x'; 64]), 0, 0);
        assert!(s.replace(b"k01", big, None, budget, &t, true));
        assert_eq!(keys(&s), ["k00"]);
        assert_eq!(s.bytes(), budget_for(1));
    }

    #[test]
    fn random_policies_keep_within_budget() {
        for policy in [
            Policy::AllkeysRandom,
            Policy::AllkeysLru,
            Policy::AllkeysLfu,
        ] {
            let t = tuning(policy, 1000);
            let mut s = Shard::default();
            let budget = budget_for(10);
            for i in 0..100 {
                assert!(s.admit(format!("k{i:02}").as_bytes(), meta(0), None, budget, &t));
                assert!(s.bytes() <= budget);
            }
            assert_eq!(s.len(), 10);
            assert_eq!(s.stats.evicted, 90);
        }
    }

    #[test]
    fn counters_follow_accesses_and_restore() {
        // Within one minute, so the LFU counter does not decay.
        let t = tuning(Policy::AllkeysLru, 1200);
        let mut s = Shard::default();
        assert!(s.admit(b"k00", meta(0), None, budget_for(1), &t));
        let later = tuning(Policy::AllkeysLru, 1242);
        let e = s.peek_mut(b"k00").map(|e| e.access(&later));
        assert_eq!(e, Some((42_000, LFU_INIT_VAL)));
        if let Some(e) = s.peek_mut(b"k00") {
            e.set_access(&later, Some(7), Some(100));
        }
        assert_eq!(
            s.peek_mut(b"k00").map(|e| e.access(&later)),
            Some((7000, 100))
        );
    }
}
