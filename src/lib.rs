//! pika-rs: a disk-backed, Redis-protocol data store on RocksDB.
//!
//! # Layout
//! Dependencies point one way: `server → cmd → state → storage`.
//! - [`resp`]: the RESP request parser and reply encoder (no I/O).
//! - [`server`]: listener, connections, the worker pool that runs commands, shutdown.
//! - [`cmd`]: the declarative command table, the dispatch gate, one module per command group.
//! - [`state`]: what threads share: storage, live configuration, clients, statistics, slow log,
//!   clients parked in blocking commands.
//! - [`storage`]: Redis types over RocksDB, the single write path, expiry, scans, and the cache
//!   of hot meta records the write path keeps equal to disk.
//! - [`config`]: `pika.conf` directives, command-line overrides, CONFIG GET/SET/REWRITE.
//! - [`logging`]: tracing to file and stderr, with a level CONFIG SET can change.
//! - [`util`]: glob matching, strict number parsing, cluster slots.

pub mod cli;
pub mod cmd;
pub mod config;
pub mod dataset;
pub mod logging;
pub mod rdb;
pub mod replication;
pub mod resp;
pub mod server;
pub mod services;
pub mod state;
pub mod storage;
pub mod util;
