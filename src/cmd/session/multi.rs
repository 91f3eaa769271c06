//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH, and the queueing rules the dispatcher
//! applies between MULTI and EXEC.
//!
//! Inside MULTI every command except the transaction controls is checked (lookup, arity,
//! authentication, NO_MULTI) and queued; a rejected command fails the whole transaction.
//!
//! EXEC locks, once and in the usual ascending order, the keys every queued command declares
//! (its key spec, read or write) plus the client's watched keys, then checks the watches and
//! runs the commands one after the other through the normal dispatch path; the key locks they
//! ask for are granted to the holder without locking (`storage::lock`). Clients on other keys
//! run meanwhile; no other write, and no other transaction, touches a key of the transaction
//! half way (plain reads take no locks, as outside transactions). A transaction with a
//! command that reaches beyond its declared keys (`declared_keys`: FLUSHALL, KEYS, SORT BY
//! ...) holds the structure lock exclusively instead, so nothing else runs; so does every
//! transaction on a slave, whose master's batches take no key locks.
//!
//! Blocking commands inside EXEC answer their timeout reply at once. WATCH registers exact
//! keys with `storage::watch`; a write to one of them, or the expiry of a key that was live
//! when watched, makes EXEC reply a null array.

use bytes::Bytes;

use crate::cmd::gate::dispatch;
use crate::cmd::gate::spec::{CmdFlags, CommandSpec, KeySpec};
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::command;
use crate::resp::Reply;
use crate::state::client::{Client, Transaction};
use crate::state::ServerState;
use crate::storage::Storage;

/// Commands of this group.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("multi", 1, [NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY], KeySpec::None,
             [FAST, TRANSACTION], "transactions",
             "Starts a transaction.", multi),
    command!("exec", 1, [NOSCRIPT, LOADING, STALE, SKIP_SLOWLOG], KeySpec::None,
             [SLOW, TRANSACTION], "transactions",
             "Executes all commands in a transaction.", exec),
    command!("discard", 1, [NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY], KeySpec::None,
             [FAST, TRANSACTION], "transactions",
             "Discards a transaction.", discard),
    command!("watch", -2, [NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY], KeySpec::rest(1),
             [FAST, TRANSACTION], "transactions",
             "Monitors changes to keys to determine the execution of a transaction.", watch),
    command!("unwatch", 1, [NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY], KeySpec::None,
             [FAST, TRANSACTION], "transactions",
             "Forgets about watched keys of a transaction.", unwatch),
];

/// Commands that run at once even inside MULTI.
const NOT_QUEUED: &[&str] = &["exec", "discard", "multi", "watch", "quit", "reset"];

/// Queues `argv` if the client is inside MULTI and `spec` is not a transaction control;
/// returns the reply (`+QUEUED`), or None when the command must run now.
pub fn queue_if_in_multi(client: &Client, spec: &CommandSpec, argv: &[Bytes]) -> Option<Reply> {
    let mut tx = client.transaction();
    let tx = tx.as_mut()?;
    if NOT_QUEUED.contains(&spec.name) {
        return None;
    }
    // An aborted transaction never runs: keeping its commands would only cost memory.
    if !tx.failed {
        tx.queued.push(argv.to_vec());
    }
    Some(Reply::Simple("QUEUED".into()))
}

/// A command was rejected before running (unknown, arity, NOAUTH, NO_MULTI): inside MULTI the
/// transaction fails, and a rejected EXEC ends it with EXECABORT quoting the reason.
pub fn on_rejected(
    server: &ServerState,
    client: &Client,
    spec: Option<&CommandSpec>,
    reply: Reply,
) -> Reply {
    let mut guard = client.transaction();
    let Some(tx) = guard.as_mut() else {
        return reply;
    };
    if spec.is_some_and(|s| s.name == "exec") {
        *guard = None;
        drop(guard);
        server.storage.watches.unwatch_all(client.id);
        if let Reply::Error(text) = &reply {
            return Reply::err(format!(
                "EXECABORT Transaction discarded because of: {text}"
            ));
        }
        return reply;
    }
    tx.failed = true;
    reply
}

/// Ends the client's transaction and forgets its watches (DISCARD, RESET, disconnect).
pub fn discard_state(server: &ServerState, client: &Client) {
    *client.transaction() = None;
    server.storage.watches.unwatch_all(client.id);
}

fn multi(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let mut tx = ctx.client.transaction();
    if tx.is_some() {
        return Err(CmdError::err("MULTI calls can not be nested"));
    }
    *tx = Some(Transaction::default());
    Ok(Reply::ok())
}

fn discard(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    if !ctx.client.in_multi() {
        return Err(CmdError::err("DISCARD without MULTI"));
    }
    discard_state(ctx.server, ctx.client);
    Ok(Reply::ok())
}

/// True when a key the client watched while it was live has expired since (it may still be
/// stored, as lazy expiry deletes it later).
fn watched_key_expired(storage: &Storage, id: u64) -> bool {
    storage
        .watches
        .live_when_watched(id)
        .iter()
        .any(|(pdb, key)| {
            storage
                .load_physical(*pdb, key)
                .is_ok_and(|s| s.is_expired())
        })
}

/// Clears the executing flag even if a queued command panics.
struct Executing<'a>(&'a Client);

impl Drop for Executing<'_> {
    fn drop(&mut self) {
        self.0.set_executing(false);
    }
}

/// DEBUG subcommands that touch no key.
const KEYLESS_DEBUG: &[&str] = &[
    "help",
    "sleep",
    "set-active-expire",
    "quicklist-packed-threshold",
    "error",
    "log",
];

/// Positions of the keys a queued command touches, or None when it reaches beyond the keys
/// its spec declares and the transaction must hold the whole store.
fn declared_keys(spec: &CommandSpec, argv: &[Bytes]) -> Option<Vec<usize>> {
    let positions = spec.key_positions(argv);
    // FLUSHALL, FLUSHDB, SWAPDB, KEYS, SCAN, RANDOMKEY, DBSIZE: the whole keyspace.
    if spec.flags.intersects(CmdFlags::WRITE | CmdFlags::READONLY) && positions.is_empty() {
        return None;
    }
    let reaches_beyond = match spec.name {
        // BY and GET patterns name other keys.
        "sort" | "sort_ro" => argv
            .iter()
            .skip(2)
            .any(|a| args::is(a, "by") || args::is(a, "get")),
        // DIGEST, DIGEST-VALUE and RELOAD read keys their spec does not name.
        "debug" => !argv
            .get(1)
            .is_some_and(|sub| KEYLESS_DEBUG.iter().any(|name| args::is(sub, name))),
        _ => false,
    };
    (!reaches_beyond).then_some(positions)
}

/// The keys of all `queued` commands, or None when one of them needs the whole store.
fn transaction_keys(queued: &[Vec<Bytes>]) -> Option<Vec<Bytes>> {
    let mut keys = Vec::new();
    for argv in queued {
        // Unknown commands were refused while queueing: nothing to lock for them.
        let Some(spec) = dispatch::resolve_spec(argv) else {
            continue;
        };
        for i in declared_keys(spec, argv)? {
            keys.push(argv[i].clone());
        }
    }
    Some(keys)
}

/// Whether a queued command adds data (refused while the disk is nearly full).
fn adds_data(queued: &[Vec<Bytes>]) -> bool {
    queued.iter().any(|argv| {
        dispatch::resolve_spec(argv).is_some_and(|spec| spec.flags.contains(CmdFlags::DENYOOM))
    })
}

fn exec(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let Some(tx) = ctx.client.transaction().take() else {
        return Err(CmdError::err("EXEC without MULTI"));
    };
    let storage = ctx.storage();
    let id = ctx.client.id;
    if adds_data(&tx.queued) {
        if let Some(refusal) = ctx.server.oom_refusal() {
            storage.watches.unwatch_all(id);
            return Err(CmdError::Other(
                format!("EXECABORT Transaction discarded because of: {refusal}").into(),
            ));
        }
    }
    if tx.failed {
        storage.watches.unwatch_all(id);
        return Err(CmdError::Other(
            "EXECABORT Transaction discarded because of previous errors.".into(),
        ));
    }
    // From here until the last reply no other write or transaction touches a key of this
    // one; the watched keys are locked too, so their check holds for the whole run.
    // A slave applies its master's batches without key locks: only the exclusive lock keeps
    // them out (its clients do not write, so they are not held up).
    let keys = if storage.is_replica() {
        None
    } else {
        transaction_keys(&tx.queued)
    };
    let watched = storage.watches.keys_of(id);
    let (_keys_locked, _store_locked) = match &keys {
        Some(keys) => {
            let all = keys
                .iter()
                .map(|k| k.as_ref())
                .chain(watched.iter().map(|(_, k)| k.as_slice()));
            (Some(storage.lock_keys_held(all)), None)
        }
        None => (None, Some(storage.lock_structure())),
    };
    let dirty = storage.watches.is_dirty(id) || watched_key_expired(storage, id);
    storage.watches.unwatch_all(id);
    if dirty {
        return Ok(Reply::NullArray);
    }
    ctx.client.set_executing(true);
    let _executing = Executing(ctx.client);
    // Its batches reach a slave as one group, applied there at once.
    let group = storage.begin_transaction();
    let replies = tx
        .queued
        .iter()
        .map(|argv| dispatch::execute_queued(ctx.server, ctx.client, argv, &group))
        .collect();
    if let Err(e) = group.finish() {
        tracing::error!("cannot write the end of a transaction to the binlog: {e}");
    }
    Ok(Reply::Array(replies))
}

fn watch(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if ctx.client.in_multi() {
        return Err(CmdError::err("WATCH inside MULTI is not allowed"));
    }
    let storage = ctx.storage();
    let id = ctx.client.id;
    if storage.watches.is_dirty(id) {
        return Ok(Reply::ok());
    }
    let keys = &argv[1..];
    // Under the keys' locks no write to them is half done: each key's state and its
    // registration are one step for the writers.
    let _locks = storage.lock_keys(keys.iter().map(|k| k.as_ref()));
    let pdb = storage.physical(ctx.db())?;
    for key in keys {
        let state = storage.load_physical(pdb, key)?;
        let expired = state.is_expired();
        storage.watches.watch(id, (pdb, key.to_vec()), expired);
    }
    // A connection that closed meanwhile has already dropped its watches: drop these too.
    if ctx.client.is_closing() {
        storage.watches.unwatch_all(id);
    }
    Ok(Reply::ok())
}

fn unwatch(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.storage().watches.unwatch_all(ctx.client.id);
    Ok(Reply::ok())
}
