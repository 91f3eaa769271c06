//! Type-independent key commands (Redis' "generic" group): deletion, existence, expiry, renaming,
//! scanning, whole databases, and OBJECT introspection.
//!
//! Handlers parse arguments and format replies; the key operations themselves live in the
//! keyspace view (`storage::types::keyspace`, `storage::scan`). Write commands run under the key
//! locks the dispatcher took from their key specs, so each read-modify-write here is atomic.

use bytes::Bytes;

use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::types::lazy_reply::{self, Shape};
use crate::cmd::{args, CmdError, CmdResult, Ctx, EventClasses as Class};
use crate::command;
use crate::resp::Reply;
use crate::storage::cache::Access;
use crate::storage::codec::{flags, MetaValue};
use crate::storage::restore::RestoreRefusal;
use crate::storage::scan::ScanFilter;
use crate::storage::types::keyspace::{ExpireCondition, MoveOutcome};
use crate::storage::DataType;
use crate::util::clock::unix_ms;
use crate::util::number::parse_i64;

/// Commands of this group.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("del", -2, [WRITE, BOUNDED], KeySpec::rest(1), [KEYSPACE, WRITE, SLOW], "generic",
             "Deletes one or more keys.", del,
             key_flags: &[&["RM", "delete"]]),
    command!("unlink", -2, [WRITE, FAST], KeySpec::rest(1), [KEYSPACE, WRITE, FAST], "generic",
             "Asynchronously deletes one or more keys.", del,
             key_flags: &[&["RM", "delete"]]),
    command!("exists", -2, [READONLY, FAST, NO_TOUCH], KeySpec::rest(1), [KEYSPACE, READ, FAST], "generic",
             "Determines whether one or more keys exist.", exists,
             key_flags: &[&["RO"]]),
    command!("touch", -2, [READONLY, FAST], KeySpec::rest(1), [KEYSPACE, READ, FAST], "generic",
             "Returns the number of existing keys out of those specified after updating the time they were last accessed.", exists,
             key_flags: &[&["RO"]]),
    command!("type", 2, [READONLY, FAST, NO_TOUCH], KeySpec::single(1), [KEYSPACE, READ, FAST], "generic",
             "Determines the type of value stored at a key.", type_cmd,
             key_flags: &[&["RO"]]),
    command!("expire", -3, [WRITE, FAST], KeySpec::single(1), [KEYSPACE, WRITE, FAST], "generic",
             "Sets the expiration time of a key in seconds.", expire),
    command!("pexpire", -3, [WRITE, FAST], KeySpec::single(1), [KEYSPACE, WRITE, FAST], "generic",
             "Sets the expiration time of a key in milliseconds.", pexpire),
    command!("expireat", -3, [WRITE, FAST], KeySpec::single(1), [KEYSPACE, WRITE, FAST], "generic",
             "Sets the expiration time of a key to a Unix timestamp.", expireat),
    command!("pexpireat", -3, [WRITE, FAST], KeySpec::single(1), [KEYSPACE, WRITE, FAST], "generic",
             "Sets the expiration time of a key to a Unix milliseconds timestamp.", pexpireat),
    command!("ttl", 2, [READONLY, FAST, NO_TOUCH], KeySpec::single(1), [KEYSPACE, READ, FAST], "generic",
             "Returns the expiration time in seconds of a key.", ttl),
    command!("pttl", 2, [READONLY, FAST, NO_TOUCH], KeySpec::single(1), [KEYSPACE, READ, FAST], "generic",
             "Returns the expiration time in milliseconds of a key.", pttl),
    command!("expiretime", 2, [READONLY, FAST, NO_TOUCH], KeySpec::single(1), [KEYSPACE, READ, FAST], "generic",
             "Returns the expiration time of a key as a Unix timestamp.", expiretime),
    command!("pexpiretime", 2, [READONLY, FAST, NO_TOUCH], KeySpec::single(1), [KEYSPACE, READ, FAST], "generic",
             "Returns the expiration time of a key as a Unix milliseconds timestamp.", pexpiretime),
    command!("persist", 2, [WRITE, FAST], KeySpec::single(1), [KEYSPACE, WRITE, FAST], "generic",
             "Removes the expiration time of a key.", persist),
    command!("keys", 2, [READONLY], KeySpec::None, [KEYSPACE, READ, SLOW, DANGEROUS], "generic",
             "Returns all key names that match a pattern.", keys),
    command!("scan", -2, [READONLY], KeySpec::None, [KEYSPACE, READ, SLOW], "generic",
             "Iterates over the key names in the database.", scan),
    command!("randomkey", 1, [READONLY], KeySpec::None, [KEYSPACE, READ, SLOW], "generic",
             "Returns a random key name from the database.", randomkey),
    command!("rename", 3, [WRITE], KeySpec::span(1, 2), [KEYSPACE, WRITE, SLOW], "generic",
             "Renames a key and overwrites the destination.", rename,
             key_flags: &[&["RW", "access", "delete"], &["OW", "update"]]),
    command!("renamenx", 3, [WRITE, FAST], KeySpec::span(1, 2), [KEYSPACE, WRITE, FAST], "generic",
             "Renames a key only when the target key name doesn't exist.", renamenx,
             key_flags: &[&["RW", "access", "delete"], &["OW", "insert"]]),
    command!("dump", 2, [READONLY], KeySpec::single(1), [KEYSPACE, READ, SLOW], "generic",
             "Returns a serialized representation of the value stored at a key.", dump),
    command!("restore", -4, [WRITE, DENYOOM], KeySpec::single(1), [KEYSPACE, WRITE, SLOW, DANGEROUS], "generic",
             "Creates a key from the serialized representation of a value.", restore,
             key_flags: &[&["OW", "update"]]),
    // What MIGRATE sends in a cluster: RESTORE, served for a slot being imported.
    command!("restore-asking", -4, [WRITE, DENYOOM, ASKING], KeySpec::single(1), [KEYSPACE, WRITE, SLOW, DANGEROUS], "server",
             "An internal command for migrating keys in a cluster", restore,
             key_flags: &[&["OW", "update"]]),
    command!("copy", -3, [WRITE, DENYOOM], KeySpec::span(1, 2), [KEYSPACE, WRITE, SLOW], "generic",
             "Copies the value of a key to a new key.", copy,
             key_flags: &[&["RO", "access"], &["OW", "update"]]),
    command!("move", 3, [WRITE, FAST], KeySpec::single(1), [KEYSPACE, WRITE, FAST], "generic",
             "Moves a key to another database.", move_cmd,
             key_flags: &[&["RW", "access", "update"]]),
    command!("dbsize", 1, [READONLY, FAST], KeySpec::None, [KEYSPACE, READ, FAST], "server",
             "Returns the number of keys in the database.", dbsize),
    command!("flushdb", -1, [WRITE], KeySpec::None, [KEYSPACE, WRITE, SLOW, DANGEROUS], "server",
             "Removes all keys from the current database.", flushdb),
    command!("flushall", -1, [WRITE], KeySpec::None, [KEYSPACE, WRITE, SLOW, DANGEROUS], "server",
             "Removes all keys from all databases.", flushall),
    command!("swapdb", 3, [WRITE, FAST], KeySpec::None, [KEYSPACE, WRITE, FAST, DANGEROUS], "server",
             "Swaps two Redis databases.", swapdb),
    command!("object", -2, [], KeySpec::None, [SLOW], "generic",
             "A container for object introspection commands.", object_help, subcommands: OBJECT_SUBCOMMANDS),
];

/// OBJECT's subcommands; the key is argument 2.
const OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    command!(
        "object|encoding",
        3,
        [READONLY, NO_TOUCH],
        KeySpec::single(2),
        [KEYSPACE, READ, SLOW],
        "generic",
        "Returns the internal encoding of a Redis object.",
        object_encoding,
        key_flags: &[&["RO"]]
    ),
    command!(
        "object|freq",
        3,
        [READONLY, NO_TOUCH],
        KeySpec::single(2),
        [KEYSPACE, READ, SLOW],
        "generic",
        "Returns the logarithmic access frequency counter of a Redis object.",
        object_freq,
        key_flags: &[&["RO"]]
    ),
    command!(
        "object|idletime",
        3,
        [READONLY, NO_TOUCH],
        KeySpec::single(2),
        [KEYSPACE, READ, SLOW],
        "generic",
        "Returns the time since the last access to a Redis object.",
        object_idletime,
        key_flags: &[&["RO"]]
    ),
    command!(
        "object|refcount",
        3,
        [READONLY, NO_TOUCH],
        KeySpec::single(2),
        [KEYSPACE, READ, SLOW],
        "generic",
        "Returns the reference count of a value of a key.",
        object_refcount,
        key_flags: &[&["RO"]]
    ),
    command!(
        "object|help",
        2,
        [LOADING, STALE],
        KeySpec::None,
        [KEYSPACE, SLOW],
        "generic",
        "Returns helpful text about the different subcommands.",
        object_help
    ),
];

/// DEL and UNLINK: deleting is a metadata write either way, so UNLINK is DEL.
fn del(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let keys = args::key_slices(&argv[1..]);
    if !ctx.notifies(Class::GENERIC) {
        return Ok(Reply::Integer(ctx.keys().delete(&keys)?));
    }
    // Each key that existed reports `del` (once, however often it is named).
    let mut existing: Vec<&[u8]> = Vec::new();
    for key in &keys {
        if !existing.contains(key) && ctx.keys().state(key)?.live().is_some() {
            existing.push(key);
        }
    }
    let removed = ctx.keys().delete(&keys)?;
    for key in existing {
        ctx.notify(Class::GENERIC, "del", key);
    }
    Ok(Reply::Integer(removed))
}

/// EXISTS and TOUCH (access times are not tracked, so TOUCH only counts).
fn exists(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let keys = args::key_slices(&argv[1..]);
    Ok(Reply::Integer(ctx.keys().exists(&keys)?))
}

fn type_cmd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let state = ctx.keys().state(&argv[1])?;
    let name = state.live().map_or("none", |m| m.data_type.name());
    Ok(Reply::Simple(name.into()))
}

/// Parses EXPIRE's NX/XX/GT/LT options with Redis' error texts.
fn expire_condition(opts: &[Bytes]) -> Result<ExpireCondition, CmdError> {
    let mut c = ExpireCondition::default();
    for o in opts {
        match args::lower(o).as_str() {
            "nx" => c.nx = true,
            "xx" => c.xx = true,
            "gt" => c.gt = true,
            "lt" => c.lt = true,
            _ => {
                return Err(CmdError::err(format!(
                    "Unsupported option {}",
                    args::text(o)
                )))
            }
        }
    }
    if c.nx && (c.xx || c.gt || c.lt) {
        return Err(CmdError::err(
            "NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if c.gt && c.lt {
        return Err(CmdError::err(
            "GT and LT options at the same time are not compatible",
        ));
    }
    Ok(c)
}

/// How an expire command gives its time: in seconds or milliseconds, relative to now or as a
/// Unix time.
#[derive(Clone, Copy)]
struct TimeForm {
    millis: bool,
    absolute: bool,
}

const SECONDS_FROM_NOW: TimeForm = TimeForm {
    millis: false,
    absolute: false,
};
const MILLIS_FROM_NOW: TimeForm = TimeForm {
    millis: true,
    absolute: false,
};
const UNIX_SECONDS: TimeForm = TimeForm {
    millis: false,
    absolute: true,
};
const UNIX_MILLIS: TimeForm = TimeForm {
    millis: true,
    absolute: true,
};

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT: one generic function, as in Redis.
fn expire_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], form: TimeForm) -> CmdResult {
    let cond = expire_condition(&argv[3..])?;
    let when = args::int(&argv[2])?;
    let unit: i64 = if form.millis { 1 } else { 1000 };
    let base: i64 = if form.absolute { 0 } else { unix_ms() as i64 };
    let invalid = || {
        CmdError::err(format!(
            "invalid expire time in '{}' command",
            args::lower(&argv[0])
        ))
    };
    let deadline = when
        .checked_mul(unit)
        .and_then(|ms| ms.checked_add(base))
        .ok_or_else(invalid)?;
    let changed = ctx.keys().expire(&argv[1], deadline, cond)?;
    if changed {
        // A deadline already past deleted the key.
        let event = if deadline > unix_ms() as i64 {
            "expire"
        } else {
            "del"
        };
        ctx.notify(Class::GENERIC, event, &argv[1]);
    }
    Ok(Reply::Integer(i64::from(changed)))
}

fn expire(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, SECONDS_FROM_NOW)
}

fn pexpire(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, MILLIS_FROM_NOW)
}

fn expireat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, UNIX_SECONDS)
}

fn pexpireat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, UNIX_MILLIS)
}

/// TTL, PTTL, EXPIRETIME, PEXPIRETIME: the time left, or (absolute) the Unix time it ends.
fn ttl_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], form: TimeForm) -> CmdResult {
    let keys = ctx.keys();
    let value = if form.absolute {
        keys.expire_time_ms(&argv[1])?
    } else {
        keys.ttl_ms(&argv[1])?
    };
    // -2 (missing) and -1 (no expiry) are answered as they are.
    if value < 0 {
        return Ok(Reply::Integer(value));
    }
    // Seconds are rounded to the nearest, as Redis does.
    Ok(Reply::Integer(if form.millis {
        value
    } else {
        value / 1000 + i64::from(value % 1000 >= 500)
    }))
}

fn ttl(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, argv, SECONDS_FROM_NOW)
}

fn pttl(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, argv, MILLIS_FROM_NOW)
}

fn expiretime(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, argv, UNIX_SECONDS)
}

fn pexpiretime(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, argv, UNIX_MILLIS)
}

fn persist(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let changed = ctx.keys().persist(&argv[1])?;
    if changed {
        ctx.notify(Class::GENERIC, "persist", &argv[1]);
    }
    Ok(Reply::Integer(i64::from(changed)))
}

fn keys(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let found = ctx.keys().keys(&argv[1])?;
    Ok(lazy_reply::bulks(found, Shape::Array))
}

/// The data type a SCAN TYPE name selects; `None` for a name no key can have.
fn type_by_name(name: &[u8]) -> Option<DataType> {
    [
        DataType::String,
        DataType::Hash,
        DataType::List,
        DataType::Set,
        DataType::ZSet,
        DataType::Stream,
    ]
    .into_iter()
    .find(|t| args::is(name, t.name()))
}

fn scan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cursor = args::cursor(&argv[1])?;
    let mut count = 10usize;
    let mut filter = ScanFilter::default();
    let mut unknown_type = false;
    let mut i = 2;
    while i < argv.len() {
        let Some(value) = argv.get(i + 1) else {
            return Err(CmdError::Syntax);
        };
        match args::lower(&argv[i]).as_str() {
            "count" => {
                let n = args::int(value)?;
                if n < 1 {
                    return Err(CmdError::Syntax);
                }
                count = usize::try_from(n).unwrap_or(usize::MAX);
            }
            // "*" matches everything: skip the filter entirely.
            "match" => filter.pattern = (value.as_ref() != b"*").then_some(value.as_ref()),
            "type" => {
                filter.data_type = type_by_name(value);
                unknown_type = filter.data_type.is_none();
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 2;
    }
    let (next, mut found) = ctx.keys().scan(cursor, count, &filter)?;
    if unknown_type {
        found.clear();
    }
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string()),
        Reply::Array(found.into_iter().map(Reply::bulk).collect()),
    ]))
}

fn randomkey(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    Ok(match ctx.keys().random_key()? {
        Some(k) => Reply::bulk(k),
        None => Reply::Null,
    })
}

fn rename(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    rename_generic(ctx, argv, false)
}

fn renamenx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    rename_generic(ctx, argv, true)
}

/// RENAME and RENAMENX (`nx`: only when the destination does not exist).
fn rename_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], nx: bool) -> CmdResult {
    let outcome = ctx.keys().rename(&argv[1], &argv[2], nx)?;
    if matches!(outcome, MoveOutcome::Done) && argv[1] != argv[2] {
        ctx.notify(Class::GENERIC, "rename_from", &argv[1]);
        ctx.notify(Class::GENERIC, "rename_to", &argv[2]);
    }
    match outcome {
        MoveOutcome::NoSource => Err(CmdError::err("no such key")),
        MoveOutcome::Done if nx => Ok(Reply::Integer(1)),
        MoveOutcome::Done => Ok(Reply::ok()),
        MoveOutcome::TargetExists => Ok(Reply::Integer(0)),
    }
}

/// A database index argument as Redis' `getIntFromObject` reads it (an `int`).
fn db_int(arg: &[u8], not_int: fn() -> CmdError) -> Result<i64, CmdError> {
    parse_i64(arg)
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or_else(not_int)
}

/// Range-checks a database index.
fn db_in_range(ctx: &Ctx<'_>, n: i64) -> Result<usize, CmdError> {
    usize::try_from(n)
        .ok()
        .filter(|&n| n < ctx.storage().databases())
        .ok_or_else(|| CmdError::err("DB index is out of range"))
}

fn same_object() -> CmdError {
    CmdError::err("source and destination objects are the same")
}

fn copy(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let src_db = ctx.db();
    let mut dst_db = src_db;
    let mut replace = false;
    let mut i = 3;
    while i < argv.len() {
        if args::is(&argv[i], "replace") {
            replace = true;
        } else if args::is(&argv[i], "db") && i + 1 < argv.len() {
            // COPY parses the index as a long long, then range-checks it.
            dst_db = db_in_range(ctx, args::int(&argv[i + 1])?)?;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if src_db == dst_db && argv[1] == argv[2] {
        return Err(same_object());
    }
    let copied = ctx.keys().copy(&argv[1], dst_db, &argv[2], replace)?;
    if copied {
        ctx.notify_in(dst_db, Class::GENERIC, "copy_to", &argv[2]);
    }
    Ok(Reply::Integer(i64::from(copied)))
}

/// DUMP key: the value in Redis' serialization (RDB encoding, version, CRC-64), so
/// RESTORE here or on Redis recreates it.
fn dump(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    Ok(match ctx.keys().value(&argv[1])? {
        Some((value, _)) => Reply::Bulk(Bytes::from(crate::rdb::dump::encode(&value))),
        None => Reply::Null,
    })
}

/// RESTORE (and RESTORE-ASKING) key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f], with
/// Redis' checks in Redis' order. IDLETIME / FREQ set the restored key's hot-tier counters, the
/// one the policy reads (as Redis' objectSetLRUOrLFU).
fn restore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<u64>, Option<u8>) = (None, None);
    let mut i = 4;
    while i < argv.len() {
        let more = i + 1 < argv.len();
        if args::is(&argv[i], "replace") {
            replace = true;
        } else if args::is(&argv[i], "absttl") {
            absttl = true;
        } else if args::is(&argv[i], "idletime") && more && freq.is_none() {
            let secs = u64::try_from(args::int(&argv[i + 1])?)
                .map_err(|_| CmdError::err("Invalid IDLETIME value, must be >= 0"))?;
            idle = Some(secs);
            i += 1;
        } else if args::is(&argv[i], "freq") && more && idle.is_none() {
            let f = u8::try_from(args::int(&argv[i + 1])?)
                .map_err(|_| CmdError::err("Invalid FREQ value, must be >= 0 and <= 255"))?;
            freq = Some(f);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let key = &argv[1];
    let busy = || CmdError::Other("BUSYKEY Target key name already exists.".into());
    if !replace && ctx.keys().exists(&[key.as_ref()])? > 0 {
        return Err(busy());
    }
    let ttl = args::int(&argv[2])?;
    if ttl < 0 {
        return Err(CmdError::err("Invalid TTL value, must be >= 0"));
    }
    let value = crate::rdb::dump::decode(&argv[3]).map_err(|e| match e {
        crate::rdb::dump::DumpError::VersionOrChecksum => {
            CmdError::err("DUMP payload version or checksum are wrong")
        }
        crate::rdb::dump::DumpError::BadFormat => CmdError::err("Bad data format"),
    })?;
    let expire_ms = match ttl {
        0 => 0,
        t if absttl => t as u64,
        t => unix_ms().saturating_add(t as u64),
    };
    match ctx.keys().restore(key, &value, expire_ms, replace)? {
        Ok(()) => {
            ctx.notify(Class::GENERIC, "restore", key);
            if idle.is_some() || freq.is_some() {
                let state = ctx.keys().state(key)?;
                let cache = ctx.server.storage.cache();
                if lfu_policy(ctx) {
                    cache.set_access(&state.meta_key, None, freq);
                } else {
                    cache.set_access(&state.meta_key, idle, None);
                }
            }
            Ok(Reply::ok())
        }
        Err(RestoreRefusal::BusyKey) => Err(busy()),
        Err(RestoreRefusal::Duplicates) => Err(CmdError::err("Bad data format")),
    }
}

fn move_cmd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let dst = db_in_range(ctx, db_int(&argv[2], || CmdError::NotInteger)?)?;
    if dst == ctx.db() {
        return Err(same_object());
    }
    let moved = ctx.keys().move_to(&argv[1], dst)?;
    if moved {
        ctx.notify(Class::GENERIC, "move_from", &argv[1]);
        ctx.notify_in(dst, Class::GENERIC, "move_to", &argv[1]);
    }
    Ok(Reply::Integer(i64::from(moved)))
}

fn dbsize(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(ctx.keys().size()? as i64))
}

fn flushdb(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    flush_generic(ctx, argv, false)
}

fn flushall(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    flush_generic(ctx, argv, true)
}

/// FLUSHDB and FLUSHALL (`all`) [ASYNC|SYNC]: a range deletion, prompt either way.
fn flush_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], all: bool) -> CmdResult {
    match argv.get(1..).unwrap_or_default() {
        [] => {}
        [mode] if args::is(mode, "async") || args::is(mode, "sync") => {}
        _ => return Err(CmdError::Syntax),
    }
    if all {
        ctx.storage().flush_all(ctx.writer)?;
    } else {
        ctx.keys().flush()?;
    }
    Ok(Reply::ok())
}

fn swapdb(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    // Both indexes are parsed before either is range-checked, as in Redis.
    let a = db_int(&argv[1], || CmdError::err("invalid first DB index"))?;
    let b = db_int(&argv[2], || CmdError::err("invalid second DB index"))?;
    let (a, b) = (db_in_range(ctx, a)?, db_in_range(ctx, b)?);
    let (pa, pb) = (ctx.storage().physical(a)?, ctx.storage().physical(b)?);
    ctx.storage().swap_db(a, b, ctx.writer)?;
    // Clients blocked in one database now wait on the other's keys, as in Redis.
    ctx.server
        .blocking
        .swap_dbs(&ctx.server.storage.ready, pa, pb);
    Ok(Reply::ok())
}

/// The live record of OBJECT's key, or `None` (OBJECT answers Null for a missing key).
fn object_target(ctx: &Ctx<'_>, key: &[u8]) -> Result<Option<MetaValue>, CmdError> {
    Ok(ctx.keys().state(key)?.live().cloned())
}

/// The encoding Redis would report for a small value of this record.
fn encoding_of(meta: &MetaValue) -> &'static str {
    let large = meta.flags & flags::LARGE_ENCODING != 0;
    match meta.data_type {
        DataType::String => {
            let raw = meta.flags & flags::RAW_STRING != 0;
            if !raw && meta.body.len() <= 20 && parse_i64(&meta.body).is_some() {
                "int"
            } else if !raw && meta.body.len() <= 44 {
                "embstr"
            } else {
                "raw"
            }
        }
        // Collections report what Redis would use for them (the logical encoding; on disk
        // every collection is one RocksDB entry per element).
        DataType::Hash if large => "hashtable",
        DataType::ZSet if large => "skiplist",
        DataType::Hash | DataType::ZSet => "listpack",
        DataType::List => "quicklist",
        DataType::Set if large => "hashtable",
        DataType::Set => "intset",
        DataType::Stream => "stream",
    }
}

fn object_encoding(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    Ok(match object_target(ctx, &argv[2])? {
        Some(meta) => Reply::bulk(encoding_of(&meta)),
        None => Reply::Null,
    })
}

/// True when `maxmemory-policy` is an LFU policy (access frequency instead of idle time), as
/// Redis decides; the hot tier keeps that policy's counter on its entries.
fn lfu_policy(ctx: &Ctx<'_>) -> bool {
    crate::storage::cache::Policy::parse(&ctx.server.config().maxmemory_policy).is_lfu()
}

const POLICY_SWITCH_NOTE: &str = "Please note that when switching between policies at runtime LRU \
                                  and LFU data will take some time to adjust.";

/// The hot tier's access data of a live key, loading the key into the tier if it was not
/// there (OBJECT runs untouched: the load is no access). A key the tier does not take (it is
/// off, or full under noeviction) reports what a fresh entry would.
fn tier_access(ctx: &Ctx<'_>, key: &[u8]) -> Result<Option<Access>, CmdError> {
    let state = ctx.keys().state(key)?;
    if state.live().is_none() {
        return Ok(None);
    }
    let cache = ctx.server.storage.cache();
    Ok(Some(cache.access(&state.meta_key).unwrap_or(Access::FRESH)))
}

fn object_freq(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let Some(access) = tier_access(ctx, &argv[2])? else {
        return Ok(Reply::Null);
    };
    if !lfu_policy(ctx) {
        return Err(CmdError::err(format!(
            "An LFU maxmemory policy is not selected, access frequency not tracked. \
             {POLICY_SWITCH_NOTE}"
        )));
    }
    Ok(Reply::Integer(i64::from(access.freq)))
}

fn object_idletime(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let Some(access) = tier_access(ctx, &argv[2])? else {
        return Ok(Reply::Null);
    };
    if lfu_policy(ctx) {
        return Err(CmdError::err(format!(
            "An LFU maxmemory policy is selected, idle time not tracked. {POLICY_SWITCH_NOTE}"
        )));
    }
    Ok(Reply::Integer((access.idle_ms / 1000) as i64))
}

fn object_refcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let Some(meta) = object_target(ctx, &argv[2])? else {
        return Ok(Reply::Null);
    };
    // Redis shares the objects of small integers (0..9999) unless an LRU/LFU policy with a
    // memory limit needs per-object access data; shared objects report INT_MAX.
    let cfg = ctx.server.config();
    let sharing = cfg.maxmemory == 0
        || !(cfg.maxmemory_policy.contains("lru") || cfg.maxmemory_policy.contains("lfu"));
    let small_int = encoding_of(&meta) == "int"
        && parse_i64(&meta.body).is_some_and(|v| (0..10_000).contains(&v));
    Ok(Reply::Integer(if sharing && small_int {
        i64::from(i32::MAX)
    } else {
        1
    }))
}

/// OBJECT HELP (the dispatcher routes every OBJECT call to a subcommand).
fn object_help(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    const LINES: &[&str] = &[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];
    Ok(Reply::Array(
        LINES.iter().map(|l| Reply::Simple((*l).into())).collect(),
    ))
}
