//! Codis' slot commands, for Pika deployments sharded by the Codis proxy: 1024 slots
//! (`crc32 % 1024`, see `util::codis`), read through the per-slot key index `slotmigrate`
//! keeps (`storage::codis_index`). SLOTSRESTORE is what a migrating node sends the target.

use bytes::Bytes;

use crate::cmd::gate::spec::{CommandSpec, KeyEnd, KeySpec};
use crate::cmd::types::migrate::{send_keys, Destination};
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::command;
use crate::resp::Reply;
use crate::storage::restore::RestoreRefusal;
use crate::util::clock::unix_ms;
use crate::util::codis::{codis_slot, codis_tag, CODIS_SLOTS};

/// Commands of this group.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("slotshashkey", -1, [FAST], KeySpec::None, [FAST], "server",
             "Returns the Codis slot of each key.", slotshashkey),
    command!("slotsinfo", -1, [ADMIN], KeySpec::None, [ADMIN, SLOW], "server",
             "Returns [slot, keys] for the non-empty Codis slots of a range (default all 1024).",
             slotsinfo),
    command!("slotsdel", -2, [WRITE, ADMIN], KeySpec::None, [ADMIN, WRITE, SLOW, DANGEROUS],
             "server", "Deletes every key of the given Codis slots.", slotsdel),
    command!("slotsscan", -3, [ADMIN], KeySpec::None, [ADMIN, SLOW], "server",
             "Iterates the keys of one Codis slot: SLOTSSCAN slot cursor [COUNT n].", slotsscan),
    command!("slotscheck", 1, [ADMIN], KeySpec::None, [ADMIN, SLOW], "server",
             "Brings the Codis slot index in line with the keys.", slotscheck),
    command!("slotsmgrtslot", 5, [WRITE, ADMIN], KeySpec::None, [ADMIN, WRITE, SLOW, DANGEROUS],
             "server",
             "Moves one key of a Codis slot to another node: SLOTSMGRTSLOT host port timeout slot.",
             slotsmgrtslot),
    command!("slotsmgrtone", 5, [WRITE, ADMIN], KeySpec::None, [ADMIN, WRITE, SLOW, DANGEROUS],
             "server", "Moves one key to another node: SLOTSMGRTONE host port timeout key.",
             slotsmgrtone),
    command!("slotsmgrttagslot", 5, [WRITE, ADMIN], KeySpec::None,
             [ADMIN, WRITE, SLOW, DANGEROUS], "server",
             "Moves one key of a Codis slot and every key with its {tag} to another node.",
             slotsmgrttagslot),
    command!("slotsmgrttagone", 5, [WRITE, ADMIN], KeySpec::None,
             [ADMIN, WRITE, SLOW, DANGEROUS], "server",
             "Moves a key and every key with its {tag} to another node.", slotsmgrttagone),
    command!("slotsrestore", -4, [WRITE, DENYOOM], KeySpec::Range { first: 1, last: KeyEnd::FromEnd(3), step: 3 },
             [WRITE, SLOW, DANGEROUS], "server",
             "Stores keys sent by a migrating node: SLOTSRESTORE key ttl-ms payload [...].",
             slotsrestore, key_flags: &[&["OW", "update"]]),
];

/// The index the SLOTS* commands read; refused without it.
fn require_index(ctx: &Ctx<'_>) -> Result<(), CmdError> {
    if ctx.storage().codis_index_on() {
        Ok(())
    } else {
        Err(CmdError::err(
            "Codis slot commands need the slot index: start with slotmigrate yes",
        ))
    }
}

/// A Codis slot argument.
fn codis_slot_arg(arg: &[u8]) -> Result<u16, CmdError> {
    let slot = args::int(arg)?;
    u16::try_from(slot)
        .ok()
        .filter(|&s| s < CODIS_SLOTS)
        .ok_or_else(|| CmdError::err(format!("invalid slot number = {slot}")))
}

fn slotshashkey(_: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Array(
        argv[1..]
            .iter()
            .map(|k| Reply::Integer(i64::from(codis_slot(k))))
            .collect(),
    ))
}

fn slotsinfo(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    require_index(ctx)?;
    if argv.len() > 3 {
        return Err(CmdError::WrongArity("slotsinfo".into()));
    }
    let start = match argv.get(1) {
        Some(a) => args::int(a)?.clamp(0, i64::from(CODIS_SLOTS)) as u16,
        None => 0,
    };
    let count = match argv.get(2) {
        Some(a) => args::int(a)?.max(0),
        None => i64::from(CODIS_SLOTS),
    };
    let end = (i64::from(start) + count).min(i64::from(CODIS_SLOTS)) as u16;
    let keys = ctx.keys();
    let mut out = Vec::new();
    for slot in start..end {
        let n = keys.codis_count(slot)?;
        if n > 0 {
            out.push(Reply::Array(vec![
                Reply::Integer(i64::from(slot)),
                Reply::Integer(n as i64),
            ]));
        }
    }
    Ok(Reply::Array(out))
}

fn slotsdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    require_index(ctx)?;
    let slots = argv[1..]
        .iter()
        .map(|a| codis_slot_arg(a))
        .collect::<Result<Vec<u16>, _>>()?;
    let keys = ctx.keys();
    let mut out = Vec::new();
    for slot in slots {
        keys.delete_batches(|keys, limit| Ok(keys.codis_keys(slot, 0, limit)?.0))?;
        out.push(Reply::Array(vec![
            Reply::Integer(i64::from(slot)),
            Reply::Integer(keys.codis_count(slot)? as i64),
        ]));
    }
    Ok(Reply::Array(out))
}

fn slotsscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    require_index(ctx)?;
    let slot = codis_slot_arg(&argv[1])?;
    let cursor =
        usize::try_from(args::int(&argv[2])?).map_err(|_| CmdError::err("invalid cursor"))?;
    let mut count = 10usize;
    let mut i = 3;
    while i < argv.len() {
        if args::is(&argv[i], "count") && i + 1 < argv.len() {
            count = usize::try_from(args::int(&argv[i + 1])?)
                .ok()
                .filter(|&c| c > 0)
                .ok_or(CmdError::Syntax)?;
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let (keys, walked) = ctx.keys().codis_keys(slot, cursor, count)?;
    let next = if walked < cursor + count { 0 } else { walked };
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string()),
        Reply::Array(keys.into_iter().map(|k| Reply::Bulk(k.into())).collect()),
    ]))
}

fn slotscheck(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    require_index(ctx)?;
    let (added, dropped) = ctx.keys().codis_check()?;
    if added + dropped > 0 {
        tracing::info!("SLOTSCHECK: {added} index records added, {dropped} dropped");
    }
    Ok(Reply::ok())
}

/// SLOTSRESTORE key ttl-ms payload [key ttl-ms payload ...]: DUMP payloads, replacing what is
/// there (a ttl of 0 keeps no expiry).
fn slotsrestore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if !(argv.len() - 1).is_multiple_of(3) {
        return Err(CmdError::WrongArity("slotsrestore".into()));
    }
    let mut decoded = Vec::new();
    for triple in argv[1..].chunks(3) {
        let ttl = args::int(&triple[1])?;
        if ttl < 0 {
            return Err(CmdError::err("Invalid TTL value, must be >= 0"));
        }
        let value = crate::rdb::dump::decode(&triple[2])
            .map_err(|_| CmdError::err("DUMP payload version or checksum are wrong"))?;
        let expire_ms = if ttl == 0 {
            0
        } else {
            unix_ms().saturating_add(ttl as u64)
        };
        decoded.push((&triple[0], value, expire_ms));
    }
    for (key, value, expire_ms) in decoded {
        match ctx.keys().restore(key, &value, expire_ms, true)? {
            Ok(()) => {}
            Err(RestoreRefusal::BusyKey) | Err(RestoreRefusal::Duplicates) => {
                return Err(CmdError::err("Bad data format"))
            }
        }
    }
    Ok(Reply::ok())
}

/// `host port timeout` of the SLOTSMGRT* commands (timeout in ms; 0 or less: Redis'
/// MIGRATE default).
fn destination(argv: &[Bytes]) -> Result<Destination<'_>, CmdError> {
    let timeout = args::int(&argv[3])?;
    let timeout_ms = u64::try_from(timeout)
        .ok()
        .filter(|&t| t > 0)
        .unwrap_or(1000);
    Ok(Destination {
        host: &argv[1],
        port: &argv[2],
        timeout: std::time::Duration::from_millis(timeout_ms),
        db: 0,
        replace: true,
        auth: None,
    })
}

/// Moves `keys` (under their locks) to `to` as Codis expects: replacing what the target has,
/// deleted here once acknowledged. Returns how many moved.
fn move_keys(ctx: &Ctx<'_>, to: &Destination<'_>, keys: &[Bytes]) -> Result<usize, CmdError> {
    if keys.is_empty() {
        return Ok(0);
    }
    let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_ref()).collect();
    let _locks = ctx.storage().lock_keys(refs.iter().copied());
    let to = Destination {
        db: ctx.db() as i64,
        ..*to
    };
    send_keys(ctx, &to, keys, false)
}

/// `key` and the keys sharing its Codis `{tag}` (just `key` without a tag).
fn with_its_tag(ctx: &Ctx<'_>, key: &[u8]) -> Result<Vec<Bytes>, CmdError> {
    let tag = codis_tag(key);
    if tag.len() == key.len() {
        return Ok(vec![Bytes::copy_from_slice(key)]);
    }
    let (keys, _) = ctx.keys().codis_keys(codis_slot(key), 0, usize::MAX)?;
    let mut out: Vec<Bytes> = keys
        .into_iter()
        .filter(|k| codis_tag(k) == tag)
        .map(Bytes::from)
        .collect();
    if !out.iter().any(|k| k.as_ref() == key) {
        out.push(Bytes::copy_from_slice(key));
    }
    Ok(out)
}

/// One key of `slot`, if it has any.
fn first_key(ctx: &Ctx<'_>, slot: u16) -> Result<Option<Bytes>, CmdError> {
    let (keys, _) = ctx.keys().codis_keys(slot, 0, 1)?;
    Ok(keys.into_iter().next().map(Bytes::from))
}

/// `[moved, keys left in the slot]`, the SLOTSMGRT*SLOT reply.
fn slot_reply(ctx: &Ctx<'_>, moved: usize, slot: u16) -> CmdResult {
    Ok(Reply::Array(vec![
        Reply::Integer(moved as i64),
        Reply::Integer(ctx.keys().codis_count(slot)? as i64),
    ]))
}

fn slotsmgrtslot(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    require_index(ctx)?;
    let to = destination(argv)?;
    let slot = codis_slot_arg(&argv[4])?;
    let moved = match first_key(ctx, slot)? {
        Some(key) => move_keys(ctx, &to, &[key])?,
        None => 0,
    };
    slot_reply(ctx, moved, slot)
}

fn slotsmgrtone(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let to = destination(argv)?;
    let moved = move_keys(ctx, &to, &argv[4..5])?;
    Ok(Reply::Integer(moved as i64))
}

fn slotsmgrttagslot(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    require_index(ctx)?;
    let to = destination(argv)?;
    let slot = codis_slot_arg(&argv[4])?;
    let moved = match first_key(ctx, slot)? {
        Some(key) => {
            let keys = with_its_tag(ctx, &key)?;
            move_keys(ctx, &to, &keys)?
        }
        None => 0,
    };
    slot_reply(ctx, moved, slot)
}

fn slotsmgrttagone(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    require_index(ctx)?;
    let to = destination(argv)?;
    let keys = with_its_tag(ctx, &argv[4])?;
    let moved = move_keys(ctx, &to, &keys)?;
    Ok(Reply::Integer(moved as i64))
}
