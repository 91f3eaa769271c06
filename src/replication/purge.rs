//! Binlog retention: archived WAL files go once they are past `expire-logs-nums` (count) or
//! `expire-logs-days` (age), or when PURGELOGSTO asks, but never while a connected slave still
//! needs their batches.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::tailer::first_sequence;
use super::{Replication, ReplicationHandle};
use crate::storage::wal::{self, wal_file_number};
use crate::storage::Storage;
use crate::util::stop::StopSignal;

/// How often the retention rules are applied.
const PERIOD: Duration = Duration::from_secs(60);

/// An archived binlog file and the first sequence number it holds.
struct Archived {
    number: u64,
    path: PathBuf,
    first_seq: Option<u64>,
}

/// The archived files of the database at `db_path`, oldest first.
fn archived(db_path: &Path) -> Vec<Archived> {
    let archive = db_path.join("archive");
    wal::wal_files(db_path)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.parent() == Some(archive.as_path()))
        .filter_map(|path| {
            let number = wal_file_number(&path)?;
            let first_seq = first_sequence(&path);
            Some(Archived {
                number,
                path,
                first_seq,
            })
        })
        .collect()
}

/// True when some connected slave may still need batches of `files[i]`: the next file starts
/// after the first sequence number the slowest slave needs.
fn needed(files: &[Archived], i: usize, slave_needs: Option<u64>, live_first: Option<u64>) -> bool {
    let Some(need) = slave_needs else {
        return false;
    };
    let next_first = files.get(i + 1).map_or(live_first, |f| f.first_seq);
    match next_first {
        Some(next) => next > need,
        None => true,
    }
}

/// The first sequence number of the oldest live WAL file.
fn live_first_seq(db_path: &Path) -> Option<u64> {
    let live = wal::wal_files(db_path).ok()?;
    first_sequence(live.iter().find(|p| p.parent() == Some(db_path))?)
}

/// Deletes archived files numbered below `below` (PURGELOGSTO). Refuses, deleting nothing,
/// when a connected slave still needs one of them.
pub fn purge_below(
    storage: &Storage,
    replication: &Replication,
    below: u64,
) -> Result<usize, String> {
    let db_path = storage.engine().path().to_path_buf();
    let files = archived(&db_path);
    let slave_needs = replication.min_slave_position().map(|p| p + 1);
    let live_first = live_first_seq(&db_path);
    let doomed: Vec<usize> = (0..files.len())
        .filter(|&i| files[i].number < below)
        .collect();
    if doomed
        .iter()
        .any(|&i| needed(&files, i, slave_needs, live_first))
    {
        return Err("binlog file is still needed by a connected slave".into());
    }
    Ok(remove(&files, &doomed))
}

/// Applies `expire-logs-nums` and `expire-logs-days`.
pub fn apply_retention(handle: &ReplicationHandle) -> usize {
    let cfg = handle.config();
    let db_path = handle.storage.engine().path().to_path_buf();
    let files = archived(&db_path);
    let slave_needs = handle.replication.min_slave_position().map(|p| p + 1);
    let live_first = live_first_seq(&db_path);
    let max_age = Duration::from_secs(cfg.expire_logs_days.saturating_mul(86_400));
    let keep_from = files.len().saturating_sub(cfg.expire_logs_nums);
    let doomed: Vec<usize> = (0..files.len())
        .filter(|&i| {
            let too_many = i < keep_from;
            let too_old = std::fs::metadata(&files[i].path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > max_age);
            (too_many || too_old) && !needed(&files, i, slave_needs, live_first)
        })
        .collect();
    remove(&files, &doomed)
}

fn remove(files: &[Archived], doomed: &[usize]) -> usize {
    let mut removed = 0;
    for &i in doomed {
        match std::fs::remove_file(&files[i].path) {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!("cannot purge {}: {e}", files[i].path.display()),
        }
    }
    if removed > 0 {
        tracing::info!("purged {removed} binlog file(s)");
    }
    removed
}

/// The purger thread: applies the retention rules every minute until `stop` is set.
pub fn run_purger(handle: &ReplicationHandle, stop: &StopSignal) {
    while !stop.sleep(PERIOD) {
        apply_retention(handle);
    }
}

/// Parses PURGELOGSTO's file argument: `123`, `000123.log` or Pika's `write2file123`.
pub fn parse_file_number(arg: &str) -> Option<u64> {
    let digits = arg
        .strip_prefix("write2file")
        .or_else(|| arg.strip_suffix(".log"))
        .unwrap_or(arg);
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(number: u64, first_seq: u64) -> Archived {
        Archived {
            number,
            path: PathBuf::new(),
            first_seq: Some(first_seq),
        }
    }

    #[test]
    fn a_file_is_needed_until_the_next_one_starts_at_or_before_the_slave() {
        let files = [file(1, 1), file(2, 100), file(3, 200)];
        // The slave needs 150: file 2 (100..199) is needed, file 1 is not.
        assert!(!needed(&files, 0, Some(150), Some(300)));
        assert!(needed(&files, 1, Some(150), Some(300)));
        // File 3 holds 200..299: needed by a slave at 250, not by one at 300.
        assert!(needed(&files, 2, Some(250), Some(300)));
        assert!(!needed(&files, 2, Some(300), Some(300)));
        // No slave: nothing is needed.
        assert!(!needed(&files, 1, None, Some(300)));
    }

    #[test]
    fn purge_arguments_in_every_form() {
        assert_eq!(parse_file_number("123"), Some(123));
        assert_eq!(parse_file_number("000123.log"), Some(123));
        assert_eq!(parse_file_number("write2file7"), Some(7));
        assert_eq!(parse_file_number("nope"), None);
    }
}
