//! CONFIG GET / SET / RESETSTAT / REWRITE / HELP over the live configuration.
//!
//! The configuration is an immutable snapshot behind an `ArcSwap`: readers never lock, and
//! CONFIG SET builds a changed copy and swaps it in. Concurrent CONFIG SETs are serialised so
//! that neither can overwrite the other's change with a stale copy.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::cmd::admin::command::help_reply;
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::config::Config;
use crate::resp::Reply;

/// Held while a CONFIG SET computes and installs its new snapshot.
static SET_LOCK: Mutex<()> = Mutex::new(());

/// The CONFIG container itself; the dispatcher always resolves a subcommand first.
pub(super) fn config(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Err(CmdError::WrongArity("config".into()))
}

/// CONFIG GET pattern [pattern ...]: a map of matching directives, each listed once.
pub(super) fn get(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cfg = ctx.server.config();
    let mut seen = HashSet::new();
    let mut pairs = Vec::new();
    for pattern in &argv[2..] {
        for (name, value) in cfg.get_matching(pattern) {
            if seen.insert(name.clone()) {
                pairs.push((Reply::bulk(name), Reply::bulk(value)));
            }
        }
    }
    Ok(Reply::Map(pairs))
}

/// CONFIG SET name value [name value ...]: all or nothing. Protected directives (paths the
/// server writes to) need `enable-protected-configs`, checked against the client's address.
pub(super) fn set(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if !argv.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let pairs: Vec<(String, String)> = argv[2..]
        .chunks_exact(2)
        .map(|p| (args::text(&p[0]), args::text(&p[1])))
        .collect();
    let _guard = SET_LOCK.lock();
    let mut next = (**ctx.server.config()).clone();
    next.set_many_from(&pairs, ctx.client.addr.ip())
        .map_err(CmdError::err)?;
    // The only change that can still fail; nothing has been applied yet, so failing here
    // leaves every directive as it was.
    let new_listener = listen_on_changed_port(&ctx.server.config(), &next, &pairs)?;
    let level_changed = next.loglevel != ctx.server.config().loglevel;
    if level_changed {
        crate::logging::set_level(&next.loglevel);
    }
    let tier = next.tier_settings();
    if tier != ctx.server.config().tier_settings() {
        ctx.server.storage.cache().configure(&tier);
    }
    ctx.server.set_config(next);
    if let Some(listener) = new_listener {
        ctx.server.listener_handoff.offer(listener);
    }
    // A lower limit or another policy applies at once, as in Redis.
    ctx.server.evict_if_over_maxmemory();
    Ok(Reply::ok())
}

/// When CONFIG SET changes `port`, opens the new listening socket (Redis' apply step for
/// `port`): a port in use fails the whole command with Redis' words.
fn listen_on_changed_port(
    current: &Config,
    next: &Config,
    pairs: &[(String, String)],
) -> Result<Option<std::net::TcpListener>, CmdError> {
    if next.port == current.port {
        return Ok(None);
    }
    let failed = |e: std::io::Error| {
        tracing::warn!("CONFIG SET port {}: {e}", next.port);
        let name = pairs
            .iter()
            .map(|(name, _)| name.as_str())
            .find(|name| crate::config::lookup(name).is_some_and(|d| d.name == "port"))
            .unwrap_or("port");
        CmdError::err(format!(
            "CONFIG SET failed (possibly related to argument '{name}') - Unable to listen on this port. Check server logs."
        ))
    };
    let listener = std::net::TcpListener::bind((next.bind.as_str(), next.port)).map_err(failed)?;
    listener.set_nonblocking(true).map_err(failed)?;
    tracing::info!("ready to accept connections on {}:{}", next.bind, next.port);
    Ok(Some(listener))
}

/// Positions of the values of sensitive directives (passwords) in a CONFIG SET, which the
/// slow log and MONITOR show as `(redacted)`. Every pair is looked at, even after an unknown
/// name, as Redis does, so an error elsewhere in the command never reveals a password.
pub(super) fn set_secret_args(argv: &[Bytes]) -> Vec<usize> {
    (2..argv.len())
        .step_by(2)
        .filter(|&i| i + 1 < argv.len() && crate::config::is_sensitive(&args::text(&argv[i])))
        .map(|i| i + 1)
        .collect()
}

/// CONFIG RESETSTAT: zeroes INFO's counters (the slow log is kept, as in Redis).
pub(super) fn resetstat(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.server.stats.reset();
    ctx.server.latency.commands.reset();
    let st = &ctx.server.storage.stats;
    for c in [
        &st.expired_keys,
        &st.evicted_keys,
        &st.keyspace_hits,
        &st.keyspace_misses,
    ] {
        c.store(0, Ordering::Relaxed);
    }
    ctx.server.storage.cache().reset_stats();
    Ok(Reply::ok())
}

/// CONFIG REWRITE: writes the live values back into the config file, keeping its comments.
pub(super) fn rewrite(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let _guard = SET_LOCK.lock();
    ctx.server.config().rewrite().map_err(CmdError::err)?;
    Ok(Reply::ok())
}

/// CONFIG HELP.
pub(super) fn help(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    ))
}
