//! The slave side: one thread keeps the link to the master, receives a full sync when needed
//! and applies the master's batches in order, acknowledging them.
//!
//! The batches of one EXEC on the master carry its transaction mark (see `storage::batch_note`):
//! from the first to the closing one the slave holds them back (with the other batches that
//! fell between) and then applies them in one write, so its readers never see half a
//! transaction; what came before the transaction is applied meanwhile. Batches held back
//! longer than [`TRANSACTION_WAIT`] (a master that died mid-EXEC never closes its
//! transaction) or past [`MAX_TRANSACTION_BYTES`] are applied as they are.

use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::binlog::transaction_marks;
use super::from_redis::{self, CommandApplier};
use super::priority::LagPriority;
use super::wire::{self, pb, MasterMsg, SlaveMsg};
use super::{LinkState, MasterAddr, ReplicationHandle};
use crate::resp;

/// Pause between attempts to reach the master.
const RETRY: Duration = Duration::from_secs(1);

/// Why [`supervise`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupervisorEnd {
    /// Shutdown was requested.
    Stopped,
    /// A full sync is staged: the server must restart its storage to install it.
    InstallSnapshot,
}

/// Keeps this node following its master, whichever SLAVEOF names, until shutdown or until a
/// full sync was received (the caller then restarts the storage).
pub fn supervise(handle: &ReplicationHandle, applier: &dyn CommandApplier) -> SupervisorEnd {
    let repl = &handle.replication;
    while !handle.shutdown_requested() {
        let generation = repl.generation();
        match repl.master() {
            Some(master) => {
                // Nothing a master sends may take replication down for good: a panic is a bug,
                // logged, and the link starts over.
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run_link(handle, applier, &master, generation)
                }));
                match run {
                    Ok(Outcome::Installing) => return SupervisorEnd::InstallSnapshot,
                    Ok(Outcome::Stopped) => {}
                    Err(panic) => restart_after_panic(repl, panic),
                }
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    SupervisorEnd::Stopped
}

/// Logs a panic of the link and lets it start over after a pause.
fn restart_after_panic(repl: &super::Replication, panic: Box<dyn std::any::Any + Send>) {
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

fn current(handle: &ReplicationHandle, generation: u64) -> bool {
    handle.replication.generation() == generation && !handle.shutdown_requested()
}

/// Follows `master` until this node stops following it, or a full sync is staged.
fn run_link(
    handle: &ReplicationHandle,
    applier: &dyn CommandApplier,
    master: &MasterAddr,
    generation: u64,
) -> Outcome {
    let repl = &handle.replication;
    while current(handle, generation) {
        repl.set_link(|l| l.state = LinkState::Connecting);
        let result = follow(handle, applier, master, generation);
        if !current(handle, generation) {
            break;
        }
        match result {
            Ok(Outcome::Installing) => return Outcome::Installing,
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
    Outcome::Stopped
}

enum Outcome {
    /// A full sync was received; the server restarts its storage to install it (once
    /// [`supervise`] returned).
    Installing,
    /// The link ended because this node stopped following this master.
    Stopped,
}

fn follow(
    handle: &ReplicationHandle,
    applier: &dyn CommandApplier,
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
    let cfg = handle.config();
    let _ = stream.set_nodelay(true);
    // The master sends a heartbeat every second: silence this long means the link is gone.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(cfg.repl_timeout.max(1))));
    let write_half = stream.try_clone().map_err(|e| e.to_string())?;
    let repl = &handle.replication;
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
    match call(&["PIKA-REPLICATE", &port])? {
        Ok(_) => {}
        // A real redis-server: its own replica protocol from here.
        Err(e) if from_redis::is_redis_refusal(&e) => {
            return from_redis::follow(handle, applier, master, input, out, &|| {
                current(handle, generation)
            })
            .map(|()| Outcome::Stopped);
        }
        Err(e) => return Err(format!("master refused to replicate: {e}")),
    }
    let storage = &handle.storage;
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
            if !current(handle, generation) {
                return Ok(Outcome::Stopped);
            }
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
            apply_stream(handle, &mut input, &mut out, &start.replid, generation)
        }
        MasterMsg::Refusal(r) => Err(format!("master refused: {}", r.reason)),
        other => Err(format!("unexpected first message {other:?}")),
    }
}

/// Applies batches until the link breaks or this node stops following the master.
fn apply_stream(
    handle: &ReplicationHandle,
    input: &mut BufReader<Box<dyn Read + Send>>,
    out: &mut BufWriter<TcpStream>,
    replid: &str,
    generation: u64,
) -> Result<Outcome, String> {
    let storage = &handle.storage;
    let repl = &handle.replication;
    let mut applied = storage
        .master_position()
        .map_err(|e| e.to_string())?
        .map_or(0, |(_, seq)| seq);
    let mut group = BatchGroup::default();
    // The first pieces of a batch sent in pieces.
    let mut partial: Option<pb::Batch> = None;
    let mut priority = LagPriority::start(handle.config().replication_nice as i32);
    loop {
        if !current(handle, generation) {
            return Ok(Outcome::Stopped);
        }
        let msg = match wire::recv_master(input) {
            Ok(msg) => msg,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(cannot_continue(handle, format!("malformed message: {e}")))
            }
            Err(e) => return Err(format!("link broken: {e}")),
        };
        match msg {
            MasterMsg::Batch(mut b) => {
                if let Some(mut first) = partial.take() {
                    if (first.seq, first.count) != (b.seq, b.count) {
                        return Err(cannot_continue(
                            handle,
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
                        handle,
                        format!("batch at sequence {} does not follow {}", b.seq, next - 1),
                    ));
                }
                group.add(&b);
            }
            MasterMsg::Heartbeat(_) => {}
            other => {
                return Err(cannot_continue(
                    handle,
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
        if let Some((bytes, count)) = group.take_applicable() {
            let last = applied + count;
            let committed_ms = storage
                .apply_replicated(&bytes, replid, last)
                .map_err(|e| {
                    cannot_continue(
                        handle,
                        format!("cannot apply batches {}..={last}: {e}", applied + 1),
                    )
                })?;
            if let Some(ms) = committed_ms {
                priority.follow(ms, crate::util::clock::unix_ms());
            }
            applied = last;
        }
        storage.engine().sync_wal().map_err(|e| e.to_string())?;
        // Clients blocked on keys these batches filled are served by the server's workers.
        storage.ready.publish();
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
fn cannot_continue(handle: &ReplicationHandle, why: String) -> String {
    handle
        .replication
        .full_sync_needed
        .store(true, Ordering::SeqCst);
    tracing::error!(
        "cannot continue from the master's stream, the next sync is a full sync: {why}"
    );
    why
}

/// Bytes of received batches applied together at most, outside transactions.
const MAX_GROUP_BYTES: usize = 4 << 20;
/// How long the batches of an open transaction are held back at most.
const TRANSACTION_WAIT: Duration = Duration::from_secs(10);
/// Bytes held back for an open transaction at most.
const MAX_TRANSACTION_BYTES: usize = 256 << 20;

/// Consecutive master batches joined into one RocksDB batch: the header of the first (its
/// sequence field is ignored on write) with the operation counts summed, then every batch's
/// records in order. RocksDB joins concurrent writers' batches the same way.
#[derive(Default)]
struct BatchGroup {
    bytes: Vec<u8>,
    count: u64,
    /// Transactions whose closing batch has not arrived yet.
    open: Vec<u64>,
    /// Length of `bytes` and `count` up to the last batch after which no transaction was
    /// open: the part that can be applied now.
    complete: (usize, u64),
    /// When the first batch after `complete` arrived (a transaction was open since).
    open_since: Option<Instant>,
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
        set_count(&mut self.bytes, self.count);
        // An unreadable batch fails when it is applied; here it only opens nothing.
        for mark in transaction_marks(&b.data).unwrap_or_default() {
            if mark.closing {
                self.open.retain(|&id| id != mark.id);
            } else if !self.open.contains(&mark.id) {
                self.open.push(mark.id);
            }
        }
        if self.open.is_empty() {
            self.complete = (self.bytes.len(), self.count);
            self.open_since = None;
        } else if self.open_since.is_none() {
            self.open_since = Some(Instant::now());
        }
    }

    /// Takes what can be applied now, as one batch with its count: everything, or only up to
    /// the end of the last complete transaction while another one is still open (unless it
    /// was held back too long or grew too big).
    fn take_applicable(&mut self) -> Option<(Vec<u8>, u64)> {
        if self.count == 0 {
            return None;
        }
        let held_too_long = self.open_since.is_some_and(|since| {
            since.elapsed() >= TRANSACTION_WAIT || self.bytes.len() >= MAX_TRANSACTION_BYTES
        });
        if self.open.is_empty() || held_too_long {
            if !self.open.is_empty() {
                tracing::warn!(
                    "applying {} batches of an unfinished transaction of the master",
                    self.count - self.complete.1
                );
            }
            let taken = std::mem::take(self);
            return Some((taken.bytes, taken.count));
        }
        let (len, count) = self.complete;
        if count == 0 {
            return None;
        }
        // The rest keeps the header (its sequence field is ignored) with its own count.
        let mut rest = self.bytes[..BATCH_HEADER].to_vec();
        rest.extend_from_slice(&self.bytes[len..]);
        let mut done = std::mem::replace(&mut self.bytes, rest);
        done.truncate(len);
        set_count(&mut done, count);
        self.count -= count;
        set_count(&mut self.bytes, self.count);
        self.complete = (0, 0);
        Some((done, count))
    }
}

/// Writes `count` into a batch header.
fn set_count(batch: &mut [u8], count: u64) {
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    batch[8..BATCH_HEADER].copy_from_slice(&count.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::batch_note::{BatchNote, TransactionMark};
    use crate::storage::wal::parse_batch;

    /// A master batch of one put (`key`), with a note carrying `mark`.
    fn batch(seq: u64, key: &[u8], mark: Option<(u64, bool)>) -> pb::Batch {
        let mark = mark.map(|(id, closing)| TransactionMark { id, closing });
        let note = BatchNote::encode_marked(1, 0, "set", mark);
        let mut data = seq.to_le_bytes().to_vec();
        data.extend_from_slice(&1u32.to_le_bytes());
        data.push(0x3);
        data.push(note.len() as u8);
        data.extend_from_slice(&note);
        data.extend_from_slice(&[0x1, key.len() as u8]);
        data.extend_from_slice(key);
        data.extend_from_slice(&[0x1, b'v']);
        pb::Batch {
            seq,
            count: 1,
            data,
            more: false,
        }
    }

    /// The keys a joined batch puts, checking its header count.
    fn keys(bytes: &[u8], count: u64) -> Vec<Vec<u8>> {
        let parsed = parse_batch(bytes).expect("a valid batch");
        assert_eq!(u64::from(parsed.count), count);
        parsed
            .ops
            .into_iter()
            .filter(|op| !op.key.is_empty())
            .map(|op| op.key)
            .collect()
    }

    #[test]
    fn batches_outside_transactions_are_applied_at_once() {
        let mut g = BatchGroup::default();
        g.add(&batch(1, b"a", None));
        g.add(&batch(2, b"b", None));
        let (bytes, count) = g.take_applicable().expect("applicable");
        assert_eq!(keys(&bytes, count), [b"a".to_vec(), b"b".to_vec()]);
        assert!(g.take_applicable().is_none());
    }

    #[test]
    fn an_open_transaction_is_held_back_with_what_follows_it() {
        let mut g = BatchGroup::default();
        g.add(&batch(1, b"before", None));
        g.add(&batch(2, b"t1", Some((7, false))));
        g.add(&batch(3, b"other", None));
        // What came before the transaction goes now; the transaction waits for its end.
        let (bytes, count) = g.take_applicable().expect("the part before");
        assert_eq!(keys(&bytes, count), [b"before".to_vec()]);
        assert!(g.take_applicable().is_none());
        g.add(&batch(4, b"t2", Some((7, false))));
        g.add(&batch(5, b"end", Some((7, true))));
        let (bytes, count) = g.take_applicable().expect("the whole transaction");
        assert_eq!(
            keys(&bytes, count),
            [
                b"t1".to_vec(),
                b"other".to_vec(),
                b"t2".to_vec(),
                b"end".to_vec()
            ]
        );
        assert_eq!(g.count, 0);
    }

    #[test]
    fn overlapping_transactions_are_applied_up_to_the_last_complete_point() {
        let mut g = BatchGroup::default();
        g.add(&batch(1, b"x1", Some((1, false))));
        g.add(&batch(2, b"y1", Some((2, false))));
        g.add(&batch(3, b"x-end", Some((1, true))));
        g.add(&batch(4, b"y-end", Some((2, true))));
        g.add(&batch(5, b"z1", Some((3, false))));
        let (bytes, count) = g.take_applicable().expect("the complete part");
        assert_eq!(count, 4);
        assert_eq!(keys(&bytes, count).len(), 4);
        assert!(g.take_applicable().is_none());
        g.add(&batch(6, b"z-end", Some((3, true))));
        let (bytes, count) = g.take_applicable().expect("the rest");
        assert_eq!(keys(&bytes, count), [b"z1".to_vec(), b"z-end".to_vec()]);
    }
}
