//! How durable the database is across crashes: the `everysec` WAL syncer, the clean-shutdown
//! marker, and a simulated power cut for tests.
//!
//! **What `binlog-fsync` can lose.** Workers hand every batch's WAL record to the operating
//! system before acknowledging it (`Engine::sync_wal`), so a crash of the process alone loses
//! nothing acknowledged. A power cut or an operating-system crash loses what was not fsynced:
//! nothing acknowledged with `always`, up to about a second with `everysec` (this module's
//! syncer), whatever the operating system had not written with `no`.
//!
//! **Clean shutdown marker.** An orderly stop leaves `<db-path>/CLEAN-SHUTDOWN` once the
//! database is closed; a start removes it. Starting without it (and with an existing database)
//! means the last run ended in a crash, which may have lost the WAL's tail: the binlog positions
//! after what survived may be handed out again for other data, so the node starts a new
//! replication history (see `Storage::start_history_after_crash`).
//!
//! **Simulated power cut** (`DEBUG POWER-LOSS`): the process writes the last sequence number
//! known fsynced to `<db-path>/SIMULATED-POWER-LOSS` and exits at once. The next start, before
//! RocksDB opens, cuts the live WAL files after that sequence number, which is what the disk
//! would hold had the machine lost power at that moment (RocksDB fsyncs table files itself).

use std::fs::{self, File, OpenOptions};
use std::path::Path;
use std::time::{Duration, Instant};

use super::engine::{Engine, WalFsync};
use super::wal::{read_wal_file, wal_file_number};
use super::Storage;
use crate::util::stop::StopSignal;

/// Left by an orderly stop, removed at start.
const CLEAN_MARKER: &str = "CLEAN-SHUTDOWN";
/// Left by `DEBUG POWER-LOSS`: the last sequence number known fsynced, in decimal.
const POWER_LOSS_MARKER: &str = "SIMULATED-POWER-LOSS";
/// How often the `everysec` syncer runs.
const SYNC_PERIOD: Duration = Duration::from_secs(1);

/// Fsyncs the WAL every second while `binlog-fsync` is `everysec`, until `stop` is set.
pub fn run_wal_syncer(storage: &Storage, stop: &StopSignal) {
    let mut last = Instant::now();
    while !stop.is_stopped() {
        std::thread::sleep(Duration::from_millis(50));
        if last.elapsed() < SYNC_PERIOD {
            continue;
        }
        last = Instant::now();
        if storage.engine().wal_fsync() == WalFsync::EverySec {
            if let Err(e) = storage.engine().fsync_wal() {
                tracing::error!("WAL fsync failed: {e}");
            }
        }
    }
}

/// How the previous run of the database at a path ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastShutdown {
    /// There was no database yet.
    Fresh,
    /// An orderly stop.
    Clean,
    /// A crash, a kill, a power cut.
    Unclean,
}

/// Start-up, before the database opens: how the last run ended. Removes the marker, so a
/// crash of this run reads as unclean at the next start.
pub fn take_clean_shutdown_marker(db_path: &Path) -> std::io::Result<LastShutdown> {
    if !db_path.join("CURRENT").exists() {
        return Ok(LastShutdown::Fresh);
    }
    let marker = db_path.join(CLEAN_MARKER);
    match fs::remove_file(&marker) {
        Ok(()) => {
            sync_dir(db_path)?;
            Ok(LastShutdown::Clean)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LastShutdown::Unclean),
        Err(e) => Err(e),
    }
}

/// After the database closed in an orderly way: leaves the clean-shutdown marker.
pub fn write_clean_shutdown_marker(db_path: &Path) -> std::io::Result<()> {
    let marker = db_path.join(CLEAN_MARKER);
    fs::write(&marker, b"")?;
    File::open(&marker)?.sync_all()?;
    sync_dir(db_path)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// `DEBUG POWER-LOSS`: records what is known fsynced and ends the process on the spot, with
/// no reply, no flush and no clean-shutdown marker. No write is acknowledged as fsynced
/// past the recorded point meanwhile (the WAL sync lock is held until the exit).
pub fn simulate_power_loss(engine: &Engine) -> ! {
    let db_path = engine.path().to_path_buf();
    engine.hold_durable(|durable| {
        let marker = db_path.join(POWER_LOSS_MARKER);
        let written = fs::write(&marker, durable.to_string())
            .and_then(|_| File::open(&marker)?.sync_all())
            .and_then(|_| sync_dir(&db_path));
        if let Err(e) = written {
            tracing::error!("DEBUG POWER-LOSS: cannot write {}: {e}", marker.display());
        }
        tracing::warn!(
            "DEBUG POWER-LOSS: exiting; only sequence numbers up to {durable} are durable"
        );
        // SAFETY: `_exit` ends the process without running any code of ours or RocksDB's,
        // which is the point: nothing more reaches the disk.
        unsafe { libc::_exit(137) }
    })
}

/// Start-up, before the database opens: completes a simulated power cut by cutting the live
/// WAL files after the sequence number that was durable. Returns that number when it did.
pub fn apply_simulated_power_loss(db_path: &Path) -> std::io::Result<Option<u64>> {
    let marker = db_path.join(POWER_LOSS_MARKER);
    let text = match fs::read_to_string(&marker) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let durable: u64 = text
        .trim()
        .parse()
        .map_err(|_| std::io::Error::other(format!("unreadable {}: {text:?}", marker.display())))?;
    // Only the live files: archived ones had their memtables flushed to fsynced table files.
    let mut live: Vec<(u64, std::path::PathBuf)> = fs::read_dir(db_path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| wal_file_number(&p).map(|n| (n, p)))
        .collect();
    live.sort();
    let mut cut_from_here = false;
    for (_, path) in &live {
        let keep = if cut_from_here {
            0
        } else {
            let records = read_wal_file(path).map_err(std::io::Error::other)?;
            let first_lost = records.records.iter().find(|r| {
                r.data
                    .get(..8)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_le_bytes)
                    .is_some_and(|seq| seq > durable)
            });
            match first_lost {
                Some(r) => {
                    cut_from_here = true;
                    r.offset
                }
                None => continue,
            }
        };
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len(keep)?;
        f.sync_all()?;
        tracing::warn!(
            "simulated power loss: {} cut to {keep} bytes",
            path.display()
        );
    }
    fs::remove_file(&marker)?;
    sync_dir(db_path)?;
    Ok(Some(durable))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::engine::EngineOptions;

    #[test]
    fn clean_marker_tells_orderly_stops_from_crashes() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        assert_eq!(
            take_clean_shutdown_marker(&db).unwrap(),
            LastShutdown::Fresh
        );
        drop(Storage::open(&db, 1, &EngineOptions::default()).unwrap());
        assert_eq!(
            take_clean_shutdown_marker(&db).unwrap(),
            LastShutdown::Unclean
        );
        write_clean_shutdown_marker(&db).unwrap();
        assert_eq!(
            take_clean_shutdown_marker(&db).unwrap(),
            LastShutdown::Clean
        );
        assert_eq!(
            take_clean_shutdown_marker(&db).unwrap(),
            LastShutdown::Unclean
        );
    }

    #[test]
    fn a_power_cut_keeps_exactly_what_was_fsynced() {
        let dir = tempfile::tempdir().unwrap();
        let opts = EngineOptions {
            wal_fsync: WalFsync::No,
            ..EngineOptions::default()
        };
        let durable = {
            let storage = Storage::open(dir.path(), 1, &opts).unwrap();
            storage.put_test_string("a");
            storage.engine().fsync_wal().unwrap();
            let durable = storage.engine().hold_durable(|d| d);
            storage.put_test_string("b");
            fs::write(dir.path().join(POWER_LOSS_MARKER), durable.to_string()).unwrap();
            drop(storage);
            durable
        };
        assert_eq!(
            apply_simulated_power_loss(dir.path()).unwrap(),
            Some(durable)
        );
        let storage = Storage::open(dir.path(), 1, &opts).unwrap();
        assert!(storage.load(0, b"a").unwrap().live().is_some());
        assert!(storage.load(0, b"b").unwrap().live().is_none());
        assert_eq!(apply_simulated_power_loss(dir.path()).unwrap(), None);
    }
}
