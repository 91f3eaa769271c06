//! Serving one Redis replica (redis-server `REPLICAOF` this node) after its `PSYNC` was
//! answered: for a full sync an RDB of a consistent snapshot (a RocksDB checkpoint, opened
//! read-only beside the live store) in the diskless form (`$EOF:<mark>`, the RDB, the mark),
//! then the stream of [`super::redis_feed`] from the offset agreed; its `REPLCONF ACK`s are
//! read by a second thread. The link ends when the replica goes, falls out of the backlog,
//! or stays silent for `repl-timeout`.

use std::io::{BufWriter, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::redis_feed::PsyncAnswer;
use super::ReplicationHandle;
use crate::rdb::writer::RdbWriter;
use crate::resp::{ParseLimits, RequestParser};
use crate::storage::engine::EngineOptions;
use crate::storage::types::Writer;
use crate::storage::Storage;

/// Stream bytes sent per write at most.
const SEND_MAX: usize = 256 * 1024;
/// How long the sender waits for new stream bytes before looking at the link again.
const WAIT: Duration = Duration::from_millis(100);
/// Keys read per scan step while writing the RDB.
const SCAN_STEP: usize = 1000;

/// Serves the replica on `stream` (`leftover`: bytes it sent after PSYNC) until it goes.
pub fn serve(
    handle: ReplicationHandle,
    stream: TcpStream,
    leftover: Vec<u8>,
    answer: PsyncAnswer,
    reader: u64,
) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let feed = &handle.replication.redis_feed;
    let result = run(&handle, stream, leftover, &answer, reader);
    feed.leave(reader);
    match result {
        Ok(()) => tracing::info!("redis replica {peer} disconnected"),
        Err(e) => tracing::warn!("redis replica {peer}: {e}"),
    }
}

fn run(
    handle: &ReplicationHandle,
    stream: TcpStream,
    leftover: Vec<u8>,
    answer: &PsyncAnswer,
    reader: u64,
) -> Result<(), String> {
    let _ = stream.set_nodelay(true);
    let read_half = stream.try_clone().map_err(|e| e.to_string())?;
    let last_ack = Arc::new(AtomicU64::new(crate::util::clock::unix_ms()));
    let closed = Arc::new(AtomicBool::new(false));
    {
        let (last_ack, closed) = (last_ack.clone(), closed.clone());
        let replication = Arc::clone(&handle.replication);
        std::thread::Builder::new()
            .name("redis-replica-acks".into())
            .spawn(move || {
                let ack = |n: u64| replication.redis_feed.record_ack(reader, n);
                read_acks(read_half, leftover, &ack, &last_ack, &closed)
            })
            .map_err(|e| e.to_string())?;
    }
    let mut out = BufWriter::with_capacity(SEND_MAX, stream);
    let (replid, mut sent) = match answer {
        PsyncAnswer::Continue { replid, from } => (replid.clone(), *from),
        PsyncAnswer::Sync { offset } => {
            send_rdb(handle, &mut out, true).map_err(|e| format!("full sync failed: {e}"))?;
            last_ack.store(crate::util::clock::unix_ms(), Ordering::Relaxed);
            (handle.replication.redis_feed.replid(), *offset)
        }
        PsyncAnswer::Full { replid, offset } => {
            send_rdb(handle, &mut out, false).map_err(|e| format!("full sync failed: {e}"))?;
            // The replica's acknowledgements start once it loaded the RDB.
            last_ack.store(crate::util::clock::unix_ms(), Ordering::Relaxed);
            (replid.clone(), *offset)
        }
    };
    let result = stream_commands(
        handle, &mut out, reader, &replid, &mut sent, &last_ack, &closed,
    );
    let _ = out.get_ref().shutdown(std::net::Shutdown::Both);
    result
}

/// Sends the stream from `sent` on until the link ends.
fn stream_commands(
    handle: &ReplicationHandle,
    out: &mut BufWriter<TcpStream>,
    reader: u64,
    replid: &str,
    sent: &mut u64,
    last_ack: &AtomicU64,
    closed: &AtomicBool,
) -> Result<(), String> {
    let feed = &handle.replication.redis_feed;
    loop {
        if closed.load(Ordering::Relaxed) || handle.shutdown_requested() {
            return Ok(());
        }
        let timeout_ms = handle.config().repl_timeout.max(1) * 1000;
        let silent = crate::util::clock::unix_ms().saturating_sub(last_ack.load(Ordering::Relaxed));
        if silent > timeout_ms {
            return Err(format!("no acknowledgement for {}s", silent / 1000));
        }
        let bytes = feed.read_from(reader, replid, *sent, SEND_MAX, WAIT)?;
        if bytes.is_empty() {
            continue;
        }
        out.write_all(&bytes)
            .and_then(|_| out.flush())
            .map_err(|e| format!("link broken: {e}"))?;
        *sent += bytes.len() as u64;
    }
}

/// Reads the replica's `REPLCONF ACK <offset>`s until the connection ends.
fn read_acks(
    stream: TcpStream,
    leftover: Vec<u8>,
    ack: &dyn Fn(u64),
    last_ack: &AtomicU64,
    closed: &AtomicBool,
) {
    let mut input = std::io::Cursor::new(leftover).chain(stream);
    let mut buf = BytesMut::with_capacity(4096);
    let mut parser = RequestParser::new();
    let limits = ParseLimits::default();
    let mut chunk = [0u8; 4096];
    loop {
        loop {
            match parser.next_request(&mut buf, &limits) {
                Ok(Some(argv)) => {
                    let is =
                        |i: usize, w: &[u8]| argv.get(i).is_some_and(|a| a.eq_ignore_ascii_case(w));
                    if is(0, b"replconf") && is(1, b"ack") {
                        if let Some(n) = argv
                            .get(2)
                            .and_then(|a| std::str::from_utf8(a).ok())
                            .and_then(|a| a.parse::<u64>().ok())
                        {
                            ack(n);
                        }
                        last_ack.store(crate::util::clock::unix_ms(), Ordering::Relaxed);
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    closed.store(true, Ordering::Relaxed);
                    return;
                }
            }
        }
        match input.read(&mut chunk) {
            Ok(0) | Err(_) => {
                closed.store(true, Ordering::Relaxed);
                return;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A directory beside the database (same file system, so a checkpoint hard-links).
fn sibling(db_path: &Path, suffix: &str) -> PathBuf {
    let mut name = db_path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    db_path.with_file_name(name)
}

/// Writes the RDB of a snapshot of the store: diskless (`$EOF:<mark>`, the RDB, the mark),
/// or `sized` (`$<len>`, the RDB, written to a file first to know its length).
fn send_rdb(
    handle: &ReplicationHandle,
    out: &mut BufWriter<TcpStream>,
    sized: bool,
) -> Result<(), String> {
    let cfg = handle.config();
    let dir = sibling(
        &cfg.db_path,
        &format!(".redis-sync-{}", rand::random::<u32>()),
    );
    let _ = std::fs::remove_dir_all(&dir);
    let started = Instant::now();
    handle.storage.checkpoint(&dir).map_err(|e| e.to_string())?;
    let result = (|| {
        let snapshot = Storage::open(&dir, cfg.databases, &EngineOptions::default())
            .map_err(|e| format!("cannot open the snapshot: {e}"))?;
        if sized {
            let path = dir.join("dump.rdb");
            let file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
            let mut file = std::io::BufWriter::new(file);
            let keys = write_rdb(&snapshot, &mut file, cfg.databases)?;
            file.flush().map_err(|e| e.to_string())?;
            drop(file);
            let len = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
            write!(out, "${len}\r\n").map_err(|e| e.to_string())?;
            let mut file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
            std::io::copy(&mut file, &mut *out)
                .and_then(|_| out.flush())
                .map_err(|e| format!("link broken: {e}"))?;
            return Ok::<u64, String>(keys);
        }
        let mark = crate::storage::replica::new_replication_id();
        write!(out, "$EOF:{mark}\r\n").map_err(|e| e.to_string())?;
        let keys = write_rdb(&snapshot, &mut *out, cfg.databases)?;
        out.write_all(mark.as_bytes())
            .and_then(|_| out.flush())
            .map_err(|e| format!("link broken: {e}"))?;
        Ok::<u64, String>(keys)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    let keys = result?;
    tracing::info!(
        "sent an RDB of {keys} keys to a redis replica in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Writes every live key of `storage` as an RDB; returns how many.
fn write_rdb(storage: &Storage, out: &mut impl Write, databases: usize) -> Result<u64, String> {
    let e = |e: crate::storage::StorageError| e.to_string();
    let io = |e: std::io::Error| format!("link broken: {e}");
    let ctime = (crate::util::clock::unix_ms() / 1000).to_string();
    let mut rdb = RdbWriter::new(
        out,
        &[
            ("redis-ver", "7.0.0"),
            ("redis-bits", "64"),
            ("ctime", &ctime),
            ("used-mem", "0"),
            ("aof-base", "0"),
        ],
    )
    .map_err(io)?;
    let mut keys = 0u64;
    for db in 0..databases {
        let count = storage.dbsize(db).map_err(e)?;
        if count == 0 {
            continue;
        }
        let expires = storage.expires_count(db).map_err(e)?;
        rdb.select_db(db, count, expires).map_err(io)?;
        let view = storage.at(db, Writer::INTERNAL);
        let mut cursor = 0;
        loop {
            let (next, batch) = view
                .keys()
                .scan(cursor, SCAN_STEP, &Default::default())
                .map_err(e)?;
            for key in batch {
                if let Some((value, expire_ms)) = view.keys().value(&key).map_err(e)? {
                    let at = (expire_ms != 0).then_some(expire_ms as i64);
                    rdb.key(&key, &value, at).map_err(io)?;
                    keys += 1;
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    rdb.finish().map_err(io)?;
    Ok(keys)
}
