//! The worker pool: threads that run commands against storage.
//!
//! Network threads never touch RocksDB. They queue each connection's parsed commands on its
//! [`Conn`] and hand the connection over a crossbeam channel; one worker at a time runs a
//! connection's queue in order, so a connection's commands execute and answer in order. A worker
//! takes every connection that is ready (up to `MAX_GROUP`) as one round: it runs them all,
//! hands the round's WAL records to the OS with one write, then sends each connection's replies
//! in one write. A panic in a command is caught here: the client gets an error, the worker and
//! the server live on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

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
                        while let Ok(first) = rx.recv() {
                            let mut group = vec![first];
                            while group.len() < MAX_GROUP {
                                match rx.try_recv() {
                                    Ok(conn) => group.push(conn),
                                    Err(_) => break,
                                }
                            }
                            run_group(&server, group);
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

/// Most connections a worker serves between two WAL flushes.
const MAX_GROUP: usize = 32;

/// Runs the queued work of a group of connections until their queues are empty.
///
/// Replies are held back until the WAL records of the round's writes have been handed to the
/// operating system (one write syscall for the whole round), then sent; a connection's queue is
/// released only after its replies are out, so its replies never overtake each other.
fn run_group(server: &ServerState, mut group: Vec<Arc<Conn>>) {
    while !group.is_empty() {
        let outputs: Vec<BytesMut> = group
            .iter()
            .map(|conn| run_work(server, conn, conn.take_pending()))
            .collect();
        if let Err(e) = server.storage.engine().sync_wal() {
            // The round's writes may not be durable: acknowledge none of them. Closing the
            // connections tells the clients their last commands are in doubt.
            tracing::error!("WAL flush failed, closing the round's connections: {e}");
            for conn in &group {
                conn.client.close_after_reply();
                conn.wake.notify_one();
            }
        } else {
            for (conn, out) in group.iter().zip(outputs) {
                conn.send(&out);
                if conn.client.take_monitor_request() {
                    if let Some(sink) = conn.client.sink.get() {
                        server.monitors.add(conn.client.id, sink.clone());
                    }
                }
            }
        }
        group.retain(|conn| {
            if conn.client.is_closing() {
                conn.discard_pending();
            }
            if conn.release_if_idle() {
                conn.client.query_buffer_len.store(0, Ordering::Relaxed);
                conn.after_work();
                false
            } else {
                true
            }
        });
    }
}

/// Runs queued work of one connection and returns the encoded replies.
fn run_work(server: &ServerState, conn: &Conn, works: Vec<Work>) -> BytesMut {
    let mut out = BytesMut::new();
    for work in works {
        if conn.client.is_closing() {
            break;
        }
        match work {
            Work::Commands(commands) => run_batch(server, &conn.client, commands, &mut out),
            Work::FinalReply(bytes) => {
                out.extend_from_slice(&bytes);
                conn.client.close_after_reply();
            }
        }
    }
    out
}

/// Runs a batch and encodes the replies, honouring CLIENT REPLY and QUIT.
pub fn run_batch(
    server: &ServerState,
    client: &Client,
    commands: Vec<Vec<Bytes>>,
    out: &mut BytesMut,
) {
    for argv in commands {
        if client.is_closing() {
            break;
        }
        // CLIENT REPLY as Redis does it: a pending SKIP applies to this command only; a command
        // that sets the mode itself is silent (OFF, SKIP) or answered (ON).
        let skipped = client.reply_mode() == ReplyMode::Skip;
        if skipped {
            client.consume_skip();
        }
        let changes = client.reply_mode_changes();
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
        let set_by_command = client.reply_mode_changes() != changes;
        let suppress = match client.reply_mode() {
            ReplyMode::Off => true,
            ReplyMode::Skip if set_by_command => true,
            ReplyMode::On if set_by_command => false,
            _ => skipped,
        };
        if !suppress {
            reply.encode(out, client.protocol());
        }
    }
}
