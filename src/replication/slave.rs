//! The slave side: one thread keeps the link to the master, receives a full sync when needed
//! and applies the master's batches in order, acknowledging them.

use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::priority::LagPriority;
use super::wire::{self, pb, MasterMsg, SlaveMsg};
use super::{LinkState, MasterAddr};
use crate::resp;
use crate::state::ServerState;

/// Pause between attempts to reach the master.
const RETRY: Duration = Duration::from_secs(1);

/// Starts the thread that keeps this node following its master, whichever SLAVEOF names;
/// it ends at shutdown.
pub fn spawn_supervisor(server: &Arc<ServerState>) -> std::io::Result<std::thread::JoinHandle<()>> {
    let server = Arc::clone(server);
    std::thread::Builder::new()
        .name("repl-link".into())
        .spawn(move || supervise(&server))
}

fn supervise(server: &Arc<ServerState>) {
    let repl = &server.replication;
    while !server.shutdown_requested() {
        let generation = repl.generation();
        match repl.master() {
            Some(master) => {
                // Nothing a master sends may take replication down for good: a panic is a bug,
                // logged, and the link starts over.
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run_link(server, &master, generation)
                }));
                if let Err(panic) = run {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    tracing::error!("replication link panicked, restarting it: {what}");
                    repl.set_link(|l| {
                        l.state = LinkState::Connect;
                        l.last_error = format!("internal error: {what}");
                    });
                    std::thread::sleep(RETRY);
                }
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn current(server: &ServerState, generation: u64) -> bool {
    server.replication.generation() == generation && !server.shutdown_requested()
}

fn run_link(server: &Arc<ServerState>, master: &MasterAddr, generation: u64) {
    let repl = &server.replication;
    while current(server, generation) {
        repl.set_link(|l| l.state = LinkState::Connecting);
        let result = follow(server, master, generation);
        if !current(server, generation) {
            break;
        }
        match result {
            Ok(Outcome::Installing) => return,
            Ok(Outcome::Stopped) => {}
            Err(e) => {
                tracing::warn!(
                    "replication link to {}:{} failed: {e}",
                    master.host,
                    master.port
                );
                repl.set_link(|l| l.last_error = e);
            }
        }
        repl.set_link(|l| {
            if l.state != LinkState::Connect {
                l.down_since = Instant::now();
            }
            l.state = LinkState::Connect;
        });
        std::thread::sleep(RETRY);
    }
}

enum Outcome {
    /// A full sync was received; the server restarts its storage to install it.
    Installing,
    /// The link ended because this node stopped following this master.
    Stopped,
}

fn follow(
    server: &Arc<ServerState>,
    master: &MasterAddr,
    generation: u64,
) -> Result<Outcome, String> {
    let addr = (master.host.as_str(), master.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", master.host))?
        .next()
        .ok_or_else(|| format!("cannot resolve {}", master.host))?;
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        .map_err(|e| format!("cannot connect: {e}"))?;
    let cfg = server.config();
    let _ = stream.set_nodelay(true);
    // The master sends a heartbeat every second: silence this long means the link is gone.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(cfg.repl_timeout.max(1))));
    let write_half = stream.try_clone().map_err(|e| e.to_string())?;
    let repl = &server.replication;
    let mut input = BufReader::with_capacity(
        1 << 20,
        wire::Counted::new(stream, &repl.traffic.wire_received),
    );
    let mut out = BufWriter::new(write_half);
    let mut call = |args: &[&str]| {
        resp::client::call(&mut out, &mut input, args)
            .map_err(|e| format!("cannot talk to the master: {e}"))
    };
    if !cfg.masterauth.is_empty() {
        call(&["AUTH", &cfg.masterauth])?.map_err(|e| format!("master refused masterauth: {e}"))?;
    }
    let port = cfg.port.to_string();
    call(&["PIKA-REPLICATE", &port])?.map_err(|e| format!("master refused to replicate: {e}"))?;
    let storage = &server.storage;
    let position = storage.master_position().map_err(|e| e.to_string())?;
    let (replid, next_seq) = match position {
        // The last link could not go on from what it received: start over, once.
        Some(_) if repl.full_sync_needed.swap(false, Ordering::SeqCst) => {
            tracing::warn!("asking {}:{} for a full sync", master.host, master.port);
            (String::new(), 0)
        }
        Some((id, applied)) => (id, applied + 1),
        None => (String::new(), 0),
    };
    wire::send_slave(
        &mut out,
        SlaveMsg::Sync(pb::SyncRequest {
            replid,
            next_seq,
            listening_port: u32::from(cfg.port),
            chunked_batches: true,
            snappy: cfg.replication_compression,
        }),
    )
    .and_then(|_| out.flush())
    .map_err(|e| e.to_string())?;
    match wire::recv_master(&mut input).map_err(|e| e.to_string())? {
        MasterMsg::FullStart(start) => {
            tracing::info!(
                "full sync from {}:{}: {} bytes in {} files, sequence {}",
                master.host,
                master.port,
                start.total_bytes,
                start.file_count,
                start.seq
            );
            repl.set_link(|l| {
                l.state = LinkState::Sync;
                l.sync_total = start.total_bytes;
                l.sync_received = 0;
                l.last_io = Some(Instant::now());
            });
            let started = Instant::now();
            super::fullsync::receive_snapshot(&mut input, &cfg.db_path, &start, |n| {
                repl.set_link(|l| {
                    l.sync_received = n;
                    l.last_io = Some(Instant::now());
                });
            })
            .map_err(|e| format!("full sync failed: {e}"))?;
            let secs = started.elapsed().as_secs_f64();
            tracing::info!(
                "full sync received: {} bytes in {secs:.2}s ({:.0} MB/s); restarting storage to install it",
                start.total_bytes,
                start.total_bytes as f64 / secs.max(1e-9) / 1e6
            );
            if !current(server, generation) {
                return Ok(Outcome::Stopped);
            }
            server.request_restart();
            Ok(Outcome::Installing)
        }
        MasterMsg::Incremental(start) => {
            tracing::info!(
                "following {}:{} from sequence {}",
                master.host,
                master.port,
                start.from_seq
            );
            // The master may continue our history under a new id (it restarted after a
            // crash); from now on the position is in that history.
            if let Some((followed, applied)) =
                storage.master_position().map_err(|e| e.to_string())?
            {
                if followed != start.replid {
                    storage
                        .set_master_position(&start.replid, applied)
                        .map_err(|e| e.to_string())?;
                }
            }
            repl.set_link(|l| {
                l.state = LinkState::Connected;
                l.last_io = Some(Instant::now());
                l.last_error.clear();
            });
            // Bytes the buffer already holds belong to the stream that follows.
            let early = std::io::Cursor::new(input.buffer().to_vec());
            let rest = early.chain(input.into_inner());
            let payload = &repl.traffic.payload_received;
            let stream: Box<dyn Read + Send> = if start.snappy {
                Box::new(wire::Counted::new(
                    snap::read::FrameDecoder::new(rest),
                    payload,
                ))
            } else {
                Box::new(wire::Counted::new(rest, payload))
            };
            let mut input = BufReader::with_capacity(1 << 20, stream);
            apply_stream(server, &mut input, &mut out, &start.replid, generation)
        }
        MasterMsg::Refusal(r) => Err(format!("master refused: {}", r.reason)),
        other => Err(format!("unexpected first message {other:?}")),
    }
}

/// Applies batches until the link breaks or this node stops following the master.
fn apply_stream(
    server: &ServerState,
    input: &mut BufReader<Box<dyn Read + Send>>,
    out: &mut BufWriter<TcpStream>,
    replid: &str,
    generation: u64,
) -> Result<Outcome, String> {
    let storage = &server.storage;
    let repl = &server.replication;
    let mut applied = storage
        .master_position()
        .map_err(|e| e.to_string())?
        .map_or(0, |(_, seq)| seq);
    let mut group = BatchGroup::default();
    // The first pieces of a batch sent in pieces.
    let mut partial: Option<pb::Batch> = None;
    let mut priority = LagPriority::start(server.config().replication_nice as i32);
    loop {
        if !current(server, generation) {
            return Ok(Outcome::Stopped);
        }
        let msg = match wire::recv_master(input) {
            Ok(msg) => msg,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(cannot_continue(server, format!("malformed message: {e}")))
            }
            Err(e) => return Err(format!("link broken: {e}")),
        };
        match msg {
            MasterMsg::Batch(mut b) => {
                if let Some(mut first) = partial.take() {
                    if (first.seq, first.count) != (b.seq, b.count) {
                        return Err(cannot_continue(
                            server,
                            format!("piece of batch {} inside batch {}", b.seq, first.seq),
                        ));
                    }
                    first.data.append(&mut b.data);
                    first.more = b.more;
                    b = first;
                }
                if b.more {
                    partial = Some(b);
                    continue;
                }
                let next = applied + 1 + group.count;
                if b.seq != next {
                    return Err(cannot_continue(
                        server,
                        format!("batch at sequence {} does not follow {}", b.seq, next - 1),
                    ));
                }
                group.add(&b);
            }
            MasterMsg::Heartbeat(_) => {}
            other => {
                return Err(cannot_continue(
                    server,
                    format!("unexpected message {other:?}"),
                ))
            }
        }
        // Everything already received is applied as one write, then acknowledged once it
        // is in the WAL file.
        if !input.buffer().is_empty() && group.bytes.len() < MAX_GROUP_BYTES {
            continue;
        }
        repl.set_link(|l| l.last_io = Some(Instant::now()));
        if group.count > 0 {
            let last = applied + group.count;
            let committed_ms = storage
                .apply_replicated(&group.bytes, replid, last)
                .map_err(|e| {
                    cannot_continue(
                        server,
                        format!("cannot apply batches {}..={last}: {e}", applied + 1),
                    )
                })?;
            if let Some(ms) = committed_ms {
                priority.follow(ms, crate::storage::now_ms());
            }
            applied = last;
            group = BatchGroup::default();
        }
        storage.engine().sync_wal().map_err(|e| e.to_string())?;
        crate::server::serve_ready_keys(server);
        wire::send_slave(
            out,
            SlaveMsg::Ack(pb::Ack {
                applied_seq: applied,
            }),
        )
        .and_then(|_| out.flush())
        .map_err(|e| format!("link broken: {e}"))?;
    }
}

/// The link cannot go on from what the master sent: the next sync request asks for a full
/// sync (once; see `Replication::full_sync_needed`). Returns `why`, which is logged.
fn cannot_continue(server: &ServerState, why: String) -> String {
    server
        .replication
        .full_sync_needed
        .store(true, Ordering::SeqCst);
    tracing::error!(
        "cannot continue from the master's stream, the next sync is a full sync: {why}"
    );
    why
}

/// Bytes of received batches applied together at most.
const MAX_GROUP_BYTES: usize = 4 << 20;

/// Consecutive master batches joined into one RocksDB batch: the header of the first (its
/// sequence field is ignored on write) with the operation counts summed, then every batch's
/// records in order. RocksDB joins concurrent writers' batches the same way.
#[derive(Default)]
struct BatchGroup {
    bytes: Vec<u8>,
    count: u64,
}

/// A RocksDB batch header: 8-byte sequence, 4-byte count.
const BATCH_HEADER: usize = 12;

impl BatchGroup {
    fn add(&mut self, b: &pb::Batch) {
        if b.data.len() < BATCH_HEADER {
            return;
        }
        if self.bytes.is_empty() {
            self.bytes.extend_from_slice(&b.data);
        } else {
            self.bytes.extend_from_slice(&b.data[BATCH_HEADER..]);
        }
        self.count += u64::from(b.count);
        let total = u32::try_from(self.count).unwrap_or(u32::MAX);
        self.bytes[8..BATCH_HEADER].copy_from_slice(&total.to_le_bytes());
    }
}
