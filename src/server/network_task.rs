//! One client connection's network task: socket bytes in, parsed batches queued for the workers.
//!
//! Every complete request already in the read buffer is parsed and queued as one batch (split
//! at `MAX_BATCH` requests); a worker runs it and writes the replies in one write, in order
//! (see [`super::request_queue`]). A protocol error answers `-ERR Protocol error: ...` after the replies
//! of the requests before it and closes this connection only. The task also drains replies the
//! socket could not take at once, applies back-pressure when too many requests wait, and closes
//! the connection on QUIT, CLIENT KILL, idle timeout or an oversized query buffer.

use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use crossbeam_channel::Sender;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::query_buffer::{QueryBufferSize, IDLE_RELEASE, READ_CHUNK};
use super::request_queue::{Conn, Work};
use crate::cmd::gate::spec::CmdFlags;
use crate::cmd::gate::table::CommandTable;
use crate::resp::{ParseLimits, Reply, RequestParser};
use crate::state::client::Client;
use crate::state::ServerState;

/// Most requests handed to a worker in one batch, bounding the memory of one batch's replies.
const MAX_BATCH: usize = 1024;
/// How often a connection holding writes back looks whether the hold ended.
const HOLD_POLL: Duration = Duration::from_millis(50);

/// What woke the network task.
enum Event {
    /// This many bytes were appended to the read buffer.
    Read(usize),
    /// Input is waiting while the read buffer is freed: time to allocate it again.
    Readable,
    /// The empty read buffer went unused long enough to be freed.
    BufferIdle,
    Wake,
    Close,
}

/// Serves one connection until it closes.
pub async fn serve(
    mut stream: TcpStream,
    server: Arc<ServerState>,
    workers: Sender<Arc<Conn>>,
    client: Arc<Client>,
) {
    let _ = stream.set_nodelay(true);
    let out = match stream.as_fd().try_clone_to_owned() {
        Ok(fd) => std::net::TcpStream::from(fd),
        Err(e) => {
            tracing::warn!("cannot duplicate the socket of client {}: {e}", client.id);
            server.unregister_client(client.id);
            return;
        }
    };
    let conn = Arc::new(Conn::new(
        Arc::clone(&client),
        out,
        workers.clone(),
        Arc::downgrade(&server),
        Arc::clone(&server.stats.io),
    ));
    let weak_conn = Arc::downgrade(&conn);
    let sink: std::sync::Weak<dyn crate::state::monitor::ReplySink> = weak_conn;
    let _ = client.sink.set(sink);
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut buffer_size = QueryBufferSize::new(&buf, &client);
    // One timer for the whole connection, looked at when it fires rather than reset at every
    // request: an empty buffer is freed once no input came for IDLE_RELEASE.
    let mut last_input = tokio::time::Instant::now();
    let mut idle_timer = Box::pin(tokio::time::sleep(IDLE_RELEASE));
    let mut parser = RequestParser::new();
    // Set after a protocol error: read nothing more, close once the error reply is out.
    let mut finishing = false;
    // Commands from the first write on, held while a shutdown waits for slaves.
    let mut held: Vec<Vec<Bytes>> = Vec::new();

    loop {
        if client.wants_redis_replica_handover() {
            // PSYNC answered: what follows is Redis' replication protocol.
            if let Some((answer, reader)) = client.take_redis_replica_handover() {
                hand_over(
                    stream,
                    buf,
                    &server,
                    &conn,
                    &client,
                    move |handle, s, leftover| {
                        crate::replication::redis_replica::serve(
                            handle, s, leftover, answer, reader,
                        )
                    },
                )
                .await;
            }
            return;
        }
        if conn.has_backlog() {
            match conn.drain_backlog(&stream) {
                Ok(true) => {}
                Ok(false) => {
                    tokio::select! {
                        r = stream.writable() => if r.is_err() { break },
                        _ = client.kill_signal.notified() => break,
                    }
                    continue;
                }
                Err(_) => break,
            }
        }
        // The server stops: what was sent runs and is answered, nothing more is read.
        finishing |= server.shutdown_requested();
        let closing = client.is_closing() || finishing;
        if closing || conn.is_congested() {
            // Wait for the worker: to finish before closing, or to make room before reading.
            conn.set_net_waiting(true);
            let done = if closing {
                conn.is_idle() && !conn.has_backlog()
            } else {
                !conn.is_congested()
            };
            if done && closing {
                break;
            }
            if !done {
                tokio::select! {
                    _ = conn.wake.notified() => {}
                    _ = client.kill_signal.notified() => break,
                }
            }
            conn.set_net_waiting(false);
            continue;
        }
        if !held.is_empty() {
            if !server.shutdown.writes_held() {
                for chunk in std::mem::take(&mut held).chunks(MAX_BATCH) {
                    submit(&server, &conn, Work::Commands(chunk.to_vec()));
                }
                continue;
            }
            tokio::select! {
                _ = server.shutdown.writes_released.notified() => {}
                _ = server.shutdown.draining.notified() => {}
                _ = client.kill_signal.notified() => break,
                _ = tokio::time::sleep(HOLD_POLL) => {}
            }
            continue;
        }
        if !buffer_size.is_released() {
            let capacity_before = buf.capacity();
            let missing_bulk = parser.missing_bulk_bytes(buf.len());
            grow_read_buffer(&mut buf, missing_bulk);
            buffer_size.after_growth(capacity_before, &buf, &client);
        }
        let waiting = BufferState {
            released: buffer_size.is_released(),
            empty: buf.is_empty(),
        };
        let timer = idle_timer.as_mut();
        match next_event(
            &mut stream,
            &mut buf,
            waiting,
            timer,
            &conn,
            &client,
            &server,
        )
        .await
        {
            Event::Close => break,
            Event::Readable => {
                buffer_size.input_ready();
                continue;
            }
            Event::BufferIdle => {
                let now = tokio::time::Instant::now();
                let next = if now >= last_input + IDLE_RELEASE {
                    buffer_size.release(&mut buf, &client);
                    now + IDLE_RELEASE
                } else {
                    last_input + IDLE_RELEASE
                };
                // Always re-armed: a fired timer polled again would fire at once.
                idle_timer.as_mut().reset(next);
                continue;
            }
            Event::Read(0) => {
                server
                    .stats
                    .io
                    .reads_processed
                    .fetch_add(1, Ordering::Relaxed);
                break;
            }
            Event::Wake => continue,
            Event::Read(n) => {
                last_input = tokio::time::Instant::now();
                server
                    .stats
                    .io
                    .reads_processed
                    .fetch_add(1, Ordering::Relaxed);
                server
                    .stats
                    .total_net_input_bytes
                    .fetch_add(n as u64, Ordering::Relaxed);
            }
        }
        if let Some(port) = client.replica_handover() {
            // PIKA-REPLICATE answered: what follows is the replication protocol.
            hand_over(
                stream,
                buf,
                &server,
                &conn,
                &client,
                move |handle, s, leftover| {
                    crate::replication::master::serve_slave(handle, s, leftover, port)
                },
            )
            .await;
            return;
        }
        let peak = buf.len();
        if !parse_and_queue(&mut parser, &mut buf, &server, &conn, &mut held) {
            finishing = true;
            continue;
        }
        if parser.missing_bulk_bytes(buf.len()) == 0 {
            // Not in the middle of a big argument, which needs the room it has.
            buffer_size.after_parse(&mut buf, peak, &client);
        }
        let query_limit = server.config().client_query_buffer_limit as usize;
        if buf.len() > query_limit {
            tracing::warn!(
                client = client.id,
                "closing client that reached max query buffer length ({} bytes)",
                buf.len()
            );
            break;
        }
    }
    client.close_after_reply();
    // A client blocked in BLPOP and the like leaves no trace (see `park` for the other order).
    server.blocking.unpark(&server.storage.ready, client.id);
    crate::cmd::session::multi::discard_state(&server, &client);
    conn.discard_pending();
    conn.shutdown();
    server.unregister_client(client.id);
}

/// Makes room in the read buffer for the next read. A big bulk string in progress gets room
/// up to its end and no further (growing by at most the buffer's size at a time): left to
/// `reserve`, the buffer would double past it, and unused capacity is memory the client holds
/// for nothing.
fn grow_read_buffer(buf: &mut BytesMut, missing_bulk: usize) {
    let spare = buf.capacity() - buf.len();
    if missing_bulk > 0 && buf.len() + missing_bulk > READ_CHUNK {
        if spare >= missing_bulk.min(READ_CHUNK) {
            return;
        }
        let step = missing_bulk.min(buf.len().max(READ_CHUNK));
        let mut bigger = BytesMut::with_capacity(buf.len() + step);
        bigger.extend_from_slice(buf);
        *buf = bigger;
    } else if spare < READ_CHUNK / 2 {
        buf.reserve(READ_CHUNK);
    }
}

/// Gives a slave's connection to a replication thread running `serve`, with the bytes it
/// already sent.
async fn hand_over(
    stream: TcpStream,
    buf: BytesMut,
    server: &Arc<ServerState>,
    conn: &Conn,
    client: &Client,
    serve: impl FnOnce(crate::replication::ReplicationHandle, std::net::TcpStream, Vec<u8>)
        + Send
        + 'static,
) {
    // The +OK goes out before the slave sends anything else; wait until it is written.
    while !conn.is_idle() || conn.has_backlog() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.unregister_client(client.id);
    let std_stream = match stream.into_std() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot hand a replication link over: {e}");
            return;
        }
    };
    if let Err(e) = std_stream.set_nonblocking(false) {
        tracing::warn!("cannot hand a replication link over: {e}");
        return;
    }
    let handle = server.replication_handle();
    let leftover = buf.to_vec();
    let spawned = std::thread::Builder::new()
        .name("repl-slave".into())
        .spawn(move || serve(handle, std_stream, leftover));
    if let Err(e) = spawned {
        tracing::warn!("cannot start a replication sender: {e}");
    }
}

/// The read buffer as a connection starts waiting for input.
#[derive(Clone, Copy)]
struct BufferState {
    /// Freed after idling: wait for input before allocating it again.
    released: bool,
    /// Holds no unparsed input: it may be freed if nothing comes for a while.
    empty: bool,
}

/// Reads input into `buf`, or waits for a wake-up from a worker or a reason to close.
///
/// `read_buf` rather than `readable` + `try_read`: a short read tells tokio the socket is
/// drained, which saves a failing `recv` per request.
async fn next_event(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    waiting: BufferState,
    idle_timer: std::pin::Pin<&mut tokio::time::Sleep>,
    conn: &Conn,
    client: &Client,
    server: &ServerState,
) -> Event {
    let timeout = server.config().timeout;
    let idle = async {
        if timeout > 0 {
            tokio::time::sleep(Duration::from_secs(timeout)).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    // Cancel safe: when another branch wins, nothing was read.
    let input = async {
        if waiting.released {
            stream.readable().await.map(|()| None)
        } else {
            stream.read_buf(buf).await.map(Some)
        }
    };
    tokio::select! {
        r = input => match r {
            Ok(Some(n)) => Event::Read(n),
            Ok(None) => Event::Readable,
            Err(_) => Event::Close,
        },
        _ = idle_timer, if waiting.empty && !waiting.released => Event::BufferIdle,
        _ = conn.wake.notified() => Event::Wake,
        _ = client.kill_signal.notified() => Event::Close,
        _ = server.shutdown.draining.notified() => Event::Wake,
        _ = idle => {
            // Only idle if nothing of ours is running either.
            if conn.is_idle() { Event::Close } else { Event::Wake }
        }
    }
}

/// Parses every complete request in `buf` and queues them; false after a protocol error.
/// While a shutdown waits for slaves, the first write and everything after it go to `held`.
fn parse_and_queue(
    parser: &mut RequestParser,
    buf: &mut BytesMut,
    server: &ServerState,
    conn: &Arc<Conn>,
    held: &mut Vec<Vec<Bytes>>,
) -> bool {
    let limits = ParseLimits {
        max_bulk_len: server.config().proto_max_bulk_len as usize,
        ..ParseLimits::default()
    };
    // While the batch runs, CLIENT LIST's qbuf= counts the requests being executed, as Redis'
    // query buffer still holds the current command.
    conn.client
        .query_buffer_len
        .store(buf.len(), Ordering::Relaxed);
    let mut batch: Vec<Vec<Bytes>> = Vec::new();
    loop {
        match parser.next_request(buf, &limits) {
            Ok(Some(argv)) => {
                if !held.is_empty() || (server.shutdown.writes_held() && may_write(&argv)) {
                    held.push(argv);
                    continue;
                }
                batch.push(argv);
                if batch.len() >= MAX_BATCH {
                    submit(server, conn, Work::Commands(std::mem::take(&mut batch)));
                }
            }
            Ok(None) => break,
            Err(e) => {
                if !batch.is_empty() {
                    submit(server, conn, Work::Commands(batch));
                }
                let mut out = BytesMut::new();
                Reply::err(format!("ERR {}", e.0)).encode(&mut out, conn.client.protocol());
                server.stats.record_error("ERR");
                tracing::debug!(client = conn.client.id, "protocol error: {}", e.0);
                submit(server, conn, Work::FinalReply(out.freeze()));
                return false;
            }
        }
    }
    if !batch.is_empty() {
        if let Err(batch) = super::inline::try_run(server, conn, batch) {
            submit(server, conn, Work::Commands(batch));
        }
    }
    true
}

/// Commands a shutdown waiting for slaves holds back: those that may write (Redis pauses the
/// same), EXEC included.
fn may_write(argv: &[Bytes]) -> bool {
    let Some((_, spec)) = argv.first().and_then(|n| CommandTable::get().lookup(n)) else {
        return false;
    };
    spec.flags
        .intersects(CmdFlags::WRITE | CmdFlags::MAY_REPLICATE)
        || spec.name == "exec"
}

/// Queues work and, if no worker owns the connection's queue, hands it to one (after landing
/// this thread's own round, which may keep key locks the worker needs).
fn submit(server: &ServerState, conn: &Arc<Conn>, work: Work) {
    if conn.enqueue(work) {
        super::inline::land(server);
        if !conn.hand_to_workers() {
            // Workers are gone: the server is shutting down.
            conn.client.close_after_reply();
        }
    }
}
