//! Stream commands, after Redis' `t_stream.c`: entries (XADD, XRANGE, XDEL, XTRIM, XSETID,
//! XLEN), reads (XREAD, XREADGROUP, blocking or not), consumer groups and their pending
//! entries (XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM) and XINFO.
//!
//! Arguments are checked in Redis' order with its error texts; one storage call per stream
//! does the work under the dispatcher's key locks.

mod entries;
mod groups;
mod info;
mod read;
pub use read::block_refused_in_script;

use bytes::Bytes;

use crate::cmd::gate::spec::{CommandSpec, KeyFinder, KeySpec};
use crate::cmd::CmdError;
use crate::command;
use crate::resp::Reply;
use crate::storage::types::stream::{Claimed, Entry, Fields};
use crate::util::stream_id::StreamId;

/// XREAD/XREADGROUP keys: the first half of the arguments after `STREAMS`.
fn stream_keys(argv: &[Bytes]) -> Vec<usize> {
    let mut i = 1;
    while i < argv.len() {
        let a = &argv[i];
        if a.eq_ignore_ascii_case(b"group") {
            i += 3;
        } else if a.eq_ignore_ascii_case(b"block") || a.eq_ignore_ascii_case(b"count") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"streams") {
            let first = i + 1;
            let n = (argv.len() - first) / 2;
            return (first..first + n).collect();
        } else {
            i += 1;
        }
    }
    Vec::new()
}

const XREAD_KEYS: KeySpec = KeySpec::Keyword {
    keyword: "STREAMS",
    startfrom: 1,
    find: KeyFinder(stream_keys),
};

const XREADGROUP_KEYS: KeySpec = KeySpec::Keyword {
    keyword: "STREAMS",
    startfrom: 4,
    find: KeyFinder(stream_keys),
};

/// Commands of this group.
pub const COMMANDS: &[CommandSpec] = &[
    command!("xadd", -5, [WRITE, DENYOOM, FAST], KeySpec::single(1), [WRITE, STREAM, FAST],
             "stream", "Appends a new message to a stream. Creates the key if it doesn't exist.",
             entries::xadd),
    command!("xrange", -4, [READONLY], KeySpec::single(1), [READ, STREAM, SLOW], "stream",
             "Returns the messages from a stream within a range of IDs.", entries::xrange),
    command!("xrevrange", -4, [READONLY], KeySpec::single(1), [READ, STREAM, SLOW], "stream",
             "Returns the messages from a stream within a range of IDs in reverse order.",
             entries::xrevrange),
    command!("xlen", 2, [READONLY, FAST], KeySpec::single(1), [READ, STREAM, FAST], "stream",
             "Return the number of messages in a stream.", entries::xlen,
             key_flags: &[&["RO"]]),
    command!("xdel", -3, [WRITE, FAST], KeySpec::single(1), [WRITE, STREAM, FAST], "stream",
             "Returns the number of messages after removing them from a stream.", entries::xdel,
             key_flags: &[&["RW", "delete"]]),
    command!("xtrim", -4, [WRITE], KeySpec::single(1), [WRITE, STREAM, SLOW], "stream",
             "Deletes messages from the beginning of a stream.", entries::xtrim,
             key_flags: &[&["RW", "delete"]]),
    command!("xsetid", -3, [WRITE, DENYOOM, FAST], KeySpec::single(1), [WRITE, STREAM, FAST],
             "stream", "An internal command for replicating stream values.", entries::xsetid),
    command!("xread", -4, [READONLY, BLOCKING], XREAD_KEYS, [READ, STREAM, SLOW, BLOCKING],
             "stream",
             "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.",
             read::xread),
    command!("xreadgroup", -7, [WRITE, BLOCKING], XREADGROUP_KEYS, [WRITE, STREAM, SLOW, BLOCKING],
             "stream",
             "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.",
             read::xreadgroup, key_flags: &[&["RO", "access"]]),
    command!("xack", -4, [WRITE, FAST], KeySpec::single(1), [WRITE, STREAM, FAST], "stream",
             "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.",
             groups::xack),
    command!("xpending", -3, [READONLY], KeySpec::single(1), [READ, STREAM, SLOW], "stream",
             "Returns the information and entries from a stream consumer group's pending entries list.",
             groups::xpending),
    command!("xclaim", -6, [WRITE, FAST], KeySpec::single(1), [WRITE, STREAM, FAST], "stream",
             "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.",
             groups::xclaim),
    command!("xautoclaim", -6, [WRITE, FAST], KeySpec::single(1), [WRITE, STREAM, FAST],
             "stream",
             "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.",
             groups::xautoclaim,
             key_flags: &[&["RW", "delete"]]),
    command!("xgroup", -2, [], KeySpec::None, [SLOW], "stream",
             "A container for consumer groups commands.", groups::xgroup_help,
             subcommands: groups::XGROUP_SUBCOMMANDS),
    command!("xinfo", -2, [], KeySpec::None, [SLOW], "stream",
             "A container for stream introspection commands.", info::xinfo_help,
             subcommands: info::XINFO_SUBCOMMANDS),
];

/// Redis' error for an argument that is not a stream id.
fn invalid_id() -> CmdError {
    CmdError::err("Invalid stream ID specified as stream command argument")
}

/// An unsigned part of an id, as Redis' `string2ull` reads it.
fn id_part(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// A parsed id argument; `seq` is `None` for the `<ms>-*` form (only where allowed).
struct ParsedId {
    ms: u64,
    seq: Option<u64>,
}

/// Parses `<ms>[-<seq>]` (and `-`, `+` unless `strict`); a missing sequence is
/// `missing_seq`; `<ms>-*` only with `allow_auto_seq`.
fn parse_id_form(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    allow_auto_seq: bool,
) -> Result<ParsedId, CmdError> {
    if arg.len() > 127 {
        return Err(invalid_id());
    }
    match arg {
        b"-" if !strict => {
            return Ok(ParsedId {
                ms: 0,
                seq: Some(0),
            })
        }
        b"+" if !strict => {
            return Ok(ParsedId {
                ms: u64::MAX,
                seq: Some(u64::MAX),
            })
        }
        _ => {}
    }
    let (ms, seq) = match arg.iter().position(|&b| b == b'-') {
        Some(dash) => (&arg[..dash], Some(&arg[dash + 1..])),
        None => (arg, None),
    };
    let ms = id_part(ms).ok_or_else(invalid_id)?;
    let seq = match seq {
        Some(b"*") if allow_auto_seq => None,
        Some(s) => Some(id_part(s).ok_or_else(invalid_id)?),
        None => Some(missing_seq),
    };
    Ok(ParsedId { ms, seq })
}

/// A full id argument (`-` and `+` refused), missing sequence 0.
fn parse_strict_id(arg: &[u8]) -> Result<StreamId, CmdError> {
    let p = parse_id_form(arg, 0, true, false)?;
    Ok(StreamId::new(p.ms, p.seq.unwrap_or(0)))
}

/// An id argument where `-` and `+` are allowed, missing sequence `missing_seq`.
fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CmdError> {
    let p = parse_id_form(arg, missing_seq, false, false)?;
    Ok(StreamId::new(p.ms, p.seq.unwrap_or(missing_seq)))
}

/// A range bound: `(id` is exclusive (and strict); returns the id and whether exclusive.
fn parse_interval_id(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        let p = parse_id_form(&arg[1..], missing_seq, true, false)?;
        return Ok((StreamId::new(p.ms, p.seq.unwrap_or(missing_seq)), true));
    }
    Ok((parse_id(arg, missing_seq)?, false))
}

/// A range start: exclusive bounds move one id up.
fn range_start(arg: &[u8]) -> Result<StreamId, CmdError> {
    match parse_interval_id(arg, 0)? {
        (id, true) => id
            .successor()
            .ok_or_else(|| CmdError::err("invalid start ID for the interval")),
        (id, false) => Ok(id),
    }
}

/// A range end: exclusive bounds move one id down.
fn range_end(arg: &[u8]) -> Result<StreamId, CmdError> {
    match parse_interval_id(arg, u64::MAX)? {
        (id, true) => {
            predecessor(id).ok_or_else(|| CmdError::err("invalid end ID for the interval"))
        }
        (id, false) => Ok(id),
    }
}

/// The next id down, `None` below `0-0`.
fn predecessor(id: StreamId) -> Option<StreamId> {
    match id.seq.checked_sub(1) {
        Some(seq) => Some(StreamId::new(id.ms, seq)),
        None => id.ms.checked_sub(1).map(|ms| StreamId::new(ms, u64::MAX)),
    }
}

fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(Bytes::from(id.to_string()))
}

fn fields_reply(fields: Fields) -> Reply {
    let mut out = Vec::with_capacity(fields.len() * 2);
    for (f, v) in fields {
        out.push(Reply::Bulk(Bytes::from(f)));
        out.push(Reply::Bulk(Bytes::from(v)));
    }
    Reply::Array(out)
}

fn entry_reply((id, fields): Entry) -> Reply {
    Reply::Array(vec![id_reply(id), fields_reply(fields)])
}

fn entries_reply(entries: Vec<Entry>) -> Reply {
    Reply::Array(entries.into_iter().map(entry_reply).collect())
}

/// Claimed or history entries: `[id, fields]`, `[id, nil]` for a deleted entry, or just the
/// id (JUSTID).
fn claimed_reply(items: Vec<Claimed>, just_id: bool) -> Reply {
    Reply::Array(
        items
            .into_iter()
            .map(|(id, fields)| match (just_id, fields) {
                (true, _) => id_reply(id),
                (false, Some(f)) => entry_reply((id, f)),
                (false, None) => Reply::Array(vec![id_reply(id), Reply::NullArray]),
            })
            .collect(),
    )
}

/// A `-NOGROUP` error with Redis' text.
fn nogroup(text: String) -> CmdError {
    CmdError::Other(format!("NOGROUP {text}").into())
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_like_redis() {
        assert_eq!(parse_strict_id(b"1-2").unwrap(), StreamId::new(1, 2));
        assert_eq!(parse_strict_id(b"5").unwrap(), StreamId::new(5, 0));
        assert!(parse_strict_id(b"-").is_err());
        assert!(parse_strict_id(b"1-x").is_err());
        assert!(parse_strict_id(b"18446744073709551616").is_err());
        assert_eq!(parse_id(b"+", 0).unwrap(), StreamId::MAX);
        assert_eq!(
            parse_id(b"7", u64::MAX).unwrap(),
            StreamId::new(7, u64::MAX)
        );
        assert_eq!(range_start(b"(1-1").unwrap(), StreamId::new(1, 2));
        assert_eq!(range_end(b"(2-0").unwrap(), StreamId::new(1, u64::MAX));
        assert!(range_end(b"(0-0").is_err());
        assert!(range_start(b"(-").is_err());
    }

    #[test]
    fn read_keys_are_the_first_half_after_streams() {
        let argv: Vec<Bytes> = [
            "xreadgroup",
            "GROUP",
            "streams",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            "a",
            "b",
            ">",
            ">",
        ]
        .iter()
        .map(|s| Bytes::copy_from_slice(s.as_bytes()))
        .collect();
        assert_eq!(stream_keys(&argv), vec![7, 8]);
    }
}
