//! XGROUP and its subcommands, XACK, XPENDING, XCLAIM, XAUTOCLAIM.

use bytes::Bytes;

use super::{claimed_reply, id_reply, lossy, nogroup, parse_strict_id, range_end, range_start};
use crate::cmd::admin::command::help_reply;
use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::{args, CmdError, CmdResult, Ctx, EventClasses as Class};
use crate::command;
use crate::resp::Reply;
use crate::storage::codec::stream::ENTRIES_READ_UNKNOWN;
use crate::storage::types::stream::{AutoClaimed, ClaimOptions, Missing, PendingQuery};
use crate::util::clock::unix_ms;
use crate::util::stream_id::StreamId;

/// XGROUP's subcommands; the key is argument 2.
pub(super) const XGROUP_SUBCOMMANDS: &[CommandSpec] = &[
    command!(
        "xgroup|create",
        -5,
        [WRITE, DENYOOM],
        KeySpec::single(2),
        [WRITE, STREAM, SLOW],
        "stream",
        "Creates a consumer group.",
        xgroup_create,
        key_flags: &[&["RW", "insert"]]
    ),
    command!(
        "xgroup|setid",
        -5,
        [WRITE],
        KeySpec::single(2),
        [WRITE, STREAM, SLOW],
        "stream",
        "Sets the last-delivered ID of a consumer group.",
        xgroup_setid
    ),
    command!(
        "xgroup|destroy",
        4,
        [WRITE],
        KeySpec::single(2),
        [WRITE, STREAM, SLOW],
        "stream",
        "Destroys a consumer group.",
        xgroup_destroy,
        key_flags: &[&["RW", "delete"]]
    ),
    command!(
        "xgroup|createconsumer",
        5,
        [WRITE, DENYOOM],
        KeySpec::single(2),
        [WRITE, STREAM, SLOW],
        "stream",
        "Creates a consumer in a consumer group.",
        xgroup_createconsumer,
        key_flags: &[&["RW", "insert"]]
    ),
    command!(
        "xgroup|delconsumer",
        5,
        [WRITE],
        KeySpec::single(2),
        [WRITE, STREAM, SLOW],
        "stream",
        "Deletes a consumer from a consumer group.",
        xgroup_delconsumer,
        key_flags: &[&["RW", "delete"]]
    ),
    command!(
        "xgroup|help",
        2,
        [LOADING, STALE],
        KeySpec::None,
        [STREAM, SLOW],
        "stream",
        "Returns helpful text about the different subcommands.",
        xgroup_help
    ),
];

/// XGROUP HELP (the dispatcher routes every XGROUP call with arguments to a subcommand).
pub(super) fn xgroup_help(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    ))
}

/// Redis' reply to a subcommand with the wrong arguments.
fn subcommand_syntax(argv: &[Bytes]) -> CmdError {
    CmdError::err(format!(
        "unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        lossy(&argv[1]).chars().take(128).collect::<String>(),
        lossy(&argv[0]).to_ascii_uppercase()
    ))
}

/// The options of CREATE and SETID: MKSTREAM (CREATE only) and ENTRIESREAD.
fn group_options(argv: &[Bytes], create: bool) -> Result<(bool, i64), CmdError> {
    let mut make_stream = false;
    let mut entries_read = ENTRIES_READ_UNKNOWN;
    let mut i = 5;
    while i < argv.len() {
        if create && args::is(&argv[i], "mkstream") {
            make_stream = true;
            i += 1;
        } else if args::is(&argv[i], "entriesread") && i + 1 < argv.len() {
            entries_read = args::int(&argv[i + 1])?;
            if entries_read < 0 && entries_read != ENTRIES_READ_UNKNOWN {
                return Err(CmdError::err(
                    "value for ENTRIESREAD must be positive or -1",
                ));
            }
            i += 2;
        } else {
            return Err(subcommand_syntax(argv));
        }
    }
    Ok((make_stream, entries_read))
}

fn key_required() -> CmdError {
    CmdError::err(
        "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to \
         use the MKSTREAM option to create an empty stream automatically.",
    )
}

fn no_such_group(argv: &[Bytes]) -> CmdError {
    nogroup(format!(
        "No such consumer group '{}' for key name '{}'",
        lossy(&argv[3]),
        lossy(&argv[2])
    ))
}

/// The missing key or group of an XGROUP subcommand, as Redis reports it.
fn xgroup_missing(m: Missing, argv: &[Bytes]) -> CmdError {
    match m {
        Missing::Key => key_required(),
        Missing::Group => no_such_group(argv),
    }
}

/// `$` (None) or a strict id.
fn group_start(arg: &[u8]) -> Result<Option<StreamId>, CmdError> {
    if arg == b"$" {
        Ok(None)
    } else {
        parse_strict_id(arg).map(Some)
    }
}

fn xgroup_create(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (make_stream, entries_read) = group_options(argv, true)?;
    if argv.len() > 8 {
        return Err(subcommand_syntax(argv));
    }
    let exists = ctx.stream().read(&argv[2])?.is_some();
    if !exists && !make_stream {
        return Err(key_required());
    }
    let start = group_start(&argv[4])?;
    match ctx
        .stream()
        .create_group(&argv[2], &argv[3], start, make_stream, entries_read)?
    {
        Ok(true) => {
            ctx.notify(Class::STREAM, "xgroup-create", &argv[2]);
            Ok(Reply::ok())
        }
        Ok(false) => Err(CmdError::Other(
            "BUSYGROUP Consumer Group name already exists".into(),
        )),
        Err(m) => Err(xgroup_missing(m, argv)),
    }
}

fn xgroup_setid(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (_, entries_read) = group_options(argv, false)?;
    if argv.len() != 5 && argv.len() != 7 {
        return Err(subcommand_syntax(argv));
    }
    let Some(s) = ctx.stream().read(&argv[2])? else {
        return Err(key_required());
    };
    if ctx.stream().group(&s, &argv[3])?.is_none() {
        return Err(no_such_group(argv));
    }
    let id = if argv[4].as_ref() == b"$" {
        None
    } else {
        Some(super::parse_id(&argv[4], 0)?)
    };
    match ctx
        .stream()
        .set_group_id(&argv[2], &argv[3], id, entries_read)?
    {
        Ok(()) => {
            ctx.notify(Class::STREAM, "xgroup-setid", &argv[2]);
            Ok(Reply::ok())
        }
        Err(m) => Err(xgroup_missing(m, argv)),
    }
}

fn xgroup_destroy(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match ctx.stream().destroy_group(&argv[2], &argv[3])? {
        Ok(destroyed) => {
            if destroyed {
                ctx.notify(Class::STREAM, "xgroup-destroy", &argv[2]);
            }
            Ok(Reply::Integer(i64::from(destroyed)))
        }
        Err(m) => Err(xgroup_missing(m, argv)),
    }
}

fn xgroup_createconsumer(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match ctx.stream().create_consumer(&argv[2], &argv[3], &argv[4])? {
        Ok(created) => {
            if created {
                ctx.notify(Class::STREAM, "xgroup-createconsumer", &argv[2]);
            }
            Ok(Reply::Integer(i64::from(created)))
        }
        Err(m) => Err(xgroup_missing(m, argv)),
    }
}

fn xgroup_delconsumer(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let existed =
        ctx.notifies(Class::STREAM) && ctx.stream().has_consumer(&argv[2], &argv[3], &argv[4])?;
    match ctx.stream().delete_consumer(&argv[2], &argv[3], &argv[4])? {
        Ok(pending) => {
            if existed {
                ctx.notify(Class::STREAM, "xgroup-delconsumer", &argv[2]);
            }
            Ok(Reply::Integer(pending as i64))
        }
        Err(m) => Err(xgroup_missing(m, argv)),
    }
}

pub(super) fn xack(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    // Redis answers 0 for a missing key or group before it looks at the ids.
    let Some(s) = ctx.stream().read(&argv[1])? else {
        return Ok(Reply::Integer(0));
    };
    if ctx.stream().group(&s, &argv[2])?.is_none() {
        return Ok(Reply::Integer(0));
    }
    let ids = argv[3..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Reply::Integer(
        ctx.stream().ack(&argv[1], &argv[2], &ids)? as i64
    ))
}

/// `-NOGROUP No such key '<key>' or consumer group '<group>'`.
/// Whether a command created a consumer, for its `xgroup-createconsumer` event: looked at
/// before and after the command, only while stream events are on.
pub(super) struct ConsumerProbe<'a> {
    key: &'a [u8],
    group: &'a [u8],
    consumer: &'a [u8],
    /// `None` when stream events are off (nothing to find out).
    existed: Option<bool>,
}

impl<'a> ConsumerProbe<'a> {
    pub(super) fn before(
        ctx: &Ctx<'_>,
        key: &'a [u8],
        group: &'a [u8],
        consumer: &'a [u8],
    ) -> Result<ConsumerProbe<'a>, CmdError> {
        let existed = if ctx.notifies(Class::STREAM) {
            Some(ctx.stream().has_consumer(key, group, consumer)?)
        } else {
            None
        };
        Ok(ConsumerProbe {
            key,
            group,
            consumer,
            existed,
        })
    }

    pub(super) fn notify_if_created(&self, ctx: &Ctx<'_>) -> Result<(), CmdError> {
        if self.existed == Some(false)
            && ctx
                .stream()
                .has_consumer(self.key, self.group, self.consumer)?
        {
            ctx.notify(Class::STREAM, "xgroup-createconsumer", self.key);
        }
        Ok(())
    }
}

fn no_key_or_group(argv: &[Bytes]) -> CmdError {
    nogroup(format!(
        "No such key '{}' or consumer group '{}'",
        lossy(&argv[1]),
        lossy(&argv[2])
    ))
}

pub(super) fn xpending(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut extended = None;
    if argv.len() >= 6 {
        let mut at = 3;
        let mut min_idle = 0i64;
        if args::is(&argv[3], "idle") {
            min_idle = args::int(&argv[4])?;
            if argv.len() < 8 {
                return Err(CmdError::Syntax);
            }
            at += 2;
        }
        let count = args::int(&argv[at + 2])?.max(0) as usize;
        let start = range_start(&argv[at])?;
        let end = range_end(&argv[at + 1])?;
        let consumer = argv.get(at + 3);
        if argv.len() > at + 4 {
            return Err(CmdError::Syntax);
        }
        extended = Some((start, end, count, consumer, min_idle.max(0) as u64));
    } else if argv.len() != 3 {
        return Err(CmdError::Syntax);
    }
    let Some((start, end, count, consumer, min_idle)) = extended else {
        let summary = match ctx.stream().pending_summary(&argv[1], &argv[2])? {
            Ok(s) => s,
            Err(_) => return Err(no_key_or_group(argv)),
        };
        if summary.count == 0 {
            return Ok(Reply::Array(vec![
                Reply::Integer(0),
                Reply::Null,
                Reply::Null,
                Reply::NullArray,
            ]));
        }
        let opt_id = |id: Option<StreamId>| id.map_or(Reply::Null, id_reply);
        return Ok(Reply::Array(vec![
            Reply::Integer(summary.count as i64),
            opt_id(summary.first),
            opt_id(summary.last),
            Reply::Array(
                summary
                    .consumers
                    .into_iter()
                    .map(|(name, n)| {
                        Reply::Array(vec![
                            Reply::Bulk(Bytes::from(name)),
                            Reply::Bulk(Bytes::from(n.to_string())),
                        ])
                    })
                    .collect(),
            ),
        ]));
    };
    let query = PendingQuery {
        start,
        end,
        count,
        consumer: consumer.map(|c| c.as_ref()),
        min_idle_ms: min_idle,
    };
    let items = match ctx.stream().pending_range(&argv[1], &argv[2], query)? {
        Ok(items) => items,
        Err(_) => return Err(no_key_or_group(argv)),
    };
    let now = unix_ms();
    Ok(Reply::Array(
        items
            .into_iter()
            .map(|p| {
                Reply::Array(vec![
                    id_reply(p.id),
                    Reply::Bulk(Bytes::from(p.consumer)),
                    Reply::Integer(now.saturating_sub(p.delivery_time_ms) as i64),
                    Reply::Integer(p.delivery_count as i64),
                ])
            })
            .collect(),
    ))
}

/// True when `key` holds a stream with group `group` (XCLAIM and XAUTOCLAIM check it first).
fn has_group(ctx: &Ctx<'_>, key: &[u8], group: &[u8]) -> Result<bool, CmdError> {
    Ok(match ctx.stream().read(key)? {
        Some(s) => ctx.stream().group(&s, group)?.is_some(),
        None => false,
    })
}

pub(super) fn xclaim(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if !has_group(ctx, &argv[1], &argv[2])? {
        return Err(no_key_or_group(argv));
    }
    let min_idle = args::int(&argv[4])
        .map_err(|_| CmdError::err("Invalid min-idle-time argument for XCLAIM"))?
        .max(0) as u64;
    let mut ids = Vec::new();
    let mut j = 5;
    while j < argv.len() {
        match parse_strict_id(&argv[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = unix_ms() as i64;
    let mut delivery: Option<i64> = None;
    let mut opts = ClaimOptions::default();
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let opt = &argv[j];
        if args::is(opt, "force") {
            opts.force = true;
        } else if args::is(opt, "justid") {
            opts.just_id = true;
        } else if args::is(opt, "idle") && more {
            j += 1;
            let idle = args::int(&argv[j])
                .map_err(|_| CmdError::err("Invalid IDLE option argument for XCLAIM"))?;
            delivery = Some(now.saturating_sub(idle));
        } else if args::is(opt, "time") && more {
            j += 1;
            delivery = Some(
                args::int(&argv[j])
                    .map_err(|_| CmdError::err("Invalid TIME option argument for XCLAIM"))?,
            );
        } else if args::is(opt, "retrycount") && more {
            j += 1;
            let n = args::int(&argv[j])
                .map_err(|_| CmdError::err("Invalid RETRYCOUNT option argument for XCLAIM"))?;
            opts.retry_count = (n >= 0).then_some(n as u64);
        } else if args::is(opt, "lastid") && more {
            j += 1;
            opts.last_id = Some(parse_strict_id(&argv[j])?);
        } else {
            return Err(CmdError::err(format!(
                "Unrecognized XCLAIM option '{}'",
                lossy(opt)
            )));
        }
        j += 1;
    }
    opts.delivery_time_ms = delivery.map(|d| if d < 0 || d > now { now } else { d } as u64);
    let just_id = opts.just_id;
    let probe = ConsumerProbe::before(ctx, &argv[1], &argv[2], &argv[3])?;
    match ctx
        .stream()
        .claim(&argv[1], &argv[2], &argv[3], min_idle, &ids, &opts)?
    {
        Ok(claimed) => {
            probe.notify_if_created(ctx)?;
            Ok(claimed_reply(claimed, just_id))
        }
        Err(_) => Err(no_key_or_group(argv)),
    }
}

pub(super) fn xautoclaim(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let min_idle = args::int(&argv[4])
        .map_err(|_| CmdError::err("Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0) as u64;
    let start = range_start(&argv[5])?;
    let mut count = 100u64;
    let mut just_id = false;
    let mut j = 6;
    while j < argv.len() {
        if args::is(&argv[j], "count") && j + 1 < argv.len() {
            let max = (i64::MAX / 16) as u64;
            count = args::int(&argv[j + 1])
                .ok()
                .filter(|&n| n >= 1 && n as u64 <= max)
                .ok_or_else(|| CmdError::err("COUNT must be > 0"))? as u64;
            j += 2;
        } else if args::is(&argv[j], "justid") {
            just_id = true;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let probe = ConsumerProbe::before(ctx, &argv[1], &argv[2], &argv[3])?;
    let AutoClaimed {
        next,
        claimed,
        deleted,
    } = match ctx.stream().auto_claim(
        &argv[1], &argv[2], &argv[3], min_idle, start, count, just_id,
    )? {
        Ok(found) => found,
        Err(_) => return Err(no_key_or_group(argv)),
    };
    probe.notify_if_created(ctx)?;
    Ok(Reply::Array(vec![
        id_reply(next),
        claimed_reply(claimed, just_id),
        Reply::Array(deleted.into_iter().map(id_reply).collect()),
    ]))
}
