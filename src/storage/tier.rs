//! Reads that the hot tier answers from a decoded collection body (see `cache::body`): the
//! collection is loaded with its body when the tier holds it, and on a miss the body is read
//! from disk and offered to the tier, which takes it only if no write touched the shard since
//! the lookup (the same generation rule meta records follow).

use std::sync::Arc;

use bytes::Bytes;

use super::cache::body::Body;
use super::cache::BodyLookup;
use super::codec::{decode_score, encode_meta_key, Cf, DataType, MetaValue};
use super::collection::Collection;
use super::engine;
use super::{corrupt_meta, KeyState, Storage, StorageError};
use crate::util::slot::key_slot;

/// Reads of a collection, with no write in between, after which its body is read into the
/// tier: a collection written as often as it is read would otherwise be read whole from disk
/// for every point lookup.
const BODY_AFTER_READS: u32 = 2;

/// A collection loaded for a read, with the tier's decoded copy of it when there is one.
pub type WithBody = (Collection, Option<Arc<Body>>);

impl Storage {
    /// The live collection of type `t` at `key` with its body, when the tier holds it or takes
    /// it now; the body is `None` when the tier does not hold this type or this collection is
    /// too big for it. `None` when the key is absent; `WrongType` for another type.
    pub(super) fn read_with_body(
        &self,
        db: usize,
        key: &[u8],
        t: DataType,
    ) -> Result<Option<WithBody>, StorageError> {
        if !self.tier.admits(t) || self.cache.is_disabled() {
            return Ok(self.read_collection(db, key, t)?.map(|c| (c, None)));
        }
        let pdb = self.physical(db)?;
        let slot = key_slot(key);
        let meta_key = encode_meta_key(pdb, slot, key);
        let token = engine::round::fill_token();
        let (stored, held, generation) = match self.cache.get_body(&meta_key) {
            BodyLookup::Hit(meta, body) => (Some(meta), Some(body), None),
            BodyLookup::MetaOnly(meta, generation, quiet_reads) => {
                let hot = quiet_reads >= BODY_AFTER_READS;
                (Some(meta), None, hot.then_some(generation))
            }
            BodyLookup::Miss(generation) => {
                let stored = match self
                    .engine
                    .get_with(Cf::Meta, &meta_key, MetaValue::decode)?
                {
                    Some(Some(meta)) => Some(meta),
                    Some(None) => return Err(corrupt_meta(key)),
                    None => None,
                };
                if let Some(meta) = &stored {
                    if engine::round::fill_allowed(token) {
                        self.cache.fill(&meta_key, meta, generation);
                    }
                }
                (stored, None, None)
            }
        };
        let state = KeyState::read_now(pdb, slot, meta_key, stored);
        if state.stored.is_some() && state.live().is_none() {
            self.lazy_expired.push(pdb, key);
        }
        let Some(c) = self.collection_from(state, t)? else {
            return Ok(None);
        };
        if held.is_some() {
            return Ok(Some((c, held)));
        }
        let Some(generation) = generation else {
            return Ok(Some((c, None)));
        };
        let whole_only = matches!(t, DataType::Hash | DataType::Set);
        if whole_only && c.len() > self.tier.window() {
            return Ok(Some((c, None)));
        }
        let body = self.read_body(&c)?;
        if body.size_bytes() as u64 > self.tier.item_max() {
            return Ok(Some((c, None)));
        }
        let body = Arc::new(body);
        if let Some(meta) = c.state.stored.as_ref() {
            if engine::round::fill_allowed(token) {
                self.cache
                    .fill_body(&c.state.meta_key, meta, Arc::clone(&body), generation);
            }
        }
        Ok(Some((c, Some(body))))
    }

    /// Reads what the tier holds of `c` from disk: all of it, or the window of a sorted set
    /// or list.
    fn read_body(&self, c: &Collection) -> Result<Body, StorageError> {
        let window = self.tier.window();
        let from_end = self.tier.from_end();
        let take = c.len().min(window) as usize;
        Ok(match c.data_type {
            DataType::Hash => {
                Body::Hash(self.read_elements(Cf::Hash, c, false, take, |k, v| {
                    Ok((Bytes::copy_from_slice(k), Bytes::copy_from_slice(v)))
                })?)
            }
            DataType::Set => Body::Set(self.read_elements(Cf::Set, c, false, take, |k, _| {
                Ok(Bytes::copy_from_slice(k))
            })?),
            DataType::ZSet => {
                let mut members = self.read_elements(Cf::ZScore, c, from_end, take, |k, _| {
                    let score = decode_score(k)
                        .ok_or_else(|| StorageError::Corrupt("zset score index entry".into()))?;
                    Ok((Bytes::copy_from_slice(&k[8..]), score))
                })?;
                if from_end {
                    members.reverse();
                }
                Body::ZSet { members, from_end }
            }
            DataType::List => {
                let mut items = self.read_elements(Cf::List, c, from_end, take, |_, v| {
                    Ok(Bytes::copy_from_slice(v))
                })?;
                if from_end {
                    items.reverse();
                }
                Body::List { items, from_end }
            }
            DataType::String | DataType::Stream => {
                return Err(StorageError::Corrupt("no tier body for this type".into()))
            }
        })
    }

    /// The first `take` elements of `c` in `cf` (the last ones, `reverse`), decoded by `f`.
    fn read_elements<T>(
        &self,
        cf: Cf,
        c: &Collection,
        reverse: bool,
        take: usize,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<T, StorageError>,
    ) -> Result<Vec<T>, StorageError> {
        let mut out = Vec::with_capacity(take);
        let mut cur = self.elements(cf, c, reverse);
        while out.len() < take {
            let Some((k, v)) = cur.current() else {
                break;
            };
            out.push(f(k, v)?);
            cur.advance();
        }
        cur.status()?;
        if out.len() != take {
            return Err(StorageError::Corrupt(format!(
                "{:?} holds fewer elements than its header counts",
                String::from_utf8_lossy(c.state.key())
            )));
        }
        Ok(out)
    }
}
