//! Keeps a full disk from costing data or a restart by hand.
//!
//! Every [`CHECK_EVERY`] the guard reads the free space of the filesystem holding db-path.
//! Below `least-free-disk-resume-size`, commands that add data (DENYOOM ones, which Redis
//! refuses past maxmemory) are answered with an error before they reach RocksDB, so the disk
//! fills no further and RocksDB keeps room to flush and compact; reads and deletions go on.
//! Once space is freed above it, writes resume by themselves.
//!
//! If RocksDB still runs out of space (another process filled the disk between two looks),
//! it refuses every write until the database is reopened: a WAL write that failed leaves the
//! records buffered behind it unwritable. Once the same room is free again the guard restarts
//! serving in-process, as after a full sync, and the database reopens from its WAL. Nothing
//! acknowledged is lost: a write is acknowledged only after its WAL record was written.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::config::Config;
use crate::state::disk::DiskGuard;
use crate::storage::Storage;
use crate::util::disk_space;
use crate::util::stop::StopSignal;

/// How often the free space is read.
pub const CHECK_EVERY: Duration = Duration::from_millis(100);

/// The guard thread: the live configuration (db-path, the reserve), where it records what it
/// saw (the dispatcher reads it), and the storage whose writes a full disk stopped.
pub struct DiskWatch {
    /// The live configuration: db-path and `least-free-disk-resume-size`.
    pub config: Arc<ArcSwap<Config>>,
    /// What the guard saw, which the dispatcher reads to refuse commands that add data.
    pub disk: Arc<DiskGuard>,
    /// The storage a full disk may have stopped.
    pub storage: Arc<Storage>,
}

/// Why [`DiskWatch::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchEnd {
    /// Shutdown was requested.
    Stopped,
    /// The storage ran out of space and room is free again: the caller reopens it.
    Reopen,
}

impl DiskWatch {
    /// Looks at the disk every [`CHECK_EVERY`] until `stop` is set or the storage must be
    /// reopened.
    pub fn run(&self, stop: &StopSignal) -> WatchEnd {
        while !stop.is_stopped() {
            if self.check() {
                return WatchEnd::Reopen;
            }
            std::thread::sleep(CHECK_EVERY);
        }
        WatchEnd::Stopped
    }

    /// One look at the disk; true when the storage must be reopened.
    fn check(&self) -> bool {
        let cfg = self.config.load();
        let Some(space) = disk_space::of(&cfg.db_path) else {
            return false;
        };
        let reserve = cfg.least_free_disk_resume_size;
        match self.disk.record(space.available, reserve) {
            Some(true) => tracing::warn!(
                "{} bytes free on the disk holding {}, less than least-free-disk-resume-size ({reserve}): refusing commands that add data",
                space.available,
                cfg.db_path.display()
            ),
            Some(false) => tracing::info!(
                "{} bytes free on the disk holding {}: writes resume",
                space.available,
                cfg.db_path.display()
            ),
            None => {}
        }
        // Reopening replays the WAL into memtables and flushes them: leave room for that too.
        let room_to_reopen = reserve.max(cfg.write_buffer_size);
        if self.storage.engine().out_of_space() && space.available >= room_to_reopen {
            tracing::warn!(
                "{} bytes free again on the disk holding {}: reopening the database to resume writes",
                space.available,
                cfg.db_path.display()
            );
            return true;
        }
        false
    }
}
