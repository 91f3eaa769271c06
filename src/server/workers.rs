//! The worker pool: threads that run commands against storage.
//!
//! Network threads never touch RocksDB. They queue each connection's parsed commands on its
//! [`Conn`] and hand the connection over a crossbeam channel; one worker at a time runs a
//! connection's queue in order, so a connection's commands execute and answer in order. A worker
//! takes every connection that is ready (up to `MAX_GROUP`) as one round: it runs them all,
//! lands the round's batches in RocksDB as one write (group commit, see `storage::round`),
//! hands the round's WAL records to the OS with one write, then sends each connection's replies
//! in one write. A panic in a command is caught here: the client gets an error, the worker and
//! the server live on.
//!
//! A turn of a connection runs at most [`TURN_COMMANDS_MAX`] commands and writes at most about
//! [`TURN_OUTPUT_MAX`] bytes of replies: the rest of its queue waits for the next turn, and for
//! the client to read once its unread replies pass the connection's high-water mark (see
//! `Conn::suspend_if_backlogged`). A streamed reply is written a [`STREAM_SLICE`] per turn, so
//! no reply or queue of replies is built whole, and no connection holds up the others of its
//! round for more than one slice.
//!
//! Workers wait on their one channel only: waiting on a second one (a select) made every
//! request's handoff measurably slower. Clients blocked on keys that a slave's replicated
//! batches filled are served by a thread of their own (see `background`).

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};

use super::busy_turns;
use super::request_queue::{self, Conn, Work};
use crate::cmd::gate::dispatch;
use crate::resp::reply::StreamedReply;
use crate::resp::Reply;
use crate::state::blocking::Waiter;
use crate::state::client::{BlockRequest, Client, ReplyMode};
use crate::state::ServerState;
use crate::storage::DataType;

/// Handle to the running workers.
pub struct WorkerPool {
    tx: Option<Sender<Arc<Conn>>>,
    handles: Vec<JoinHandle<()>>,
    /// Set by `stop`: connections (parked ones included) hold senders of the channel, so
    /// workers cannot wait for it to disconnect.
    stopping: Arc<AtomicBool>,
}

/// How often an idle worker checks whether the pool is stopping.
const STOP_POLL: Duration = Duration::from_millis(100);

impl WorkerPool {
    /// Starts `size` worker threads.
    pub fn start(server: Arc<ServerState>, size: usize) -> std::io::Result<WorkerPool> {
        let (tx, rx) = unbounded::<Arc<Conn>>();
        request_queue::reset_workers_count();
        let stopping = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::with_capacity(size);
        for i in 0..size.max(1) {
            let rx: Receiver<Arc<Conn>> = rx.clone();
            let server = Arc::clone(&server);
            let stopping = Arc::clone(&stopping);
            handles.push(
                std::thread::Builder::new()
                    .name(format!("worker-{i}"))
                    .spawn(move || {
                        super::busy_turns::install(&server, &rx);
                        worker_loop(&server, &rx, &stopping)
                    })?,
            );
        }
        Ok(WorkerPool {
            tx: Some(tx),
            handles,
            stopping,
        })
    }

    /// A sender for connections to hand their queues over with.
    pub fn sender(&self) -> Option<Sender<Arc<Conn>>> {
        self.tx.clone()
    }

    /// Stops accepting work and waits for the running work to finish.
    pub fn stop(mut self) {
        self.tx = None;
        self.stopping.store(true, Ordering::Relaxed);
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// Most connections a worker serves between two WAL flushes.
pub(super) const MAX_GROUP: usize = 32;

/// Reply bytes past which a connection's turn ends (the next command waits for the next turn).
const TURN_OUTPUT_MAX: usize = 256 * 1024;

/// Commands a connection runs per turn: a long pipeline of small commands (whose replies never
/// reach [`TURN_OUTPUT_MAX`]) is run a slice at a time, so the other connections of the round
/// wait at most one slice for it.
pub(super) const TURN_COMMANDS_MAX: usize = 256;

/// Bytes of a streamed reply written per turn. Its items are read from storage as they are
/// written, so a piece costs far more time than as many bytes of ready replies: a smaller
/// slice keeps the other connections of the round from waiting on it.
const STREAM_SLICE: usize = 64 * 1024;

/// A client whose blocking command found no data: parked once its round is over.
pub(super) struct Parking {
    request: BlockRequest,
    argv: Vec<Bytes>,
}

/// Replies for clients a round woke from a blocking wait, sent after the round's WAL flush.
pub(super) type Served = Vec<(Waiter, BytesMut)>;

/// A worker's life: waits for a connection, gathers the others ready, runs them as a group.
fn worker_loop(server: &ServerState, rx: &Receiver<Arc<Conn>>, stopping: &AtomicBool) {
    loop {
        let first = match rx.recv_timeout(STOP_POLL) {
            Ok(conn) => conn,
            Err(RecvTimeoutError::Timeout) => {
                if stopping.load(Ordering::Relaxed) {
                    return;
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut group = vec![first];
        join_waiting(rx, &mut group);
        run_group(server, rx, group);
    }
}

/// Runs the queued work of a group of connections until their queues are empty.
///
/// Replies are held back until the WAL records of the round's writes have been handed to the
/// operating system (one write syscall for the whole round), then sent; a connection's queue is
/// released only after its replies are out, so its replies never overtake each other. A
/// connection whose blocking command must wait leaves the group and is parked (see
/// `state::blocking`); clients the round woke get their replies with the others. A connection
/// suspended for unread replies leaves the group until its client reads them; connections that
/// become ready meanwhile join it.
fn run_group(server: &ServerState, rx: &Receiver<Arc<Conn>>, mut group: Vec<Arc<Conn>>) {
    while !group.is_empty() {
        let (still_running, handed) = run_round(server, group);
        group = still_running;
        request_queue::left_workers(handed - group.len());
        // Connections that became ready meanwhile take their turn in the next round, so one
        // with a long queue or a streamed reply does not hold the worker.
        join_waiting(rx, &mut group);
    }
}

/// Runs one round: a turn of each connection in `group` (whose queues the caller owns), one
/// landing of their writes and one WAL flush, then their replies. Returns the connections
/// whose queues still hold work, still owned (the others are released, parked or suspended),
/// and how many connections the round was handed: a busy script's hook may answer waiting
/// turns itself, or add connections it took from the channel (see `busy_turns`).
fn run_round(server: &ServerState, group: Vec<Arc<Conn>>) -> (Vec<Arc<Conn>>, usize) {
    let mut round = Round::begin(server);
    busy_turns::start_round(group);
    while let Some(conn) = busy_turns::next_turn() {
        round.run_turn(server, conn);
    }
    (round.finish(server), busy_turns::handed())
}

/// The turns a round ran so far: their connections and replies.
#[derive(Default)]
struct Turns {
    group: Vec<Arc<Conn>>,
    outputs: Vec<(BytesMut, Option<Parking>)>,
}

thread_local! {
    /// The turns of the round open on this thread, for [`send_held_replies`].
    static OPEN_TURNS: RefCell<Option<Rc<RefCell<Turns>>>> = const { RefCell::new(None) };
}

/// Sends the replies this thread's round holds for the turns it ran so far, once their writes
/// have landed and the WAL is flushed; called while a script runs past busy-reply-threshold,
/// so that a client answered before the script in the same round (and the script's own
/// earlier commands) does not wait for the script's end, as in Redis.
pub(super) fn send_held_replies(server: &ServerState) {
    let Some(turns) = OPEN_TURNS.with(|t| t.borrow().clone()) else {
        return;
    };
    let Ok(mut turns) = turns.try_borrow_mut() else {
        return;
    };
    if turns.outputs.iter().all(|(out, _)| out.is_empty()) {
        return;
    }
    // A failed landing is left to the round's end, which acknowledges nothing.
    if !server.storage.engine().settle_round() || server.storage.sync_wal_before_replies().is_err()
    {
        return;
    }
    let Turns { group, outputs } = &mut *turns;
    for (conn, (out, _)) in group.iter().zip(outputs.iter_mut()) {
        conn.send(out);
        out.clear();
    }
}

/// Runs, out of turn, what the connections that already had their turn in this thread's round
/// sent since, when all of it passes `answerable` (see `busy_turns`): their replies are out
/// ([`send_held_replies`]), and the round keeps their queues until it ends. Connections that
/// must wait for a blocking command are left alone.
pub(super) fn answer_ran_turns(server: &ServerState, answerable: impl Fn(&[Bytes]) -> bool) {
    let Some(turns) = OPEN_TURNS.with(|t| t.borrow().clone()) else {
        return;
    };
    let Ok(turns) = turns.try_borrow() else {
        return;
    };
    for (conn, (out, parking)) in turns.group.iter().zip(&turns.outputs) {
        if parking.is_some() || !out.is_empty() || conn.client.is_closing() {
            continue;
        }
        if conn.pending_all(&answerable) {
            let mut served = Served::new();
            let (more, _) = run_work(server, conn, &mut served);
            conn.send(&more);
        }
    }
}

/// A round in progress on this thread: the connections that took their turn so far, with
/// their replies, held until the round's writes land and the WAL is flushed.
pub(super) struct Round {
    turns: Rc<RefCell<Turns>>,
    served: Served,
}

impl Round {
    /// Opens a round: writes from here on collect in this thread's batch.
    pub(super) fn begin(server: &ServerState) -> Round {
        server.storage.begin_round();
        // Invalidations wait until the round's writes have landed and its replies are out.
        server.tracking.hold();
        let turns = Rc::new(RefCell::new(Turns::default()));
        OPEN_TURNS.with(|t| *t.borrow_mut() = Some(Rc::clone(&turns)));
        Round {
            turns,
            served: Served::new(),
        }
    }

    /// Connections that took their turn in this round.
    pub(super) fn len(&self) -> usize {
        self.turns.borrow().group.len()
    }

    /// Runs one turn of `conn`, whose queue the caller owns.
    pub(super) fn run_turn(&mut self, server: &ServerState, conn: Arc<Conn>) {
        let output = run_work(server, &conn, &mut self.served);
        let mut turns = self.turns.borrow_mut();
        turns.group.push(conn);
        turns.outputs.push(output);
    }

    /// Lands the round's writes, flushes the WAL, sends the replies. Returns the connections
    /// whose queues still hold work, still owned; the others are released, parked or suspended.
    pub(super) fn finish(self, server: &ServerState) -> Vec<Arc<Conn>> {
        let Round { turns, served } = self;
        OPEN_TURNS.with(|t| *t.borrow_mut() = None);
        let Turns { group, outputs } = std::mem::take(&mut *turns.borrow_mut());
        let landed = server.storage.end_round();
        if let Err(e) = landed.and_then(|()| server.storage.sync_wal_before_replies()) {
            // The round's writes may not have landed or be durable: acknowledge none of them.
            // Closing the connections tells the clients their last commands are in doubt.
            tracing::error!(
                "round write or WAL flush failed, closing the round's connections: {e}"
            );
            for conn in &group {
                conn.client.close_after_reply();
                conn.wake.notify_one();
            }
            for (w, _) in served {
                w.client.kill();
            }
        } else {
            for (conn, (out, _)) in group.iter().zip(&outputs) {
                conn.send(out);
                server.pubsub.activate(&conn.client);
                if conn.client.take_monitor_request() {
                    if let Some(sink) = conn.client.sink.get() {
                        server.monitors.add(conn.client.id, sink.clone());
                    }
                }
            }
            for (w, out) in served {
                w.conn.resume(&out);
            }
        }
        server.tracking.release();
        let mut parked = Vec::new();
        let mut still_running = Vec::with_capacity(group.len());
        for (conn, (_, parking)) in group.into_iter().zip(outputs) {
            if conn.client.is_closing() {
                conn.discard_pending();
            } else if let Some(p) = parking {
                parked.push((conn, p));
                continue;
            }
            if conn.release_if_idle() {
                conn.client.query_buffer_len.store(0, Ordering::Relaxed);
                conn.after_work();
            } else if !conn.suspend_if_backlogged() {
                still_running.push(conn);
            }
        }
        // Parked only now: until this point this thread owned their queues.
        let any_parked = !parked.is_empty();
        for (conn, p) in parked {
            park(server, conn, p);
        }
        // Parking re-signals the keys (data may have arrived since the command looked):
        // serve them now rather than at some later command.
        if any_parked && server.storage.ready.has_pending() {
            serve_and_answer(server);
        }
        still_running
    }
}

/// Adds connections waiting for a worker to the group, up to [`MAX_GROUP`].
fn join_waiting(rx: &Receiver<Arc<Conn>>, group: &mut Vec<Arc<Conn>>) {
    while group.len() < MAX_GROUP {
        match rx.try_recv() {
            Ok(conn) => group.push(conn),
            Err(_) => break,
        }
    }
}

/// Serves signalled keys outside a round and sends the replies once the WAL is flushed.
pub(super) fn serve_and_answer(server: &ServerState) {
    let mut served = Served::new();
    serve_ready(server, &mut served);
    if served.is_empty() {
        return;
    }
    match server.storage.sync_wal_before_replies() {
        Ok(()) => {
            for (w, out) in served {
                w.conn.resume(&out);
            }
        }
        Err(e) => {
            tracing::error!("round write or WAL flush failed, closing the served clients: {e}");
            for (w, _) in served {
                w.client.kill();
            }
        }
    }
}

/// Hands a connection whose command must wait to the blocked-client registry.
fn park(server: &ServerState, conn: Arc<Conn>, p: Parking) {
    let Ok(pdb) = server.storage.physical(conn.client.db()) else {
        return;
    };
    let waiter = Waiter {
        client: Arc::clone(&conn.client),
        conn,
        argv: p.request.rerun_argv.unwrap_or(p.argv),
        pdb,
        keys: p.request.keys,
        deadline: p.request.deadline,
        on_timeout: p.request.on_timeout,
    };
    let id = waiter.client.id;
    let closing = Arc::clone(&waiter.client);
    server.blocking.park(&server.storage.ready, waiter);
    // A connection that closed while it was being parked had nobody to unpark it.
    if closing.is_closing() {
        server.blocking.unpark(&server.storage.ready, id);
    }
}

/// How a batch of commands ended.
enum BatchEnd {
    /// Every command ran.
    Done,
    /// A blocking command must wait; the commands after it.
    Park(Parking, Vec<Vec<Bytes>>),
    /// The turn's replies are big enough; the commands not run yet.
    Yield(Vec<Vec<Bytes>>),
}

/// Runs one turn of a connection: the rest of a streamed reply, then queued work, until the
/// replies reach [`TURN_OUTPUT_MAX`]. Returns the encoded replies, and the parking request if
/// a blocking command must wait (the work after it goes back to the queue).
pub(super) fn run_work(
    server: &ServerState,
    conn: &Conn,
    served: &mut Served,
) -> (BytesMut, Option<Parking>) {
    let mut out = BytesMut::new();
    if let Some(stream) = conn.take_stream() {
        if stream.fill(&mut out, conn.client.protocol(), STREAM_SLICE) {
            conn.set_stream(stream);
            return (out, None);
        }
    }
    let mut works = conn.take_pending().into_iter();
    let mut commands_left = TURN_COMMANDS_MAX;
    while let Some(work) = works.next() {
        if conn.client.is_closing() {
            break;
        }
        match work {
            Work::Commands(commands) => {
                let end = run_batch(server, conn, commands, &mut out, served, &mut commands_left);
                let (parking, rest) = match end {
                    BatchEnd::Done => continue,
                    BatchEnd::Park(parking, rest) => (Some(parking), rest),
                    BatchEnd::Yield(rest) => (None, rest),
                };
                let mut back = Vec::with_capacity(1 + works.len());
                if !rest.is_empty() {
                    back.push(Work::Commands(rest));
                }
                back.extend(works);
                conn.push_front(back);
                return (out, parking);
            }
            Work::FinalReply(bytes) => {
                out.extend_from_slice(&bytes);
                conn.client.close_after_reply();
            }
        }
    }
    (out, None)
}

/// Runs a batch and encodes the replies, honouring CLIENT REPLY and QUIT. Stops at a blocking
/// command that must wait, once the replies pass [`TURN_OUTPUT_MAX`] (a streamed reply
/// keeps its unwritten rest in `conn`), and once the turn ran `commands_left` commands.
fn run_batch(
    server: &ServerState,
    conn: &Conn,
    commands: Vec<Vec<Bytes>>,
    out: &mut BytesMut,
    served: &mut Served,
    commands_left: &mut usize,
) -> BatchEnd {
    let client = &*conn.client;
    let mut commands = commands.into_iter();
    while let Some(argv) = commands.next() {
        if client.is_closing() {
            break;
        }
        // CLIENT REPLY as Redis does it: a pending SKIP applies to this command only; a command
        // that sets the mode itself is silent (OFF, SKIP) or answered (ON).
        let skipped = client.reply_mode() == ReplyMode::Skip;
        if skipped {
            client.consume_skip();
        }
        let changes = client.reply_mode_changes();
        let reply = execute_guarded(server, client, &argv);
        if let Some(request) = client.take_block_request() {
            return BatchEnd::Park(Parking { request, argv }, commands.collect());
        }
        let set_by_command = client.reply_mode_changes() != changes;
        let suppress = match client.reply_mode() {
            ReplyMode::Off => true,
            ReplyMode::Skip if set_by_command => true,
            ReplyMode::On if set_by_command => false,
            _ => skipped,
        };
        // Pub/Sub notifications are pushes, which Redis sends whatever the reply mode.
        let mut streaming = false;
        if !suppress || reply.is_push() {
            if reply.worth_streaming() {
                streaming = start_stream(conn, reply.into_stream(), out);
            } else {
                reply.encode(out, client.protocol());
            }
        }
        // Like Redis, clients blocked on keys this command filled are served before the
        // connection's next command runs.
        if server.storage.ready.has_pending() {
            serve_ready(server, served);
        }
        *commands_left = commands_left.saturating_sub(1);
        if streaming || out.len() >= TURN_OUTPUT_MAX || *commands_left == 0 {
            return BatchEnd::Yield(commands.collect());
        }
    }
    BatchEnd::Done
}

/// Writes the first piece of a streamed reply; true when the rest waits in `conn` for later
/// turns (the turn must then end, so that it goes out before the next command's reply).
fn start_stream(conn: &Conn, stream: StreamedReply, out: &mut BytesMut) -> bool {
    let budget = STREAM_SLICE
        .min(TURN_OUTPUT_MAX.saturating_sub(out.len()))
        .max(1);
    let more = stream.fill(out, conn.client.protocol(), budget);
    if more {
        conn.set_stream(stream);
    }
    more
}

/// Runs a command, turning a panic into an error reply, and deletes the keys it found expired.
fn execute_guarded(server: &ServerState, client: &Client, argv: &[Bytes]) -> Reply {
    server.storage.deleting_found_expired(|| {
        catch_unwind(AssertUnwindSafe(|| dispatch::execute(server, client, argv))).unwrap_or_else(
            |_| {
                tracing::error!(
                    command = %String::from_utf8_lossy(argv.first().map_or(&b""[..], |a| a)),
                    "command panicked; the client got an error and the server continues"
                );
                Reply::err("ERR internal error while running the command")
            },
        )
    })
}

/// Serves clients blocked on signalled keys, per key in arrival order, until a waiter's
/// command must wait again (the key ran dry). A served client is unparked; its reply goes
/// out with the round's replies, after the WAL flush.
fn serve_ready(server: &ServerState, served: &mut Served) {
    let ready = &server.storage.ready;
    let _serving = server.blocking.serving();
    // Serving can fill keys again (BLMOVE pushes to its destination): go round until quiet.
    while ready.has_pending() {
        for key in ready.take() {
            // A waiter runs again only when the key holds its type by now (a transaction may
            // have pushed, then deleted the key or stored another type): the others keep
            // waiting, as in Redis, instead of failing on the wrong type. XREADGROUP always
            // runs again, to fail if its stream is gone.
            let kind = key_type(server, &key);
            for id in server.blocking.waiting_on(&key) {
                let serves = server
                    .blocking
                    .command_of(id)
                    .is_some_and(|cmd| type_serves(kind, &cmd, &key.1));
                if !serves {
                    continue;
                }
                // Taken out while its command runs, so the timer cannot answer it meanwhile.
                let Some(w) = server.blocking.unpark(ready, id) else {
                    continue;
                };
                if w.client.is_closing() {
                    continue;
                }
                // A client held by CLIENT PAUSE has not run its command yet.
                let resumed = key.1 != crate::state::pause::PAUSE_KEY;
                w.client.resumed.store(resumed, Ordering::Relaxed);
                let reply = execute_guarded(server, &w.client, &w.argv);
                w.client.resumed.store(false, Ordering::Relaxed);
                if w.client.take_block_request().is_some() {
                    server.blocking.reinstate(ready, w);
                    break;
                }
                let mut out = BytesMut::new();
                reply.encode(&mut out, w.client.protocol());
                served.push((w, out));
            }
        }
    }
}

/// The type the signalled key holds now: `Ok(None)` when it is absent, `Err` when it cannot
/// be read (its waiters run again and report the error).
fn key_type(server: &ServerState, (pdb, key): &(u16, Vec<u8>)) -> Result<Option<DataType>, ()> {
    server
        .storage
        .load_physical(*pdb, key)
        .map(|s| s.live().map(|m| m.data_type))
        .map_err(|_| ())
}

/// Whether a client blocked in `cmd` is served by a key of type `kind`.
fn type_serves(kind: Result<Option<DataType>, ()>, cmd: &[u8], key: &[u8]) -> bool {
    // Clients held by CLIENT PAUSE run again whenever it is signalled.
    if key == crate::state::pause::PAUSE_KEY {
        return true;
    }
    let Ok(kind) = kind else {
        return true;
    };
    if cmd.eq_ignore_ascii_case(b"xreadgroup") {
        true
    } else if cmd.eq_ignore_ascii_case(b"xread") {
        kind == Some(DataType::Stream)
    } else {
        matches!(kind, Some(DataType::List | DataType::ZSet))
    }
}
