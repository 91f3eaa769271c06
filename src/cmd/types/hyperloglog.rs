//! HyperLogLog commands, after Redis 7.0's `hyperloglog.c`: PFADD, PFCOUNT, PFMERGE, PFDEBUG
//! and PFSELFTEST.
//!
//! A HyperLogLog is a plain string holding Redis' representation ([`crate::util::hll`]), so
//! GET, SET and DUMP move it between servers unchanged. Writes go through
//! [`Strings::edit`](crate::storage::types::Strings::edit), which keeps the key's TTL, under
//! the dispatcher's key locks.

use bytes::Bytes;

use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::{CmdError, CmdResult, Ctx, EventClasses as Class};
use crate::command;
use crate::resp::Reply;
use crate::storage::types::strings::StringEdit;
use crate::util::hll::{self, Encoding};

/// Commands of this group.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("pfadd", -2, [WRITE, DENYOOM, FAST], KeySpec::single(1),
             [WRITE, HYPERLOGLOG, FAST], "hyperloglog",
             "Adds the specified elements to the specified HyperLogLog.", pfadd,
             key_flags: &[&["RW", "insert"]]),
    command!("pfcount", -2, [READONLY, MAY_REPLICATE], KeySpec::rest(1),
             [READ, HYPERLOGLOG, SLOW], "hyperloglog",
             "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
             pfcount,
             key_flags: &[&["RW", "access"]]),
    command!("pfmerge", -2, [WRITE, DENYOOM], KeySpec::rest(1), [WRITE, HYPERLOGLOG, SLOW],
             "hyperloglog", "Merge N different HyperLogLogs into a single one.", pfmerge,
             key_flags: &[&["RW", "access", "insert"], &["RO", "access"]]),
    command!("pfdebug", 3, [WRITE, DENYOOM, ADMIN], KeySpec::single(2),
             [WRITE, HYPERLOGLOG, ADMIN, SLOW, DANGEROUS], "hyperloglog",
             "Internal commands for debugging HyperLogLog values", pfdebug,
             key_flags: &[&["RW", "access"]]),
    command!("pfselftest", 1, [ADMIN], KeySpec::None, [HYPERLOGLOG, ADMIN, SLOW, DANGEROUS],
             "hyperloglog", "An internal command for testing HyperLogLog values", pfselftest),
];

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

fn corrupt(_: hll::Corrupt) -> CmdError {
    CmdError::Other(CORRUPT.into())
}

/// Redis' `isHLLObjectOrReply` for a string value.
fn check(value: &[u8]) -> Result<(), CmdError> {
    if hll::is_hll(value) {
        Ok(())
    } else {
        Err(CmdError::Other(NOT_HLL.into()))
    }
}

/// The `hll-sparse-max-bytes` directive.
fn sparse_max_bytes(ctx: &Ctx<'_>) -> usize {
    usize::try_from(ctx.server.config().hll_sparse_max_bytes).unwrap_or(usize::MAX)
}

/// A rewritten HyperLogLog value; Redis edits these in place, so they report `raw`.
fn edited(value: Vec<u8>) -> Option<StringEdit> {
    Some(StringEdit { value, raw: true })
}

/// PFADD key [element ...]: 1 if the key was created or a register changed.
fn pfadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let max_bytes = sparse_max_bytes(ctx);
    let mut updated = false;
    ctx.strings().edit::<CmdError>(&argv[1], |current| {
        let mut value = match current {
            None => {
                updated = true;
                hll::new_sparse()
            }
            Some(v) => {
                check(v)?;
                v.to_vec()
            }
        };
        for element in &argv[2..] {
            if hll::add(&mut value, element, max_bytes).map_err(corrupt)? {
                updated = true;
            }
        }
        if !updated {
            return Ok(None);
        }
        hll::invalidate_cache(&mut value);
        Ok(edited(value))
    })?;
    if updated {
        ctx.notify(Class::STRING, "pfadd", &argv[1]);
    }
    Ok(Reply::Integer(i64::from(updated)))
}

/// PFCOUNT key [key ...]. One key answers from the cached cardinality, computing and storing
/// it when stale; several keys estimate their union without writing.
fn pfcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 2 {
        let mut max = vec![0u8; hll::REGISTERS];
        for key in &argv[1..] {
            let Some(value) = ctx.strings().get(key)? else {
                continue;
            };
            check(&value)?;
            hll::merge_into(&mut max, &value).map_err(corrupt)?;
        }
        return Ok(Reply::Integer(hll::count_registers(&max) as i64));
    }
    let key = &argv[1];
    let Some(value) = ctx.strings().get(key)? else {
        return Ok(Reply::Integer(0));
    };
    check(&value)?;
    if let Some(card) = hll::cached_count(&value) {
        return Ok(Reply::Integer(card as i64));
    }
    let card = hll::count(&value).map_err(corrupt)?;
    // A slave leaves its data as the master wrote it; the master's own PFCOUNT stores the
    // cache and that write reaches the slave through the binlog.
    if ctx.storage().is_replica() {
        return Ok(Reply::Integer(card as i64));
    }
    // The dispatcher holds the key's lock as for a write (PFCOUNT may replicate): the cache
    // is stored only if the value is still the one counted.
    ctx.strings().edit::<CmdError>(key, |current| {
        let Some(current) = current.filter(|c| *c == value.as_ref()) else {
            return Ok(None);
        };
        let mut updated = current.to_vec();
        hll::set_cached_count(&mut updated, card);
        Ok(edited(updated))
    })?;
    Ok(Reply::Integer(card as i64))
}

/// PFMERGE destkey [sourcekey ...]: the register-wise maximum of all the keys (the destination
/// included) into the destination, dense when any of them is dense (as Redis 7.0 does).
fn pfmerge(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let max_bytes = sparse_max_bytes(ctx);
    let mut max = vec![0u8; hll::REGISTERS];
    let mut use_dense = false;
    for key in &argv[1..] {
        let Some(value) = ctx.strings().get(key)? else {
            continue;
        };
        check(&value)?;
        use_dense |= hll::encoding(&value) == Encoding::Dense;
        hll::merge_into(&mut max, &value).map_err(corrupt)?;
    }
    ctx.strings().edit::<CmdError>(&argv[1], |current| {
        let mut value = match current {
            None => hll::new_sparse(),
            Some(v) => {
                check(v)?;
                v.to_vec()
            }
        };
        if use_dense {
            hll::to_dense(&mut value).map_err(corrupt)?;
        }
        for (i, &m) in max.iter().enumerate() {
            if m != 0 {
                hll::raise(&mut value, i, m, max_bytes).map_err(corrupt)?;
            }
        }
        hll::invalidate_cache(&mut value);
        Ok(edited(value))
    })?;
    // Redis names a merge's event after PFADD.
    ctx.notify(Class::STRING, "pfadd", &argv[1]);
    Ok(Reply::ok())
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key.
fn pfdebug(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let sub = String::from_utf8_lossy(&argv[1]).into_owned();
    let key = &argv[2];
    let Some(value) = ctx.strings().get(key)? else {
        return Err(CmdError::err("The specified key does not exist"));
    };
    check(&value)?;
    let encoding = hll::encoding(&value);
    match sub.to_ascii_lowercase().as_str() {
        "getreg" => {
            let dense = to_dense_stored(ctx, key, &value)?;
            let regs = hll::dense_registers(&dense);
            Ok(Reply::Array(
                regs.into_iter()
                    .map(|r| Reply::Integer(i64::from(r)))
                    .collect(),
            ))
        }
        "decode" => {
            if encoding != Encoding::Sparse {
                return Err(CmdError::err("HLL encoding is not sparse"));
            }
            Ok(Reply::bulk(hll::decode_sparse(&value).into_bytes()))
        }
        "encoding" => Ok(Reply::Simple(encoding.name().into())),
        "todense" => {
            to_dense_stored(ctx, key, &value)?;
            Ok(Reply::Integer(i64::from(encoding == Encoding::Sparse)))
        }
        _ => Err(CmdError::err(format!("Unknown PFDEBUG subcommand '{sub}'"))),
    }
}

/// The dense form of `value`, stored back under `key` when it was sparse.
fn to_dense_stored(ctx: &Ctx<'_>, key: &[u8], value: &[u8]) -> Result<Vec<u8>, CmdError> {
    let mut dense = value.to_vec();
    if hll::to_dense(&mut dense).map_err(corrupt)? {
        let stored = dense.clone();
        ctx.strings()
            .edit::<CmdError>(key, |_| Ok(edited(stored)))?;
    }
    Ok(dense)
}

/// PFSELFTEST: checks the register packing and the estimator's error on both encodings.
fn pfselftest(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    hll::self_test(sparse_max_bytes(ctx)).map_err(|e| CmdError::Other(e.into()))?;
    Ok(Reply::ok())
}
