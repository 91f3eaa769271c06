//! Following a real redis-server (migrating a dataset in, live): this node speaks Redis' own
//! replica protocol instead of pika's.
//!
//! The master is recognised by its answer to `PIKA-REPLICATE`: a pika node accepts it, Redis
//! answers `-ERR unknown command`. The handshake is then Redis' (PING, `REPLCONF
//! listening-port`, `REPLCONF capa eof capa psync2`, `PSYNC`), and the master answers
//! - `+FULLRESYNC <replid> <offset>`, then an RDB, sized (`$<len>`) or diskless
//!   (`$EOF:<40-byte mark>`, ended by the mark): the data here is flushed and the RDB's keys
//!   are replayed as commands ([`crate::dataset::Replayer`]) key by key, so memory is bounded
//!   by the largest key, never by the RDB's size; or
//! - `+CONTINUE [<new replid>]` when its backlog still holds what follows our offset.
//!
//! Then comes the command stream (RESP multibulk, SELECT included): every command runs through
//! the server's normal dispatch ([`CommandApplier`]), so this node's binlog and its own slaves
//! see it. The offset is the master's: every byte of the stream counts. `REPLCONF ACK
//! <offset>` goes out every second and answers `REPLCONF GETACK`; PING only counts. After a
//! broken link the next handshake asks `PSYNC <replid> <offset+1>`. The position is kept in
//! memory (`Replication::redis_position`): after a restart the link starts with a full sync.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::wire::Counted;
use super::{LinkState, MasterAddr, ReplicationHandle};
use crate::dataset::Replayer;
use crate::rdb::{Item, RdbReader};
use crate::resp::client::{call, write_request};
use crate::resp::parse::{ParseLimits, RequestParser};

/// Runs a Redis master's commands through the server's normal dispatch (the server provides
/// it; replication does not see the server).
pub trait CommandApplier: Send + Sync {
    /// Runs `commands` in order as the master's client, in one group commit. Error replies
    /// are the server's to log; an `Err` means the writes may not have landed.
    fn apply(&self, commands: &[Vec<Bytes>]) -> Result<(), String>;
    /// Starts a new stream: database 0, no transaction open.
    fn reset(&self);
}

/// The socket's two halves as the link uses them.
pub type LinkInput = BufReader<Counted<TcpStream>>;
pub type LinkOutput = BufWriter<TcpStream>;

/// Commands applied in one group commit at most.
const GROUP_COMMANDS: usize = 4096;
/// Bytes of commands applied in one group commit at most.
const GROUP_BYTES: usize = 4 << 20;
/// How often the offset is acknowledged.
const ACK_EVERY: Duration = Duration::from_secs(1);
/// How often loading logs its progress.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// True when `reply` (the answer to `PIKA-REPLICATE`) comes from a Redis master.
pub fn is_redis_refusal(reply: &str) -> bool {
    reply.starts_with("ERR unknown command")
}

/// Follows the Redis master on the connection already authenticated, until the link breaks
/// (`Err`) or `current` says this node no longer follows it (`Ok`).
pub fn follow(
    handle: &ReplicationHandle,
    applier: &dyn CommandApplier,
    master: &MasterAddr,
    mut input: LinkInput,
    mut out: LinkOutput,
    current: &dyn Fn() -> bool,
) -> Result<(), String> {
    let repl = &handle.replication;
    let cfg = handle.config();
    let mut talk = |args: &[&str]| {
        call(&mut out, &mut input, args).map_err(|e| format!("cannot talk to the master: {e}"))
    };
    talk(&["PING"])?.map_err(|e| format!("master refused PING: {e}"))?;
    let port = cfg.port.to_string();
    talk(&["REPLCONF", "listening-port", &port])?
        .map_err(|e| format!("master refused REPLCONF listening-port: {e}"))?;
    talk(&["REPLCONF", "capa", "eof", "capa", "psync2"])?
        .map_err(|e| format!("master refused REPLCONF capa: {e}"))?;
    let known = repl.redis_position();
    let (psync_id, psync_offset) = match &known {
        Some((id, offset)) => (id.clone(), (offset + 1).to_string()),
        None => ("?".to_string(), "-1".to_string()),
    };
    let mut answer = talk(&["PSYNC", &psync_id, &psync_offset])?
        .map_err(|e| format!("master refused PSYNC: {e}"))?;
    // Before its answer the master may send newlines, to keep the link alive.
    while answer.is_empty() {
        answer = next_line(&mut input)?;
        if let Some(e) = answer.strip_prefix('-') {
            return Err(format!("master refused PSYNC: {e}"));
        }
        answer = answer.trim_start_matches('+').to_string();
    }
    let mut words = answer.split_whitespace();
    let (replid, offset) = match words.next() {
        Some("FULLRESYNC") => {
            let replid = words.next().unwrap_or_default().to_string();
            let offset = words
                .next()
                .and_then(|o| o.parse::<u64>().ok())
                .ok_or_else(|| format!("bad FULLRESYNC answer '{answer}'"))?;
            tracing::info!(
                "full sync from redis {}:{} (replid {replid}, offset {offset})",
                master.host,
                master.port
            );
            load_rdb(handle, applier, &mut input, current)?;
            (replid, offset)
        }
        Some("CONTINUE") => {
            let (old_id, offset) = known.ok_or("CONTINUE answered to PSYNC ?")?;
            let replid = words.next().map_or(old_id, str::to_string);
            tracing::info!(
                "continuing from redis {}:{} at offset {}",
                master.host,
                master.port,
                offset + 1
            );
            (replid, offset)
        }
        _ => return Err(format!("unexpected PSYNC answer '{answer}'")),
    };
    if !current() {
        return Ok(());
    }
    repl.set_redis_position(Some((replid.clone(), offset)));
    repl.set_link(|l| {
        l.state = LinkState::Connected;
        l.last_io = Some(Instant::now());
        l.last_error.clear();
    });
    applier.reset();
    follow_stream(handle, applier, input, out, &replid, offset, current)
}

/// The next line the master sends, without its line end.
fn next_line(input: &mut LinkInput) -> Result<String, String> {
    let mut line = String::new();
    input
        .by_ref()
        .take(1024)
        .read_line(&mut line)
        .map_err(|e| format!("cannot talk to the master: {e}"))?;
    if line.is_empty() {
        return Err("the master closed the link".into());
    }
    Ok(line.trim_end().to_string())
}

/// Receives the RDB after `+FULLRESYNC` and replays its keys, the old data flushed first.
fn load_rdb(
    handle: &ReplicationHandle,
    applier: &dyn CommandApplier,
    input: &mut LinkInput,
    current: &dyn Fn() -> bool,
) -> Result<(), String> {
    let repl = &handle.replication;
    // While the master prepares the RDB it sends newlines to keep the link alive.
    let header = loop {
        let line = next_line(input)?;
        repl.set_link(|l| l.last_io = Some(Instant::now()));
        if !line.is_empty() {
            break line;
        }
    };
    let spec = header
        .strip_prefix('$')
        .ok_or_else(|| format!("expected the RDB, got '{header}'"))?;
    let total = if spec.starts_with("EOF:") {
        0
    } else {
        spec.parse::<u64>()
            .map_err(|_| format!("bad RDB length '{spec}'"))?
    };
    repl.set_link(|l| {
        l.state = LinkState::Sync;
        l.sync_total = total;
        l.sync_received = 0;
    });
    applier.reset();
    applier.apply(&[vec![Bytes::from_static(b"FLUSHALL")]])?;
    let started = Instant::now();
    let mut progress = Progress {
        inner: input,
        read: 0,
        total,
        shown: 0,
        last_log: Instant::now(),
        handle,
    };
    let (keys, skipped) = match spec.strip_prefix("EOF:") {
        Some(mark) => {
            let mark: [u8; 40] = mark
                .as_bytes()
                .try_into()
                .map_err(|_| format!("bad EOF mark '{mark}'"))?;
            let mut rdb = EofMarked::new(&mut progress, mark);
            let summary = replay(applier, &mut rdb, current)?;
            // The mark itself must follow the RDB's last byte.
            std::io::copy(&mut rdb, &mut std::io::sink()).map_err(|e| e.to_string())?;
            if !rdb.found() {
                return Err("the diskless RDB did not end with its mark".into());
            }
            summary
        }
        None => {
            let mut rdb = (&mut progress).take(total);
            let summary = replay(applier, &mut rdb, current)?;
            let left = std::io::copy(&mut rdb, &mut std::io::sink()).map_err(|e| e.to_string())?;
            if left > 0 {
                tracing::warn!("{left} bytes after the RDB's end were ignored");
            }
            summary
        }
    };
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let bytes = progress.read;
    tracing::info!(
        "loaded the master's RDB: {keys} keys ({skipped} skipped), {bytes} bytes in {secs:.1}s ({:.1} MB/s)",
        bytes as f64 / secs / 1e6
    );
    repl.set_link(|l| {
        l.sync_received = bytes;
        l.sync_total = bytes;
    });
    Ok(())
}

/// Replays every key of the RDB from `source`; returns (keys loaded, keys skipped).
fn replay(
    applier: &dyn CommandApplier,
    source: &mut dyn Read,
    current: &dyn Fn() -> bool,
) -> Result<(u64, u64), String> {
    let reader = RdbReader::new(source).map_err(|e| format!("RDB: {e}"))?;
    let now = crate::util::clock::unix_ms() as i64;
    let mut replayer = Replayer::default();
    let mut group = Group::default();
    let (mut keys, mut skipped) = (0u64, 0u64);
    for item in reader {
        match item.map_err(|e| format!("RDB: {e}"))? {
            Item::Record(r) => {
                // A deadline already passed: Redis' DEL for it may follow, which is harmless.
                if r.expire_at_ms.is_some_and(|at| at <= now) {
                    continue;
                }
                replayer.replay(&r, &mut |args| {
                    group.push(args.iter().map(|a| Bytes::copy_from_slice(a)).collect());
                    Ok(())
                })?;
                keys += 1;
            }
            Item::Skipped { type_name, .. } => {
                skipped += 1;
                tracing::warn!("a {type_name} key of the master's RDB was skipped");
            }
        }
        if group.is_full() {
            if !current() {
                return Err("no longer following this master".into());
            }
            group.flush(applier)?;
        }
    }
    group.flush(applier)?;
    Ok((keys, skipped))
}

/// Commands waiting to be applied together.
#[derive(Default)]
struct Group {
    commands: Vec<Vec<Bytes>>,
    bytes: usize,
}

impl Group {
    fn push(&mut self, argv: Vec<Bytes>) {
        self.bytes += argv.iter().map(|a| a.len() + 8).sum::<usize>();
        self.commands.push(argv);
    }

    fn is_full(&self) -> bool {
        self.commands.len() >= GROUP_COMMANDS || self.bytes >= GROUP_BYTES
    }

    fn flush(&mut self, applier: &dyn CommandApplier) -> Result<(), String> {
        if !self.commands.is_empty() {
            applier.apply(&self.commands)?;
            self.commands.clear();
            self.bytes = 0;
        }
        Ok(())
    }
}

/// Applies the master's command stream from `offset` on, acknowledging it.
fn follow_stream(
    handle: &ReplicationHandle,
    applier: &dyn CommandApplier,
    mut input: LinkInput,
    mut out: LinkOutput,
    replid: &str,
    mut offset: u64,
    current: &dyn Fn() -> bool,
) -> Result<(), String> {
    let repl = &handle.replication;
    let timeout = Duration::from_secs(handle.config().repl_timeout.max(1));
    // Short reads, so acknowledgements go out on time while the master is quiet.
    let _ = out.get_ref().set_read_timeout(Some(ACK_EVERY / 4));
    let limits = ParseLimits::default();
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut group = Group::default();
    // The offset after the last command in `group`.
    let mut pending = offset;
    // Bytes of the command being received, taken from `buf` already.
    let mut partial = 0u64;
    let mut last_ack = Instant::now() - ACK_EVERY;
    let mut last_io = Instant::now();
    send_ack(&mut out, offset)?;
    loop {
        if !current() {
            return Ok(());
        }
        // Every complete command buffered now.
        loop {
            let before = buf.len();
            let parsed = parser.next_request(&mut buf, &limits);
            // The parser takes the arguments of an incomplete command as they arrive.
            partial += (before - buf.len()) as u64;
            let argv = match parsed {
                Ok(Some(argv)) => argv,
                Ok(None) => break,
                Err(e) => return Err(format!("bad command stream: {}", e.0)),
            };
            let size = std::mem::take(&mut partial);
            pending += size;
            match classify(&argv) {
                StreamCommand::Ping => {}
                StreamCommand::GetAck => {
                    // Answered with the offset before this command, as Redis does.
                    group.flush(applier)?;
                    offset = pending - size;
                    repl.set_redis_position(Some((replid.to_string(), offset)));
                    send_ack(&mut out, offset)?;
                    last_ack = Instant::now();
                }
                StreamCommand::Ignored => {}
                StreamCommand::Apply => group.push(argv),
            }
            if group.is_full() {
                group.flush(applier)?;
                offset = pending;
                repl.set_redis_position(Some((replid.to_string(), offset)));
            }
        }
        group.flush(applier)?;
        if offset != pending {
            offset = pending;
            repl.set_redis_position(Some((replid.to_string(), offset)));
        }
        if last_ack.elapsed() >= ACK_EVERY {
            send_ack(&mut out, offset)?;
            last_ack = Instant::now();
        }
        // More bytes: what the reader buffered, then the socket.
        let chunk = match input.fill_buf() {
            Ok([]) => return Err("the master closed the link".into()),
            Ok(chunk) => chunk.to_vec(),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if last_io.elapsed() >= timeout {
                    return Err(format!(
                        "nothing from the master for {}s",
                        timeout.as_secs()
                    ));
                }
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("link broken: {e}")),
        };
        input.consume(chunk.len());
        buf.extend_from_slice(&chunk);
        last_io = Instant::now();
        repl.set_link(|l| l.last_io = Some(last_io));
    }
}

/// What a command of the master's stream is to this node.
enum StreamCommand {
    /// Counted in the offset, nothing else.
    Ping,
    /// `REPLCONF GETACK`: answered with the offset.
    GetAck,
    /// Other REPLCONF: counted only.
    Ignored,
    /// Run through the dispatch.
    Apply,
}

fn classify(argv: &[Bytes]) -> StreamCommand {
    let is = |i: usize, word: &str| {
        argv.get(i)
            .is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()))
    };
    if is(0, "ping") {
        StreamCommand::Ping
    } else if is(0, "replconf") && is(1, "getack") {
        StreamCommand::GetAck
    } else if is(0, "replconf") {
        StreamCommand::Ignored
    } else {
        StreamCommand::Apply
    }
}

fn send_ack(out: &mut LinkOutput, offset: u64) -> Result<(), String> {
    let offset = offset.to_string();
    write_request(out, &[b"REPLCONF", b"ACK", offset.as_bytes()])
        .and_then(|_| out.flush())
        .map_err(|e| format!("link broken: {e}"))
}

/// Counts the RDB's bytes for INFO and logs the load's progress. Buffered by the link's own
/// reader, so nothing past the RDB is taken from it.
struct Progress<'a> {
    inner: &'a mut LinkInput,
    read: u64,
    total: u64,
    /// `read` as last shown in INFO.
    shown: u64,
    last_log: Instant,
    handle: &'a ReplicationHandle,
}

impl Progress<'_> {
    fn count(&mut self, n: usize) {
        self.read += n as u64;
        if self.read - self.shown < 1 << 20 {
            return;
        }
        self.shown = self.read;
        let read = self.read;
        self.handle.replication.set_link(|l| {
            l.sync_received = read;
            l.last_io = Some(Instant::now());
        });
        if self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            if self.total > 0 {
                tracing::info!(
                    "loading the master's RDB: {read} of {} bytes ({:.0}%)",
                    self.total,
                    read as f64 * 100.0 / self.total as f64
                );
            } else {
                tracing::info!("loading the master's diskless RDB: {read} bytes so far");
            }
        }
    }
}

impl Read for Progress<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let chunk = self.inner.fill_buf()?;
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Progress<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.count(n);
    }
}

/// A diskless RDB: the bytes up to the 40-byte mark that ends it, the mark consumed and
/// nothing after it (the command stream follows at once).
pub struct EofMarked<R: BufRead> {
    inner: R,
    mark: [u8; 40],
    /// Bytes read and not handed out yet: while the mark is not found, the last 40 may be
    /// its start; once it is, the RDB's last bytes.
    held: Vec<u8>,
    found: bool,
}

impl<R: BufRead> EofMarked<R> {
    pub fn new(inner: R, mark: [u8; 40]) -> Self {
        EofMarked {
            inner,
            mark,
            held: Vec::with_capacity(8192),
            found: false,
        }
    }

    /// True once the mark was read.
    pub fn found(&self) -> bool {
        self.found
    }
}

impl<R: BufRead> Read for EofMarked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            // Held bytes known to come before the mark go out first.
            let releasable = if self.found {
                self.held.len()
            } else {
                self.held.len().saturating_sub(self.mark.len())
            };
            if releasable > 0 || self.found || buf.is_empty() {
                let n = releasable.min(buf.len());
                buf[..n].copy_from_slice(&self.held[..n]);
                self.held.drain(..n);
                return Ok(n);
            }
            let chunk = self.inner.fill_buf()?;
            if chunk.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the link closed inside the RDB",
                ));
            }
            // Look for the mark across what is held and the new bytes, taking none of the
            // new bytes past the mark.
            let take = chunk.len().min(4096);
            let held = self.held.len();
            self.held.extend_from_slice(&chunk[..take]);
            match memchr::memmem::find(&self.held, &self.mark) {
                Some(at) => {
                    self.inner.consume(at + self.mark.len() - held);
                    self.held.truncate(at);
                    self.found = true;
                }
                None => self.inner.consume(take),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARK: [u8; 40] = *b"0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn the_mark_ends_the_rdb_and_what_follows_stays_unread() {
        let mut data = vec![7u8; 10_000];
        data.extend_from_slice(&MARK);
        data.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        // Tiny reads, so the mark straddles chunk boundaries.
        let mut source = BufReader::with_capacity(7, &data[..]);
        let mut rdb = EofMarked::new(&mut source, MARK);
        let mut got = Vec::new();
        rdb.read_to_end(&mut got).expect("read");
        assert!(rdb.found());
        assert_eq!(got, vec![7u8; 10_000]);
        let mut rest = Vec::new();
        source.read_to_end(&mut rest).expect("rest");
        assert_eq!(rest, b"*1\r\n$4\r\nPING\r\n");
    }

    #[test]
    fn a_link_closed_before_the_mark_is_an_error() {
        let data = [1u8; 100];
        let mut rdb = EofMarked::new(&data[..], MARK);
        let mut got = Vec::new();
        assert!(rdb.read_to_end(&mut got).is_err());
    }

    #[test]
    fn redis_is_told_from_pika_by_its_refusal() {
        assert!(is_redis_refusal(
            "ERR unknown command 'PIKA-REPLICATE', with args beginning with: '6380' "
        ));
        assert!(!is_redis_refusal("NOAUTH Authentication required."));
    }
}
