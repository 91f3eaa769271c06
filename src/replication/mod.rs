//! Master/slave replication over the binlog.
//!
//! **The binlog is RocksDB's WAL.** Every committed write batch has a RocksDB sequence number;
//! that number is the binlog position, it survives restarts, and the WAL records carry a CRC32C
//! each (a torn last record is cut off by RocksDB's recovery, never replayed). The write path
//! therefore pays for one log, not two. WAL files a memtable flush no longer needs move to
//! `<db-path>/archive/`; [`purge`] deletes them by `expire-logs-nums` / `expire-logs-days`
//! and `PURGELOGSTO`, but never one a connected slave still needs. A node's replication id
//! (INFO's `master_replid`) names its own history of sequence numbers; it is stored in the
//! database (the WAL files have no header of their own).
//!
//! **Protocol** (`proto/replication.proto`, [`wire`]): a slave connects to the master's client
//! port, authenticates with `masterauth`, sends `PIKA-REPLICATE <port>` and from then on speaks
//! framed protobuf messages. It names the history it follows and the next sequence number it
//! needs; the master answers with
//! - an **incremental sync**, the batches from that position, when it still has them; or
//! - a **full sync**, a RocksDB checkpoint streamed as files with the sequence number it ends
//!   at ([`fullsync`]). The slave installs it at a restart of its storage and then asks for
//!   the batches after it.
//!
//! The slave ([`slave`]) applies batches in master order on one thread, each atomically with
//! its new position, and acknowledges them; the master ([`master`]) knows every slave's
//! position (INFO, WAIT, retention).
//!
//! **Bounded messages.** File chunks and pieces of big batches carry at most
//! [`wire::PIECE`] bytes, so no record is too big to replicate; the incremental stream is
//! Snappy-compressed when both sides have `replication-compression` on.
//!
//! **Histories across crashes.** A crash can lose the binlog's tail after slaves received
//! it; the restarted master starts a new replication id and keeps the old one (`replid2`)
//! valid only up to what survived (`storage::durability`), so a slave holding batches the
//! master lost makes a full sync instead of resuming onto other data.
//!
//! **Redis, both ways** (live migration). A node told to follow a redis-server speaks Redis'
//! replica protocol instead ([`from_redis`]): it loads the master's RDB and applies its command
//! stream through the server's dispatch. A redis-server told to follow this node gets an RDB of
//! a checkpoint and then a stream of the changed keys' states made from the binlog
//! ([`redis_feed`], [`redis_replica`]).
//!
//! **Faults.** A slave making no progress for `repl-timeout` is dropped; a full sync's
//! position stays pinned in the binlog until its slave is back. A slave that cannot go on
//! from what it received asks for a full sync, once; its link thread survives anything a
//! master sends and starts over.

pub mod binlog;
pub mod from_redis;
pub mod fullsync;
pub mod master;
pub mod priority;
pub mod purge;
pub mod redis_feed;
pub mod redis_replica;
pub mod slave;
pub mod tailer;
pub mod wire;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use parking_lot::{Condvar, Mutex};

use crate::config::Config;
use crate::storage::Storage;
use crate::util::stop::StopSignal;

/// What replication's threads use of the server: the storage, this node's replication state,
/// the live configuration and the stop signal set when shutdown is requested. The server
/// builds it (`ServerState::replication_handle`); replication never sees the server itself.
/// Clients blocked on keys that replicated batches filled are woken through the storage's
/// ready keys (`storage::ready`), and a slave that received a full sync returns to the server,
/// which restarts its storage (see [`slave::supervise`]).
#[derive(Clone)]
pub struct ReplicationHandle {
    /// The storage batches are read from (master) or applied to (slave).
    pub storage: Arc<Storage>,
    /// This node's role, links and slaves.
    pub replication: Arc<Replication>,
    /// The live configuration (CONFIG SET changes it).
    pub config: Arc<ArcSwap<Config>>,
    /// Set when shutdown is requested.
    pub stop: StopSignal,
}

impl ReplicationHandle {
    /// The current configuration snapshot.
    pub fn config(&self) -> arc_swap::Guard<Arc<Config>> {
        self.config.load()
    }

    /// True once shutdown (or a restart) was requested.
    pub fn shutdown_requested(&self) -> bool {
        self.stop.is_stopped()
    }
}

/// A master's address as given to SLAVEOF or the `slaveof` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterAddr {
    pub host: String,
    pub port: u16,
}

impl MasterAddr {
    /// Parses `host:port` or `host port`; empty means none.
    pub fn parse(text: &str) -> Result<Option<MasterAddr>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let (host, port) = text
            .rsplit_once(':')
            .or_else(|| text.split_once(char::is_whitespace))
            .ok_or_else(|| format!("'{text}' is not host:port"))?;
        let port = port
            .trim()
            .parse::<u16>()
            .map_err(|_| format!("invalid master port in '{text}'"))?;
        Ok(Some(MasterAddr {
            host: host.trim().to_string(),
            port,
        }))
    }

    pub fn to_directive(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Where a slave's link to its master stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Not connected; retrying.
    Connect,
    /// Connecting and handshaking.
    Connecting,
    /// Receiving a full sync.
    Sync,
    /// Following the master's binlog.
    Connected,
}

impl LinkState {
    /// The name ROLE uses.
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// The slave side's view of its link, for INFO and ROLE.
#[derive(Debug, Clone)]
pub struct LinkStatus {
    pub state: LinkState,
    /// Last time anything arrived from the master.
    pub last_io: Option<Instant>,
    /// Since when the link is down.
    pub down_since: Instant,
    /// The last reason the link failed (wrong masterauth, refused connection, ...).
    pub last_error: String,
    /// Bytes of the full sync in progress received so far, and expected.
    pub sync_received: u64,
    pub sync_total: u64,
}

/// Replication bytes through this node's sockets (`wire`, as sent, compressed when the stream
/// is) and the incremental streams' messages before compression (`payload`).
#[derive(Default)]
pub struct Traffic {
    pub wire_sent: Arc<AtomicU64>,
    pub payload_sent: Arc<AtomicU64>,
    pub wire_received: Arc<AtomicU64>,
    pub payload_received: Arc<AtomicU64>,
}

/// A slave connected to this node.
pub struct SlaveEntry {
    pub id: u64,
    pub ip: String,
    /// The port the slave serves clients on.
    pub port: u16,
    /// `wait_bgsave` (full sync being prepared), `send_bulk` (being sent) or `online`.
    pub state: Mutex<&'static str>,
    /// Last master sequence number the slave applied.
    pub acked: AtomicU64,
    /// When the last acknowledgement arrived (ms since the epoch).
    pub last_ack_ms: AtomicU64,
    /// When the slave last acknowledged a new position (ms since the epoch).
    pub progress_ms: AtomicU64,
    /// Set when the connection ended.
    pub closed: AtomicBool,
}

impl SlaveEntry {
    /// How long the slave has been behind `sent` (the last sequence number sent to it)
    /// without acknowledging anything new; zero while it is caught up.
    pub fn stalled_for(&self, sent: u64) -> Duration {
        let now = crate::util::clock::unix_ms();
        if self.acked.load(Ordering::Relaxed) >= sent {
            self.progress_ms.store(now, Ordering::Relaxed);
            return Duration::ZERO;
        }
        Duration::from_millis(now.saturating_sub(self.progress_ms.load(Ordering::Relaxed)))
    }
}

/// This node's replication role and links.
pub struct Replication {
    master: Mutex<Option<MasterAddr>>,
    link: Mutex<LinkStatus>,
    /// Bumped by every SLAVEOF: a link thread of an older generation ends.
    generation: AtomicU64,
    slaves: Mutex<Vec<Arc<SlaveEntry>>>,
    next_slave_id: AtomicU64,
    /// Signalled on every acknowledgement (WAIT).
    acked: Condvar,
    acked_lock: Mutex<()>,
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
    /// Set by a slave that received a full sync: the server restarts its storage to install it.
    pub install_requested: AtomicBool,
    /// Set by a slave that could not continue from what its master sent (a batch it cannot
    /// apply, a malformed message): its next sync request asks for a full sync, once.
    pub full_sync_needed: AtomicBool,
    /// Bytes of replication traffic, for INFO replication.
    pub traffic: Traffic,
    /// WAIT commands whose clients are parked until enough slaves catch up or time runs out.
    waits: Mutex<Vec<PendingWait>>,
    /// Positions of full syncs sent, kept until the slave (ip, listening port) connects again
    /// or their deadline passes: the binlog after them must stay while the slave installs the
    /// snapshot and reconnects, or it would need another full sync (and another, forever).
    pins: Mutex<Vec<BinlogPin>>,
    /// Following a Redis master: its replication id and the offset of the last byte of its
    /// stream applied here, for `PSYNC` after a broken link (see [`from_redis`]).
    redis_position: Mutex<Option<(String, u64)>>,
    /// The write stream for Redis replicas of this node, with its backlog.
    pub redis_feed: redis_feed::RedisFeed,
}

/// The binlog after `seq` kept for a slave that received a full sync, until it reconnects.
struct BinlogPin {
    ip: String,
    port: u16,
    seq: u64,
    until: Instant,
}

/// A parked WAIT: the client, the position its writes reached, how many slaves it wants there.
#[derive(Debug, Clone)]
pub struct PendingWait {
    pub client_id: u64,
    pub seq: u64,
    pub wanted: usize,
    pub deadline: Option<Instant>,
}

impl Replication {
    /// A node following `master` (None: a master).
    pub fn new(master: Option<MasterAddr>) -> Replication {
        Replication {
            master: Mutex::new(master),
            link: Mutex::new(LinkStatus {
                state: LinkState::Connect,
                last_io: None,
                down_since: Instant::now(),
                last_error: String::new(),
                sync_received: 0,
                sync_total: 0,
            }),
            generation: AtomicU64::new(0),
            slaves: Mutex::new(Vec::new()),
            next_slave_id: AtomicU64::new(1),
            acked: Condvar::new(),
            acked_lock: Mutex::new(()),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
            install_requested: AtomicBool::new(false),
            full_sync_needed: AtomicBool::new(false),
            traffic: Traffic::default(),
            waits: Mutex::new(Vec::new()),
            pins: Mutex::new(Vec::new()),
            redis_position: Mutex::new(None),
            redis_feed: redis_feed::RedisFeed::default(),
        }
    }

    /// The master this node follows, if it is a slave.
    pub fn master(&self) -> Option<MasterAddr> {
        self.master.lock().clone()
    }

    /// True when this node follows a master.
    pub fn is_slave(&self) -> bool {
        self.master.lock().is_some()
    }

    /// Switches to following `master` (None: become a master). Returns the generation the
    /// link thread for the new master must run under.
    pub fn set_master(&self, master: Option<MasterAddr>) -> u64 {
        *self.master.lock() = master;
        *self.redis_position.lock() = None;
        self.set_link(|l| {
            l.state = LinkState::Connect;
            l.last_io = None;
            l.down_since = Instant::now();
            l.last_error.clear();
        });
        self.generation.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Where this node stands in a Redis master's stream, when it follows one.
    pub fn redis_position(&self) -> Option<(String, u64)> {
        self.redis_position.lock().clone()
    }

    /// Records where this node stands in a Redis master's stream.
    pub fn set_redis_position(&self, position: Option<(String, u64)>) {
        *self.redis_position.lock() = position;
    }

    /// The generation of the current master (see [`Replication::set_master`]).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The slave side's link, as INFO and ROLE show it.
    pub fn link(&self) -> LinkStatus {
        self.link.lock().clone()
    }

    /// Milliseconds since the slave side's link went down; 0 while it is up (or on a master).
    pub fn link_down_ms(&self) -> u64 {
        if !self.is_slave() {
            return 0;
        }
        let link = self.link.lock();
        if link.state == LinkState::Connected {
            return 0;
        }
        link.down_since.elapsed().as_millis() as u64
    }

    /// Updates the slave side's link status.
    pub fn set_link(&self, f: impl FnOnce(&mut LinkStatus)) {
        f(&mut self.link.lock());
    }

    /// Registers a connected slave.
    pub fn add_slave(&self, ip: String, port: u16) -> Arc<SlaveEntry> {
        let entry = Arc::new(SlaveEntry {
            id: self.next_slave_id.fetch_add(1, Ordering::Relaxed),
            ip,
            port,
            state: Mutex::new("wait_bgsave"),
            acked: AtomicU64::new(0),
            last_ack_ms: AtomicU64::new(crate::util::clock::unix_ms()),
            progress_ms: AtomicU64::new(crate::util::clock::unix_ms()),
            closed: AtomicBool::new(false),
        });
        // Back after a full sync: its own entry holds its position from now on.
        self.pins
            .lock()
            .retain(|p| !(p.ip == entry.ip && p.port == entry.port));
        self.slaves.lock().push(Arc::clone(&entry));
        entry
    }

    /// Forgets a slave whose connection ended, and wakes WAIT.
    pub fn remove_slave(&self, id: u64) {
        self.slaves.lock().retain(|s| s.id != id);
        self.notify_ack();
    }

    /// How many slaves are connected.
    pub fn slave_count(&self) -> usize {
        self.slaves.lock().len()
    }

    /// The connected slaves, oldest first.
    pub fn slaves(&self) -> Vec<Arc<SlaveEntry>> {
        self.slaves.lock().clone()
    }

    /// The lowest position a connected slave has applied, or a slave that received a full
    /// sync will resume from: binlog after it must be kept.
    pub fn min_slave_position(&self) -> Option<u64> {
        let now = Instant::now();
        let mut pins = self.pins.lock();
        pins.retain(|p| p.until > now);
        let pinned = pins.iter().map(|p| p.seq);
        self.slaves
            .lock()
            .iter()
            .map(|s| s.acked.load(Ordering::Relaxed))
            .chain(pinned)
            .min()
    }

    /// Keeps the binlog after `seq` for `slave` (a full sync ending at `seq` was sent to it)
    /// until it connects again, for `how_long` at most.
    pub fn pin_binlog(&self, slave: &SlaveEntry, seq: u64, how_long: Duration) {
        self.pins.lock().push(BinlogPin {
            ip: slave.ip.clone(),
            port: slave.port,
            seq,
            until: Instant::now() + how_long,
        });
    }

    /// Records a slave's acknowledgement and wakes WAIT.
    pub fn record_ack(&self, slave: &SlaveEntry, seq: u64) {
        let now = crate::util::clock::unix_ms();
        if slave.acked.fetch_max(seq, Ordering::Relaxed) < seq {
            slave.progress_ms.store(now, Ordering::Relaxed);
        }
        slave.last_ack_ms.store(now, Ordering::Relaxed);
        self.notify_ack();
    }

    fn notify_ack(&self) {
        let _g = self.acked_lock.lock();
        self.acked.notify_all();
    }

    /// Online slaves that applied `seq` or later.
    /// Slaves online whose last acknowledgement is at most `max_lag_secs` old (Redis' good
    /// replicas, for `min-replicas-to-write`).
    pub fn good_slaves(&self, max_lag_secs: u64) -> usize {
        let now = crate::util::clock::unix_ms();
        self.slaves
            .lock()
            .iter()
            .filter(|s| {
                *s.state.lock() == "online"
                    && now.saturating_sub(s.last_ack_ms.load(Ordering::Relaxed)) / 1000
                        <= max_lag_secs
            })
            .count()
    }

    pub fn slaves_at(&self, seq: u64) -> usize {
        self.slaves
            .lock()
            .iter()
            .filter(|s| *s.state.lock() == "online" && s.acked.load(Ordering::Relaxed) >= seq)
            .count()
    }

    /// Registers a WAIT whose client is being parked (the server's wait watcher answers it).
    pub fn add_wait(&self, wait: PendingWait) {
        self.waits.lock().push(wait);
        self.notify_ack();
    }

    /// Waits for the next acknowledgement (or registered WAIT), at most `timeout`.
    pub fn wait_for_ack(&self, timeout: Duration) {
        let mut guard = self.acked_lock.lock();
        self.acked.wait_for(&mut guard, timeout);
    }

    /// Puts back a WAIT whose client was not parked yet, to be answered on a later look.
    pub fn retry_wait(&self, wait: PendingWait) {
        self.waits.lock().push(wait);
    }

    /// Takes the WAITs that can be answered now (enough slaves, or past the deadline), each
    /// with the number of slaves to report.
    pub fn take_answerable_waits(&self) -> Vec<(PendingWait, usize)> {
        let now = Instant::now();
        let mut waits = self.waits.lock();
        let mut ready = Vec::new();
        waits.retain(|w| {
            let reached = self.slaves_at(w.seq);
            if reached >= w.wanted || w.deadline.is_some_and(|d| d <= now) {
                ready.push((w.clone(), reached));
                false
            } else {
                true
            }
        });
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_addresses_parse_in_both_forms() {
        let a = MasterAddr::parse("127.0.0.1:9221").unwrap().unwrap();
        assert_eq!((a.host.as_str(), a.port), ("127.0.0.1", 9221));
        let b = MasterAddr::parse("localhost 6379").unwrap().unwrap();
        assert_eq!((b.host.as_str(), b.port), ("localhost", 6379));
        assert_eq!(MasterAddr::parse("  ").unwrap(), None);
        assert!(MasterAddr::parse("host:notaport").is_err());
        assert!(MasterAddr::parse("hostonly").is_err());
    }

    #[test]
    fn waits_are_answerable_when_slaves_catch_up_or_time_runs_out() {
        let r = Replication::new(None);
        let s = r.add_slave("127.0.0.1".into(), 1);
        *s.state.lock() = "online";
        let wait = |client_id, seq, deadline| PendingWait {
            client_id,
            seq,
            wanted: 1,
            deadline,
        };
        r.add_wait(wait(1, 10, None));
        r.add_wait(wait(2, 20, Some(Instant::now())));
        r.add_wait(wait(3, 30, None));
        r.record_ack(&s, 10);
        let mut answered: Vec<(u64, usize)> = r
            .take_answerable_waits()
            .into_iter()
            .map(|(w, n)| (w.client_id, n))
            .collect();
        answered.sort();
        assert_eq!(answered, vec![(1, 1), (2, 0)]);
        r.remove_slave(s.id);
        assert_eq!(r.slaves_at(0), 0);
        assert!(r.take_answerable_waits().is_empty());
    }
}
