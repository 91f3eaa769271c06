//! MEMORY: memory diagnostics (USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE, HELP).
//!
//! Values live in RocksDB, not in a heap of objects, so the figures are estimates: USAGE counts
//! the key, its stored record and a fixed per-key overhead; STATS reports the process' resident
//! size and the key counts.

use bytes::Bytes;

use crate::cmd::admin::command::help_reply;
use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::command;
use crate::resp::Reply;

/// Bytes a key costs besides its name and value in Redis' accounting (dict entry, object
/// header, expire entry), used so estimates are in the same range as Redis'.
const PER_KEY_OVERHEAD: usize = 48;

/// MEMORY's subcommands.
#[rustfmt::skip]
pub const SUBCOMMANDS: &[CommandSpec] = &[
    command!("memory|doctor", 2, [], KeySpec::None, [SLOW], "server",
             "Outputs a memory problems report.", doctor),
    command!("memory|help", 2, [LOADING, STALE], KeySpec::None, [SLOW], "server",
             "Returns helpful text about the different subcommands.", help),
    command!("memory|malloc-stats", 2, [], KeySpec::None, [SLOW], "server",
             "Returns the allocator statistics.", malloc_stats),
    command!("memory|purge", 2, [], KeySpec::None, [SLOW], "server",
             "Asks the allocator to release memory.", purge),
    command!("memory|stats", 2, [], KeySpec::None, [SLOW], "server",
             "Returns details about memory usage.", stats),
    command!("memory|usage", -3, [READONLY, NO_TOUCH], KeySpec::single(2), [READ, SLOW], "server",
             "Estimates the memory usage of a key.", usage,
             key_flags: &[&["RO"]]),
];

/// MEMORY called bare: the dispatcher routes every call with a subcommand.
pub fn memory(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    Err(CmdError::WrongArity("memory".into()))
}

/// MEMORY USAGE key [SAMPLES count]: an estimate in bytes, or nil for a missing key.
fn usage(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut rest = argv[3..].iter();
    while let Some(opt) = rest.next() {
        if !args::is(opt, "samples") {
            return Err(CmdError::Syntax);
        }
        let count = rest.next().ok_or(CmdError::Syntax)?;
        if args::int(count)? < 0 {
            return Err(CmdError::Syntax);
        }
    }
    let state = ctx.keys().state(&argv[2])?;
    Ok(match state.live() {
        Some(meta) => Reply::Integer((argv[2].len() + meta.body.len() + PER_KEY_OVERHEAD) as i64),
        None => Reply::Null,
    })
}

fn stats(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    let rss = crate::util::alloc_counter::resident_bytes();
    let storage = ctx.storage();
    let mut keys: u64 = 0;
    let mut per_db = Vec::new();
    for db in 0..storage.databases() {
        let n = storage.dbsize(db)?;
        if n > 0 {
            let expires = storage.expires_count(db)?;
            per_db.push((
                Reply::bulk(Bytes::from(format!("db.{db}"))),
                Reply::Map(vec![
                    (
                        Reply::bulk(Bytes::from_static(b"overhead.hashtable.main")),
                        Reply::Integer(0),
                    ),
                    (
                        Reply::bulk(Bytes::from_static(b"overhead.hashtable.expires")),
                        Reply::Integer(expires as i64),
                    ),
                ]),
            ));
        }
        keys += n;
    }
    let int = |name: &'static str, v: u64| {
        (
            Reply::bulk(Bytes::from_static(name.as_bytes())),
            Reply::Integer(v as i64),
        )
    };
    let mut fields = vec![
        int("peak.allocated", rss),
        int("total.allocated", rss),
        int("startup.allocated", 0),
        int("replication.backlog", 0),
        int("clients.slaves", 0),
        int("clients.normal", 0),
        int("cluster.links", 0),
        int("aof.buffer", 0),
        int("lua.caches", 0),
        int("functions.caches", 0),
        int("overhead.total", 0),
    ];
    fields.extend(per_db);
    fields.push(int("keys.count", keys));
    fields.push(int(
        "keys.bytes-per-key",
        rss.checked_div(keys).unwrap_or(0),
    ));
    fields.push(int("dataset.bytes", rss));
    fields.push((
        Reply::bulk(Bytes::from_static(b"dataset.percentage")),
        Reply::Double(100.0),
    ));
    fields.push((
        Reply::bulk(Bytes::from_static(b"peak.percentage")),
        Reply::Double(100.0),
    ));
    fields.push(int("allocator.allocated", rss));
    fields.push(int("allocator.active", rss));
    fields.push(int("allocator.resident", rss));
    fields.push(int("rss-overhead.bytes", 0));
    fields.push((
        Reply::bulk(Bytes::from_static(b"fragmentation")),
        Reply::Double(1.0),
    ));
    fields.push(int("fragmentation.bytes", 0));
    Ok(Reply::Map(fields))
}

fn doctor(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Verbatim(Bytes::from_static(
        b"Hi Sam, I can't find any memory issue in your instance. \
          I can only account for what occurs on this base.",
    )))
}

fn malloc_stats(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Verbatim(Bytes::from_static(
        b"Stats not supported for the current allocator",
    )))
}

fn purge(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::ok())
}

fn help(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    ))
}
