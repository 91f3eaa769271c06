//! A collection read one element at a time, for senders that must not hold a whole value:
//! MIGRATE moves a big list, set, hash or sorted set as batches of ordinary writes, and builds
//! each batch from this walk instead of from a full `dataset::Value` (see
//! [`restore`](super::restore) for the whole-value path DUMP uses).
//!
//! The walk reads the live store, so the caller holds the key's lock for as long as it walks
//! (the dispatcher does, for a write command): the elements then cannot change underneath it.

use super::codec::{self, Cf, DataType};
use super::types::Keyspace;
use super::StorageError;

/// What a migration needs to know of a key before it decides how to send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyOutline {
    pub data_type: DataType,
    /// Number of elements of a list, set, hash or sorted set; `None` for strings and streams,
    /// which always travel as one payload.
    pub elements: Option<u64>,
    /// Deadline in Unix ms; 0 = none.
    pub expire_ms: u64,
}

/// One element of a collection, borrowed from the walk's cursor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Element<'a> {
    /// A list item (visited in index order).
    Item(&'a [u8]),
    /// A set member.
    Member(&'a [u8]),
    /// A hash field and its value.
    Field(&'a [u8], &'a [u8]),
    /// A sorted-set member and its score.
    Scored(&'a [u8], f64),
}

/// The column family holding the elements of a collection type; `None` for the others.
fn element_cf(t: DataType) -> Option<Cf> {
    match t {
        DataType::Hash => Some(Cf::Hash),
        DataType::Set => Some(Cf::Set),
        DataType::List => Some(Cf::List),
        DataType::ZSet => Some(Cf::ZSet),
        DataType::String | DataType::Stream => None,
    }
}

impl Keyspace<'_> {
    /// The type, size and deadline of the live key `key`; `None` when it is missing.
    pub fn outline(&self, key: &[u8]) -> Result<Option<KeyOutline>, StorageError> {
        let state = self.load(self.db, key)?;
        let Some(meta) = state.live() else {
            return Ok(None);
        };
        let (data_type, expire_ms) = (meta.data_type, meta.expire_ms);
        let elements = match element_cf(data_type) {
            Some(_) => match self.collection_from(state, data_type)? {
                Some(c) => Some(c.len()),
                None => return Ok(None),
            },
            None => None,
        };
        Ok(Some(KeyOutline {
            data_type,
            elements,
            expire_ms,
        }))
    }

    /// Calls `visit` with every element of the collection at `key` (lists in index order, the
    /// other types in stored order), stopping at the first error `visit` returns. Returns the
    /// number of elements visited: 0 for a missing key, a string or a stream.
    pub fn walk_elements<E: From<StorageError>>(
        &self,
        key: &[u8],
        mut visit: impl FnMut(Element<'_>) -> Result<(), E>,
    ) -> Result<u64, E> {
        let state = self.load(self.db, key)?;
        let Some(t) = state.live().map(|m| m.data_type) else {
            return Ok(0);
        };
        let Some(cf) = element_cf(t) else {
            return Ok(0);
        };
        let Some(c) = self.collection_from(state, t)? else {
            return Ok(0);
        };
        let mut cur = self.elements(cf, &c, false);
        let mut visited = 0u64;
        while let Some((sub, val)) = cur.current() {
            let element = match t {
                DataType::Hash => Element::Field(sub, val),
                DataType::Set => Element::Member(sub),
                DataType::List => Element::Item(val),
                _ => Element::Scored(
                    sub,
                    codec::decode_score(val)
                        .ok_or_else(|| StorageError::Corrupt("unreadable score".into()))?,
                ),
            };
            visit(element)?;
            visited += 1;
            cur.advance();
        }
        cur.status()?;
        Ok(visited)
    }
}
