//! Sorted set commands, after Redis' `t_zset.c`: ZADD and ZINCRBY, point reads, the ZRANGE
//! family (by rank, score and lex, forward and reverse, with LIMIT and WITHSCORES, and
//! ZRANGESTORE), range removals, pops (also blocking), ZRANDMEMBER, the set algebra
//! (ZUNION/ZINTER/ZDIFF, their STORE forms, ZINTERCARD; plain sets count as scores of 1) and
//! ZSCAN.
//!
//! Arguments are validated in Redis' order so that a bad request gets Redis' error. Replies
//! carry scores as doubles: bulk strings in RESP2, native doubles in RESP3, where WITHSCORES
//! results become [member, score] pairs as in Redis 7.

mod algebra;
mod pops;
mod ranges;

use bytes::Bytes;
use rand::Rng;

use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::types::random_picks;
use crate::cmd::{args, CmdError, CmdResult, Ctx, EventClasses as Class};
use crate::command;
use crate::resp::reply::format_double;
use crate::resp::{Protocol, Reply};
use crate::storage::types::zset::{
    LexBound, LexRange, ScoreRange, ScoredMember, ZaddFlags, ZaddOutcome,
};
use crate::util::number::parse_f64;
use algebra::{zdiff, zdiffstore, zinter, zintercard, zinterstore, zunion, zunionstore};
use pops::{bzmpop, bzpopmax, bzpopmin, zmpop, zpopmax, zpopmin};
use ranges::{
    zrange, zrangebylex, zrangebyscore, zrangestore, zremrangebylex, zremrangebyrank,
    zremrangebyscore, zrevrange, zrevrangebylex, zrevrangebyscore,
};

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
    command!("zrange", -4, [READONLY, INDEX_RANGE], KeySpec::single(1), [READ, SORTEDSET, SLOW],
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
    let outcome = ctx.zset().add(&argv[1], &pairs, f)?;
    notify_added(ctx, &argv[1], &outcome, f.incr);
    match outcome {
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
    let outcome = ctx.zset().add(&argv[1], &[(by, argv[3].as_ref())], f)?;
    notify_added(ctx, &argv[1], &outcome, true);
    match outcome {
        ZaddOutcome::NotANumber => Err(nan_error()),
        ZaddOutcome::Done { score, .. } => Ok(score.map_or(Reply::Null, Reply::Double)),
    }
}

/// The event of ZADD (`zincr` with INCR, and ZINCRBY) when a member was added or changed.
fn notify_added(ctx: &Ctx<'_>, key: &[u8], outcome: &ZaddOutcome, incr: bool) {
    if let ZaddOutcome::Done { added, changed, .. } = outcome {
        if added + changed > 0 {
            ctx.notify(Class::ZSET, if incr { "zincr" } else { "zadd" }, key);
        }
    }
}

/// The events of a command that took members out of `key`: `event`, and `del` if that
/// emptied it.
pub(super) fn notify_removed(
    ctx: &Ctx<'_>,
    event: &str,
    key: &[u8],
    removed: u64,
) -> Result<(), CmdError> {
    if removed > 0 {
        ctx.notify(Class::ZSET, event, key);
        ctx.notify_if_emptied(key)?;
    }
    Ok(())
}

fn zrem(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let members = args::key_slices(&argv[2..]);
    let n = ctx.zset().remove(&argv[1], &members)?;
    notify_removed(ctx, "zrem", &argv[1], n)?;
    Ok(Reply::Integer(n as i64))
}

// ---------------------------------------------------------------------------------------------
// Point reads

fn zcard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let c = ctx.zset().read(&argv[1])?;
    Ok(Reply::Integer(c.map_or(0, |c| c.len() as i64)))
}

fn zscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let zs = ctx.zset();
    let Some(c) = zs.read(&argv[1])? else {
        return Ok(Reply::Null);
    };
    Ok(zs.score(&c, &argv[2])?.map_or(Reply::Null, Reply::Double))
}

fn zmscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let zs = ctx.zset();
    let members = args::key_slices(&argv[2..]);
    let scores = match zs.read(&argv[1])? {
        Some(c) => zs.scores(&c, &members)?,
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
    let zs = ctx.zset();
    let Some(c) = zs.read(&argv[1])? else {
        return Ok(Reply::Null);
    };
    Ok(zs
        .rank(&c, &argv[2], reverse)?
        .map_or(Reply::Null, |r| Reply::Integer(r as i64)))
}

fn zcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let range = parse_score_range(&argv[2], &argv[3])?;
    let zs = ctx.zset();
    let n = match zs.read(&argv[1])? {
        Some(c) => zs.count(&c, &range)?,
        None => 0,
    };
    Ok(Reply::Integer(n as i64))
}

fn zlexcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let range = parse_lex_range(&argv[2], &argv[3])?;
    let zs = ctx.zset();
    let n = match zs.read(&argv[1])? {
        Some(c) => zs.lex_count(&c, &range)?,
        None => 0,
    };
    Ok(Reply::Integer(n as i64))
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER

fn zrandmember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let zs = ctx.zset();
    let Some(count_arg) = argv.get(2) else {
        let Some(c) = zs.read(&argv[1])? else {
            return Ok(Reply::Null);
        };
        let r = rand::thread_rng().gen_range(0..c.len()) as i64;
        let picked = zs.range_by_rank(&c, r, r, false)?;
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
    let Some(c) = zs.read(&argv[1])? else {
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
    let all = if whole { zs.all(&c)? } else { Vec::new() };
    let pick = |rank: u64| -> Result<ScoredMember, CmdError> {
        if whole {
            return Ok(all[rank as usize].clone());
        }
        let r = rank as i64;
        Ok(zs
            .range_by_rank(&c, r, r, false)?
            .into_iter()
            .next()
            .unwrap_or_default())
    };
    let items: Vec<ScoredMember> = if distinct >= size {
        if whole {
            all.clone()
        } else {
            zs.all(&c)?
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
// ZSCAN

fn zscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cursor = args::cursor(&argv[2])?;
    let zs = ctx.zset();
    let Some(c) = zs.read(&argv[1])? else {
        return Ok(Reply::Array(vec![
            Reply::bulk("0"),
            Reply::Array(Vec::new()),
        ]));
    };
    let (count, pattern) = args::scan_options(&argv[3..])?;
    let (next, items) = zs.scan(&c, cursor, count, pattern)?;
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
