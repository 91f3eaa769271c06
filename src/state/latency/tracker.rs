//! Per-command latency histograms (LATENCY HISTOGRAM, INFO latencystats), recorded at the
//! dispatch gate for every command.
//!
//! Recording must cost nothing measurable, so every thread that runs commands owns a shard:
//! one lazily allocated [`histogram`](super::histogram) per command it has run, which only
//! that thread writes (a relaxed load and store, no locked instruction, no shared cache line).
//! Readers merge the shards of all threads. A shard outlives its thread, so nothing recorded
//! is lost when a thread ends.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use parking_lot::Mutex;

use super::histogram::{bucket_of, Snapshot, BUCKETS};

/// One command's buckets in one thread.
type Buckets = Box<[AtomicU64]>;

/// One thread's histograms, indexed like the command table.
struct Shard {
    commands: Box<[OnceLock<Buckets>]>,
}

impl Shard {
    fn new(command_count: usize) -> Shard {
        Shard {
            commands: (0..command_count).map(|_| OnceLock::new()).collect(),
        }
    }
}

/// Distinguishes trackers (several servers may live in one test process).
static NEXT_TRACKER_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's shard of the tracker it recorded into last (the usual case: one server
    /// per process), checked before the list of all of them.
    static LAST: Cell<Option<(u64, &'static Shard)>> = const { Cell::new(None) };
    /// This thread's shard of each tracker it has recorded into.
    static SHARDS: RefCell<Vec<(u64, &'static Shard)>> = const { RefCell::new(Vec::new()) };
}

/// The per-command histograms of a server.
pub struct CommandLatencies {
    id: u64,
    command_count: usize,
    shards: Mutex<Vec<&'static Shard>>,
}

impl CommandLatencies {
    /// Histograms for a table of `command_count` commands.
    pub fn new(command_count: usize) -> CommandLatencies {
        CommandLatencies {
            id: NEXT_TRACKER_ID.fetch_add(1, Ordering::Relaxed),
            command_count,
            shards: Mutex::new(Vec::new()),
        }
    }

    /// Records one run of command `idx` that took `ns` nanoseconds.
    pub fn record(&self, idx: usize, ns: u64) {
        if idx >= self.command_count {
            return;
        }
        let bucket = bucket_of(ns);
        let shard = match LAST.with(Cell::get) {
            Some((id, shard)) if id == self.id => shard,
            _ => self.thread_shard(),
        };
        let Some(slot) = shard.commands.get(idx) else {
            return;
        };
        let buckets = slot.get_or_init(|| (0..BUCKETS).map(|_| AtomicU64::new(0)).collect());
        if let Some(counter) = buckets.get(bucket) {
            // Only this thread writes this counter: no read-modify-write needed.
            counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
    }

    /// This thread's shard, created and registered on the thread's first record. Shards live
    /// as long as the process (a few kilobytes per thread and server, and a server lives as
    /// long as its process), so the fast path holds a plain reference.
    fn thread_shard(&self) -> &'static Shard {
        let shard = SHARDS.with(|cell| {
            let mut shards = cell.borrow_mut();
            if let Some((_, shard)) = shards.iter().find(|(id, _)| *id == self.id) {
                return *shard;
            }
            let shard: &'static Shard = Box::leak(Box::new(Shard::new(self.command_count)));
            self.shards.lock().push(shard);
            shards.push((self.id, shard));
            shard
        });
        LAST.with(|last| last.set(Some((self.id, shard))));
        shard
    }

    /// The merged histogram of command `idx`, or `None` if no thread ever ran it.
    pub fn snapshot(&self, idx: usize) -> Option<Snapshot> {
        let shards = self.shards.lock();
        let mut merged: Option<Snapshot> = None;
        for shard in shards.iter() {
            let Some(buckets) = shard.commands.get(idx).and_then(|s| s.get()) else {
                continue;
            };
            let m = merged.get_or_insert_with(Snapshot::empty);
            for (total, c) in m.counts.iter_mut().zip(buckets.iter()) {
                *total += c.load(Ordering::Relaxed);
            }
        }
        merged.filter(|m| m.total() > 0)
    }

    /// CONFIG RESETSTAT: forgets every recorded value.
    pub fn reset(&self) {
        for shard in self.shards.lock().iter() {
            for buckets in shard.commands.iter().filter_map(|s| s.get()) {
                for c in buckets.iter() {
                    c.store(0, Ordering::Relaxed);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_the_shards_of_every_thread() {
        let t = std::sync::Arc::new(CommandLatencies::new(4));
        t.record(1, 1000);
        let other = std::sync::Arc::clone(&t);
        std::thread::spawn(move || other.record(1, 2000))
            .join()
            .unwrap();
        assert_eq!(t.snapshot(1).map(|s| s.total()), Some(2));
        assert!(t.snapshot(2).is_none());
        t.reset();
        assert!(t.snapshot(1).is_none());
    }

    #[test]
    fn an_index_out_of_the_table_is_ignored() {
        let t = CommandLatencies::new(1);
        t.record(5, 10);
        assert!(t.snapshot(5).is_none());
    }
}
