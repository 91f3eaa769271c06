//! Pops: ZPOPMIN/ZPOPMAX, ZMPOP, and the blocking BZPOPMIN/BZPOPMAX/BZMPOP.

use bytes::Bytes;

use super::{at_least_one, is_resp3, pairs_reply, positive_long};
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::resp::Reply;

pub(super) fn zpopmin(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, argv, false)
}

pub(super) fn zpopmax(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, argv, true)
}

/// ZPOPMIN and ZPOPMAX (`max`).
fn zpop_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], max: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match argv.get(2) {
        Some(a) => Some(positive_long(a, None)?),
        None => None,
    };
    let zs = ctx.zset();
    // A missing key answers an empty array before COUNT 0 is looked at; so does COUNT 0.
    let items = match count {
        Some(0) => {
            zs.read(&argv[1])?;
            Vec::new()
        }
        _ => zs
            .pop(&argv[1], max, count.unwrap_or(1) as u64)?
            .unwrap_or_default(),
    };
    notify_popped(ctx, &argv[1], max, items.len())?;
    if count.is_some() && is_resp3(ctx) {
        return Ok(pairs_reply(items));
    }
    let mut flat = Vec::with_capacity(items.len() * 2);
    for (m, s) in items {
        flat.push(Reply::bulk(m));
        flat.push(Reply::Double(s));
    }
    Ok(Reply::Array(flat))
}

/// The events of a pop of `popped` members from `key`: `zpopmin`/`zpopmax`, and `del` if it
/// emptied the key.
fn notify_popped(ctx: &Ctx<'_>, key: &[u8], max: bool, popped: usize) -> Result<(), CmdError> {
    let event = if max { "zpopmax" } else { "zpopmin" };
    super::notify_removed(ctx, event, key, popped as u64)
}

/// ZMPOP / BZMPOP arguments after numkeys: (keys, max, count).
fn parse_mpop(argv: &[Bytes], numkeys_at: usize) -> Result<(&[Bytes], bool, u64), CmdError> {
    let numkeys = at_least_one(&argv[numkeys_at], "numkeys should be greater than 0")? as usize;
    let where_at = numkeys_at.saturating_add(numkeys).saturating_add(1);
    let Some(wh) = argv.get(where_at) else {
        return Err(CmdError::Syntax);
    };
    let max = if args::is(wh, "min") {
        false
    } else if args::is(wh, "max") {
        true
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < argv.len() {
        if count.is_none() && args::is(&argv[j], "count") && j + 1 < argv.len() {
            count = Some(at_least_one(&argv[j + 1], "count should be greater than 0")? as u64);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok((&argv[numkeys_at + 1..where_at], max, count.unwrap_or(1)))
}

/// Pops from the first existing key: `[key, [[member, score], ...]]`, or `None`.
fn mpop_first(
    ctx: &Ctx<'_>,
    keys: &[Bytes],
    max: bool,
    count: u64,
) -> Result<Option<Reply>, CmdError> {
    for key in keys {
        if let Some(items) = ctx.zset().pop(key, max, count)? {
            notify_popped(ctx, key, max, items.len())?;
            return Ok(Some(Reply::Array(vec![
                Reply::Bulk(key.clone()),
                pairs_reply(items),
            ])));
        }
    }
    Ok(None)
}

pub(super) fn zmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (keys, max, count) = parse_mpop(argv, 1)?;
    Ok(mpop_first(ctx, keys, max, count)?.unwrap_or(Reply::NullArray))
}

pub(super) fn bzmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (keys, max, count) = parse_mpop(argv, 2)?;
    let timeout = args::timeout(&argv[1])?;
    match mpop_first(ctx, keys, max, count)? {
        Some(r) => Ok(r),
        None => ctx.block(keys, timeout, Reply::NullArray),
    }
}

pub(super) fn bzpopmin(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    bzpop_generic(ctx, argv, false)
}

pub(super) fn bzpopmax(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    bzpop_generic(ctx, argv, true)
}

/// BZPOPMIN and BZPOPMAX (`max`).
fn bzpop_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], max: bool) -> CmdResult {
    let timeout = args::timeout(&argv[argv.len() - 1])?;
    let keys = &argv[1..argv.len() - 1];
    for key in keys {
        if let Some(items) = ctx.zset().pop(key, max, 1)? {
            notify_popped(ctx, key, max, items.len())?;
            if let Some((m, s)) = items.into_iter().next() {
                return Ok(Reply::Array(vec![
                    Reply::Bulk(key.clone()),
                    Reply::bulk(m),
                    Reply::Double(s),
                ]));
            }
        }
    }
    ctx.block(keys, timeout, Reply::NullArray)
}
