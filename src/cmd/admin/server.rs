//! Server commands: the table of the `server` group (COMMAND, INFO, CONFIG, DEBUG, whose
//! handlers live in their own modules) and the small ones implemented here: TIME, LASTSAVE,
//! SAVE, BGSAVE, SHUTDOWN and SLOWLOG.
//!
//! "Saving" means flushing RocksDB's memtables to SST files: every write is already durable in
//! the write-ahead log, so a save only shortens recovery and makes LASTSAVE meaningful.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::cmd::admin::command;
use crate::cmd::admin::command::help_reply;
use crate::cmd::admin::config;
use crate::cmd::admin::debug;
use crate::cmd::admin::info;
use crate::cmd::admin::latency;
use crate::cmd::admin::memory;
use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::command;
use crate::config::ShutdownFlags;
use crate::resp::Reply;
use crate::state::client::ReplyMode;
use crate::state::shutdown::{ShutdownStart, SHUTDOWN_FAILED};
use crate::state::ServerState;
use crate::storage::DataType;

/// Commands of this group.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    super::acl::ACL,
    command!("command", -1, [LOADING, STALE], KeySpec::None, [SLOW, CONNECTION], "server",
             "Returns detailed information about all commands.", command::command,
             subcommands: command::SUBCOMMANDS),
    command!("monitor", 1, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Listens for all requests received by the server in real-time.", monitor),
    command!("info", -1, [LOADING, STALE], KeySpec::None, [SLOW, DANGEROUS], "server",
             "Returns information and statistics about the server.", info::info),
    command!("config", -2, [], KeySpec::None, [SLOW], "server",
             "A container for server configuration commands.", config::config,
             subcommands: CONFIG_SUBCOMMANDS),
    command!("time", 1, [LOADING, STALE, FAST], KeySpec::None, [FAST], "server",
             "Returns the server time.", time),
    command!("lastsave", 1, [LOADING, STALE, FAST], KeySpec::None, [ADMIN, FAST, DANGEROUS],
             "server", "Returns the Unix timestamp of the last successful save to disk.",
             lastsave),
    command!("save", 1, [ADMIN, NOSCRIPT, NO_ASYNC_LOADING, NO_MULTI], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server", "Synchronously saves the database(s) to disk.", save),
    command!("bgsave", -1, [ADMIN, NOSCRIPT, NO_ASYNC_LOADING], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Asynchronously saves the database(s) to disk.", bgsave),
    command!("compact", -1, [ADMIN, NOSCRIPT], KeySpec::None, [ADMIN, SLOW, DANGEROUS], "server",
             "Compacts the database (or one db, or one type) in the background, reclaiming the space of deleted data.",
             compact),
    command!("compactrange", 5, [ADMIN, NOSCRIPT], KeySpec::None, [ADMIN, SLOW, DANGEROUS],
             "server",
             "Compacts the keys of one type in one database between two keys, in the background.",
             compactrange),
    command!("debug", -2, [ADMIN, NOSCRIPT, LOADING, STALE, PROTECTED], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "A container for debugging commands.", debug::debug),
    command!("shutdown", -1, [ADMIN, NOSCRIPT, LOADING, STALE, NO_MULTI, ALLOW_BUSY],
             KeySpec::None, [ADMIN, SLOW, DANGEROUS], "server",
             "Synchronously saves the database(s) to disk and shuts down the server.", shutdown),
    command!("latency", -2, [], KeySpec::None, [SLOW], "server",
             "A container for latency diagnostics commands.", latency::latency,
             subcommands: latency::SUBCOMMANDS),
    command!("memory", -2, [], KeySpec::None, [SLOW], "server",
             "A container for memory diagnostics commands.", memory::memory,
             subcommands: memory::SUBCOMMANDS),
    command!("slowlog", -2, [], KeySpec::None, [SLOW], "server",
             "A container for slow log commands.", slowlog,
             subcommands: SLOWLOG_SUBCOMMANDS),
];

/// CONFIG's subcommands.
#[rustfmt::skip]
const CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    command!("config|get", -3, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Returns the effective values of configuration parameters.", config::get),
    command!("config|set", -4, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Sets configuration parameters in-flight.", config::set,
             secrets: config::set_secret_args),
    command!("config|resetstat", 2, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server", "Resets the server's statistics.",
             config::resetstat),
    command!("config|rewrite", 2, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Persists the effective configuration to file.", config::rewrite),
    command!("config|help", 2, [LOADING, STALE], KeySpec::None, [SLOW], "server",
             "Returns helpful text about the different subcommands.", config::help),
];

/// SLOWLOG's subcommands.
#[rustfmt::skip]
const SLOWLOG_SUBCOMMANDS: &[CommandSpec] = &[
    command!("slowlog|get", -2, [ADMIN, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server", "Returns the slow log's entries.", slowlog_get),
    command!("slowlog|len", 2, [ADMIN, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Returns the number of entries in the slow log.", slowlog_len),
    command!("slowlog|reset", 2, [ADMIN, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server", "Clears all entries from the slow log.",
             slowlog_reset),
    command!("slowlog|help", 2, [LOADING, STALE], KeySpec::None, [SLOW], "server",
             "Show helpful text about the different subcommands.", slowlog_help),
];

/// TIME: [unix seconds, microseconds] as bulk strings.
fn time(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let now = crate::util::clock::since_epoch();
    Ok(Reply::Array(vec![
        Reply::bulk(now.as_secs().to_string()),
        Reply::bulk(now.subsec_micros().to_string()),
    ]))
}

/// The time of the last completed save (SAVE, BGSAVE or start-up).
pub fn last_save_time(server: &ServerState) -> u64 {
    server.storage.stats.last_save_secs.load(Ordering::Relaxed)
}

fn lastsave(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(last_save_time(ctx.server) as i64))
}

fn save(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    if ctx.storage().stats.save_in_progress.load(Ordering::SeqCst) {
        return Err(CmdError::err("Background save already in progress"));
    }
    take_backup(ctx.storage(), &ctx.server.config())
        .map_err(|e| CmdError::err(format!("Save failed: {e}")))?;
    Ok(Reply::ok())
}

/// Writes a backup (see `backup`), records its outcome for LASTSAVE and INFO, and deletes
/// backups older than `dump-expire` days.
fn take_backup(
    storage: &crate::storage::Storage,
    cfg: &crate::config::Config,
) -> Result<(), String> {
    let stats = &storage.stats;
    let covered = stats.changes_since_save.load(Ordering::Relaxed);
    let started = std::time::Instant::now();
    stats
        .save_started_ms
        .store(crate::util::clock::unix_ms(), Ordering::Relaxed);
    let result = crate::services::backup::create(storage, &cfg.dump_path, &cfg.dump_prefix);
    stats.save_started_ms.store(0, Ordering::Relaxed);
    stats
        .last_save_duration_secs
        .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
    match &result {
        Ok(dir) => {
            storage.record_save(covered);
            *stats.last_backup.lock() = dir.display().to_string();
            stats.last_save_failed.store(false, Ordering::Relaxed);
            crate::services::backup::expire_old(&cfg.dump_path, &cfg.dump_prefix, cfg.dump_expire);
        }
        Err(e) => {
            tracing::error!("backup failed: {e}");
            stats.last_save_failed.store(true, Ordering::Relaxed);
        }
    }
    result.map(|_| ())
}

/// A COMPACT / COMPACTRANGE type argument: `all` or one type.
fn compaction_types(arg: &[u8]) -> Result<Option<Vec<DataType>>, CmdError> {
    let t = match String::from_utf8_lossy(arg).to_ascii_lowercase().as_str() {
        "all" => return Ok(None),
        "string" | "strings" => DataType::String,
        "hash" | "hashes" => DataType::Hash,
        "list" | "lists" => DataType::List,
        "set" | "sets" => DataType::Set,
        "zset" | "zsets" => DataType::ZSet,
        "stream" | "streams" => DataType::Stream,
        _ => {
            return Err(CmdError::err(
                "invalid type, expected all, string, hash, list, set, zset or stream",
            ))
        }
    };
    Ok(Some(vec![t]))
}

/// A COMPACT / COMPACTRANGE database argument.
fn compaction_db(ctx: &Ctx<'_>, arg: &[u8]) -> Result<usize, CmdError> {
    args::int(arg)
        .ok()
        .and_then(|d| usize::try_from(d).ok())
        .filter(|&d| d < ctx.storage().databases())
        .ok_or_else(|| CmdError::err("DB index is out of range"))
}

/// Queues a compaction for the compact thread.
fn compact_in_background(
    ctx: &Ctx<'_>,
    db: Option<usize>,
    types: Option<Vec<DataType>>,
) -> CmdResult {
    ctx.server
        .compaction
        .submit(crate::services::compaction::Job {
            db,
            types,
            reason: "command",
        });
    Ok(Reply::ok())
}

/// COMPACT [db] [type] (Pika): a full compaction in a background thread; the compaction
/// filters drop the elements of deleted and overwritten collections. One argument is a
/// database if it is a number, a type otherwise.
fn compact(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (db, types) = match argv.len() {
        1 => (None, None),
        2 if args::int(&argv[1]).is_ok() => (Some(compaction_db(ctx, &argv[1])?), None),
        2 => (None, compaction_types(&argv[1])?),
        3 => (
            Some(compaction_db(ctx, &argv[1])?),
            compaction_types(&argv[2])?,
        ),
        _ => return Err(CmdError::Syntax),
    };
    compact_in_background(ctx, db, types)
}

/// COMPACTRANGE db type begin end (Pika). Keys are spread over cluster slots on disk, so a
/// key range is not one stretch of the files: the whole database is compacted for the type,
/// which covers the range.
fn compactrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let db = compaction_db(ctx, &argv[1])?;
    let types = compaction_types(&argv[2])?;
    compact_in_background(ctx, Some(db), types)
}

/// BGSAVE [SCHEDULE]: a backup written by a separate thread.
fn bgsave(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let schedule = match argv.get(1) {
        None => false,
        Some(a) if argv.len() == 2 && args::is(a, "schedule") => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    let running = &ctx.storage().stats.save_in_progress;
    if running.swap(true, Ordering::SeqCst) {
        if schedule {
            return Ok(Reply::Simple("Background saving scheduled".into()));
        }
        return Err(CmdError::err("Background save already in progress"));
    }
    let storage = Arc::clone(&ctx.server.storage);
    let cfg = ctx.server.config().clone();
    let spawned = std::thread::Builder::new()
        .name("bgsave".into())
        .spawn(move || {
            let _ = take_backup(&storage, &cfg);
            storage
                .stats
                .save_in_progress
                .store(false, Ordering::SeqCst);
        });
    if let Err(e) = spawned {
        running.store(false, Ordering::SeqCst);
        return Err(CmdError::err(format!("Background save failed: {e}")));
    }
    Ok(Reply::Simple("Background saving started".into()))
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT] (see `state::shutdown`). On success nothing
/// is sent back: the connection just closes, as in Redis. While slaves catch up the client
/// waits; if the shutdown is then aborted or its save fails, it gets an error.
fn shutdown(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut flags = ShutdownFlags::empty();
    let mut abort = false;
    for a in &argv[1..] {
        if args::is(a, "nosave") {
            flags |= ShutdownFlags::NOSAVE;
        } else if args::is(a, "save") {
            flags |= ShutdownFlags::SAVE;
        } else if args::is(a, "now") {
            flags |= ShutdownFlags::NOW;
        } else if args::is(a, "force") {
            flags |= ShutdownFlags::FORCE;
        } else if args::is(a, "abort") {
            abort = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if (abort && !flags.is_empty()) || flags.contains(ShutdownFlags::SAVE | ShutdownFlags::NOSAVE) {
        return Err(CmdError::Syntax);
    }
    if abort {
        return if ctx.server.abort_shutdown() {
            Ok(Reply::ok())
        } else {
            Err(CmdError::err("No shutdown in progress."))
        };
    }
    if !flags.contains(ShutdownFlags::NOSAVE) {
        let threshold = ctx.server.config().busy_reply_threshold;
        if let Some(busy) = ctx.server.scripts.busy_error(threshold) {
            return Err(CmdError::Other(busy.into()));
        }
    }
    tracing::warn!(?flags, client = %ctx.client.addr, "SHUTDOWN requested");
    match ctx.server.begin_shutdown(flags, Some(ctx.client.id)) {
        ShutdownStart::Stopping => {
            ctx.client.set_reply_mode(ReplyMode::Skip);
            ctx.client.close_after_reply();
            Ok(Reply::ok())
        }
        // Parked without a deadline: the shutdown ends the connection, or a cancel answers.
        ShutdownStart::Waiting => ctx.block(&[], None, Reply::Null),
        ShutdownStart::Failed => Err(CmdError::err(SHUTDOWN_FAILED)),
    }
}

/// The SLOWLOG container; the dispatcher always resolves a subcommand first.
fn slowlog(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Err(CmdError::WrongArity("slowlog".into()))
}

fn slowlog_get(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
            args::text(&argv[1])
        )));
    }
    let count = match argv.get(2) {
        None => 10,
        Some(a) => match args::int(a) {
            Ok(-1) => usize::MAX,
            Ok(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => return Err(CmdError::err("count should be greater than or equal to -1")),
        },
    };
    let entries = ctx.server.slowlog.entries(count);
    Ok(Reply::Array(
        entries
            .into_iter()
            .map(|e| {
                Reply::Array(vec![
                    Reply::Integer(e.id as i64),
                    Reply::Integer(e.unix_time as i64),
                    Reply::Integer(e.duration_us as i64),
                    Reply::Array(e.args.into_iter().map(Reply::Bulk).collect()),
                    Reply::bulk(e.client_addr),
                    Reply::bulk(e.client_name),
                ])
            })
            .collect(),
    ))
}

fn slowlog_len(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(ctx.server.slowlog.len() as i64))
}

fn slowlog_reset(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.server.slowlog.reset();
    Ok(Reply::ok())
}

fn slowlog_help(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    ))
}

/// MONITOR: from the next command on, this client gets a line per command the server runs.
fn monitor(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.client.request_monitor();
    Ok(Reply::ok())
}
