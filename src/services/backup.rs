//! Backups (BGSAVE, SAVE) and their restore.
//!
//! A backup is a RocksDB checkpoint in `dump-path/<dump-prefix><YYYYMMDDHHMMSS>/`: table files
//! hard-linked (so a backup of a large database is fast and takes no space until the live
//! files change) and the live WAL copied, taken while writers wait for a moment, so it is
//! exactly the data at one binlog position. Its `info` file records that position:
//!
//! ```text
//! replid: <the replication id of the server's history>
//! seq: <last binlog sequence number the data contains>
//! version: <pika version>
//! time: <unix seconds>
//! digest: <DEBUG DIGEST of the data (Redis' algorithm)>
//! ```
//!
//! The directory is built under a `.tmp` name and renamed when complete, so a directory with
//! the final name is always a whole backup. Restoring copies (or links) the files into an
//! empty `db-path` and leaves a marker naming the position, so the restored server knows where
//! it stands in the history of the server it was taken from: attached to that server with
//! SLAVEOF, it continues incrementally from the position instead of a full sync.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::storage::engine::EngineOptions;
use crate::storage::Storage;
use crate::util::redis_digest::to_hex;

/// Name of the position file in a backup.
pub const INFO_FILE: &str = "info";

/// What a backup's `info` file records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// The replication id of the history the backup belongs to.
    pub replid: String,
    /// The last binlog sequence number the backup contains.
    pub seq: u64,
    /// The pika version that took it.
    pub version: String,
    /// When it was taken, in Unix seconds.
    pub time: u64,
    /// DEBUG DIGEST of the backed-up data (empty in backups from before it was recorded).
    pub digest: String,
}

impl BackupInfo {
    fn render(&self) -> String {
        format!(
            "replid: {}\nseq: {}\nversion: {}\ntime: {}\ndigest: {}\n",
            self.replid, self.seq, self.version, self.time, self.digest
        )
    }

    /// Parses an `info` file.
    pub fn parse(text: &str) -> Option<BackupInfo> {
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(|v| v.trim().to_string())
        };
        Some(BackupInfo {
            replid: field("replid")?,
            seq: field("seq")?.parse().ok()?,
            version: field("version").unwrap_or_default(),
            time: field("time").and_then(|t| t.parse().ok()).unwrap_or(0),
            digest: field("digest").unwrap_or_default(),
        })
    }
}

/// `YYYYMMDDHHMMSS` of a Unix time, in UTC.
fn timestamp(secs: u64) -> String {
    let t = crate::util::civil::from_unix(secs);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// Takes a backup of `storage` under `dump_path`; returns its directory.
pub fn create(storage: &Storage, dump_path: &Path, prefix: &str) -> Result<PathBuf, String> {
    fs::create_dir_all(dump_path)
        .map_err(|e| format!("cannot create {}: {e}", dump_path.display()))?;
    let time = crate::util::clock::unix_secs();
    let base = format!("{prefix}{}", timestamp(time));
    let mut dir = dump_path.join(&base);
    let mut n = 1;
    while dir.exists() {
        dir = dump_path.join(format!("{base}-{n}"));
        n += 1;
    }
    let mut tmp = dir.clone().into_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = fs::remove_dir_all(&tmp);
    // Memtables go to table files first, so the backup is mostly hard links and a restored
    // server has little WAL to replay.
    storage.engine().flush().map_err(|e| e.to_string())?;
    let seq = storage.checkpoint(&tmp).map_err(|e| e.to_string())?;
    let info = BackupInfo {
        replid: storage.replication_id().map_err(|e| e.to_string())?,
        seq,
        version: env!("CARGO_PKG_VERSION").to_string(),
        time,
        digest: checkpoint_digest(&tmp, storage.databases())?,
    };
    let write_info = || -> std::io::Result<()> {
        let mut f = fs::File::create(tmp.join(INFO_FILE))?;
        f.write_all(info.render().as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, &dir)
    };
    write_info().map_err(|e| format!("cannot write the backup: {e}"))?;
    tracing::info!("backup at sequence {seq} written to {}", dir.display());
    Ok(dir)
}

/// DEBUG DIGEST of the data in a checkpoint, read through a linked copy (opening the
/// checkpoint itself would add files to it).
fn checkpoint_digest(dir: &Path, databases: usize) -> Result<String, String> {
    let mut scratch = dir.as_os_str().to_owned();
    scratch.push(".digest");
    let scratch = PathBuf::from(scratch);
    let _ = fs::remove_dir_all(&scratch);
    let digest = link_files(dir, &scratch).and_then(|()| {
        let copy = Storage::open(&scratch, databases, &EngineOptions::default())
            .map_err(|e| format!("cannot open the backup to digest it: {e}"))?;
        copy.digest().map_err(|e| e.to_string())
    });
    let _ = fs::remove_dir_all(&scratch);
    Ok(to_hex(&digest?))
}

/// Deletes backups under `dump_path` named `<prefix><timestamp>` older than `days` days.
pub fn expire_old(dump_path: &Path, prefix: &str, days: u64) -> usize {
    if days == 0 {
        return 0;
    }
    let max_age = Duration::from_secs(days.saturating_mul(86_400));
    let Ok(entries) = fs::read_dir(dump_path) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_backup = name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.len() >= 14 && rest[..14].bytes().all(|b| b.is_ascii_digit()))
            && !name.ends_with(".tmp");
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > max_age);
        if is_backup && old && fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Restores the backup in `from` into `db_path`, which must be absent or empty. Files are
/// hard-linked when possible (same filesystem), copied otherwise.
pub fn restore(from: &Path, db_path: &Path) -> Result<BackupInfo, String> {
    let text = fs::read_to_string(from.join(INFO_FILE))
        .map_err(|e| format!("{} is not a backup (no info file): {e}", from.display()))?;
    let info = BackupInfo::parse(&text)
        .ok_or_else(|| format!("unreadable info file in {}", from.display()))?;
    if db_path.exists()
        && fs::read_dir(db_path)
            .map_err(|e| e.to_string())?
            .next()
            .is_some()
    {
        return Err(format!(
            "{} is not empty: restore into a new or empty directory",
            db_path.display()
        ));
    }
    link_files(from, db_path)?;
    crate::replication::fullsync::mark_position(db_path, &info.replid, info.seq)
        .map_err(|e| format!("cannot record the backup's position: {e}"))?;
    Ok(info)
}

/// Puts the database files of `from` into `to`: table files hard-linked when possible (same
/// filesystem), the rest copied.
fn link_files(from: &Path, to: &Path) -> Result<(), String> {
    fs::create_dir_all(to).map_err(|e| e.to_string())?;
    for entry in fs::read_dir(from).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name();
        if name == INFO_FILE || !entry.file_type().map_err(|e| e.to_string())?.is_file() {
            continue;
        }
        let target = to.join(&name);
        // Table files never change once written, so sharing them is safe; the WAL, MANIFEST
        // and OPTIONS files change in place and are copied.
        let immutable = name.to_string_lossy().ends_with(".sst");
        if !(immutable && fs::hard_link(entry.path(), &target).is_ok()) {
            fs::copy(entry.path(), &target)
                .map_err(|e| format!("cannot copy {}: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_calendar_time() {
        assert_eq!(timestamp(0), "19700101000000");
        assert_eq!(timestamp(951_782_400), "20000229000000");
        assert_eq!(timestamp(1_795_000_000 + 3_723), "20261118120843");
    }

    #[test]
    fn info_files_round_trip() {
        let info = BackupInfo {
            replid: "ab".repeat(20),
            seq: 42,
            version: "0.1.0".into(),
            time: 7,
            digest: "0".repeat(40),
        };
        assert_eq!(BackupInfo::parse(&info.render()), Some(info));
        assert_eq!(BackupInfo::parse("seq: x\n"), None);
    }
}
