//! Type-independent key operations (the [`Keyspace`] view): existence, deletion, expiry,
//! renaming, whole databases. Operations spanning every database (FLUSHALL, SWAPDB) stay on
//! `Storage`.
//!
//! Functions that modify keys expect the caller to hold the key locks (the dispatcher takes them
//! from the command table); whole-database operations take the structure lock themselves.

use super::{Keyspace, Writer};
use crate::storage::batch_note::BatchNote;
use crate::storage::codec::{self, Cf, MetaValue, SysKey};
use crate::storage::collection::ElementCursor;
use crate::storage::engine::ReadView;
use crate::storage::lazy::{LazyItems, ReadRange, Step, Walk};
use crate::storage::{KeyState, Storage, StorageError};
use crate::util::clock::unix_ms;
use crate::util::glob::glob_match;

/// Condition flags of EXPIRE and friends (Redis 7). Several may be set (XX GT, XX LT); the
/// command layer rejects the incompatible combinations before calling storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExpireCondition {
    /// Only when the key has no expiry.
    pub nx: bool,
    /// Only when the key has an expiry.
    pub xx: bool,
    /// Only when the new expiry is later (a persistent key counts as infinite, so GT fails).
    pub gt: bool,
    /// Only when the new expiry is earlier (a persistent key counts as infinite).
    pub lt: bool,
}

impl ExpireCondition {
    /// Whether a key whose deadline is `current` (0 = none) may get `deadline`.
    pub fn allows(&self, current: u64, deadline: i64) -> bool {
        let has = current != 0;
        let current = i64::try_from(current).unwrap_or(i64::MAX);
        !(self.nx && has
            || self.xx && !has
            || self.gt && (!has || deadline <= current)
            || self.lt && has && deadline >= current)
    }
}

/// Outcome of RENAME-style commands.
#[derive(Debug, PartialEq, Eq)]
pub enum MoveOutcome {
    Done,
    NoSource,
    TargetExists,
}

impl Keyspace<'_> {
    /// The key's stored record and whether it is live: TYPE, OBJECT, MEMORY USAGE.
    pub fn state(&self, key: &[u8]) -> Result<KeyState, StorageError> {
        self.load(self.db, key)
    }

    /// DBSIZE: how many keys the database holds.
    pub fn size(&self) -> Result<u64, StorageError> {
        self.dbsize(self.db)
    }

    /// EXISTS, TOUCH: number of the given keys that exist (a key given twice counts twice, as
    /// in Redis).
    pub fn exists(&self, keys: &[&[u8]]) -> Result<i64, StorageError> {
        let mut n = 0;
        for key in keys {
            if self.load(self.db, key)?.live().is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// DEL, UNLINK: deletes keys; returns how many existed.
    pub fn delete(&self, keys: &[&[u8]]) -> Result<i64, StorageError> {
        let mut txn = self.txn();
        let mut removed = 0;
        let mut seen: Vec<&[u8]> = Vec::with_capacity(keys.len());
        for key in keys {
            if seen.contains(key) {
                continue;
            }
            seen.push(key);
            let state = self.load(self.db, key)?;
            if state.live().is_some() {
                removed += 1;
            }
            txn.remove(&state);
        }
        txn.commit()?;
        Ok(removed)
    }

    /// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT: sets the absolute deadline (Unix ms, may be
    /// negative) of `key` subject to `cond`. A deadline not in the future deletes the key.
    /// Returns whether anything changed (EXPIRE's 1/0).
    pub fn expire(
        &self,
        key: &[u8],
        deadline_ms: i64,
        cond: ExpireCondition,
    ) -> Result<bool, StorageError> {
        let state = self.load(self.db, key)?;
        let Some(meta) = state.live() else {
            return Ok(false);
        };
        if !cond.allows(meta.expire_ms, deadline_ms) {
            return Ok(false);
        }
        let mut txn = self.txn();
        match u64::try_from(deadline_ms) {
            Ok(deadline) if deadline > state.now_ms() => {
                let mut updated = meta.clone();
                updated.expire_ms = deadline;
                txn.put(&state, &updated);
            }
            _ => txn.remove(&state),
        }
        txn.commit()?;
        Ok(true)
    }

    /// PERSIST: removes the expiry of `key`; true if it had one.
    pub fn persist(&self, key: &[u8]) -> Result<bool, StorageError> {
        let state = self.load(self.db, key)?;
        let Some(meta) = state.live() else {
            return Ok(false);
        };
        if meta.expire_ms == 0 {
            return Ok(false);
        }
        let mut updated = meta.clone();
        updated.expire_ms = 0;
        let mut txn = self.txn();
        txn.put(&state, &updated);
        txn.commit()?;
        Ok(true)
    }

    /// PTTL (and TTL): the time to live of `key` in milliseconds, -2 when it is missing, -1
    /// when it has no expiry.
    pub fn ttl_ms(&self, key: &[u8]) -> Result<i64, StorageError> {
        let state = self.load(self.db, key)?;
        Ok(match state.live() {
            None => -2,
            Some(m) if m.expire_ms == 0 => -1,
            Some(m) => deadline_of(m.expire_ms)
                .saturating_sub(state.now_ms() as i64)
                .max(0),
        })
    }

    /// PEXPIRETIME (and EXPIRETIME): the Unix time in milliseconds at which `key` expires, -2
    /// when it is missing, -1 when it has no expiry.
    pub fn expire_time_ms(&self, key: &[u8]) -> Result<i64, StorageError> {
        let state = self.load(self.db, key)?;
        Ok(match state.live() {
            None => -2,
            Some(m) if m.expire_ms == 0 => -1,
            Some(m) => deadline_of(m.expire_ms),
        })
    }

    /// RENAME, RENAMENX: moves `src` to `dst`. The destination loses its old value and TTL; the
    /// moved value keeps its own TTL.
    pub fn rename(
        &self,
        src: &[u8],
        dst: &[u8],
        only_if_absent: bool,
    ) -> Result<MoveOutcome, StorageError> {
        let from = self.load(self.db, src)?;
        let Some(meta) = from.live().cloned() else {
            return Ok(MoveOutcome::NoSource);
        };
        if src == dst {
            return Ok(if only_if_absent {
                MoveOutcome::TargetExists
            } else {
                MoveOutcome::Done
            });
        }
        let to = self.load(self.db, dst)?;
        if only_if_absent && to.live().is_some() {
            return Ok(MoveOutcome::TargetExists);
        }
        let mut txn = self.txn();
        txn.remove(&from);
        self.put_copy(&mut txn, &from, &meta, to)?;
        txn.commit()?;
        Ok(MoveOutcome::Done)
    }

    /// COPY: copies `src` to `dst` in database `dst_db`; with `replace` an existing destination
    /// is overwritten. Returns false when nothing was copied.
    pub fn copy(
        &self,
        src: &[u8],
        dst_db: usize,
        dst: &[u8],
        replace: bool,
    ) -> Result<bool, StorageError> {
        let from = self.load(self.db, src)?;
        let Some(meta) = from.live().cloned() else {
            return Ok(false);
        };
        let to = self.load(dst_db, dst)?;
        if to.live().is_some() && !replace {
            return Ok(false);
        }
        let mut txn = self.txn();
        self.put_copy(&mut txn, &from, &meta, to)?;
        txn.commit()?;
        Ok(true)
    }

    /// Writes `meta` (the live value of `from`) as the new value of `to`. A collection's
    /// elements are copied under a fresh version, since element keys embed the user key.
    fn put_copy(
        &self,
        txn: &mut crate::storage::write::WriteTxn<'_>,
        from: &KeyState,
        meta: &MetaValue,
        to: KeyState,
    ) -> Result<(), StorageError> {
        if !meta.data_type.is_collection() {
            txn.put(&to, meta);
            return Ok(());
        }
        let Some(source) = self.collection_from(from.clone(), meta.data_type)? else {
            return Ok(());
        };
        let mut target = self.fresh_collection(to, meta.data_type);
        target.header.count = source.header.count;
        target.header.extra = source.header.extra.clone();
        target.flags = source.flags;
        target.expire_ms = source.expire_ms;
        self.copy_elements(txn, &source, &target)?;
        txn.store_collection(&target);
        Ok(())
    }

    /// MOVE: transfers `key` to database `dst_db` if it is absent there.
    pub fn move_to(&self, key: &[u8], dst_db: usize) -> Result<bool, StorageError> {
        let from = self.load(self.db, key)?;
        let Some(meta) = from.live().cloned() else {
            return Ok(false);
        };
        let to = self.load(dst_db, key)?;
        if to.live().is_some() {
            return Ok(false);
        }
        let mut txn = self.txn();
        txn.remove(&from);
        self.put_copy(&mut txn, &from, &meta, to)?;
        txn.commit()?;
        Ok(true)
    }

    /// FLUSHDB: removes every key of the database.
    pub fn flush(&self) -> Result<(), StorageError> {
        let _structure = self.lock_structure();
        let pdb = self.physical(self.db)?;
        let mut txn = self.txn();
        txn.clear_db(pdb);
        txn.commit()
    }

    /// KEYS: every live key of the database matching `pattern`. Costs a walk of the database,
    /// as in Redis. When many keys match, they are not gathered: the walk is done again over a
    /// snapshot, once to count the matches and once, lazily, to yield them as the reply is
    /// written (see [`lazy`](crate::storage::lazy)).
    pub fn keys(&self, pattern: &[u8]) -> Result<ReadRange<Vec<u8>>, StorageError> {
        let pdb = self.physical(self.db)?;
        let (lower, upper) = (codec::db_lower_bound(pdb), codec::db_upper_bound(pdb));
        // One clock for every pass, so the count and the lazy walk agree on what is live.
        let now = unix_ms();
        let walk = |view: &ReadView<'static>, take: u64| {
            let cursor = ElementCursor::over(
                view.range(Cf::Meta, &lower, Some(&upper)),
                codec::KEY_PREFIX_LEN,
                false,
            );
            Walk::new(cursor, take, matching_keys(pattern.to_vec(), now))
        };
        let cursor = ElementCursor::over(
            self.engine.range(Cf::Meta, &lower, Some(&upper)),
            codec::KEY_PREFIX_LEN,
            false,
        );
        let direct = Walk::new(cursor, u64::MAX, matching_keys(pattern.to_vec(), now));
        if let Some(found) = direct.collect_small(Vec::len)? {
            return Ok(ReadRange::Whole(found));
        }
        let view = ReadView::Snapshot(self.engine.snapshot());
        let len = walk(&view, u64::MAX).count()?;
        Ok(ReadRange::Lazy(LazyItems::new(len, walk(&view, len))))
    }

    /// RANDOMKEY: a random live key of the database, or None when it is empty.
    pub fn random_key(&self) -> Result<Option<Vec<u8>>, StorageError> {
        let pdb = self.physical(self.db)?;
        if self.dbsize_physical(pdb) == 0 {
            return Ok(None);
        }
        let now = unix_ms();
        let upper = codec::db_upper_bound(pdb);
        let start_slot: u16 = rand::random::<u16>() % crate::util::slot::SLOT_COUNT;
        // Seek to a random slot and take the first live key after it, wrapping around once.
        // Bounded: gives up after a few thousand expired keys rather than walk the database.
        let mut budget = 4096usize;
        for lower in [
            codec::slot_lower_bound(pdb, start_slot),
            codec::db_lower_bound(pdb),
        ] {
            let mut cur = self.engine.range(Cf::Meta, &lower, Some(&upper));
            while let Some((k, v)) = cur.current() {
                if MetaValue::raw_is_live(v, now) {
                    return Ok(Some(k[codec::KEY_PREFIX_LEN..].to_vec()));
                }
                budget -= 1;
                if budget == 0 {
                    return Ok(None);
                }
                cur.advance();
            }
            cur.status()?;
        }
        Ok(None)
    }
}

impl Storage {
    /// FLUSHALL: removes every key of every database.
    pub fn flush_all(&self, writer: Writer<'_>) -> Result<(), StorageError> {
        let _structure = self.lock_structure();
        let mut txn = self.txn_noted(writer, BatchNote::NO_DB);
        for db in 0..self.databases() {
            txn.clear_db(self.physical(db)?);
        }
        txn.commit()
    }

    /// SWAPDB: swaps two logical databases, so clients of one now see the other's keys.
    pub fn swap_db(&self, a: usize, b: usize, writer: Writer<'_>) -> Result<(), StorageError> {
        let _structure = self.lock_structure();
        let (pa, pb) = (self.physical(a)?, self.physical(b)?);
        self.watches.swap_dbs(pa, pb, |pdb, key| {
            self.load_physical(pdb, key)
                .map_or((true, false), |s| (s.stored.is_some(), s.is_expired()))
        });
        let mut map = self.db_map.write();
        if a >= map.len() || b >= map.len() {
            return Err(StorageError::DbOutOfRange);
        }
        map.swap(a, b);
        let mut txn = self.txn_noted(writer, BatchNote::NO_DB);
        txn.put_system(SysKey::DB_MAP, &crate::storage::encode_db_map(&map));
        txn.commit()?;
        // Tracking clients read through the logical database, whose every key just changed.
        self.key_changes.report_all();
        Ok(())
    }
}

/// A stored deadline as the signed Unix milliseconds the TTL commands report.
fn deadline_of(expire_ms: u64) -> i64 {
    i64::try_from(expire_ms).unwrap_or(i64::MAX)
}

/// The step of a KEYS walk over meta records: yields the live keys matching `pattern` as of
/// `now`.
fn matching_keys(
    pattern: Vec<u8>,
    now: u64,
) -> impl FnMut(&[u8], &[u8]) -> Result<Step<Vec<u8>>, StorageError> + Send + 'static {
    let all = pattern == b"*";
    move |user_key: &[u8], meta: &[u8]| {
        let live = MetaValue::raw_is_live(meta, now);
        Ok(if live && (all || glob_match(&pattern, user_key, false)) {
            Step::Yield(user_key.to_vec())
        } else {
            Step::Pass
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::storage::engine::EngineOptions;
    use crate::storage::types::strings::{SetOptions, TtlUpdate};
    use crate::storage::types::Writer;

    fn open(dir: &std::path::Path) -> Storage {
        Storage::open(dir, 16, &EngineOptions::default()).expect("open storage")
    }

    fn set(s: &Storage, db: usize, key: &[u8], ttl: TtlUpdate) {
        let opts = SetOptions {
            ttl,
            ..SetOptions::default()
        };
        s.at(db, Writer::INTERNAL)
            .strings()
            .set(key, Bytes::from_static(b"v"), opts)
            .expect("set");
    }

    #[test]
    fn expires_count_follows_ttl_changes_and_survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let later = TtlUpdate::At(unix_ms() + 100_000);
        {
            let s = open(dir.path());
            set(&s, 0, b"a", later);
            set(&s, 0, b"b", later);
            set(&s, 0, b"c", TtlUpdate::Clear);
            set(&s, 1, b"d", later);
            assert_eq!(s.expires_count(0).unwrap(), 2);
            set(&s, 0, b"a", later); // rewriting a TTL does not count twice
            let keys = s.at(0, Writer::INTERNAL).keys();
            assert!(keys.persist(b"b").unwrap());
            let cond = ExpireCondition::default();
            assert!(keys.expire(b"c", unix_ms() as i64 + 5000, cond).unwrap());
            assert_eq!(s.expires_count(0).unwrap(), 2);
            assert_eq!(keys.delete(&[b"a"]).unwrap(), 1);
            assert_eq!(s.expires_count(0).unwrap(), 1);
            assert!(keys.move_to(b"c", 2).unwrap());
            assert_eq!(s.expires_count(0).unwrap(), 0);
            assert_eq!(s.expires_count(2).unwrap(), 1);
            s.swap_db(1, 3, Writer::INTERNAL).unwrap();
            assert_eq!(s.expires_count(3).unwrap(), 1);
            assert_eq!(s.expires_count(1).unwrap(), 0);
        }
        let s = open(dir.path());
        assert_eq!(s.expires_count(2).unwrap(), 1);
        assert_eq!(s.expires_count(3).unwrap(), 1);
        assert_eq!(s.dbsize(0).unwrap(), 1);
        s.at(3, Writer::INTERNAL).keys().flush().unwrap();
        assert_eq!(s.expires_count(3).unwrap(), 0);
        s.flush_all(Writer::INTERNAL).unwrap();
        assert_eq!(s.expires_count(2).unwrap(), 0);
        assert_eq!(s.dbsize(0).unwrap(), 0);
    }

    #[test]
    fn expire_conditions_combine_like_redis() {
        let c = |nx, xx, gt, lt| ExpireCondition { nx, xx, gt, lt };
        assert!(c(true, false, false, false).allows(0, 5));
        assert!(!c(true, false, false, false).allows(10, 5));
        assert!(!c(false, true, false, false).allows(0, 5));
        assert!(!c(false, false, true, false).allows(0, 5));
        assert!(c(false, false, true, false).allows(10, 11));
        assert!(!c(false, false, true, false).allows(10, 10));
        assert!(c(false, false, false, true).allows(0, 5));
        assert!(!c(false, true, false, true).allows(0, 5));
        assert!(c(false, true, false, true).allows(10, 5));
    }
}
