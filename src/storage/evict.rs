//! Data eviction under `maxmemory`: Redis' `performEvictions` over a disk store.
//!
//! The data lives on disk, so `maxmemory` does not bound the data set: it bounds the process
//! (INFO's used_memory), and `maxmemory-policy` decides what goes when the process is past it,
//! exactly as in Redis, so that clients written for Redis' eviction (caches with a memory cap,
//! keyspace-notification listeners, client-side caching) see what they expect. Deleting a key
//! from RocksDB seldom frees process memory, so a limit below what the server needs anyway
//! deletes every candidate key: Redis does the same when its limit is under its own baseline.
//!
//! Each round samples `maxmemory-samples` candidates (per database for the `allkeys-*`
//! policies, from the expiry index for the `volatile-*` ones) and deletes the best one by the
//! policy: any for `*-random`, the nearest deadline for `volatile-ttl`, the longest idle or the
//! least frequently used (the hot tier's counters; a key the tier does not hold was not read
//! lately enough to stay there, so it counts as the coldest) for `*-lru` / `*-lfu`.
//!
//! A deletion is an ordinary write through the single write path (so the hot tier, WATCH,
//! blocked clients and client-side caching hear of it, and the binlog carries it to replicas
//! like a DEL), made under the key's lock after re-reading the key; it then publishes the
//! `evicted` keyspace event and counts in INFO's `evicted_keys`. The work of one call is
//! bounded ([`MAX_KEYS_PER_CALL`]): the next command continues where it stopped.

use std::sync::atomic::Ordering;

use rand::Rng;

use super::cache::{untouched, Policy};
use super::codec::{self, decode_expire_key, decode_meta_key, Cf, MetaValue};
use super::types::Writer;
use super::{Storage, StorageError};
use crate::util::clock::unix_ms;
use crate::util::keyspace_events::EventClasses;

/// Most keys one call deletes: a command never waits for more than this many deletions.
pub const MAX_KEYS_PER_CALL: usize = 256;

/// Index entries or records looked at per sample before it gives up (expired or stale ones are
/// skipped; the expirer removes them).
const SKIP_BUDGET: usize = 64;

/// What one call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvictionRun {
    /// Keys deleted.
    pub evicted: u64,
    /// Whether memory was still past the limit when the call stopped.
    pub still_over: bool,
}

/// A sampled key: its physical database, name and how much the policy wants it gone.
struct Candidate {
    pdb: u16,
    key: Vec<u8>,
    score: u64,
}

impl Storage {
    /// Deletes keys chosen by `policy` (sampling `samples` keys per choice) while `over_limit`
    /// says memory is past the limit, at most [`MAX_KEYS_PER_CALL`] of them. Does nothing on a
    /// replica (its master's deletions arrive through replication) or under noeviction.
    pub fn evict(
        &self,
        policy: Policy,
        samples: usize,
        over_limit: &dyn Fn() -> bool,
    ) -> Result<EvictionRun, StorageError> {
        let mut run = EvictionRun::default();
        if !over_limit() {
            return Ok(run);
        }
        run.still_over = true;
        if policy == Policy::NoEviction || self.is_replica() {
            return Ok(run);
        }
        // Deletions land at once, outside the caller's round (paused at the first one, so a
        // call that finds nothing to delete costs the round nothing): the invalidations and
        // events they raise go out before the command that triggered them answers.
        let mut pause = None;
        // The latency monitor's `eviction-cycle` is this call, `eviction-del` one key's removal.
        // Sampling and re-reading are no accesses: they must not make a key look hot.
        self.timed("eviction-cycle", || {
            untouched(|| {
                // A chosen key that changed meanwhile is skipped; that too is bounded.
                for _ in 0..2 * MAX_KEYS_PER_CALL {
                    if run.evicted >= MAX_KEYS_PER_CALL as u64 {
                        break;
                    }
                    let Some(best) = self.best_candidate(policy, samples.max(1))? else {
                        break;
                    };
                    pause.get_or_insert_with(|| self.pause_round());
                    if self.timed("eviction-del", || self.evict_key(policy, &best))? {
                        run.evicted += 1;
                        if !over_limit() {
                            run.still_over = false;
                            break;
                        }
                    }
                }
                Ok(run)
            })
        })
    }

    /// The best of a fresh sample, or None when no key is a candidate.
    fn best_candidate(
        &self,
        policy: Policy,
        samples: usize,
    ) -> Result<Option<Candidate>, StorageError> {
        let mut pool = Vec::new();
        if policy.volatile_only() {
            self.sample_volatile(policy, samples, &mut pool)?;
        } else {
            let pdbs: Vec<u16> = self.db_map.read().clone();
            for pdb in pdbs {
                if self.dbsize_physical(pdb) > 0 {
                    self.sample_db(pdb, policy, samples, &mut pool)?;
                }
            }
        }
        Ok(pool.into_iter().max_by_key(|c| c.score))
    }

    /// Samples keys of physical database `pdb`: each sample seeks to a random slot and takes
    /// the first live key from there.
    fn sample_db(
        &self,
        pdb: u16,
        policy: Policy,
        samples: usize,
        pool: &mut Vec<Candidate>,
    ) -> Result<(), StorageError> {
        let now = unix_ms();
        let upper = codec::db_upper_bound(pdb);
        let mut rng = rand::thread_rng();
        for _ in 0..samples {
            let slot = rng.gen_range(0..crate::util::slot::SLOT_COUNT);
            let mut budget = SKIP_BUDGET;
            // From the random slot to the end of the database, then from its start.
            'found: for lower in [
                codec::slot_lower_bound(pdb, slot),
                codec::db_lower_bound(pdb),
            ] {
                let mut cur = self.engine.range(Cf::Meta, &lower, Some(&upper));
                while let Some((k, v)) = cur.current() {
                    if MetaValue::raw_is_live(v, now) {
                        if let Some((_, _, key)) = decode_meta_key(k) {
                            let score = self.score(policy, k, 0);
                            pool.push(Candidate {
                                pdb,
                                key: key.to_vec(),
                                score,
                            });
                        }
                        break 'found;
                    }
                    budget -= 1;
                    if budget == 0 {
                        break 'found;
                    }
                    cur.advance();
                }
                cur.status()?;
            }
        }
        Ok(())
    }

    /// Samples keys with a deadline from the expiry index: `volatile-ttl` takes the nearest
    /// deadlines (the best it could find), the others start at a random deadline between now
    /// and the latest one.
    fn sample_volatile(
        &self,
        policy: Policy,
        samples: usize,
        pool: &mut Vec<Candidate>,
    ) -> Result<(), StorageError> {
        if self.expires.iter().all(|c| c.load(Ordering::Relaxed) <= 0) {
            return Ok(());
        }
        let now = unix_ms();
        let lower = (now + 1).to_be_bytes();
        let start = if policy == Policy::VolatileTtl {
            lower.to_vec()
        } else {
            let mut cur = self.engine.range(Cf::Expire, &lower, None);
            cur.seek_to_last();
            let latest = cur
                .current()
                .and_then(|(k, _)| decode_expire_key(k))
                .map(|(deadline, _)| deadline);
            cur.status()?;
            match latest {
                Some(latest) if latest > now => rand::thread_rng()
                    .gen_range(now + 1..=latest)
                    .to_be_bytes()
                    .to_vec(),
                _ => return Ok(()),
            }
        };
        let mut budget = SKIP_BUDGET + samples;
        for from in [start, lower.to_vec()] {
            let mut cur = self.engine.range(Cf::Expire, &from, None);
            while let Some((k, _)) = cur.current() {
                if let Some((deadline, meta_key)) = decode_expire_key(k) {
                    if let Some((pdb, _, key)) = decode_meta_key(meta_key) {
                        // Skip stale entries (the key was deleted or got another deadline).
                        let state = self.load_physical(pdb, key)?;
                        if state.live().is_some_and(|m| m.expire_ms == deadline) {
                            let score = self.score(policy, meta_key, deadline);
                            pool.push(Candidate {
                                pdb,
                                key: key.to_vec(),
                                score,
                            });
                            if pool.len() >= samples {
                                return cur.status();
                            }
                        }
                    }
                }
                budget -= 1;
                if budget == 0 {
                    return cur.status();
                }
                cur.advance();
            }
            cur.status()?;
            if !pool.is_empty() {
                break;
            }
        }
        Ok(())
    }

    /// How much `policy` wants the key at `meta_key` (deadline `deadline`, 0: none) gone;
    /// higher goes first.
    fn score(&self, policy: Policy, meta_key: &[u8], deadline: u64) -> u64 {
        let access = self.cache.access(meta_key);
        match policy {
            Policy::AllkeysLru | Policy::VolatileLru => access.map_or(u64::MAX, |a| a.idle_ms),
            Policy::AllkeysLfu | Policy::VolatileLfu => {
                access.map_or(u64::MAX, |a| u64::from(u8::MAX - a.freq))
            }
            Policy::VolatileTtl => u64::MAX - deadline,
            Policy::AllkeysRandom | Policy::VolatileRandom | Policy::NoEviction => 0,
        }
    }

    /// Deletes a chosen key if it is still a candidate (re-read under its lock). Returns
    /// whether it was deleted.
    fn evict_key(&self, policy: Policy, chosen: &Candidate) -> Result<bool, StorageError> {
        let _guard = self.lock_keys([chosen.key.as_slice()]);
        let state = self.load_physical(chosen.pdb, &chosen.key)?;
        let Some(meta) = state.live() else {
            return Ok(false);
        };
        if policy.volatile_only() && meta.expire_ms == 0 {
            return Ok(false);
        }
        let mut txn = self.txn_noted(Writer::named("evicted"), chosen.pdb);
        txn.remove(&state);
        txn.commit()?;
        self.stats.evicted_keys.fetch_add(1, Ordering::Relaxed);
        self.notify_physical(EventClasses::EVICTED, "evicted", chosen.pdb, &chosen.key);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::storage::engine::EngineOptions;
    use crate::storage::types::keyspace::ExpireCondition;
    use crate::storage::types::strings::SetOptions;

    fn open(dir: &std::path::Path) -> Storage {
        Storage::open(dir, 16, &EngineOptions::default()).expect("open storage")
    }

    /// Stores `key` in database 0, with a deadline `ttl_ms` from now when it is not 0.
    fn put(s: &Storage, key: &str, ttl_ms: u64) {
        let scope = s.at(0, Writer::INTERNAL);
        scope
            .strings()
            .set(
                key.as_bytes(),
                Bytes::from_static(b"v"),
                SetOptions::default(),
            )
            .unwrap();
        if ttl_ms != 0 {
            let deadline = (unix_ms() + ttl_ms) as i64;
            let cond = ExpireCondition::default();
            assert!(scope.keys().expire(key.as_bytes(), deadline, cond).unwrap());
        }
    }

    fn evicted(s: &Storage) -> u64 {
        s.stats.evicted_keys.load(Ordering::Relaxed)
    }

    #[test]
    fn stops_once_memory_is_under_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        for i in 0..10 {
            put(&s, &format!("k{i}"), 0);
        }
        let over = || evicted(&s) < 3;
        let run = s.evict(Policy::AllkeysRandom, 5, &over).unwrap();
        assert_eq!(
            run,
            EvictionRun {
                evicted: 3,
                still_over: false
            }
        );
        assert_eq!(s.dbsize(0).unwrap(), 7);
    }

    #[test]
    fn noeviction_and_a_memory_under_the_limit_delete_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        put(&s, "k", 0);
        let run = s.evict(Policy::NoEviction, 5, &|| true).unwrap();
        assert_eq!(
            run,
            EvictionRun {
                evicted: 0,
                still_over: true
            }
        );
        let run = s.evict(Policy::AllkeysLru, 5, &|| false).unwrap();
        assert_eq!(
            run,
            EvictionRun {
                evicted: 0,
                still_over: false
            }
        );
        assert_eq!(s.dbsize(0).unwrap(), 1);
    }

    #[test]
    fn one_call_deletes_a_bounded_number_of_keys() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        for i in 0..MAX_KEYS_PER_CALL + 50 {
            put(&s, &format!("k{i}"), 0);
        }
        let run = s.evict(Policy::AllkeysLru, 5, &|| true).unwrap();
        assert_eq!(run.evicted, MAX_KEYS_PER_CALL as u64);
        assert!(run.still_over);
        let run = s.evict(Policy::AllkeysLru, 5, &|| true).unwrap();
        assert_eq!(
            run,
            EvictionRun {
                evicted: 50,
                still_over: true
            }
        );
        assert_eq!(s.dbsize(0).unwrap(), 0);
    }

    #[test]
    fn volatile_ttl_takes_the_nearest_deadline_and_spares_persistent_keys() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        put(&s, "persistent", 0);
        put(&s, "late", 300_000);
        put(&s, "soon", 100_000);
        put(&s, "middle", 200_000);
        let over = || evicted(&s) < 1;
        s.evict(Policy::VolatileTtl, 5, &over).unwrap();
        let keys = s.at(0, Writer::INTERNAL).keys();
        assert_eq!(keys.exists(&[b"soon"]).unwrap(), 0);
        assert_eq!(keys.exists(&[b"middle", b"late"]).unwrap(), 2);
        let run = s.evict(Policy::VolatileRandom, 5, &|| true).unwrap();
        assert_eq!(
            run,
            EvictionRun {
                evicted: 2,
                still_over: true
            }
        );
        assert_eq!(keys.exists(&[b"persistent"]).unwrap(), 1);
    }
}
