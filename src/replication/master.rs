//! The master side: one thread per connected slave sends it a full or an incremental sync
//! and then follows the binlog; a second thread reads the slave's acknowledgements.

use std::io::{BufReader, BufWriter, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::binlog::batch_commit_time;
use super::priority::LagPriority;
use super::tailer::Tailer;
use super::wire::{self, pb, MasterMsg, SlaveMsg};
use super::{ReplicationHandle, SlaveEntry};

/// How long the master waits for the slave's sync request.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle master tells the slave it is alive.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long the sender sleeps before looking for new batches: each look opens a WAL reader,
/// so waiting a little gathers many batches per look (replication lag stays a few ms).
const POLL: Duration = Duration::from_millis(3);
/// Batch bytes written before the sender flushes the socket even with more to send.
const FLUSH_BYTES: usize = 256 * 1024;

/// Serves a slave whose connection was handed over after `PIKA-REPLICATE` (`leftover`: bytes
/// it already sent). Returns when the slave disconnects or the server stops.
pub fn serve_slave(
    handle: ReplicationHandle,
    stream: TcpStream,
    leftover: Vec<u8>,
    listening_port: u16,
) {
    let peer = stream
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut input = BufReader::new(std::io::Read::chain(
        std::io::Cursor::new(leftover),
        read_half,
    ));
    let request = match wire::recv_slave(&mut input) {
        Ok(SlaveMsg::Sync(r)) => r,
        Ok(other) => {
            tracing::warn!("slave {peer}: expected a sync request, got {other:?}");
            return;
        }
        Err(e) => {
            tracing::warn!("slave {peer}: no sync request: {e}");
            return;
        }
    };
    let port = if request.listening_port != 0 {
        request.listening_port as u16
    } else {
        listening_port
    };
    // From here a slave that stops reading (writes block) or acknowledging (reads time out)
    // is dropped after repl-timeout, releasing what was kept for it.
    let timeout = repl_timeout(&handle);
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let repl = &handle.replication;
    let slave = repl.add_slave(peer.clone(), port);
    let closer = stream.try_clone();
    let out = BufWriter::with_capacity(
        FLUSH_BYTES,
        wire::Counted::new(stream, &repl.traffic.wire_sent),
    );
    let result = sync_slave(&handle, &slave, input, out, &request);
    slave.closed.store(true, Ordering::Relaxed);
    // Ends the acknowledgement reader at once.
    if let Ok(s) = closer {
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
    repl.remove_slave(slave.id);
    match result {
        Ok(()) => tracing::info!("slave {peer}:{port} disconnected"),
        Err(e) => tracing::info!("slave {peer}:{port} disconnected: {e}"),
    }
}

fn sync_slave(
    handle: &ReplicationHandle,
    slave: &Arc<SlaveEntry>,
    input: BufReader<impl std::io::Read + Send + 'static>,
    mut out: BufWriter<wire::Counted<TcpStream>>,
    request: &pb::SyncRequest,
) -> std::io::Result<()> {
    let storage = &handle.storage;
    let repl = &handle.replication;
    let replid = storage.replication_id().map_err(std::io::Error::other)?;
    let engine = storage.engine();
    let latest = engine.latest_sequence();
    let wanted = request.next_seq;
    // The slave's data is a prefix of ours only if it followed our history (or the one a
    // crash ended, no further than what survived of it).
    let same_history = wanted >= 1
        && storage
            .continues_history(&request.replid, wanted - 1)
            .map_err(std::io::Error::other)?;
    if !same_history && !request.replid.is_empty() && request.replid != replid {
        tracing::info!(
            "slave {}:{} followed history {} up to sequence {}, which this node does not continue: full sync",
            slave.ip,
            slave.port,
            request.replid,
            wanted.saturating_sub(1)
        );
    }
    let tailer = if same_history && wanted <= latest + 1 {
        let _ = engine.flush_wal_buffer();
        Tailer::open(engine.path(), wanted).ok()
    } else {
        None
    };
    let Some(tailer) = tailer else {
        if same_history {
            repl.sync_partial_err.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                "slave {}:{} asked for sequence {wanted}, no longer in the binlog: full sync",
                slave.ip,
                slave.port
            );
        }
        repl.sync_full.fetch_add(1, Ordering::Relaxed);
        return super::fullsync::send_snapshot(handle, slave, &mut out, &replid);
    };
    repl.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        "slave {}:{} resumes at sequence {wanted}",
        slave.ip,
        slave.port
    );
    slave.acked.store(wanted - 1, Ordering::Relaxed);
    *slave.state.lock() = "online";
    spawn_ack_reader(handle, slave, input)?;
    let compress = request.snappy && handle.config().replication_compression;
    wire::send_master(
        &mut out,
        MasterMsg::Incremental(pb::IncrementalStart {
            replid: replid.clone(),
            from_seq: wanted,
            snappy: compress,
        }),
    )?;
    out.flush()?;
    let payload = &repl.traffic.payload_sent;
    let mut out: Box<dyn Write> = if compress {
        Box::new(wire::Counted::new(wire::SnappyWriter::new(out), payload))
    } else {
        Box::new(wire::Counted::new(out, payload))
    };
    follow_binlog(handle, slave, &mut out, tailer, request.chunked_batches)
}

/// How long a slave may make no progress before it is dropped.
pub fn repl_timeout(handle: &ReplicationHandle) -> Duration {
    Duration::from_secs(handle.config().repl_timeout.max(1))
}

/// Sends every batch as it is committed, until the slave goes away.
fn follow_binlog(
    handle: &ReplicationHandle,
    slave: &SlaveEntry,
    out: &mut impl Write,
    mut tailer: Tailer,
    in_pieces: bool,
) -> std::io::Result<()> {
    let engine = handle.storage.engine();
    let mut last_send = Instant::now();
    let mut priority = LagPriority::start(handle.config().replication_nice as i32);
    // The last sequence number sent.
    let mut sent = slave.acked.load(Ordering::Relaxed);
    loop {
        if slave.closed.load(Ordering::Relaxed) || handle.shutdown_requested() {
            return Ok(());
        }
        let timeout = repl_timeout(handle);
        if slave.stalled_for(sent) > timeout {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "no progress for {}s (acknowledged {}, sent {sent})",
                    timeout.as_secs(),
                    slave.acked.load(Ordering::Relaxed)
                ),
            ));
        }
        engine.flush_wal_buffer().map_err(std::io::Error::other)?;
        let records = tailer.poll().map_err(std::io::Error::other)?;
        if records.is_empty() {
            if last_send.elapsed() >= HEARTBEAT {
                wire::send_master(
                    out,
                    MasterMsg::Heartbeat(pb::Heartbeat {
                        master_seq: engine.latest_sequence(),
                        time_ms: crate::util::clock::unix_ms(),
                    }),
                )?;
                out.flush()?;
                last_send = Instant::now();
            }
        } else {
            if let Some(ms) = records
                .first()
                .and_then(|(_, _, data)| batch_commit_time(data))
            {
                priority.follow(ms, crate::util::clock::unix_ms());
            }
            for (seq, count, data) in records {
                sent = seq + u64::from(count) - 1;
                wire::send_batch(out, seq, count, data, in_pieces)?;
            }
            out.flush()?;
            last_send = Instant::now();
        }
        std::thread::sleep(POLL);
    }
}

/// Reads the slave's acknowledgements until its connection ends.
fn spawn_ack_reader(
    handle: &ReplicationHandle,
    slave: &Arc<SlaveEntry>,
    mut input: BufReader<impl std::io::Read + Send + 'static>,
) -> std::io::Result<()> {
    let replication = Arc::clone(&handle.replication);
    let slave = Arc::clone(slave);
    std::thread::Builder::new()
        .name("repl-acks".into())
        .spawn(move || {
            loop {
                match wire::recv_slave(&mut input) {
                    Ok(SlaveMsg::Ack(a)) => replication.record_ack(&slave, a.applied_seq),
                    Ok(_) => {}
                    Err(e)
                        if e.kind() == std::io::ErrorKind::WouldBlock
                            || e.kind() == std::io::ErrorKind::TimedOut =>
                    {
                        // Slaves acknowledge at least every heartbeat; silence this long
                        // means the link is gone.
                        break;
                    }
                    Err(_) => break,
                }
                if slave.closed.load(Ordering::Relaxed) {
                    break;
                }
            }
            slave.closed.store(true, Ordering::Relaxed);
        })?;
    Ok(())
}
