//! Reads whose size the client chooses (LRANGE 0 -1 of a huge list, ZRANGE, SMEMBERS, KEYS).
//!
//! A small result is read at once, as a `Vec`, which is the fastest way to answer. A big one
//! is never gathered: the read takes a [`Snapshot`](super::engine::Snapshot), counts what the
//! reply will hold (known from the collection's header, or counted in a first walk over the
//! snapshot), and hands back a [`LazyItems`] that walks the snapshot as the reply is written, a
//! piece each time the client has read the previous ones. Every item comes from the one
//! snapshot, so the reply is exactly what the command would have answered at once, whatever is
//! written meanwhile, and no key lock is held while the client reads.
//!
//! Invariant: a [`LazyItems`] yields exactly its announced `len` items unless the disk fails
//! (then it yields the error once and stops; the caller keeps the reply's framing).

use bytes::Bytes;

use super::collection::ElementCursor;
use super::StorageError;

/// Results of up to this many items are read at once.
pub const DIRECT_ITEMS_MAX: u64 = 4096;

/// Results taking more than this many bytes are read lazily even when they have few items
/// (LRANGE of a few thousand large values).
pub const DIRECT_BYTES_MAX: usize = 8 << 20;

/// Reads the values of the next `take` entries of `cursor` into one buffer that the returned
/// items share, so a short range (LRANGE 0 99) costs a few allocations instead of one per
/// element. `None` when the values pass [`DIRECT_BYTES_MAX`] (the caller reads lazily then);
/// fewer items than `take` when the cursor ends first.
pub(super) fn read_packed_values(
    mut cursor: ElementCursor<'_>,
    take: u64,
) -> Result<Option<Vec<Bytes>>, StorageError> {
    let take = take.min(DIRECT_ITEMS_MAX) as usize;
    let mut data = Vec::new();
    let mut ends = Vec::with_capacity(take);
    while ends.len() < take {
        let Some((_, value)) = cursor.current() else {
            break;
        };
        if data.len() + value.len() > DIRECT_BYTES_MAX {
            return Ok(None);
        }
        data.extend_from_slice(value);
        ends.push(data.len());
        cursor.advance();
    }
    cursor.status()?;
    let data = Bytes::from(data);
    let mut start = 0;
    Ok(Some(
        ends.into_iter()
            .map(|end| {
                let item = data.slice(start..end);
                start = end;
                item
            })
            .collect(),
    ))
}

/// The result of a read whose size the client chooses.
pub enum ReadRange<T> {
    /// Read at once.
    Whole(Vec<T>),
    /// Read from a snapshot as it is consumed.
    Lazy(LazyItems<T>),
}

impl<T> ReadRange<T> {
    /// An empty result.
    pub fn empty() -> ReadRange<T> {
        ReadRange::Whole(Vec::new())
    }

    /// Every item, gathered (for callers that need them all anyway, and for tests).
    pub fn collect(self) -> Result<Vec<T>, StorageError> {
        match self {
            ReadRange::Whole(items) => Ok(items),
            ReadRange::Lazy(items) => items.collect(),
        }
    }
}

/// `len` items read from a snapshot one at a time (see the module doc).
pub struct LazyItems<T> {
    len: u64,
    items: Box<dyn Iterator<Item = Result<T, StorageError>> + Send>,
}

impl<T> LazyItems<T> {
    /// `len` items taken from `items` (which must yield that many).
    pub fn new(
        len: u64,
        items: impl Iterator<Item = Result<T, StorageError>> + Send + 'static,
    ) -> LazyItems<T> {
        LazyItems {
            len,
            items: Box::new(items),
        }
    }

    /// The number of items the walk yields.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when there is nothing to yield.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<T> Iterator for LazyItems<T> {
    type Item = Result<T, StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.items.next()
    }
}

/// What a [`Walk`] makes of one entry.
pub(super) enum Step<T> {
    /// An item of the result.
    Yield(T),
    /// An entry outside the result (a key that does not match, a score before the range).
    Pass,
    /// The first entry past the result: the walk ends.
    Stop,
}

/// A walk over a cursor that turns entries into items with `step`: passes over the first
/// `skip_entries` entries without looking at them, then drops the first `skip_items` items
/// and yields at most `take` more.
pub(super) struct Walk<'a, F> {
    cursor: ElementCursor<'a>,
    skip_entries: u64,
    skip_items: u64,
    take: u64,
    step: F,
}

impl<'a, T, F> Walk<'a, F>
where
    F: FnMut(&[u8], &[u8]) -> Result<Step<T>, StorageError>,
{
    pub(super) fn new(cursor: ElementCursor<'a>, take: u64, step: F) -> Walk<'a, F> {
        Walk {
            cursor,
            skip_entries: 0,
            skip_items: 0,
            take,
            step,
        }
    }

    /// Passes over the first `n` entries unread (rank ranges).
    pub(super) fn skip_entries(mut self, n: u64) -> Walk<'a, F> {
        self.skip_entries = n;
        self
    }

    /// Drops the first `n` items (LIMIT offset of score and lex ranges).
    pub(super) fn skip_items(mut self, n: u64) -> Walk<'a, F> {
        self.skip_items = n;
        self
    }

    /// Gathers the items if they stay within [`DIRECT_ITEMS_MAX`] and [`DIRECT_BYTES_MAX`]
    /// (`size` tells an item's bytes); `None` as soon as they would not.
    pub(super) fn collect_small(
        self,
        size: impl Fn(&T) -> usize,
    ) -> Result<Option<Vec<T>>, StorageError> {
        let mut out = Vec::with_capacity(self.take.min(1024) as usize);
        let mut bytes = 0usize;
        for item in self {
            let item = item?;
            bytes += size(&item);
            if out.len() as u64 >= DIRECT_ITEMS_MAX || bytes > DIRECT_BYTES_MAX {
                return Ok(None);
            }
            out.push(item);
        }
        Ok(Some(out))
    }

    /// Counts the items without keeping them.
    pub(super) fn count(self) -> Result<u64, StorageError> {
        let mut n = 0;
        for item in self {
            item?;
            n += 1;
        }
        Ok(n)
    }
}

impl<T, F> Iterator for Walk<'_, F>
where
    F: FnMut(&[u8], &[u8]) -> Result<Step<T>, StorageError>,
{
    type Item = Result<T, StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.skip_entries > 0 && self.cursor.current().is_some() {
            self.skip_entries -= 1;
            self.cursor.advance();
        }
        while self.take > 0 {
            let Some((sub, value)) = self.cursor.current() else {
                self.take = 0;
                return self.cursor.status().err().map(Err);
            };
            let step = (self.step)(sub, value);
            self.cursor.advance();
            match step {
                Err(e) => {
                    self.take = 0;
                    return Some(Err(e));
                }
                Ok(Step::Stop) => self.take = 0,
                Ok(Step::Pass) => {}
                Ok(Step::Yield(_)) if self.skip_items > 0 => self.skip_items -= 1,
                Ok(Step::Yield(item)) => {
                    self.take -= 1;
                    return Some(Ok(item));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::storage::engine::EngineOptions;
    use crate::storage::types::list::End;
    use crate::storage::types::zset::{ScoreRange, ZRangeQuery, ZaddFlags};
    use crate::storage::types::Writer;
    use crate::storage::Storage;

    fn open(dir: &std::path::Path) -> Storage {
        Storage::open(dir, 16, &EngineOptions::default()).expect("open storage")
    }

    const BIG: usize = DIRECT_ITEMS_MAX as usize + 100;

    /// Lists of database 0.
    fn lists(s: &Storage) -> crate::storage::types::Lists<'_> {
        s.at(0, Writer::INTERNAL).list()
    }

    fn push_list(s: &Storage, key: &[u8], n: usize) {
        let values: Vec<Bytes> = (0..n).map(|i| Bytes::from(format!("{i:05}"))).collect();
        lists(s).push(key, &values, End::Right, false).unwrap();
    }

    #[test]
    fn a_small_range_is_read_at_once_and_a_big_one_lazily() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        push_list(&s, b"small", 10);
        push_list(&s, b"big", BIG);
        let small = lists(&s).range(b"small", 0, -1).unwrap();
        assert!(matches!(small, ReadRange::Whole(v) if v.len() == 10));
        match lists(&s).range(b"big", 1, -1).unwrap() {
            ReadRange::Lazy(items) => assert_eq!(items.len(), BIG as u64 - 1),
            ReadRange::Whole(_) => panic!("a big range is read lazily"),
        }
    }

    #[test]
    fn a_lazy_range_reads_the_key_as_it_was_even_after_deletion_and_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        push_list(&s, b"l", BIG);
        let range = lists(&s).range(b"l", 0, -1).unwrap();
        assert!(matches!(range, ReadRange::Lazy(_)));
        lists(&s)
            .push(b"l", &[Bytes::from("new")], End::Left, false)
            .unwrap();
        assert_eq!(s.at(0, Writer::INTERNAL).keys().delete(&[b"l"]).unwrap(), 1);
        // Neither the writes nor a compaction change what the walk reads.
        s.compact(None, None).unwrap();
        let items = range.collect().unwrap();
        let expected: Vec<Vec<u8>> = (0..BIG).map(|i| format!("{i:05}").into_bytes()).collect();
        assert!(items == expected);
    }

    #[test]
    fn compactions_keep_what_an_open_snapshot_reads() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        s.at(0, Writer::INTERNAL)
            .hash()
            .set(b"h", &[(b"f", b"v")])
            .unwrap();
        let lookups = s.at(0, Writer::INTERNAL).sort_lookups().unwrap();
        assert_eq!(s.at(0, Writer::INTERNAL).keys().delete(&[b"h"]).unwrap(), 1);
        s.compact(None, None).unwrap();
        assert_eq!(lookups.field(b"h", b"f").unwrap(), Some(b"v".to_vec()));
        drop(lookups);
        s.compact(None, None).unwrap();
        let cur = s.engine().range(crate::storage::codec::Cf::Hash, b"", None);
        assert!(
            cur.current().is_none(),
            "the dead field is dropped once no snapshot is open"
        );
    }

    #[test]
    fn score_ranges_and_keys_are_counted_before_they_are_streamed() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        let members: Vec<String> = (0..BIG).map(|i| format!("m{i:05}")).collect();
        let pairs: Vec<(f64, &[u8])> = members
            .iter()
            .enumerate()
            .map(|(i, m)| (i as f64, m.as_bytes()))
            .collect();
        let zsets = s.at(0, Writer::INTERNAL).zset();
        zsets.add(b"z", &pairs, ZaddFlags::default()).unwrap();
        let range = ScoreRange {
            min: 10.0,
            min_ex: true,
            max: f64::INFINITY,
            max_ex: false,
        };
        let query = ZRangeQuery::Score(range, 5, -1);
        let ReadRange::Lazy(items) = zsets.range(b"z", &query, false).unwrap() else {
            panic!("a big score range is read lazily");
        };
        assert_eq!(items.len(), BIG as u64 - 16);
        let got: Vec<_> = items.map(|r| r.unwrap().0).collect();
        assert_eq!(got.first().map(Vec::as_slice), Some(&b"m00016"[..]));
        assert_eq!(got.len() as u64, BIG as u64 - 16);

        for m in &members {
            s.put_test_string(m);
        }
        let ReadRange::Lazy(keys) = s.at(0, Writer::INTERNAL).keys().keys(b"m*").unwrap() else {
            panic!("many matching keys are read lazily");
        };
        assert_eq!(keys.len(), BIG as u64);
        assert_eq!(keys.count(), BIG);
    }
}
