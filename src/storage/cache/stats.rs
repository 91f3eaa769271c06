//! The tier's counters for INFO.
//!
//! They live in each shard, under the lock a lookup takes anyway: counting a hit costs a plain
//! add, with no shared cache line bounced between cores as one global atomic would be.

/// One shard's counters.
#[derive(Default, Clone, Copy)]
pub(super) struct ShardStats {
    pub hits: u64,
    pub misses: u64,
    pub evicted: u64,
}

/// The whole tier, summed over shards (INFO memory and stats).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TierStats {
    /// Bytes accounted to entries.
    pub memory: usize,
    /// Cached keys.
    pub keys: usize,
    /// Lookups answered from the tier.
    pub hits: u64,
    /// Lookups that went to disk.
    pub misses: u64,
    /// Entries dropped to stay within the budget.
    pub evicted: u64,
}
