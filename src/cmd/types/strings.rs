//! String commands, after Redis' `t_string.c`: GET/SET and their variants, multi-key MGET/MSET,
//! counters (INCR family, INCRBYFLOAT), byte ranges (GETRANGE/SETRANGE/APPEND) and LCS.
//!
//! Handlers parse and validate their arguments in the same order Redis does (so the same bad
//! request gets the same error), then make one call on the string view (`ctx.strings()`).
//! Read-modify-write commands rely on the dispatcher's key lock and on
//! [`Strings::update`](crate::storage::types::Strings::update), which keeps the key's TTL.

use bytes::Bytes;

use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::{args, CmdError, CmdResult, Ctx, EventClasses as Class};
use crate::command;
use crate::resp::Reply;
use crate::storage::types::strings::{SetCondition, SetOptions, StringEdit, TtlUpdate};
use crate::storage::StorageError;
use crate::util::clock::unix_ms;
use crate::util::number::{format_incrbyfloat, parse_f64, parse_i64, write_i64};

/// Commands of this group.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("get", 2, [READONLY, FAST], KeySpec::single(1), [READ, STRING, FAST], "string",
             "Returns the string value of a key.", get),
    command!("set", -3, [WRITE, DENYOOM, BOUNDED], KeySpec::single(1), [WRITE, STRING, SLOW], "string",
             "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
             set,
             key_flags: &[&["RW", "access", "update", "variable_flags"]]),
    command!("setnx", 3, [WRITE, DENYOOM, FAST], KeySpec::single(1), [WRITE, STRING, FAST],
             "string", "Set the string value of a key only when the key doesn't exist.", setnx,
             key_flags: &[&["OW", "insert"]]),
    command!("setex", 4, [WRITE, DENYOOM, BOUNDED], KeySpec::single(1), [WRITE, STRING, SLOW], "string",
             "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
             setex,
             key_flags: &[&["OW", "update"]]),
    command!("psetex", 4, [WRITE, DENYOOM, BOUNDED], KeySpec::single(1), [WRITE, STRING, SLOW], "string",
             "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
             psetex,
             key_flags: &[&["OW", "update"]]),
    command!("getset", 3, [WRITE, DENYOOM, FAST], KeySpec::single(1), [WRITE, STRING, FAST],
             "string", "Returns the previous string value of a key after setting it to a new value.",
             getset,
             key_flags: &[&["RW", "access", "update"]]),
    command!("getdel", 2, [WRITE, FAST], KeySpec::single(1), [WRITE, STRING, FAST], "string",
             "Returns the string value of a key after deleting the key.", getdel,
             key_flags: &[&["RW", "access", "delete"]]),
    command!("getex", -2, [WRITE, FAST], KeySpec::single(1), [WRITE, STRING, FAST], "string",
             "Returns the string value of a key after setting its expiration time.", getex,
             key_flags: &[&["RW", "access", "update"]]),
    command!("mget", -2, [READONLY, FAST], KeySpec::rest(1), [READ, STRING, FAST], "string",
             "Atomically returns the string values of one or more keys.", mget),
    command!("mset", -3, [WRITE, DENYOOM, BOUNDED], KeySpec::every(1, 2), [WRITE, STRING, SLOW], "string",
             "Atomically creates or modifies the string values of one or more keys.", mset,
             key_flags: &[&["OW", "update"]]),
    command!("msetnx", -3, [WRITE, DENYOOM, BOUNDED], KeySpec::every(1, 2), [WRITE, STRING, SLOW],
             "string",
             "Atomically modifies the string values of one or more keys only when all keys don't exist.",
             msetnx,
             key_flags: &[&["OW", "insert"]]),
    command!("append", 3, [WRITE, DENYOOM, FAST], KeySpec::single(1), [WRITE, STRING, FAST],
             "string",
             "Appends a string to the value of a key. Creates the key if it doesn't exist.", append,
             key_flags: &[&["RW", "insert"]]),
    command!("strlen", 2, [READONLY, FAST], KeySpec::single(1), [READ, STRING, FAST], "string",
             "Returns the length of a string value.", strlen,
             key_flags: &[&["RO"]]),
    command!("incr", 2, [WRITE, DENYOOM, FAST], KeySpec::single(1), [WRITE, STRING, FAST],
             "string",
             "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
             incr,
             key_flags: &[&["RW", "access", "update"]]),
    command!("decr", 2, [WRITE, DENYOOM, FAST], KeySpec::single(1), [WRITE, STRING, FAST],
             "string",
             "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
             decr,
             key_flags: &[&["RW", "access", "update"]]),
    command!("incrby", 3, [WRITE, DENYOOM, FAST], KeySpec::single(1), [WRITE, STRING, FAST],
             "string",
             "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
             incrby,
             key_flags: &[&["RW", "access", "update"]]),
    command!("decrby", 3, [WRITE, DENYOOM, FAST], KeySpec::single(1), [WRITE, STRING, FAST],
             "string",
             "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
             decrby,
             key_flags: &[&["RW", "access", "update"]]),
    command!("incrbyfloat", 3, [WRITE, DENYOOM, FAST], KeySpec::single(1),
             [WRITE, STRING, FAST], "string",
             "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
             incrbyfloat,
             key_flags: &[&["RW", "access", "update"]]),
    command!("getrange", 4, [READONLY], KeySpec::single(1), [READ, STRING, SLOW], "string",
             "Returns a substring of the string stored at a key.", getrange),
    command!("substr", 4, [READONLY], KeySpec::single(1), [READ, STRING, SLOW], "string",
             "Returns a substring from a string value.", getrange),
    command!("setrange", 4, [WRITE, DENYOOM], KeySpec::single(1), [WRITE, STRING, SLOW], "string",
             "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
             setrange),
    command!("lcs", -3, [READONLY], KeySpec::span(1, 2), [READ, STRING, SLOW], "string",
             "Finds the longest common substring.", lcs),
];

// ---------------------------------------------------------------------------------------------
// SET and friends

/// Which option of SET / GETEX sets the deadline, and how its number is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpireKind {
    /// Seconds from now.
    Ex,
    /// Milliseconds from now.
    Px,
    /// Unix time in seconds.
    ExAt,
    /// Unix time in milliseconds.
    PxAt,
}

impl ExpireKind {
    fn parse(opt: &[u8]) -> Option<ExpireKind> {
        [
            ("ex", ExpireKind::Ex),
            ("px", ExpireKind::Px),
            ("exat", ExpireKind::ExAt),
            ("pxat", ExpireKind::PxAt),
        ]
        .into_iter()
        .find(|(kw, _)| args::is(opt, kw))
        .map(|(_, k)| k)
    }

    fn unit_ms(self) -> i64 {
        match self {
            ExpireKind::Ex | ExpireKind::ExAt => 1000,
            ExpireKind::Px | ExpireKind::PxAt => 1,
        }
    }

    fn relative(self) -> bool {
        matches!(self, ExpireKind::Ex | ExpireKind::Px)
    }
}

/// The options of SET (`NX XX GET KEEPTTL EX PX EXAT PXAT`) or GETEX (`EX PX EXAT PXAT PERSIST`),
/// parsed with Redis' exact acceptance rules (`parseExtendedStringArgumentsOrReply`).
#[derive(Debug, Default)]
struct ExtendedArgs<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    /// The deadline option and its unparsed value (validated later, as Redis does).
    expire: Option<(ExpireKind, &'a [u8])>,
}

impl<'a> ExtendedArgs<'a> {
    /// Parses `opts`; `for_set` selects SET's options, otherwise GETEX's. Repeating an option is
    /// allowed (the last deadline wins); mixing exclusive ones is a syntax error.
    fn parse(opts: &'a [Bytes], for_set: bool) -> Result<ExtendedArgs<'a>, CmdError> {
        let mut out = ExtendedArgs::default();
        let mut i = 0;
        while i < opts.len() {
            let opt = opts[i].as_ref();
            let next = opts.get(i + 1);
            if for_set && args::is(opt, "nx") && !out.xx {
                out.nx = true;
            } else if for_set && args::is(opt, "xx") && !out.nx {
                out.xx = true;
            } else if for_set && args::is(opt, "get") {
                out.get = true;
            } else if for_set && args::is(opt, "keepttl") && out.expire.is_none() {
                out.keepttl = true;
            } else if !for_set && args::is(opt, "persist") && out.expire.is_none() {
                out.persist = true;
            } else {
                let kind = ExpireKind::parse(opt).ok_or(CmdError::Syntax)?;
                let same_or_none = out.expire.is_none_or(|(k, _)| k == kind);
                match next {
                    Some(value) if same_or_none && !out.keepttl && !out.persist => {
                        out.expire = Some((kind, value.as_ref()));
                        i += 1;
                    }
                    _ => return Err(CmdError::Syntax),
                }
            }
            i += 1;
        }
        Ok(out)
    }
}

/// Turns an EX/PX/EXAT/PXAT value into an absolute Unix-ms deadline: non-positive values and
/// overflows are `ERR invalid expire time in '<cmd>' command`.
fn deadline_ms(kind: ExpireKind, value: &[u8], cmd: &str) -> Result<u64, CmdError> {
    let v = args::int(value)?;
    let invalid = || CmdError::err(format!("invalid expire time in '{cmd}' command"));
    if v <= 0 {
        return Err(invalid());
    }
    let ms = if kind.relative() {
        args::deadline_from_relative(v, kind.unit_ms(), unix_ms())
    } else {
        args::deadline_from_absolute(v, kind.unit_ms())
    };
    match ms {
        Some(ms) if ms > 0 => Ok(ms as u64),
        _ => Err(invalid()),
    }
}

fn get(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    Ok(bulk_or_null(ctx.strings().get(&argv[1])?))
}

fn bulk_or_null(v: Option<Bytes>) -> Reply {
    v.map_or(Reply::Null, Reply::Bulk)
}

fn set(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let opts = ExtendedArgs::parse(&argv[3..], true)?;
    let ttl = match opts.expire {
        Some((kind, value)) => TtlUpdate::At(deadline_ms(kind, value, "set")?),
        None if opts.keepttl => TtlUpdate::Keep,
        None => TtlUpdate::Clear,
    };
    let condition = if opts.nx {
        SetCondition::IfAbsent
    } else if opts.xx {
        SetCondition::IfPresent
    } else {
        SetCondition::Always
    };
    let set_opts = SetOptions {
        condition,
        ttl,
        get_old: opts.get,
    };
    let outcome = ctx.strings().set(&argv[1], argv[2].clone(), set_opts)?;
    if outcome.written {
        notify_set(ctx, &argv[1], matches!(ttl, TtlUpdate::At(_)));
    }
    Ok(if opts.get {
        bulk_or_null(outcome.old)
    } else if outcome.written {
        Reply::ok()
    } else {
        Reply::Null
    })
}

/// The events of a string written whole: `set`, and `expire` when it got a deadline.
fn notify_set(ctx: &Ctx<'_>, key: &[u8], with_deadline: bool) {
    ctx.notify(Class::STRING, "set", key);
    if with_deadline {
        ctx.notify(Class::GENERIC, "expire", key);
    }
}

fn setnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let opts = SetOptions {
        condition: SetCondition::IfAbsent,
        ..SetOptions::default()
    };
    let outcome = ctx.strings().set(&argv[1], argv[2].clone(), opts)?;
    if outcome.written {
        notify_set(ctx, &argv[1], false);
    }
    Ok(Reply::Integer(i64::from(outcome.written)))
}

fn setex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    set_with_ttl(ctx, argv, ExpireKind::Ex, "setex")
}

fn psetex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    set_with_ttl(ctx, argv, ExpireKind::Px, "psetex")
}

/// SETEX / PSETEX: `key ttl value`.
fn set_with_ttl(ctx: &mut Ctx<'_>, argv: &[Bytes], kind: ExpireKind, cmd: &str) -> CmdResult {
    let at = deadline_ms(kind, &argv[2], cmd)?;
    let opts = SetOptions {
        ttl: TtlUpdate::At(at),
        ..SetOptions::default()
    };
    ctx.strings().set(&argv[1], argv[3].clone(), opts)?;
    notify_set(ctx, &argv[1], true);
    Ok(Reply::ok())
}

fn getset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let opts = SetOptions {
        get_old: true,
        ..SetOptions::default()
    };
    let outcome = ctx.strings().set(&argv[1], argv[2].clone(), opts)?;
    notify_set(ctx, &argv[1], false);
    ctx.storage().count_lookup(outcome.old.is_some());
    Ok(bulk_or_null(outcome.old))
}

fn getdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let value = ctx.strings().get_delete(&argv[1])?;
    if value.is_some() {
        ctx.notify(Class::GENERIC, "del", &argv[1]);
    }
    ctx.storage().count_lookup(value.is_some());
    Ok(bulk_or_null(value))
}

fn getex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let opts = ExtendedArgs::parse(&argv[2..], false)?;
    let ttl = match opts.expire {
        Some((kind, value)) => match deadline_ms(kind, value, "getex") {
            Ok(at) => TtlUpdate::At(at),
            // Redis reports a missing key (nil) or a wrong type before a bad expire time.
            Err(e) => {
                return match ctx.strings().get(&argv[1])? {
                    None => Ok(Reply::Null),
                    Some(_) => Err(e),
                }
            }
        },
        None if opts.persist => TtlUpdate::Clear,
        None => TtlUpdate::Keep,
    };
    // PERSIST reports an event only when there was a deadline to remove.
    let had_deadline = opts.persist
        && ctx.server.storage.notifier.wants(Class::GENERIC)
        && ctx.keys().ttl_ms(&argv[1])? >= 0;
    let value = ctx.strings().get_expire(&argv[1], ttl)?;
    if value.is_some() {
        match ttl {
            TtlUpdate::At(at) if at <= unix_ms() => ctx.notify(Class::GENERIC, "del", &argv[1]),
            TtlUpdate::At(_) => ctx.notify(Class::GENERIC, "expire", &argv[1]),
            TtlUpdate::Clear if had_deadline => ctx.notify(Class::GENERIC, "persist", &argv[1]),
            _ => {}
        }
    }
    ctx.storage().count_lookup(value.is_some());
    Ok(bulk_or_null(value))
}

// ---------------------------------------------------------------------------------------------
// Multi-key

fn mget(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut out = Vec::with_capacity(argv.len() - 1);
    for key in &argv[1..] {
        // A key of another type reads as nil, not WRONGTYPE.
        out.push(match ctx.strings().get(key) {
            Ok(v) => bulk_or_null(v),
            Err(StorageError::WrongType) => Reply::Null,
            Err(e) => return Err(e.into()),
        });
    }
    Ok(Reply::Array(out))
}

/// The `key value` pairs of MSET / MSETNX; an odd count is an arity error.
fn pairs<'a>(argv: &'a [Bytes], cmd: &str) -> Result<Vec<(&'a [u8], Bytes)>, CmdError> {
    if argv.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity(cmd.to_string()));
    }
    Ok(argv[1..]
        .chunks_exact(2)
        .map(|kv| (kv[0].as_ref(), kv[1].clone()))
        .collect())
}

fn mset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let kvs = pairs(argv, "mset")?;
    ctx.strings().set_many(&kvs, false)?;
    for (key, _) in &kvs {
        ctx.notify(Class::STRING, "set", key);
    }
    Ok(Reply::ok())
}

fn msetnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let kvs = pairs(argv, "msetnx")?;
    let written = ctx.strings().set_many(&kvs, true)?;
    if written {
        for (key, _) in &kvs {
            ctx.notify(Class::STRING, "set", key);
        }
    }
    Ok(Reply::Integer(i64::from(written)))
}

// ---------------------------------------------------------------------------------------------
// Lengths, ranges, APPEND

/// Redis' `checkStringLength`: a string may not grow beyond `proto-max-bulk-len`.
fn check_length(ctx: &Ctx<'_>, size: u64, append: u64) -> Result<(), CmdError> {
    let max = ctx.server.config().proto_max_bulk_len;
    match size.checked_add(append) {
        Some(total) if total <= max => Ok(()),
        _ => Err(CmdError::err(
            "string exceeds maximum allowed size (proto-max-bulk-len)",
        )),
    }
}

fn append(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let suffix = argv[2].as_ref();
    let c: &Ctx<'_> = ctx;
    let new = c.strings().edit::<CmdError>(&argv[1], |current| {
        Ok(Some(match current {
            // A new key holds the argument as given (not the raw encoding).
            None => StringEdit {
                value: suffix.to_vec(),
                raw: false,
            },
            Some(cur) => {
                check_length(c, cur.len() as u64, suffix.len() as u64)?;
                let mut value = Vec::with_capacity(cur.len() + suffix.len());
                value.extend_from_slice(cur);
                value.extend_from_slice(suffix);
                StringEdit { value, raw: true }
            }
        }))
    })?;
    ctx.notify(Class::STRING, "append", &argv[1]);
    Ok(Reply::Integer(new.map_or(0, |v| v.len() as i64)))
}

fn strlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let len = ctx.strings().get(&argv[1])?.map_or(0, |v| v.len());
    Ok(Reply::Integer(len as i64))
}

/// GETRANGE / SUBSTR: inclusive byte range with negative indexes counted from the end.
fn getrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let start = args::int(&argv[2])?;
    let end = args::int(&argv[3])?;
    let Some(value) = ctx.strings().get(&argv[1])? else {
        return Ok(Reply::Bulk(Bytes::new()));
    };
    Ok(Reply::Bulk(byte_range(&value, start, end)))
}

/// The bytes of `value` between `start` and `end` inclusive, clamped as Redis clamps them.
fn byte_range(value: &Bytes, start: i64, end: i64) -> Bytes {
    let len = value.len() as i64;
    if (start < 0 && end < 0 && start > end) || len == 0 {
        return Bytes::new();
    }
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end }.clamp(0, len - 1);
    if start > end {
        return Bytes::new();
    }
    value.slice(start as usize..=end as usize)
}

fn setrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let offset = args::int(&argv[2])?;
    if offset < 0 {
        return Err(CmdError::err("offset is out of range"));
    }
    let patch = argv[3].as_ref();
    let c: &Ctx<'_> = ctx;
    let mut len = 0usize;
    c.strings().edit::<CmdError>(&argv[1], |current| {
        if patch.is_empty() {
            // Nothing to write: a missing key stays missing, an existing one unchanged.
            len = current.map_or(0, |v| v.len());
            return Ok(None);
        }
        check_length(c, offset as u64, patch.len() as u64)?;
        // Both fit in proto-max-bulk-len now, so they fit in usize.
        let start = offset as usize;
        let end = start + patch.len();
        let current = current.unwrap_or_default();
        let mut value = Vec::with_capacity(current.len().max(end));
        value.extend_from_slice(current);
        if value.len() < end {
            value.resize(end, 0);
        }
        value[start..end].copy_from_slice(patch);
        len = value.len();
        Ok(Some(StringEdit { value, raw: true }))
    })?;
    if !patch.is_empty() {
        ctx.notify(Class::STRING, "setrange", &argv[1]);
    }
    Ok(Reply::Integer(len as i64))
}

// ---------------------------------------------------------------------------------------------
// Counters

fn incr(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    incr_by(ctx, &argv[1], 1)
}

fn decr(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    incr_by(ctx, &argv[1], -1)
}

fn incrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let delta = args::int(&argv[2])?;
    incr_by(ctx, &argv[1], delta)
}

fn decrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let delta = args::int(&argv[2])?;
    let negated = delta
        .checked_neg()
        .ok_or_else(|| CmdError::err("decrement would overflow"))?;
    incr_by(ctx, &argv[1], negated)
}

/// The INCR family: adds `delta` to the integer in `key` (0 when absent), keeping its TTL.
fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], delta: i64) -> CmdResult {
    let mut result = 0i64;
    ctx.strings().update::<CmdError>(key, false, |current| {
        let old = match current {
            Some(v) => parse_i64(v).ok_or(CmdError::NotInteger)?,
            None => 0,
        };
        result = old
            .checked_add(delta)
            .ok_or_else(|| CmdError::err("increment or decrement would overflow"))?;
        let mut text = Vec::with_capacity(20);
        write_i64(&mut text, result);
        Ok(Some(text))
    })?;
    ctx.notify(Class::STRING, "incrby", key);
    Ok(Reply::Integer(result))
}

fn incrbyfloat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let new = ctx
        .strings()
        .update::<CmdError>(&argv[1], false, |current| {
            // Redis checks the stored value before the increment.
            let value = match current {
                Some(v) => parse_f64(v).ok_or(CmdError::NotFloat)?,
                None => 0.0,
            };
            let incr = args::float(&argv[2])?;
            let sum = value + incr;
            if !sum.is_finite() {
                return Err(CmdError::err("increment would produce NaN or Infinity"));
            }
            Ok(Some(format_incrbyfloat(sum).into_bytes()))
        })?;
    ctx.notify(Class::STRING, "incrbyfloat", &argv[1]);
    Ok(bulk_or_null(new))
}

// ---------------------------------------------------------------------------------------------
// LCS

/// Options of LCS.
#[derive(Debug, Default)]
struct LcsArgs {
    len: bool,
    idx: bool,
    with_match_len: bool,
    min_match_len: u64,
}

impl LcsArgs {
    fn parse(opts: &[Bytes]) -> Result<LcsArgs, CmdError> {
        let mut out = LcsArgs::default();
        let mut i = 0;
        while i < opts.len() {
            let opt = opts[i].as_ref();
            if args::is(opt, "idx") {
                out.idx = true;
            } else if args::is(opt, "len") {
                out.len = true;
            } else if args::is(opt, "withmatchlen") {
                out.with_match_len = true;
            } else if args::is(opt, "minmatchlen") && i + 1 < opts.len() {
                out.min_match_len = args::int(&opts[i + 1])?.max(0) as u64;
                i += 1;
            } else {
                return Err(CmdError::Syntax);
            }
            i += 1;
        }
        if out.len && out.idx {
            return Err(CmdError::err(
                "If you want both the length and indexes, please just use IDX.",
            ));
        }
        Ok(out)
    }
}

/// Most cells the LCS table may have whatever `proto-max-bulk-len` says (16 GiB of u32s).
const LCS_MAX_CELLS: u64 = 1 << 32;

/// One common run found by LCS IDX: inclusive ranges in each string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LcsMatch {
    a: (u32, u32),
    b: (u32, u32),
}

impl LcsMatch {
    fn len(&self) -> u64 {
        u64::from(self.a.1 - self.a.0) + 1
    }
}

/// The LCS operand stored at `key`: absent keys are empty strings.
fn lcs_operand(ctx: &Ctx<'_>, key: &[u8]) -> Result<Bytes, CmdError> {
    match ctx.strings().get(key) {
        Ok(v) => Ok(v.unwrap_or_default()),
        Err(StorageError::WrongType) => Err(CmdError::err(
            "The specified keys must contain string values",
        )),
        Err(e) => Err(e.into()),
    }
}

fn lcs(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let a = lcs_operand(ctx, &argv[1])?;
    let b = lcs_operand(ctx, &argv[2])?;
    let opts = LcsArgs::parse(&argv[3..])?;
    if a.len() >= (u32::MAX - 1) as usize || b.len() >= (u32::MAX - 1) as usize {
        return Err(CmdError::err("String too long for LCS"));
    }
    // The table is (|a|+1) x (|b|+1) u32 cells; refuse what Redis 7 refuses, and absurd sizes
    // whatever the configured limit is.
    let cells = (a.len() as u64 + 1) * (b.len() as u64 + 1);
    let max_bytes = ctx.server.config().proto_max_bulk_len;
    if cells.saturating_mul(4) > max_bytes || cells > LCS_MAX_CELLS {
        return Err(CmdError::err(
            "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let table = LcsTable::build(&a, &b).ok_or_else(|| {
        CmdError::err("Insufficient memory, failed allocating transient memory for LCS")
    })?;
    if opts.len {
        return Ok(Reply::Integer(i64::from(table.total())));
    }
    let (common, matches) = table.walk(&a, &b);
    if !opts.idx {
        return Ok(Reply::Bulk(Bytes::from(common)));
    }
    let matches = matches
        .into_iter()
        .filter(|m| opts.min_match_len == 0 || m.len() >= opts.min_match_len)
        .map(|m| {
            let mut entry = vec![
                Reply::Array(vec![
                    Reply::Integer(i64::from(m.a.0)),
                    Reply::Integer(i64::from(m.a.1)),
                ]),
                Reply::Array(vec![
                    Reply::Integer(i64::from(m.b.0)),
                    Reply::Integer(i64::from(m.b.1)),
                ]),
            ];
            if opts.with_match_len {
                entry.push(Reply::Integer(m.len() as i64));
            }
            Reply::Array(entry)
        })
        .collect();
    Ok(Reply::Map(vec![
        (
            Reply::bulk(Bytes::from_static(b"matches")),
            Reply::Array(matches),
        ),
        (
            Reply::bulk(Bytes::from_static(b"len")),
            Reply::Integer(i64::from(table.total())),
        ),
    ]))
}

/// The dynamic-programming table of LCS lengths: `cell(i, j)` is the LCS length of `a[..i]`
/// and `b[..j]`.
struct LcsTable {
    cells: Vec<u32>,
    width: usize,
    rows: usize,
}

impl LcsTable {
    /// Fills the table; None when the memory cannot be reserved.
    fn build(a: &[u8], b: &[u8]) -> Option<LcsTable> {
        let width = b.len() + 1;
        let rows = a.len() + 1;
        let mut cells: Vec<u32> = Vec::new();
        cells.try_reserve_exact(width.checked_mul(rows)?).ok()?;
        cells.resize(width * rows, 0);
        for i in 1..rows {
            for j in 1..width {
                cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * width + j - 1] + 1
                } else {
                    cells[(i - 1) * width + j].max(cells[i * width + j - 1])
                };
            }
        }
        Some(LcsTable { cells, width, rows })
    }

    fn cell(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }

    /// Length of the longest common subsequence.
    fn total(&self) -> u32 {
        self.cell(self.rows - 1, self.width - 1)
    }

    /// Walks back from the end, as Redis does (same tie-breaking, hence the same answer):
    /// returns the common subsequence and its contiguous runs, last run first.
    fn walk(&self, a: &[u8], b: &[u8]) -> (Vec<u8>, Vec<LcsMatch>) {
        let mut common = vec![0u8; self.total() as usize];
        let mut k = common.len();
        let mut matches = Vec::new();
        let mut current: Option<LcsMatch> = None;
        let (mut i, mut j) = (a.len(), b.len());
        while i > 0 && j > 0 {
            let mut emit = false;
            if a[i - 1] == b[j - 1] {
                k -= 1;
                common[k] = a[i - 1];
                let (ai, bj) = ((i - 1) as u32, (j - 1) as u32);
                match current.as_mut() {
                    None => {
                        current = Some(LcsMatch {
                            a: (ai, ai),
                            b: (bj, bj),
                        })
                    }
                    // Contiguous with the run being tracked: extend it backwards.
                    Some(m) if m.a.0 == ai + 1 && m.b.0 == bj + 1 => {
                        m.a.0 = ai;
                        m.b.0 = bj;
                    }
                    Some(_) => emit = true,
                }
                if current.is_some_and(|m| m.a.0 == 0 || m.b.0 == 0) {
                    emit = true;
                }
                i -= 1;
                j -= 1;
            } else {
                if self.cell(i - 1, j) > self.cell(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                emit = current.is_some();
            }
            if emit {
                matches.extend(current.take());
            }
        }
        (common, matches)
    }
}
