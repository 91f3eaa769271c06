//! Collections the hot tier holds decoded beside their meta record: whole small hashes and
//! sets, and a window of the first (or last) members of sorted sets and lists, as Pika's cache
//! keeps them. A body is read from disk on a miss and dropped by any committed write to its
//! collection (the write path calls `MetaCache::drop_body`), except HSET's, which leaves the
//! hash it wrote in its place (`MetaCache::set_body`, as Pika's cache updates a hash it holds),
//! so a body is never newer or older than disk.
//!
//! [`TierShape`] holds the settings that decide what is admitted: `cache-type`,
//! `zset-cache-field-num-per-key`, `zset-cache-start-direction`, `cache-value-item-max-size`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};

use bytes::Bytes;

use crate::storage::codec::{DataType, MetaValue};

/// Bookkeeping counted per held element on top of its bytes (its end offset, a score).
const ITEM_OVERHEAD: usize = 16;

/// Items stored back to back in one buffer, as Redis' listpacks are: a lookup reads a few
/// adjacent cache lines instead of chasing one allocation per item.
#[derive(Debug, Default)]
pub struct Packed {
    buf: Bytes,
    /// End offset of each item in `buf`.
    ends: Vec<usize>,
}

impl Packed {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there is no item.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn span(&self, i: usize) -> std::ops::Range<usize> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        start..self.ends[i]
    }

    /// Item `i`'s bytes.
    pub fn get(&self, i: usize) -> &[u8] {
        &self.buf[self.span(i)]
    }

    /// Item `i`, sharing the buffer.
    pub fn bytes(&self, i: usize) -> Bytes {
        self.buf.slice(self.span(i))
    }

    fn size_bytes(&self) -> usize {
        self.buf.len() + self.ends.len() * ITEM_OVERHEAD
    }
}

/// Builds a [`Packed`], giving up past a size limit.
pub struct PackedBuilder {
    buf: Vec<u8>,
    ends: Vec<usize>,
    limit: usize,
}

impl PackedBuilder {
    /// A builder that refuses to grow past `limit` bytes.
    pub fn new(items: usize, limit: usize) -> PackedBuilder {
        PackedBuilder {
            buf: Vec::new(),
            ends: Vec::with_capacity(items),
            limit,
        }
    }

    /// Appends an item; false once the limit is passed (the body is then not held).
    pub fn push(&mut self, item: &[u8]) -> bool {
        if self.buf.len() + item.len() > self.limit {
            return false;
        }
        self.buf.extend_from_slice(item);
        self.ends.push(self.buf.len());
        true
    }

    pub fn finish(self) -> Packed {
        Packed {
            buf: Bytes::from(self.buf),
            ends: self.ends,
        }
    }
}

/// A decoded collection (or window of one).
#[derive(Debug)]
pub enum Body {
    /// Every field and value of a hash, alternating, in field order.
    Hash(Packed),
    /// Every member of a set, in member order.
    Set(Packed),
    /// The first `members.len()` entries of a sorted set in rank order (or the last ones,
    /// `from_end`), with their scores.
    ZSet {
        members: Packed,
        scores: Vec<f64>,
        from_end: bool,
    },
    /// The first (or last, `from_end`) elements of a list, in list order.
    List { items: Packed, from_end: bool },
}

impl Body {
    /// Bytes this body holds, as the tier accounts them.
    pub fn size_bytes(&self) -> usize {
        match self {
            Body::Hash(p) | Body::Set(p) | Body::List { items: p, .. } => p.size_bytes(),
            Body::ZSet { members, .. } => members.size_bytes(),
        }
    }

    /// The value of a hash field.
    pub fn hash_get(&self, field: &[u8]) -> Option<Bytes> {
        let Body::Hash(pairs) = self else {
            return None;
        };
        let (mut lo, mut hi) = (0, pairs.len() / 2);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match pairs.get(2 * mid).cmp(field) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(pairs.bytes(2 * mid + 1)),
            }
        }
        None
    }

    /// Every (field, value) of a hash, in field order.
    pub fn hash_pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let pairs = match self {
            Body::Hash(p) => Some(p),
            _ => None,
        };
        let n = pairs.map_or(0, |p| p.len() / 2);
        (0..n).filter_map(move |i| pairs.map(|p| (p.get(2 * i), p.get(2 * i + 1))))
    }

    /// A hash holding `held`'s fields (none for a new hash) with `pairs` set, a later repeat of
    /// a field winning: what a write leaves, so the tier can keep it (write-through). `None`
    /// past `limit` bytes, or when `held` is not a hash.
    pub fn hash_with(held: Option<&Body>, pairs: &[(&[u8], &[u8])], limit: usize) -> Option<Body> {
        let mut fields = std::collections::BTreeMap::new();
        match held {
            Some(b @ Body::Hash(_)) => fields.extend(b.hash_pairs()),
            Some(_) => return None,
            None => {}
        }
        fields.extend(pairs.iter().copied());
        let mut packed = PackedBuilder::new(2 * fields.len(), limit);
        for (field, value) in fields {
            if !(packed.push(field) && packed.push(value)) {
                return None;
            }
        }
        Some(Body::Hash(packed.finish()))
    }

    /// Whether a set holds `member`.
    pub fn set_contains(&self, member: &[u8]) -> bool {
        let Body::Set(members) = self else {
            return false;
        };
        let (mut lo, mut hi) = (0, members.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match members.get(mid).cmp(member) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }

    /// Every member of a set, in member order.
    pub fn set_members(&self) -> Option<Vec<Vec<u8>>> {
        let Body::Set(members) = self else {
            return None;
        };
        Some(
            (0..members.len())
                .map(|i| members.get(i).to_vec())
                .collect(),
        )
    }

    /// Forward ranks `[a, b]` of a sorted set of `len` members as (member, score), when the
    /// window holds them all.
    pub fn zset_ranks(&self, len: u64, a: u64, b: u64) -> Option<Vec<(Bytes, f64)>> {
        let Body::ZSet {
            members,
            scores,
            from_end,
        } = self
        else {
            return None;
        };
        let held = window_span(members.len(), *from_end, len, a, b)?;
        Some(held.map(|i| (members.bytes(i), scores[i])).collect())
    }

    /// List positions `[from, to)` of a list of `len` elements, when the window holds them all.
    pub fn list_span(&self, len: u64, from: u64, to: u64) -> Option<Vec<Bytes>> {
        let Body::List { items, from_end } = self else {
            return None;
        };
        if from >= to {
            return Some(Vec::new());
        }
        let held = window_span(items.len(), *from_end, len, from, to - 1)?;
        Some(held.map(|i| items.bytes(i)).collect())
    }
}

/// The window indexes (of a window of `held` items taken from the front of a sequence of
/// `len`, or from its end) that cover the inclusive positions `[a, b]`, when it covers them.
fn window_span(
    held: usize,
    from_end: bool,
    len: u64,
    a: u64,
    b: u64,
) -> Option<std::ops::RangeInclusive<usize>> {
    let held = held as u64;
    if a > b || b >= len || held > len {
        return None;
    }
    let first = if from_end { len - held } else { 0 };
    if a < first || b >= first + held {
        return None;
    }
    Some((a - first) as usize..=(b - first) as usize)
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

    fn packed(items: &[&str]) -> Packed {
        let mut b = PackedBuilder::new(items.len(), 1 << 20);
        for i in items {
            assert!(b.push(i.as_bytes()));
        }
        b.finish()
    }

    #[test]
    fn hash_and_set_lookups() {
        let h = Body::Hash(packed(&["a", "1", "c", "3", "e", ""]));
        assert_eq!(h.hash_get(b"c").as_deref(), Some(&b"3"[..]));
        assert_eq!(h.hash_get(b"e").as_deref(), Some(&b""[..]));
        assert!(h.hash_get(b"b").is_none() && h.hash_get(b"z").is_none());
        assert_eq!(h.hash_pairs().count(), 3);
        let s = Body::Set(packed(&["x", "y"]));
        assert!(s.set_contains(b"y") && s.set_contains(b"x") && !s.set_contains(b"z"));
        assert_eq!(s.set_members(), Some(vec![b"x".to_vec(), b"y".to_vec()]));
    }

    #[test]
    fn a_hash_written_through_keeps_field_order_and_the_last_value() {
        let held = Body::hash_with(None, &[(b"b", b"1"), (b"a", b"2")], 100).unwrap();
        let next = Body::hash_with(
            Some(&held),
            &[(b"c", b"3"), (b"b", b"4"), (b"b", b"5")],
            100,
        )
        .unwrap();
        let pairs: Vec<_> = next.hash_pairs().collect();
        assert_eq!(pairs, [(&b"a"[..], &b"2"[..]), (b"b", b"5"), (b"c", b"3")]);
        assert_eq!(next.hash_get(b"b").as_deref(), Some(&b"5"[..]));
        assert!(Body::hash_with(Some(&next), &[(b"d", b"4")], 7).is_none());
        let set = Body::Set(packed(&["a"]));
        assert!(Body::hash_with(Some(&set), &[(b"d", b"4")], 100).is_none());
    }

    #[test]
    fn windows_answer_only_what_they_hold() {
        let head = Body::List {
            items: packed(&["a", "b", "c"]),
            from_end: false,
        };
        assert_eq!(head.list_span(10, 0, 3).map(|s| s.len()), Some(3));
        assert_eq!(
            head.list_span(10, 1, 2).map(|s| s[0].clone()),
            Some(Bytes::from_static(b"b"))
        );
        assert!(head.list_span(10, 2, 4).is_none());
        let tail = Body::ZSet {
            members: packed(&["x", "y"]),
            scores: vec![8.0, 9.0],
            from_end: true,
        };
        assert_eq!(
            tail.zset_ranks(10, 9, 9),
            Some(vec![(Bytes::from_static(b"y"), 9.0)])
        );
        assert!(tail.zset_ranks(10, 7, 9).is_none());
        // A window longer than the collection it claims to cover is answered from disk.
        assert!(tail.zset_ranks(1, 0, 0).is_none());
    }

    #[test]
    fn a_builder_gives_up_past_its_limit() {
        let mut b = PackedBuilder::new(2, 5);
        assert!(b.push(b"abc"));
        assert!(!b.push(b"def"));
    }

    #[test]
    fn cache_types_parse_pika_lists() {
        assert_eq!(parse_cache_types("string, hash").unwrap(), 0b11);
        assert_eq!(parse_cache_types("bit").unwrap(), 0b1);
        assert_eq!(parse_cache_types("").unwrap(), 0);
        assert!(parse_cache_types("stream").is_err());
    }
}
