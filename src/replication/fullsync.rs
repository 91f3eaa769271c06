//! Full sync: the master streams a RocksDB checkpoint; the slave stages it next to its
//! database and installs it when its storage restarts.
//!
//! Staging and install are crash-safe. Files arrive in `<db-path>.fullsync/`; only after the
//! last one is on disk does `FULLSYNC-DONE` (the master's replication id and the sequence number
//! the checkpoint ends at) appear there. At start-up [`install_pending`] swaps a complete
//! staging directory in (`db` → `db.old`, staging → `db`, then `db.old` removed) and discards an
//! incomplete one. A crash at any point leaves the old data, or a state the next start
//! completes, or nothing staged so the slave asks for a new full sync; never a mix.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::wire::{self, pb, MasterMsg};
use super::{ReplicationHandle, SlaveEntry};
use crate::storage::Storage;

/// Marker of a complete staged snapshot: `replid\nseq\n`.
const DONE_MARKER: &str = "FULLSYNC-DONE";
/// Size of one file chunk on the wire.
const CHUNK: usize = wire::PIECE;

/// `<db-path>` with `suffix` appended to its last component.
fn sibling(db_path: &Path, suffix: &str) -> PathBuf {
    let trimmed = db_path.components().as_path().to_path_buf();
    let mut name = trimmed
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "db".into());
    name.push(suffix);
    trimmed.with_file_name(name)
}

/// The message that opens a full sync: the snapshot's position and its files (name, size),
/// which the slave checks what it receives against.
pub fn full_sync_start(replid: &str, seq: u64, files: &[(String, u64)]) -> MasterMsg {
    MasterMsg::FullStart(pb::FullSyncStart {
        replid: replid.to_string(),
        seq,
        total_bytes: files.iter().map(|(_, len)| len).sum(),
        file_count: files.len() as u32,
        files: files
            .iter()
            .map(|(name, size)| pb::FileInfo {
                name: name.clone(),
                size: *size,
            })
            .collect(),
    })
}

/// Master: checkpoints the database and streams it to the slave.
pub fn send_snapshot(
    handle: &ReplicationHandle,
    slave: &SlaveEntry,
    out: &mut impl Write,
    replid: &str,
) -> std::io::Result<()> {
    let db_path = handle.config().db_path.clone();
    let dir = sibling(&db_path, &format!(".snapshot-{}", slave.id));
    let _ = fs::remove_dir_all(&dir);
    let started = std::time::Instant::now();
    let seq = handle
        .storage
        .checkpoint(&dir)
        .map_err(std::io::Error::other)?;
    // The slave will need the binlog from `seq + 1` on.
    slave.acked.store(seq, std::sync::atomic::Ordering::Relaxed);
    let result = stream_dir(slave, out, &dir, replid, seq);
    let _ = fs::remove_dir_all(&dir);
    if result.is_ok() {
        handle
            .replication
            .pin_binlog(slave, seq, super::master::repl_timeout(handle));
        tracing::info!(
            "full sync to {}:{} sent (sequence {seq}) in {:.1}s",
            slave.ip,
            slave.port,
            started.elapsed().as_secs_f64()
        );
    }
    result
}

fn stream_dir(
    slave: &SlaveEntry,
    out: &mut impl Write,
    dir: &Path,
    replid: &str,
    seq: u64,
) -> std::io::Result<()> {
    let mut files: Vec<(String, u64)> = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            let name = entry.file_name().to_string_lossy().into_owned();
            files.push((name, entry.metadata()?.len()));
        }
    }
    files.sort();
    *slave.state.lock() = "send_bulk";
    wire::send_master(out, full_sync_start(replid, seq, &files))?;
    let mut buf = vec![0u8; CHUNK];
    for (name, _) in &files {
        let mut f = File::open(dir.join(name))?;
        let mut offset = 0u64;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 && offset > 0 {
                break;
            }
            wire::send_master(
                out,
                MasterMsg::Chunk(pb::FileChunk {
                    name: name.clone(),
                    offset,
                    data: buf[..n].to_vec(),
                }),
            )?;
            offset += n as u64;
            if n == 0 {
                break;
            }
        }
    }
    wire::send_master(
        out,
        MasterMsg::FullEnd(pb::FullSyncEnd {
            replid: replid.to_string(),
            seq,
        }),
    )?;
    out.flush()
}

/// Slave: receives the checkpoint announced by `start` into the staging directory and marks
/// it complete. `progress` is told the bytes received so far.
pub fn receive_snapshot(
    input: &mut impl Read,
    db_path: &Path,
    start: &pb::FullSyncStart,
    mut progress: impl FnMut(u64),
) -> std::io::Result<()> {
    let staging = sibling(db_path, ".fullsync");
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging)?;
    let bad = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidData, why);
    // The files received so far, in order, with their sizes; the last one is being written.
    let mut files: Vec<(String, u64)> = Vec::new();
    let mut current: Option<File> = None;
    let mut received = 0u64;
    loop {
        match wire::recv_master(input)? {
            MasterMsg::Chunk(c) => {
                if c.name.contains('/') || c.name.contains("..") || c.name.is_empty() {
                    return Err(bad(format!("bad file name {:?}", c.name)));
                }
                if !start.files.is_empty() && !start.files.iter().any(|f| f.name == c.name) {
                    return Err(bad(format!("file {:?} is not in the manifest", c.name)));
                }
                if files.last().is_none_or(|(name, _)| *name != c.name) {
                    if files.iter().any(|(name, _)| *name == c.name) {
                        return Err(bad(format!("file {:?} sent twice", c.name)));
                    }
                    if let Some(f) = current.take() {
                        f.sync_all()?;
                    }
                    current = Some(File::create(staging.join(&c.name))?);
                    files.push((c.name.clone(), 0));
                }
                if let (Some((name, written)), Some(f)) = (files.last_mut(), current.as_mut()) {
                    if c.offset != *written {
                        return Err(bad(format!(
                            "chunk of {name:?} at offset {}, expected {written}",
                            c.offset
                        )));
                    }
                    f.write_all(&c.data)?;
                    *written += c.data.len() as u64;
                }
                received += c.data.len() as u64;
                progress(received);
            }
            MasterMsg::FullEnd(end) => {
                if let Some(f) = current.take() {
                    f.sync_all()?;
                }
                if end.seq != start.seq || end.replid != start.replid {
                    return Err(bad("full sync ended with another position".into()));
                }
                check_manifest(start, &files).map_err(bad)?;
                let marker = staging.join(DONE_MARKER);
                fs::write(&marker, format!("{}\n{}\n", start.replid, start.seq))?;
                File::open(&marker)?.sync_all()?;
                File::open(&staging)?.sync_all()?;
                return Ok(());
            }
            other => {
                return Err(std::io::Error::other(format!(
                    "unexpected message during full sync: {other:?}"
                )))
            }
        }
    }
}

/// Whether the files received are the checkpoint announced: as many, as big, the same names
/// and sizes as its manifest (masters that send one), and a RocksDB database at all.
fn check_manifest(start: &pb::FullSyncStart, files: &[(String, u64)]) -> Result<(), String> {
    if files.len() != start.file_count as usize {
        return Err(format!(
            "full sync announced {} files, {} arrived",
            start.file_count,
            files.len()
        ));
    }
    let total: u64 = files.iter().map(|(_, size)| size).sum();
    if total != start.total_bytes {
        return Err(format!(
            "full sync announced {} bytes, {total} arrived",
            start.total_bytes
        ));
    }
    if !start.files.is_empty() {
        let mut announced: Vec<(&str, u64)> = start
            .files
            .iter()
            .map(|f| (f.name.as_str(), f.size))
            .collect();
        let mut got: Vec<(&str, u64)> = files.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        announced.sort_unstable();
        got.sort_unstable();
        if let Some((a, g)) = announced.iter().zip(&got).find(|(a, g)| a != g) {
            return Err(format!(
                "full sync file {} of {} bytes does not match the manifest's {} of {} bytes",
                g.0, g.1, a.0, a.1
            ));
        }
    }
    if !files.iter().any(|(name, _)| name == "CURRENT") {
        return Err("full sync holds no CURRENT file: not a database".into());
    }
    Ok(())
}

/// Start-up, before the database opens: installs a complete staged snapshot, discards an
/// incomplete one. True when a snapshot was installed.
pub fn install_pending(db_path: &Path) -> std::io::Result<bool> {
    let staging = sibling(db_path, ".fullsync");
    let old = sibling(db_path, ".old");
    let mut installed = false;
    if staging.join(DONE_MARKER).exists() {
        if db_path.exists() {
            if old.exists() {
                fs::remove_dir_all(&old)?;
            }
            fs::rename(db_path, &old)?;
        }
        fs::rename(&staging, db_path)?;
        installed = true;
    } else if staging.exists() {
        tracing::warn!(
            "discarding an incomplete full sync in {}",
            staging.display()
        );
        fs::remove_dir_all(&staging)?;
    }
    if old.exists() {
        if db_path.exists() {
            fs::remove_dir_all(&old)?;
        } else {
            fs::rename(&old, db_path)?;
        }
    }
    Ok(installed)
}

/// Leaves the marker that makes the next start record `db_path`'s data as `replid`'s history
/// up to `seq` (a restored backup; see [`finish_install`]).
pub fn mark_position(db_path: &Path, replid: &str, seq: u64) -> std::io::Result<()> {
    let marker = db_path.join(DONE_MARKER);
    fs::write(&marker, format!("{replid}\n{seq}\n"))?;
    File::open(&marker)?.sync_all()
}

/// Start-up, after the database opened: a freshly installed snapshot becomes this slave's
/// position in the master's history, and the node gets a history of its own.
pub fn finish_install(storage: &Storage, db_path: &Path) -> Result<(), String> {
    let marker = db_path.join(DONE_MARKER);
    let Ok(text) = fs::read_to_string(&marker) else {
        return Ok(());
    };
    let mut lines = text.lines();
    let (Some(replid), Some(seq)) = (lines.next(), lines.next().and_then(|s| s.parse().ok()))
    else {
        return Err(format!("unreadable {}", marker.display()));
    };
    storage
        .set_master_position(replid, seq)
        .and_then(|_| storage.renew_replication_id())
        .map_err(|e| e.to_string())?;
    fs::remove_file(&marker).map_err(|e| e.to_string())?;
    tracing::info!("installed the master's snapshot at sequence {seq}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siblings_sit_next_to_the_database() {
        assert_eq!(
            sibling(Path::new("/data/db/"), ".fullsync"),
            PathBuf::from("/data/db.fullsync")
        );
        assert_eq!(
            sibling(Path::new("./db"), ".old"),
            PathBuf::from("./db.old")
        );
    }

    #[test]
    fn install_swaps_only_complete_snapshots() {
        let root = tempfile::tempdir().unwrap();
        let db = root.path().join("db");
        fs::create_dir_all(&db).unwrap();
        fs::write(db.join("old-file"), b"old").unwrap();
        // Incomplete: discarded, the old data stays.
        let staging = sibling(&db, ".fullsync");
        fs::create_dir_all(&staging).unwrap();
        fs::write(staging.join("new-file"), b"new").unwrap();
        assert!(!install_pending(&db).unwrap());
        assert!(db.join("old-file").exists() && !staging.exists());
        // Complete: swapped in.
        fs::create_dir_all(&staging).unwrap();
        fs::write(staging.join("new-file"), b"new").unwrap();
        fs::write(staging.join(DONE_MARKER), "id\n5\n").unwrap();
        assert!(install_pending(&db).unwrap());
        assert!(db.join("new-file").exists() && !db.join("old-file").exists());
        assert!(!sibling(&db, ".old").exists());
    }

    #[test]
    fn install_finishes_after_a_crash_between_the_renames() {
        let root = tempfile::tempdir().unwrap();
        let db = root.path().join("db");
        let staging = sibling(&db, ".fullsync");
        let old = sibling(&db, ".old");
        fs::create_dir_all(&old).unwrap();
        fs::create_dir_all(&staging).unwrap();
        fs::write(staging.join(DONE_MARKER), "id\n5\n").unwrap();
        assert!(install_pending(&db).unwrap());
        assert!(db.join(DONE_MARKER).exists() && !old.exists());
    }
}
