//! The server: opens storage, starts the workers and the expirer, accepts connections on the
//! network threads, and shuts everything down cleanly (RocksDB closed, memtables flushed unless
//! SHUTDOWN NOSAVE).

pub mod background;
mod busy_turns;
pub mod cluster_bus;
pub mod disk_guard;
pub mod fd_limit;
mod inline;
pub mod master_link;
pub mod network_task;
mod query_buffer;
pub mod request_queue;
pub mod workers;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::cmd::gate::table::CommandTable;
use crate::config::Config;
use crate::config::ShutdownFlags;
use crate::replication::fullsync;
use crate::services::compaction;
use crate::state::shutdown::ShutdownStart;
use crate::state::{ServerState, ShutdownMode};
use crate::storage::engine::EngineOptions;
use crate::storage::{durability, integrity, Storage};
use workers::WorkerPool;

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    Storage(#[from] crate::storage::StorageError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// RocksDB options from the configuration.
pub fn engine_options(cfg: &Config) -> EngineOptions {
    EngineOptions {
        block_cache_bytes: cfg.block_cache as usize,
        write_buffer_size: cfg.write_buffer_size as usize,
        max_write_buffer_number: cfg.max_write_buffer_number,
        compression: cfg.compression.clone(),
        max_background_jobs: cfg.max_background_jobs,
        disable_auto_compactions: cfg.disable_auto_compactions,
        wal_fsync: crate::storage::engine::WalFsync::parse(&cfg.binlog_fsync),
        max_open_files: cfg.max_cache_files,
    }
}

/// Workers to start: as configured, or for 0 one per core the network threads leave free (at
/// least one). With one worker, commands run in arrival order across connections; a second
/// one lets another client get BUSY or run SCRIPT KILL while a long script runs.
fn worker_count(configured: usize, network_threads: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.saturating_sub(network_threads).max(1)
}

/// Runs the server until SHUTDOWN or a termination signal.
///
/// A slave that received a full sync stops serving, swaps the snapshot in for its database
/// and serves again with the same configuration (see `replication::fullsync`).
pub fn run(cfg: Config) -> Result<(), ServerError> {
    let mut cfg = cfg;
    let budget = fd_limit::adjust(&cfg);
    cfg.maxclients = budget.maxclients;
    cfg.max_cache_files = budget.table_files;
    loop {
        match serve(cfg)? {
            Some(next) => cfg = next,
            None => return Ok(()),
        }
    }
}

/// Serves until shutdown; returns the configuration to serve again with after a full sync.
fn serve(cfg: Config) -> Result<Option<Config>, ServerError> {
    let cron = compaction::parse_cron(&cfg.compact_cron)
        .map_err(|e| std::io::Error::other(format!("invalid compact-cron: {e}")))?;
    let interval = compaction::parse_interval(&cfg.compact_interval)
        .map_err(|e| std::io::Error::other(format!("invalid compact-interval: {e}")))?;
    if let Some(durable) = durability::apply_simulated_power_loss(&cfg.db_path)? {
        tracing::warn!("completed a simulated power loss: the binlog ends at sequence {durable}");
    }
    let last_shutdown = durability::take_clean_shutdown_marker(&cfg.db_path)?;
    let installed = fullsync::install_pending(&cfg.db_path)?;
    integrity::check_binlog(&cfg.db_path)?;
    if installed {
        tracing::info!("full sync snapshot swapped in at {}", cfg.db_path.display());
    }
    let storage = Arc::new(open_storage(&cfg)?.with_cache(&cfg.tier_settings()));
    storage.set_codis_index(cfg.slotmigrate)?;
    fullsync::finish_install(&storage, &cfg.db_path).map_err(std::io::Error::other)?;
    if last_shutdown == durability::LastShutdown::Unclean && !installed {
        let (replid, survived) = storage.start_history_after_crash()?;
        tracing::warn!(
            "the last run did not shut down cleanly: new replication id {replid}; slaves past sequence {survived} make a full sync"
        );
    }
    let replid = storage.replication_id()?;
    tracing::info!(
        replid,
        "binlog position {}",
        storage.engine().latest_sequence()
    );
    let network_threads = cfg.thread_num.max(1);
    let pool_size = worker_count(cfg.thread_pool_size, network_threads);
    let addr = format!("{}:{}", cfg.bind, cfg.port);
    let cluster = if cfg.cluster_enabled {
        let cluster = crate::cluster::Cluster::open(&cfg).map_err(std::io::Error::other)?;
        Some(Arc::new(cluster))
    } else {
        None
    };
    crate::cmd::gate::acl::install_catalog();
    let aclfile = cfg.aclfile.clone();
    let mut state = ServerState::new(Arc::clone(&storage), cfg, CommandTable::get().len());
    state.cluster = cluster;
    let server = Arc::new(state);
    if !aclfile.is_empty() {
        crate::cmd::admin::acl::load_file(&server, &aclfile).map_err(|e| {
            std::io::Error::other(format!("Aborting startup because of ACL errors: {e}"))
        })?;
    }
    if server.cluster.is_some() {
        cluster_bus::start(Arc::clone(&server))?;
    }
    let pool = WorkerPool::start(Arc::clone(&server), pool_size)?;
    let timer_server = Arc::clone(&server);
    let blocking_timer = std::thread::Builder::new()
        .name("block-timer".into())
        .spawn(move || timer_server.blocking.run_timer(&timer_server.storage.ready))?;
    let services = background::start(&server, cron, interval)?;

    // With one network thread, a current-thread runtime: it polls connections in the order
    // their data arrived, so a request sent before another on a different connection runs
    // first (the multi-thread scheduler's LIFO slot lets the last one woken go first).
    let runtime = if network_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_park(before_parking(Arc::clone(&server)))
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(network_threads)
            .thread_name("net")
            .enable_all()
            .on_thread_park(before_parking(Arc::clone(&server)))
            .build()?
    };
    let result = runtime.block_on(async {
        let result = accept_loop(&addr, Arc::clone(&server), &pool).await;
        drain_connections(&server).await;
        result
    });
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    pool.stop();
    server.blocking.stop();
    let _ = blocking_timer.join();
    services.stop_and_join();
    if server.shutdown_mode() == ShutdownMode::Save {
        if let Err(e) = storage.engine().flush() {
            tracing::error!("flush at shutdown failed: {e}");
        }
    }
    let install = server.replication.install_requested.load(Ordering::SeqCst);
    if install && result.is_err() {
        return result.map(|_| None);
    }
    let next = if install {
        let mut next = (**server.config()).clone();
        next.slaveof = server
            .replication
            .master()
            .map(|m| m.to_directive())
            .unwrap_or_default();
        Some(next)
    } else {
        None
    };
    let db_path = server.config().db_path.clone();
    drop(server);
    // Threads still finishing (slave links of this node) hold the storage, and replies still
    // streaming hold snapshots of it; it must be closed before it is opened again. At a plain
    // stop the process exit ends them.
    let wait = if next.is_some() { 30 } else { 2 };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(wait);
    while (Arc::strong_count(&storage) > 1 || storage.engine().open_snapshots() > 0)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Everything acknowledged or sent to a slave is in the WAL file: once it is fsynced the
    // stop is clean (what a straggler writes after this was never visible anywhere).
    let synced = storage.engine().fsync_wal();
    drop(storage);
    match synced {
        Ok(()) => durability::write_clean_shutdown_marker(&db_path)?,
        Err(e) => tracing::error!("WAL fsync at shutdown failed: {e}"),
    }
    if next.is_some() {
        return Ok(next);
    }
    tracing::info!("pika stopped");
    result.map(|_| None)
}

/// How long to wait before trying again to open a database on a full disk.
const FULL_DISK_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Opens the storage, waiting while the disk is too full for RocksDB to open it (it writes a
/// new WAL and MANIFEST): after a full disk stopped writes, the reopen waits for space.
fn open_storage(cfg: &Config) -> Result<Storage, ServerError> {
    loop {
        match Storage::open(&cfg.db_path, cfg.databases, &engine_options(cfg)) {
            Err(e) if e.is_out_of_space() => {
                tracing::error!("cannot open the database, retrying in {FULL_DISK_RETRY:?}: {e}");
                std::thread::sleep(FULL_DISK_RETRY);
            }
            opened => return Ok(opened?),
        }
    }
}

/// What a network thread does when it has nothing ready and is about to sleep in
/// `epoll_wait`: land the round of commands it ran itself (see `inline`), so their replies go
/// out, then yield once.
///
/// A network thread that just handed requests to a worker often shares its core with that
/// worker. Yielding once lets the worker run the requests now, while this thread's requests
/// keep arriving; by the time it is scheduled again more are ready, and it goes on without
/// sleeping. Without the yield both threads slept and woke for a few requests each: on two
/// cores under `redis-benchmark -c 50`, context switches fell from 0.56 to 0.08 per request
/// and CPU per SADD from 17 to 12 µs. With nothing else runnable the yield returns at once.
fn before_parking(server: Arc<ServerState>) -> impl Fn() + Send + Sync + 'static {
    move || {
        inline::land(&server);
        std::thread::yield_now();
    }
}

/// How long the listener waits after a failed accept (out of file descriptors).
const ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);

/// Accepts connections until shutdown is requested.
async fn accept_loop(
    addr: &str,
    server: Arc<ServerState>,
    pool: &WorkerPool,
) -> Result<(), ServerError> {
    let mut listener = TcpListener::bind(addr).await?;
    tracing::info!("ready to accept connections on {addr}");
    let Some(jobs) = pool.sender() else {
        return Ok(());
    };
    tokio::spawn(handle_signals(Arc::clone(&server)));
    server
        .supervision()
        .notify("STATUS=Ready to accept connections\nREADY=1\n");
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            next = server.listener_handoff.take() => {
                // CONFIG SET port: from now on only the new port takes connections.
                match TcpListener::from_std(next) {
                    Ok(next) => listener = next,
                    Err(e) => tracing::error!("cannot listen on the new port: {e}"),
                }
                continue;
            }
            _ = server.shutdown_signal.notified() => break,
        };
        if server.shutdown_requested() {
            break;
        }
        let (mut stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors (EMFILE, ENFILE) or memory: the pending connection stays
                // queued and accept would fail again at once; wait for clients to leave.
                tracing::warn!("accept failed, retrying in {ACCEPT_BACKOFF:?}: {e}");
                tokio::select! {
                    _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    _ = server.shutdown_signal.notified() => break,
                }
                continue;
            }
        };
        server
            .stats
            .total_connections_received
            .fetch_add(1, Ordering::Relaxed);
        // Slaves' replication links are clients too.
        let connected = server.client_count() + server.replication.slave_count();
        if connected >= server.config().maxclients {
            server
                .stats
                .rejected_connections
                .fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let _ = stream
                    .write_all(b"-ERR max number of clients reached\r\n")
                    .await;
            });
            continue;
        }
        let local = stream.local_addr().unwrap_or(peer);
        let client = server.register_client(peer, local);
        tokio::spawn(network_task::serve(
            stream,
            Arc::clone(&server),
            jobs.clone(),
            client,
        ));
    }
    Ok(())
}

/// Longest wait at a stop for connections to finish the commands they sent.
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// At a stop, once the listener is closed: every connection runs what it already sent, its
/// replies go out, and it closes (see `network_task`); clients blocked in BLPOP and the like
/// are closed at once. Returns when all are gone, or after [`DRAIN_LIMIT`].
async fn drain_connections(server: &ServerState) {
    for client in server.clients.lock().values() {
        if client.blocked.load(Ordering::Relaxed) {
            client.kill();
        }
    }
    let deadline = std::time::Instant::now() + DRAIN_LIMIT;
    while server.client_count() > 0 && std::time::Instant::now() < deadline {
        // Wakes the tasks waiting now; one busy at this moment sees the stop when it loops.
        server.shutdown.draining.notify_waiters();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let left = server.client_count();
    if left > 0 {
        tracing::warn!("{left} connections still busy at the stop are closed");
    }
}

/// SIGTERM and SIGINT as in Redis: the first starts a shutdown with the options of
/// `shutdown-on-sigterm` / `shutdown-on-sigint`; a SIGINT while a shutdown is under way exits
/// at once, with exit code 1 (the stop was not clean). A shutdown whose save fails leaves the
/// server serving, and a later signal tries again.
async fn handle_signals(server: Arc<ServerState>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot handle SIGTERM and SIGINT");
            return;
        };
        // Set while a signal's shutdown is starting (the save may take a while): a SIGINT
        // meanwhile is a second one.
        let starting = Arc::new(AtomicBool::new(false));
        loop {
            let sigint = tokio::select! {
                _ = term.recv() => false,
                _ = int.recv() => true,
            };
            let under_way = starting.load(Ordering::SeqCst)
                || server.shutdown_requested()
                || server.shutdown.is_waiting();
            if sigint && under_way {
                tracing::warn!("You insist... exiting now.");
                // The log is written by a thread of its own: give it the line.
                std::thread::sleep(std::time::Duration::from_millis(50));
                std::process::exit(1);
            }
            let name = if sigint { "SIGINT" } else { "SIGTERM" };
            tracing::warn!("Received {name} scheduling shutdown...");
            if under_way {
                continue;
            }
            let directive = if sigint {
                server.config().shutdown_on_sigint.clone()
            } else {
                server.config().shutdown_on_sigterm.clone()
            };
            let flags = ShutdownFlags::parse_directive(&directive).unwrap_or_default();
            starting.store(true, Ordering::SeqCst);
            let (server, starting) = (Arc::clone(&server), Arc::clone(&starting));
            // Not on a network thread, and not awaited: the next signal is handled meanwhile.
            tokio::task::spawn_blocking(move || {
                if server.begin_shutdown(flags, None) == ShutdownStart::Failed {
                    tracing::warn!("{name} received but errors trying to shut down the server, check the logs for more information");
                }
                starting.store(false, Ordering::SeqCst);
            });
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_ok() {
            server.begin_shutdown(ShutdownFlags::empty(), None);
        }
    }
}
