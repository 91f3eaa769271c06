//! pika-rs: a disk-backed, Redis-protocol data store on RocksDB.
//!
//! # Layout
//! Every module, from the top down; a module uses only modules listed below it (checked by
//! `scripts/module-cycles.sh`, which finds no cycle among them).
//! - [`server`]: listener, connections, the worker pool that runs commands, starting and
//!   stopping the background threads, the cluster bus, the disk guard, shutdown and
//!   in-process restarts.
//! - [`cmd`]: commands in four folders: `gate` (the declarative table, the dispatcher, command
//!   specs), `types` (one module per Redis type, key commands, SORT), `session` (connection,
//!   CLIENT, MULTI, pub/sub) and `admin` (INFO, CONFIG, DEBUG, replication, saving).
//! - [`state`]: what threads share: storage, live configuration, clients, ACL users,
//!   statistics, slow log, clients parked in blocking commands, pub/sub (and the keyspace
//!   notifications published on it), MONITOR, client-side caching (the tracking table), a
//!   shutdown waiting for slaves, when to evict under `maxmemory` (`state::eviction`).
//! - [`services`]: background work behind narrow handles: backups, the compact thread, the
//!   keyspace statistics.
//! - [`replication`]: master and slave sides of binlog replication, full sync, binlog purge;
//!   and Redis' own replication protocol, both ways (live migration to and from redis-server).
//! - [`cluster`]: Redis Cluster: the slot map and nodes this node knows, redirects, nodes.conf,
//!   the bus protocol's rules and failover elections (the bus threads are in `server`).
//! - [`storage`]: Redis types over RocksDB as typed views (`storage::types`: one per type and one
//!   over the keyspace; the one engine module imports `rocksdb`), the single write path
//!   (reporting changed keys to WATCH and to client-side caching), expiry, eviction under
//!   `maxmemory` (`storage::evict`), the keyspace notifications it and the commands raise,
//!   scans, the WAL reader, damaged-file checks, and the hot tier (meta records dropped by
//!   Redis' policies) the write path keeps equal to disk.
//! - [`rdb`]: Redis' RDB format: reading dumps and DUMP payloads, writing DUMP payloads.
//! - [`dataset`]: key/value records in a form independent of storage, for import and export.
//! - [`resp`]: the RESP request parser and reply encoder (no I/O).
//! - [`logging`]: tracing to file and stderr, with a level CONFIG SET can change.
//! - [`config`]: `pika.conf` directives, command-line overrides, CONFIG GET/SET/REWRITE.
//! - [`cli`]: the command line of the `pika` binary.
//! - [`util`]: glob matching, strict number parsing, cluster and Codis slots, length-prefixed
//!   protobuf frames, the clock, FNV-1a, disk
//!   space, the stop signal, systemd's sd_notify, Redis' HyperLogLog representation (`util::hll`), Redis' geohash
//!   arithmetic (`util::geohash`).

pub mod cli;
pub mod cluster;
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
