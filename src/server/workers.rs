//! The worker pool: threads that run commands against storage.
//!
//! Network threads never touch RocksDB. They send each connection's batch of parsed commands
//! over a crossbeam channel; one worker runs the whole batch in order and returns the encoded
//! replies in one buffer, so a connection's commands execute and answer in order. A panic in a
//! command is caught here: the client gets an error, the worker and the server live on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::{Bytes, BytesMut};
use crossbeam_channel::{unbounded, Receiver, Sender};
use tokio::sync::oneshot;

use crate::cmd::dispatch;
use crate::resp::Reply;
use crate::state::client::{Client, ReplyMode};
use crate::state::ServerState;

/// One batch of commands from one connection.
pub struct Job {
    pub client: Arc<Client>,
    pub commands: Vec<Vec<Bytes>>,
    pub done: oneshot::Sender<BytesMut>,
}

/// Handle to the running workers.
pub struct WorkerPool {
    tx: Option<Sender<Job>>,
    handles: Vec<JoinHandle<()>>,
}

impl WorkerPool {
    /// Starts `size` worker threads.
    pub fn start(server: Arc<ServerState>, size: usize) -> std::io::Result<WorkerPool> {
        let (tx, rx) = unbounded::<Job>();
        let mut handles = Vec::with_capacity(size);
        for i in 0..size.max(1) {
            let rx: Receiver<Job> = rx.clone();
            let server = Arc::clone(&server);
            handles.push(
                std::thread::Builder::new()
                    .name(format!("worker-{i}"))
                    .spawn(move || {
                        for job in rx {
                            let out = run_batch(&server, &job.client, job.commands);
                            // The connection may have gone away meanwhile; nothing to do then.
                            let _ = job.done.send(out);
                        }
                    })?,
            );
        }
        Ok(WorkerPool {
            tx: Some(tx),
            handles,
        })
    }

    /// A sender for connections to submit jobs with.
    pub fn sender(&self) -> Option<Sender<Job>> {
        self.tx.clone()
    }

    /// Stops accepting jobs and waits for the running ones to finish.
    pub fn stop(mut self) {
        self.tx = None;
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
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
