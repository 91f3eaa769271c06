//! Applies `maxmemory-policy` when the server's memory is past `maxmemory`: the gate calls
//! [`ServerState::evict_if_over_maxmemory`] before each command (and CONFIG SET after changing
//! the limit or the policy), as Redis runs `performEvictions` before each command. Which keys
//! go, and how, is `storage::evict`'s business; this module decides when, and delivers the
//! client-side caching invalidations of the evicted keys at once, so that they reach a client
//! before the reply of the command that triggered the eviction (Redis sends them then too).

use crate::storage::cache::Policy;
use crate::util::alloc_counter::allocated_bytes;

use super::ServerState;

impl ServerState {
    /// Deletes keys as `maxmemory-policy` says while INFO's used_memory is past `maxmemory`
    /// (a bounded amount of work per call). Returns the keys deleted.
    pub fn evict_if_over_maxmemory(&self) -> u64 {
        let cfg = self.config();
        let limit = cfg.maxmemory;
        if limit == 0 || allocated_bytes() <= limit {
            return 0;
        }
        let policy = Policy::parse(&cfg.maxmemory_policy);
        if policy == Policy::NoEviction {
            return 0;
        }
        // As Redis, nothing is evicted while a script runs past busy-reply-threshold: the
        // commands answered meanwhile (some from inside the script, on its thread, while it
        // holds its keys) only get -BUSY.
        if self.scripts.busy_error(cfg.busy_reply_threshold).is_some() {
            return 0;
        }
        let samples = usize::try_from(cfg.maxmemory_samples).unwrap_or(5);
        drop(cfg);
        let over = || allocated_bytes() > limit;
        let run = self
            .tracking
            .delivering_at_once(|| self.storage.evict(policy, samples, &over));
        match run {
            Ok(run) => run.evicted,
            Err(e) => {
                tracing::warn!("eviction under maxmemory failed: {e}");
                0
            }
        }
    }
}
