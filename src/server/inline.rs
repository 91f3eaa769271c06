//! Running a batch on the network thread that parsed it.
//!
//! Handing a batch to a worker costs a channel send, a wake-up of the worker and the cache
//! misses of moving the connection between threads: at one command per batch that is more than
//! running a GET or SET itself. So a batch of cheap commands (see [`qualifies`]) on an idle
//! connection runs right here, as a turn of a round this thread keeps open (see
//! [`super::workers::Round`]): the turns of every connection the thread serves before it goes
//! idle share one landing and one WAL flush, and their replies go out after it, as on a worker.
//! The round lands when the thread is about to wait for I/O, after [`MAX_GROUP`] turns, and
//! before any work is handed to the workers (which may need the key locks it keeps).
//! Everything else, and whatever a turn leaves unfinished, goes to the workers, so a slow
//! command never holds up the other connections of a network thread. While the workers have
//! anything to run, every batch queues behind it: commands run in the order they arrived, also
//! across connections, as in Redis (a client that sent EXEC before another sent LPUSH sees its
//! transaction run first).

use std::cell::RefCell;
use std::sync::Arc;

use bytes::Bytes;

use super::request_queue::{self, Conn, Work};
use super::workers::{Round, MAX_GROUP, TURN_COMMANDS_MAX};
use crate::cmd::gate::dispatch;
use crate::cmd::gate::spec::CmdFlags;
use crate::state::client::Client;
use crate::state::ServerState;

thread_local! {
    /// The round this network thread keeps open.
    static OPEN: RefCell<Option<Round>> = const { RefCell::new(None) };
}

/// Most arguments a batch run here may carry: bounds what a multi-key command costs.
const MAX_ARGS: usize = 4096;

/// Runs `batch` here if it qualifies and the connection is idle; gives it back otherwise.
pub fn try_run(
    server: &ServerState,
    conn: &Arc<Conn>,
    batch: Vec<Vec<Bytes>>,
) -> Result<(), Vec<Vec<Bytes>>> {
    let here = answered_while_busy(server, &batch)
        || server.config().network_thread_commands
            && request_queue::workers_idle()
            && qualifies(&conn.client, &batch);
    if !here {
        return Err(batch);
    }
    match conn.claim_if_idle(Work::Commands(batch)) {
        Ok(()) => {}
        Err(Work::Commands(batch)) => return Err(batch),
        Err(Work::FinalReply(_)) => return Ok(()),
    }
    let full = OPEN.with(|open| {
        let mut open = open.borrow_mut();
        let round = open.get_or_insert_with(|| Round::begin(server));
        round.run_turn(server, Arc::clone(conn));
        round.len() >= MAX_GROUP
    });
    if full {
        land(server);
    }
    Ok(())
}

/// Lands this thread's open round, if any: its replies go out, and connections with work
/// left go to the workers.
pub fn land(server: &ServerState) {
    let Some(round) = OPEN.with(|open| open.borrow_mut().take()) else {
        return;
    };
    for unfinished in round.finish(server) {
        let _ = unfinished.hand_to_workers();
    }
}

/// A batch short enough for one turn, of commands whose cost is bounded by their arguments
/// (`fast`, [`CmdFlags::BOUNDED`], or a short [`CmdFlags::INDEX_RANGE`]) and none blocking, from a client outside MULTI (whose EXEC runs
/// the queued commands, cheap or not).
fn qualifies(client: &Client, batch: &[Vec<Bytes>]) -> bool {
    batch.len() <= TURN_COMMANDS_MAX
        && !client.in_multi()
        && batch.iter().map(Vec::len).sum::<usize>() <= MAX_ARGS
        && batch.iter().all(|argv| {
            dispatch::resolve_spec(argv).is_some_and(|spec| {
                !spec.flags.contains(CmdFlags::BLOCKING)
                    && (spec.flags.intersects(CmdFlags::FAST | CmdFlags::BOUNDED)
                        || spec.flags.contains(CmdFlags::INDEX_RANGE) && short_index_range(argv))
            })
        })
}

/// While a script has run past `busy-reply-threshold`, every command gets -BUSY except the few
/// flagged allow-busy (SCRIPT KILL, MULTI, ...), all cheap and keyless: the gate decides, here,
/// so that a busy worker (the only one on a small machine) does not hold them up, as Redis
/// answers them between the script's steps.
fn answered_while_busy(server: &ServerState, batch: &[Vec<Bytes>]) -> bool {
    batch.len() <= TURN_COMMANDS_MAX
        && server
            .scripts
            .busy_error(server.config().busy_reply_threshold)
            .is_some()
        && batch.iter().all(|argv| {
            dispatch::resolve_spec(argv).is_none_or(|spec| !spec.flags.contains(CmdFlags::BLOCKING))
        })
}

/// Longest index range run here (LRANGE 0 99 is 100).
const SHORT_RANGE: i64 = 512;

/// `cmd key start stop [WITHSCORES]` with both indexes counted from the same end and at most
/// [`SHORT_RANGE`] elements apart; other options (BYSCORE, REV, LIMIT) go to the workers.
fn short_index_range(argv: &[Bytes]) -> bool {
    let index = |i: usize| -> Option<i64> { std::str::from_utf8(argv.get(i)?).ok()?.parse().ok() };
    let plain = argv.len() == 4 || argv.len() == 5 && argv[4].eq_ignore_ascii_case(b"withscores");
    match (plain, index(2), index(3)) {
        (true, Some(start), Some(stop)) => {
            (start >= 0) == (stop >= 0) && stop.saturating_sub(start) < SHORT_RANGE
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cmd::args::argv;

    #[test]
    fn short_index_ranges_are_told_apart() {
        assert!(short_index_range(&argv(&["lrange", "l", "0", "99"])));
        assert!(short_index_range(&argv(&["lrange", "l", "-100", "-1"])));
        assert!(short_index_range(&argv(&[
            "zrange",
            "z",
            "0",
            "9",
            "WITHSCORES"
        ])));
        assert!(short_index_range(&argv(&["lrange", "l", "5", "1"])));
        assert!(!short_index_range(&argv(&["lrange", "l", "0", "-1"])));
        assert!(!short_index_range(&argv(&["lrange", "l", "0", "100000"])));
        assert!(!short_index_range(&argv(&["lrange", "l", "x", "1"])));
        assert!(!short_index_range(&argv(&[
            "zrange", "z", "0", "9", "BYSCORE"
        ])));
        assert!(!short_index_range(&argv(&[
            "zrange",
            "z",
            "0",
            "1",
            "REV",
            "WITHSCORES"
        ])));
        assert!(!short_index_range(&argv(&[
            "lrange",
            "l",
            "-9223372036854775808",
            "9223372036854775807"
        ])));
    }
}
