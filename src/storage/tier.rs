//! Reads that the hot tier answers from a decoded collection body (see `cache::body`): the
//! collection is loaded with its body when the tier holds it, and on a miss the body is read
//! from disk and offered to the tier, which takes it only if no write touched the shard since
//! the lookup (the same generation rule meta records follow).

use std::sync::Arc;

use super::cache::body::{Body, PackedBuilder};
use super::cache::BodyLookup;
use super::codec::{decode_score, encode_meta_key, Cf, DataType};
use super::collection::Collection;
use super::engine;
use super::{KeyState, Storage, StorageError};
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
                (self.read_and_fill(key, &meta_key, generation)?, None, None)
            }
        };
        let state = self.observed(KeyState::read_now(pdb, slot, meta_key, stored));
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
        let Some(body) = self.read_body(&c)? else {
            return Ok(Some((c, None)));
        };
        let body = Arc::new(body);
        if let Some(meta) = c.state.stored.as_ref() {
            if engine::round::fill_allowed(token) {
                self.cache
                    .fill_body(&c.state.meta_key, meta, Arc::clone(&body), generation);
            }
        }
        Ok(Some((c, Some(body))))
    }

    /// The body the tier holds of `c`, which a write may use instead of reading disk and then
    /// keep current (see [`Storage::hash_body_after`]).
    pub(in crate::storage) fn held_body(&self, c: &Collection) -> Option<Arc<Body>> {
        if !c.existed || !self.tier.admits(c.data_type) {
            return None;
        }
        self.cache.held_body(&c.state.meta_key)
    }

    /// What the tier keeps of hash `c` once `pairs` are set in it: its held body (`held`) or,
    /// for a new hash, its only fields, with them written (write-through, so the next write
    /// or read needs no disk read). `None` when the tier does not take it: hashes not cached,
    /// an existing hash whose body it does not hold, more fields than it keeps, or a body past
    /// `cache-value-item-max-size`. `c` has its new field count.
    pub(in crate::storage) fn hash_body_after(
        &self,
        c: &Collection,
        held: Option<&Body>,
        pairs: &[(&[u8], &[u8])],
    ) -> Option<Body> {
        if self.cache.is_disabled()
            || !self.tier.admits(DataType::Hash)
            || (c.existed && held.is_none())
            || c.len() > self.tier.window()
        {
            return None;
        }
        let limit = usize::try_from(self.tier.item_max()).unwrap_or(usize::MAX);
        Body::hash_with(held, pairs, limit)
    }

    /// Reads what the tier holds of `c` from disk: all of it, or the window of a sorted set
    /// or list; `None` when that is more than `cache-value-item-max-size`.
    fn read_body(&self, c: &Collection) -> Result<Option<Body>, StorageError> {
        let from_end = self.tier.from_end();
        let take = c.len().min(self.tier.window()) as usize;
        let limit = usize::try_from(self.tier.item_max()).unwrap_or(usize::MAX);
        let (cf, reverse, items) = match c.data_type {
            DataType::Hash => (Cf::Hash, false, 2 * take),
            DataType::Set => (Cf::Set, false, take),
            DataType::ZSet => (Cf::ZScore, from_end, take),
            DataType::List => (Cf::List, from_end, take),
            DataType::String | DataType::Stream => {
                return Err(StorageError::Corrupt("no tier body for this type".into()))
            }
        };
        let mut packed = PackedBuilder::new(items, limit);
        let mut scores = Vec::new();
        // Windows read from the end arrive last first; they are kept in order.
        let mut from_back: Vec<Vec<u8>> = Vec::new();
        let mut read = 0;
        let mut cur = self.elements(cf, c, reverse);
        while read < take {
            let Some((k, v)) = cur.current() else {
                break;
            };
            let fits = match c.data_type {
                DataType::Hash => packed.push(k) && packed.push(v),
                DataType::Set => packed.push(k),
                DataType::ZSet => {
                    let score = decode_score(k)
                        .ok_or_else(|| StorageError::Corrupt("zset score index entry".into()))?;
                    scores.push(score);
                    if reverse {
                        from_back.push(k[8..].to_vec());
                        true
                    } else {
                        packed.push(&k[8..])
                    }
                }
                _ if reverse => {
                    from_back.push(v.to_vec());
                    true
                }
                _ => packed.push(v),
            };
            if !fits {
                return Ok(None);
            }
            read += 1;
            cur.advance();
        }
        cur.status()?;
        if read != take {
            return Err(StorageError::Corrupt(format!(
                "{:?} holds fewer elements than its header counts",
                String::from_utf8_lossy(c.state.key())
            )));
        }
        if reverse {
            scores.reverse();
        }
        for item in from_back.iter().rev() {
            if !packed.push(item) {
                return Ok(None);
            }
        }
        let packed = packed.finish();
        Ok(Some(match c.data_type {
            DataType::Hash => Body::Hash(packed),
            DataType::Set => Body::Set(packed),
            DataType::ZSet => Body::ZSet {
                members: packed,
                scores,
                from_end,
            },
            _ => Body::List {
                items: packed,
                from_end,
            },
        }))
    }
}
