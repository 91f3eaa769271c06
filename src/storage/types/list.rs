//! The list type.
//!
//! A list is a collection (see `collection`) whose header `extra` holds two positions:
//! ```text
//! header extra:  | head: u64 BE | tail: u64 BE |        count = tail - head
//! cf "list":     sub-key | index: u64 BE |  value: the element, for head <= index < tail
//! ```
//! A new list starts with `head = tail = 1 << 63`. Pushing on the left writes at `head - 1`
//! (and lowers `head`), pushing on the right writes at `tail` (and raises `tail`), so the
//! element prefix in key order *is* the list in order, and the element at Redis index `i` is a
//! point read at `head + i`. SORT ... STORE writes lists in this same layout.
//!
//! Costs: pushes and pops touch only the pushed or popped elements plus the header, in one
//! batch; LINDEX/LSET are point operations; LRANGE and counted pops read a cursor bounded to
//! exactly the requested positions (so the deleted entries left behind by pops are never
//! stepped over); LTRIM deletes only the trimmed elements. LINSERT and LREM walk the list and
//! then rewrite the indexes of the elements on the shorter side of the change. Removing the
//! last element removes the key; its elements are left to the dead-element compaction filter.

use bytes::Bytes;

use super::Lists;
use crate::storage::codec::{Cf, DataType};
use crate::storage::collection::{elements_between_in, Collection};
use crate::storage::engine::ReadView;
use crate::storage::lazy::{
    read_packed_values, LazyItems, ReadRange, Step, Walk, DIRECT_ITEMS_MAX,
};
use crate::storage::write::WriteTxn;
use crate::storage::StorageError;

/// `head` and `tail` of a new list.
pub const INITIAL_INDEX: u64 = 1 << 63;

/// An end of a list: LEFT (head) or RIGHT (tail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

/// The element sub-key of a stored index.
pub fn index_sub_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The header `extra` of a list spanning `[head, tail)`.
pub fn encode_bounds(head: u64, tail: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    out.extend_from_slice(&head.to_be_bytes());
    out.extend_from_slice(&tail.to_be_bytes());
    out
}

/// A list loaded for reading, or for writing under its key lock.
#[derive(Debug)]
pub struct List {
    c: Collection,
    head: u64,
    tail: u64,
}

impl List {
    fn new(c: Collection) -> Result<List, StorageError> {
        if !c.existed {
            return Ok(List {
                c,
                head: INITIAL_INDEX,
                tail: INITIAL_INDEX,
            });
        }
        let extra = &c.header.extra;
        let bound = |r: std::ops::Range<usize>| {
            extra
                .get(r)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
        };
        match (bound(0..8), bound(8..16)) {
            (Some(head), Some(tail)) if tail >= head && tail - head == c.header.count => {
                Ok(List { c, head, tail })
            }
            _ => Err(StorageError::Corrupt(format!(
                "list header of {:?}",
                String::from_utf8_lossy(c.state.key())
            ))),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> u64 {
        self.tail - self.head
    }

    /// True for a list with no element (only a new key not yet stored).
    pub fn is_empty(&self) -> bool {
        self.head == self.tail
    }

    /// The sub-key of position `pos` (0 = first element).
    fn sub(&self, pos: u64) -> [u8; 8] {
        index_sub_key(self.head + pos)
    }

    /// The position of a Redis index (negative counts from the end), if inside the list.
    fn position(&self, index: i64) -> Option<u64> {
        let len = self.len() as i64;
        let i = if index < 0 { index + len } else { index };
        (0..len).contains(&i).then_some(i as u64)
    }

    /// The positions `[from, to)` of an inclusive Redis range, `None` when it is empty.
    fn span(&self, start: i64, stop: i64) -> Option<(u64, u64)> {
        let len = self.len() as i64;
        let start = if start < 0 { start + len } else { start }.max(0);
        let stop = if stop < 0 { stop + len } else { stop };
        if start > stop || start >= len {
            return None;
        }
        Some((start as u64, stop.min(len - 1) as u64 + 1))
    }

    fn push(&mut self, txn: &mut WriteTxn<'_>, end: End, value: &[u8]) {
        let index = match end {
            End::Left => {
                self.head -= 1;
                self.head
            }
            End::Right => {
                self.tail += 1;
                self.tail - 1
            }
        };
        txn.put_element(Cf::List, &self.c, &index_sub_key(index), value);
    }

    /// Stores the header (removing the key when the list is empty).
    fn store(&mut self, txn: &mut WriteTxn<'_>) {
        self.c.header.count = self.len();
        self.c.header.extra = encode_bounds(self.head, self.tail);
        txn.store_collection(&self.c);
    }

    fn corrupt(&self) -> StorageError {
        StorageError::Corrupt(format!(
            "list elements of {:?}",
            String::from_utf8_lossy(self.c.state.key())
        ))
    }
}

/// What a multi-key pop took: the key it popped from and the elements, in pop order.
pub type Popped = (Bytes, Vec<Vec<u8>>);

/// Options of LPOS.
#[derive(Debug, Clone, Copy)]
pub struct PosQuery {
    /// Which match to start from (never 0); negative searches from the tail.
    pub rank: i64,
    /// Matches to return: `None` the first one only, `Some(0)` all of them.
    pub count: Option<u64>,
    /// Elements to compare at most; 0 = no limit.
    pub maxlen: u64,
}

impl Lists<'_> {
    /// The list at `key` for a read command such as LINDEX (counts a keyspace hit or miss);
    /// `None` when absent.
    pub fn read(&self, key: &[u8]) -> Result<Option<List>, StorageError> {
        let list = self.read_for_write(key)?;
        self.count_lookup(list.is_some());
        Ok(list)
    }

    /// The list at `key` for a write command such as LSET (under its key lock); `None` when
    /// absent.
    pub fn read_for_write(&self, key: &[u8]) -> Result<Option<List>, StorageError> {
        self.read_collection(self.db, key, DataType::List)?
            .map(List::new)
            .transpose()
    }

    /// The elements at positions `[from, to)`, front to back (back to front with `reverse`).
    fn span(
        &self,
        l: &List,
        from: u64,
        to: u64,
        reverse: bool,
    ) -> Result<Vec<Vec<u8>>, StorageError> {
        let mut out = Vec::with_capacity((to - from).min(1024) as usize);
        let mut cur = self.elements_between(Cf::List, &l.c, &l.sub(from), &l.sub(to), reverse);
        while let Some((_, v)) = cur.current() {
            out.push(v.to_vec());
            cur.advance();
        }
        cur.status()?;
        if out.len() as u64 != to - from {
            return Err(l.corrupt());
        }
        Ok(out)
    }

    /// Rewrites the elements at positions `[from, to)` at `position + delta` (LINSERT's shift).
    fn shift(
        &self,
        txn: &mut WriteTxn<'_>,
        l: &List,
        from: u64,
        to: u64,
        delta: i64,
    ) -> Result<(), StorageError> {
        let mut cur = self.elements_between(Cf::List, &l.c, &l.sub(from), &l.sub(to), false);
        let mut index = l.head + from;
        while let Some((_, v)) = cur.current() {
            let target = index.wrapping_add_signed(delta);
            txn.put_element(Cf::List, &l.c, &index_sub_key(target), v);
            index += 1;
            cur.advance();
        }
        cur.status()?;
        if index != l.head + to {
            return Err(l.corrupt());
        }
        Ok(())
    }

    /// Takes up to `n` (at least 1) elements off `end` of `l`, in pop order, adding the
    /// deletions to `txn` (the caller stores the header). With `vanishes`, a list emptied here
    /// is about to be removed with its key, so its elements need no deletion.
    fn take(
        &self,
        txn: &mut WriteTxn<'_>,
        l: &mut List,
        end: End,
        n: u64,
        vanishes: bool,
    ) -> Result<Vec<Vec<u8>>, StorageError> {
        let len = l.len();
        let n = n.min(len);
        let (from, to) = match end {
            End::Left => (0, n),
            End::Right => (len - n, len),
        };
        let values = if n == 1 {
            let v = self.element_get(Cf::List, &l.c, &l.sub(from))?;
            vec![v.ok_or_else(|| l.corrupt())?]
        } else {
            self.span(l, from, to, end == End::Right)?
        };
        if n < len || !vanishes {
            for pos in from..to {
                txn.delete_element(Cf::List, &l.c, &l.sub(pos));
            }
        }
        match end {
            End::Left => l.head += n,
            End::Right => l.tail -= n,
        }
        Ok(values)
    }

    /// LPUSH / RPUSH (and the X variants with `only_existing`): the new length, 0 when
    /// `only_existing` and there is no list.
    pub fn push(
        &self,
        key: &[u8],
        values: &[Bytes],
        end: End,
        only_existing: bool,
    ) -> Result<u64, StorageError> {
        let state = self.load(self.db, key)?;
        if only_existing && state.live_of(DataType::List)?.is_none() {
            return Ok(0);
        }
        let mut l = List::new(self.collection_for_write(state, DataType::List)?)?;
        let mut txn = self.txn();
        for v in values {
            l.push(&mut txn, end, v);
        }
        l.store(&mut txn);
        txn.commit()?;
        Ok(l.len())
    }

    /// LPOP / RPOP: up to `count` elements off `end`; `None` when there is no list.
    pub fn pop(
        &self,
        key: &[u8],
        end: End,
        count: u64,
    ) -> Result<Option<Vec<Vec<u8>>>, StorageError> {
        let Some(mut l) = self.read_for_write(key)? else {
            return Ok(None);
        };
        if count == 0 {
            return Ok(Some(Vec::new()));
        }
        let mut txn = self.txn();
        let values = self.take(&mut txn, &mut l, end, count, true)?;
        l.store(&mut txn);
        txn.commit()?;
        Ok(Some(values))
    }

    /// LMPOP and the serving half of BLPOP/BRPOP/BLMPOP: pops up to `count` elements off the
    /// first non-empty list among `keys` (in order) and returns its key with them. A key of
    /// another type met on the way is WRONGTYPE.
    pub fn pop_first_of(
        &self,
        keys: &[Bytes],
        end: End,
        count: u64,
    ) -> Result<Option<Popped>, StorageError> {
        for key in keys {
            let Some(mut l) = self.read_for_write(key)? else {
                continue;
            };
            if l.is_empty() {
                continue;
            }
            let mut txn = self.txn();
            let values = self.take(&mut txn, &mut l, end, count.max(1), true)?;
            l.store(&mut txn);
            txn.commit()?;
            return Ok(Some((key.clone(), values)));
        }
        Ok(None)
    }

    /// LLEN.
    pub fn len(&self, key: &[u8]) -> Result<u64, StorageError> {
        Ok(self.read(key)?.map_or(0, |l| l.len()))
    }

    /// LINDEX on a list loaded with [`Lists::read`]: the element at a Redis index, `None`
    /// when out of range.
    pub fn get(&self, l: &List, index: i64) -> Result<Option<Vec<u8>>, StorageError> {
        let Some(pos) = l.position(index) else {
            return Ok(None);
        };
        match self.element_get(Cf::List, &l.c, &l.sub(pos))? {
            Some(v) => Ok(Some(v)),
            None => Err(l.corrupt()),
        }
    }

    /// LSET on a list loaded with [`Lists::read_for_write`]: false when the index is out of range.
    pub fn set(&self, mut l: List, index: i64, value: &[u8]) -> Result<bool, StorageError> {
        let Some(pos) = l.position(index) else {
            return Ok(false);
        };
        let mut txn = self.txn();
        txn.put_element(Cf::List, &l.c, &l.sub(pos), value);
        l.store(&mut txn);
        txn.commit()?;
        Ok(true)
    }

    /// LRANGE with Redis' inclusive, negative-aware indexes; empty for a missing key. A big
    /// range is read lazily from a snapshot (see [`lazy`](crate::storage::lazy)).
    pub fn range(
        &self,
        key: &[u8],
        start: i64,
        stop: i64,
    ) -> Result<ReadRange<Bytes>, StorageError> {
        let read = self.read_with_body(self.db, key, DataType::List)?;
        self.count_lookup(read.is_some());
        let Some((c, body)) = read else {
            return Ok(ReadRange::empty());
        };
        let l = List::new(c)?;
        let Some((from, to)) = l.span(start, stop) else {
            return Ok(ReadRange::empty());
        };
        if let Some(held) = body.as_deref().and_then(|w| w.list_span(l.len(), from, to)) {
            return Ok(ReadRange::Whole(held));
        }
        if to - from <= DIRECT_ITEMS_MAX {
            let cur = self.elements_between(Cf::List, &l.c, &l.sub(from), &l.sub(to), false);
            if let Some(items) = read_packed_values(cur, to - from)? {
                if items.len() as u64 != to - from {
                    return Err(l.corrupt());
                }
                return Ok(ReadRange::Whole(items));
            }
        }
        let snap = self.engine.snapshot();
        let Some(l) = self
            .read_collection_in(&snap, self.db, key, DataType::List)?
            .map(List::new)
            .transpose()?
        else {
            return Ok(ReadRange::empty());
        };
        let Some((from, to)) = l.span(start, stop) else {
            return Ok(ReadRange::empty());
        };
        let view = ReadView::Snapshot(snap);
        let cur = elements_between_in(&view, Cf::List, &l.c, &l.sub(from), &l.sub(to), false);
        let walk = Walk::new(cur, to - from, |_, v| {
            Ok(Step::Yield(Bytes::copy_from_slice(v)))
        });
        Ok(ReadRange::Lazy(LazyItems::new(to - from, walk)))
    }

    /// LTRIM: keeps the inclusive range, deleting only the elements outside it. Returns
    /// whether there was a list.
    pub fn trim(&self, key: &[u8], start: i64, stop: i64) -> Result<bool, StorageError> {
        let Some(mut l) = self.read_for_write(key)? else {
            return Ok(false);
        };
        let len = l.len();
        let (keep_from, keep_to) = l.span(start, stop).unwrap_or((len, len));
        if keep_from == 0 && keep_to == len {
            return Ok(true);
        }
        let mut txn = self.txn();
        if keep_from < keep_to {
            for pos in (0..keep_from).chain(keep_to..len) {
                txn.delete_element(Cf::List, &l.c, &l.sub(pos));
            }
        }
        l.tail = l.head + keep_to.max(keep_from);
        l.head += keep_from;
        l.store(&mut txn);
        txn.commit()?;
        Ok(true)
    }

    /// LINSERT: inserts `value` before (or `after`) the first element equal to `pivot`.
    /// Returns the new length, -1 when the pivot is absent, 0 when there is no list.
    pub fn insert(
        &self,
        key: &[u8],
        after: bool,
        pivot: &[u8],
        value: &[u8],
    ) -> Result<i64, StorageError> {
        let Some(mut l) = self.read_for_write(key)? else {
            return Ok(0);
        };
        let len = l.len();
        let mut found = None;
        {
            let mut cur = self.elements_between(Cf::List, &l.c, &l.sub(0), &l.sub(len), false);
            let mut pos = 0u64;
            while let Some((_, v)) = cur.current() {
                if v == pivot {
                    found = Some(pos);
                    break;
                }
                pos += 1;
                cur.advance();
            }
            cur.status()?;
        }
        let Some(pivot_pos) = found else {
            return Ok(-1);
        };
        // The new element takes position `at`; the shorter side moves out of its way.
        let at = pivot_pos + u64::from(after);
        let mut txn = self.txn();
        if at <= len - at {
            self.shift(&mut txn, &l, 0, at, -1)?;
            l.head -= 1;
        } else {
            self.shift(&mut txn, &l, at, len, 1)?;
            l.tail += 1;
        }
        txn.put_element(Cf::List, &l.c, &l.sub(at), value);
        l.store(&mut txn);
        txn.commit()?;
        Ok(l.len() as i64)
    }

    /// LREM: removes up to `|count|` elements equal to `value` (all with 0), from the tail
    /// when `count` is negative. Returns how many were removed.
    pub fn remove(&self, key: &[u8], count: i64, value: &[u8]) -> Result<u64, StorageError> {
        let Some(mut l) = self.read_for_write(key)? else {
            return Ok(0);
        };
        let len = l.len();
        let limit = count.unsigned_abs();
        let from_tail = count < 0;
        // Positions of the removed elements, ascending.
        let mut removed = Vec::new();
        {
            let mut cur = self.elements_between(Cf::List, &l.c, &l.sub(0), &l.sub(len), from_tail);
            let mut seen = 0u64;
            while let Some((_, v)) = cur.current() {
                if v == value {
                    removed.push(if from_tail { len - 1 - seen } else { seen });
                    if removed.len() as u64 == limit {
                        break;
                    }
                }
                seen += 1;
                cur.advance();
            }
            cur.status()?;
        }
        if removed.is_empty() {
            return Ok(0);
        }
        if from_tail {
            removed.reverse();
        }
        let k = removed.len() as u64;
        let mut txn = self.txn();
        if k < len {
            let (first, last) = (removed[0], removed[removed.len() - 1]);
            if last < len - first {
                // Close the gaps by moving the elements before `last` toward the tail.
                self.compact(&mut txn, &l, &removed, 0, last + 1, true)?;
                for pos in 0..k {
                    txn.delete_element(Cf::List, &l.c, &l.sub(pos));
                }
                l.head += k;
            } else {
                // Move the elements after `first` toward the head.
                self.compact(&mut txn, &l, &removed, first, len, false)?;
                for pos in len - k..len {
                    txn.delete_element(Cf::List, &l.c, &l.sub(pos));
                }
                l.tail -= k;
            }
        } else {
            l.head = l.tail;
        }
        l.store(&mut txn);
        txn.commit()?;
        Ok(k)
    }

    /// Rewrites the kept elements of positions `[from, to)` so that the `removed` positions
    /// (ascending, all inside the range) leave no gap: toward the tail (`to` stays put) or
    /// toward the head (`from` stays put).
    fn compact(
        &self,
        txn: &mut WriteTxn<'_>,
        l: &List,
        removed: &[u64],
        from: u64,
        to: u64,
        toward_tail: bool,
    ) -> Result<(), StorageError> {
        let mut cur = self.elements_between(Cf::List, &l.c, &l.sub(from), &l.sub(to), toward_tail);
        let mut shift = 0u64;
        let mut visited = 0u64;
        // Next removed position to meet, walking in the cursor's direction.
        let mut next = if toward_tail { removed.len() } else { 0 };
        while let Some((_, v)) = cur.current() {
            let pos = if toward_tail {
                to - 1 - visited
            } else {
                from + visited
            };
            let is_removed = if toward_tail {
                next > 0 && removed[next - 1] == pos
            } else {
                removed.get(next) == Some(&pos)
            };
            if is_removed {
                shift += 1;
                if toward_tail {
                    next -= 1;
                } else {
                    next += 1;
                }
            } else if shift > 0 {
                let target = if toward_tail {
                    pos + shift
                } else {
                    pos - shift
                };
                txn.put_element(Cf::List, &l.c, &l.sub(target), v);
            }
            visited += 1;
            cur.advance();
        }
        cur.status()?;
        if visited != to - from {
            return Err(l.corrupt());
        }
        Ok(())
    }

    /// LPOS: positions of elements equal to `value` per `q`; `None` when there is no list.
    pub fn positions(
        &self,
        key: &[u8],
        value: &[u8],
        q: PosQuery,
    ) -> Result<Option<Vec<u64>>, StorageError> {
        let Some(l) = self.read(key)? else {
            return Ok(None);
        };
        let len = l.len();
        let from_tail = q.rank < 0;
        let skip = q.rank.unsigned_abs().saturating_sub(1);
        let wanted = match q.count {
            None => 1,
            Some(0) => u64::MAX,
            Some(n) => n,
        };
        let mut out = Vec::new();
        let mut cur = self.elements_between(Cf::List, &l.c, &l.sub(0), &l.sub(len), from_tail);
        let mut scanned = 0u64;
        let mut matches = 0u64;
        while let Some((_, v)) = cur.current() {
            if q.maxlen != 0 && scanned >= q.maxlen {
                break;
            }
            if v == value {
                matches += 1;
                if matches > skip {
                    out.push(if from_tail {
                        len - 1 - scanned
                    } else {
                        scanned
                    });
                    if out.len() as u64 >= wanted {
                        break;
                    }
                }
            }
            scanned += 1;
            cur.advance();
        }
        cur.status()?;
        Ok(Some(out))
    }

    /// LMOVE / RPOPLPUSH and the serving half of BLMOVE/BRPOPLPUSH: moves one element from
    /// `from` of `src` to `to` of `dst` and returns it; `None` when `src` has no list. A
    /// `dst` of another type is WRONGTYPE (checked after `src`, as Redis does).
    pub fn move_to(
        &self,
        src: &[u8],
        dst: &[u8],
        from: End,
        to: End,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let Some(mut s) = self.read_for_write(src)? else {
            return Ok(None);
        };
        if s.is_empty() {
            return Ok(None);
        }
        let mut txn = self.txn();
        let value = if src == dst {
            let value = self.take_one(&mut txn, &mut s, from, false)?;
            s.push(&mut txn, to, &value);
            s.store(&mut txn);
            value
        } else {
            let mut d = List::new(self.write_collection(self.db, dst, DataType::List)?)?;
            let value = self.take_one(&mut txn, &mut s, from, true)?;
            s.store(&mut txn);
            d.push(&mut txn, to, &value);
            d.store(&mut txn);
            value
        };
        txn.commit()?;
        Ok(Some(value))
    }

    fn take_one(
        &self,
        txn: &mut WriteTxn<'_>,
        l: &mut List,
        end: End,
        vanishes: bool,
    ) -> Result<Vec<u8>, StorageError> {
        let mut values = self.take(txn, l, end, 1, vanishes)?;
        values.pop().ok_or_else(|| l.corrupt())
    }
}
