//! XINFO STREAM [FULL [COUNT n]], XINFO GROUPS, XINFO CONSUMERS, in Redis 7.0's shapes.

use bytes::Bytes;

use super::{entries_reply, id_reply, lossy, nogroup};
use crate::cmd::admin::command::help_reply;
use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::command;
use crate::resp::Reply;
use crate::storage::codec::stream::{GroupRecord, ENTRIES_READ_UNKNOWN};
use crate::storage::types::stream::StreamState;
use crate::util::clock::unix_ms;
use crate::util::stream_id::StreamId;

/// XINFO's subcommands; the key is argument 2.
pub(super) const XINFO_SUBCOMMANDS: &[CommandSpec] = &[
    command!(
        "xinfo|stream",
        -3,
        [READONLY],
        KeySpec::single(2),
        [READ, STREAM, SLOW],
        "stream",
        "Returns information about a stream.",
        xinfo_stream
    ),
    command!(
        "xinfo|groups",
        3,
        [READONLY],
        KeySpec::single(2),
        [READ, STREAM, SLOW],
        "stream",
        "Returns a list of the consumer groups of a stream.",
        xinfo_groups
    ),
    command!(
        "xinfo|consumers",
        4,
        [READONLY],
        KeySpec::single(2),
        [READ, STREAM, SLOW],
        "stream",
        "Returns a list of the consumers in a consumer group.",
        xinfo_consumers
    ),
    command!(
        "xinfo|help",
        2,
        [LOADING, STALE],
        KeySpec::None,
        [STREAM, SLOW],
        "stream",
        "Returns helpful text about the different subcommands.",
        xinfo_help
    ),
];

pub(super) fn xinfo_help(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    ))
}

fn field(name: &'static str, value: Reply) -> (Reply, Reply) {
    (Reply::Bulk(Bytes::from_static(name.as_bytes())), value)
}

fn int(n: u64) -> Reply {
    Reply::Integer(n as i64)
}

fn stream_for(ctx: &Ctx<'_>, key: &[u8]) -> Result<StreamState, CmdError> {
    ctx.stream()
        .read(key)?
        .ok_or_else(|| CmdError::err("no such key"))
}

fn entries_read_reply(g: &GroupRecord) -> Reply {
    if g.entries_read == ENTRIES_READ_UNKNOWN {
        Reply::Null
    } else {
        Reply::Integer(g.entries_read)
    }
}

fn lag_reply(ctx: &Ctx<'_>, s: &StreamState, g: &GroupRecord) -> Result<Reply, CmdError> {
    Ok(ctx.stream().lag(s, g)?.map_or(Reply::Null, Reply::Integer))
}

/// The counters every XINFO STREAM form starts with.
fn stream_header(ctx: &Ctx<'_>, s: &StreamState) -> Result<Vec<(Reply, Reply)>, CmdError> {
    let first = ctx.stream().first_id(s)?;
    // Radix tree figures: one key per node Redis would hold.
    let nodes = match first {
        Some(_) => {
            let first_node = ctx.stream().first_node(s)?.unwrap_or(s.counters.tail_node);
            s.counters.tail_node.saturating_sub(first_node) + 1
        }
        None => 0,
    };
    Ok(vec![
        field("length", int(s.len())),
        field("radix-tree-keys", int(nodes)),
        field(
            "radix-tree-nodes",
            int(if nodes == 0 { 1 } else { nodes * 2 }),
        ),
        field("last-generated-id", id_reply(s.counters.last_id)),
        field("max-deleted-entry-id", id_reply(s.counters.max_deleted_id)),
        field("entries-added", int(s.counters.entries_added)),
        field(
            "recorded-first-entry-id",
            id_reply(first.unwrap_or(StreamId::MIN)),
        ),
    ])
}

fn xinfo_stream(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let opts = &argv[3..];
    let syntax = || {
        CmdError::err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP.",
            lossy(&argv[1])
        ))
    };
    let full = match opts.len() {
        0 => None,
        1 | 3 => {
            if !args::is(&opts[0], "full") {
                return Err(syntax());
            }
            let mut count = 10i64;
            if opts.len() == 3 {
                if !args::is(&opts[1], "count") {
                    return Err(syntax());
                }
                count = args::int(&opts[2])?;
                if count < 0 {
                    count = 10;
                }
            }
            Some(count as usize)
        }
        _ => return Err(syntax()),
    };
    let s = stream_for(ctx, &argv[2])?;
    let mut map = stream_header(ctx, &s)?;
    let streams = ctx.stream();
    let Some(count) = full else {
        map.push(field("groups", int(s.counters.groups)));
        let edge = |last| -> Result<Reply, CmdError> {
            Ok(streams
                .edge_entry(&s, last)?
                .map_or(Reply::Null, super::entry_reply))
        };
        map.push(field("first-entry", edge(false)?));
        map.push(field("last-entry", edge(true)?));
        return Ok(Reply::Map(map));
    };
    let entries = streams.range_of(&s, StreamId::MIN, StreamId::MAX, count, false)?;
    map.push(field("entries", entries_reply(entries)));
    let now_groups = streams.groups_of(&s)?;
    let mut groups = Vec::with_capacity(now_groups.len());
    for g in now_groups {
        let pel = streams.pending_of(&s, &g.name, None, count)?;
        let pending = pel
            .into_iter()
            .map(|p| {
                Reply::Array(vec![
                    id_reply(p.id),
                    Reply::Bulk(Bytes::from(p.consumer)),
                    int(p.delivery_time_ms),
                    int(p.delivery_count),
                ])
            })
            .collect();
        let mut consumers = Vec::new();
        for (name, c) in streams.consumers_of(&s, &g.name)? {
            let own = streams.pending_of(&s, &g.name, Some(&name), count)?;
            consumers.push(Reply::Map(vec![
                field("name", Reply::Bulk(Bytes::from(name))),
                field("seen-time", int(c.seen_time_ms)),
                field("pel-count", int(c.pending)),
                field(
                    "pending",
                    Reply::Array(
                        own.into_iter()
                            .map(|p| {
                                Reply::Array(vec![
                                    id_reply(p.id),
                                    int(p.delivery_time_ms),
                                    int(p.delivery_count),
                                ])
                            })
                            .collect(),
                    ),
                ),
            ]));
        }
        groups.push(Reply::Map(vec![
            field("name", Reply::Bulk(Bytes::from(g.name))),
            field("last-delivered-id", id_reply(g.record.last_id)),
            field("entries-read", entries_read_reply(&g.record)),
            field("lag", lag_reply(ctx, &s, &g.record)?),
            field("pel-count", int(g.record.pending)),
            field("pending", Reply::Array(pending)),
            field("consumers", Reply::Array(consumers)),
        ]));
    }
    map.push(field("groups", Reply::Array(groups)));
    Ok(Reply::Map(map))
}

fn xinfo_groups(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let s = stream_for(ctx, &argv[2])?;
    let mut out = Vec::new();
    for g in ctx.stream().groups_of(&s)? {
        out.push(Reply::Map(vec![
            field("name", Reply::Bulk(Bytes::from(g.name))),
            field("consumers", int(g.record.consumers)),
            field("pending", int(g.record.pending)),
            field("last-delivered-id", id_reply(g.record.last_id)),
            field("entries-read", entries_read_reply(&g.record)),
            field("lag", lag_reply(ctx, &s, &g.record)?),
        ]));
    }
    Ok(Reply::Array(out))
}

fn xinfo_consumers(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let s = stream_for(ctx, &argv[2])?;
    if ctx.stream().group(&s, &argv[3])?.is_none() {
        return Err(nogroup(format!(
            "No such consumer group '{}' for key name '{}'",
            lossy(&argv[3]),
            lossy(&argv[2])
        )));
    }
    let now = unix_ms();
    let consumers = ctx.stream().consumers_of(&s, &argv[3])?;
    Ok(Reply::Array(
        consumers
            .into_iter()
            .map(|(name, c)| {
                Reply::Map(vec![
                    field("name", Reply::Bulk(Bytes::from(name))),
                    field("pending", int(c.pending)),
                    field("idle", int(now.saturating_sub(c.seen_time_ms))),
                ])
            })
            .collect(),
    ))
}
