//! Replication commands: SLAVEOF / REPLICAOF, ROLE, WAIT, and PIKA-REPLICATE (the handshake a
//! slave sends before the connection switches to the replication protocol).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::command;
use crate::replication::redis_feed::PsyncAnswer;
use crate::replication::{MasterAddr, PendingWait};
use crate::resp::Reply;

/// Commands of this group.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("slaveof", 3, [ADMIN, NOSCRIPT, STALE, NO_ASYNC_LOADING], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Sets a Redis server as a replica of another, or promotes it to being a master.",
             slaveof),
    command!("replicaof", 3, [ADMIN, NOSCRIPT, STALE, NO_ASYNC_LOADING], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Configures a server as replica of another, or promotes it to a master.", slaveof),
    command!("role", 1, [NOSCRIPT, LOADING, STALE, FAST], KeySpec::None,
             [ADMIN, FAST, DANGEROUS], "server",
             "Returns the replication role.", role),
    command!("wait", 3, [NOSCRIPT], KeySpec::None, [SLOW, CONNECTION], "generic",
             "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.",
             wait),
    command!("purgelogsto", -2, [ADMIN, NOSCRIPT], KeySpec::None, [ADMIN, SLOW, DANGEROUS],
             "server",
             "Deletes the binlog files numbered below the one given, unless a connected slave needs them.",
             purgelogsto),
    command!("pika-replicate", 2, [ADMIN, NOSCRIPT, STALE, NO_MULTI], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Turns this connection into a replication link (sent by slaves).", replicate),
    command!("psync", -3, [NO_ASYNC_LOADING, ADMIN, NOSCRIPT, NO_MULTI], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "An internal command used in replication.", psync),
    command!("sync", 1, [NO_ASYNC_LOADING, ADMIN, NOSCRIPT, NO_MULTI], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "An internal command used in replication.", sync),
    command!("replconf", -1, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "An internal command for configuring the replication stream.", replconf),
];

/// SLAVEOF host port | SLAVEOF NO ONE.
fn slaveof(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if ctx.server.cluster.is_some() {
        return Err(CmdError::err("REPLICAOF not allowed in cluster mode."));
    }
    if args::is(&argv[1], "no") && args::is(&argv[2], "one") {
        if ctx.server.follow_master(None)? {
            tracing::info!("promoted to master by SLAVEOF NO ONE");
        }
        return Ok(Reply::ok());
    }
    let port = args::int(&argv[2])
        .ok()
        .and_then(|p| u16::try_from(p).ok())
        .filter(|&p| p > 0)
        .ok_or_else(|| CmdError::err("Invalid master port"))?;
    let master = MasterAddr {
        host: String::from_utf8_lossy(&argv[1]).into_owned(),
        port,
    };
    if !ctx.server.follow_master(Some(master))? {
        return Ok(Reply::Simple(
            "OK Already connected to specified master".into(),
        ));
    }
    Ok(Reply::ok())
}

fn role(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let repl = &ctx.server.replication;
    let storage = ctx.storage();
    match repl.master() {
        None => {
            let slaves = repl
                .slaves()
                .iter()
                .map(|s| {
                    Reply::Array(vec![
                        Reply::bulk(s.ip.clone()),
                        Reply::bulk(s.port.to_string()),
                        Reply::bulk(s.acked.load(Ordering::Relaxed).to_string()),
                    ])
                })
                .collect();
            Ok(Reply::Array(vec![
                Reply::bulk("master"),
                Reply::Integer(storage.engine().latest_sequence() as i64),
                Reply::Array(slaves),
            ]))
        }
        Some(m) => {
            let offset = match repl.redis_position() {
                Some((_, offset)) => offset as i64,
                None => storage.master_position()?.map_or(-1, |(_, seq)| seq as i64),
            };
            Ok(Reply::Array(vec![
                Reply::bulk("slave"),
                Reply::bulk(m.host),
                Reply::Integer(i64::from(m.port)),
                Reply::bulk(repl.link().state.name()),
                Reply::Integer(offset),
            ]))
        }
    }
}

/// WAIT numreplicas timeout: waits until that many slaves applied every write committed so far.
fn wait(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let repl = &ctx.server.replication;
    if repl.is_slave() {
        return Err(CmdError::err(
            "WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
        ));
    }
    let wanted = args::int(&argv[1])?;
    let timeout = args::int(&argv[2])?;
    if timeout < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    let seq = ctx.storage().engine().latest_sequence();
    let wanted = wanted.max(0) as usize;
    let reached = repl.slaves_at(seq);
    if reached >= wanted || ctx.client.is_executing() {
        return Ok(Reply::Integer(reached as i64));
    }
    // The client parks without holding a worker; the WAIT watcher answers it.
    repl.add_wait(PendingWait {
        client_id: ctx.client.id,
        seq,
        wanted,
        deadline: (timeout > 0).then(|| Instant::now() + Duration::from_millis(timeout as u64)),
    });
    ctx.block(&[], None, Reply::Integer(reached as i64))
}

/// PIKA-REPLICATE listening-port: the slave's handshake; the connection is handed over to
/// replication once the +OK is out.
fn replicate(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let port = args::int(&argv[1])
        .ok()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| CmdError::err("Invalid listening port"))?;
    ctx.client.request_replica_handover(port);
    Ok(Reply::ok())
}

/// PSYNC replid offset: a Redis replica asks for the stream from `offset` of history
/// `replid` (`? -1`: from scratch). Answered `+CONTINUE` when the backlog holds it, else
/// `+FULLRESYNC`; the connection then becomes the replica's link (see
/// `replication::redis_replica`).
fn psync(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let server = ctx.server;
    let handle = server.replication_handle();
    let feed = &server.replication.redis_feed;
    feed.ensure_started(&handle)
        .map_err(|e| CmdError::err(format!("cannot start the replication stream: {e}")))?;
    let wanted = args::int(&argv[2]).ok().and_then(|o| u64::try_from(o).ok());
    let (answer, reader) = feed.psync(&argv[1], wanted);
    let reply = match &answer {
        PsyncAnswer::Continue { replid, from } => {
            tracing::info!(
                "redis replica {} continues at offset {}",
                ctx.client.addr,
                from + 1
            );
            server
                .replication
                .sync_partial_ok
                .fetch_add(1, Ordering::Relaxed);
            format!("CONTINUE {replid}")
        }
        PsyncAnswer::Full { replid, offset } => {
            tracing::info!(
                "full sync for redis replica {} (announced port {})",
                ctx.client.addr,
                ctx.client.announced_port().unwrap_or(0)
            );
            if args::is(&argv[1], "?") {
                server.replication.sync_full.fetch_add(1, Ordering::Relaxed);
            } else {
                server
                    .replication
                    .sync_partial_err
                    .fetch_add(1, Ordering::Relaxed);
                server.replication.sync_full.fetch_add(1, Ordering::Relaxed);
            }
            format!("FULLRESYNC {replid} {offset}")
        }
        // Only SYNC makes this one.
        PsyncAnswer::Sync { offset } => format!("FULLRESYNC {} {offset}", feed.replid()),
    };
    ctx.client.request_redis_replica_handover(answer, reader);
    Ok(Reply::Simple(reply.into()))
}

/// SYNC: the pre-PSYNC handshake (and `redis-cli --rdb`): no answer line, a sized RDB
/// (`$<len>`), then the stream; the connection becomes the replica's link.
fn sync(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let server = ctx.server;
    let feed = &server.replication.redis_feed;
    feed.ensure_started(&server.replication_handle())
        .map_err(|e| CmdError::err(format!("cannot start the replication stream: {e}")))?;
    let (answer, reader) = feed.psync(b"?", None);
    let offset = match answer {
        PsyncAnswer::Full { offset, .. } | PsyncAnswer::Sync { offset } => offset,
        PsyncAnswer::Continue { from, .. } => from,
    };
    server.replication.sync_full.fetch_add(1, Ordering::Relaxed);
    tracing::info!("full sync (SYNC) for {}", ctx.client.addr);
    ctx.client
        .request_redis_replica_handover(PsyncAnswer::Sync { offset }, reader);
    Ok(Reply::Sequence(Vec::new()))
}

/// REPLCONF option value ...: what a Redis replica tells about itself before PSYNC
/// (listening-port, ip-address, capa); ACK and GETACK belong to the replication link, which
/// is no longer a client connection then.
fn replconf(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    for pair in argv[1..].chunks(2) {
        let (option, value) = (&pair[0], &pair[1]);
        if args::is(option, "listening-port") {
            let port = args::int(value)
                .ok()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| CmdError::err("value is out of range"))?;
            ctx.client.set_announced_port(port);
        } else if args::is(option, "ip-address")
            || args::is(option, "capa")
            || args::is(option, "rdb-only")
            || args::is(option, "rdb-filter-only")
        {
        } else if args::is(option, "ack") || args::is(option, "getack") {
            return Ok(Reply::Sequence(Vec::new()));
        } else {
            return Err(CmdError::err(format!(
                "Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(option)
            )));
        }
    }
    Ok(Reply::ok())
}

/// PURGELOGSTO file: Pika's manual binlog purge (`write2file123`, `000123.log` or `123`).
fn purgelogsto(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let below = crate::replication::purge::parse_file_number(&String::from_utf8_lossy(&argv[1]))
        .ok_or_else(|| CmdError::err("invalid binlog file name"))?;
    crate::replication::purge::purge_below(&ctx.server.storage, &ctx.server.replication, below)
        .map_err(CmdError::err)?;
    Ok(Reply::ok())
}
