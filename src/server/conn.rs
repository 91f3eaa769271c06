//! What a connection shares with the workers that run its commands.
//!
//! The network task parses requests and queues them here; at most one worker at a time runs a
//! connection's queue, in order, and writes the replies straight to the socket. The network
//! task is not woken per reply, which halves the thread hand-offs of a request. Replies the
//! socket cannot take at once go to a backlog that the network task drains when the socket
//! becomes writable; every write, direct or drained, happens under the backlog lock, so replies
//! leave in order.

use std::collections::VecDeque;
use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crossbeam_channel::Sender;

use crate::state::blocking::ParkedConn;
use crate::state::client::Client;
use crate::state::monitor::ReplySink;

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
}

/// A connection as seen by workers.
pub struct Conn {
    pub client: Arc<Client>,
    /// A second handle on the socket, for writes from worker threads (non-blocking).
    out: std::net::TcpStream,
    backlog: Mutex<BytesMut>,
    queue: Mutex<Queue>,
    /// Set while the network task waits for the queue to drain or the backlog to empty.
    net_waiting: AtomicBool,
    /// Wakes the network task: backlog to drain, queue drained, or closing.
    pub wake: Notify,
    /// The workers, to hand the queue back to when a blocked command is answered.
    workers: Sender<Arc<Conn>>,
}

/// The network task stops reading while this many requests wait to run.
pub const MAX_PENDING_REQUESTS: usize = 64 * 1024;

impl Conn {
    pub fn new(client: Arc<Client>, out: std::net::TcpStream, workers: Sender<Arc<Conn>>) -> Conn {
        Conn {
            workers,
            client,
            out,
            backlog: Mutex::new(BytesMut::new()),
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

    /// Takes everything queued, for the worker that owns the queue (ownership is kept).
    pub fn take_pending(&self) -> Vec<Work> {
        let mut q = self.queue.lock();
        q.pending_requests = 0;
        q.pending.drain(..).collect()
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

    /// Gives up ownership of the queue unless more work arrived; true when released.
    pub fn release_if_idle(&self) -> bool {
        let mut q = self.queue.lock();
        if q.pending.is_empty() {
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
        if backlog.is_empty() {
            match (&self.out).write(out) {
                Ok(n) if n == out.len() => return,
                Ok(n) => backlog.extend_from_slice(&out[n..]),
                Err(e)
                    if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted =>
                {
                    backlog.extend_from_slice(out)
                }
                Err(_) => {
                    // The peer is gone; the network task notices on its next read.
                    self.client.close_after_reply();
                }
            }
        } else {
            backlog.extend_from_slice(out);
        }
        drop(backlog);
        self.wake.notify_one();
    }

    /// Writes as much of the backlog as the socket takes now. Returns Ok(true) when it is empty.
    pub fn drain_backlog(&self, stream: &tokio::net::TcpStream) -> std::io::Result<bool> {
        let mut backlog = self.backlog.lock();
        while !backlog.is_empty() {
            match stream.try_write(&backlog) {
                Ok(n) => backlog.advance(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// True when replies wait in the backlog.
    pub fn has_backlog(&self) -> bool {
        !self.backlog.lock().is_empty()
    }

    /// Marks that the network task waits for the worker (set before checking, cleared after).
    pub fn set_net_waiting(&self, waiting: bool) {
        self.net_waiting.store(waiting, Ordering::SeqCst);
    }

    /// Called by the worker after it ran work: wakes the network task if it waits for that.
    pub fn after_work(&self) {
        if self.net_waiting.load(Ordering::SeqCst) || self.client.is_closing() {
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
        let workers = self.workers.clone();
        if workers.send(self).is_err() {
            // Workers are gone: the server is shutting down.
        }
    }
}

impl ReplySink for Conn {
    fn push(&self, bytes: &[u8]) {
        self.send(bytes);
    }
}
