//! The worker pool: threads that run commands against storage.
//!
//! Network threads never touch RocksDB. They queue each connection's parsed commands on its
//! [`Conn`] and hand the connection over a crossbeam channel; one worker at a time runs a
//! connection's queue, batch by batch in order, and writes each batch's replies in one write, so
//! a connection's commands execute and answer in order. A panic in a command is caught here: the
//! client gets an error, the worker and the server live on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::JoinHandle;

use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use crossbeam_channel::{unbounded, Receiver, Sender};

use super::conn::{Conn, Work};

use crate::cmd::dispatch;
use crate::resp::Reply;
use crate::state::client::{Client, ReplyMode};
use crate::state::ServerState;

/// Handle to the running workers.
pub struct WorkerPool {
    tx: Option<Sender<Arc<Conn>>>,
    handles: Vec<JoinHandle<()>>,
}

impl WorkerPool {
    /// Starts `size` worker threads.
    pub fn start(server: Arc<ServerState>, size: usize) -> std::io::Result<WorkerPool> {
        let (tx, rx) = unbounded::<Arc<Conn>>();
        let mut handles = Vec::with_capacity(size);
        for i in 0..size.max(1) {
            let rx: Receiver<Arc<Conn>> = rx.clone();
            let server = Arc::clone(&server);
            handles.push(
                std::thread::Builder::new()
                    .name(format!("worker-{i}"))
                    .spawn(move || {
                        for conn in rx {
                            run_queue(&server, &conn);
                        }
                    })?,
            );
        }
        Ok(WorkerPool {
            tx: Some(tx),
            handles,
        })
    }

    /// A sender for connections to hand their queues over with.
    pub fn sender(&self) -> Option<Sender<Arc<Conn>>> {
        self.tx.clone()
    }

    /// Stops accepting work and waits for the running work to finish.
    pub fn stop(mut self) {
        self.tx = None;
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// Runs a connection's queued work until the queue is empty, writing replies as it goes.
fn run_queue(server: &ServerState, conn: &Conn) {
    while let Some(work) = conn.next_work() {
        match work {
            Work::Commands(commands) => {
                let out = run_batch(server, &conn.client, commands);
                conn.send(&out);
            }
            Work::FinalReply(bytes) => {
                conn.send(&bytes);
                conn.client.close_after_reply();
            }
        }
        if conn.client.is_closing() {
            conn.discard_pending();
        }
    }
    conn.client.query_buffer_len.store(0, Ordering::Relaxed);
    conn.after_work();
}

/// Runs a batch and encodes the replies, honouring CLIENT REPLY and QUIT.
pub fn run_batch(server: &ServerState, client: &Client, commands: Vec<Vec<Bytes>>) -> BytesMut {
    let mut out = BytesMut::new();
    for argv in commands {
        if client.is_closing() {
            break;
        }
        let before = client.reply_mode();
        let reply = catch_unwind(AssertUnwindSafe(|| {
            dispatch::execute(server, client, &argv)
        }))
        .unwrap_or_else(|_| {
            tracing::error!(
                command = %String::from_utf8_lossy(argv.first().map_or(&b""[..], |a| a)),
                "command panicked; the client got an error and the server continues"
            );
            Reply::err("ERR internal error while running the command")
        });
        let after = client.reply_mode();
        let suppress = match (before, after) {
            (_, ReplyMode::Off) => true,
            // CLIENT REPLY SKIP itself is silent and silences the next command.
            (ReplyMode::On, ReplyMode::Skip) => true,
            // CLIENT REPLY ON cancels a pending skip and is itself answered, as in Redis.
            (ReplyMode::Skip, ReplyMode::On) => false,
            (ReplyMode::Skip, _) => {
                if after == ReplyMode::Skip {
                    client.set_reply_mode(ReplyMode::On);
                }
                true
            }
            _ => false,
        };
        if !suppress {
            reply.encode(&mut out, client.protocol());
        }
    }
    out
}
