//! The ZRANGE family: ZRANGE and its older forms (by rank, score and lex, forward and
//! reverse, with LIMIT and WITHSCORES), ZRANGESTORE and the range removals ZREMRANGEBY*.

use bytes::Bytes;

use super::{parse_lex_range, parse_score_range};
use crate::cmd::types::lazy_reply;
use crate::cmd::{args, CmdError, CmdResult, Ctx, EventClasses as Class};
use crate::resp::Reply;
use crate::storage::types::zset::{LexRange, ScoreRange, ZRangeQuery};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Rank,
    Score,
    Lex,
}

/// ZRANGE and its older forms; ZRANGESTORE when `dest` is given. `src_at` is the index of
/// the source key; `rangetype`/`reverse` are fixed by the older command names.
fn zrange_generic(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    src_at: usize,
    dest: Option<&Bytes>,
    mut rangetype: Option<RangeType>,
    mut reverse: Option<bool>,
) -> CmdResult {
    let store = dest.is_some();
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = src_at + 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = &argv[j];
        if !store && args::is(a, "withscores") {
            withscores = true;
        } else if args::is(a, "limit") && left >= 2 {
            offset = args::int(&argv[j + 1])?;
            limit = args::int(&argv[j + 2])?;
            j += 2;
        } else if reverse.is_none() && args::is(a, "rev") {
            reverse = Some(true);
        } else if rangetype.is_none() && args::is(a, "bylex") {
            rangetype = Some(RangeType::Lex);
        } else if rangetype.is_none() && args::is(a, "byscore") {
            rangetype = Some(RangeType::Score);
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let reverse = reverse.unwrap_or(false);
    let rangetype = rangetype.unwrap_or(RangeType::Rank);
    if limit != -1 && rangetype == RangeType::Rank {
        return Err(CmdError::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && rangetype == RangeType::Lex {
        return Err(CmdError::err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut lo, mut hi) = (&argv[src_at + 1], &argv[src_at + 2]);
    if reverse && rangetype != RangeType::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    enum Parsed {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(LexRange),
    }
    let parsed = match rangetype {
        RangeType::Rank => Parsed::Rank(args::int(lo)?, args::int(hi)?),
        RangeType::Score => Parsed::Score(parse_score_range(lo, hi)?),
        RangeType::Lex => Parsed::Lex(parse_lex_range(lo, hi)?),
    };
    let zs = ctx.zset();
    let Some(dest) = dest else {
        let query = match parsed {
            Parsed::Rank(a, b) => ZRangeQuery::Rank(a, b),
            Parsed::Score(r) => ZRangeQuery::Score(r, offset, limit),
            Parsed::Lex(r) => ZRangeQuery::Lex(r, offset, limit),
        };
        let range = zs.range(&argv[src_at], &query, reverse)?;
        return Ok(lazy_reply::scored(range, withscores, ctx.client.protocol()));
    };
    let items = match zs.read(&argv[src_at])? {
        None => Vec::new(),
        Some(c) => match &parsed {
            Parsed::Rank(a, b) => zs.range_by_rank(&c, *a, *b, reverse)?,
            Parsed::Score(r) => zs.range_by_score(&c, r, reverse, offset, limit)?,
            Parsed::Lex(r) => zs.range_by_lex(&c, r, reverse, offset, limit)?,
        },
    };
    let existed = ctx.exists_for_notify(dest)?;
    let n = zs.store(dest, &items)?;
    ctx.notify_stored(Class::ZSET, "zrangestore", dest, n > 0, existed);
    Ok(Reply::Integer(n as i64))
}

pub(super) fn zrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, None, None)
}

pub(super) fn zrevrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeType::Rank), Some(true))
}

pub(super) fn zrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeType::Score), Some(false))
}

pub(super) fn zrevrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeType::Score), Some(true))
}

pub(super) fn zrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeType::Lex), Some(false))
}

pub(super) fn zrevrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeType::Lex), Some(true))
}

pub(super) fn zrangestore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 2, Some(&argv[1]), None, None)
}

pub(super) fn zremrangebyrank(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (start, end) = (args::int(&argv[2])?, args::int(&argv[3])?);
    let n = ctx.zset().remove_range_by_rank(&argv[1], start, end)?;
    super::notify_removed(ctx, "zremrangebyrank", &argv[1], n)?;
    Ok(Reply::Integer(n as i64))
}

pub(super) fn zremrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let range = parse_score_range(&argv[2], &argv[3])?;
    let n = ctx.zset().remove_range_by_score(&argv[1], &range)?;
    super::notify_removed(ctx, "zremrangebyscore", &argv[1], n)?;
    Ok(Reply::Integer(n as i64))
}

pub(super) fn zremrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let range = parse_lex_range(&argv[2], &argv[3])?;
    let n = ctx.zset().remove_range_by_lex(&argv[1], &range)?;
    super::notify_removed(ctx, "zremrangebylex", &argv[1], n)?;
    Ok(Reply::Integer(n as i64))
}
