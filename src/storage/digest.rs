//! DEBUG DIGEST and DIGEST-VALUE: content hashes that two servers holding the same data agree on.
//!
//! Each key contributes SHA-1(db index, key, type, value, deadline); contributions are XORed, so
//! the result does not depend on iteration order or physical layout. An empty dataset digests to
//! forty zeros, as in Redis.
//!
//! Collections: the version in their meta body is an internal generation number that two
//! servers holding the same data need not share, so it is left out; the element count and the
//! elements (`Storage::elements_digest`: order-independent except for lists) are hashed.

use sha1::{Digest, Sha1};

use super::codec::{self, CollectionHeader, DataType, MetaValue};
use super::engine::Cf;
use super::{now_ms, KeyState, Storage, StorageError};

/// A 20-byte digest; all zeros means "nothing".
pub type Digest20 = [u8; 20];

/// Hex text of a digest, as DEBUG DIGEST prints it.
pub fn to_hex(d: &Digest20) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

impl Storage {
    fn value_digest(&self, meta: &MetaValue, state: impl FnOnce() -> Option<KeyState>) -> Digest20 {
        let mut h = Sha1::new();
        h.update([meta.data_type as u8]);
        match meta.data_type {
            DataType::String | DataType::Stream => h.update(&meta.body),
            _ => {
                let header = CollectionHeader::decode(&meta.body).unwrap_or_default();
                h.update(header.count.to_be_bytes());
                // `extra` (list head/tail indexes) depends on push history, not on contents.
                if let Some(state) = state() {
                    h.update(self.elements_digest(meta, state));
                }
            }
        }
        h.finalize().into()
    }
}

fn xor_into(acc: &mut Digest20, d: &Digest20) {
    for (a, b) in acc.iter_mut().zip(d) {
        *a ^= b;
    }
}

impl Storage {
    /// Digest of every live key of every logical database.
    pub fn digest(&self) -> Result<Digest20, StorageError> {
        let mut acc = [0u8; 20];
        let now = now_ms();
        for db in 0..self.databases() {
            let pdb = self.physical(db)?;
            let lower = codec::db_lower_bound(pdb);
            let upper = codec::db_upper_bound(pdb);
            let mut cur = self.engine.range(Cf::Meta, &lower, Some(&upper));
            while let Some((k, v)) = cur.current() {
                if let Some(meta) = MetaValue::decode(v).filter(|m| !m.is_expired(now)) {
                    let user_key = &k[codec::KEY_PREFIX_LEN..];
                    let state = || {
                        Some(KeyState {
                            pdb,
                            slot: codec::decode_meta_key(k)?.1,
                            meta_key: k.to_vec(),
                            stored: Some(meta.clone()),
                            now_ms: now,
                        })
                    };
                    let mut h = Sha1::new();
                    h.update((db as u32).to_be_bytes());
                    h.update(user_key);
                    h.update(self.value_digest(&meta, state));
                    h.update(meta.expire_ms.to_be_bytes());
                    xor_into(&mut acc, &h.finalize().into());
                }
                cur.advance();
            }
            cur.status()?;
        }
        Ok(acc)
    }

    /// Digest of one key's value (zeros when the key does not exist).
    pub fn digest_value(&self, db: usize, key: &[u8]) -> Result<Digest20, StorageError> {
        let state = self.load(db, key)?;
        Ok(match state.live().cloned() {
            Some(meta) => self.value_digest(&meta, || Some(state)),
            None => [0u8; 20],
        })
    }
}
