//! A stream as the commands that recreate it (on Redis 7.0 or pika), and its share of DEBUG
//! DIGEST.
//!
//! The commands follow Redis' own AOF rewrite (XADD per entry, XGROUP CREATE with ENTRIESREAD,
//! XGROUP CREATECONSUMER, XCLAIM ... FORCE JUSTID for the pending entries, XSETID for the
//! counters) with one addition: XCLAIM only claims entries that exist, so a pending entry
//! whose message was deleted or trimmed is claimed against a placeholder entry added in its
//! place and removed afterwards (XTRIM MINID for those before the first real entry, as a trim
//! does not move the max deleted id; XDEL for the others, which were XDEL'd in the first
//! place). Only the consumers' seen times cannot be recreated: they become the replay time.

use std::collections::BTreeSet;

use super::stream::{StreamId, StreamValue};
use super::Emit;
use crate::util::redis_digest::ValueDigest;

/// The field and value of a placeholder entry (and of the empty-stream trick).
const PLACEHOLDER: [&[u8]; 2] = [b"x", b"y"];

impl StreamValue {
    /// Emits the commands that recreate this stream at `key` (which must not exist).
    pub fn commands(&self, key: &[u8], emit: &mut Emit<'_>) -> Result<(), String> {
        let live: BTreeSet<StreamId> = self.entries.iter().map(|(id, _)| *id).collect();
        let placeholders: BTreeSet<StreamId> = self
            .groups
            .iter()
            .flat_map(|g| g.pending.iter().map(|p| p.id))
            .filter(|id| !live.contains(id))
            .collect();

        // Entries and placeholders, merged in id order.
        let mut holders = placeholders.iter().peekable();
        for (id, fields) in &self.entries {
            while let Some(p) = holders.next_if(|p| *p < id) {
                xadd_placeholder(key, *p, emit)?;
            }
            let id_text = id.to_string();
            let mut args: Vec<&[u8]> = vec![b"XADD", key, id_text.as_bytes()];
            for (f, v) in fields {
                args.push(f);
                args.push(v);
            }
            emit(&args)?;
        }
        for p in holders {
            xadd_placeholder(key, *p, emit)?;
        }
        let mut exists = !live.is_empty() || !placeholders.is_empty();
        if !exists && self.groups.is_empty() {
            // An empty stream: add one entry and trim it away (XSETID below fixes the counters).
            emit(&[
                b"XADD",
                key,
                b"MAXLEN",
                b"0",
                b"0-1",
                PLACEHOLDER[0],
                PLACEHOLDER[1],
            ])?;
            exists = true;
        }

        for g in &self.groups {
            let last = g.last_id.to_string();
            let mut args: Vec<&[u8]> = vec![b"XGROUP", b"CREATE", key, &g.name, last.as_bytes()];
            if !exists {
                args.push(b"MKSTREAM");
                exists = true;
            }
            let read = g.entries_read.map(|n| n.to_string());
            if let Some(n) = &read {
                args.push(b"ENTRIESREAD");
                args.push(n.as_bytes());
            }
            emit(&args)?;
            for c in &g.consumers {
                if !g.pending.iter().any(|p| p.consumer == c.name) {
                    emit(&[b"XGROUP", b"CREATECONSUMER", key, &g.name, &c.name])?;
                }
            }
            for p in &g.pending {
                let (id, time, count) = (
                    p.id.to_string(),
                    p.delivery_time_ms.to_string(),
                    p.delivery_count.to_string(),
                );
                emit(&[
                    b"XCLAIM",
                    key,
                    &g.name,
                    &p.consumer,
                    b"0",
                    id.as_bytes(),
                    b"TIME",
                    time.as_bytes(),
                    b"RETRYCOUNT",
                    count.as_bytes(),
                    b"FORCE",
                    b"JUSTID",
                ])?;
            }
        }

        // Placeholders out again: the leading ones by trimming, the others by XDEL.
        let first_live = live.first().copied();
        let leading = placeholders
            .iter()
            .any(|p| first_live.is_none_or(|f| *p < f));
        if leading {
            match first_live {
                Some(f) => emit(&[b"XTRIM", key, b"MINID", f.to_string().as_bytes()])?,
                None => emit(&[b"XTRIM", key, b"MAXLEN", b"0"])?,
            }
        }
        let inner: Vec<String> = placeholders
            .iter()
            .filter(|p| first_live.is_some_and(|f| **p > f))
            .map(|p| p.to_string())
            .collect();
        for chunk in inner.chunks(super::CHUNK) {
            let mut args: Vec<&[u8]> = vec![b"XDEL", key];
            args.extend(chunk.iter().map(|s| s.as_bytes()));
            emit(&args)?;
        }

        let (last, added, deleted) = (
            self.last_id.to_string(),
            self.entries_added.to_string(),
            self.max_deleted_id.to_string(),
        );
        emit(&[
            b"XSETID",
            key,
            last.as_bytes(),
            b"ENTRIESADDED",
            added.as_bytes(),
            b"MAXDELETEDID",
            deleted.as_bytes(),
        ])
    }

    /// Feeds the stream to a key's digest as Redis' DEBUG DIGEST does: each entry's id as
    /// `ms.seq`, then its fields and values, in order. Groups do not take part.
    pub fn digest_into(&self, d: &mut ValueDigest) {
        for (id, fields) in &self.entries {
            d.ordered(format!("{}.{}", id.ms, id.seq).as_bytes());
            for (f, v) in fields {
                d.ordered(f);
                d.ordered(v);
            }
        }
    }
}

fn xadd_placeholder(key: &[u8], id: StreamId, emit: &mut Emit<'_>) -> Result<(), String> {
    let id = id.to_string();
    emit(&[b"XADD", key, id.as_bytes(), PLACEHOLDER[0], PLACEHOLDER[1]])
}
