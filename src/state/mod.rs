//! State shared by the network threads, the workers and the commands: storage, live
//! configuration, the client registry, statistics and the slow log.
//!
//! Commands see it through [`crate::cmd::Ctx`]; the server builds it once at start-up.

pub mod acl;
pub mod blocking;
pub mod client;
pub mod disk;
pub mod eviction;
pub mod latency;
pub mod listener;
pub mod monitor;
pub mod notify;
pub mod pause;
pub mod pubsub;
pub mod role;
pub mod shutdown;
pub mod slowlog;
pub mod stats;
pub mod tracking;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::config::Config;
use crate::replication::{Replication, ReplicationHandle};
use crate::services::compaction::CompactionQueue;
use crate::services::keyspace_stats::KeyspaceStats;
use crate::storage::Storage;
use crate::util::stop::StopSignal;
use client::Client;

/// How the server should stop, set by SHUTDOWN or a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownMode {
    /// Flush memtables to disk before closing (SHUTDOWN, SHUTDOWN SAVE, SIGTERM).
    Save,
    /// Close without an explicit flush (SHUTDOWN NOSAVE); the WAL still makes writes durable.
    NoSave,
}

/// Everything the server shares between threads.
pub struct ServerState {
    pub storage: Arc<Storage>,
    /// The live configuration; shared with the background services that read it.
    pub config: Arc<ArcSwap<Config>>,
    pub clients: Mutex<BTreeMap<u64, Arc<Client>>>,
    next_client_id: AtomicU64,
    pub stats: stats::Stats,
    pub slowlog: slowlog::SlowLog,
    /// The latency monitor and the per-command latency histograms.
    pub latency: latency::Latency,
    pub monitors: monitor::Monitors,
    /// A new listening socket from CONFIG SET port, for the accept loop.
    pub listener_handoff: listener::ListenerHandoff,
    /// Clients parked in blocking commands.
    pub blocking: blocking::BlockedClients,
    pub started: Instant,
    /// The server's own heap (or resident memory, without the counting allocator) once
    /// started: INFO's used_memory_startup.
    pub used_memory_startup: u64,
    /// Set when shutdown is requested: the stop signal of every background thread.
    shutdown_requested: StopSignal,
    shutdown_mode: Mutex<ShutdownMode>,
    /// Wakes the listener when shutdown is requested.
    pub shutdown_signal: Notify,
    /// A shutdown waiting for slaves, and the writes it holds back (see [`shutdown`]).
    pub shutdown: shutdown::ShutdownControl,
    pub replication: Arc<Replication>,
    /// Compactions queued for the compact thread, and its state.
    pub compaction: Arc<CompactionQueue>,
    /// Pub/Sub subscriptions (shared with the keyspace notifications' publisher).
    pub pubsub: Arc<pubsub::PubSub>,
    /// Per-type key counts from the keyspace statistics thread.
    pub keyspace_stats: Arc<KeyspaceStats>,
    /// Free space of the disk holding db-path (see `server::disk_guard`).
    pub disk: Arc<disk::DiskGuard>,
    /// Lua scripting: the interpreter, the script cache, the running script.
    pub scripts: crate::cmd::scripting::Scripts,
    /// The cluster state, on a node started with cluster-enabled.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// CLIENT PAUSE.
    pub pause: pause::ClientPause,
    /// ACL users, the ACL log and refusal counts.
    pub acl: acl::Acl,
    /// Client-side caching: the keys tracking clients read, and their invalidations.
    pub tracking: Arc<tracking::Tracking>,
}

impl ServerState {
    /// The state of a server starting with `config` over `storage`, for a table of `command_count` commands.
    pub fn new(storage: Arc<Storage>, config: Config, command_count: usize) -> ServerState {
        apply_encoding_limits(&storage, &config);
        let master = crate::replication::MasterAddr::parse(&config.slaveof).unwrap_or_else(|e| {
            tracing::error!("ignoring slaveof: {e}");
            None
        });
        storage.set_replica(master.is_some());
        let acl = acl::Acl::new(&config.requirepass);
        let tracking = tracking::Tracking::install(&storage, config.tracking_table_max_keys);
        let config = Arc::new(ArcSwap::from_pointee(config));
        let latency = latency::Latency::new(command_count);
        storage.set_latency_sink(Box::new(latency::EventSink {
            events: Arc::clone(&latency.events),
            config: Arc::clone(&config),
        }));
        let pubsub = Arc::new(pubsub::PubSub::default());
        storage.notifier.set_sink(Box::new(notify::Publisher {
            pubsub: Arc::clone(&pubsub),
        }));
        ServerState {
            latency,
            replication: Arc::new(Replication::new(master)),
            compaction: Default::default(),
            pubsub,
            keyspace_stats: Default::default(),
            disk: Default::default(),
            scripts: Default::default(),
            cluster: None,
            pause: Default::default(),
            acl,
            tracking,
            storage,
            config,
            clients: Mutex::new(BTreeMap::new()),
            next_client_id: AtomicU64::new(1),
            stats: stats::Stats::new(command_count),
            slowlog: slowlog::SlowLog::default(),
            monitors: monitor::Monitors::default(),
            listener_handoff: Default::default(),
            blocking: blocking::BlockedClients::default(),
            started: Instant::now(),
            used_memory_startup: match crate::util::alloc_counter::allocated_bytes() {
                0 => crate::util::alloc_counter::resident_bytes(),
                n => n,
            },
            shutdown_requested: StopSignal::new(),
            shutdown_mode: Mutex::new(ShutdownMode::Save),
            shutdown_signal: Notify::new(),
            shutdown: Default::default(),
        }
    }

    /// Installs a new configuration (CONFIG SET) and applies what storage takes from it.
    pub fn set_config(&self, config: Config) {
        apply_encoding_limits(&self.storage, &config);
        if config.requirepass != self.config().requirepass {
            self.acl.set_default_password(&config.requirepass);
        }
        if config.tracking_table_max_keys != self.config().tracking_table_max_keys {
            self.tracking.set_max_keys(config.tracking_table_max_keys);
        }
        if config.block_cache != self.config().block_cache {
            self.storage
                .engine()
                .set_block_cache_capacity(config.block_cache as usize);
        }
        self.config.store(Arc::new(config));
    }

    /// The current configuration snapshot.
    pub fn config(&self) -> arc_swap::Guard<Arc<Config>> {
        self.config.load()
    }

    /// Why a command that adds data (`denyoom`) is refused now, if it is: the disk is nearly
    /// full, or the server's own memory (INFO's `used_memory`) is still past `maxmemory` after
    /// eviction (see [`ServerState::evict_if_over_maxmemory`]; under `noeviction` nothing is
    /// evicted): as in Redis, such commands get -OOM until memory is back under the limit.
    pub fn oom_refusal(&self) -> Option<String> {
        if let Some(refusal) = self.disk.refusal() {
            return Some(refusal);
        }
        let limit = self.config().maxmemory;
        (limit > 0 && crate::util::alloc_counter::allocated_bytes() > limit)
            .then(|| "OOM command not allowed when used memory > 'maxmemory'.".to_string())
    }

    /// Redis' refusal of writes on a master with fewer good replicas than
    /// `min-replicas-to-write` (replicas never refuse).
    pub fn noreplicas_refusal(&self) -> Option<&'static str> {
        let cfg = self.config();
        let (wanted, max_lag) = (cfg.min_replicas_to_write, cfg.min_replicas_max_lag);
        drop(cfg);
        if wanted <= 0 || max_lag <= 0 || self.storage.is_replica() {
            return None;
        }
        (self.replication.good_slaves(max_lag as u64) < wanted as usize)
            .then_some("NOREPLICAS Not enough good replicas to write.")
    }

    /// Registers a new connection and returns its client record.
    pub fn register_client(
        &self,
        addr: std::net::SocketAddr,
        local: std::net::SocketAddr,
    ) -> Arc<Client> {
        let id = self.next_client_id.fetch_add(1, Ordering::Relaxed);
        let authenticated = self.acl.new_clients_authenticated();
        let user = self.acl.default_user();
        let client = Arc::new(Client::new(id, addr, local, authenticated, user));
        self.clients.lock().insert(id, Arc::clone(&client));
        client
    }

    /// A client of the server itself, not connected and not listed (the link applying a Redis
    /// master's commands).
    pub fn internal_client(&self, addr: std::net::SocketAddr) -> Arc<Client> {
        let id = self.next_client_id.fetch_add(1, Ordering::Relaxed);
        Arc::new(Client::new(id, addr, addr, true, self.acl.default_user()))
    }

    /// Forgets a closed connection.
    pub fn unregister_client(&self, id: u64) {
        self.monitors.remove(id);
        let client = self.clients.lock().remove(&id);
        if let Some(client) = client {
            self.pubsub.remove_client(&client);
            self.tracking.disable(&client);
        }
    }

    /// Number of connected clients.
    pub fn client_count(&self) -> usize {
        self.clients.lock().len()
    }

    /// Asks the server to stop.
    pub fn request_shutdown(&self, mode: ShutdownMode) {
        *self.shutdown_mode.lock() = mode;
        self.shutdown_requested.stop();
        self.shutdown_signal.notify_waiters();
        self.shutdown_signal.notify_one();
    }

    /// Stops serving so the storage can be reopened over a full sync's snapshot; the server
    /// comes back at once with the same configuration (see `server::run`).
    pub fn request_restart(&self) {
        self.replication
            .install_requested
            .store(true, Ordering::SeqCst);
        self.request_shutdown(ShutdownMode::NoSave);
    }

    /// True once shutdown (or a restart) was requested.
    pub fn shutdown_requested(&self) -> bool {
        self.shutdown_requested.is_stopped()
    }

    /// The signal set when shutdown is requested, which background threads stop on.
    pub fn stop_signal(&self) -> StopSignal {
        self.shutdown_requested.clone()
    }

    /// What replication's threads use of this state (see [`ReplicationHandle`]).
    pub fn replication_handle(&self) -> ReplicationHandle {
        ReplicationHandle {
            storage: Arc::clone(&self.storage),
            replication: Arc::clone(&self.replication),
            config: Arc::clone(&self.config),
            stop: self.stop_signal(),
        }
    }

    /// How the requested shutdown closes the storage.
    pub fn shutdown_mode(&self) -> ShutdownMode {
        *self.shutdown_mode.lock()
    }
}

/// Copies the compact-encoding thresholds (OBJECT ENCODING), the WAL fsync policy, the hot
/// tier's shape and the keyspace notification classes into the storage.
fn apply_encoding_limits(storage: &Storage, cfg: &Config) {
    // The stored text is the canonical spelling CONFIG SET already checked.
    storage.notifier.set_classes(
        crate::util::keyspace_events::EventClasses::parse(&cfg.notify_keyspace_events)
            .unwrap_or_default(),
    );
    storage
        .engine()
        .set_wal_fsync(crate::storage::engine::WalFsync::parse(&cfg.binlog_fsync));
    crate::storage::expire::RECLAIM_MIN_ELEMENTS.store(
        cfg.small_compaction_threshold.max(0) as u64,
        Ordering::Relaxed,
    );
    let l = &storage.limits;
    let set =
        |a: &std::sync::atomic::AtomicU64, v: i64| a.store(v.max(0) as u64, Ordering::Relaxed);
    set(&l.hash_max_listpack_entries, cfg.hash_max_listpack_entries);
    set(&l.hash_max_listpack_value, cfg.hash_max_listpack_value);
    set(&l.zset_max_listpack_entries, cfg.zset_max_listpack_entries);
    set(&l.zset_max_listpack_value, cfg.zset_max_listpack_value);
    set(&l.set_max_intset_entries, cfg.set_max_intset_entries);
    set(&l.stream_node_max_entries, cfg.stream_node_max_entries);
    set(&l.stream_node_max_bytes, cfg.stream_node_max_bytes);
    let reshaped = storage.tier.configure(
        crate::storage::cache::body::parse_cache_types(&cfg.cache_type).unwrap_or_default(),
        cfg.zset_cache_field_num_per_key.max(1) as u64,
        cfg.zset_cache_start_direction < 0,
        cfg.cache_value_item_max_size,
    );
    if reshaped {
        // Held records and bodies may no longer fit the new shape.
        storage.cache().clear();
    }
}
