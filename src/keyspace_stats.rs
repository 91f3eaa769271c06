//! The keyspace statistics thread: keeps per-type key counts of every database for
//! INFO keyspace, rescanning in the background so INFO never waits for a scan.
//!
//! A rescan runs when the data changed and the last scan is older than `RESCAN_AFTER` (or
//! ten times what the last scan took, so a huge keyspace costs at most a tenth of a core),
//! or at once when asked (`INFO keyspace 1`, as in Pika).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::state::ServerState;
use crate::storage::census::KeyCounts;

/// Least time between two scans of changed data.
const RESCAN_AFTER: Duration = Duration::from_secs(60);

/// The latest scan's results.
#[derive(Debug, Clone, Default)]
pub struct KeyspaceScan {
    /// Per logical database, in order.
    pub databases: Vec<KeyCounts>,
    /// Unix seconds the scan ended.
    pub finished_at: u64,
    pub took: Duration,
}

#[derive(Default)]
pub struct KeyspaceStats {
    latest: Mutex<Option<KeyspaceScan>>,
    requested: AtomicBool,
}

impl KeyspaceStats {
    pub fn latest(&self) -> Option<KeyspaceScan> {
        self.latest.lock().clone()
    }

    /// Asks for a rescan as soon as the thread is free.
    pub fn request_rescan(&self) {
        self.requested.store(true, Ordering::SeqCst);
    }
}

/// Starts the statistics thread; it ends at shutdown.
pub fn spawn(server: &Arc<ServerState>) -> std::io::Result<std::thread::JoinHandle<()>> {
    let server = Arc::clone(server);
    std::thread::Builder::new()
        .name("keyspace-stats".into())
        .spawn(move || {
            let stats = &server.keyspace_stats;
            let mut scanned_seq = None;
            let mut last_scan: Option<Instant> = None;
            let mut wait = RESCAN_AFTER;
            while !server.shutdown_requested() {
                let seq = server.storage.engine().latest_sequence();
                let due = last_scan.is_none_or(|t| t.elapsed() >= wait) && scanned_seq != Some(seq);
                if !(due || stats.requested.swap(false, Ordering::SeqCst)) {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
                let started = Instant::now();
                let mut databases = Vec::with_capacity(server.storage.databases());
                for db in 0..server.storage.databases() {
                    if server.shutdown_requested() {
                        return;
                    }
                    match server.storage.count_keys(db) {
                        Ok(c) => databases.push(c),
                        Err(e) => {
                            tracing::warn!("keyspace statistics: db {db}: {e}");
                            databases.push(KeyCounts::default());
                        }
                    }
                }
                let took = started.elapsed();
                wait = RESCAN_AFTER.max(took * 10);
                *stats.latest.lock() = Some(KeyspaceScan {
                    databases,
                    finished_at: crate::storage::now_ms() / 1000,
                    took,
                });
                scanned_seq = Some(seq);
                last_scan = Some(Instant::now());
            }
        })
}
