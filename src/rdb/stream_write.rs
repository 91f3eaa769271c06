//! Writing a stream in RDB type 19 (Redis 7.0's layout, see `stream`), for DUMP payloads.
//!
//! Entries are packed into listpack nodes as Redis packs them on XADD (at most 100 entries or
//! 4 KB a node, the defaults of `stream-node-max-entries` and `stream-node-max-bytes`),
//! each node's master entry taking the fields of its first entry. Nothing is written as
//! deleted: the plain value has no tombstones.

use crate::dataset::stream::{StreamFields, StreamId, StreamValue};

use super::dump::{put_length, put_string};
use super::listpack::Builder;
use super::stream::{ENTRIES_READ_UNKNOWN, FLAG_SAMEFIELDS};

/// RDB type of a stream in Redis 7.0's layout.
pub(super) const TYPE_STREAM_2: u8 = 19;

const NODE_MAX_ENTRIES: usize = 100;
const NODE_MAX_BYTES: usize = 4096;

/// Appends the value of `s` (without its type byte).
pub(super) fn write_stream(out: &mut Vec<u8>, s: &StreamValue) {
    let nodes = nodes(&s.entries);
    put_length(out, nodes.len() as u64);
    for (master, lp) in &nodes {
        put_string(out, &master.to_be_bytes());
        put_string(out, lp);
    }
    put_length(out, s.entries.len() as u64);
    put_id(out, s.last_id);
    put_id(
        out,
        s.entries.first().map(|(id, _)| *id).unwrap_or_default(),
    );
    put_id(out, s.max_deleted_id);
    put_length(out, s.entries_added);

    put_length(out, s.groups.len() as u64);
    for g in &s.groups {
        put_string(out, &g.name);
        put_id(out, g.last_id);
        put_length(out, g.entries_read.unwrap_or(ENTRIES_READ_UNKNOWN));
        let mut pending: Vec<_> = g.pending.iter().collect();
        pending.sort_by_key(|p| p.id);
        put_length(out, pending.len() as u64);
        for p in &pending {
            out.extend_from_slice(&p.id.to_be_bytes());
            out.extend_from_slice(&p.delivery_time_ms.to_le_bytes());
            put_length(out, p.delivery_count);
        }
        // Every owner must be a consumer; one missing from the list is added, never seen.
        let mut consumers: Vec<(&[u8], u64)> = g
            .consumers
            .iter()
            .map(|c| (c.name.as_slice(), c.seen_time_ms))
            .collect();
        for p in &pending {
            if !consumers.iter().any(|(n, _)| *n == p.consumer.as_slice()) {
                consumers.push((&p.consumer, 0));
            }
        }
        put_length(out, consumers.len() as u64);
        for (name, seen) in consumers {
            put_string(out, name);
            out.extend_from_slice(&seen.to_le_bytes());
            let owned: Vec<StreamId> = pending
                .iter()
                .filter(|p| p.consumer.as_slice() == name)
                .map(|p| p.id)
                .collect();
            put_length(out, owned.len() as u64);
            owned
                .iter()
                .for_each(|id| out.extend_from_slice(&id.to_be_bytes()));
        }
    }
}

/// An id as two lengths (ms, seq).
fn put_id(out: &mut Vec<u8>, id: StreamId) {
    put_length(out, id.ms);
    put_length(out, id.seq);
}

/// The entries as listpack nodes, each with its master id.
fn nodes(entries: &[(StreamId, StreamFields)]) -> Vec<(StreamId, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = entries;
    while let Some(((master, first_fields), _)) = rest.split_first() {
        let mut lp = Builder::default();
        lp.int(0); // live count, rewritten below once known
        lp.int(0); // deleted
        lp.int(first_fields.len() as i64);
        first_fields.iter().for_each(|(f, _)| lp.string(f));
        lp.int(0);
        let mut taken = 0;
        for (id, fields) in rest {
            // Redis' rule on XADD: a new node when this entry's fields and values would take
            // the node to the byte limit.
            let size: usize = fields.iter().map(|(f, v)| f.len() + v.len()).sum();
            if taken == NODE_MAX_ENTRIES || (taken > 0 && lp.len() + size >= NODE_MAX_BYTES) {
                break;
            }
            append_entry(&mut lp, *master, *id, fields, first_fields);
            taken += 1;
        }
        // Rebuild with the count in front (a listpack element's size depends on its value).
        let mut node = Builder::default();
        node.int(taken as i64);
        node.int(0);
        node.int(first_fields.len() as i64);
        first_fields.iter().for_each(|(f, _)| node.string(f));
        node.int(0);
        for (id, fields) in &rest[..taken] {
            append_entry(&mut node, *master, *id, fields, first_fields);
        }
        out.push((*master, node.finish()));
        rest = &rest[taken..];
    }
    out
}

fn append_entry(
    lp: &mut Builder,
    master: StreamId,
    id: StreamId,
    fields: &StreamFields,
    master_fields: &StreamFields,
) {
    let same = fields.len() == master_fields.len()
        && fields
            .iter()
            .zip(master_fields)
            .all(|((a, _), (b, _))| a == b);
    lp.int(if same { FLAG_SAMEFIELDS } else { 0 });
    lp.int(id.ms.wrapping_sub(master.ms) as i64);
    lp.int(id.seq.wrapping_sub(master.seq) as i64);
    if same {
        fields.iter().for_each(|(_, v)| lp.string(v));
        lp.int(3 + fields.len() as i64);
    } else {
        lp.int(fields.len() as i64);
        for (f, v) in fields {
            lp.string(f);
            lp.string(v);
        }
        lp.int(4 + 2 * fields.len() as i64);
    }
}
