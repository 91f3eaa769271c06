//! MIGRATE's connection to the target: a blocking RESP client over a TCP stream, with the
//! call's timeout on connecting, every write and every read.
//!
//! Connections are kept per `host:port` as Redis keeps them (`migrateGetSocket`): a MIGRATE
//! *takes* one out of the cache (so two workers never share a stream) and gives it back when
//! the exchange ended in step with the target (every reply read). One unused for more than
//! [`IDLE_MAX`] is closed instead of reused; a failed one is dropped. At most [`CACHED_MAX`]
//! are kept.

use std::collections::HashMap;
use std::io::{self, BufReader, BufWriter, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::resp::client::{read_reply, write_request};

/// Connections unused for longer are closed, not reused (Redis' MIGRATE_SOCKET_CACHE_TTL).
pub const IDLE_MAX: Duration = Duration::from_secs(10);
/// Most connections kept (Redis' MIGRATE_SOCKET_CACHE_ITEMS).
const CACHED_MAX: usize = 64;
/// Bytes written to the socket at once; a pipeline larger than this is sent as it is built.
const WRITE_BUFFER: usize = 64 * 1024;

/// Idle connections by `host:port`.
static CACHE: LazyLock<Mutex<HashMap<Vec<u8>, TargetLink>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Why the target could not be talked to; each is an `-IOERR` reply, in Redis' words.
#[derive(Debug)]
pub enum LinkError {
    Connect,
    Write(io::Error),
    Read(io::Error),
}

impl LinkError {
    /// True when the failure is the call's timeout running out (Redis does not retry those).
    pub fn is_timeout(&self) -> bool {
        match self {
            LinkError::Connect => false,
            LinkError::Write(e) | LinkError::Read(e) => matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ),
        }
    }

    /// The error reply MIGRATE answers with.
    pub fn reply_text(&self) -> &'static str {
        match self {
            LinkError::Connect => "IOERR error or timeout connecting to the client",
            LinkError::Write(_) => "IOERR error or timeout writing to target instance",
            LinkError::Read(_) => "IOERR error or timeout reading to target instance",
        }
    }
}

/// One connection to a target.
pub struct TargetLink {
    out: BufWriter<TcpStream>,
    input: BufReader<TcpStream>,
    /// The database the last successful MIGRATE selected on this connection; `None` when
    /// unknown (new connection, or an error since), so the next one sends SELECT.
    pub selected_db: Option<i64>,
    /// True when this connection came from the cache (it may have been closed by the target
    /// meanwhile, which is worth one retry on a fresh one).
    pub reused: bool,
    last_use: Instant,
}

/// The cache key of a target.
fn target_name(host: &[u8], port: &[u8]) -> Vec<u8> {
    [host, b":", port].concat()
}

/// A connection to `host:port` with `timeout` on every operation: a cached one when there is
/// one, otherwise a new one.
pub fn take(host: &[u8], port: &[u8], timeout: Duration) -> Result<TargetLink, LinkError> {
    let name = target_name(host, port);
    let cached = {
        let mut cache = CACHE.lock();
        cache.retain(|_, link| link.last_use.elapsed() <= IDLE_MAX);
        cache.remove(&name)
    };
    let mut link = match cached {
        Some(mut link) => {
            link.reused = true;
            link
        }
        None => connect(host, port, timeout)?,
    };
    link.set_timeout(timeout).map_err(|_| LinkError::Connect)?;
    Ok(link)
}

/// Connections kept for reuse (INFO's `migrate_cached_sockets`): those idle for less than
/// [`IDLE_MAX`], as Redis closes the others on its timer.
pub fn cached_count() -> usize {
    CACHE
        .lock()
        .values()
        .filter(|link| link.last_use.elapsed() <= IDLE_MAX)
        .count()
}

/// Keeps `link` for the next MIGRATE to `host:port`.
pub fn give_back(host: &[u8], port: &[u8], mut link: TargetLink) {
    link.last_use = Instant::now();
    let mut cache = CACHE.lock();
    if cache.len() >= CACHED_MAX {
        // Full: the least recently used one goes (Redis drops a random one).
        let oldest = cache
            .iter()
            .min_by_key(|(_, l)| l.last_use)
            .map(|(name, _)| name.clone());
        if let Some(name) = oldest {
            cache.remove(&name);
        }
    }
    cache.insert(target_name(host, port), link);
}

/// Opens a connection, trying each address `host` resolves to within `timeout`.
fn connect(host: &[u8], port: &[u8], timeout: Duration) -> Result<TargetLink, LinkError> {
    let host = std::str::from_utf8(host).map_err(|_| LinkError::Connect)?;
    let port: u16 = std::str::from_utf8(port)
        .ok()
        .and_then(|p| p.parse().ok())
        .ok_or(LinkError::Connect)?;
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|_| LinkError::Connect)?;
    let stream = addrs
        .into_iter()
        .find_map(|addr| TcpStream::connect_timeout(&addr, timeout).ok())
        .ok_or(LinkError::Connect)?;
    let _ = stream.set_nodelay(true);
    let reader = stream.try_clone().map_err(|_| LinkError::Connect)?;
    Ok(TargetLink {
        out: BufWriter::with_capacity(WRITE_BUFFER, stream),
        input: BufReader::new(reader),
        selected_db: None,
        reused: false,
        last_use: Instant::now(),
    })
}

impl TargetLink {
    fn set_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        let stream = self.out.get_ref();
        stream.set_write_timeout(Some(timeout))?;
        stream.set_read_timeout(Some(timeout))
    }

    /// Queues one command; it leaves when the buffer fills or a reply is awaited.
    pub fn send(&mut self, args: &[&[u8]]) -> Result<(), LinkError> {
        write_request(&mut self.out, args).map_err(LinkError::Write)
    }

    /// The reply to the oldest command not yet answered, sending what is queued first.
    pub fn reply(&mut self) -> Result<Result<String, String>, LinkError> {
        self.out.flush().map_err(LinkError::Write)?;
        read_reply(&mut self.input).map_err(LinkError::Read)
    }
}
