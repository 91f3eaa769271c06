//! Set commands, after Redis' `t_set.c`: membership (SADD SREM SISMEMBER SMISMEMBER SCARD
//! SMEMBERS), random members (SRANDMEMBER SPOP), SMOVE, set algebra (SINTER SINTERCARD SUNION
//! SDIFF and their STORE forms) and SSCAN.
//!
//! Arguments are validated in Redis' order so the same bad request gets the same error; whole
//! sets are replied as RESP3 sets, SRANDMEMBER's samples as arrays (they may repeat).

use bytes::Bytes;

use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::types::lazy_reply::{self, Shape};
use crate::cmd::types::random_picks;
use crate::cmd::{args, CmdError, CmdResult, Ctx, EventClasses as Class};
use crate::command;
use crate::resp::Reply;
use crate::storage::types::algebra::SetAlgebra;
use crate::util::number::parse_i64;

/// Commands of this group.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("sadd", -3, [WRITE, DENYOOM, FAST], KeySpec::single(1), [WRITE, SET, FAST], "set",
             "Adds one or more members to a set. Creates the key if it doesn't exist.", sadd,
             key_flags: &[&["RW", "insert"]]),
    command!("srem", -3, [WRITE, FAST], KeySpec::single(1), [WRITE, SET, FAST], "set",
             "Removes one or more members from a set. Deletes the set if the last member was removed.",
             srem,
             key_flags: &[&["RW", "delete"]]),
    command!("scard", 2, [READONLY, FAST], KeySpec::single(1), [READ, SET, FAST], "set",
             "Returns the number of members in a set.", scard,
             key_flags: &[&["RO"]]),
    command!("sismember", 3, [READONLY, FAST], KeySpec::single(1), [READ, SET, FAST], "set",
             "Determines whether a member belongs to a set.", sismember,
             key_flags: &[&["RO"]]),
    command!("smismember", -3, [READONLY, FAST], KeySpec::single(1), [READ, SET, FAST], "set",
             "Determines whether multiple members belong to a set.", smismember),
    command!("smembers", 2, [READONLY], KeySpec::single(1), [READ, SET, SLOW], "set",
             "Returns all members of a set.", smembers),
    command!("srandmember", -2, [READONLY], KeySpec::single(1), [READ, SET, SLOW], "set",
             "Get one or multiple random members from a set", srandmember),
    command!("spop", -2, [WRITE, FAST], KeySpec::single(1), [WRITE, SET, FAST], "set",
             "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.",
             spop,
             key_flags: &[&["RW", "access", "delete"]]),
    command!("smove", 4, [WRITE, FAST], KeySpec::span(1, 2), [WRITE, SET, FAST], "set",
             "Moves a member from one set to another.", smove,
             key_flags: &[&["RW", "access", "delete"], &["RW", "insert"]]),
    command!("sinter", -2, [READONLY], KeySpec::rest(1), [READ, SET, SLOW], "set",
             "Returns the intersect of multiple sets.", sinter),
    command!("sintercard", -3, [READONLY],
             KeySpec::Keynum { numkeys_at: 1, first: 2, step: 1 }, [READ, SET, SLOW], "set",
             "Returns the number of members of the intersect of multiple sets.", sintercard),
    command!("sinterstore", -3, [WRITE, DENYOOM], KeySpec::rest(1), [WRITE, SET, SLOW], "set",
             "Stores the intersect of multiple sets in a key.", sinterstore,
             key_flags: &[&["RW", "update"], &["RO", "access"]]),
    command!("sunion", -2, [READONLY], KeySpec::rest(1), [READ, SET, SLOW], "set",
             "Returns the union of multiple sets.", sunion),
    command!("sunionstore", -3, [WRITE, DENYOOM], KeySpec::rest(1), [WRITE, SET, SLOW], "set",
             "Stores the union of multiple sets in a key.", sunionstore,
             key_flags: &[&["OW", "update"], &["RO", "access"]]),
    command!("sdiff", -2, [READONLY], KeySpec::rest(1), [READ, SET, SLOW], "set",
             "Returns the difference of multiple sets.", sdiff),
    command!("sdiffstore", -3, [WRITE, DENYOOM], KeySpec::rest(1), [WRITE, SET, SLOW], "set",
             "Stores the difference of multiple sets in a key.", sdiffstore,
             key_flags: &[&["OW", "update"], &["RO", "access"]]),
    command!("sscan", -3, [READONLY], KeySpec::single(1), [READ, SET, SLOW], "set",
             "Iterates over members of a set.", sscan),
];

fn members_reply(members: Vec<Vec<u8>>) -> Vec<Reply> {
    members.into_iter().map(Reply::bulk).collect()
}

fn sadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let members = args::key_slices(&argv[2..]);
    let added = ctx.set().add(&argv[1], &members)?;
    if added > 0 {
        ctx.notify(Class::SET, "sadd", &argv[1]);
    }
    Ok(Reply::Integer(added as i64))
}

fn srem(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let members = args::key_slices(&argv[2..]);
    let removed = ctx.set().remove(&argv[1], &members)?;
    if removed > 0 {
        ctx.notify(Class::SET, "srem", &argv[1]);
        ctx.notify_if_emptied(&argv[1])?;
    }
    Ok(Reply::Integer(removed as i64))
}

fn scard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(ctx.set().len(&argv[1])? as i64))
}

fn sismember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let found = ctx.set().contains_many(&argv[1], &[argv[2].as_ref()])?;
    Ok(Reply::Integer(i64::from(found[0])))
}

fn smismember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let members = args::key_slices(&argv[2..]);
    let found = ctx.set().contains_many(&argv[1], &members)?;
    Ok(Reply::Array(
        found
            .into_iter()
            .map(|f| Reply::Integer(i64::from(f)))
            .collect(),
    ))
}

fn smembers(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let members = ctx.set().members(&argv[1])?;
    Ok(lazy_reply::bulks(members, Shape::Set))
}

fn srandmember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match argv.len() {
        2 => Ok(ctx.set().random(&argv[1])?.map_or(Reply::Null, Reply::bulk)),
        3 => {
            let n = args::int(&argv[2])?;
            if n == i64::MIN {
                return Err(CmdError::err(format!(
                    "value is out of range, value must between {} and {}",
                    -i64::MAX,
                    i64::MAX
                )));
            }
            let count = n.unsigned_abs();
            if n >= 0 {
                let picked = ctx.set().random_distinct(&argv[1], count)?;
                return Ok(Reply::Array(members_reply(picked)));
            }
            // Repeating picks are drawn from a bounded pool while the reply is written.
            let pool = ctx
                .set()
                .random_distinct(&argv[1], count.min(random_picks::POOL_MAX))?;
            let pool = pool.into_iter().map(|m| vec![Reply::bulk(m)]).collect();
            Ok(random_picks::reply(pool, count))
        }
        _ => Err(CmdError::Syntax),
    }
}

/// A non-negative count argument read like Redis' `getPositiveLongFromObjectOrReply`: any
/// failure (not an integer, or negative) answers `msg`.
fn positive(arg: &[u8], msg: &str) -> Result<u64, CmdError> {
    parse_i64(arg)
        .filter(|&n| n >= 0)
        .map(|n| n as u64)
        .ok_or_else(|| CmdError::err(msg))
}

fn spop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match argv.len() {
        2 => {
            let popped = ctx.set().pop(&argv[1])?;
            if popped.is_some() {
                notify_popped(ctx, &argv[1])?;
            }
            Ok(popped.map_or(Reply::Null, Reply::bulk))
        }
        3 => {
            let count = positive(&argv[2], "value is out of range, must be positive")?;
            let popped = ctx.set().pop_many(&argv[1], count)?;
            if !popped.is_empty() {
                notify_popped(ctx, &argv[1])?;
            }
            Ok(Reply::Set(members_reply(popped)))
        }
        _ => Err(CmdError::Syntax),
    }
}

/// The events of SPOP: `spop`, and `del` if it emptied the set.
fn notify_popped(ctx: &Ctx<'_>, key: &[u8]) -> Result<(), CmdError> {
    ctx.notify(Class::SET, "spop", key);
    ctx.notify_if_emptied(key)
}

fn smove(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (src, dst, member) = (&argv[1], &argv[2], &argv[3]);
    // The destination's `sadd` is published only when the member was new there.
    let dst_had_it = src != dst
        && ctx.server.storage.notifier.wants(Class::SET)
        && ctx
            .set()
            .contains_many(dst, &[member.as_ref()])
            .is_ok_and(|found| found.first() == Some(&true));
    let moved = ctx.set().move_to(src, dst, member)?;
    if moved && src != dst {
        ctx.notify(Class::SET, "srem", src);
        ctx.notify_if_emptied(src)?;
        if !dst_had_it {
            ctx.notify(Class::SET, "sadd", dst);
        }
    }
    Ok(Reply::Integer(i64::from(moved)))
}

fn algebra(ctx: &mut Ctx<'_>, op: SetAlgebra, keys: &[Bytes]) -> CmdResult {
    let keys = args::key_slices(keys);
    let members = ctx.set().combine(op, &keys)?;
    Ok(Reply::Set(members_reply(members)))
}

fn algebra_store(ctx: &mut Ctx<'_>, op: SetAlgebra, argv: &[Bytes]) -> CmdResult {
    let keys = args::key_slices(&argv[2..]);
    let existed = ctx.exists_for_notify(&argv[1])?;
    let n = ctx.set().store(op, &argv[1], &keys)?;
    let event = match op {
        SetAlgebra::Inter => "sinterstore",
        SetAlgebra::Union => "sunionstore",
        SetAlgebra::Diff => "sdiffstore",
    };
    ctx.notify_stored(Class::SET, event, &argv[1], n > 0, existed);
    Ok(Reply::Integer(n as i64))
}

fn sinter(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, SetAlgebra::Inter, &argv[1..])
}

fn sunion(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, SetAlgebra::Union, &argv[1..])
}

fn sdiff(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, SetAlgebra::Diff, &argv[1..])
}

fn sinterstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra_store(ctx, SetAlgebra::Inter, argv)
}

fn sunionstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra_store(ctx, SetAlgebra::Union, argv)
}

fn sdiffstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra_store(ctx, SetAlgebra::Diff, argv)
}

fn sintercard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let numkeys = parse_i64(&argv[1])
        .filter(|&n| n > 0)
        .ok_or_else(|| CmdError::err("numkeys should be greater than 0"))?;
    if numkeys > argv.len() as i64 - 2 {
        return Err(CmdError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    let keys_end = 2 + numkeys as usize;
    let mut limit = 0u64;
    let mut i = keys_end;
    while i < argv.len() {
        if args::is(&argv[i], "limit") && i + 1 < argv.len() {
            limit = positive(&argv[i + 1], "LIMIT can't be negative")?;
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let keys = args::key_slices(&argv[2..keys_end]);
    let n = ctx.set().intersection_len(&keys, limit)?;
    Ok(Reply::Integer(n as i64))
}

fn sscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cursor = args::cursor(&argv[2])?;
    let empty = || {
        Reply::Array(vec![
            Reply::bulk(Bytes::from_static(b"0")),
            Reply::Array(Vec::new()),
        ])
    };
    // A missing key answers an empty scan before the options are looked at, as in Redis.
    if ctx.set().read(&argv[1])?.is_none() {
        return Ok(empty());
    }
    let (count, pattern) = args::scan_options(&argv[3..])?;
    let (next, found) = ctx.set().scan(&argv[1], cursor, count, pattern)?;
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string()),
        Reply::Array(members_reply(found)),
    ]))
}
