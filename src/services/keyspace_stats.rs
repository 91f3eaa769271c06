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

use crate::storage::census::KeyCounts;
use crate::storage::Storage;
use crate::util::stop::StopSignal;

/// Least time between two scans of changed data.
const RESCAN_AFTER: Duration = Duration::from_secs(60);

/// The latest scan's results.
#[derive(Debug, Clone, Default)]
pub struct KeyspaceScan {
    /// Per logical database, in order.
    pub databases: Vec<KeyCounts>,
    /// Unix seconds the scan ended.
    pub finished_at: u64,
    /// How long the scan took.
    pub took: Duration,
}

/// The latest scan's results, and whether a rescan was asked for: what INFO reads, kept by
/// [`KeyspaceScanner`].
#[derive(Default)]
pub struct KeyspaceStats {
    latest: Mutex<Option<KeyspaceScan>>,
    requested: AtomicBool,
}

impl KeyspaceStats {
    /// The latest scan, if one has finished.
    pub fn latest(&self) -> Option<KeyspaceScan> {
        self.latest.lock().clone()
    }

    /// Asks for a rescan as soon as the thread is free.
    pub fn request_rescan(&self) {
        self.requested.store(true, Ordering::SeqCst);
    }
}

/// The statistics thread: the storage it scans and where it puts the results.
pub struct KeyspaceScanner {
    /// The storage to count keys in.
    pub storage: Arc<Storage>,
    /// Where the results go (INFO reads them).
    pub stats: Arc<KeyspaceStats>,
}

impl KeyspaceScanner {
    /// Rescans when due (see the module doc) until `stop` is set.
    pub fn run(self, stop: &StopSignal) {
        let (storage, stats) = (&self.storage, &self.stats);
        let mut scanned_seq = None;
        let mut last_scan: Option<Instant> = None;
        let mut wait = RESCAN_AFTER;
        while !stop.is_stopped() {
            let seq = storage.engine().latest_sequence();
            let due = last_scan.is_none_or(|t| t.elapsed() >= wait) && scanned_seq != Some(seq);
            if !(due || stats.requested.swap(false, Ordering::SeqCst)) {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            let started = Instant::now();
            let mut databases = Vec::with_capacity(storage.databases());
            for db in 0..storage.databases() {
                if stop.is_stopped() {
                    return;
                }
                match storage.count_keys(db) {
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
                finished_at: crate::util::clock::unix_ms() / 1000,
                took,
            });
            scanned_seq = Some(seq);
            last_scan = Some(Instant::now());
        }
    }
}
