//! Shutdown as Redis 7 runs it, for SHUTDOWN and the termination signals alike.
//!
//! A shutdown first tells a supervisor (`STOPPING=1`). With slaves behind the last write (and
//! neither NOW nor `shutdown-timeout 0`), the server goes on serving but holds clients' writes
//! back (the network tasks stop at the first write command, see `server::network_task`) until
//! every slave acknowledged the last write or `shutdown-timeout` passed; the clients that
//! sent SHUTDOWN wait meanwhile, and SHUTDOWN ABORT cancels (they get an error, writes go
//! on). Then the save: memtables are flushed unless NOSAVE; a failed flush cancels the
//! shutdown unless FORCE. Past that the stop signal is set and `server::serve` stops
//! accepting, lets connections finish what they sent, and closes the storage.
//!
//! The wait is driven by [`ServerState::shutdown_tick`], which the server's WAIT watcher
//! thread calls every few milliseconds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use parking_lot::Mutex;
use tokio::sync::Notify;

use super::{ServerState, ShutdownMode};
use crate::config::ShutdownFlags;
use crate::resp::Reply;
use crate::util::sd_notify::Supervision;

/// What the clients blocked in SHUTDOWN get when the shutdown is cancelled (Redis' text).
pub const SHUTDOWN_FAILED: &str = "Errors trying to SHUTDOWN. Check logs.";

/// Where a shutdown request got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownStart {
    /// The server is stopping.
    Stopping,
    /// Waiting for slaves to catch up (the request joined the wait if one was running).
    Waiting,
    /// The save failed; the server goes on serving.
    Failed,
}

/// A shutdown waiting for slaves.
struct Pending {
    flags: ShutdownFlags,
    deadline: Instant,
    /// Clients blocked in SHUTDOWN, answered with an error if the shutdown is cancelled.
    blocked: Vec<u64>,
}

/// The shutdown in progress, if any (see the module doc).
#[derive(Default)]
pub struct ShutdownControl {
    pending: Mutex<Option<Pending>>,
    /// Blocked SHUTDOWN clients of a cancelled shutdown not answered yet (one not parked yet
    /// is answered on a later tick).
    to_answer: Mutex<Vec<u64>>,
    writes_held: AtomicBool,
    /// Wakes the network tasks holding writes back when the hold ends.
    pub writes_released: Notify,
    /// Wakes the network tasks when the server stops, so they finish and close.
    pub draining: Notify,
}

impl ShutdownControl {
    /// True while clients' writes are held back for slaves to catch up.
    pub fn writes_held(&self) -> bool {
        self.writes_held.load(Ordering::Acquire)
    }

    /// True while a shutdown waits for slaves.
    pub fn is_waiting(&self) -> bool {
        self.pending.lock().is_some()
    }

    fn release_writes(&self) {
        self.writes_held.store(false, Ordering::Release);
        self.writes_released.notify_waiters();
    }
}

impl ServerState {
    /// Starts a shutdown with `flags` (SHUTDOWN's options, or a signal's directive);
    /// `client` is the id of a client that sent SHUTDOWN and waits if the shutdown does.
    pub fn begin_shutdown(&self, flags: ShutdownFlags, client: Option<u64>) -> ShutdownStart {
        if self.shutdown_requested() {
            return ShutdownStart::Stopping;
        }
        {
            let mut pending = self.shutdown.pending.lock();
            if let Some(p) = pending.as_mut() {
                p.blocked.extend(client);
                return ShutdownStart::Waiting;
            }
            tracing::warn!("User requested shutdown...");
            self.supervision().notify("STOPPING=1\n");
            let timeout = self.config().shutdown_timeout;
            if !flags.contains(ShutdownFlags::NOW) && timeout > 0 && !self.slaves_caught_up() {
                *pending = Some(Pending {
                    flags,
                    deadline: Instant::now() + Duration::from_secs(timeout),
                    blocked: client.into_iter().collect(),
                });
                self.shutdown.writes_held.store(true, Ordering::Release);
                tracing::warn!("Waiting for replicas before shutting down.");
                return ShutdownStart::Waiting;
            }
        }
        self.finish_shutdown(flags)
    }

    /// SHUTDOWN ABORT: cancels a shutdown waiting for slaves; false when none is.
    pub fn abort_shutdown(&self) -> bool {
        let Some(p) = self.shutdown.pending.lock().take() else {
            return false;
        };
        self.cancel_shutdown(p);
        tracing::warn!("Shutdown manually aborted.");
        true
    }

    /// Moves a waiting shutdown on: answers the clients of a cancelled one, and finishes the
    /// wait once every slave caught up or the timeout passed.
    pub fn shutdown_tick(&self) {
        self.answer_cancelled();
        let ready = {
            let mut pending = self.shutdown.pending.lock();
            let due = pending
                .as_ref()
                .is_some_and(|p| Instant::now() >= p.deadline || self.slaves_caught_up());
            if due {
                pending.take()
            } else {
                None
            }
        };
        if let Some(p) = ready {
            if self.finish_shutdown(p.flags) == ShutdownStart::Failed {
                self.shutdown.to_answer.lock().extend(p.blocked);
            }
        }
    }

    /// The save and the stop: Redis' `finishShutdown`.
    fn finish_shutdown(&self, flags: ShutdownFlags) -> ShutdownStart {
        self.log_lagging_slaves();
        let nosave = flags.contains(ShutdownFlags::NOSAVE);
        if !nosave {
            tracing::info!("flushing memtables before exiting");
            if let Err(e) = self.storage.engine().flush() {
                if flags.contains(ShutdownFlags::FORCE) {
                    tracing::warn!("Error trying to save the DB ({e}). Exit anyway.");
                } else {
                    tracing::warn!("Error trying to save the DB ({e}), can't exit.");
                    tracing::warn!(
                        "Errors trying to shut down the server. Check the logs for more information."
                    );
                    self.shutdown.release_writes();
                    return ShutdownStart::Failed;
                }
            }
        }
        if self.scripts.is_running() {
            self.exit_under_running_script();
        }
        tracing::warn!("pika is now ready to exit, bye bye...");
        let mode = if nosave {
            ShutdownMode::NoSave
        } else {
            ShutdownMode::Save
        };
        self.request_shutdown(mode);
        // Writes held back never run: they were not acknowledged, and the server stops.
        self.shutdown.release_writes();
        ShutdownStart::Stopping
    }

    /// SHUTDOWN NOSAVE while a script runs (Redis' way out of a script that cannot be
    /// killed): the process exits without waiting for the script, whose writes are not
    /// committed. Everything acknowledged is in the WAL; once fsynced, the stop is clean.
    fn exit_under_running_script(&self) -> ! {
        tracing::warn!("a script is still running: exiting without waiting for it");
        let cfg = self.config();
        match self.storage.engine().fsync_wal() {
            Ok(()) => {
                if let Err(e) =
                    crate::storage::durability::write_clean_shutdown_marker(&cfg.db_path)
                {
                    tracing::error!("cannot leave the clean-shutdown marker: {e}");
                }
            }
            Err(e) => tracing::error!("WAL fsync at shutdown failed: {e}"),
        }
        if !cfg.pidfile.is_empty() {
            let _ = std::fs::remove_file(&cfg.pidfile);
        }
        tracing::warn!("pika is now ready to exit, bye bye...");
        // The log is written by a thread of its own: give it the lines.
        std::thread::sleep(Duration::from_millis(50));
        std::process::exit(0)
    }

    fn cancel_shutdown(&self, p: Pending) {
        self.shutdown.release_writes();
        self.shutdown.to_answer.lock().extend(p.blocked);
        self.answer_cancelled();
    }

    /// Answers the blocked SHUTDOWN clients of a cancelled shutdown.
    fn answer_cancelled(&self) {
        let ids = std::mem::take(&mut *self.shutdown.to_answer.lock());
        for id in ids {
            match self.blocking.unpark(&self.storage.ready, id) {
                Some(waiter) => {
                    let mut out = BytesMut::new();
                    Reply::err(format!("ERR {SHUTDOWN_FAILED}"))
                        .encode(&mut out, waiter.client.protocol());
                    waiter.conn.resume(&out);
                }
                None => {
                    // Not parked yet (its worker is finishing the round), unless it is gone.
                    let alive = self
                        .clients
                        .lock()
                        .get(&id)
                        .is_some_and(|c| !c.is_closing());
                    if alive {
                        self.shutdown.to_answer.lock().push(id);
                    }
                }
            }
        }
    }

    /// True when every slave, pika or Redis, acknowledged the last write (Redis'
    /// `isReadyToShutdown`).
    fn slaves_caught_up(&self) -> bool {
        let last = self.storage.engine().latest_sequence();
        self.replication
            .slaves()
            .iter()
            .all(|s| s.acked.load(Ordering::Relaxed) >= last)
            && self.replication.redis_feed.replicas_caught_up(last)
    }

    fn log_lagging_slaves(&self) {
        let last = self.storage.engine().latest_sequence();
        let slaves = self.replication.slaves();
        let (redis_behind, redis_replicas) = self.replication.redis_feed.lagging();
        for bytes in &redis_behind {
            tracing::warn!("Lagging Redis replica reported offset {bytes} behind master.");
        }
        let total = slaves.len() + redis_replicas;
        if total == 0 {
            return;
        }
        let mut in_sync = redis_replicas - redis_behind.len();
        for s in &slaves {
            let acked = s.acked.load(Ordering::Relaxed);
            if acked >= last {
                in_sync += 1;
            } else {
                tracing::warn!(
                    "Lagging replica {}:{} reported sequence {} behind master, state={}.",
                    s.ip,
                    s.port,
                    last - acked,
                    *s.state.lock()
                );
            }
        }
        tracing::warn!("{in_sync} of {total} replicas are in sync when shutting down.");
    }

    /// How this server tells its supervisor about its state (`supervised`).
    pub fn supervision(&self) -> Supervision {
        Supervision::from_directive(&self.config().supervised)
    }
}
