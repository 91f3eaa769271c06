//! DEBUG: the subset of Redis' testing aid that makes sense over RocksDB (SLEEP, DIGEST,
//! DIGEST-VALUE, SET-ACTIVE-EXPIRE, ERROR, LOG, PANIC, POWER-LOSS, HELP). Commands that depend on Redis'
//! in-memory internals (RELOAD, LOADAOF, JMAP, OBJECT ...) or on replication (CHANGE-REPL-ID)
//! answer with an error. PANIC differs from Redis on purpose: Redis aborts, pika contains the
//! panic in the worker and answers an error.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;

use crate::cmd::admin::command::help_reply;
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::resp::Reply;
use crate::storage::expire::ACTIVE_EXPIRE_ENABLED;
use crate::util::number::parse_f64;
use crate::util::redis_digest::to_hex;

/// Longest DEBUG SLEEP honoured, so a typo cannot park a worker for days.
const MAX_SLEEP_SECS: f64 = 3600.0;

/// DEBUG subcommand [args].
pub(super) fn debug(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let sub = args::lower(&argv[1]);
    let argc = argv.len();
    match sub.as_str() {
        "help" if argc == 2 => Ok(help()),
        "sleep" if argc == 3 => {
            // Redis parses with atof: anything unparsable sleeps 0 seconds.
            let secs = parse_f64(&argv[2]).unwrap_or(0.0);
            if secs.is_finite() && secs > 0.0 {
                std::thread::sleep(Duration::from_secs_f64(secs.min(MAX_SLEEP_SECS)));
            }
            Ok(Reply::ok())
        }
        "digest" if argc == 2 => {
            let d = ctx.storage().digest()?;
            Ok(Reply::Simple(to_hex(&d).into()))
        }
        "digest-value" if argc >= 2 => {
            let mut out = Vec::with_capacity(argc - 2);
            for key in &argv[2..] {
                let d = ctx.keys().digest_value(key)?;
                out.push(Reply::Simple(to_hex(&d).into()));
            }
            Ok(Reply::Array(out))
        }
        "set-active-expire" if argc == 3 => {
            let on = args::int(&argv[2]).unwrap_or(0) != 0;
            ACTIVE_EXPIRE_ENABLED.store(on, Ordering::Relaxed);
            Ok(Reply::ok())
        }
        // Tunes how Redis packs big list elements in memory; every element is its own RocksDB
        // entry here, so there is nothing to tune.
        "quicklist-packed-threshold" if argc == 3 => {
            if crate::config::parse_memory(&args::text(&argv[2])).is_none() {
                return Err(CmdError::err("argument must be a memory value"));
            }
            Ok(Reply::ok())
        }
        // Saving and reloading the dataset: the data is already on disk, so a reload is a
        // memtable flush (kept for tools and tests that call it).
        "reload" if argc == 2 => {
            ctx.storage().save()?;
            Ok(Reply::ok())
        }
        "error" if argc == 3 => Ok(Reply::Error(args::text(&argv[2]).into())),
        "log" if argc == 3 => {
            tracing::warn!("DEBUG LOG: {}", args::text(&argv[2]));
            Ok(Reply::ok())
        }
        // Testing aid for durability: the process ends as if the machine lost power.
        "power-loss" if argc == 2 => {
            crate::storage::durability::simulate_power_loss(ctx.storage().engine())
        }
        // Proves the worker contains panics: the client gets an error, the server lives on.
        "panic" if argc == 2 => panic!("DEBUG PANIC requested by client {}", ctx.client.id),
        "loadaof" | "jmap" | "object" | "restart" | "crash-and-recover" | "change-repl-id" => {
            Err(CmdError::err(format!(
                "DEBUG {} is not supported",
                sub.to_ascii_uppercase()
            )))
        }
        _ => Err(CmdError::err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            args::text(&argv[1]).chars().take(128).collect::<String>()
        ))),
    }
}

fn help() -> Reply {
    help_reply(
        "DEBUG",
        &[
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "PANIC",
            "    Panic inside the command; the server contains it and answers an error.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "ERROR <string>",
            "    Return a Redis protocol error with <string> as message. Useful for clients",
            "    unit tests to simulate Redis errors.",
            "LOG <message>",
            "    Write <message> to the server log.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not",
            "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
            "    default.",
            "QUICKLIST-PACKED-THRESHOLD <size>",
            "    Accepted for compatibility; list elements are stored one per entry.",
            "POWER-LOSS",
            "    Exit at once as if the machine lost power: at the next start the binlog keeps",
            "    only what was fsynced (see binlog-fsync).",
            "RELOAD",
            "    Flush the dataset to disk (it is always reloaded from there).",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
        ],
    )
}
