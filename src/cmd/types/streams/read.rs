//! XREAD and XREADGROUP, blocking or not.
//!
//! A blocked reader is parked like BLPOP's clients and runs again when one of its streams is
//! written. XREAD first pins `$` to the id it stood for (the re-run must not move it up);
//! XREADGROUP re-reads `>` through its group, and fails when its stream or group vanished
//! meanwhile, as Redis answers such clients.

use std::time::Duration;

use bytes::Bytes;

use super::{claimed_reply, entries_reply, lossy, nogroup, parse_strict_id};
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::resp::{Protocol, Reply};
use crate::storage::types::stream::{Missing, ReadFrom};
use crate::storage::StorageError;
use crate::util::stream_id::StreamId;

/// The parsed options of XREAD/XREADGROUP.
struct ReadArgs<'a> {
    /// `None`: do not block; `Some(None)`: block forever.
    block: Option<Option<Duration>>,
    count: usize,
    group: Option<(&'a Bytes, &'a Bytes)>,
    no_ack: bool,
    keys: &'a [Bytes],
    ids: &'a [Bytes],
    /// Position of the first id in argv.
    ids_at: usize,
}

/// Redis' refusal of XREAD/XREADGROUP with BLOCK from a script (nothing may wait there, and
/// Redis keeps this older error rather than answering as if the wait timed out).
pub fn block_refused_in_script(argv: &[Bytes]) -> Option<String> {
    let mut options = argv.iter().skip(1).take_while(|a| !args::is(a, "streams"));
    options.any(|a| args::is(a, "block")).then(|| {
        format!(
            "ERR {} command is not allowed with BLOCK option from scripts",
            String::from_utf8_lossy(&argv[0])
        )
    })
}

/// BLOCK's argument: milliseconds, 0 for ever.
fn block_timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let ms =
        args::int(arg).map_err(|_| CmdError::err("timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    if ms > i64::MAX / 2 {
        return Err(CmdError::err("timeout is out of range"));
    }
    Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
}

fn parse(argv: &[Bytes], group_read: bool) -> Result<ReadArgs<'_>, CmdError> {
    let mut out = ReadArgs {
        block: None,
        count: 0,
        group: None,
        no_ack: false,
        keys: &[],
        ids: &[],
        ids_at: 0,
    };
    let mut streams_at = None;
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        let o = &argv[i];
        if args::is(o, "block") && more > 0 {
            i += 1;
            out.block = Some(block_timeout(&argv[i])?);
        } else if args::is(o, "count") && more > 0 {
            i += 1;
            out.count = args::int(&argv[i])?.max(0) as usize;
        } else if args::is(o, "streams") && more > 0 {
            let first = i + 1;
            let n = argv.len() - first;
            if !n.is_multiple_of(2) {
                return Err(CmdError::err(
                    "Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            streams_at = Some((first, n / 2));
            break;
        } else if args::is(o, "group") && more >= 2 {
            if !group_read {
                return Err(CmdError::err(
                    "The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            out.group = Some((&argv[i + 1], &argv[i + 2]));
            i += 2;
        } else if args::is(o, "noack") {
            if !group_read {
                return Err(CmdError::err(
                    "The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            out.no_ack = true;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let Some((first, n)) = streams_at else {
        return Err(CmdError::Syntax);
    };
    if group_read && out.group.is_none() {
        return Err(CmdError::err("Missing GROUP option for XREADGROUP"));
    }
    out.keys = &argv[first..first + n];
    out.ids = &argv[first + n..];
    out.ids_at = first + n;
    Ok(out)
}

/// The reply of a read: per stream served, its name and entries (a map in RESP3).
fn streams_reply(ctx: &Ctx<'_>, served: Vec<(Bytes, Reply)>) -> Reply {
    if ctx.client.protocol() == Protocol::Resp3 {
        Reply::Map(
            served
                .into_iter()
                .map(|(k, v)| (Reply::Bulk(k), v))
                .collect(),
        )
    } else {
        Reply::Array(
            served
                .into_iter()
                .map(|(k, v)| Reply::Array(vec![Reply::Bulk(k), v]))
                .collect(),
        )
    }
}

pub(super) fn xread(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let a = parse(argv, false)?;
    // Resolve every id first (errors before any reply), `$` to the stream's last id.
    let mut after = Vec::with_capacity(a.keys.len());
    let mut pinned = false;
    for (key, id) in a.keys.iter().zip(a.ids) {
        let s = ctx.stream().read(key)?;
        let id = match id.as_ref() {
            b"$" => {
                pinned = true;
                s.as_ref().map_or(StreamId::MIN, |s| s.counters.last_id)
            }
            b">" => {
                return Err(CmdError::err(
                    "The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ))
            }
            other => parse_strict_id(other)?,
        };
        after.push((s, id));
    }
    let mut served = Vec::new();
    for (key, (s, id)) in a.keys.iter().zip(&after) {
        let Some(s) = s else { continue };
        if !ctx.stream().has_entries_after(s, *id)? {
            continue;
        }
        let Some(start) = id.successor() else {
            continue;
        };
        let entries = ctx
            .stream()
            .range_of(s, start, StreamId::MAX, a.count, false)?;
        served.push((key.clone(), entries_reply(entries)));
    }
    if !served.is_empty() {
        return Ok(streams_reply(ctx, served));
    }
    let Some(timeout) = a.block else {
        return Ok(Reply::NullArray);
    };
    let rerun = (pinned || a.count == 0).then(|| {
        let mut v = argv.to_vec();
        for (i, (_, id)) in after.iter().enumerate() {
            v[a.ids_at + i] = Bytes::from(id.to_string());
        }
        with_blocked_count(v, &a)
    });
    ctx.block_as(a.keys, timeout, Reply::NullArray, rerun)
}

/// How many entries per stream a reader that blocked without COUNT gets (Redis'
/// `XREAD_BLOCKED_DEFAULT_COUNT`), so a woken client is not sent a huge backlog at once.
const BLOCKED_DEFAULT_COUNT: &str = "1000";

/// `argv` with `COUNT 1000` added (last, before STREAMS) when it had no COUNT or COUNT 0.
fn with_blocked_count(mut argv: Vec<Bytes>, a: &ReadArgs<'_>) -> Vec<Bytes> {
    if a.count == 0 {
        let streams_at = a.ids_at - a.keys.len() - 1;
        argv.splice(
            streams_at..streams_at,
            [
                Bytes::from_static(b"COUNT"),
                Bytes::from_static(BLOCKED_DEFAULT_COUNT.as_bytes()),
            ],
        );
    }
    argv
}

pub(super) fn xreadgroup(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let a = parse(argv, true)?;
    let Some((group, consumer)) = a.group else {
        return Err(CmdError::Syntax);
    };
    let resumed = ctx
        .client
        .resumed
        .load(std::sync::atomic::Ordering::Relaxed);
    let mut froms = Vec::with_capacity(a.keys.len());
    for (key, id) in a.keys.iter().zip(a.ids) {
        let s = match ctx.stream().read(key) {
            Err(StorageError::WrongType) if resumed => {
                return Err(CmdError::Other(
                    "UNBLOCKED the stream key no longer exists".into(),
                ))
            }
            other => other?,
        };
        let exists = match &s {
            Some(s) => ctx.stream().group(s, group)?.is_some(),
            None => false,
        };
        if !exists {
            if resumed {
                return Err(match s {
                    None => CmdError::Other("UNBLOCKED the stream key no longer exists".into()),
                    Some(_) => nogroup(
                        "the consumer group this client was blocked on no longer exists".into(),
                    ),
                });
            }
            return Err(nogroup(format!(
                "No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                lossy(key),
                lossy(group)
            )));
        }
        let from = match id.as_ref() {
            b"$" => {
                return Err(CmdError::err(
                    "The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ))
            }
            b">" => ReadFrom::New,
            other => ReadFrom::History(parse_strict_id(other)?),
        };
        froms.push(from);
    }
    let mut served = Vec::new();
    for (key, from) in a.keys.iter().zip(froms) {
        let probe = super::groups::ConsumerProbe::before(ctx, key, group, consumer)?;
        let got = ctx
            .stream()
            .read_group(key, group, consumer, from, a.count, a.no_ack)?;
        probe.notify_if_created(ctx)?;
        match got {
            Ok(Some(items)) => served.push((key.clone(), claimed_reply(items, false))),
            Ok(None) => {}
            // Gone between the checks above and the read (another command of this batch).
            Err(Missing::Key | Missing::Group) => {}
        }
    }
    if !served.is_empty() {
        return Ok(streams_reply(ctx, served));
    }
    let Some(timeout) = a.block else {
        return Ok(Reply::NullArray);
    };
    let rerun = (a.count == 0).then(|| with_blocked_count(argv.to_vec(), &a));
    ctx.block_as(a.keys, timeout, Reply::NullArray, rerun)
}
