//! What hashes, lists, sets and sorted sets share: loading a collection's header, reading and
//! writing its elements, and storing the header back.
//!
//! A collection is its meta record (type, flags, expiry, and a [`CollectionHeader`] with version
//! and element count) plus one entry per element in its type's column families, all under the
//! element prefix of its version (layouts in `codec`). Writers load a [`Collection`] under the
//! key lock, add element mutations to a [`WriteTxn`], then [`WriteTxn::store_collection`] the
//! updated header in the same batch. A collection whose count drops to zero is removed, as in
//! Redis. Replacing or deleting a collection writes only the meta record: a new key gets a fresh
//! version, so old elements are never seen again and the compaction filter reclaims them.
//!
//! Element cursors read the live database or, for replies written after the command ran
//! (`storage::lazy`), a snapshot ([`ReadView`]); `Storage::read_collection_in` reads the
//! header from the same snapshot, so header and elements always agree.

use std::sync::atomic::{AtomicU64, Ordering};

use super::codec::{
    encode_element_prefix, flags, Cf, CollectionHeader, DataType, MetaValue, SysKey,
};
use super::engine::{RangeCursor, ReadView, Snapshot};
use super::write::WriteTxn;
use super::{KeyState, Storage, StorageError};

/// A collection key loaded for reading or writing (under the key lock when writing).
#[derive(Debug, Clone)]
pub struct Collection {
    pub state: KeyState,
    pub data_type: DataType,
    pub header: CollectionHeader,
    /// Meta flags ([`flags::LARGE_ENCODING`]).
    pub flags: u8,
    /// Deadline in Unix ms; 0 = none.
    pub expire_ms: u64,
    /// True when the key held a live collection when loaded.
    pub existed: bool,
    /// Element prefix of `header.version`.
    prefix: Vec<u8>,
}

impl Collection {
    /// Number of elements.
    pub fn len(&self) -> u64 {
        self.header.count
    }

    /// True when the collection has no element (a new key not yet stored).
    pub fn is_empty(&self) -> bool {
        self.header.count == 0
    }

    /// The common prefix of this collection's element keys.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// The full element key of `sub_key`.
    pub fn element_key(&self, sub_key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + sub_key.len());
        k.extend_from_slice(&self.prefix);
        k.extend_from_slice(sub_key);
        k
    }

    /// True once the collection has outgrown Redis' compact encoding (see `flags`).
    pub fn is_large(&self) -> bool {
        self.flags & flags::LARGE_ENCODING != 0
    }

    /// Records that the collection no longer fits Redis' compact encoding.
    pub fn mark_large(&mut self) {
        self.flags |= flags::LARGE_ENCODING;
    }

    /// The meta record this collection stores.
    pub fn meta(&self) -> MetaValue {
        MetaValue {
            data_type: self.data_type,
            flags: self.flags,
            expire_ms: self.expire_ms,
            body: self.header.encode(),
        }
    }
}

/// Thresholds of Redis' compact encodings, from the `*-max-listpack-*` and
/// `set-max-intset-entries` directives (OBJECT ENCODING reports what Redis would use).
#[derive(Debug)]
pub struct EncodingLimits {
    pub hash_max_listpack_entries: AtomicU64,
    pub hash_max_listpack_value: AtomicU64,
    pub zset_max_listpack_entries: AtomicU64,
    pub zset_max_listpack_value: AtomicU64,
    pub set_max_intset_entries: AtomicU64,
    /// Redis' stream node limits (`~` trimming removes whole nodes).
    pub stream_node_max_entries: AtomicU64,
    pub stream_node_max_bytes: AtomicU64,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            hash_max_listpack_entries: AtomicU64::new(128),
            hash_max_listpack_value: AtomicU64::new(64),
            zset_max_listpack_entries: AtomicU64::new(128),
            zset_max_listpack_value: AtomicU64::new(64),
            set_max_intset_entries: AtomicU64::new(512),
            stream_node_max_entries: AtomicU64::new(100),
            stream_node_max_bytes: AtomicU64::new(4096),
        }
    }
}

impl EncodingLimits {
    /// Reads one limit.
    pub fn get(limit: &AtomicU64) -> u64 {
        limit.load(Ordering::Relaxed)
    }
}

/// A cursor over the elements of one collection, yielding (sub-key, value), forward or backward.
pub struct ElementCursor<'a> {
    cursor: RangeCursor<'a>,
    prefix_len: usize,
    reverse: bool,
}

impl<'a> ElementCursor<'a> {
    /// Entries of `cursor` (forward, or backward from its last entry with `reverse`) with the
    /// first `prefix_len` bytes of their keys stripped (a collection's element prefix, or the
    /// database and slot of meta records for the KEYS walk).
    pub(super) fn over(mut cursor: RangeCursor<'a>, prefix_len: usize, reverse: bool) -> Self {
        if reverse {
            cursor.seek_to_last();
        }
        ElementCursor {
            cursor,
            prefix_len,
            reverse,
        }
    }

    /// The current element as (sub-key, value), or `None` past the end.
    pub fn current(&self) -> Option<(&[u8], &[u8])> {
        self.cursor
            .current()
            .map(|(k, v)| (&k[self.prefix_len..], v))
    }

    /// Moves to the next element in the cursor's direction.
    pub fn advance(&mut self) {
        if self.reverse {
            self.cursor.retreat();
        } else {
            self.cursor.advance();
        }
    }

    /// Reports a read error that ended the walk early.
    pub fn status(&self) -> Result<(), StorageError> {
        self.cursor.status()
    }
}

/// [`Storage::elements`] in `view` (a cursor of a snapshot view owns what it reads).
pub fn elements_in<'s>(
    view: &ReadView<'s>,
    cf: Cf,
    c: &Collection,
    reverse: bool,
) -> ElementCursor<'s> {
    ElementCursor::over(view.prefix(cf, c.prefix()), c.prefix().len(), reverse)
}

/// [`Storage::elements_from`] in `view`.
pub fn elements_from_in<'s>(
    view: &ReadView<'s>,
    cf: Cf,
    c: &Collection,
    from: &[u8],
    reverse: bool,
) -> ElementCursor<'s> {
    let mut cursor = view.prefix(cf, c.prefix());
    let start = c.element_key(from);
    if reverse {
        cursor.seek_for_prev(&start);
    } else {
        cursor.seek(&start);
    }
    ElementCursor {
        cursor,
        prefix_len: c.prefix().len(),
        reverse,
    }
}

/// [`Storage::elements_between`] in `view`.
pub fn elements_between_in<'s>(
    view: &ReadView<'s>,
    cf: Cf,
    c: &Collection,
    from: &[u8],
    to: &[u8],
    reverse: bool,
) -> ElementCursor<'s> {
    let cursor = view.range(cf, &c.element_key(from), Some(&c.element_key(to)));
    ElementCursor::over(cursor, c.prefix().len(), reverse)
}

/// Where the next collection version comes from: a counter persisted as a floor far ahead of
/// what one run can use, so versions never repeat across restarts (a repeat could resurrect the
/// not-yet-compacted elements of a deleted key).
#[derive(Debug, Default)]
pub struct VersionSource {
    next: AtomicU64,
}

/// How far ahead of the counter the persisted floor is set at each start.
const VERSION_FLOOR_STEP: u64 = 1 << 40;

/// The persisted version floor (0 when none).
fn persisted_floor(engine: &super::engine::Engine) -> Result<u64, StorageError> {
    Ok(engine
        .get(Cf::Default, SysKey::VERSION_FLOOR)?
        .and_then(|raw| raw.get(..8).and_then(|b| b.try_into().ok()))
        .map(u64::from_be_bytes)
        .unwrap_or(0))
}

/// Persists a floor one run's worth above `start`.
fn persist_floor_above(engine: &super::engine::Engine, start: u64) -> Result<(), StorageError> {
    let mut b = engine.batch();
    b.put(
        Cf::Default,
        SysKey::VERSION_FLOOR,
        &(start + VERSION_FLOOR_STEP).to_be_bytes(),
    );
    engine.write(b)
}

impl VersionSource {
    /// Reads the persisted floor and moves it ahead by one run's worth.
    pub fn open(engine: &super::engine::Engine) -> Result<VersionSource, StorageError> {
        let start = persisted_floor(engine)?.max(1);
        persist_floor_above(engine, start)?;
        Ok(VersionSource {
            next: AtomicU64::new(start),
        })
    }

    /// Moves the counter past the persisted floor, which may have grown since the open (a
    /// master's floor replicated to this node), and persists a new floor above it.
    pub fn advance_past_persisted_floor(
        &self,
        engine: &super::engine::Engine,
    ) -> Result<(), StorageError> {
        let start = self
            .next
            .load(Ordering::Relaxed)
            .max(persisted_floor(engine)?);
        persist_floor_above(engine, start)?;
        self.next.fetch_max(start, Ordering::Relaxed);
        Ok(())
    }

    /// A version never handed out before.
    pub fn next(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }
}

/// The element column families of a collection type.
pub fn element_cfs(t: DataType) -> &'static [Cf] {
    match t {
        DataType::Hash => &[Cf::Hash],
        DataType::Set => &[Cf::Set],
        DataType::List => &[Cf::List],
        DataType::ZSet => &[Cf::ZSet, Cf::ZScore],
        DataType::Stream => &[Cf::Stream, Cf::StreamGroup],
        DataType::String => &[],
    }
}

impl Storage {
    /// The live collection of type `t` in an already loaded key state.
    pub(super) fn collection_from(
        &self,
        state: KeyState,
        t: DataType,
    ) -> Result<Option<Collection>, StorageError> {
        let Some(meta) = state.live_of(t)? else {
            return Ok(None);
        };
        let header = CollectionHeader::decode(&meta.body).ok_or_else(|| {
            StorageError::Corrupt(format!(
                "collection header of {:?}",
                String::from_utf8_lossy(state.key())
            ))
        })?;
        let (flags, expire_ms) = (meta.flags, meta.expire_ms);
        let prefix = encode_element_prefix(state.pdb, state.slot, state.key(), header.version);
        Ok(Some(Collection {
            state,
            data_type: t,
            header,
            flags,
            expire_ms,
            existed: true,
            prefix,
        }))
    }

    /// The live collection of type `t` at `key`; `None` when absent, `WrongType` for another type.
    pub fn read_collection(
        &self,
        db: usize,
        key: &[u8],
        t: DataType,
    ) -> Result<Option<Collection>, StorageError> {
        let state = self.load(db, key)?;
        self.collection_from(state, t)
    }

    /// For writers (under the key lock): the live collection, or a new empty one with a fresh
    /// version when the key is absent. `WrongType` for a key of another type.
    pub fn write_collection(
        &self,
        db: usize,
        key: &[u8],
        t: DataType,
    ) -> Result<Collection, StorageError> {
        let state = self.load(db, key)?;
        self.collection_for_write(state, t)
    }

    /// [`Storage::write_collection`] for an already loaded key state.
    pub fn collection_for_write(
        &self,
        state: KeyState,
        t: DataType,
    ) -> Result<Collection, StorageError> {
        if state.live_of(t)?.is_some() {
            return self
                .collection_from(state, t)
                .map(|c| c.expect("live collection checked above"));
        }
        Ok(self.fresh_collection(state, t))
    }

    /// A new, empty collection at `key` whatever the key holds now (any type): the destination
    /// of SINTERSTORE, ZUNIONSTORE, SORT ... STORE and the like. Storing it replaces the old
    /// value and drops its TTL.
    pub fn replace_collection(
        &self,
        db: usize,
        key: &[u8],
        t: DataType,
    ) -> Result<Collection, StorageError> {
        let state = self.load(db, key)?;
        Ok(self.fresh_collection(state, t))
    }

    pub(super) fn fresh_collection(&self, state: KeyState, t: DataType) -> Collection {
        let version = self.versions.next();
        let prefix = encode_element_prefix(state.pdb, state.slot, state.key(), version);
        Collection {
            state,
            data_type: t,
            header: CollectionHeader {
                version,
                count: 0,
                extra: Vec::new(),
            },
            flags: 0,
            expire_ms: 0,
            existed: false,
            prefix,
        }
    }

    /// Reads one element's value.
    pub fn element_get(
        &self,
        cf: Cf,
        c: &Collection,
        sub_key: &[u8],
    ) -> Result<Option<Vec<u8>>, StorageError> {
        self.engine.get(cf, &c.element_key(sub_key))
    }

    /// Reads several elements at once (HMGET, SMISMEMBER, ZMSCORE).
    pub fn element_multi_get(
        &self,
        cf: Cf,
        c: &Collection,
        sub_keys: &[&[u8]],
    ) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        let keys: Vec<Vec<u8>> = sub_keys.iter().map(|s| c.element_key(s)).collect();
        self.engine.multi_get(cf, &keys)
    }

    /// The live collection of type `t` at `key` as of `snap` (read past the meta cache, so
    /// that it agrees with the elements the snapshot holds).
    pub(super) fn read_collection_in(
        &self,
        snap: &Snapshot,
        db: usize,
        key: &[u8],
        t: DataType,
    ) -> Result<Option<Collection>, StorageError> {
        let pdb = self.physical(db)?;
        let slot = crate::util::slot::key_slot(key);
        let meta_key = super::codec::encode_meta_key(pdb, slot, key);
        let stored = match snap.get(Cf::Meta, &meta_key)? {
            Some(raw) => Some(MetaValue::decode(&raw).ok_or_else(|| super::corrupt_meta(key))?),
            None => None,
        };
        let state = KeyState::read_now(pdb, slot, meta_key, stored);
        self.collection_from(state, t)
    }

    /// A cursor over every element of `c` in `cf`, in sub-key order (reversed with `reverse`).
    pub fn elements(&self, cf: Cf, c: &Collection, reverse: bool) -> ElementCursor<'_> {
        elements_in(&ReadView::Live(&self.engine), cf, c, reverse)
    }

    /// A cursor starting at the first element whose sub-key is `>= from` (or, with `reverse`,
    /// the last one `<= from`).
    pub fn elements_from(
        &self,
        cf: Cf,
        c: &Collection,
        from: &[u8],
        reverse: bool,
    ) -> ElementCursor<'_> {
        elements_from_in(&ReadView::Live(&self.engine), cf, c, from, reverse)
    }

    /// A cursor over the elements whose sub-keys lie in `[from, to)`, starting at the first one
    /// (or, with `reverse`, the last one). Both ends bound the underlying iterator, so deleted
    /// entries outside the range (a list's popped head or tail) are never stepped over.
    pub fn elements_between(
        &self,
        cf: Cf,
        c: &Collection,
        from: &[u8],
        to: &[u8],
        reverse: bool,
    ) -> ElementCursor<'_> {
        elements_between_in(&ReadView::Live(&self.engine), cf, c, from, to, reverse)
    }

    /// Copies every element of `from` under the prefix of `to` (RENAME, COPY, MOVE of a
    /// collection: element keys contain the user key, so they are rewritten).
    pub fn copy_elements(
        &self,
        txn: &mut WriteTxn<'_>,
        from: &Collection,
        to: &Collection,
    ) -> Result<(), StorageError> {
        for &cf in element_cfs(from.data_type) {
            let mut cur = self.elements(cf, from, false);
            while let Some((sub, value)) = cur.current() {
                txn.put_element(cf, to, sub, value);
                cur.advance();
            }
            cur.status()?;
        }
        Ok(())
    }
}

impl WriteTxn<'_> {
    /// Writes (or overwrites) one element of `c`.
    pub fn put_element(&mut self, cf: Cf, c: &Collection, sub_key: &[u8], value: &[u8]) {
        self.put_raw(cf, &c.element_key(sub_key), value);
    }

    /// Deletes one element of `c`.
    pub fn delete_element(&mut self, cf: Cf, c: &Collection, sub_key: &[u8]) {
        self.delete_raw(cf, &c.element_key(sub_key));
    }

    /// Stores the collection's header (count, flags, expiry); an empty collection is removed,
    /// except a stream (its counters and groups outlive its entries, as in Redis).
    pub fn store_collection(&mut self, c: &Collection) {
        if c.header.count == 0 && c.data_type != DataType::Stream {
            self.remove(&c.state);
        } else {
            self.put(&c.state, &c.meta());
        }
    }
}

/// Resume points of outstanding HSCAN/SSCAN/ZSCAN cursors: token → (element prefix, sub-key
/// to resume at). An unknown token (evicted, restart) restarts the walk from the first element:
/// elements may come back twice, which SCAN allows, but none present throughout is skipped.
#[derive(Default)]
pub struct ElementScanCursors {
    next_token: AtomicU64,
    entries: parking_lot::Mutex<ElementCursorEntries>,
}

/// Token → (element prefix, sub-key to resume at), plus tokens oldest first for eviction.
type ElementCursorEntries = (
    std::collections::HashMap<u64, (Vec<u8>, Vec<u8>)>,
    std::collections::VecDeque<u64>,
);

/// Element-scan cursors kept; older ones restart their walk.
const MAX_ELEMENT_CURSORS: usize = 16 * 1024;

impl ElementScanCursors {
    fn save(&self, prefix: &[u8], sub_key: &[u8]) -> u64 {
        // Tokens stay below 2^53 so clients that parse cursors as doubles keep them exact.
        let token = self.next_token.fetch_add(1, Ordering::Relaxed) % ((1 << 53) - 1) + 1;
        let mut guard = self.entries.lock();
        let (map, order) = &mut *guard;
        map.insert(token, (prefix.to_vec(), sub_key.to_vec()));
        order.push_back(token);
        while order.len() > MAX_ELEMENT_CURSORS {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
        token
    }

    fn resume(&self, prefix: &[u8], cursor: u64) -> Vec<u8> {
        match self.entries.lock().0.get(&cursor) {
            Some((p, sub)) if p == prefix => sub.clone(),
            _ => Vec::new(),
        }
    }
}

/// An element returned by [`Storage::scan_elements`]: (sub-key, value).
pub type ScannedElement = (Vec<u8>, Vec<u8>);

impl Storage {
    /// One HSCAN/SSCAN/ZSCAN step over `cf` (the member records): visits about `count`
    /// elements from `cursor` and returns the next cursor (0 at the end) and the visited
    /// (sub-key, value) pairs whose sub-key matches `pattern`. A collection still in Redis'
    /// compact encoding is returned whole in one call, as Redis does.
    pub fn scan_elements(
        &self,
        cf: Cf,
        c: &Collection,
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
    ) -> Result<(u64, Vec<ScannedElement>), StorageError> {
        let from = if cursor == 0 {
            Vec::new()
        } else {
            self.element_cursors.resume(c.prefix(), cursor)
        };
        let budget = if c.is_large() {
            count.max(1)
        } else {
            usize::MAX
        };
        let mut cur = self.elements_from(cf, c, &from, false);
        let mut out = Vec::new();
        let mut visited = 0usize;
        while let Some((sub, value)) = cur.current() {
            if visited >= budget {
                return Ok((self.element_cursors.save(c.prefix(), sub), out));
            }
            visited += 1;
            if pattern.is_none_or(|p| crate::util::glob::glob_match(p, sub, false)) {
                out.push((sub.to_vec(), value.to_vec()));
            }
            cur.advance();
        }
        cur.status()?;
        Ok((0, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::engine::EngineOptions;
    use crate::storage::types::Writer;

    fn open(dir: &std::path::Path) -> Storage {
        Storage::open(dir, 16, &EngineOptions::default()).expect("open storage")
    }

    fn fill(s: &Storage, key: &[u8], n: u32) {
        let mut c = s.write_collection(0, key, DataType::Set).expect("load");
        let mut txn = s.at(0, Writer::INTERNAL).txn();
        for i in 0..n {
            txn.put_element(Cf::Set, &c, &i.to_be_bytes(), b"");
        }
        c.header.count = u64::from(n);
        txn.store_collection(&c);
        txn.commit().expect("commit");
    }

    fn raw_elements(s: &Storage) -> usize {
        let mut cur = s.engine.range(Cf::Set, b"", None);
        let mut n = 0;
        while cur.current().is_some() {
            n += 1;
            cur.advance();
        }
        n
    }

    #[test]
    fn recreated_key_never_sees_old_elements() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = open(dir.path());
        fill(&s, b"k", 10);
        assert_eq!(s.at(0, Writer::INTERNAL).keys().delete(&[b"k"]).unwrap(), 1);
        fill(&s, b"k", 3);
        let c = s.read_collection(0, b"k", DataType::Set).unwrap().unwrap();
        let mut cur = s.elements(Cf::Set, &c, false);
        let mut seen = 0;
        while cur.current().is_some() {
            seen += 1;
            cur.advance();
        }
        assert_eq!(seen, 3);
    }

    #[test]
    fn compaction_drops_elements_of_deleted_versions_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = open(dir.path());
        fill(&s, b"gone", 1000);
        fill(&s, b"kept", 5);
        assert_eq!(
            s.at(0, Writer::INTERNAL).keys().delete(&[b"gone"]).unwrap(),
            1
        );
        assert_eq!(raw_elements(&s), 1005);
        s.compact(None, None).unwrap();
        assert_eq!(raw_elements(&s), 5);
    }

    #[test]
    fn compaction_keeps_elements_of_expired_keys_on_a_slave_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = open(dir.path());
        fill(&s, b"expiring", 10);
        let cond = crate::storage::types::keyspace::ExpireCondition::default();
        let deadline = crate::util::clock::unix_ms() as i64 + 50;
        assert!(s
            .at(0, Writer::INTERNAL)
            .keys()
            .expire(b"expiring", deadline, cond)
            .unwrap());
        std::thread::sleep(std::time::Duration::from_millis(100));
        // A slave's clock does not decide expiry: the master may still PERSIST the key.
        s.set_replica(true);
        s.compact(None, None).unwrap();
        assert_eq!(raw_elements(&s), 10);
        s.set_replica(false);
        s.compact(None, None).unwrap();
        assert_eq!(raw_elements(&s), 0);
    }

    #[test]
    fn versions_do_not_repeat_across_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = {
            let s = open(dir.path());
            s.versions.next()
        };
        let s = open(dir.path());
        assert!(s.versions.next() > first);
    }
}
