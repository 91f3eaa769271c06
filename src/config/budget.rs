//! The memory budget: the resident memory the configuration allows the server, term by term.
//!
//! RSS stays below the sum of what each memory consumer is limited to:
//!
//! ```text
//! memory_budget = cache-maxmemory                                  hot tier
//!               + block-cache                                      RocksDB blocks, with the
//!                                                                  index and filter partitions
//!               + write-buffer-size * max-write-buffer-number     memtables, all column
//!                                                                  families together
//!               + max-cache-files * TABLE_READER_BYTES             open table files' readers
//!               + memory-budget-clients * CONNECTION_BYTES         connections
//!               + repl-backlog-size                                Redis replicas' backlog
//!               + BASE_BYTES                                       binary, threads, RocksDB
//! ```
//!
//! The terms are computed from the live configuration on every INFO, so a CONFIG SET of any
//! input shows at once. The measured constants are kept here with how they were measured.

use super::Config;

/// Resident memory beside the configured terms: the binary, thread stacks, the runtime,
/// RocksDB's fixed structures and the allocator's slack (memory freed by one thread's arena
/// that another cannot reuse, fragmentation). An empty server measured 23 MB; after 360 MB of
/// 1 KB values written and read by 50 clients, RSS less the block cache, memtables and tier
/// measured up to 64 MB; the rest is headroom.
pub const BASE_BYTES: u64 = 96 << 20;

/// Memory one connection holds while its requests and replies are small: its 16 KiB read
/// buffer, reply buffer and client record, rounded up (1000 idle connections measured about
/// 6.5 KB each, as the read buffer's pages are touched only as far as requests reach). A
/// connection sending a large request or reading a large reply holds that much more while it
/// lasts; the budget does not provision for that.
pub const CONNECTION_BYTES: u64 = 32 << 10;

/// Memory an open table file keeps outside the block cache (its reader object, footer and
/// properties), with the pinned top-level index and filter partition it charges to the block
/// cache beyond its capacity. Measured well under 2 KiB per file with the default 64 MB files.
pub const TABLE_READER_BYTES: u64 = 4 << 10;

/// The budget's terms, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    pub hot_tier: u64,
    pub block_cache: u64,
    pub memtables: u64,
    pub table_readers: u64,
    pub connections: u64,
    pub replication_backlog: u64,
    pub base: u64,
}

impl MemoryBudget {
    /// The budget the configuration `cfg` sets.
    pub fn of(cfg: &Config) -> MemoryBudget {
        MemoryBudget {
            hot_tier: cfg.cache_maxmemory,
            // The engine never makes the block cache smaller than 1 MB.
            block_cache: cfg.block_cache.max(1 << 20),
            memtables: cfg
                .write_buffer_size
                .saturating_mul(cfg.max_write_buffer_number.max(1) as u64),
            table_readers: (cfg.max_cache_files.max(0) as u64).saturating_mul(TABLE_READER_BYTES),
            connections: (cfg.memory_budget_clients as u64).saturating_mul(CONNECTION_BYTES),
            replication_backlog: cfg.repl_backlog_size,
            base: BASE_BYTES,
        }
    }

    /// The bound on resident memory: the sum of the terms.
    pub fn total(&self) -> u64 {
        [
            self.hot_tier,
            self.block_cache,
            self.memtables,
            self.table_readers,
            self.connections,
            self.replication_backlog,
            self.base,
        ]
        .iter()
        .fold(0u64, |sum, t| sum.saturating_add(*t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_sums_the_configured_limits() {
        let cfg = Config {
            cache_maxmemory: 10 << 20,
            block_cache: 20 << 20,
            write_buffer_size: 4 << 20,
            max_write_buffer_number: 3,
            max_cache_files: 100,
            memory_budget_clients: 10,
            repl_backlog_size: 1 << 20,
            ..Config::default()
        };
        let b = MemoryBudget::of(&cfg);
        assert_eq!(b.memtables, 12 << 20);
        assert_eq!(
            b.total(),
            (10 << 20)
                + (20 << 20)
                + (12 << 20)
                + 100 * TABLE_READER_BYTES
                + 10 * CONNECTION_BYTES
                + (1 << 20)
                + BASE_BYTES
        );
    }

    #[test]
    fn a_tiny_block_cache_counts_as_the_engine_makes_it() {
        let cfg = Config {
            block_cache: 0,
            ..Config::default()
        };
        assert_eq!(MemoryBudget::of(&cfg).block_cache, 1 << 20);
    }
}
