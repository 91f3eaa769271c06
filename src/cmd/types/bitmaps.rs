//! Bitmap commands over the string type, after Redis' `bitops.c`: SETBIT, GETBIT, BITCOUNT,
//! BITPOS, BITOP, BITFIELD and BITFIELD_RO.
//!
//! Handlers parse and validate their arguments in Redis' order (so one bad request gets the
//! same error), then read or edit the string. The bit arithmetic itself lives in
//! [`crate::util::bits`]. Writes go through [`Strings::edit`](crate::storage::types::Strings::edit)
//! under the dispatcher's key lock, which keeps the TTL and flags the value `raw`.

use bytes::Bytes;

use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::{args, CmdError, CmdResult, Ctx, EventClasses as Class};
use crate::command;
use crate::resp::Reply;
use crate::storage::types::strings::StringEdit;
use crate::util::bits::{self, BitOp, FieldType, Overflow, RangeUnit};
use crate::util::number::parse_i64;

/// Commands of this group.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("setbit", 4, [WRITE, DENYOOM], KeySpec::single(1), [WRITE, BITMAP, SLOW], "bitmap",
             "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.",
             setbit,
             key_flags: &[&["RW", "access", "update"]]),
    command!("getbit", 3, [READONLY, FAST], KeySpec::single(1), [READ, BITMAP, FAST], "bitmap",
             "Returns a bit value by offset.", getbit),
    command!("bitcount", -2, [READONLY], KeySpec::single(1), [READ, BITMAP, SLOW], "bitmap",
             "Counts the number of set bits (population counting) in a string.", bitcount),
    command!("bitpos", -3, [READONLY], KeySpec::single(1), [READ, BITMAP, SLOW], "bitmap",
             "Finds the first set (1) or clear (0) bit in a string.", bitpos),
    command!("bitop", -4, [WRITE, DENYOOM], KeySpec::rest(2), [WRITE, BITMAP, SLOW], "bitmap",
             "Performs bitwise operations on multiple strings, and stores the result.", bitop,
             key_flags: &[&["OW", "update"], &["RO", "access"]]),
    command!("bitfield", -2, [WRITE, DENYOOM], KeySpec::single(1), [WRITE, BITMAP, SLOW],
             "bitmap", "Performs arbitrary bitfield integer operations on strings.", bitfield,
             key_flags: &[&["RW", "access", "update", "variable_flags"]]),
    command!("bitfield_ro", -2, [READONLY, FAST], KeySpec::single(1), [READ, BITMAP, FAST],
             "bitmap", "Performs arbitrary read-only bitfield integer operations on strings.",
             bitfield_ro),
];

const BAD_OFFSET: &str = "bit offset is not an integer or out of range";
const BAD_BIT: &str = "bit is not an integer or out of range";
const BAD_FIELD_TYPE: &str =
    "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// A bit offset argument (Redis' `getBitOffsetFromArgument`): a non-negative integer whose
/// byte stays below `proto-max-bulk-len`. With `field_bits`, the `#n` form means `n` times the
/// field width (BITFIELD).
fn bit_offset(ctx: &Ctx<'_>, arg: &[u8], field_bits: Option<u32>) -> Result<u64, CmdError> {
    let bad = || CmdError::err(BAD_OFFSET);
    let offset = match (arg.split_first(), field_bits) {
        (Some((b'#', n)), Some(bits)) => parse_i64(n)
            .and_then(|n| n.checked_mul(i64::from(bits)))
            .ok_or_else(bad)?,
        _ => parse_i64(arg).ok_or_else(bad)?,
    };
    let max_bytes = ctx.server.config().proto_max_bulk_len;
    match u64::try_from(offset) {
        Ok(o) if (o >> 3) < max_bytes => Ok(o),
        _ => Err(bad()),
    }
}

/// A `BYTE` / `BIT` unit keyword.
fn range_unit(arg: &[u8]) -> Result<RangeUnit, CmdError> {
    if args::is(arg, "byte") {
        Ok(RangeUnit::Byte)
    } else if args::is(arg, "bit") {
        Ok(RangeUnit::Bit)
    } else {
        Err(CmdError::Syntax)
    }
}

// ---------------------------------------------------------------------------------------------
// Single bits

fn setbit(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let offset = bit_offset(ctx, &argv[2], None)?;
    let on = match parse_i64(&argv[3]) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(CmdError::err(BAD_BIT)),
    };
    let mut old = false;
    ctx.strings().edit::<CmdError>(&argv[1], |current| {
        let mut value = current.map(<[u8]>::to_vec).unwrap_or_default();
        old = bits::set_bit(&mut value, offset, on);
        // An existing string whose bits did not change is left alone, as in Redis.
        if current.is_some_and(|c| c == value.as_slice()) {
            return Ok(None);
        }
        Ok(Some(StringEdit { value, raw: true }))
    })?;
    ctx.notify(Class::STRING, "setbit", &argv[1]);
    Ok(Reply::Integer(i64::from(old)))
}

fn getbit(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let offset = bit_offset(ctx, &argv[2], None)?;
    let value = ctx.strings().get(&argv[1])?;
    let bit = value.is_some_and(|v| bits::get_bit(&v, offset));
    Ok(Reply::Integer(i64::from(bit)))
}

// ---------------------------------------------------------------------------------------------
// Counting and searching

/// BITCOUNT key [start end [BYTE|BIT]]. As in Redis 7.0, a missing key answers 0 before the
/// range is looked at.
fn bitcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let Some(value) = ctx.strings().get(&argv[1])? else {
        return Ok(Reply::Integer(0));
    };
    let range = match argv.len() {
        2 => None,
        4 | 5 => {
            let start = args::int(&argv[2])?;
            let end = args::int(&argv[3])?;
            // Redis answers this reversed negative range before reading the unit keyword.
            if start < 0 && end < 0 && start > end {
                return Ok(Reply::Integer(0));
            }
            let unit = match argv.get(4) {
                Some(u) => range_unit(u)?,
                None => RangeUnit::Byte,
            };
            Some((start, end, unit))
        }
        _ => return Err(CmdError::Syntax),
    };
    Ok(Reply::Integer(bits::bitcount(&value, range) as i64))
}

/// BITPOS key bit [start [end [BYTE|BIT]]].
fn bitpos(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let bit = match args::int(&argv[2])? {
        0 => false,
        1 => true,
        _ => return Err(CmdError::err("The bit argument must be 1 or 0.")),
    };
    // A missing key is an endless run of zeros.
    let Some(value) = ctx.strings().get(&argv[1])? else {
        return Ok(Reply::Integer(if bit { -1 } else { 0 }));
    };
    if argv.len() > 6 {
        return Err(CmdError::Syntax);
    }
    let start = argv.get(3).map(|a| args::int(a)).transpose()?;
    let unit = match argv.get(5) {
        Some(u) => range_unit(u)?,
        None => RangeUnit::Byte,
    };
    let end = argv.get(4).map(|a| args::int(a)).transpose()?;
    Ok(Reply::Integer(bits::bitpos(&value, bit, start, end, unit)))
}

// ---------------------------------------------------------------------------------------------
// BITOP

/// BITOP AND|OR|XOR|NOT destkey key [key ...]: missing sources are empty strings; an empty
/// result deletes the destination. Replies with the result's length.
fn bitop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let op = [
        ("and", BitOp::And),
        ("or", BitOp::Or),
        ("xor", BitOp::Xor),
        ("not", BitOp::Not),
    ]
    .into_iter()
    .find(|(kw, _)| args::is(&argv[1], kw))
    .map(|(_, op)| op)
    .ok_or(CmdError::Syntax)?;
    if op == BitOp::Not && argv.len() != 4 {
        return Err(CmdError::err(
            "BITOP NOT must be called with a single source key.",
        ));
    }
    let mut sources = Vec::with_capacity(argv.len() - 3);
    for key in &argv[3..] {
        sources.push(ctx.strings().get(key)?.unwrap_or_default());
    }
    let slices: Vec<&[u8]> = sources.iter().map(|s| s.as_ref()).collect();
    let result = bits::bitop(op, &slices);
    let len = result.len();
    let value = (len > 0).then_some(result);
    let existed = ctx.strings().replace(&argv[2], value)?;
    if len > 0 {
        ctx.notify(Class::STRING, "set", &argv[2]);
    } else if existed {
        ctx.notify(Class::GENERIC, "del", &argv[2]);
    }
    Ok(Reply::Integer(len as i64))
}

// ---------------------------------------------------------------------------------------------
// BITFIELD

/// One BITFIELD operation, with the overflow policy in force where it appeared.
#[derive(Debug, Clone, Copy)]
struct FieldOp {
    kind: FieldOpKind,
    ty: FieldType,
    offset: u64,
    overflow: Overflow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldOpKind {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// Parses the subcommands after the key, in Redis' order of checks.
fn parse_field_ops(ctx: &Ctx<'_>, sub: &[Bytes]) -> Result<Vec<FieldOp>, CmdError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut i = 0;
    while i < sub.len() {
        let name = &sub[i];
        let remaining = sub.len() - i - 1;
        let wants_value = if args::is(name, "get") && remaining >= 2 {
            false
        } else if (args::is(name, "set") || args::is(name, "incrby")) && remaining >= 3 {
            true
        } else if args::is(name, "overflow") && remaining >= 1 {
            let policy = &sub[i + 1];
            overflow = if args::is(policy, "wrap") {
                Overflow::Wrap
            } else if args::is(policy, "sat") {
                Overflow::Sat
            } else if args::is(policy, "fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::err("Invalid OVERFLOW type specified"));
            };
            i += 2;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        let ty = FieldType::parse(&sub[i + 1]).ok_or_else(|| CmdError::err(BAD_FIELD_TYPE))?;
        let offset = bit_offset(ctx, &sub[i + 2], Some(ty.bits))?;
        let kind = if !wants_value {
            FieldOpKind::Get
        } else {
            let v = args::int(&sub[i + 3])?;
            if args::is(name, "set") {
                FieldOpKind::Set(v)
            } else {
                FieldOpKind::IncrBy(v)
            }
        };
        ops.push(FieldOp {
            kind,
            ty,
            offset,
            overflow,
        });
        i += if wants_value { 4 } else { 3 };
    }
    Ok(ops)
}

/// Runs one write operation on `buf`: its reply, or nil when OVERFLOW FAIL refused it.
fn apply_field_write(buf: &mut Vec<u8>, op: &FieldOp) -> Reply {
    let old = bits::get_field(buf, op.offset, op.ty);
    let (wanted, reply_old) = match op.kind {
        // An unsigned SET reads its argument as a 64-bit unsigned number, as Redis does.
        FieldOpKind::Set(v) if !op.ty.signed => (i128::from(v as u64), true),
        FieldOpKind::Set(v) => (i128::from(v), true),
        FieldOpKind::IncrBy(n) => (i128::from(old) + i128::from(n), false),
        FieldOpKind::Get => return Reply::Integer(old),
    };
    match bits::fit_field(op.ty, wanted, op.overflow) {
        Some(new) => {
            bits::set_field(buf, op.offset, op.ty, new);
            Reply::Integer(if reply_old { old } else { new })
        }
        None => Reply::Null,
    }
}

fn bitfield(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, argv, false)
}

fn bitfield_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, argv, true)
}

/// BITFIELD and BITFIELD_RO: GET-only requests read, others edit the string once, grown to hold
/// the farthest field written (even when OVERFLOW FAIL then refuses every write).
fn bitfield_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], readonly: bool) -> CmdResult {
    let ops = parse_field_ops(ctx, &argv[2..])?;
    let writes = ops.iter().any(|op| op.kind != FieldOpKind::Get);
    if !writes {
        let value = ctx.strings().get(&argv[1])?;
        let s = value.as_deref().unwrap_or_default();
        return Ok(Reply::Array(
            ops.iter()
                .map(|op| Reply::Integer(bits::get_field(s, op.offset, op.ty)))
                .collect(),
        ));
    }
    if readonly {
        return Err(CmdError::err(
            "BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let highest = ops
        .iter()
        .filter(|op| op.kind != FieldOpKind::Get)
        .map(|op| op.offset + u64::from(op.ty.bits) - 1)
        .max()
        .unwrap_or(0);
    let mut replies = Vec::with_capacity(ops.len());
    ctx.strings().edit::<CmdError>(&argv[1], |current| {
        let mut value = current.map(<[u8]>::to_vec).unwrap_or_default();
        let needed = (highest >> 3) as usize + 1;
        if value.len() < needed {
            value.resize(needed, 0);
        }
        replies.extend(ops.iter().map(|op| apply_field_write(&mut value, op)));
        if current.is_some_and(|c| c == value.as_slice()) {
            return Ok(None);
        }
        Ok(Some(StringEdit { value, raw: true }))
    })?;
    // Writes OVERFLOW FAIL refused (nil replies) change nothing.
    let changed = ops
        .iter()
        .zip(&replies)
        .any(|(op, reply)| op.kind != FieldOpKind::Get && !matches!(reply, Reply::Null));
    if changed {
        ctx.notify(Class::STRING, "setbit", &argv[1]);
    }
    Ok(Reply::Array(replies))
}
