//! Server statistics for INFO: totals, per-command call counts and times, error counts.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

/// Counters of one command (INFO commandstats).
#[derive(Default)]
pub struct CommandStats {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected_calls: AtomicU64,
    pub failed_calls: AtomicU64,
}

/// Socket traffic counted where the socket is written (worker threads, through the
/// connection) and read (network threads); shared with every connection.
#[derive(Default)]
pub struct IoTotals {
    /// Reply bytes written to client sockets.
    pub net_output_bytes: AtomicU64,
    /// Reads from client sockets that returned data or end of stream.
    pub reads_processed: AtomicU64,
    /// Writes to client sockets.
    pub writes_processed: AtomicU64,
}

/// Server-wide counters.
pub struct Stats {
    pub total_connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub total_commands_processed: AtomicU64,
    pub total_net_input_bytes: AtomicU64,
    /// Output bytes and socket reads and writes (INFO's total_net_output_bytes,
    /// total_reads_processed, total_writes_processed).
    pub io: Arc<IoTotals>,
    pub total_error_replies: AtomicU64,
    /// Error replies to the commands a Redis master sent (Redis' unexpected_error_replies).
    pub unexpected_error_replies: AtomicU64,
    /// Clients closed for passing `client-output-buffer-limit`.
    pub output_buffer_limit_disconnections: AtomicU64,
    /// Indexed like the command table.
    pub commands: Vec<CommandStats>,
    /// Error replies by their first word (ERR, WRONGTYPE, NOAUTH ...).
    pub errors: Mutex<BTreeMap<String, u64>>,
    /// (unix ms, commands processed) of the previous instantaneous-ops sample.
    ops_sample: Mutex<(u64, u64, f64)>,
}

impl Stats {
    pub fn new(command_count: usize) -> Stats {
        Stats {
            total_connections_received: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            total_commands_processed: AtomicU64::new(0),
            total_net_input_bytes: AtomicU64::new(0),
            io: Arc::default(),
            total_error_replies: AtomicU64::new(0),
            unexpected_error_replies: AtomicU64::new(0),
            output_buffer_limit_disconnections: AtomicU64::new(0),
            commands: (0..command_count)
                .map(|_| CommandStats::default())
                .collect(),
            errors: Mutex::new(BTreeMap::new()),
            ops_sample: Mutex::new((0, 0, 0.0)),
        }
    }

    /// Counts an error reply under its code (the text up to the first space).
    pub fn record_error(&self, text: &str) {
        self.total_error_replies.fetch_add(1, Ordering::Relaxed);
        let code = text.split(' ').next().unwrap_or("ERR").to_string();
        let mut map = self.errors.lock();
        // Bounded like Redis (128 distinct codes) so odd clients cannot grow it without end.
        if map.len() < 128 || map.contains_key(&code) {
            *map.entry(code).or_insert(0) += 1;
        }
    }

    /// Operations per second since the previous call (at most once per 100 ms re-sampled).
    pub fn instantaneous_ops(&self) -> f64 {
        let now = crate::util::clock::unix_ms();
        let total = self.total_commands_processed.load(Ordering::Relaxed);
        let mut s = self.ops_sample.lock();
        let (t0, c0, last_rate) = *s;
        if now.saturating_sub(t0) < 100 {
            return last_rate;
        }
        let rate = if t0 == 0 {
            0.0
        } else {
            (total - c0) as f64 * 1000.0 / (now - t0) as f64
        };
        *s = (now, total, rate);
        rate
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for c in [
            &self.total_connections_received,
            &self.rejected_connections,
            &self.total_commands_processed,
            &self.total_net_input_bytes,
            &self.io.net_output_bytes,
            &self.io.reads_processed,
            &self.io.writes_processed,
            &self.total_error_replies,
            &self.unexpected_error_replies,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        for c in &self.commands {
            c.calls.store(0, Ordering::Relaxed);
            c.usec.store(0, Ordering::Relaxed);
            c.rejected_calls.store(0, Ordering::Relaxed);
            c.failed_calls.store(0, Ordering::Relaxed);
        }
        self.errors.lock().clear();
    }
}
