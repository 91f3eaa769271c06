//! The write stream for Redis replicas of this node (redis-server `REPLICAOF` a pika), in
//! Redis' replication protocol: RESP commands with a byte offset, and a backlog of the last
//! `repl-backlog-size` bytes so a replica whose link broke resumes with `PSYNC` (+CONTINUE).
//!
//! **State, not commands.** The binlog holds storage operations, not the commands that made
//! them; a feed thread tails it and, for every key a batch touched, sends the key's value as it
//! is now: `RESTORE key <deadline> <payload> REPLACE ABSTTL`, or `DEL key` when it is gone (a
//! database range deleted becomes `FLUSHDB`). Every write of any command (scripts, SPOP,
//! expiry, blocking pops included) thus reaches the replica as its effect, and a replica
//! converges to this node's data whatever it missed in between: each key changed after a
//! point is sent again after that point. The price is sending a whole value for each change
//! of it, which is heavy for writes into big collections.
//!
//! The feed starts with the first Redis replica and has its own replication id (INFO's
//! `master_replid` names pika's binlog history, which Redis replicas never see).

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};

use super::tailer::Tailer;
use super::ReplicationHandle;
use crate::resp::client::write_request;
use crate::storage::codec::{self, Cf, SysKey};
use crate::storage::types::Writer;
use crate::storage::wal::{parse_batch, OpKind};
use crate::storage::{decode_db_map, Storage};

/// How often the feed looks for new batches.
const POLL: Duration = Duration::from_millis(5);
/// How often a PING goes into the stream (Redis' `repl-ping-replica-period`), so replicas
/// see a live link.
const PING_EVERY: Duration = Duration::from_secs(10);

/// A command of the stream, with the database it runs in (`None`: any, as PING).
type StreamCommand = (Option<usize>, Vec<Bytes>);

/// The stream's bytes kept for replicas, and where they are.
struct Backlog {
    /// Names this stream; a new one after the feed had to start over.
    replid: String,
    /// Offset of the byte before `bytes[0]`.
    start: u64,
    bytes: VecDeque<u8>,
    /// The database the stream's last SELECT chose (`None`: the next command selects).
    selected: Option<usize>,
    /// Redis replicas being served: the offset each has been sent up to, which the backlog
    /// keeps (as Redis keeps a replica's output buffer) up to [`MAX_KEPT`].
    readers: Vec<Reader>,
    next_reader: u64,
}

/// A replica's place in the stream.
struct Reader {
    id: u64,
    offset: u64,
    /// The offset its last `REPLCONF ACK` reported.
    acked: u64,
    /// When it last moved (a reader whose sender died without leaving stops pinning).
    moved: Instant,
}

/// Bytes kept for replicas still behind at most, whatever `repl-backlog-size` says.
const MAX_KEPT: usize = 256 << 20;
/// How long a reader that does not move keeps the stream from being trimmed.
const READER_PIN: Duration = Duration::from_secs(600);
/// The stream's rate the feed aims at most: when it sends much, it waits longer for more
/// batches, so a hot key's state goes out once for many changes.
const STREAM_BYTES_PER_SEC: u64 = 32 << 20;

impl Backlog {
    fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }
}

/// What a replica's `PSYNC` gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PsyncAnswer {
    /// `+CONTINUE <replid>`: the stream from `from` (the offset the replica has) on.
    Continue { replid: String, from: u64 },
    /// `+FULLRESYNC <replid> <offset>`: an RDB, then the stream from `offset` on.
    Full { replid: String, offset: u64 },
    /// `SYNC` (before PSYNC existed): no answer line, a sized RDB (`$<len>`), then the stream
    /// from `offset` on.
    Sync { offset: u64 },
}

/// The stream and its backlog, shared by the feed thread and the replicas' senders.
pub struct RedisFeed {
    backlog: Mutex<Backlog>,
    grew: Condvar,
    started: AtomicBool,
    /// The last binlog sequence number whose batches are in the stream.
    fed_through: AtomicU64,
}

impl Default for RedisFeed {
    fn default() -> Self {
        RedisFeed {
            backlog: Mutex::new(Backlog {
                replid: crate::storage::replica::new_replication_id(),
                start: 0,
                bytes: VecDeque::new(),
                selected: None,
                readers: Vec::new(),
                next_reader: 1,
            }),
            grew: Condvar::new(),
            started: AtomicBool::new(false),
            fed_through: AtomicU64::new(0),
        }
    }
}

impl RedisFeed {
    /// Starts the feed thread unless it runs.
    pub fn ensure_started(&self, handle: &ReplicationHandle) -> std::io::Result<()> {
        if self.started.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        // Fixed now, before any replica is answered: every batch after it is in the stream.
        let from = handle.storage.engine().latest_sequence() + 1;
        self.fed_through.store(from - 1, Ordering::SeqCst);
        let handle = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("redis-feed".into())
            .spawn(move || run_feed(&handle, from));
        if spawned.is_err() {
            self.started.store(false, Ordering::SeqCst);
        }
        spawned.map(|_| ())
    }

    /// Answers `PSYNC replid offset` (the offset of the first byte the replica wants) and
    /// registers the replica as a reader from the answer's offset (see [`RedisFeed::leave`]).
    /// A full sync's stream starts with a SELECT.
    pub fn psync(&self, replid: &[u8], wanted: Option<u64>) -> (PsyncAnswer, u64) {
        let mut b = self.backlog.lock();
        let answer = match wanted {
            // The replica has the bytes before `wanted`: continue when the backlog holds the
            // rest.
            Some(wanted)
                if replid == b.replid.as_bytes() && wanted > b.start && wanted <= b.end() + 1 =>
            {
                PsyncAnswer::Continue {
                    replid: b.replid.clone(),
                    from: wanted - 1,
                }
            }
            _ => {
                b.selected = None;
                PsyncAnswer::Full {
                    replid: b.replid.clone(),
                    offset: b.end(),
                }
            }
        };
        let offset = match &answer {
            PsyncAnswer::Continue { from, .. } => *from,
            PsyncAnswer::Full { offset, .. } | PsyncAnswer::Sync { offset } => *offset,
        };
        let id = b.next_reader;
        b.next_reader += 1;
        b.readers.push(Reader {
            id,
            offset,
            acked: 0,
            moved: Instant::now(),
        });
        (answer, id)
    }

    /// Records the offset reader `id`'s replica acknowledged.
    pub fn record_ack(&self, id: u64, offset: u64) {
        if let Some(r) = self.backlog.lock().readers.iter_mut().find(|r| r.id == id) {
            r.acked = r.acked.max(offset);
        }
    }

    /// True when every Redis replica acknowledged the stream up to the batches of binlog
    /// sequence `seq` (a shutdown waits for that).
    pub fn replicas_caught_up(&self, seq: u64) -> bool {
        let b = self.backlog.lock();
        b.readers.is_empty()
            || (self.fed_through.load(Ordering::SeqCst) >= seq
                && b.readers.iter().all(|r| r.acked >= b.end()))
    }

    /// How far behind the stream's end each lagging Redis replica's acknowledgement is, in
    /// bytes, and how many replicas there are.
    pub fn lagging(&self) -> (Vec<u64>, usize) {
        let b = self.backlog.lock();
        let end = b.end();
        let behind = b
            .readers
            .iter()
            .filter(|r| r.acked < end)
            .map(|r| end - r.acked)
            .collect();
        (behind, b.readers.len())
    }

    /// Forgets reader `id` (its replica is gone).
    pub fn leave(&self, id: u64) {
        self.backlog.lock().readers.retain(|r| r.id != id);
    }

    /// The stream's current replication id.
    pub fn replid(&self) -> String {
        self.backlog.lock().replid.clone()
    }

    /// Replicas being served.
    pub fn replicas(&self) -> usize {
        self.backlog.lock().readers.len()
    }

    /// The backlog's first byte's offset and its length (Redis' repl_backlog_first_byte_offset
    /// and repl_backlog_histlen); (0, 0) before the stream has carried anything, as Redis
    /// reports a master that never had a replica.
    pub fn backlog_span(&self) -> (u64, u64) {
        let b = self.backlog.lock();
        if b.start == 0 && b.bytes.is_empty() {
            return (0, 0);
        }
        (b.start + 1, b.bytes.len() as u64)
    }

    /// The stream's end offset.
    pub fn offset(&self) -> u64 {
        self.backlog.lock().end()
    }

    /// The stream's bytes after `from`, at most `max`, waiting up to `wait` for some. `Err`
    /// when `from` left the backlog (the replica fell too far behind) or the stream started
    /// over under another id.
    pub fn read_from(
        &self,
        reader: u64,
        replid: &str,
        from: u64,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<u8>, String> {
        let mut b = self.backlog.lock();
        if let Some(r) = b.readers.iter_mut().find(|r| r.id == reader) {
            if r.offset != from {
                r.moved = Instant::now();
            }
            r.offset = from;
        }
        if b.end() <= from {
            self.grew.wait_for(&mut b, wait);
        }
        if b.replid != replid {
            return Err("the stream started over".into());
        }
        if from < b.start {
            return Err(format!(
                "the replica is {} bytes behind, more than repl-backlog-size keeps",
                b.end() - from
            ));
        }
        let skip = (from - b.start) as usize;
        Ok(b.bytes.iter().skip(skip).take(max).copied().collect())
    }

    /// Appends commands (each with its database, `None` for database-less ones) to the
    /// stream, SELECTing as needed, and trims the backlog to `limit` bytes.
    fn append(&self, commands: &[StreamCommand], limit: usize) {
        if commands.is_empty() {
            return;
        }
        let mut b = self.backlog.lock();
        let mut out = Vec::new();
        for (db, argv) in commands {
            if let Some(db) = *db {
                if b.selected != Some(db) {
                    let n = db.to_string();
                    let _ = write_request(&mut out, &[b"SELECT", n.as_bytes()]);
                    b.selected = Some(db);
                }
            }
            let args: Vec<&[u8]> = argv.iter().map(|a| a.as_ref()).collect();
            let _ = write_request(&mut out, &args);
        }
        b.bytes.extend(out);
        // Bytes a replica still needs stay, up to MAX_KEPT.
        let needed = b
            .readers
            .iter()
            .filter(|r| r.moved.elapsed() < READER_PIN)
            .map(|r| r.offset)
            .min()
            .map_or(0, |lowest| b.end().saturating_sub(lowest) as usize);
        let keep = limit.max(needed.min(MAX_KEPT));
        let excess = b.bytes.len().saturating_sub(keep);
        if excess > 0 {
            b.bytes.drain(..excess);
            b.start += excess as u64;
        }
        drop(b);
        self.grew.notify_all();
    }

    /// Starts the stream over under a new id (the binlog could not be followed): every
    /// replica makes a full sync.
    fn restart(&self) {
        let mut b = self.backlog.lock();
        b.replid = crate::storage::replica::new_replication_id();
        b.start = 0;
        b.bytes.clear();
        b.selected = None;
        drop(b);
        self.grew.notify_all();
    }
}

/// Tails the binlog into the stream until shutdown.
fn run_feed(handle: &ReplicationHandle, mut from: u64) {
    let feed = &handle.replication.redis_feed;
    let mut last_ping = Instant::now();
    while !handle.shutdown_requested() {
        let storage = &handle.storage;
        let mut replica_map = storage.db_map();
        let mut tailer = match Tailer::open(&handle.config().db_path, from) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("the Redis replicas' stream cannot follow the binlog: {e}");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        loop {
            if handle.shutdown_requested() {
                return;
            }
            let limit = handle.config().repl_backlog_size as usize;
            let records = match tailer.poll() {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(
                        "the Redis replicas' stream lost the binlog ({e}); it starts over"
                    );
                    from = storage.engine().latest_sequence() + 1;
                    feed.fed_through.fetch_max(from - 1, Ordering::SeqCst);
                    feed.restart();
                    break;
                }
            };
            let before = feed.offset();
            match commands_of_records(storage, &records, &mut replica_map) {
                Ok(commands) => feed.append(&commands, limit),
                Err(e) => tracing::warn!("the Redis replicas' stream cannot read a batch: {e}"),
            }
            if let Some((first, count, _)) = records.last() {
                let last = first + u64::from(*count).max(1) - 1;
                feed.fed_through.fetch_max(last, Ordering::SeqCst);
            }
            let sent = feed.offset() - before;
            if last_ping.elapsed() >= PING_EVERY {
                last_ping = Instant::now();
                if feed.replicas() > 0 {
                    feed.append(&[(None, vec![Bytes::from_static(b"PING")])], limit);
                }
            }
            // Batches gather while the feed waits: each key touched goes out once.
            let pace = Duration::from_micros(sent * 1_000_000 / STREAM_BYTES_PER_SEC);
            std::thread::sleep(POLL.max(pace).min(Duration::from_secs(1)));
        }
    }
}

/// The commands that bring a replica's copy of the keys some batches touched to their state
/// now, each key once (after a database flush, again).
fn commands_of_records(
    storage: &Storage,
    records: &[super::tailer::Record],
    replica_map: &mut [u16],
) -> Result<Vec<StreamCommand>, String> {
    // Physical database -> logical (SWAPDB moves them).
    let logical: Vec<(u16, usize)> = storage
        .db_map()
        .into_iter()
        .enumerate()
        .map(|(db, p)| (p, db))
        .collect();
    let db_of = |pdb: u16| logical.iter().find(|(p, _)| *p == pdb).map(|(_, db)| *db);
    let mut seen: HashSet<(usize, Vec<u8>)> = HashSet::new();
    let mut commands = Vec::new();
    let mut ops = Vec::new();
    for (_, _, data) in records {
        ops.extend(parse_batch(data).map_err(|e| e.to_string())?.ops);
    }
    // Databases swapped first: the key states below are read now, so they belong to the
    // databases as they are after every swap.
    for op in &ops {
        if storage.engine().cf_by_id(op.cf) == Some(Cf::Default)
            && op.kind == OpKind::Put
            && op.key == SysKey::DB_MAP
        {
            commands.extend(swaps_between(replica_map, &decode_db_map(&op.value)));
        }
    }
    for op in &ops {
        let Some(cf) = storage.engine().cf_by_id(op.cf) else {
            continue;
        };
        let meta_key = match cf {
            Cf::Meta if op.kind == OpKind::DeleteRange => {
                // A whole database deleted (FLUSHDB / FLUSHALL).
                if let Some(db) = op.key.get(..2).and_then(|p| {
                    let pdb = u16::from_be_bytes([p[0], p[1]]);
                    (op.key == codec::db_lower_bound(pdb)).then(|| db_of(pdb))?
                }) {
                    commands.push((Some(db), vec![Bytes::from_static(b"FLUSHDB")]));
                    seen.retain(|(d, _)| *d != db);
                }
                continue;
            }
            Cf::Meta => op.key.clone(),
            Cf::Default | Cf::Expire => continue,
            _ if op.kind == OpKind::DeleteRange => continue,
            _ => match codec::decode_element_key(&op.key) {
                Some((meta_key, _, _)) => meta_key,
                None => continue,
            },
        };
        let Some((pdb, _, key)) = codec::decode_meta_key(&meta_key) else {
            continue;
        };
        let Some(db) = db_of(pdb) else {
            continue;
        };
        if !seen.insert((db, key.to_vec())) {
            continue;
        }
        commands.push((Some(db), key_state(storage, db, key)?));
    }
    Ok(commands)
}

/// The SWAPDB commands that turn the database layout a replica has (`known`: logical index →
/// physical id) into `new`; `known` becomes `new` as far as the swaps reach.
fn swaps_between(known: &mut [u16], new: &[u16]) -> Vec<StreamCommand> {
    let n = known.len().min(new.len());
    let mut commands = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            if known[a] != known[b] && known[a] == new[b] && known[b] == new[a] {
                known.swap(a, b);
                commands.push((
                    None,
                    vec![
                        Bytes::from_static(b"SWAPDB"),
                        Bytes::from(a.to_string()),
                        Bytes::from(b.to_string()),
                    ],
                ));
            }
        }
    }
    commands
}

/// The command that makes a replica's `key` what it is here now.
fn key_state(storage: &Storage, db: usize, key: &[u8]) -> Result<Vec<Bytes>, String> {
    let found = storage
        .at(db, Writer::INTERNAL)
        .keys()
        .value(key)
        .map_err(|e| e.to_string())?;
    let key = Bytes::copy_from_slice(key);
    Ok(match found {
        Some((value, expire_ms)) => vec![
            Bytes::from_static(b"RESTORE"),
            key,
            Bytes::from(expire_ms.to_string()),
            Bytes::from(crate::rdb::dump::encode(&value)),
            Bytes::from_static(b"REPLACE"),
            Bytes::from_static(b"ABSTTL"),
        ],
        None => vec![Bytes::from_static(b"DEL"), key],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PSYNC's answer, the replica leaving at once.
    fn answer(feed: &RedisFeed, replid: &[u8], wanted: Option<u64>) -> PsyncAnswer {
        let (answer, reader) = feed.psync(replid, wanted);
        feed.leave(reader);
        answer
    }

    fn cmd(args: &[&str]) -> Vec<Bytes> {
        args.iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    }

    #[test]
    fn a_changed_database_map_becomes_swapdb_commands() {
        let mut known = vec![0, 1, 2, 3];
        assert_eq!(
            swaps_between(&mut known, &[2, 1, 0, 3]),
            vec![(None, cmd(&["SWAPDB", "0", "2"]))]
        );
        assert_eq!(known, vec![2, 1, 0, 3]);
        assert!(swaps_between(&mut known, &[2, 1, 0, 3]).is_empty());
        // Swapping back restores the first layout.
        assert_eq!(
            swaps_between(&mut known, &[0, 1, 2, 3]),
            vec![(None, cmd(&["SWAPDB", "0", "2"]))]
        );
    }

    #[test]
    fn psync_continues_inside_the_backlog_only() {
        let feed = RedisFeed::default();
        let replid = match answer(&feed, b"?", None) {
            PsyncAnswer::Full { replid, offset } => {
                assert_eq!(offset, 0);
                replid
            }
            other => panic!("{other:?}"),
        };
        feed.append(&[(Some(0), cmd(&["SET", "a", "1"]))], 64);
        let end = feed.offset();
        assert!(end > 0);
        // A replica that has everything continues at the end.
        assert_eq!(
            answer(&feed, replid.as_bytes(), Some(end + 1)),
            PsyncAnswer::Continue {
                replid: replid.clone(),
                from: end
            }
        );
        // Past the end, or another history: a full sync.
        assert!(matches!(
            answer(&feed, replid.as_bytes(), Some(end + 2)),
            PsyncAnswer::Full { .. }
        ));
        assert!(matches!(
            answer(&feed, b"other", Some(1)),
            PsyncAnswer::Full { .. }
        ));
        // Bytes trimmed off the backlog are gone for PSYNC and for readers.
        for i in 0..10 {
            feed.append(&[(Some(1), cmd(&["SET", "k", &i.to_string()]))], 64);
        }
        assert!(matches!(
            answer(&feed, replid.as_bytes(), Some(1)),
            PsyncAnswer::Full { .. }
        ));
        assert!(feed.read_from(0, &replid, 0, 100, Duration::ZERO).is_err());
        let tail = feed
            .read_from(0, &replid, feed.offset() - 5, 100, Duration::ZERO)
            .expect("in the backlog");
        assert_eq!(tail.len(), 5);
    }

    #[test]
    fn a_full_sync_stream_starts_with_select() {
        let feed = RedisFeed::default();
        feed.append(&[(Some(2), cmd(&["DEL", "a"]))], 1 << 20);
        let PsyncAnswer::Full { replid, offset } = answer(&feed, b"?", None) else {
            panic!("full sync expected");
        };
        feed.append(&[(Some(2), cmd(&["DEL", "b"]))], 1 << 20);
        let bytes = feed
            .read_from(0, &replid, offset, 1000, Duration::ZERO)
            .expect("stream");
        assert!(bytes.starts_with(b"*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n"));
    }
}
