//! What a connection shares with the workers that run its commands.
//!
//! The network task parses requests and queues them here; at most one worker at a time runs a
//! connection's queue, in order, and writes the replies straight to the socket. The network
//! task is not woken per reply, which halves the thread hand-offs of a request. Replies the
//! socket cannot take at once go to a backlog that the network task drains when the socket
//! becomes writable; every write, direct or drained, happens under the backlog lock, so replies
//! leave in order.
//!
//! Memory per connection stays bounded: a worker stops running a connection's commands while
//! more than [`BACKLOG_HIGH_WATER`] bytes of its replies wait unread (the connection is
//! *suspended*; the network task hands it back once the backlog is written), a reply too big
//! to build ([`StreamedReply`]) is written a piece at a time, and bytes pushed to a client from
//! outside its own commands (Pub/Sub, MONITOR) are bounded by `client-output-buffer-limit`.

use std::collections::VecDeque;
use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crossbeam_channel::Sender;

use crate::config::ClientClass;
use crate::resp::reply::StreamedReply;
use crate::state::blocking::ParkedConn;
use crate::state::client::Client;
use crate::state::monitor::ReplySink;
use crate::state::stats::IoTotals;
use crate::state::ServerState;

/// A unit of queued work, in arrival order.
pub enum Work {
    /// Parsed requests to run as one batch.
    Commands(Vec<Vec<Bytes>>),
    /// Bytes to send as they are after everything before them, then close (protocol errors).
    FinalReply(Bytes),
}

#[derive(Default)]
struct Queue {
    /// A worker owns the queue while true.
    running: bool,
    pending: VecDeque<Work>,
    /// Requests waiting, for back-pressure on the reader.
    pending_requests: usize,
    /// The rest of a reply being written a piece at a time; it goes out before any
    /// pending work runs.
    stream: Option<StreamedReply>,
}

/// Replies the socket has not taken yet.
#[derive(Default)]
struct Backlog {
    bytes: BytesMut,
    /// Since when the backlog has stayed above the client class' soft limit.
    soft_since: Option<Instant>,
    /// Set when a worker stopped running the connection's work until the backlog is written.
    suspended: bool,
    /// Set once the client passed its output buffer limit: nothing more is kept for it.
    over_limit: bool,
}

/// A connection as seen by workers.
pub struct Conn {
    pub client: Arc<Client>,
    /// A second handle on the socket, for writes from worker threads (non-blocking).
    out: std::net::TcpStream,
    backlog: Mutex<Backlog>,
    /// For the output buffer limits and their statistics (weak: parked connections are held
    /// by the server state).
    server: Weak<ServerState>,
    /// The server's output totals, counted as the socket is written.
    io: Arc<IoTotals>,
    queue: Mutex<Queue>,
    /// Set while the network task waits for the queue to drain or the backlog to empty.
    net_waiting: AtomicBool,
    /// Wakes the network task: backlog to drain, queue drained, or closing.
    pub wake: Notify,
    /// The workers, to hand the queue back to when a blocked command is answered.
    workers: Sender<Arc<Conn>>,
}

/// Connections handed to the workers that a worker has not finished with yet (released,
/// parked or suspended them). While any is, a network thread runs no command itself (see
/// `server::inline`): a command must not overtake one that arrived before it on another
/// connection and still waits for a worker.
static WITH_WORKERS: AtomicUsize = AtomicUsize::new(0);

/// Whether every connection handed to the workers has been finished with.
pub fn workers_idle() -> bool {
    WITH_WORKERS.load(Ordering::Acquire) == 0
}

/// A worker finished with `n` connections it was handed.
pub fn left_workers(n: usize) {
    WITH_WORKERS.fetch_sub(n, Ordering::AcqRel);
}

/// A new worker pool starts with no connection handed to it.
pub fn reset_workers_count() {
    WITH_WORKERS.store(0, Ordering::Release);
}

/// The network task stops reading while this many requests wait to run.
pub const MAX_PENDING_REQUESTS: usize = 64 * 1024;

/// Unread reply bytes past which a worker stops running the connection's commands until the
/// client has read them.
pub const BACKLOG_HIGH_WATER: usize = 1 << 20;

impl Conn {
    pub fn new(
        client: Arc<Client>,
        out: std::net::TcpStream,
        workers: Sender<Arc<Conn>>,
        server: Weak<ServerState>,
        io: Arc<IoTotals>,
    ) -> Conn {
        Conn {
            workers,
            client,
            out,
            server,
            io,
            backlog: Mutex::new(Backlog::default()),
            queue: Mutex::new(Queue::default()),
            net_waiting: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    /// Queues work; returns true when the caller must hand the connection to a worker.
    pub fn enqueue(&self, work: Work) -> bool {
        let mut q = self.queue.lock();
        if let Work::Commands(c) = &work {
            q.pending_requests += c.len();
        }
        q.pending.push_back(work);
        if q.running {
            false
        } else {
            q.running = true;
            true
        }
    }

    /// Queues work and takes ownership of the queue if nothing else is queued, running or
    /// streaming: the caller then runs it itself. Gives the work back otherwise.
    pub fn claim_if_idle(&self, work: Work) -> Result<(), Work> {
        let mut q = self.queue.lock();
        if q.running || !q.pending.is_empty() || q.stream.is_some() {
            return Err(work);
        }
        if let Work::Commands(c) = &work {
            q.pending_requests += c.len();
        }
        q.pending.push_back(work);
        q.running = true;
        Ok(())
    }

    /// Takes everything queued, for the worker that owns the queue (ownership is kept).
    pub fn take_pending(&self) -> Vec<Work> {
        let mut q = self.queue.lock();
        q.pending_requests = 0;
        q.pending.drain(..).collect()
    }

    /// Whether every queued command satisfies `test`, with no streamed reply or final reply
    /// waiting (for a worker that owns the queue and wants to answer it out of turn).
    pub fn pending_all(&self, test: impl Fn(&[Bytes]) -> bool) -> bool {
        let q = self.queue.lock();
        q.stream.is_none()
            && q.pending.iter().all(|work| match work {
                Work::Commands(commands) => commands.iter().all(|argv| test(argv)),
                Work::FinalReply(_) => false,
            })
    }

    /// Puts work back at the head of the queue (what followed a command that had to wait).
    pub fn push_front(&self, works: Vec<Work>) {
        let mut q = self.queue.lock();
        for work in works.into_iter().rev() {
            if let Work::Commands(c) = &work {
                q.pending_requests += c.len();
            }
            q.pending.push_front(work);
        }
    }

    /// Keeps the unwritten rest of a streamed reply for the next turn of the worker.
    pub fn set_stream(&self, stream: StreamedReply) {
        self.queue.lock().stream = Some(stream);
    }

    /// Takes the unwritten rest of a streamed reply, if any.
    pub fn take_stream(&self) -> Option<StreamedReply> {
        self.queue.lock().stream.take()
    }

    /// Gives up ownership of the queue unless more work arrived; true when released.
    pub fn release_if_idle(&self) -> bool {
        let mut q = self.queue.lock();
        if q.pending.is_empty() && q.stream.is_none() {
            q.running = false;
            true
        } else {
            false
        }
    }

    /// Drops queued work (the connection is closing).
    pub fn discard_pending(&self) {
        let mut q = self.queue.lock();
        q.pending.clear();
        q.pending_requests = 0;
        q.stream = None;
    }

    /// True when no work is queued or running.
    pub fn is_idle(&self) -> bool {
        let q = self.queue.lock();
        !q.running && q.pending.is_empty()
    }

    /// True when the reader should wait before queueing more.
    pub fn is_congested(&self) -> bool {
        self.queue.lock().pending_requests >= MAX_PENDING_REQUESTS
    }

    /// Sends replies: straight to the socket when possible, else into the backlog.
    pub fn send(&self, out: &[u8]) {
        if out.is_empty() {
            return;
        }
        let mut backlog = self.backlog.lock();
        if backlog.over_limit {
            return;
        }
        if backlog.bytes.is_empty() {
            let written = (&self.out).write(out);
            if let Ok(n) = written {
                self.count_write(n);
            }
            match written {
                Ok(n) if n == out.len() => return,
                Ok(n) => backlog.bytes.extend_from_slice(&out[n..]),
                Err(e)
                    if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted =>
                {
                    backlog.bytes.extend_from_slice(out)
                }
                Err(_) => {
                    // The peer is gone; the network task notices on its next read.
                    self.client.close_after_reply();
                }
            }
        } else {
            backlog.bytes.extend_from_slice(out);
        }
        self.client
            .output_buffer_len
            .store(backlog.bytes.len(), Ordering::Relaxed);
        if self.passes_output_limit(&mut backlog) {
            backlog.over_limit = true;
            backlog.bytes = BytesMut::new();
            self.client.output_buffer_len.store(0, Ordering::Relaxed);
            drop(backlog);
            self.client.kill();
            return;
        }
        drop(backlog);
        self.wake.notify_one();
    }

    /// Counts one write of `n` bytes to the socket.
    fn count_write(&self, n: usize) {
        self.io.writes_processed.fetch_add(1, Ordering::Relaxed);
        self.io
            .net_output_bytes
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Checks the backlog against the client class' `client-output-buffer-limit`; logs and
    /// counts a client that passed it.
    fn passes_output_limit(&self, backlog: &mut Backlog) -> bool {
        let Some(server) = self.server.upgrade() else {
            return false;
        };
        let class = if self.client.is_subscribed() {
            ClientClass::PubSub
        } else {
            ClientClass::Normal
        };
        let limit = server.config().client_output_buffer_limit.of(class);
        let pending = backlog.bytes.len();
        if !limit.is_exceeded(pending, &mut backlog.soft_since, Instant::now()) {
            return false;
        }
        server
            .stats
            .output_buffer_limit_disconnections
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            "client id={} addr={} closed for overcoming its output buffer limit \
             ({pending} bytes unread; {class:?} class limit {} hard, {} soft for {} s)",
            self.client.id,
            self.client.addr,
            limit.hard_bytes,
            limit.soft_bytes,
            limit.soft_seconds,
        );
        true
    }

    /// Writes as much of the backlog as the socket takes now. Returns Ok(true) when it is empty.
    /// A connection suspended for its backlog goes back to the workers once it is empty.
    pub fn drain_backlog(
        self: &Arc<Self>,
        stream: &tokio::net::TcpStream,
    ) -> std::io::Result<bool> {
        let mut backlog = self.backlog.lock();
        while !backlog.bytes.is_empty() {
            match stream.try_write(&backlog.bytes) {
                Ok(n) => {
                    self.count_write(n);
                    backlog.bytes.advance(n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.client
                        .output_buffer_len
                        .store(backlog.bytes.len(), Ordering::Relaxed);
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        backlog.soft_since = None;
        self.client.output_buffer_len.store(0, Ordering::Relaxed);
        if std::mem::take(&mut backlog.suspended) {
            drop(backlog);
            let _ = self.hand_to_workers();
        }
        Ok(true)
    }

    /// Stops running the connection's work while its unread replies pass the high-water mark,
    /// or while a streamed reply has anything unread; true when suspended (the queue stays
    /// owned, and the network task hands it back once the backlog is written).
    pub fn suspend_if_backlogged(&self) -> bool {
        let streaming = self.queue.lock().stream.is_some();
        let mut backlog = self.backlog.lock();
        let unread = backlog.bytes.len();
        if unread >= BACKLOG_HIGH_WATER || (streaming && unread > 0) {
            backlog.suspended = true;
        }
        backlog.suspended
    }

    /// Gives the connection, whose queue the caller owns, to a worker; false when the workers
    /// are gone (the server is shutting down).
    pub fn hand_to_workers(self: &Arc<Self>) -> bool {
        WITH_WORKERS.fetch_add(1, Ordering::AcqRel);
        if self.workers.send(Arc::clone(self)).is_err() {
            WITH_WORKERS.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// True when replies wait in the backlog.
    pub fn has_backlog(&self) -> bool {
        !self.backlog.lock().bytes.is_empty()
    }

    /// Marks that the network task waits for the worker (set before checking, cleared after).
    pub fn set_net_waiting(&self, waiting: bool) {
        self.net_waiting.store(waiting, Ordering::SeqCst);
    }

    /// Called by the worker after it ran work: wakes the network task if it waits for that.
    pub fn after_work(&self) {
        if self.net_waiting.load(Ordering::SeqCst)
            || self.client.is_closing()
            || self.client.wants_redis_replica_handover()
        {
            self.wake.notify_one();
        }
    }

    /// Closes both directions so the peer sees the end even while a worker still holds the
    /// socket.
    pub fn shutdown(&self) {
        let _ = self.out.shutdown(std::net::Shutdown::Both);
    }
}

impl ParkedConn for Conn {
    fn resume(self: Arc<Self>, reply: &[u8]) {
        self.send(reply);
        // The queue is still owned (a parked client keeps it): a worker runs what waited.
        let _ = self.hand_to_workers();
    }
}

impl ReplySink for Conn {
    fn push(&self, bytes: &[u8]) {
        self.send(bytes);
    }
}
