//! MONITOR: clients that receive a line for every command the server runs.
//!
//! A monitor is registered after its `+OK` has been written, so feed lines never overtake it.
//! Feeding costs one atomic load per command while nobody monitors. Lines are written straight
//! to each monitor's socket through a [`ReplySink`]; a monitor whose connection is gone is
//! dropped at the next feed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Weak;

use bytes::Bytes;
use parking_lot::Mutex;

use super::client::Client;
use crate::util::repr::push_quoted;

/// Somewhere to push bytes to a client outside the request/reply cycle.
pub trait ReplySink: Send + Sync {
    /// Queues bytes for the client, after anything already sent.
    fn push(&self, bytes: &[u8]);
}

/// The registered monitors.
#[derive(Default)]
pub struct Monitors {
    any: AtomicBool,
    list: Mutex<Vec<(u64, Weak<dyn ReplySink>)>>,
}

impl Monitors {
    /// Starts feeding client `id`.
    pub fn add(&self, id: u64, sink: Weak<dyn ReplySink>) {
        let mut list = self.list.lock();
        list.retain(|(other, _)| *other != id);
        list.push((id, sink));
        self.any.store(true, Ordering::Release);
    }

    /// Stops feeding client `id` (RESET, disconnect).
    pub fn remove(&self, id: u64) {
        let mut list = self.list.lock();
        list.retain(|(other, _)| *other != id);
        self.any.store(!list.is_empty(), Ordering::Release);
    }

    /// True when at least one client monitors.
    pub fn is_active(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// Sends the feed line of a command `client` ran in database `db` to every other monitor;
    /// `from_script`: a script of `client` ran it (`redis.call`), shown as Redis shows its
    /// script client, `[db lua]`. `argv` must already have its secrets redacted (the dispatch
    /// gate does it from the command's spec).
    pub fn feed(&self, client: &Client, from_script: bool, db: usize, argv: &[Bytes]) {
        let line = if from_script {
            feed_line("lua", db, argv)
        } else {
            feed_line(&client.addr.to_string(), db, argv)
        };
        let mut list = self.list.lock();
        list.retain(|(id, sink)| match sink.upgrade() {
            Some(sink) => {
                if *id != client.id {
                    sink.push(line.as_bytes());
                }
                true
            }
            None => false,
        });
        self.any.store(!list.is_empty(), Ordering::Release);
    }
}

/// `+<unix secs>.<micros> [<db> <origin>] "arg" "arg"...` as Redis prints it; the origin is
/// the client's address, or `lua`.
fn feed_line(origin: &str, db: usize, argv: &[Bytes]) -> String {
    let now = crate::util::clock::since_epoch();
    let mut line = format!(
        "+{}.{:06} [{} {}]",
        now.as_secs(),
        now.subsec_micros(),
        db,
        origin
    );
    for arg in argv {
        line.push(' ');
        push_quoted(&mut line, arg);
    }
    line.push_str("\r\n");
    line
}

/// Lets a client hold its sink before it monitors (the connection sets it at accept).
pub type SinkSlot = std::sync::OnceLock<Weak<dyn ReplySink>>;
