//! Sorted set commands, after Redis' `t_zset.c`: ZADD and ZINCRBY, point reads, the ZRANGE
//! family (by rank, score and lex, forward and reverse, with LIMIT and WITHSCORES, and
//! ZRANGESTORE), range removals, pops (also blocking), ZRANDMEMBER, the set algebra
//! (ZUNION/ZINTER/ZDIFF, their STORE forms, ZINTERCARD; plain sets count as scores of 1) and
//! ZSCAN.
//!
//! Arguments are validated in Redis' order so that a bad request gets Redis' error. Replies
//! carry scores as doubles: bulk strings in RESP2, native doubles in RESP3, where WITHSCORES
//! results become [member, score] pairs as in Redis 7.

use std::collections::HashMap;

use bytes::Bytes;
use rand::Rng;

use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::types::lazy_reply;
use crate::cmd::types::random_picks;
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::command;
use crate::resp::reply::format_double;
use crate::resp::{Protocol, Reply};
use crate::storage::types::zset::{
    LexBound, LexRange, ScoreRange, ScoredMember, ZRangeQuery, ZaddFlags, ZaddOutcome,
};
use crate::util::number::parse_f64;

const fn keynum(numkeys_at: usize) -> KeySpec {
    KeySpec::Keynum {
        numkeys_at,
        first: numkeys_at + 1,
        step: 1,
    }
}

const STORE_KEYS: KeySpec = KeySpec::KeynumWithDest {
    dest: 1,
    numkeys_at: 2,
    first: 3,
    step: 1,
};

/// Commands of this group.
pub const COMMANDS: &[CommandSpec] = &[
    command!("zadd", -4, [WRITE, DENYOOM, FAST], KeySpec::single(1), [WRITE, SORTEDSET, FAST],
             "sorted_set", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", zadd),
    command!("zincrby", 4, [WRITE, DENYOOM, FAST], KeySpec::single(1), [WRITE, SORTEDSET, FAST],
             "sorted_set", "Increments the score of a member in a sorted set.", zincrby),
    command!("zrem", -3, [WRITE, FAST], KeySpec::single(1), [WRITE, SORTEDSET, FAST],
             "sorted_set", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", zrem),
    command!("zcard", 2, [READONLY, FAST], KeySpec::single(1), [READ, SORTEDSET, FAST],
             "sorted_set", "Returns the number of members in a sorted set.", zcard),
    command!("zscore", 3, [READONLY, FAST], KeySpec::single(1), [READ, SORTEDSET, FAST],
             "sorted_set", "Returns the score of a member in a sorted set.", zscore),
    command!("zmscore", -3, [READONLY, FAST], KeySpec::single(1), [READ, SORTEDSET, FAST],
             "sorted_set", "Returns the score of one or more members in a sorted set.", zmscore),
    command!("zrank", 3, [READONLY, FAST], KeySpec::single(1), [READ, SORTEDSET, FAST],
             "sorted_set", "Returns the index of a member in a sorted set ordered by ascending scores.", zrank),
    command!("zrevrank", 3, [READONLY, FAST], KeySpec::single(1), [READ, SORTEDSET, FAST],
             "sorted_set", "Returns the index of a member in a sorted set ordered by descending scores.", zrevrank),
    command!("zcount", 4, [READONLY, FAST], KeySpec::single(1), [READ, SORTEDSET, FAST],
             "sorted_set", "Returns the count of members in a sorted set that have scores within a range.", zcount),
    command!("zlexcount", 4, [READONLY, FAST], KeySpec::single(1), [READ, SORTEDSET, FAST],
             "sorted_set", "Returns the number of members in a sorted set within a lexicographical range.", zlexcount),
    command!("zrange", -4, [READONLY], KeySpec::single(1), [READ, SORTEDSET, SLOW],
             "sorted_set", "Returns members in a sorted set within a range of indexes.", zrange),
    command!("zrangestore", -5, [WRITE, DENYOOM], KeySpec::span(1, 2), [WRITE, SORTEDSET, SLOW],
             "sorted_set", "Stores a range of members from sorted set in a key.", zrangestore),
    command!("zrevrange", -4, [READONLY], KeySpec::single(1), [READ, SORTEDSET, SLOW],
             "sorted_set", "Returns members in a sorted set within a range of indexes in reverse order.", zrevrange),
    command!("zrangebyscore", -4, [READONLY], KeySpec::single(1), [READ, SORTEDSET, SLOW],
             "sorted_set", "Returns members in a sorted set within a range of scores.", zrangebyscore),
    command!("zrevrangebyscore", -4, [READONLY], KeySpec::single(1), [READ, SORTEDSET, SLOW],
             "sorted_set", "Returns members in a sorted set within a range of scores in reverse order.", zrevrangebyscore),
    command!("zrangebylex", -4, [READONLY], KeySpec::single(1), [READ, SORTEDSET, SLOW],
             "sorted_set", "Returns members in a sorted set within a lexicographical range.", zrangebylex),
    command!("zrevrangebylex", -4, [READONLY], KeySpec::single(1), [READ, SORTEDSET, SLOW],
             "sorted_set", "Returns members in a sorted set within a lexicographical range in reverse order.", zrevrangebylex),
    command!("zremrangebyrank", 4, [WRITE], KeySpec::single(1), [WRITE, SORTEDSET, SLOW],
             "sorted_set", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", zremrangebyrank),
    command!("zremrangebyscore", 4, [WRITE], KeySpec::single(1), [WRITE, SORTEDSET, SLOW],
             "sorted_set", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", zremrangebyscore),
    command!("zremrangebylex", 4, [WRITE], KeySpec::single(1), [WRITE, SORTEDSET, SLOW],
             "sorted_set", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", zremrangebylex),
    command!("zpopmin", -2, [WRITE, FAST], KeySpec::single(1), [WRITE, SORTEDSET, FAST],
             "sorted_set", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zpopmin),
    command!("zpopmax", -2, [WRITE, FAST], KeySpec::single(1), [WRITE, SORTEDSET, FAST],
             "sorted_set", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zpopmax),
    command!("zmpop", -4, [WRITE], keynum(1), [WRITE, SORTEDSET, SLOW],
             "sorted_set", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", zmpop),
    command!("bzpopmin", -3, [WRITE, NOSCRIPT, FAST, BLOCKING],
             KeySpec::Range { first: 1, last: crate::cmd::gate::spec::KeyEnd::FromEnd(2), step: 1 },
             [WRITE, SORTEDSET, FAST, BLOCKING], "sorted_set",
             "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", bzpopmin),
    command!("bzpopmax", -3, [WRITE, NOSCRIPT, FAST, BLOCKING],
             KeySpec::Range { first: 1, last: crate::cmd::gate::spec::KeyEnd::FromEnd(2), step: 1 },
             [WRITE, SORTEDSET, FAST, BLOCKING], "sorted_set",
             "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", bzpopmax),
    command!("bzmpop", -5, [WRITE, BLOCKING], keynum(2), [WRITE, SORTEDSET, SLOW, BLOCKING],
             "sorted_set", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", bzmpop),
    command!("zrandmember", -2, [READONLY], KeySpec::single(1), [READ, SORTEDSET, SLOW],
             "sorted_set", "Returns one or more random members from a sorted set.", zrandmember),
    command!("zunion", -3, [READONLY], keynum(1), [READ, SORTEDSET, SLOW],
             "sorted_set", "Returns the union of multiple sorted sets.", zunion),
    command!("zinter", -3, [READONLY], keynum(1), [READ, SORTEDSET, SLOW],
             "sorted_set", "Returns the intersect of multiple sorted sets.", zinter),
    command!("zdiff", -3, [READONLY], keynum(1), [READ, SORTEDSET, SLOW],
             "sorted_set", "Returns the difference between multiple sorted sets.", zdiff),
    command!("zunionstore", -4, [WRITE, DENYOOM], STORE_KEYS, [WRITE, SORTEDSET, SLOW],
             "sorted_set", "Stores the union of multiple sorted sets in a key.", zunionstore),
    command!("zinterstore", -4, [WRITE, DENYOOM], STORE_KEYS, [WRITE, SORTEDSET, SLOW],
             "sorted_set", "Stores the intersect of multiple sorted sets in a key.", zinterstore),
    command!("zdiffstore", -4, [WRITE, DENYOOM], STORE_KEYS, [WRITE, SORTEDSET, SLOW],
             "sorted_set", "Stores the difference of multiple sorted sets in a key.", zdiffstore),
    command!("zintercard", -3, [READONLY], keynum(1), [READ, SORTEDSET, SLOW],
             "sorted_set", "Returns the number of members of the intersect of multiple sorted sets.", zintercard),
    command!("zscan", -3, [READONLY], KeySpec::single(1), [READ, SORTEDSET, SLOW],
             "sorted_set", "Iterates over members and scores of a sorted set.", zscan),
];

// ---------------------------------------------------------------------------------------------
// Parsing helpers

fn min_max_not_float() -> CmdError {
    CmdError::err("min or max is not a float")
}

/// One end of a score range: `(` makes it exclusive; `inf`, `-inf`, `+inf` are accepted.
fn parse_score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    match arg.split_first() {
        Some((b'(', rest)) => parse_f64(rest).map(|v| (v, true)),
        _ => parse_f64(arg).map(|v| (v, false)),
    }
}

/// A score range as ZRANGEBYSCORE and ZCOUNT take it.
fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    let (min, min_ex) = parse_score_bound(min).ok_or_else(min_max_not_float)?;
    let (max, max_ex) = parse_score_bound(max).ok_or_else(min_max_not_float)?;
    Ok(ScoreRange {
        min,
        min_ex,
        max,
        max_ex,
    })
}

fn parse_lex_bound(arg: &[u8]) -> Option<LexBound> {
    match arg {
        b"+" => Some(LexBound::PosInf),
        b"-" => Some(LexBound::NegInf),
        [b'[', rest @ ..] => Some(LexBound::Incl(rest.to_vec())),
        [b'(', rest @ ..] => Some(LexBound::Excl(rest.to_vec())),
        _ => None,
    }
}

/// A lex range (`-`, `+`, `[member`, `(member`).
fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
    let bad = || CmdError::err("min or max not valid string range item");
    Ok(LexRange {
        min: parse_lex_bound(min).ok_or_else(bad)?,
        max: parse_lex_bound(max).ok_or_else(bad)?,
    })
}

/// A `long` that must not be negative (`getPositiveLongFromObjectOrReply`).
fn positive_long(arg: &[u8], msg: Option<&str>) -> Result<i64, CmdError> {
    let v = match args::int(arg) {
        Ok(v) => v,
        Err(e) => return Err(msg.map(CmdError::err).unwrap_or(e)),
    };
    if v < 0 {
        return Err(CmdError::err(
            msg.unwrap_or("value is out of range, must be positive"),
        ));
    }
    Ok(v)
}

/// A `long` in `1..` with one message for every failure (numkeys, COUNT).
fn at_least_one(arg: &[u8], msg: &str) -> Result<i64, CmdError> {
    match args::int(arg) {
        Ok(v) if v >= 1 => Ok(v),
        _ => Err(CmdError::err(msg)),
    }
}

fn is_resp3(ctx: &Ctx<'_>) -> bool {
    ctx.client.protocol() == Protocol::Resp3
}

/// Members, or with scores: a flat member/score array in RESP2, [member, score] pairs in RESP3.
fn scored_reply(ctx: &Ctx<'_>, items: Vec<ScoredMember>, withscores: bool) -> Reply {
    Reply::Array(
        scored_items(ctx, items, withscores)
            .into_iter()
            .flatten()
            .collect(),
    )
}

/// The reply items of each member: the member, or with scores [member, score] in RESP3 and
/// member, score in RESP2.
fn scored_items(ctx: &Ctx<'_>, items: Vec<ScoredMember>, withscores: bool) -> Vec<Vec<Reply>> {
    let resp3 = is_resp3(ctx);
    items
        .into_iter()
        .map(|(m, s)| match (withscores, resp3) {
            (false, _) => vec![Reply::bulk(m)],
            (true, true) => vec![Reply::Array(vec![Reply::bulk(m), Reply::Double(s)])],
            (true, false) => vec![Reply::bulk(m), Reply::Double(s)],
        })
        .collect()
}

/// Always [member, score] pairs (ZMPOP and BZMPOP in both protocols).
fn pairs_reply(items: Vec<ScoredMember>) -> Reply {
    Reply::Array(
        items
            .into_iter()
            .map(|(m, s)| Reply::Array(vec![Reply::bulk(m), Reply::Double(s)]))
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM

fn nan_error() -> CmdError {
    CmdError::err("resulting score is not a number (NaN)")
}

fn zadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut f = ZaddFlags::default();
    let mut ch = false;
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if args::is(a, "nx") {
            f.nx = true;
        } else if args::is(a, "xx") {
            f.xx = true;
        } else if args::is(a, "gt") {
            f.gt = true;
        } else if args::is(a, "lt") {
            f.lt = true;
        } else if args::is(a, "ch") {
            ch = true;
        } else if args::is(a, "incr") {
            f.incr = true;
        } else {
            break;
        }
        i += 1;
    }
    let elements = argv.len() - i;
    if elements == 0 || !elements.is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    if f.nx && f.xx {
        return Err(CmdError::err(
            "XX and NX options at the same time are not compatible",
        ));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(CmdError::err(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && elements > 2 {
        return Err(CmdError::err(
            "INCR option supports a single increment-element pair",
        ));
    }
    let mut pairs = Vec::with_capacity(elements / 2);
    for pair in argv[i..].chunks_exact(2) {
        pairs.push((args::float(&pair[0])?, pair[1].as_ref()));
    }
    match ctx.storage().zadd(ctx.db(), &argv[1], &pairs, f)? {
        ZaddOutcome::NotANumber => Err(nan_error()),
        ZaddOutcome::Done { score, .. } if f.incr => Ok(score.map_or(Reply::Null, Reply::Double)),
        ZaddOutcome::Done { added, changed, .. } => Ok(Reply::Integer(
            (added + if ch { changed } else { 0 }) as i64,
        )),
    }
}

fn zincrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let by = args::float(&argv[2])?;
    let f = ZaddFlags {
        incr: true,
        ..ZaddFlags::default()
    };
    match ctx
        .storage()
        .zadd(ctx.db(), &argv[1], &[(by, argv[3].as_ref())], f)?
    {
        ZaddOutcome::NotANumber => Err(nan_error()),
        ZaddOutcome::Done { score, .. } => Ok(score.map_or(Reply::Null, Reply::Double)),
    }
}

fn zrem(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let members = args::key_slices(&argv[2..]);
    let n = ctx.storage().zrem(ctx.db(), &argv[1], &members)?;
    Ok(Reply::Integer(n as i64))
}

// ---------------------------------------------------------------------------------------------
// Point reads

fn zcard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let c = ctx.storage().zset(ctx.db(), &argv[1])?;
    Ok(Reply::Integer(c.map_or(0, |c| c.len() as i64)))
}

fn zscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let st = ctx.storage();
    let Some(c) = st.zset(ctx.db(), &argv[1])? else {
        return Ok(Reply::Null);
    };
    Ok(st.zscore(&c, &argv[2])?.map_or(Reply::Null, Reply::Double))
}

fn zmscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let st = ctx.storage();
    let members = args::key_slices(&argv[2..]);
    let scores = match st.zset(ctx.db(), &argv[1])? {
        Some(c) => st.zmscore(&c, &members)?,
        None => vec![None; members.len()],
    };
    Ok(Reply::Array(
        scores
            .into_iter()
            .map(|s| s.map_or(Reply::Null, Reply::Double))
            .collect(),
    ))
}

fn zrank(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    rank_generic(ctx, argv, false)
}

fn zrevrank(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    rank_generic(ctx, argv, true)
}

/// ZRANK and ZREVRANK.
fn rank_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], reverse: bool) -> CmdResult {
    let st = ctx.storage();
    let Some(c) = st.zset(ctx.db(), &argv[1])? else {
        return Ok(Reply::Null);
    };
    Ok(st
        .zrank(&c, &argv[2], reverse)?
        .map_or(Reply::Null, |r| Reply::Integer(r as i64)))
}

fn zcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let range = parse_score_range(&argv[2], &argv[3])?;
    let st = ctx.storage();
    let n = match st.zset(ctx.db(), &argv[1])? {
        Some(c) => st.zcount(&c, &range)?,
        None => 0,
    };
    Ok(Reply::Integer(n as i64))
}

fn zlexcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let range = parse_lex_range(&argv[2], &argv[3])?;
    let st = ctx.storage();
    let n = match st.zset(ctx.db(), &argv[1])? {
        Some(c) => st.zlexcount(&c, &range)?,
        None => 0,
    };
    Ok(Reply::Integer(n as i64))
}

// ---------------------------------------------------------------------------------------------
// The ZRANGE family

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
    let st = ctx.storage();
    let Some(dest) = dest else {
        let query = match parsed {
            Parsed::Rank(a, b) => ZRangeQuery::Rank(a, b),
            Parsed::Score(r) => ZRangeQuery::Score(r, offset, limit),
            Parsed::Lex(r) => ZRangeQuery::Lex(r, offset, limit),
        };
        let range = st.zrange_reply(ctx.db(), &argv[src_at], &query, reverse)?;
        return Ok(lazy_reply::scored(range, withscores, ctx.client.protocol()));
    };
    let items = match st.zset(ctx.db(), &argv[src_at])? {
        None => Vec::new(),
        Some(c) => match &parsed {
            Parsed::Rank(a, b) => st.zrange_by_rank(&c, *a, *b, reverse)?,
            Parsed::Score(r) => st.zrange_by_score(&c, r, reverse, offset, limit)?,
            Parsed::Lex(r) => st.zrange_by_lex(&c, r, reverse, offset, limit)?,
        },
    };
    let n = st.zstore(ctx.db(), dest, &items)?;
    Ok(Reply::Integer(n as i64))
}

fn zrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, None, None)
}

fn zrevrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeType::Rank), Some(true))
}

fn zrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeType::Score), Some(false))
}

fn zrevrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeType::Score), Some(true))
}

fn zrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeType::Lex), Some(false))
}

fn zrevrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeType::Lex), Some(true))
}

fn zrangestore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 2, Some(&argv[1]), None, None)
}

fn zremrangebyrank(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (start, end) = (args::int(&argv[2])?, args::int(&argv[3])?);
    let n = ctx
        .storage()
        .zremrange_by_rank(ctx.db(), &argv[1], start, end)?;
    Ok(Reply::Integer(n as i64))
}

fn zremrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let range = parse_score_range(&argv[2], &argv[3])?;
    let n = ctx
        .storage()
        .zremrange_by_score(ctx.db(), &argv[1], &range)?;
    Ok(Reply::Integer(n as i64))
}

fn zremrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let range = parse_lex_range(&argv[2], &argv[3])?;
    let n = ctx.storage().zremrange_by_lex(ctx.db(), &argv[1], &range)?;
    Ok(Reply::Integer(n as i64))
}

// ---------------------------------------------------------------------------------------------
// Pops

fn zpopmin(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, argv, false)
}

fn zpopmax(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
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
    let st = ctx.storage();
    // A missing key answers an empty array before COUNT 0 is looked at; so does COUNT 0.
    let items = match count {
        Some(0) => {
            st.zset(ctx.db(), &argv[1])?;
            Vec::new()
        }
        _ => st
            .zpop(ctx.db(), &argv[1], max, count.unwrap_or(1) as u64)?
            .unwrap_or_default(),
    };
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
        if let Some(items) = ctx.storage().zpop(ctx.db(), key, max, count)? {
            return Ok(Some(Reply::Array(vec![
                Reply::Bulk(key.clone()),
                pairs_reply(items),
            ])));
        }
    }
    Ok(None)
}

fn zmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (keys, max, count) = parse_mpop(argv, 1)?;
    Ok(mpop_first(ctx, keys, max, count)?.unwrap_or(Reply::NullArray))
}

fn bzmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (keys, max, count) = parse_mpop(argv, 2)?;
    let timeout = args::timeout(&argv[1])?;
    match mpop_first(ctx, keys, max, count)? {
        Some(r) => Ok(r),
        None => ctx.block(keys, timeout, Reply::NullArray),
    }
}

fn bzpopmin(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    bzpop_generic(ctx, argv, false)
}

fn bzpopmax(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    bzpop_generic(ctx, argv, true)
}

/// BZPOPMIN and BZPOPMAX (`max`).
fn bzpop_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], max: bool) -> CmdResult {
    let timeout = args::timeout(&argv[argv.len() - 1])?;
    let keys = &argv[1..argv.len() - 1];
    for key in keys {
        if let Some(items) = ctx.storage().zpop(ctx.db(), key, max, 1)? {
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

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER

fn zrandmember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let st = ctx.storage();
    let Some(count_arg) = argv.get(2) else {
        let Some(c) = st.zset(ctx.db(), &argv[1])? else {
            return Ok(Reply::Null);
        };
        let r = rand::thread_rng().gen_range(0..c.len()) as i64;
        let picked = st.zrange_by_rank(&c, r, r, false)?;
        return Ok(picked
            .into_iter()
            .next()
            .map_or(Reply::Null, |(m, _)| Reply::bulk(m)));
    };
    let l = args::int(count_arg)?;
    if l == i64::MIN {
        return Err(CmdError::err(
            "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    if argv.len() > 4 || (argv.len() == 4 && !args::is(&argv[3], "withscores")) {
        return Err(CmdError::Syntax);
    }
    let withscores = argv.len() == 4;
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CmdError::err("value is out of range"));
    }
    let Some(c) = st.zset(ctx.db(), &argv[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    if l == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let size = c.len();
    let count = l.unsigned_abs();
    // Repeating picks (a negative count) are drawn from a bounded pool of distinct members
    // while the reply is written.
    let distinct = if l < 0 {
        count.min(random_picks::POOL_MAX)
    } else {
        count
    };
    let mut rng = rand::thread_rng();
    // Sampling by rank walks the order; a whole copy is cheaper when much of it is wanted.
    let whole = size <= 4096 || distinct.saturating_mul(16) >= size;
    let all = if whole { st.zall(&c)? } else { Vec::new() };
    let pick = |rank: u64| -> Result<ScoredMember, CmdError> {
        if whole {
            return Ok(all[rank as usize].clone());
        }
        let r = rank as i64;
        Ok(st
            .zrange_by_rank(&c, r, r, false)?
            .into_iter()
            .next()
            .unwrap_or_default())
    };
    let items: Vec<ScoredMember> = if distinct >= size {
        if whole {
            all.clone()
        } else {
            st.zall(&c)?
        }
    } else {
        let mut ranks =
            rand::seq::index::sample(&mut rng, size as usize, distinct as usize).into_vec();
        if !whole {
            ranks.sort_unstable();
        }
        ranks
            .into_iter()
            .map(|r| pick(r as u64))
            .collect::<Result<_, _>>()?
    };
    if l < 0 {
        let pool = scored_items(ctx, items, withscores);
        return Ok(random_picks::reply(pool, count));
    }
    Ok(scored_reply(ctx, items, withscores))
}

// ---------------------------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(agg: Aggregate, acc: &mut f64, v: f64) {
    match agg {
        Aggregate::Sum => {
            *acc += v;
            if acc.is_nan() {
                *acc = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *acc {
                *acc = v;
            }
        }
        Aggregate::Max => {
            if v > *acc {
                *acc = v;
            }
        }
    }
}

fn weighted(w: f64, s: f64) -> f64 {
    let v = w * s;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// What a sorted-set algebra command computes and where the result goes.
#[derive(Clone, Copy)]
struct ZsetOp {
    name: &'static str,
    op: SetOp,
    /// The result is stored at `argv[1]` (ZUNIONSTORE and friends).
    store: bool,
    /// Only the result's size is answered (ZINTERCARD).
    card: bool,
}

fn zunion(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zsetop(
        ctx,
        argv,
        ZsetOp {
            name: "zunion",
            op: SetOp::Union,
            store: false,
            card: false,
        },
    )
}

fn zinter(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zsetop(
        ctx,
        argv,
        ZsetOp {
            name: "zinter",
            op: SetOp::Inter,
            store: false,
            card: false,
        },
    )
}

fn zdiff(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zsetop(
        ctx,
        argv,
        ZsetOp {
            name: "zdiff",
            op: SetOp::Diff,
            store: false,
            card: false,
        },
    )
}

fn zunionstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let op = ZsetOp {
        name: "zunionstore",
        op: SetOp::Union,
        store: true,
        card: false,
    };
    zsetop(ctx, argv, op)
}

fn zinterstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let op = ZsetOp {
        name: "zinterstore",
        op: SetOp::Inter,
        store: true,
        card: false,
    };
    zsetop(ctx, argv, op)
}

fn zdiffstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zsetop(
        ctx,
        argv,
        ZsetOp {
            name: "zdiffstore",
            op: SetOp::Diff,
            store: true,
            card: false,
        },
    )
}

fn zintercard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zsetop(
        ctx,
        argv,
        ZsetOp {
            name: "zintercard",
            op: SetOp::Inter,
            store: false,
            card: true,
        },
    )
}

/// ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD: one generic function.
fn zsetop(ctx: &mut Ctx<'_>, argv: &[Bytes], form: ZsetOp) -> CmdResult {
    let ZsetOp {
        name,
        op,
        store,
        card,
    } = form;
    let numkeys_at = if store { 2 } else { 1 };
    let setnum = args::int(&argv[numkeys_at])?;
    if setnum < 1 {
        return Err(CmdError::err(format!(
            "at least 1 input key is needed for '{name}' command"
        )));
    }
    if setnum as u64 > (argv.len() - numkeys_at - 1) as u64 {
        return Err(CmdError::Syntax);
    }
    let setnum = setnum as usize;
    let st = ctx.storage();
    let db = ctx.db();
    let mut sources = Vec::with_capacity(setnum);
    for key in &argv[numkeys_at + 1..numkeys_at + 1 + setnum] {
        sources.push(st.zop_source(db, key)?);
    }
    let mut weights = vec![1.0f64; setnum];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0i64;
    let mut j = numkeys_at + 1 + setnum;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = &argv[j];
        if op != SetOp::Diff && !card && remaining > setnum && args::is(a, "weights") {
            for (i, w) in weights.iter_mut().enumerate() {
                *w = parse_f64(&argv[j + 1 + i])
                    .ok_or_else(|| CmdError::err("weight value is not a float"))?;
            }
            j += 1 + setnum;
        } else if op != SetOp::Diff && !card && remaining >= 2 && args::is(a, "aggregate") {
            let v = &argv[j + 1];
            agg = if args::is(v, "sum") {
                Aggregate::Sum
            } else if args::is(v, "min") {
                Aggregate::Min
            } else if args::is(v, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if !store && !card && args::is(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card && remaining >= 2 && args::is(a, "limit") {
            limit = positive_long(&argv[j + 1], Some("LIMIT can't be negative"))?;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }

    let mut inputs: Vec<_> = sources.into_iter().zip(weights).collect();
    let result: Vec<ScoredMember> = match op {
        SetOp::Union => {
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            for (src, w) in inputs
                .iter()
                .filter_map(|(s, w)| s.as_ref().map(|s| (s, *w)))
            {
                for (m, s) in st.zop_all(src)? {
                    let v = weighted(w, s);
                    match acc.get_mut(&m) {
                        Some(cur) => aggregate(agg, cur, v),
                        None => {
                            acc.insert(m, v);
                        }
                    }
                }
            }
            acc.into_iter().collect()
        }
        SetOp::Inter => {
            inputs.sort_by_key(|(s, _)| s.as_ref().map_or(0, |s| s.len()));
            let mut out = Vec::new();
            if inputs
                .iter()
                .all(|(s, _)| s.as_ref().is_some_and(|s| !s.is_empty()))
            {
                let (first, w0) = (inputs[0].0.as_ref().expect("checked"), inputs[0].1);
                let base = st.zop_all(first)?;
                for chunk in base.chunks(1024) {
                    let members: Vec<&[u8]> = chunk.iter().map(|(m, _)| m.as_slice()).collect();
                    let mut scores: Vec<Option<f64>> =
                        chunk.iter().map(|(_, s)| Some(weighted(w0, *s))).collect();
                    for (src, w) in &inputs[1..] {
                        let src = src.as_ref().expect("checked");
                        let other = st.zop_scores(src, &members)?;
                        for (acc, o) in scores.iter_mut().zip(other) {
                            match (acc.as_mut(), o) {
                                (Some(a), Some(v)) => aggregate(agg, a, weighted(*w, v)),
                                _ => *acc = None,
                            }
                        }
                    }
                    for ((m, _), s) in chunk.iter().zip(scores) {
                        if let Some(s) = s {
                            out.push((m.clone(), s));
                            if card && limit > 0 && out.len() as i64 >= limit {
                                break;
                            }
                        }
                    }
                    if card && limit > 0 && out.len() as i64 >= limit {
                        break;
                    }
                }
            }
            out
        }
        SetOp::Diff => {
            let mut out = Vec::new();
            if let Some(first) = inputs[0].0.as_ref() {
                let base = st.zop_all(first)?;
                for chunk in base.chunks(1024) {
                    let members: Vec<&[u8]> = chunk.iter().map(|(m, _)| m.as_slice()).collect();
                    let mut keep = vec![true; chunk.len()];
                    for src in inputs[1..].iter().filter_map(|(s, _)| s.as_ref()) {
                        for (k, o) in keep.iter_mut().zip(st.zop_scores(src, &members)?) {
                            if o.is_some() {
                                *k = false;
                            }
                        }
                    }
                    out.extend(
                        chunk
                            .iter()
                            .zip(keep)
                            .filter(|(_, k)| *k)
                            .map(|(e, _)| e.clone()),
                    );
                }
            }
            out
        }
    };
    if card {
        return Ok(Reply::Integer(result.len() as i64));
    }
    let mut result = result;
    result.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    if store {
        let n = st.zstore(db, &argv[1], &result)?;
        return Ok(Reply::Integer(n as i64));
    }
    Ok(scored_reply(ctx, result, withscores))
}

// ---------------------------------------------------------------------------------------------
// ZSCAN

fn zscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cursor = args::cursor(&argv[2])?;
    let st = ctx.storage();
    let Some(c) = st.zset(ctx.db(), &argv[1])? else {
        return Ok(Reply::Array(vec![
            Reply::bulk("0"),
            Reply::Array(Vec::new()),
        ]));
    };
    let (count, pattern) = args::scan_options(&argv[3..])?;
    let (next, items) = st.zscan(&c, cursor, count, pattern)?;
    let mut flat = Vec::with_capacity(items.len() * 2);
    for (m, s) in items {
        flat.push(Reply::bulk(m));
        flat.push(Reply::bulk(format_double(s)));
    }
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string()),
        Reply::Array(flat),
    ]))
}
