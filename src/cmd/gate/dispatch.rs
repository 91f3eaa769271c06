//! The one gate every command passes: lookup, arity, authentication, key locks, execution,
//! statistics, slow log, and the conversion of errors into replies.

use crate::storage::types::Writer;
use crate::storage::write::TransactionGroup;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;

use crate::cmd::gate::acl;
use crate::cmd::gate::spec::{CmdFlags, CommandSpec};
use crate::cmd::gate::table::CommandTable;
use crate::cmd::session::multi;
use crate::cmd::{CmdError, Ctx};
use crate::resp::Reply;
use crate::state::acl::log::Context;
use crate::state::client::Client;
use crate::state::ServerState;

/// Redis' text for an unknown command, quoting the first arguments.
fn unknown_command(argv: &[Bytes]) -> Reply {
    let mut args = String::new();
    for a in argv.iter().skip(1).take(32) {
        let shown: String = String::from_utf8_lossy(a).chars().take(128).collect();
        args.push_str(&format!("'{shown}' "));
    }
    Reply::err(format!(
        "ERR unknown command '{}', with args beginning with: {}",
        String::from_utf8_lossy(&argv[0])
            .chars()
            .take(128)
            .collect::<String>(),
        args
    ))
}

/// Resolves `argv` to its command (descending into subcommands). Errors are final replies.
fn resolve(argv: &[Bytes]) -> Result<(usize, &'static CommandSpec), Reply> {
    let table = CommandTable::get();
    // The table also names subcommands `parent|sub`; a client names them in two arguments.
    let top_level = !argv[0].contains(&b'|');
    let Some((idx, spec)) = table.lookup(&argv[0]).filter(|_| top_level) else {
        return Err(unknown_command(argv));
    };
    if spec.subcommands.is_empty() {
        return Ok((idx, spec));
    }
    // A container called bare runs its own handler; its arity decides (COMMAND lists every
    // command, CONFIG gets an arity error), as in Redis.
    let Some(sub) = argv.get(1) else {
        return Ok((idx, spec));
    };
    table.lookup_sub(spec, sub).ok_or_else(|| {
        Reply::err(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            String::from_utf8_lossy(sub)
                .chars()
                .take(128)
                .collect::<String>(),
            spec.name.to_ascii_uppercase()
        ))
    })
}

/// Runs one command for `client` and returns its reply. Inside MULTI the command is checked
/// and queued instead (see [`crate::cmd::session::multi`]).
pub fn execute(server: &ServerState, client: &Client, argv: &[Bytes]) -> Reply {
    if argv.is_empty() {
        return Reply::err("ERR empty command");
    }
    let (idx, spec) = match resolve(argv) {
        Ok(found) => found,
        Err(reply) => return reject(server, client, None, reply),
    };
    // ASKING holds for the one command after it, whatever becomes of that command.
    let _asking = (spec.name != "asking").then_some(super::cluster_route::AskingSpent(client));
    if !spec.arity_ok(argv.len()) {
        let reply = Reply::err(CmdError::WrongArity(spec.name.to_string()).to_string());
        return reject(server, client, Some((idx, spec)), reply);
    }
    // Before authentication, as in Redis: DEBUG is refused to everyone the setting excludes.
    if spec.flags.contains(CmdFlags::PROTECTED)
        && !crate::config::protected_action_allowed(
            &server.config().enable_debug_command,
            client.addr.ip(),
        )
    {
        let reply = Reply::err(format!(
            "ERR {} command not allowed. If the enable-debug-command option is set to \"local\", \
             you can run it from a local connection, otherwise you need to set this option in \
             the configuration file, and then restart the server.",
            spec.name.to_ascii_uppercase()
        ));
        return reject(server, client, Some((idx, spec)), reply);
    }
    if !client.is_authenticated() && !spec.flags.contains(CmdFlags::NO_AUTH) {
        let reply = Reply::err("NOAUTH Authentication required.");
        return reject(server, client, Some((idx, spec)), reply);
    }
    if let Err(kind) = acl::check(server, client, idx, spec, argv, || acl::context_of(client)) {
        return reject(
            server,
            client,
            Some((idx, spec)),
            acl::denied_reply(spec, kind),
        );
    }
    if let Some(cluster) = server.cluster.as_deref() {
        if !client.is_master_link() {
            let routed = super::cluster_route::check(server, cluster, client, spec, argv);
            if let Err(reply) = routed {
                return reject(server, client, Some((idx, spec)), reply);
            }
        }
    }
    if spec.flags.contains(CmdFlags::WRITE)
        && server.storage.is_replica()
        && server.config().slave_read_only
        && !client.is_master_link()
    {
        let reply = Reply::err("READONLY You can't write against a read only replica.");
        return reject(server, client, Some((idx, spec)), reply);
    }
    if !client.is_master_link() && writes_data(client, spec) {
        if let Some(refusal) = server.noreplicas_refusal() {
            return reject(server, client, Some((idx, spec)), Reply::err(refusal));
        }
    }
    // As Redis before each command: past maxmemory, keys go as maxmemory-policy says.
    if !client.is_master_link() {
        server.evict_if_over_maxmemory();
    }
    // As Redis refuses these past maxmemory: the disk is kept from filling up under RocksDB.
    if spec.flags.contains(CmdFlags::DENYOOM) {
        if let Some(refusal) = server.oom_refusal() {
            return reject(server, client, Some((idx, spec)), Reply::err(refusal));
        }
    }
    if client.in_subscribed_mode() && !allowed_while_subscribed(spec.name) {
        let reply = Reply::err(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.name
        ));
        return reject(server, client, Some((idx, spec)), reply);
    }
    if spec.flags.contains(CmdFlags::NO_MULTI) && client.in_multi() {
        let reply = Reply::err("ERR Command not allowed inside a transaction");
        return reject(server, client, Some((idx, spec)), reply);
    }
    if !spec.flags.contains(CmdFlags::ALLOW_BUSY) {
        let threshold = server.config().busy_reply_threshold;
        if let Some(busy) = server.scripts.busy_error(threshold) {
            return reject(server, client, Some((idx, spec)), Reply::err(busy));
        }
    }
    if !client.is_master_link() && server.pause.holds(|| may_write(server, client, spec, argv)) {
        // Parked until the pause ends, then the whole command runs again through this gate.
        client.request_block(crate::state::client::BlockRequest {
            keys: vec![Bytes::from_static(crate::state::pause::PAUSE_KEY)],
            deadline: None,
            on_timeout: Reply::Null,
            rerun_argv: None,
        });
        return Reply::Null;
    }
    client.touch(spec.name);
    let reply = match multi::queue_if_in_multi(client, spec, argv) {
        Some(queued) => queued,
        None => {
            let _current = crate::state::tracking::CurrentClient::enter(client.id);
            run(server, client, idx, spec, argv, None, false)
        }
    };
    // CLIENT CACHING applies to the next command, or to the whole transaction it starts.
    if client.tracking.caching_given() && !client.in_multi() && !spec.name.starts_with("client|") {
        client.tracking.spend_caching();
    }
    reply
}

/// Whether a command writes, EXEC counting what it queued (Redis' `is_write_command`).
fn writes_data(client: &Client, spec: &CommandSpec) -> bool {
    if spec.name == "exec" {
        return client.transaction().as_ref().is_some_and(|t| {
            t.queued
                .iter()
                .any(|argv| resolve_spec(argv).is_some_and(|s| s.flags.contains(CmdFlags::WRITE)))
        });
    }
    spec.flags.contains(CmdFlags::WRITE)
}

/// Whether a command may write (or replicate), what CLIENT PAUSE WRITE holds back: EXEC
/// counts what it queued, a script what it declares.
fn may_write(server: &ServerState, client: &Client, spec: &CommandSpec, argv: &[Bytes]) -> bool {
    let writes = |s: &CommandSpec, argv: &[Bytes]| {
        s.flags
            .intersects(CmdFlags::WRITE | CmdFlags::MAY_REPLICATE)
            && (!runs_script(s.name) || server.scripts.may_write(argv))
    };
    if spec.name == "exec" {
        return client.transaction().as_ref().is_some_and(|t| {
            t.queued
                .iter()
                .any(|argv| resolve_spec(argv).is_some_and(|s| writes(s, argv)))
        });
    }
    writes(spec, argv)
}

/// What a RESP2 client may run while subscribed, as in Redis.
fn allowed_while_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "psubscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "punsubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

/// The command `argv` names (descending into subcommands), if any.
pub fn resolve_spec(argv: &[Bytes]) -> Option<&'static CommandSpec> {
    if argv.is_empty() {
        return None;
    }
    resolve(argv).ok().map(|(_, spec)| spec)
}

/// Runs a command queued by MULTI (checked when it was queued), inside EXEC: the caller
/// holds the locks of every key it declares (or the whole store), so the key locks below are
/// granted without locking.
pub fn execute_queued(
    server: &ServerState,
    client: &Client,
    argv: &[Bytes],
    transaction: &TransactionGroup<'_>,
) -> Reply {
    match resolve(argv) {
        Ok((idx, spec)) => {
            // Permissions may have changed since the command was queued.
            if let Err(kind) = acl::check(server, client, idx, spec, argv, || Context::Multi) {
                return record_rejected(server, Some(idx), acl::denied_at_exec_reply(kind));
            }
            run(server, client, idx, spec, argv, Some(transaction), false)
        }
        Err(reply) => reply,
    }
}

/// Runs a command for `redis.call` inside a script, with the checks Redis makes there; the
/// caller holds the script's keys and `transaction` groups its writes. `refuse_oom`: the
/// script found the server out of memory when it started, may not ignore that, and has not
/// written yet (once it has, it cannot be stopped halfway). Returns the reply and whether the
/// command is a write.
pub fn execute_in_script(
    server: &ServerState,
    client: &Client,
    argv: &[Bytes],
    transaction: &TransactionGroup<'_>,
    read_only: bool,
    refuse_oom: bool,
) -> (Reply, bool) {
    let (idx, spec) = match resolve(argv) {
        Ok(found) => found,
        Err(_) if CommandTable::get().lookup(&argv[0]).is_none() => {
            return (
                Reply::err("ERR Unknown Redis command called from script"),
                false,
            )
        }
        Err(reply) => return (reply, false),
    };
    if !spec.arity_ok(argv.len()) {
        let reply = Reply::err("ERR Wrong number of args calling Redis command from script");
        return (record_rejected(server, Some(idx), reply), false);
    }
    if spec.flags.contains(CmdFlags::NOSCRIPT) {
        let reply = Reply::err("ERR This Redis command is not allowed from script");
        return (record_rejected(server, Some(idx), reply), false);
    }
    if let Err(kind) = acl::check(server, client, idx, spec, argv, || Context::Lua) {
        let reply = acl::denied_in_script_reply(kind);
        return (record_rejected(server, Some(idx), reply), false);
    }
    let write = spec.flags.contains(CmdFlags::WRITE);
    // A command that may replicate (PUBLISH, PFCOUNT) counts as a write here, as in Redis:
    // a read-only script then never needs holding back by CLIENT PAUSE WRITE.
    if read_only
        && spec
            .flags
            .intersects(CmdFlags::WRITE | CmdFlags::MAY_REPLICATE)
    {
        let reply = Reply::err("ERR Write commands are not allowed from read-only scripts.");
        return (record_rejected(server, Some(idx), reply), false);
    }
    if write && server.storage.is_replica() && server.config().slave_read_only {
        let reply = Reply::err("READONLY You can't write against a read only replica.");
        return (record_rejected(server, Some(idx), reply), false);
    }
    if write {
        if let Some(refusal) = server.noreplicas_refusal() {
            return (
                record_rejected(server, Some(idx), Reply::err(refusal)),
                false,
            );
        }
    }
    if refuse_oom && spec.flags.contains(CmdFlags::DENYOOM) {
        if let Some(refusal) = server.oom_refusal() {
            return (
                record_rejected(server, Some(idx), Reply::err(refusal)),
                false,
            );
        }
    }
    if matches!(spec.name, "xread" | "xreadgroup") {
        if let Some(text) = crate::cmd::types::streams::block_refused_in_script(argv) {
            return (Reply::err(text), false);
        }
    }
    if spec.flags.contains(CmdFlags::READONLY) && server.tracking.any() {
        // A script that reads has its declared keys remembered for a tracking caller.
        crate::state::tracking::note_script_read();
    }
    (
        run(server, client, idx, spec, argv, Some(transaction), true),
        write,
    )
}

fn reject(
    server: &ServerState,
    client: &Client,
    found: Option<(usize, &'static CommandSpec)>,
    reply: Reply,
) -> Reply {
    let reply = record_rejected(server, found.map(|(i, _)| i), reply);
    multi::on_rejected(server, client, found.map(|(_, s)| s), reply)
}

/// Whether `name` runs a script (whose declared keys are remembered for client-side caching
/// when the script reads, rather than for the command's own flags).
fn runs_script(name: &str) -> bool {
    matches!(
        name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

/// Client-side caching after a command ran, as Redis' `call()`: a read-only command remembers
/// its keys for a tracking client, a script its declared keys if it read anything.
fn remember_read_keys(
    server: &ServerState,
    client: &Client,
    spec: &CommandSpec,
    argv: &[Bytes],
    positions: &[usize],
) {
    let script = runs_script(spec.name);
    let reads = if script {
        crate::state::tracking::take_script_read()
    } else {
        spec.flags.contains(CmdFlags::READONLY)
    };
    if reads && !positions.is_empty() {
        server
            .tracking
            .remember(client, positions.iter().map(|&i| argv[i].as_ref()));
    }
}

/// How the dispatcher locks a command's keys while it runs.
enum KeyLocking {
    /// Until its writes have landed.
    Write,
    /// Until it has read: it waits for the writes pending on its keys, so that it never sees
    /// half of another worker's transaction or MSET.
    Read,
    None,
}

fn key_locking(spec: &CommandSpec, in_transaction: bool) -> KeyLocking {
    if runs_script(spec.name) {
        // The script locks the keys it declares itself, for the whole script.
        KeyLocking::None
    } else if spec.flags.contains(CmdFlags::WRITE)
        || spec
            .flags
            .contains(CmdFlags::READONLY | CmdFlags::MAY_REPLICATE)
    {
        // A read that may replicate writes too (PFCOUNT stores its cached count).
        KeyLocking::Write
    } else if spec.flags.contains(CmdFlags::READONLY) && !in_transaction {
        // A transaction's or script's keys are locked for it already.
        KeyLocking::Read
    } else {
        KeyLocking::None
    }
}

/// Runs a resolved, checked command: monitors, key locks, handler, statistics.
/// `from_script`: called by a script (`redis.call`), whose caller remembers keys instead.
fn run(
    server: &ServerState,
    client: &Client,
    idx: usize,
    spec: &'static CommandSpec,
    argv: &[Bytes],
    transaction: Option<&TransactionGroup<'_>>,
    from_script: bool,
) -> Reply {
    // A script is shown before what it runs (Redis feeds EVAL and FCALL as they start, the
    // only commands it does not show once done).
    if server.monitors.is_active() && !from_script && runs_script(spec.name) {
        server
            .monitors
            .feed(client, false, client.db(), &spec.shown_args(argv));
    }

    if !from_script && server.tracking.any() && runs_script(spec.name) {
        // Only a read of this script counts.
        crate::state::tracking::take_script_read();
    }
    let start = Instant::now();
    let positions = spec.key_positions(argv);
    let writer = Writer {
        command: spec.name,
        transaction,
    };
    let result = {
        // On a slave, the command sees master batches whole. The commands answered while a
        // script is busy skip it: the script holds it, and the applier may be waiting.
        let _view = (transaction.is_none()
            && !client.is_master_link()
            && !spec.flags.contains(CmdFlags::ALLOW_BUSY))
        .then(|| server.storage.view_whole_batches());
        let keys = || positions.iter().map(|&i| argv[i].as_ref());
        let locking = match positions.is_empty() {
            true => KeyLocking::None,
            false => key_locking(spec, transaction.is_some()),
        };
        let _write_locks =
            matches!(locking, KeyLocking::Write).then(|| server.storage.lock_keys(keys()));
        let _read_locks =
            matches!(locking, KeyLocking::Read).then(|| server.storage.lock_keys_to_read(keys()));
        if transaction.is_none() {
            if let Err(redirect) =
                super::cluster_route::recheck_under_locks(server, client, spec, argv)
            {
                return redirect;
            }
        }
        let mut ctx = Ctx {
            server,
            client,
            writer,
        };
        // The hot tier counts key lookups as accesses (LRU/LFU), except for the commands
        // Redis runs with LOOKUP_NOTOUCH.
        if spec.flags.contains(CmdFlags::NO_TOUCH) {
            crate::storage::cache::untouched(|| (spec.handler)(&mut ctx, argv))
        } else {
            (spec.handler)(&mut ctx, argv)
        }
    };
    let elapsed = start.elapsed();
    let elapsed_us = elapsed.as_micros() as u64;
    // As Redis' call(): a command is shown once it ran, so a transaction's commands come
    // between MULTI and EXEC, and a script's after the script. A blocked command running
    // again was shown when it first ran.
    if server.monitors.is_active()
        && !client.resumed.load(Ordering::Relaxed)
        && !spec
            .flags
            .intersects(CmdFlags::ADMIN.union(CmdFlags::SKIP_MONITOR))
    {
        server
            .monitors
            .feed(client, from_script, client.db(), &spec.shown_args(argv));
    }
    if !from_script && result.is_ok() && server.tracking.any() {
        remember_read_keys(server, client, spec, argv, &positions);
    }

    let stats = &server.stats;
    stats
        .total_commands_processed
        .fetch_add(1, Ordering::Relaxed);
    let cs = &stats.commands[idx];
    let cfg = server.config();
    // A command that must wait is counted once, by the run that finishes it (as in Redis).
    if !client.has_block_request() {
        cs.calls.fetch_add(1, Ordering::Relaxed);
        if cfg.latency_tracking {
            server
                .latency
                .commands
                .record(idx, elapsed.as_nanos() as u64);
        }
        if cfg.latency_monitor_threshold > 0 {
            let event = if spec.flags.contains(CmdFlags::FAST) {
                "fast-command"
            } else {
                "command"
            };
            server.latency.events.add_if_needed(
                event,
                elapsed_us / 1000,
                cfg.latency_monitor_threshold,
                crate::util::clock::unix_secs(),
            );
        }
    }
    cs.usec.fetch_add(elapsed_us, Ordering::Relaxed);
    maybe_slowlog(server, client, spec, argv, elapsed_us, &cfg);

    let counted = crate::cmd::scripting::take_error_counted();
    match result {
        Ok(reply) => {
            if let Reply::Error(text) = &reply {
                cs.failed_calls.fetch_add(1, Ordering::Relaxed);
                if !counted {
                    stats.record_error(text);
                }
            }
            reply
        }
        Err(e) => {
            cs.failed_calls.fetch_add(1, Ordering::Relaxed);
            let text = e.reply_text();
            stats.record_error(&text);
            if let CmdError::Storage(inner) = &e {
                tracing::error!(command = spec.name, "storage error: {inner}");
            }
            Reply::Error(text)
        }
    }
}

fn record_rejected(server: &ServerState, idx: Option<usize>, reply: Reply) -> Reply {
    if let Some(i) = idx {
        server.stats.commands[i]
            .rejected_calls
            .fetch_add(1, Ordering::Relaxed);
    }
    if let Reply::Error(text) = &reply {
        server.stats.record_error(text);
    }
    reply
}

fn maybe_slowlog(
    server: &ServerState,
    client: &Client,
    spec: &CommandSpec,
    argv: &[Bytes],
    elapsed_us: u64,
    cfg: &crate::config::Config,
) {
    if spec.flags.contains(CmdFlags::SKIP_SLOWLOG) {
        return;
    }
    let threshold = cfg.slowlog_log_slower_than;
    if threshold < 0 || elapsed_us < threshold as u64 {
        return;
    }
    let name = client
        .name()
        .map(|n| String::from_utf8_lossy(&n).into_owned())
        .unwrap_or_default();
    server.slowlog.push(
        &spec.shown_args(argv),
        elapsed_us,
        cfg.slowlog_max_len,
        client.addr.to_string(),
        name,
    );
}
