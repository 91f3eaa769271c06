//! List commands, after Redis' `t_list.c`: pushes and pops at both ends, indexed access,
//! ranges, LINSERT/LREM/LTRIM/LPOS, moves between lists, multi-key pops and the blocking
//! variants.
//!
//! Arguments are validated in Redis' order (so a bad request gets the same error), then one
//! storage call does the work under the dispatcher's key locks. A blocking command that finds
//! no data asks to wait with [`Ctx::block`]; it is run again from the start when a key gets
//! data, so its serving path is the plain non-blocking one.

use bytes::Bytes;

use crate::cmd::gate::spec::{CommandSpec, KeyEnd, KeySpec};
use crate::cmd::types::lazy_reply::{self, Shape};
use crate::cmd::{args, CmdError, CmdResult, Ctx, EventClasses as Class};
use crate::command;
use crate::resp::Reply;
use crate::storage::types::list::{End, Popped, PosQuery};

/// BLPOP/BRPOP keys: every argument but the command name and the trailing timeout.
const BLOCKING_POP_KEYS: KeySpec = KeySpec::Range {
    first: 1,
    last: KeyEnd::FromEnd(2),
    step: 1,
};

/// Commands of this group.
pub const COMMANDS: &[CommandSpec] = &[
    command!("lpush", -3, [WRITE, DENYOOM, FAST], KeySpec::single(1), [WRITE, LIST, FAST],
             "list", "Prepends one or more elements to a list. Creates the key if it doesn't exist.",
             lpush),
    command!("rpush", -3, [WRITE, DENYOOM, FAST], KeySpec::single(1), [WRITE, LIST, FAST],
             "list", "Appends one or more elements to a list. Creates the key if it doesn't exist.",
             rpush),
    command!("lpushx", -3, [WRITE, DENYOOM, FAST], KeySpec::single(1), [WRITE, LIST, FAST],
             "list", "Prepends one or more elements to a list only when the list exists.", lpushx),
    command!("rpushx", -3, [WRITE, DENYOOM, FAST], KeySpec::single(1), [WRITE, LIST, FAST],
             "list", "Appends an element to a list only when the list exists.", rpushx),
    command!("lpop", -2, [WRITE, FAST], KeySpec::single(1), [WRITE, LIST, FAST], "list",
             "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.",
             lpop),
    command!("rpop", -2, [WRITE, FAST], KeySpec::single(1), [WRITE, LIST, FAST], "list",
             "Returns and removes the last elements of a list. Deletes the list if the last element was popped.",
             rpop),
    command!("llen", 2, [READONLY, FAST], KeySpec::single(1), [READ, LIST, FAST], "list",
             "Returns the length of a list.", llen),
    command!("lindex", 3, [READONLY], KeySpec::single(1), [READ, LIST, SLOW], "list",
             "Returns an element from a list by its index.", lindex),
    command!("lrange", 4, [READONLY, INDEX_RANGE], KeySpec::single(1), [READ, LIST, SLOW], "list",
             "Returns a range of elements from a list.", lrange),
    command!("lset", 4, [WRITE, DENYOOM], KeySpec::single(1), [WRITE, LIST, SLOW], "list",
             "Sets the value of an element in a list by its index.", lset),
    command!("linsert", 5, [WRITE, DENYOOM], KeySpec::single(1), [WRITE, LIST, SLOW], "list",
             "Inserts an element before or after another element in a list.", linsert),
    command!("lrem", 4, [WRITE], KeySpec::single(1), [WRITE, LIST, SLOW], "list",
             "Removes elements from a list. Deletes the list if the last element was removed.",
             lrem),
    command!("ltrim", 4, [WRITE], KeySpec::single(1), [WRITE, LIST, SLOW], "list",
             "Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
             ltrim),
    command!("lpos", -3, [READONLY], KeySpec::single(1), [READ, LIST, SLOW], "list",
             "Returns the index of matching elements in a list.", lpos),
    command!("lmove", 5, [WRITE, DENYOOM], KeySpec::span(1, 2), [WRITE, LIST, SLOW], "list",
             "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.",
             lmove,
             key_flags: &[&["RW", "access", "delete"], &["RW", "insert"]]),
    command!("rpoplpush", 3, [WRITE, DENYOOM], KeySpec::span(1, 2), [WRITE, LIST, SLOW], "list",
             "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.",
             rpoplpush,
             key_flags: &[&["RW", "access", "delete"], &["RW", "insert"]]),
    command!("lmpop", -4, [WRITE],
             KeySpec::Keynum { numkeys_at: 1, first: 2, step: 1 }, [WRITE, LIST, SLOW], "list",
             "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.",
             lmpop),
    command!("blpop", -3, [WRITE, NOSCRIPT, BLOCKING], BLOCKING_POP_KEYS,
             [WRITE, LIST, SLOW, BLOCKING], "list",
             "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
             blpop),
    command!("brpop", -3, [WRITE, NOSCRIPT, BLOCKING], BLOCKING_POP_KEYS,
             [WRITE, LIST, SLOW, BLOCKING], "list",
             "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
             brpop),
    command!("blmove", 6, [WRITE, DENYOOM, NOSCRIPT, BLOCKING], KeySpec::span(1, 2),
             [WRITE, LIST, SLOW, BLOCKING], "list",
             "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.",
             blmove,
             key_flags: &[&["RW", "access", "delete"], &["RW", "insert"]]),
    command!("brpoplpush", 4, [WRITE, DENYOOM, NOSCRIPT, BLOCKING], KeySpec::span(1, 2),
             [WRITE, LIST, SLOW, BLOCKING], "list",
             "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.",
             brpoplpush,
             key_flags: &[&["RW", "access", "delete"], &["RW", "insert"]]),
    command!("blmpop", -5, [WRITE, BLOCKING],
             KeySpec::Keynum { numkeys_at: 2, first: 3, step: 1 },
             [WRITE, LIST, SLOW, BLOCKING], "list",
             "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
             blmpop),
];

fn bulk(v: Vec<u8>) -> Reply {
    Reply::Bulk(Bytes::from(v))
}

fn bulks(values: Vec<Vec<u8>>) -> Reply {
    Reply::Array(values.into_iter().map(bulk).collect())
}

/// An integer that must be in `[min, i64::MAX]`; anything else is `ERR <msg>`.
fn int_at_least(arg: &[u8], min: i64, msg: &str) -> Result<i64, CmdError> {
    match args::int(arg) {
        Ok(v) if v >= min => Ok(v),
        _ => Err(CmdError::err(msg)),
    }
}

/// `LEFT` or `RIGHT`.
fn end_arg(arg: &[u8]) -> Result<End, CmdError> {
    if args::is(arg, "left") {
        Ok(End::Left)
    } else if args::is(arg, "right") {
        Ok(End::Right)
    } else {
        Err(CmdError::Syntax)
    }
}

// ---------------------------------------------------------------------------------------------
// Push and pop

fn push(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End, only_existing: bool) -> CmdResult {
    let len = ctx.list().push(&argv[1], &argv[2..], end, only_existing)?;
    if len > 0 {
        ctx.notify(Class::LIST, push_event(end), &argv[1]);
    }
    Ok(Reply::Integer(len as i64))
}

/// The event of a push at `end`.
fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

/// The event of a pop from `end`.
fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

/// The events of elements popped from `key` at `end`: the pop, and `del` if it emptied it.
fn notify_popped(ctx: &Ctx<'_>, key: &[u8], end: End) -> Result<(), CmdError> {
    ctx.notify(Class::LIST, pop_event(end), key);
    ctx.notify_if_emptied(key)
}

fn lpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    push(ctx, argv, End::Left, false)
}

fn rpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    push(ctx, argv, End::Right, false)
}

fn lpushx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    push(ctx, argv, End::Left, true)
}

fn rpushx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    push(ctx, argv, End::Right, true)
}

/// LPOP/RPOP `key [count]`: a bulk (null when absent) without count, an array (null array
/// when absent) with it.
fn pop(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::WrongArity(args::lower(&argv[0])));
    }
    let count = match argv.get(2) {
        Some(c) => Some(int_at_least(c, 0, "value is out of range, must be positive")? as u64),
        None => None,
    };
    let popped = ctx.list().pop(&argv[1], end, count.unwrap_or(1))?;
    if popped.as_ref().is_some_and(|v| !v.is_empty()) {
        notify_popped(ctx, &argv[1], end)?;
    }
    Ok(match (popped, count) {
        (None, None) => Reply::Null,
        (None, Some(_)) => Reply::NullArray,
        (Some(mut values), None) => values.pop().map_or(Reply::Null, bulk),
        (Some(values), Some(_)) => bulks(values),
    })
}

fn lpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    pop(ctx, argv, End::Left)
}

fn rpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    pop(ctx, argv, End::Right)
}

// ---------------------------------------------------------------------------------------------
// Reading and indexed access

fn llen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(ctx.list().len(&argv[1])? as i64))
}

fn lindex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    // Redis looks the key up before it parses the index.
    let Some(list) = ctx.list().read(&argv[1])? else {
        return Ok(Reply::Null);
    };
    let index = args::int(&argv[2])?;
    Ok(ctx.list().get(&list, index)?.map_or(Reply::Null, bulk))
}

fn lset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let Some(list) = ctx.list().read_for_write(&argv[1])? else {
        return Err(CmdError::err("no such key"));
    };
    let index = args::int(&argv[2])?;
    if ctx.list().set(list, index, &argv[3])? {
        ctx.notify(Class::LIST, "lset", &argv[1]);
        Ok(Reply::ok())
    } else {
        Err(CmdError::err("index out of range"))
    }
}

fn lrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let start = args::int(&argv[2])?;
    let stop = args::int(&argv[3])?;
    let range = ctx.list().range(&argv[1], start, stop)?;
    Ok(lazy_reply::bulks(range, Shape::Array))
}

fn ltrim(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let start = args::int(&argv[2])?;
    let stop = args::int(&argv[3])?;
    if ctx.list().trim(&argv[1], start, stop)? {
        ctx.notify(Class::LIST, "ltrim", &argv[1]);
        ctx.notify_if_emptied(&argv[1])?;
    }
    Ok(Reply::ok())
}

fn linsert(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let after = if args::is(&argv[2], "after") {
        true
    } else if args::is(&argv[2], "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let len = ctx.list().insert(&argv[1], after, &argv[3], &argv[4])?;
    if len > 0 {
        ctx.notify(Class::LIST, "linsert", &argv[1]);
    }
    Ok(Reply::Integer(len))
}

fn lrem(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let count = args::int(&argv[2])?;
    let removed = ctx.list().remove(&argv[1], count, &argv[3])?;
    if removed > 0 {
        ctx.notify(Class::LIST, "lrem", &argv[1]);
        ctx.notify_if_emptied(&argv[1])?;
    }
    Ok(Reply::Integer(removed as i64))
}

fn lpos(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut q = PosQuery {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    let mut i = 3;
    while i < argv.len() {
        let opt = &argv[i];
        let value = argv.get(i + 1);
        match value {
            Some(v) if args::is(opt, "rank") => {
                q.rank = args::int(v)?;
                if q.rank == 0 {
                    return Err(CmdError::err(
                        "RANK can't be zero: use 1 to start from the first match, 2 from the \
                         second ... or use negative to start from the end of the list",
                    ));
                }
            }
            Some(v) if args::is(opt, "count") => {
                q.count = Some(int_at_least(v, 0, "COUNT can't be negative")? as u64);
            }
            Some(v) if args::is(opt, "maxlen") => {
                q.maxlen = int_at_least(v, 0, "MAXLEN can't be negative")? as u64;
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 2;
    }
    let found = ctx.list().positions(&argv[1], &argv[2], q)?;
    Ok(match (q.count, found) {
        (Some(_), found) => Reply::Array(
            found
                .unwrap_or_default()
                .into_iter()
                .map(|p| Reply::Integer(p as i64))
                .collect(),
        ),
        (None, found) => found
            .and_then(|f| f.first().copied())
            .map_or(Reply::Null, |p| Reply::Integer(p as i64)),
    })
}

// ---------------------------------------------------------------------------------------------
// Moves and multi-key pops

fn move_reply(moved: Option<Vec<u8>>) -> Reply {
    moved.map_or(Reply::Null, bulk)
}

fn lmove(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let from = end_arg(&argv[3])?;
    let to = end_arg(&argv[4])?;
    let moved = ctx.list().move_to(&argv[1], &argv[2], from, to)?;
    notify_moved(ctx, argv, moved.is_some(), from, to)?;
    Ok(move_reply(moved))
}

/// The events of LMOVE and its variants when an element moved: the push onto the
/// destination, then the pop from the source (and `del` if that emptied it), as Redis orders
/// them.
fn notify_moved(
    ctx: &Ctx<'_>,
    argv: &[Bytes],
    moved: bool,
    from: End,
    to: End,
) -> Result<(), CmdError> {
    if !moved {
        return Ok(());
    }
    ctx.notify(Class::LIST, push_event(to), &argv[2]);
    notify_popped(ctx, &argv[1], from)
}

fn rpoplpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let moved = ctx
        .list()
        .move_to(&argv[1], &argv[2], End::Right, End::Left)?;
    notify_moved(ctx, argv, moved.is_some(), End::Right, End::Left)?;
    Ok(move_reply(moved))
}

/// The parsed tail of LMPOP/BLMPOP: `numkeys key... LEFT|RIGHT [COUNT n]` from `numkeys_at`.
struct MultiPop<'a> {
    keys: &'a [Bytes],
    end: End,
    count: u64,
}

fn parse_multi_pop(argv: &[Bytes], numkeys_at: usize) -> Result<MultiPop<'_>, CmdError> {
    let numkeys = int_at_least(&argv[numkeys_at], 1, "numkeys should be greater than 0")? as u64;
    let first = numkeys_at + 1;
    let where_at = (first as u64)
        .checked_add(numkeys)
        .filter(|&w| w < argv.len() as u64)
        .ok_or(CmdError::Syntax)? as usize;
    let end = end_arg(&argv[where_at])?;
    let mut count = None;
    let mut i = where_at + 1;
    while i < argv.len() {
        match argv.get(i + 1) {
            Some(v) if count.is_none() && args::is(&argv[i], "count") => {
                count = Some(int_at_least(v, 1, "count should be greater than 0")? as u64);
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 2;
    }
    Ok(MultiPop {
        keys: &argv[first..where_at],
        end,
        count: count.unwrap_or(1),
    })
}

/// `[key, [elements...]]`, the reply of LMPOP/BLMPOP.
fn multi_pop_reply(popped: Option<Popped>) -> Option<Reply> {
    popped.map(|(key, values)| Reply::Array(vec![Reply::Bulk(key), bulks(values)]))
}

fn lmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mp = parse_multi_pop(argv, 1)?;
    let popped = ctx.list().pop_first_of(mp.keys, mp.end, mp.count)?;
    notify_multi_popped(ctx, &popped, mp.end)?;
    Ok(multi_pop_reply(popped).unwrap_or(Reply::NullArray))
}

/// The events of a pop from the first non-empty of several lists.
fn notify_multi_popped(ctx: &Ctx<'_>, popped: &Option<Popped>, end: End) -> Result<(), CmdError> {
    match popped {
        Some((key, values)) if !values.is_empty() => notify_popped(ctx, key, end),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Blocking variants

/// BLPOP/BRPOP `key... timeout`: `[key, element]` from the first non-empty list, or wait.
fn blocking_pop(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End) -> CmdResult {
    let timeout = args::timeout(&argv[argv.len() - 1])?;
    let keys = &argv[1..argv.len() - 1];
    match ctx.list().pop_first_of(keys, end, 1)? {
        Some((key, mut values)) => {
            notify_popped(ctx, &key, end)?;
            let value = values.pop().map_or(Reply::Null, bulk);
            Ok(Reply::Array(vec![Reply::Bulk(key), value]))
        }
        None => ctx.block(keys, timeout, Reply::NullArray),
    }
}

fn blpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    blocking_pop(ctx, argv, End::Left)
}

fn brpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    blocking_pop(ctx, argv, End::Right)
}

/// BLMOVE/BRPOPLPUSH: LMOVE when the source has data, otherwise wait on the source.
fn blocking_move(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    from: End,
    to: End,
    timeout_at: usize,
) -> CmdResult {
    let timeout = args::timeout(&argv[timeout_at])?;
    match ctx.list().move_to(&argv[1], &argv[2], from, to)? {
        Some(v) => {
            notify_moved(ctx, argv, true, from, to)?;
            Ok(bulk(v))
        }
        None => ctx.block(&argv[1..2], timeout, Reply::Null),
    }
}

fn blmove(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let from = end_arg(&argv[3])?;
    let to = end_arg(&argv[4])?;
    blocking_move(ctx, argv, from, to, 5)
}

fn brpoplpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    blocking_move(ctx, argv, End::Right, End::Left, 3)
}

fn blmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mp = parse_multi_pop(argv, 2)?;
    let timeout = args::timeout(&argv[1])?;
    let popped = ctx.list().pop_first_of(mp.keys, mp.end, mp.count)?;
    notify_multi_popped(ctx, &popped, mp.end)?;
    match multi_pop_reply(popped) {
        Some(reply) => Ok(reply),
        None => ctx.block(mp.keys, timeout, Reply::NullArray),
    }
}
