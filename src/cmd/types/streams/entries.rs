//! XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XSETID.

use bytes::Bytes;

use super::{entries_reply, id_reply, parse_id_form, parse_strict_id, range_end, range_start};
use crate::cmd::{args, CmdError, CmdResult, Ctx, EventClasses as Class};
use crate::resp::Reply;
use crate::storage::collection::EncodingLimits;
use crate::storage::types::stream::{AddId, AddOutcome, SetIdOutcome, TrimSpec, TrimStrategy};
use crate::util::stream_id::StreamId;

/// The options of XADD and XTRIM, parsed as Redis' `streamParseAddOrTrimArgsOrReply` does.
struct AddOrTrim {
    trim: Option<TrimSpec>,
    no_create: bool,
    /// XADD's id and the position of its argument (`argv.len()` when there is none).
    id: AddId,
    id_at: usize,
    /// `0-0` given in full (XADD refuses it).
    zero_id: bool,
}

fn parse_add_or_trim(ctx: &Ctx<'_>, argv: &[Bytes], xadd: bool) -> Result<AddOrTrim, CmdError> {
    let mut strategy: Option<TrimStrategy> = None;
    let mut approx = false;
    let mut limit: Option<i64> = None;
    let mut out = AddOrTrim {
        trim: None,
        no_create: false,
        id: AddId::Auto,
        id_at: argv.len(),
        zero_id: false,
    };
    let incompatible = || {
        CmdError::err("syntax error, MAXLEN and MINID options at the same time are not compatible")
    };
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = &argv[i];
        if xadd && opt.as_ref() == b"*" {
            out.id_at = i;
            break;
        } else if args::is(opt, "maxlen") && more > 0 {
            if strategy.is_some() {
                return Err(incompatible());
            }
            approx = trim_operator(argv, &mut i, more);
            let max = args::int(&argv[i + 1])?;
            if max < 0 {
                return Err(CmdError::err("The MAXLEN argument must be >= 0."));
            }
            strategy = Some(TrimStrategy::MaxLen(max as u64));
            i += 1;
        } else if args::is(opt, "minid") && more > 0 {
            if strategy.is_some() {
                return Err(incompatible());
            }
            approx = trim_operator(argv, &mut i, more);
            strategy = Some(TrimStrategy::MinId(parse_strict_id(&argv[i + 1])?));
            i += 1;
        } else if args::is(opt, "limit") && more > 0 {
            let l = args::int(&argv[i + 1])?;
            if l < 0 {
                return Err(CmdError::err("The LIMIT argument must be >= 0."));
            }
            limit = Some(l);
            i += 1;
        } else if xadd && args::is(opt, "nomkstream") {
            out.no_create = true;
        } else if xadd {
            let p = parse_id_form(opt, 0, true, true)?;
            out.id = match p.seq {
                Some(seq) => AddId::Explicit(StreamId::new(p.ms, seq)),
                None => AddId::AutoSeq(p.ms),
            };
            out.zero_id = p.seq == Some(0) && p.ms == 0;
            out.id_at = i;
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if limit.is_some_and(|l| l != 0) && strategy.is_none() {
        return Err(CmdError::err(
            "syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    let Some(strategy) = strategy else {
        if !xadd {
            return Err(CmdError::err(
                "syntax error, XTRIM must be called with a trimming strategy",
            ));
        }
        return Ok(out);
    };
    let limit = match limit {
        Some(_) if !approx => {
            return Err(CmdError::err(
                "syntax error, LIMIT cannot be used without the special ~ option",
            ))
        }
        Some(l) => l as u64,
        None if approx => {
            let per_node = EncodingLimits::get(&ctx.storage().limits.stream_node_max_entries);
            match per_node.saturating_mul(100) {
                0 => 10_000,
                l => l.min(1_000_000),
            }
        }
        None => 0,
    };
    out.trim = Some(TrimSpec {
        strategy,
        approx,
        limit,
    });
    Ok(out)
}

pub(super) fn xadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let p = parse_add_or_trim(ctx, argv, true)?;
    let fields_at = p.id_at + 1;
    let n = argv.len().saturating_sub(fields_at);
    if fields_at > argv.len() || n < 2 || n % 2 == 1 {
        return Err(CmdError::WrongArity("xadd".into()));
    }
    if p.zero_id {
        return Err(CmdError::err(
            "The ID specified in XADD must be greater than 0-0",
        ));
    }
    let fields: Vec<(&[u8], &[u8])> = argv[fields_at..]
        .chunks_exact(2)
        .map(|pair| (pair[0].as_ref(), pair[1].as_ref()))
        .collect();
    match ctx
        .stream()
        .add(&argv[1], p.id, &fields, p.no_create, p.trim)?
    {
        AddOutcome::Added { id, trimmed } => {
            ctx.notify(Class::STREAM, "xadd", &argv[1]);
            if trimmed > 0 {
                ctx.notify(Class::STREAM, "xtrim", &argv[1]);
            }
            Ok(id_reply(id))
        }
        AddOutcome::NoStream => Ok(Reply::Null),
        AddOutcome::IdTooSmall => Err(CmdError::err(
            "The ID specified in XADD is equal or smaller than the target stream top item",
        )),
        AddOutcome::Exhausted => Err(CmdError::err(
            "The stream has exhausted the last possible ID, unable to add more items",
        )),
    }
}

fn range(ctx: &mut Ctx<'_>, argv: &[Bytes], reverse: bool) -> CmdResult {
    let (start_arg, end_arg) = if reverse {
        (&argv[3], &argv[2])
    } else {
        (&argv[2], &argv[3])
    };
    let start = range_start(start_arg)?;
    let end = range_end(end_arg)?;
    let mut count: Option<i64> = None;
    let mut j = 4;
    while j < argv.len() {
        if args::is(&argv[j], "count") && j + 1 < argv.len() {
            count = Some(args::int(&argv[j + 1])?.max(0));
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let Some(s) = ctx.stream().read(&argv[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count == Some(0) {
        return Ok(Reply::NullArray);
    }
    let entries = ctx
        .stream()
        .range_of(&s, start, end, count.unwrap_or(0) as usize, reverse)?;
    Ok(entries_reply(entries))
}

pub(super) fn xrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    range(ctx, argv, false)
}

pub(super) fn xrevrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    range(ctx, argv, true)
}

pub(super) fn xlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(ctx.stream().len(&argv[1])? as i64))
}

pub(super) fn xdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let ids = argv[2..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let deleted = ctx.stream().delete(&argv[1], &ids)?;
    if deleted > 0 {
        ctx.notify(Class::STREAM, "xdel", &argv[1]);
    }
    Ok(Reply::Integer(deleted as i64))
}

pub(super) fn xtrim(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    // Redis looks the key up before it parses the options.
    if ctx.stream().read(&argv[1])?.is_none() {
        return Ok(Reply::Integer(0));
    }
    let p = parse_add_or_trim(ctx, argv, false)?;
    let Some(spec) = p.trim else {
        return Err(CmdError::Syntax);
    };
    let trimmed = ctx.stream().trim(&argv[1], spec)?;
    if trimmed > 0 {
        ctx.notify(Class::STREAM, "xtrim", &argv[1]);
    }
    Ok(Reply::Integer(trimmed as i64))
}

pub(super) fn xsetid(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let id = parse_strict_id(&argv[2])?;
    let mut entries_added = None;
    let mut max_deleted = None;
    let mut i = 3;
    while i < argv.len() {
        let more = i + 1 < argv.len();
        if args::is(&argv[i], "entriesadded") && more {
            let n = args::int(&argv[i + 1])?;
            if n < 0 {
                return Err(CmdError::err("entries_added must be positive"));
            }
            entries_added = Some(n as u64);
        } else if args::is(&argv[i], "maxdeletedid") && more {
            let m = parse_strict_id(&argv[i + 1])?;
            if id < m {
                return Err(CmdError::err(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            max_deleted = Some(m).filter(|&m| m != StreamId::MIN);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    match ctx
        .stream()
        .set_id(&argv[1], id, entries_added, max_deleted)?
    {
        SetIdOutcome::Done => {
            ctx.notify(Class::STREAM, "xsetid", &argv[1]);
            Ok(Reply::ok())
        }
        SetIdOutcome::NoKey => Err(CmdError::err("no such key")),
        SetIdOutcome::IdTooSmall => Err(CmdError::err(
            "The ID specified in XSETID is smaller than the target stream top item",
        )),
        SetIdOutcome::EntriesAddedTooSmall => Err(CmdError::err(
            "The entries_added specified in XSETID is smaller than the target stream length",
        )),
    }
}

/// The optional `~` or `=` after MAXLEN / MINID at `argv[*i]` (`more` arguments follow it):
/// steps over it and tells whether trimming is approximate.
fn trim_operator(argv: &[Bytes], i: &mut usize, more: usize) -> bool {
    if more < 2 {
        return false;
    }
    match argv[*i + 1].as_ref() {
        b"~" => {
            *i += 1;
            true
        }
        b"=" => {
            *i += 1;
            false
        }
        _ => false,
    }
}
