//! Answering other clients while a script runs past `busy-reply-threshold`.
//!
//! Redis answers clients between a long script's steps: -BUSY to most commands, and runs the
//! few that may run then (SCRIPT KILL, FUNCTION KILL, MULTI, ...). A worker runs a round's
//! turns one after another, so a client whose turn comes after the script's in the same round,
//! or that waits on the channel for the busy worker (the only one on a small machine), would
//! wait for the script's end, and SCRIPT KILL could never arrive. The script's hook calls
//! [`answer_while_busy`] (installed by [`install`]), which answers those clients from inside
//! the script whenever everything they sent can be answered so, and hands them back.
//! It first sends the replies the round holds for the turns before the script's (see
//! `workers::send_held_replies`), whose client may be the one to send SCRIPT KILL. The
//! network threads answer the clients no worker holds (see `inline`).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use crossbeam_channel::Receiver;

use super::request_queue::{self, Conn};
use super::workers::{run_work, Served};
use crate::cmd::gate::dispatch;
use crate::cmd::gate::spec::CmdFlags;
use crate::state::ServerState;

thread_local! {
    /// The connections of this thread's round whose turn has not come yet.
    static WAITING: RefCell<VecDeque<Arc<Conn>>> = const { RefCell::new(VecDeque::new()) };
    /// Connections the round was handed, those taken from the channel during it included.
    static HANDED: Cell<usize> = const { Cell::new(0) };
}

/// Commands flagged allow-busy that are safe to run from inside the script's hook: they touch
/// neither keys nor the interpreter. (WATCH, RESET and SHUTDOWN wait for the script's end.)
const RUN_FROM_HOOK: &[&str] = &[
    "script|kill",
    "function|kill",
    "function|stats",
    "multi",
    "discard",
    "unwatch",
    "quit",
    "auth",
    "hello",
];

/// Makes this worker thread's scripts answer the clients it holds while they are busy.
pub(super) fn install(server: &Arc<ServerState>, rx: &Receiver<Arc<Conn>>) {
    let server = Arc::clone(server);
    let rx = rx.clone();
    crate::cmd::scripting::vm::set_between_steps(Box::new(move || answer_while_busy(&server, &rx)));
}

/// Opens a round of `group`'s turns.
pub(super) fn start_round(group: Vec<Arc<Conn>>) {
    HANDED.with(|h| h.set(group.len()));
    WAITING.with(|w| *w.borrow_mut() = group.into());
}

/// The next connection whose turn it is.
pub(super) fn next_turn() -> Option<Arc<Conn>> {
    WAITING.with(|w| w.borrow_mut().pop_front())
}

/// How many connections the round was handed.
pub(super) fn handed() -> usize {
    HANDED.with(Cell::get)
}

/// Called between a script's steps: if the script is past `busy-reply-threshold`, answers the
/// connections waiting for their turn in this round, and those waiting on the channel,
/// whenever all they sent can be answered now; the others keep their place (the channel's
/// join the round).
fn answer_while_busy(server: &ServerState, rx: &Receiver<Arc<Conn>>) {
    let threshold = server.config().busy_reply_threshold;
    if server.scripts.busy_error(threshold).is_none() {
        return;
    }
    super::workers::send_held_replies(server);
    super::workers::answer_ran_turns(server, answerable);
    let waiting = WAITING.with(|w| std::mem::take(&mut *w.borrow_mut()));
    let mut kept: VecDeque<Arc<Conn>> = waiting
        .into_iter()
        .filter(|conn| !answer_if_possible(server, conn))
        .collect();
    while let Ok(conn) = rx.try_recv() {
        if answer_if_possible(server, &conn) {
            request_queue::left_workers(1);
        } else {
            HANDED.with(|h| h.set(h.get() + 1));
            kept.push_back(conn);
        }
    }
    WAITING.with(|w| *w.borrow_mut() = kept);
}

/// Answers everything `conn` has queued if all of it can be answered while a script is busy;
/// true when the connection was released (it leaves this worker).
fn answer_if_possible(server: &ServerState, conn: &Arc<Conn>) -> bool {
    if !conn.pending_all(answerable) {
        return false;
    }
    let mut served = Served::new();
    let (out, parking) = run_work(server, conn, &mut served);
    debug_assert!(parking.is_none() && served.is_empty());
    conn.send(&out);
    if conn.client.is_closing() {
        conn.discard_pending();
    }
    if conn.release_if_idle() {
        conn.after_work();
        true
    } else {
        false
    }
}

/// Whether the gate answers `argv` at once while a script is busy (-BUSY, or an earlier
/// error), or runs it without keys or the interpreter.
fn answerable(argv: &[Bytes]) -> bool {
    dispatch::resolve_spec(argv).is_none_or(|spec| {
        !spec.flags.contains(CmdFlags::ALLOW_BUSY) || RUN_FROM_HOOK.contains(&spec.name)
    })
}
