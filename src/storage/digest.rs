//! DEBUG DIGEST and DIGEST-VALUE over the stored data, with Redis' algorithm
//! (`util::redis_digest`), so a pika-rs server and a Redis server holding the same data report
//! the same digest.

use super::codec::{self, DataType, MetaValue};
use super::collection::element_cfs;
use super::types::Keyspace;
use super::{KeyState, Storage, StorageError};
use crate::util::clock::unix_ms;
use crate::util::redis_digest::{type_code, DatasetDigest, Digest20, ValueDigest};

/// Redis' type code for a stored type.
fn redis_type(t: DataType) -> u32 {
    match t {
        DataType::String => type_code::STRING,
        DataType::List => type_code::LIST,
        DataType::Set => type_code::SET,
        DataType::ZSet => type_code::ZSET,
        DataType::Hash => type_code::HASH,
        DataType::Stream => type_code::STREAM,
    }
}

impl Storage {
    /// Feeds a live key's value into `d`, element by element.
    fn feed_value(
        &self,
        d: &mut ValueDigest,
        meta: &MetaValue,
        state: KeyState,
    ) -> Result<(), StorageError> {
        let t = meta.data_type;
        if t == DataType::String {
            d.ordered(&meta.body);
            return Ok(());
        }
        if t == DataType::Stream {
            // As Redis: every entry's id as `ms.seq`, then its fields and values.
            let Some(c) = self.collection_from(state, t)? else {
                return Ok(());
            };
            let mut cur = self.elements(codec::Cf::Stream, &c, false);
            while let Some((id, value)) = cur.current() {
                let (Some(id), Some((_, fields))) = (
                    crate::util::stream_id::StreamId::from_be_bytes(id),
                    codec::stream::decode_entry(value),
                ) else {
                    return Err(StorageError::Corrupt("unreadable stream entry".into()));
                };
                d.ordered(format!("{}.{}", id.ms, id.seq).as_bytes());
                for (f, v) in &fields {
                    d.ordered(f);
                    d.ordered(v);
                }
                cur.advance();
            }
            return cur.status();
        }
        let Some(c) = self.collection_from(state, t)? else {
            return Ok(());
        };
        // A sorted set's first family maps member → score; its order index repeats it.
        let Some(&cf) = element_cfs(t).first() else {
            return Ok(());
        };
        let mut cur = self.elements(cf, &c, false);
        while let Some((sub, value)) = cur.current() {
            match t {
                DataType::List => d.ordered(value),
                DataType::Set => d.member(sub),
                DataType::Hash => d.field(sub, value),
                _ => d.scored(sub, codec::decode_score(value).unwrap_or(f64::NAN)),
            }
            cur.advance();
        }
        cur.status()
    }

    /// DEBUG DIGEST: digest of every live key of every logical database.
    pub fn digest(&self) -> Result<Digest20, StorageError> {
        let mut total = DatasetDigest::default();
        let now = unix_ms();
        for db in 0..self.databases() {
            let pdb = self.physical(db)?;
            let lower = codec::db_lower_bound(pdb);
            let upper = codec::db_upper_bound(pdb);
            let mut cur = self
                .engine
                .range(super::codec::Cf::Meta, &lower, Some(&upper));
            while let Some((k, v)) = cur.current() {
                if let (Some(meta), Some((_, slot, _))) = (
                    MetaValue::decode(v).filter(|m| !m.is_expired(now)),
                    codec::decode_meta_key(k),
                ) {
                    let user_key = &k[codec::KEY_PREFIX_LEN..];
                    let mut d = ValueDigest::for_key(user_key, redis_type(meta.data_type));
                    let has_ttl = meta.expire_ms != 0;
                    let state = KeyState::at(pdb, slot, k.to_vec(), Some(meta.clone()), now);
                    self.feed_value(&mut d, &meta, state)?;
                    total.add(db, &d.finish(has_ttl));
                }
                cur.advance();
            }
            cur.status()?;
        }
        Ok(total.finish())
    }
}

impl Keyspace<'_> {
    /// DEBUG DIGEST-VALUE: digest of one key's value (zeros when the key does not exist).
    pub fn digest_value(&self, key: &[u8]) -> Result<Digest20, StorageError> {
        let state = self.load(self.db, key)?;
        let Some(meta) = state.live().cloned() else {
            return Ok([0u8; 20]);
        };
        let mut d = ValueDigest::new(redis_type(meta.data_type));
        self.feed_value(&mut d, &meta, state)?;
        Ok(d.finish(meta.expire_ms != 0))
    }
}
