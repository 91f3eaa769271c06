//! Hash commands, after Redis' `t_hash.c`: field writes (HSET, HSETNX, HMSET, HDEL), counters
//! (HINCRBY, HINCRBYFLOAT), point reads (HGET, HMGET, HEXISTS, HSTRLEN, HLEN), whole-hash reads
//! (HGETALL, HKEYS, HVALS), HRANDFIELD and HSCAN.
//!
//! Handlers validate arguments in Redis' order, so the same bad request gets the same error,
//! then make one storage call (`storage::hash`).

use bytes::Bytes;

use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::types::random_picks;
use crate::cmd::{args, CmdError, CmdResult, Ctx, EventClasses as Class};
use crate::command;
use crate::resp::{Protocol, Reply};
use crate::storage::types::hash::RandomFields;
use crate::util::number::{format_incrbyfloat, parse_f64, parse_i64, write_i64};

/// Commands of this group.
pub const COMMANDS: &[CommandSpec] = &[
    command!(
        "hset",
        -4,
        [WRITE, DENYOOM, FAST],
        KeySpec::single(1),
        [WRITE, HASH, FAST],
        "hash",
        "Set the string value of a hash field",
        hset
    ),
    command!(
        "hsetnx",
        4,
        [WRITE, DENYOOM, FAST],
        KeySpec::single(1),
        [WRITE, HASH, FAST],
        "hash",
        "Set the value of a hash field, only if the field does not exist",
        hsetnx
    ),
    command!(
        "hmset",
        -4,
        [WRITE, DENYOOM, FAST],
        KeySpec::single(1),
        [WRITE, HASH, FAST],
        "hash",
        "Set multiple hash fields to multiple values",
        hmset
    ),
    command!(
        "hget",
        3,
        [READONLY, FAST],
        KeySpec::single(1),
        [READ, HASH, FAST],
        "hash",
        "Get the value of a hash field",
        hget
    ),
    command!(
        "hmget",
        -3,
        [READONLY, FAST],
        KeySpec::single(1),
        [READ, HASH, FAST],
        "hash",
        "Get the values of all the given hash fields",
        hmget
    ),
    command!(
        "hgetall",
        2,
        [READONLY],
        KeySpec::single(1),
        [READ, HASH, SLOW],
        "hash",
        "Get all the fields and values in a hash",
        hgetall
    ),
    command!(
        "hdel",
        -3,
        [WRITE, FAST],
        KeySpec::single(1),
        [WRITE, HASH, FAST],
        "hash",
        "Delete one or more hash fields",
        hdel
    ),
    command!(
        "hlen",
        2,
        [READONLY, FAST],
        KeySpec::single(1),
        [READ, HASH, FAST],
        "hash",
        "Get the number of fields in a hash",
        hlen
    ),
    command!(
        "hstrlen",
        3,
        [READONLY, FAST],
        KeySpec::single(1),
        [READ, HASH, FAST],
        "hash",
        "Get the length of the value of a hash field",
        hstrlen
    ),
    command!(
        "hexists",
        3,
        [READONLY, FAST],
        KeySpec::single(1),
        [READ, HASH, FAST],
        "hash",
        "Determine if a hash field exists",
        hexists
    ),
    command!(
        "hkeys",
        2,
        [READONLY],
        KeySpec::single(1),
        [READ, HASH, SLOW],
        "hash",
        "Get all the fields in a hash",
        hkeys
    ),
    command!(
        "hvals",
        2,
        [READONLY],
        KeySpec::single(1),
        [READ, HASH, SLOW],
        "hash",
        "Get all the values in a hash",
        hvals
    ),
    command!(
        "hincrby",
        4,
        [WRITE, DENYOOM, FAST],
        KeySpec::single(1),
        [WRITE, HASH, FAST],
        "hash",
        "Increment the integer value of a hash field by the given number",
        hincrby
    ),
    command!(
        "hincrbyfloat",
        4,
        [WRITE, DENYOOM, FAST],
        KeySpec::single(1),
        [WRITE, HASH, FAST],
        "hash",
        "Increment the float value of a hash field by the given amount",
        hincrbyfloat
    ),
    command!(
        "hrandfield",
        -2,
        [READONLY],
        KeySpec::single(1),
        [READ, HASH, SLOW],
        "hash",
        "Get one or multiple random fields from a hash",
        hrandfield
    ),
    command!(
        "hscan",
        -3,
        [READONLY],
        KeySpec::single(1),
        [READ, HASH, SLOW],
        "hash",
        "Incrementally iterate hash fields and associated values",
        hscan
    ),
];

fn bulk(v: Vec<u8>) -> Reply {
    Reply::Bulk(Bytes::from(v))
}

fn bulk_or_null(v: Option<Vec<u8>>) -> Reply {
    v.map_or(Reply::Null, bulk)
}

/// (field, value) arguments.
type FieldValues<'a> = Vec<(&'a [u8], &'a [u8])>;

/// The (field, value) pairs of HSET/HMSET; an odd count is an arity error naming `cmd`.
fn field_value_pairs<'a>(argv: &'a [Bytes], cmd: &str) -> Result<FieldValues<'a>, CmdError> {
    if argv.len() % 2 == 1 {
        return Err(CmdError::WrongArity(cmd.to_string()));
    }
    Ok(argv[2..]
        .chunks_exact(2)
        .map(|p| (p[0].as_ref(), p[1].as_ref()))
        .collect())
}

fn hset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let created = if argv.len() == 4 {
        // The hot single-field form skips building a pair list.
        ctx.hash()
            .set(&argv[1], &[(argv[2].as_ref(), argv[3].as_ref())])?
    } else {
        let pairs = field_value_pairs(argv, "hset")?;
        ctx.hash().set(&argv[1], &pairs)?
    };
    ctx.notify(Class::HASH, "hset", &argv[1]);
    Ok(Reply::Integer(created as i64))
}

fn hmset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let pairs = field_value_pairs(argv, "hmset")?;
    ctx.hash().set(&argv[1], &pairs)?;
    ctx.notify(Class::HASH, "hset", &argv[1]);
    Ok(Reply::ok())
}

fn hsetnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let set = ctx.hash().set_nx(&argv[1], &argv[2], &argv[3])?;
    if set {
        ctx.notify(Class::HASH, "hset", &argv[1]);
    }
    Ok(Reply::Integer(i64::from(set)))
}

fn hget(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    Ok(bulk_or_null(ctx.hash().get(&argv[1], &argv[2])?))
}

fn hmget(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let fields = args::key_slices(&argv[2..]);
    let values = ctx.hash().get_many(&argv[1], &fields)?;
    Ok(Reply::Array(values.into_iter().map(bulk_or_null).collect()))
}

fn hdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let fields = args::key_slices(&argv[2..]);
    let deleted = ctx.hash().remove(&argv[1], &fields)?;
    if deleted > 0 {
        ctx.notify(Class::HASH, "hdel", &argv[1]);
        ctx.notify_if_emptied(&argv[1])?;
    }
    Ok(Reply::Integer(deleted as i64))
}

fn hlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(ctx.hash().len(&argv[1])? as i64))
}

fn hstrlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let len = ctx.hash().get_with(&argv[1], &argv[2], |v| v.len())?;
    Ok(Reply::Integer(len.unwrap_or(0) as i64))
}

fn hexists(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let found = ctx.hash().get_with(&argv[1], &argv[2], |_| ())?;
    Ok(Reply::Integer(i64::from(found.is_some())))
}

fn hgetall(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut pairs = Vec::new();
    ctx.hash().for_each(&argv[1], |f, v| {
        pairs.push((Reply::bulk_from_slice(f), Reply::bulk_from_slice(v)));
    })?;
    Ok(Reply::Map(pairs))
}

fn hkeys(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut out = Vec::new();
    ctx.hash()
        .for_each(&argv[1], |f, _| out.push(Reply::bulk_from_slice(f)))?;
    Ok(Reply::Array(out))
}

fn hvals(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut out = Vec::new();
    ctx.hash()
        .for_each(&argv[1], |_, v| out.push(Reply::bulk_from_slice(v)))?;
    Ok(Reply::Array(out))
}

fn hincrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let delta = args::int(&argv[3])?;
    let mut result = 0i64;
    ctx.hash()
        .update::<CmdError>(&argv[1], &argv[2], |current| {
            let old = match current {
                Some(v) => {
                    parse_i64(v).ok_or_else(|| CmdError::err("hash value is not an integer"))?
                }
                None => 0,
            };
            result = old
                .checked_add(delta)
                .ok_or_else(|| CmdError::err("increment or decrement would overflow"))?;
            let mut text = Vec::with_capacity(20);
            write_i64(&mut text, result);
            Ok(text)
        })?;
    ctx.notify(Class::HASH, "hincrby", &argv[1]);
    Ok(Reply::Integer(result))
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let incr = args::float(&argv[3])?;
    if !incr.is_finite() {
        return Err(CmdError::err("value is NaN or Infinity"));
    }
    let new = ctx
        .hash()
        .update::<CmdError>(&argv[1], &argv[2], |current| {
            let value = match current {
                Some(v) => {
                    parse_f64(v).ok_or_else(|| CmdError::err("hash value is not a float"))?
                }
                None => 0.0,
            };
            let sum = value + incr;
            if !sum.is_finite() {
                return Err(CmdError::err("increment would produce NaN or Infinity"));
            }
            Ok(format_incrbyfloat(sum).into_bytes())
        })?;
    ctx.notify(Class::HASH, "hincrbyfloat", &argv[1]);
    Ok(bulk(new))
}

fn hrandfield(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() == 2 {
        let picked = ctx
            .hash()
            .random(&argv[1], RandomFields::Repeating(1), false)?;
        return Ok(picked
            .and_then(|mut v| v.pop())
            .map_or(Reply::Null, |(f, _)| bulk(f)));
    }
    let count = args::int(&argv[2])?;
    if count == i64::MIN {
        return Err(CmdError::err(format!(
            "value is out of range, must be between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    let with_values = match argv.get(3) {
        None => false,
        Some(opt) if argv.len() == 4 && args::is(opt, "withvalues") => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    if with_values && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
        return Err(CmdError::err("value is out of range"));
    }
    // Repeating picks are drawn from a bounded pool while the reply is written.
    let want = RandomFields::Distinct(if count < 0 {
        count.unsigned_abs().min(random_picks::POOL_MAX)
    } else {
        count as u64
    });
    if count == 0 {
        // Still a type check, as Redis looks the key up first.
        ctx.hash().len(&argv[1])?;
        return Ok(Reply::Array(Vec::new()));
    }
    let picked = ctx
        .hash()
        .random(&argv[1], want, with_values)?
        .unwrap_or_default();
    let resp3 = ctx.client.protocol() == Protocol::Resp3;
    let picks = picked.into_iter().map(|(field, value)| match value {
        Some(v) if resp3 => vec![Reply::Array(vec![bulk(field), bulk(v)])],
        Some(v) => vec![bulk(field), bulk(v)],
        None => vec![bulk(field)],
    });
    if count < 0 {
        return Ok(random_picks::reply(picks.collect(), count.unsigned_abs()));
    }
    Ok(Reply::Array(picks.flatten().collect()))
}

fn hscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cursor = args::cursor(&argv[2])?;
    let empty = || Reply::Array(vec![Reply::bulk("0"), Reply::Array(Vec::new())]);
    // Redis looks the key up before it reads the options.
    let (count, pattern) = match args::scan_options(&argv[3..]) {
        Ok(o) => o,
        Err(e) => {
            return if ctx.hash().len(&argv[1])? == 0 {
                Ok(empty())
            } else {
                Err(e)
            };
        }
    };
    let Some((next, found)) = ctx.hash().scan(&argv[1], cursor, count, pattern)? else {
        return Ok(empty());
    };
    let mut items = Vec::with_capacity(found.len() * 2);
    for (f, v) in found {
        items.push(bulk(f));
        items.push(bulk(v));
    }
    let cursor_text = itoa::Buffer::new().format(next).as_bytes().to_vec();
    Ok(Reply::Array(vec![bulk(cursor_text), Reply::Array(items)]))
}
