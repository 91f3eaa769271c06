//! The hash type: one element per field in [`Cf::Hash`] (sub-key = field, value = value), under
//! the collection header that keeps the field count (see `collection`).
//!
//! Writers run under the dispatcher's key lock: they load the collection, read only the fields
//! they touch (one point read or one multi-get), and commit element puts/deletes together with
//! the updated header in one batch.

use std::collections::HashSet;

use rand::seq::SliceRandom;
use rand::Rng;

use super::Hashes;
use crate::storage::codec::{Cf, DataType};
use crate::storage::collection::{Collection, EncodingLimits, ScannedElement};
use crate::storage::tier::WithBody;
use crate::storage::{Storage, StorageError};

/// A field picked by HRANDFIELD, with its value when asked for.
pub type RandomField = (Vec<u8>, Option<Vec<u8>>);

/// What HRANDFIELD asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RandomFields {
    /// `count` distinct fields (all of them when the hash is smaller).
    Distinct(u64),
    /// `count` fields drawn independently, repeats allowed, in random order.
    Repeating(u64),
}

impl Storage {
    /// Marks `c` large when a field or value written is longer than `hash-max-listpack-value`
    /// or the hash holds more than `hash-max-listpack-entries` fields.
    pub(in crate::storage) fn hash_check_encoding<'a>(
        &self,
        c: &mut Collection,
        written: impl IntoIterator<Item = &'a [u8]>,
    ) {
        if c.is_large() {
            return;
        }
        let max_value = EncodingLimits::get(&self.limits.hash_max_listpack_value);
        let max_entries = EncodingLimits::get(&self.limits.hash_max_listpack_entries);
        if c.len() > max_entries || written.into_iter().any(|s| s.len() as u64 > max_value) {
            c.mark_large();
        }
    }
}

impl Hashes<'_> {
    /// True when `field` exists in `c`, without copying its value.
    fn field_exists(&self, c: &Collection, key: &[u8]) -> Result<bool, StorageError> {
        if !c.existed {
            return Ok(false);
        }
        Ok(self.engine.get_with(Cf::Hash, key, |_| ())?.is_some())
    }

    /// HSET/HMSET: sets every (field, value) pair (a later repeat of a field wins) and returns
    /// how many fields were created.
    pub fn set(&self, key: &[u8], pairs: &[(&[u8], &[u8])]) -> Result<u64, StorageError> {
        let mut c = self.write_collection(self.db, key, DataType::Hash)?;
        // A body the tier holds answers which fields exist without reading disk.
        let held = self.held_body(&c);
        let mut txn = self.txn();
        let mut created = 0u64;
        if let [(field, value)] = pairs {
            // The common single-field case: one point read (none for a new key).
            let ek = c.element_key(field);
            let exists = match &held {
                Some(body) => body.hash_get(field).is_some(),
                None => self.field_exists(&c, &ek)?,
            };
            if !exists {
                created = 1;
            }
            txn.put_raw(Cf::Hash, &ek, value);
        } else {
            let keys: Vec<Vec<u8>> = pairs.iter().map(|(f, _)| c.element_key(f)).collect();
            let existing: Vec<bool> = match &held {
                Some(body) => pairs
                    .iter()
                    .map(|(f, _)| body.hash_get(f).is_some())
                    .collect(),
                None if c.existed => self
                    .engine
                    .multi_get(Cf::Hash, &keys)?
                    .iter()
                    .map(Option::is_some)
                    .collect(),
                None => vec![false; keys.len()],
            };
            let mut seen: HashSet<&[u8]> = HashSet::with_capacity(pairs.len());
            for ((&(field, value), ek), old) in pairs.iter().zip(&keys).zip(existing) {
                if seen.insert(field) && !old {
                    created += 1;
                }
                txn.put_raw(Cf::Hash, ek, value);
            }
        }
        c.header.count += created;
        let flags_before = c.flags;
        self.hash_check_encoding(&mut c, pairs.iter().flat_map(|(f, v)| [*f, *v]));
        // Overwriting fields of an existing hash leaves its meta record as it was.
        if created > 0 || !c.existed || c.flags != flags_before {
            txn.store_collection(&c);
        }
        if let Some(body) = self.hash_body_after(&c, held.as_deref(), pairs) {
            txn.set_body(&c.state.meta_key, body);
        }
        txn.commit()?;
        Ok(created)
    }

    /// HSETNX: sets `field` only when absent; true when it was set.
    pub fn set_nx(&self, key: &[u8], field: &[u8], value: &[u8]) -> Result<bool, StorageError> {
        let mut c = self.write_collection(self.db, key, DataType::Hash)?;
        let ek = c.element_key(field);
        if self.field_exists(&c, &ek)? {
            return Ok(false);
        }
        let mut txn = self.txn();
        txn.put_raw(Cf::Hash, &ek, value);
        c.header.count += 1;
        self.hash_check_encoding(&mut c, [field, value]);
        txn.store_collection(&c);
        txn.commit()?;
        Ok(true)
    }

    /// Read-modify-write of one field (HINCRBY, HINCRBYFLOAT): `f` gets the current value
    /// (None when absent) and returns the new one, or an error that aborts without writing.
    pub fn update<E: From<StorageError>>(
        &self,
        key: &[u8],
        field: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> Result<Vec<u8>, E>,
    ) -> Result<Vec<u8>, E> {
        let mut c = self.write_collection(self.db, key, DataType::Hash)?;
        let ek = c.element_key(field);
        let current = if c.existed {
            self.engine.get(Cf::Hash, &ek)?
        } else {
            None
        };
        let new = f(current.as_deref())?;
        let mut txn = self.txn();
        txn.put_raw(Cf::Hash, &ek, &new);
        if current.is_none() {
            c.header.count += 1;
        }
        self.hash_check_encoding(&mut c, [field, new.as_slice()]);
        txn.store_collection(&c);
        txn.commit()?;
        Ok(new)
    }

    /// HDEL: deletes the fields present and returns how many were; an emptied hash vanishes.
    pub fn remove(&self, key: &[u8], fields: &[&[u8]]) -> Result<u64, StorageError> {
        let Some(mut c) = self.read_collection(self.db, key, DataType::Hash)? else {
            return Ok(0);
        };
        let existing = self.element_multi_get(Cf::Hash, &c, fields)?;
        let mut txn = self.txn();
        let mut seen: HashSet<&[u8]> = HashSet::with_capacity(fields.len());
        let mut deleted = 0u64;
        for (&field, value) in fields.iter().zip(existing) {
            if value.is_some() && seen.insert(field) {
                txn.delete_element(Cf::Hash, &c, field);
                deleted += 1;
            }
        }
        if deleted == 0 {
            return Ok(0);
        }
        c.header.count = c.header.count.saturating_sub(deleted);
        txn.store_collection(&c);
        txn.commit()?;
        Ok(deleted)
    }

    /// The live hash at `key` for a read command, counting the keyspace hit or miss.
    fn for_read(&self, key: &[u8]) -> Result<Option<Collection>, StorageError> {
        let c = self.read_collection(self.db, key, DataType::Hash)?;
        self.count_lookup(c.is_some());
        Ok(c)
    }

    /// A hash for a point or whole read, with the tier's copy of it when there is one.
    fn for_tier_read(&self, key: &[u8]) -> Result<Option<WithBody>, StorageError> {
        let r = self.read_with_body(self.db, key, DataType::Hash)?;
        self.count_lookup(r.is_some());
        Ok(r)
    }

    /// HGET.
    pub fn get(&self, key: &[u8], field: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match self.for_tier_read(key)? {
            Some((_, Some(body))) => Ok(body.hash_get(field).map(|v| v.to_vec())),
            Some((c, None)) => self.element_get(Cf::Hash, &c, field),
            None => Ok(None),
        }
    }

    /// Applies `f` to the stored value of `field` without copying it (HSTRLEN, HEXISTS).
    pub fn get_with<R>(
        &self,
        key: &[u8],
        field: &[u8],
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>, StorageError> {
        match self.for_tier_read(key)? {
            Some((_, Some(body))) => Ok(body.hash_get(field).map(|v| f(&v))),
            Some((c, None)) => self.engine.get_with(Cf::Hash, &c.element_key(field), f),
            None => Ok(None),
        }
    }

    /// HMGET: one value (or None) per field; all None for a missing key.
    pub fn get_many(
        &self,
        key: &[u8],
        fields: &[&[u8]],
    ) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        match self.for_tier_read(key)? {
            Some((_, Some(body))) => Ok(fields
                .iter()
                .map(|f| body.hash_get(f).map(|v| v.to_vec()))
                .collect()),
            Some((c, None)) => self.element_multi_get(Cf::Hash, &c, fields),
            None => Ok(vec![None; fields.len()]),
        }
    }

    /// HLEN.
    pub fn len(&self, key: &[u8]) -> Result<u64, StorageError> {
        Ok(self.for_read(key)?.map_or(0, |c| c.len()))
    }

    /// Every field of the hash in field order, calling `f` with (field, value): HGETALL,
    /// HKEYS, HVALS. Returns the number of fields visited.
    pub fn for_each(
        &self,
        key: &[u8],
        mut f: impl FnMut(&[u8], &[u8]),
    ) -> Result<u64, StorageError> {
        let Some((c, body)) = self.for_tier_read(key)? else {
            return Ok(0);
        };
        if let Some(body) = body {
            let mut n = 0;
            for (field, value) in body.hash_pairs() {
                f(field, value);
                n += 1;
            }
            return Ok(n);
        }
        let mut cur = self.elements(Cf::Hash, &c, false);
        let mut n = 0u64;
        while let Some((field, value)) = cur.current() {
            f(field, value);
            n += 1;
            cur.advance();
        }
        cur.status()?;
        Ok(n)
    }

    /// HSCAN step: see [`Storage::scan_elements`]. `None` for a missing key.
    pub fn scan(
        &self,
        key: &[u8],
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
    ) -> Result<Option<(u64, Vec<ScannedElement>)>, StorageError> {
        match self.for_read(key)? {
            Some(c) => Ok(Some(self.scan_elements(
                Cf::Hash,
                &c,
                cursor,
                count,
                pattern,
            )?)),
            None => Ok(None),
        }
    }

    /// HRANDFIELD: random fields (with their values when `with_values`), sampled uniformly.
    /// `None` for a missing key. Positions are drawn first and the hash is then walked once up
    /// to the last of them, so memory stays proportional to the answer, not to the hash.
    pub fn random(
        &self,
        key: &[u8],
        want: RandomFields,
        with_values: bool,
    ) -> Result<Option<Vec<RandomField>>, StorageError> {
        let Some(c) = self.for_read(key)? else {
            return Ok(None);
        };
        let size = c.len();
        let mut rng = rand::thread_rng();
        // Sorted positions to pick, each with how many times it is picked.
        let positions: Vec<(u64, u64)> = match want {
            RandomFields::Distinct(n) if n >= size => {
                return self.collect_shuffled(&c, with_values).map(Some);
            }
            RandomFields::Distinct(n) => {
                // Floyd's algorithm: n distinct positions of 0..size, uniformly.
                let mut chosen: HashSet<u64> = HashSet::with_capacity(n as usize);
                for j in size - n..size {
                    let t = rng.gen_range(0..=j);
                    if !chosen.insert(t) {
                        chosen.insert(j);
                    }
                }
                let mut v: Vec<(u64, u64)> = chosen.into_iter().map(|p| (p, 1)).collect();
                v.sort_unstable();
                v
            }
            RandomFields::Repeating(n) => {
                let mut picks: Vec<u64> = (0..n).map(|_| rng.gen_range(0..size)).collect();
                picks.sort_unstable();
                let mut v: Vec<(u64, u64)> = Vec::new();
                for p in picks {
                    match v.last_mut() {
                        Some((last, times)) if *last == p => *times += 1,
                        _ => v.push((p, 1)),
                    }
                }
                v
            }
        };
        let total: u64 = positions.iter().map(|(_, t)| t).sum();
        let mut out = Vec::with_capacity(total as usize);
        let mut cur = self.elements(Cf::Hash, &c, false);
        let mut index = 0u64;
        let mut next = positions.iter().peekable();
        while let (Some((field, value)), Some(&&(pos, times))) = (cur.current(), next.peek()) {
            if index == pos {
                for _ in 0..times {
                    out.push((field.to_vec(), with_values.then(|| value.to_vec())));
                }
                next.next();
            }
            index += 1;
            cur.advance();
        }
        cur.status()?;
        out.shuffle(&mut rng);
        Ok(Some(out))
    }

    /// Every field (and value) of `c`, shuffled.
    fn collect_shuffled(
        &self,
        c: &Collection,
        with_values: bool,
    ) -> Result<Vec<RandomField>, StorageError> {
        let mut out = Vec::with_capacity(c.len() as usize);
        let mut cur = self.elements(Cf::Hash, c, false);
        while let Some((field, value)) = cur.current() {
            out.push((field.to_vec(), with_values.then(|| value.to_vec())));
            cur.advance();
        }
        cur.status()?;
        out.shuffle(&mut rand::thread_rng());
        Ok(out)
    }
}
