//! The server's background threads, started together and stopped by one signal (the shutdown
//! request), joined at shutdown (see `services::BackgroundThreads`).
//!
//! Each gets only what it uses: the storage (expirer, WAL syncer, table check), replication's
//! handle (slave link, binlog purger), its own queue or results (compaction, keyspace
//! statistics, disk guard). The slave link and the disk guard return when the storage must be
//! reopened, and the server restarts it; the wait watcher answers parked clients, and the
//! ready-keys thread serves clients blocked on keys a slave's batches filled, which only the
//! server can do.

use std::sync::Arc;
use std::time::Duration;

use super::disk_guard::{DiskWatch, WatchEnd};
use super::master_link::MasterLink;
use crate::replication::purge;
use crate::replication::slave::{self, SupervisorEnd};
use crate::services::compaction::{CompactionScheduler, CronWindow, Interval};
use crate::services::keyspace_stats::KeyspaceScanner;
use crate::services::BackgroundThreads;
use crate::state::ServerState;
use crate::storage::{durability, expire, integrity, Storage};
use crate::util::stop::StopSignal;

/// Starts every background thread of `server`; they end when shutdown is requested.
pub fn start(
    server: &Arc<ServerState>,
    cron: Vec<CronWindow>,
    interval: Option<Interval>,
) -> std::io::Result<BackgroundThreads> {
    let mut threads = BackgroundThreads::new(server.stop_signal());
    let storage = &server.storage;

    let expiring = Arc::clone(storage);
    threads.spawn("expirer", move |stop| expire::run_expirer(&expiring, stop))?;
    let syncing = Arc::clone(storage);
    threads.spawn("wal-sync", move |stop| {
        durability::run_wal_syncer(&syncing, stop)
    })?;

    let link = server.replication_handle();
    let restarter = Arc::clone(server);
    let applier = MasterLink::new(Arc::clone(server));
    threads.spawn("repl-link", move |_| {
        if slave::supervise(&link, &applier) == SupervisorEnd::InstallSnapshot {
            restarter.request_restart();
        }
    })?;
    let retention = server.replication_handle();
    threads.spawn("binlog-purge", move |stop| {
        purge::run_purger(&retention, stop)
    })?;
    let waits = Arc::clone(server);
    threads.spawn("repl-wait", move |stop| run_wait_watcher(&waits, stop))?;

    let scheduler = CompactionScheduler {
        storage: Arc::clone(storage),
        queue: Arc::clone(&server.compaction),
        cron,
        interval,
    };
    threads.spawn("compact", move |stop| scheduler.run(stop))?;
    let scanner = KeyspaceScanner {
        storage: Arc::clone(storage),
        stats: Arc::clone(&server.keyspace_stats),
    };
    threads.spawn("keyspace-stats", move |stop| scanner.run(stop))?;

    let watch = DiskWatch {
        config: Arc::clone(&server.config),
        disk: Arc::clone(&server.disk),
        storage: Arc::clone(storage),
    };
    let restarter = Arc::clone(server);
    threads.spawn("disk-guard", move |stop| {
        if watch.run(stop) == WatchEnd::Reopen {
            restarter.request_restart();
        }
    })?;
    let checked = Arc::clone(storage);
    threads.spawn("table-check", move |stop| check_tables(&checked, stop))?;
    threads.spawn("heap-trim", crate::util::malloc_tuning::run)?;
    let serving = Arc::clone(server);
    threads.spawn("ready-keys", move |stop| {
        serve_published_keys(&serving, stop)
    })?;
    Ok(threads)
}

/// How often a thread waiting on a channel looks at the stop signal.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Serves clients blocked on keys that a slave's replicated batches filled: no command of a
/// connection runs after those writes, so this thread does what a command's worker would.
fn serve_published_keys(server: &ServerState, stop: &StopSignal) {
    let published = server.storage.ready.published();
    while !stop.is_stopped() {
        if published.recv_timeout(STOP_POLL).is_ok() {
            super::workers::serve_and_answer(server);
        }
    }
}

/// Answers parked WAIT commands as slaves acknowledge or deadlines pass, so a waiting client
/// holds no worker, and moves a shutdown waiting for slaves on (see `state::shutdown`);
/// returns when `stop` is set.
fn run_wait_watcher(server: &ServerState, stop: &StopSignal) {
    let repl = &server.replication;
    while !stop.is_stopped() {
        repl.wait_for_ack(Duration::from_millis(10));
        server.shutdown_tick();
        for (wait, reached) in repl.take_answerable_waits() {
            match server
                .blocking
                .unpark(&server.storage.ready, wait.client_id)
            {
                Some(waiter) => {
                    let mut out = bytes::BytesMut::new();
                    crate::resp::Reply::Integer(reached as i64)
                        .encode(&mut out, waiter.client.protocol());
                    waiter.conn.resume(&out);
                }
                None => {
                    // Not parked yet (its worker is finishing the round), unless the client
                    // is gone: try again shortly.
                    let alive = server
                        .clients
                        .lock()
                        .get(&wait.client_id)
                        .is_some_and(|c| !c.is_closing());
                    if alive {
                        repl.retry_wait(wait);
                    }
                }
            }
        }
    }
}

/// Reads every table file once after start-up, so a damaged one is reported (with its name)
/// at start rather than when a client first reads the damaged block.
fn check_tables(storage: &Storage, stop: &StopSignal) {
    let started = std::time::Instant::now();
    let stopped = || stop.is_stopped();
    match integrity::verify_tables(storage.engine(), &stopped) {
        Ok(_) if stop.is_stopped() => {}
        Ok(entries) => tracing::info!(
            "table files checked: {entries} entries readable, in {:?}",
            started.elapsed()
        ),
        Err(e) => tracing::error!(
            "a table file is damaged; reads that reach the damaged part answer an error: {e}"
        ),
    }
}
