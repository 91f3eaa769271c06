//! Whole values in and out of the store, as plain `dataset::Value`s: DUMP reads one,
//! RESTORE writes one (with its deadline) in a single batch, and the tools read databases
//! through the same path.

use std::collections::HashSet;

use super::codec::{self, Cf, DataType, MetaValue};
use super::types::sort::fill_list;
use super::types::Keyspace;
use super::StorageError;
use crate::dataset::Value;

/// Why RESTORE refused to write.
#[derive(Debug, PartialEq, Eq)]
pub enum RestoreRefusal {
    /// The key exists and REPLACE was not given.
    BusyKey,
    /// A set member, hash field or sorted-set member appears twice.
    Duplicates,
}

impl Keyspace<'_> {
    /// DUMP (and the tools' readers): the live value of `key` and its deadline (Unix ms,
    /// 0 = none); `None` when missing.
    pub fn value(&self, key: &[u8]) -> Result<Option<(Value, u64)>, StorageError> {
        let state = self.load(self.db, key)?;
        let Some(meta) = state.live().cloned() else {
            return Ok(None);
        };
        let t = meta.data_type;
        let value = match t {
            DataType::String => Value::String(meta.body.to_vec()),
            DataType::Stream => match (**self).stream().export_key(key)? {
                Some(stream) => Value::Stream(Box::new(stream)),
                None => return Ok(None),
            },
            _ => {
                let Some(c) = self.collection_from(state, t)? else {
                    return Ok(None);
                };
                let cf = match t {
                    DataType::Hash => Cf::Hash,
                    DataType::Set => Cf::Set,
                    DataType::List => Cf::List,
                    _ => Cf::ZSet,
                };
                let mut value = match t {
                    DataType::Hash => Value::Hash(Vec::new()),
                    DataType::Set => Value::Set(Vec::new()),
                    DataType::List => Value::List(Vec::new()),
                    _ => Value::ZSet(Vec::new()),
                };
                let mut cur = self.elements(cf, &c, false);
                while let Some((sub, val)) = cur.current() {
                    match &mut value {
                        Value::Hash(v) => v.push((sub.to_vec(), val.to_vec())),
                        Value::Set(v) => v.push(sub.to_vec()),
                        Value::List(v) => v.push(val.to_vec()),
                        Value::ZSet(v) => v.push((
                            sub.to_vec(),
                            codec::decode_score(val)
                                .ok_or_else(|| StorageError::Corrupt("unreadable score".into()))?,
                        )),
                        Value::String(_) | Value::Stream(_) => {}
                    }
                    cur.advance();
                }
                cur.status()?;
                value
            }
        };
        Ok(Some((value, meta.expire_ms)))
    }

    /// RESTORE: stores `value` at `key` with deadline `expire_ms` (0 = none) in one batch,
    /// replacing what is there only with `replace`. A deadline already past stores nothing
    /// (and, with `replace`, deletes the old value), as in Redis.
    pub fn restore(
        &self,
        key: &[u8],
        value: &Value,
        expire_ms: u64,
        replace: bool,
    ) -> Result<Result<(), RestoreRefusal>, StorageError> {
        let state = self.load(self.db, key)?;
        if state.live().is_some() && !replace {
            return Ok(Err(RestoreRefusal::BusyKey));
        }
        if has_duplicates(value) {
            return Ok(Err(RestoreRefusal::Duplicates));
        }
        let past = expire_ms != 0 && expire_ms <= state.now_ms();
        let mut txn = self.txn();
        let t = match value {
            Value::String(s) => {
                if past {
                    txn.remove(&state);
                } else {
                    txn.put(&state, &MetaValue::string(s.clone().into(), expire_ms, 0));
                }
                txn.commit()?;
                return Ok(Ok(()));
            }
            Value::List(_) => DataType::List,
            Value::Set(_) => DataType::Set,
            Value::Hash(_) => DataType::Hash,
            Value::ZSet(_) => DataType::ZSet,
            Value::Stream(stream) => {
                if past {
                    txn.remove(&state);
                } else {
                    (**self)
                        .stream()
                        .import(&mut txn, state, stream, expire_ms)?;
                }
                txn.commit()?;
                return Ok(Ok(()));
            }
        };
        let mut c = self.fresh_collection(state, t);
        if !past {
            match value {
                Value::List(items) => fill_list(&mut txn, &mut c, items),
                Value::Set(members) => {
                    for m in members {
                        txn.put_element(Cf::Set, &c, m, b"");
                        c.header.count += 1;
                        self.note_added_member(&mut c, m);
                    }
                }
                Value::Hash(pairs) => {
                    for (f, v) in pairs {
                        txn.put_element(Cf::Hash, &c, f, v);
                        c.header.count += 1;
                    }
                    self.hash_check_encoding(
                        &mut c,
                        pairs.iter().flat_map(|(f, v)| [f.as_slice(), v.as_slice()]),
                    );
                }
                Value::ZSet(pairs) => self.fill_zset(&mut txn, &mut c, pairs),
                Value::String(_) | Value::Stream(_) => {}
            }
            c.expire_ms = expire_ms;
        }
        // An empty (or already expired) collection removes the key.
        txn.store_collection(&c);
        txn.commit()?;
        Ok(Ok(()))
    }
}

/// True when a set member, hash field or sorted-set member repeats (Redis refuses such
/// payloads; the element count must be exact).
fn has_duplicates(value: &Value) -> bool {
    fn repeats<'a>(items: impl ExactSizeIterator<Item = &'a [u8]>) -> bool {
        let n = items.len();
        items.collect::<HashSet<_>>().len() != n
    }
    match value {
        Value::String(_) | Value::List(_) | Value::Stream(_) => false,
        Value::Set(m) => repeats(m.iter().map(Vec::as_slice)),
        Value::Hash(p) => repeats(p.iter().map(|(f, _)| f.as_slice())),
        Value::ZSet(p) => repeats(p.iter().map(|(m, _)| m.as_slice())),
    }
}
