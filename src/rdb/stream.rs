//! Streams in RDB encoding (types 15, 19 and 21), read into a `StreamValue`.
//!
//! Layout: a count of listpacks, each a string holding its 16-byte big-endian master id then
//! a string holding the listpack; the length, the last id (ms, seq); from type 19 the first
//! id, the max deleted id and the entries-added counter; then the consumer groups: name, last
//! delivered id, (19+) entries read (`u64::MAX` for "unknown"), the group's pending entries
//! (raw 16-byte id, delivery time as 8 little-endian bytes, delivery count) and its consumers
//! (name, seen time as 8 bytes, (21) active time as 8 bytes, and the raw ids they own).
//!
//! A listpack starts with a master entry — live count, deleted count, the number of master
//! fields, those field names, a `0` terminator — then its entries, each: flags, ms and seq as
//! deltas from the master id, (unless the same-fields flag) the field count, then the fields
//! and values (only values with the same-fields flag), then the number of listpack elements
//! the entry took (for walking backwards), which is checked.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use crate::dataset::stream::{
    PendingEntry, StreamConsumer, StreamFields, StreamGroup, StreamId, StreamValue,
};

use super::cursor::BlobResult;
use super::error::{RdbError, Result};
use super::input::Input;
use super::length::read_length;
use super::listpack;
use super::string::read_string;

/// The three stream layouts: 15 (Redis 5), 19 (7.0: first id, tombstones, offsets) and 21
/// (7.2: a consumer's active time).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(super) enum StreamVersion {
    V1,
    V2,
    V3,
}

/// Entry flag: deleted (XDEL), kept as a tombstone until its listpack is rewritten.
pub(super) const FLAG_DELETED: i64 = 1;
/// Entry flag: the entry has exactly the master entry's fields, which are not repeated.
pub(super) const FLAG_SAMEFIELDS: i64 = 2;

/// `entries_read` written for a group whose count is unknown (Redis' -1 as an unsigned length).
pub(super) const ENTRIES_READ_UNKNOWN: u64 = u64::MAX;

/// Reads a stream value of the given layout.
pub(super) fn read_stream<R: Read>(
    input: &mut Input<R>,
    version: StreamVersion,
) -> Result<StreamValue> {
    let mut s = StreamValue::default();
    let listpacks = read_length(input)?;
    for _ in 0..listpacks {
        let at = input.offset();
        let key = read_string(input)?;
        let master = StreamId::from_be_bytes(&key).ok_or_else(|| {
            RdbError::new(
                at,
                format!("stream node key of {} bytes, not 16", key.len()),
            )
        })?;
        let at = input.offset();
        let blob = read_string(input)?;
        read_node(master, &blob, &mut s.entries).map_err(|e| RdbError::new(at, e))?;
    }
    let at = input.offset();
    let length = read_length(input)?;
    if length != s.entries.len() as u64 {
        return Err(RdbError::new(
            at,
            format!(
                "stream length {length}, its listpacks hold {} entries",
                s.entries.len()
            ),
        ));
    }
    s.last_id = read_id(input)?;
    if version >= StreamVersion::V2 {
        read_id(input)?; // first id: the first entry's, derived again when needed
        s.max_deleted_id = read_id(input)?;
        s.entries_added = read_length(input)?;
    } else {
        // Redis 5 kept neither; Redis 7 starts them this way when loading such a file.
        s.entries_added = length;
    }
    let groups = read_length(input)?;
    let mut names = HashSet::new();
    for _ in 0..groups {
        let at = input.offset();
        let mut g = read_group(input, version)?;
        if version < StreamVersion::V2 {
            // Redis 5 kept no read counters; Redis 7 estimates them when loading such a file.
            g.entries_read = s.estimate_entries_read(g.last_id);
        }
        if !names.insert(g.name.clone()) {
            return Err(RdbError::new(at, "duplicate consumer group name"));
        }
        s.groups.push(g);
    }
    Ok(s)
}

/// An id written as two lengths (ms, seq).
fn read_id<R: Read>(input: &mut Input<R>) -> Result<StreamId> {
    let ms = read_length(input)?;
    Ok(StreamId::new(ms, read_length(input)?))
}

fn read_raw_id<R: Read>(input: &mut Input<R>) -> Result<StreamId> {
    let raw: [u8; 16] = input.array()?;
    Ok(StreamId::from_be_bytes(&raw).unwrap_or_default())
}

fn read_group<R: Read>(input: &mut Input<R>, version: StreamVersion) -> Result<StreamGroup> {
    let name = read_string(input)?;
    let last_id = read_id(input)?;
    let entries_read = if version >= StreamVersion::V2 {
        Some(read_length(input)?).filter(|&n| n != ENTRIES_READ_UNKNOWN)
    } else {
        None
    };
    // The group's pending entries, owners resolved from the consumers that follow.
    let mut pel: BTreeMap<StreamId, (u64, u64, Option<Vec<u8>>)> = BTreeMap::new();
    let pending = read_length(input)?;
    for _ in 0..pending {
        let at = input.offset();
        let id = read_raw_id(input)?;
        let time = u64::from_le_bytes(input.array()?);
        let count = read_length(input)?;
        if pel.insert(id, (time, count, None)).is_some() {
            return Err(RdbError::new(
                at,
                format!("pending entry {id} listed twice"),
            ));
        }
    }
    let mut consumers = Vec::new();
    let mut names = HashSet::new();
    let n = read_length(input)?;
    for _ in 0..n {
        let at = input.offset();
        let name = read_string(input)?;
        if !names.insert(name.clone()) {
            return Err(RdbError::new(at, "duplicate consumer name"));
        }
        let seen_time_ms = u64::from_le_bytes(input.array()?);
        let active_time_ms = if version >= StreamVersion::V3 {
            Some(u64::from_le_bytes(input.array()?))
        } else {
            None
        };
        let owned = read_length(input)?;
        for _ in 0..owned {
            let at = input.offset();
            let id = read_raw_id(input)?;
            match pel.get_mut(&id) {
                Some((_, _, owner @ None)) => *owner = Some(name.clone()),
                Some(_) => {
                    return Err(RdbError::new(at, format!("pending entry {id} owned twice")))
                }
                None => {
                    return Err(RdbError::new(
                        at,
                        format!("consumer's pending entry {id} is not in its group's list"),
                    ))
                }
            }
        }
        consumers.push(StreamConsumer {
            name,
            seen_time_ms,
            active_time_ms,
        });
    }
    let at = input.offset();
    let pending = pel
        .into_iter()
        .map(|(id, (delivery_time_ms, delivery_count, owner))| {
            let consumer = owner
                .ok_or_else(|| RdbError::new(at, format!("pending entry {id} has no consumer")))?;
            Ok(PendingEntry {
                id,
                consumer,
                delivery_time_ms,
                delivery_count,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(StreamGroup {
        name,
        last_id,
        entries_read,
        pending,
        consumers,
    })
}

/// Appends the live entries of one listpack node to `out`, checking that ids keep growing
/// across nodes.
fn read_node(
    master: StreamId,
    blob: &[u8],
    out: &mut Vec<(StreamId, StreamFields)>,
) -> BlobResult<()> {
    let items = listpack::entries(blob)?;
    let mut it = items.into_iter();
    let mut next = |what: &str| {
        it.next()
            .ok_or_else(|| format!("stream listpack ends before {what}"))
    };
    let live = int(&next("the live count")?)?;
    let deleted = int(&next("the deleted count")?)?;
    let master_count = count(&next("the master field count")?)?;
    let mut master_fields = Vec::new();
    for _ in 0..master_count {
        master_fields.push(next("a master field")?);
    }
    if int(&next("the master terminator")?)? != 0 {
        return Err("stream master entry not terminated by 0".into());
    }
    let (mut seen_live, mut seen_deleted) = (0i64, 0i64);
    let mut previous: Option<StreamId> = out.last().map(|(id, _)| *id);
    loop {
        let flags = match it.next() {
            None => break,
            Some(f) => int(&f)?,
        };
        let mut next = |what: &str| {
            it.next()
                .ok_or_else(|| format!("stream entry cut short before {what}"))
        };
        let ms = master.ms.wrapping_add(int(&next("its ms delta")?)? as u64);
        let seq = master
            .seq
            .wrapping_add(int(&next("its seq delta")?)? as u64);
        let id = StreamId::new(ms, seq);
        let mut fields = Vec::new();
        let elements = if flags & FLAG_SAMEFIELDS != 0 {
            for f in &master_fields {
                fields.push((f.clone(), next("a value")?));
            }
            3 + master_fields.len()
        } else {
            let n = count(&next("its field count")?)?;
            for _ in 0..n {
                let f = next("a field")?;
                fields.push((f, next("a value")?));
            }
            4 + 2 * n
        };
        let stated = int(&next("its element count")?)?;
        if usize::try_from(stated).ok() != Some(elements) {
            return Err(format!(
                "stream entry {id} says it has {stated} elements, it has {elements}"
            ));
        }
        if flags & FLAG_DELETED != 0 {
            seen_deleted += 1;
            continue;
        }
        seen_live += 1;
        if previous.is_some_and(|p| id <= p) {
            return Err(format!("stream entry {id} out of id order"));
        }
        previous = Some(id);
        out.push((id, fields));
    }
    if (seen_live, seen_deleted) != (live, deleted) {
        return Err(format!(
            "stream listpack says {live} live and {deleted} deleted entries, \
             it holds {seen_live} and {seen_deleted}"
        ));
    }
    Ok(())
}

/// A listpack element read as an integer (listpacks store small numbers as integers, which
/// the listpack reader returns as decimal text).
fn int(e: &[u8]) -> BlobResult<i64> {
    std::str::from_utf8(e)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| {
            format!(
                "stream listpack element {:?} is not an integer",
                e.escape_ascii().to_string()
            )
        })
}

/// A non-negative count; never larger than the elements a listpack can hold, so it cannot
/// size an allocation by itself.
fn count(e: &[u8]) -> BlobResult<usize> {
    let n = int(e)?;
    usize::try_from(n).map_err(|_| format!("negative count {n} in a stream listpack"))
}
