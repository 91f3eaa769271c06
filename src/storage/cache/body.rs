//! Collections the hot tier holds decoded beside their meta record: whole small hashes and
//! sets, and a window of the first (or last) members of sorted sets and lists, as Pika's cache
//! keeps them. A body is read from disk on a miss and dropped by any committed write to its
//! collection (the write path calls `MetaCache::drop_body`), so it is never newer or older
//! than disk.
//!
//! [`TierShape`] holds the settings that decide what is admitted: `cache-type`,
//! `zset-cache-field-num-per-key`, `zset-cache-start-direction`, `cache-value-item-max-size`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};

use bytes::Bytes;

use crate::storage::codec::{DataType, MetaValue};

/// Bookkeeping counted per held element on top of its bytes (the `Bytes` handle, its
/// allocation's rounding).
const ITEM_OVERHEAD: usize = 40;

/// A decoded collection (or window of one).
#[derive(Debug)]
pub enum Body {
    /// Every (field, value) of a hash, in field order.
    Hash(Vec<(Bytes, Bytes)>),
    /// Every member of a set, in member order.
    Set(Vec<Bytes>),
    /// The first `members.len()` entries of a sorted set in rank order (or the last ones,
    /// `from_end`), as (member, score).
    ZSet {
        members: Vec<(Bytes, f64)>,
        from_end: bool,
    },
    /// The first (or last, `from_end`) elements of a list, in list order.
    List { items: Vec<Bytes>, from_end: bool },
}

impl Body {
    /// Bytes this body holds, as the tier accounts them.
    pub fn size_bytes(&self) -> usize {
        match self {
            Body::Hash(pairs) => pairs
                .iter()
                .map(|(f, v)| f.len() + v.len() + 2 * ITEM_OVERHEAD)
                .sum(),
            Body::Set(members) => members.iter().map(|m| m.len() + ITEM_OVERHEAD).sum(),
            Body::ZSet { members, .. } => members
                .iter()
                .map(|(m, _)| m.len() + 8 + ITEM_OVERHEAD)
                .sum(),
            Body::List { items, .. } => items.iter().map(|i| i.len() + ITEM_OVERHEAD).sum(),
        }
    }

    /// The value of a hash field.
    pub fn hash_get(&self, field: &[u8]) -> Option<&Bytes> {
        let Body::Hash(pairs) = self else {
            return None;
        };
        pairs
            .binary_search_by(|(f, _)| f.as_ref().cmp(field))
            .ok()
            .map(|i| &pairs[i].1)
    }

    /// Whether a set holds `member`.
    pub fn set_contains(&self, member: &[u8]) -> bool {
        match self {
            Body::Set(members) => members.binary_search_by(|m| m.as_ref().cmp(member)).is_ok(),
            _ => false,
        }
    }

    /// Forward ranks `[a, b]` of a sorted set of `len` members, when the window holds them all.
    pub fn zset_ranks(&self, len: u64, a: u64, b: u64) -> Option<&[(Bytes, f64)]> {
        let Body::ZSet { members, from_end } = self else {
            return None;
        };
        window_slice(members, *from_end, len, a, b)
    }

    /// List positions `[from, to)` of a list of `len` elements, when the window holds them all.
    pub fn list_span(&self, len: u64, from: u64, to: u64) -> Option<&[Bytes]> {
        let Body::List { items, from_end } = self else {
            return None;
        };
        if from >= to {
            return Some(&[]);
        }
        window_slice(items, *from_end, len, from, to - 1)
    }
}

/// The part of a window of `window.len()` items (taken from the front of a sequence of `len`,
/// or from its end) that covers the inclusive positions `[a, b]`, when it covers them.
fn window_slice<T>(window: &[T], from_end: bool, len: u64, a: u64, b: u64) -> Option<&[T]> {
    let held = window.len() as u64;
    if a > b || b >= len || held > len {
        return None;
    }
    let first = if from_end { len - held } else { 0 };
    if a < first || b >= first + held {
        return None;
    }
    window.get((a - first) as usize..=(b - first) as usize)
}

/// What the tier admits, from the configuration (settable at run time).
#[derive(Debug)]
pub struct TierShape {
    /// Bit per [`DataType`] the tier holds (see [`type_bit`]).
    types: AtomicU8,
    /// Members of a sorted set or list window; collections up to this size are held whole.
    window: AtomicU64,
    /// Windows hold the last members instead of the first.
    from_end: AtomicBool,
    /// Largest string value or collection body admitted, in bytes.
    item_max: AtomicU64,
}

impl Default for TierShape {
    fn default() -> Self {
        TierShape {
            types: AtomicU8::new(ALL_TYPES),
            window: AtomicU64::new(512),
            from_end: AtomicBool::new(false),
            item_max: AtomicU64::new(1 << 20),
        }
    }
}

/// Every type `cache-type` can name.
const ALL_TYPES: u8 = 0b11111;

/// The `cache-type` bit of a data type (streams are never held).
fn type_bit(t: DataType) -> u8 {
    match t {
        DataType::String => 1,
        DataType::Hash => 2,
        DataType::List => 4,
        DataType::Set => 8,
        DataType::ZSet => 16,
        DataType::Stream => 0,
    }
}

/// Parses `cache-type`: a comma- or space-separated list of string, hash, list, set, zset and
/// bit (Pika's names; bitmaps are strings here, so `bit` admits string records too). An empty
/// list admits nothing.
pub fn parse_cache_types(text: &str) -> Result<u8, String> {
    let mut bits = 0;
    for name in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
    {
        bits |= match name.to_ascii_lowercase().as_str() {
            "string" | "bit" => type_bit(DataType::String),
            "hash" => type_bit(DataType::Hash),
            "list" => type_bit(DataType::List),
            "set" => type_bit(DataType::Set),
            "zset" => type_bit(DataType::ZSet),
            other => return Err(format!("Invalid cache type: {other}")),
        };
    }
    Ok(bits)
}

impl TierShape {
    /// Applies the settings; true when they changed (what the tier holds may no longer fit
    /// them).
    pub fn configure(&self, types: u8, window: u64, from_end: bool, item_max: u64) -> bool {
        let window = window.max(1);
        let changed = self.types.load(Ordering::Relaxed) != types
            || self.window() != window
            || self.from_end() != from_end
            || self.item_max() != item_max;
        self.types.store(types, Ordering::Relaxed);
        self.window.store(window, Ordering::Relaxed);
        self.from_end.store(from_end, Ordering::Relaxed);
        self.item_max.store(item_max, Ordering::Relaxed);
        changed
    }

    /// Whether a meta record is admitted: its type is held and, for a string, its value is
    /// not too big.
    pub fn admits_record(&self, meta: &MetaValue) -> bool {
        self.admits(meta.data_type)
            && (meta.data_type != DataType::String || meta.body.len() as u64 <= self.item_max())
    }

    /// Whether records of type `t` are admitted.
    pub fn admits(&self, t: DataType) -> bool {
        self.types.load(Ordering::Relaxed) & type_bit(t) != 0
    }

    /// Whether any collection type is admitted (element writes must then drop bodies).
    pub fn holds_bodies(&self) -> bool {
        self.types.load(Ordering::Relaxed) & !type_bit(DataType::String) != 0
    }

    /// Members held per sorted set or list.
    pub fn window(&self) -> u64 {
        self.window.load(Ordering::Relaxed)
    }

    /// Whether windows hold the last members.
    pub fn from_end(&self) -> bool {
        self.from_end.load(Ordering::Relaxed)
    }

    /// Largest value admitted.
    pub fn item_max(&self) -> u64 {
        self.item_max.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn hash_and_set_lookups() {
        let h = Body::Hash(vec![(b("a"), b("1")), (b("c"), b("3"))]);
        assert_eq!(h.hash_get(b"c").map(|v| v.as_ref()), Some(&b"3"[..]));
        assert!(h.hash_get(b"b").is_none());
        let s = Body::Set(vec![b("x"), b("y")]);
        assert!(s.set_contains(b"y") && !s.set_contains(b"z"));
    }

    #[test]
    fn windows_answer_only_what_they_hold() {
        let head = Body::List {
            items: vec![b("a"), b("b"), b("c")],
            from_end: false,
        };
        assert_eq!(head.list_span(10, 0, 3).map(|s| s.len()), Some(3));
        assert_eq!(head.list_span(10, 1, 2).map(|s| s[0].clone()), Some(b("b")));
        assert!(head.list_span(10, 2, 4).is_none());
        let tail = Body::ZSet {
            members: vec![(b("x"), 8.0), (b("y"), 9.0)],
            from_end: true,
        };
        assert_eq!(tail.zset_ranks(10, 8, 9).map(|s| s.len()), Some(2));
        assert!(tail.zset_ranks(10, 7, 9).is_none());
        // A window longer than the collection it claims to cover is answered from disk.
        assert!(tail.zset_ranks(1, 0, 0).is_none());
    }

    #[test]
    fn cache_types_parse_pika_lists() {
        assert_eq!(parse_cache_types("string, hash").unwrap(), 0b11);
        assert_eq!(parse_cache_types("bit").unwrap(), 0b1);
        assert_eq!(parse_cache_types("").unwrap(), 0);
        assert!(parse_cache_types("stream").is_err());
    }
}
