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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::stream::{PendingEntry, StreamConsumer, StreamGroup};

    fn lines(s: &StreamValue) -> Vec<String> {
        let mut out = Vec::new();
        s.commands(b"k", &mut |args| {
            let words: Vec<String> = args
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            out.push(words.join(" "));
            Ok(())
        })
        .unwrap();
        out
    }

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId::new(ms, seq)
    }

    #[test]
    fn pending_entries_of_deleted_and_trimmed_messages_claim_placeholders() {
        let f = || vec![(b"f".to_vec(), b"v".to_vec())];
        let p = |ms: u64, count: u64| PendingEntry {
            id: id(ms, 0),
            consumer: b"c".to_vec(),
            delivery_time_ms: 1000 + ms,
            delivery_count: count,
        };
        let s = StreamValue {
            entries: vec![(id(3, 0), f()), (id(5, 0), f())],
            last_id: id(6, 0),
            max_deleted_id: id(4, 0),
            entries_added: 6,
            groups: vec![StreamGroup {
                name: b"g".to_vec(),
                last_id: id(5, 0),
                entries_read: Some(5),
                pending: vec![p(1, 2), p(4, 1), p(5, 3)],
                consumers: vec![
                    StreamConsumer {
                        name: b"c".to_vec(),
                        ..Default::default()
                    },
                    StreamConsumer {
                        name: b"idle".to_vec(),
                        ..Default::default()
                    },
                ],
            }],
        };
        assert_eq!(
            lines(&s),
            [
                "XADD k 1-0 x y",
                "XADD k 3-0 f v",
                "XADD k 4-0 x y",
                "XADD k 5-0 f v",
                "XGROUP CREATE k g 5-0 ENTRIESREAD 5",
                "XGROUP CREATECONSUMER k g idle",
                "XCLAIM k g c 0 1-0 TIME 1001 RETRYCOUNT 2 FORCE JUSTID",
                "XCLAIM k g c 0 4-0 TIME 1004 RETRYCOUNT 1 FORCE JUSTID",
                "XCLAIM k g c 0 5-0 TIME 1005 RETRYCOUNT 3 FORCE JUSTID",
                "XTRIM k MINID 3-0",
                "XDEL k 4-0",
                "XSETID k 6-0 ENTRIESADDED 6 MAXDELETEDID 4-0",
            ]
        );
    }

    #[test]
    fn empty_streams() {
        let bare = StreamValue {
            last_id: id(5, 5),
            entries_added: 1,
            ..StreamValue::default()
        };
        assert_eq!(
            lines(&bare),
            [
                "XADD k MAXLEN 0 0-1 x y",
                "XSETID k 5-5 ENTRIESADDED 1 MAXDELETEDID 0-0",
            ]
        );
        let grouped = StreamValue {
            groups: vec![StreamGroup {
                name: b"g".to_vec(),
                ..StreamGroup::default()
            }],
            ..StreamValue::default()
        };
        assert_eq!(
            lines(&grouped),
            [
                "XGROUP CREATE k g 0-0 MKSTREAM",
                "XSETID k 0-0 ENTRIESADDED 0 MAXDELETEDID 0-0",
            ]
        );
    }

    #[test]
    fn digest_mixes_ids_with_a_dot() {
        let s = StreamValue {
            entries: vec![(id(1, 2), vec![(b"f".to_vec(), b"v".to_vec())])],
            ..StreamValue::default()
        };
        let mut a = ValueDigest::new(6);
        s.digest_into(&mut a);
        let mut b = ValueDigest::new(6);
        for part in [&b"1.2"[..], b"f", b"v"] {
            b.ordered(part);
        }
        assert_eq!(a.finish(false), b.finish(false));
    }
}
