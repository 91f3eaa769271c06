//! The string type. A string lives inline in its key's meta record (see `codec`), so every
//! string operation is one point read and at most one write.

use bytes::Bytes;

use super::Strings;
use crate::storage::codec::{flags, MetaValue};
use crate::storage::{DataType, KeyState, StorageError};

/// What SET does with the key's time to live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TtlUpdate {
    /// Drop any TTL (plain SET).
    #[default]
    Clear,
    /// Keep the current TTL (KEEPTTL, and read-modify-write commands).
    Keep,
    /// Expire at this Unix time in milliseconds.
    At(u64),
}

/// SET's existence condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SetCondition {
    #[default]
    Always,
    IfAbsent,
    IfPresent,
}

/// Options of the generic SET.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetOptions {
    pub condition: SetCondition,
    pub ttl: TtlUpdate,
    /// Return the old value (SET ... GET); a non-string old value is then WRONGTYPE.
    pub get_old: bool,
}

/// Result of SET.
#[derive(Debug, Default)]
pub struct SetOutcome {
    pub written: bool,
    pub old: Option<Bytes>,
}

/// A new string value produced by [`Strings::edit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringEdit {
    pub value: Vec<u8>,
    /// Flag the value as Redis' `raw` encoding (edited in place).
    pub raw: bool,
}

/// The string value of a key state, WRONGTYPE for other types.
pub fn string_value(state: &KeyState) -> Result<Option<&Bytes>, StorageError> {
    Ok(state.live_of(DataType::String)?.map(|m| &m.body))
}

impl Strings<'_> {
    /// GET (and the reads of GETRANGE, STRLEN, MGET, GETBIT, BITCOUNT, BITPOS, BITFIELD).
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>, StorageError> {
        let state = self.load(self.db, key)?;
        let value = string_value(&state)?.cloned();
        self.count_lookup(value.is_some());
        Ok(value)
    }

    /// The generic SET behind SET, SETNX, SETEX, PSETEX and GETSET.
    pub fn set(
        &self,
        key: &[u8],
        value: Bytes,
        opts: SetOptions,
    ) -> Result<SetOutcome, StorageError> {
        let state = self.load(self.db, key)?;
        let old = if opts.get_old {
            string_value(&state)?.cloned()
        } else {
            None
        };
        let exists = state.live().is_some();
        let allowed = match opts.condition {
            SetCondition::Always => true,
            SetCondition::IfAbsent => !exists,
            SetCondition::IfPresent => exists,
        };
        if !allowed {
            return Ok(SetOutcome {
                written: false,
                old,
            });
        }
        let expire_ms = match opts.ttl {
            TtlUpdate::Clear => 0,
            TtlUpdate::Keep => state.live().map_or(0, |m| m.expire_ms),
            TtlUpdate::At(t) => t,
        };
        let mut txn = self.txn();
        if expire_ms != 0 && expire_ms <= state.now_ms() {
            // Setting an already-past deadline leaves no key behind, as in Redis.
            txn.remove(&state);
        } else {
            txn.put(&state, &MetaValue::string(value, expire_ms, 0));
        }
        txn.commit()?;
        Ok(SetOutcome { written: true, old })
    }

    /// INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT: read-modify-write of one string keeping its
    /// TTL. `f` gets the current value (None if absent) and returns the new one, or an error
    /// that aborts without writing. `raw` marks in-place edits that Redis reports as the `raw`
    /// encoding.
    pub fn update<E: From<StorageError>>(
        &self,
        key: &[u8],
        raw: bool,
        f: impl FnOnce(Option<&[u8]>) -> Result<Option<Vec<u8>>, E>,
    ) -> Result<Option<Bytes>, E> {
        self.edit(key, |current| {
            Ok(f(current)?.map(|value| StringEdit { value, raw }))
        })
    }

    /// APPEND, SETRANGE, SETBIT, BITFIELD: like [`Strings::update`], but `f` also decides
    /// whether the result is flagged raw (APPEND creates a plain value on a missing key but a
    /// raw one when it extends).
    pub fn edit<E: From<StorageError>>(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> Result<Option<StringEdit>, E>,
    ) -> Result<Option<Bytes>, E> {
        let state = self.load(self.db, key)?;
        let current = string_value(&state)?;
        let Some(edit) = f(current.map(|b| b.as_ref()))? else {
            return Ok(None);
        };
        let live = state.live();
        let expire_ms = live.map_or(0, |m| m.expire_ms);
        let mut fl = live.map_or(0, |m| m.flags);
        if edit.raw {
            fl |= flags::RAW_STRING;
        } else {
            fl &= !flags::RAW_STRING;
        }
        let new_value = Bytes::from(edit.value);
        let mut txn = self.txn();
        txn.put(&state, &MetaValue::string(new_value.clone(), expire_ms, fl));
        txn.commit()?;
        Ok(Some(new_value))
    }

    /// Replaces the key with a raw string value without TTL, whatever it held before (BITOP's
    /// destination); `None` deletes the key. Returns whether a live key existed before.
    pub fn replace(&self, key: &[u8], value: Option<Vec<u8>>) -> Result<bool, StorageError> {
        let state = self.load(self.db, key)?;
        let existed = state.live().is_some();
        let mut txn = self.txn();
        match value {
            Some(v) => txn.put(
                &state,
                &MetaValue::string(Bytes::from(v), 0, flags::RAW_STRING),
            ),
            None => txn.remove(&state),
        }
        txn.commit()?;
        Ok(existed)
    }

    /// MSET and MSETNX: sets every pair; with `only_if_all_absent`, nothing is set if any key
    /// exists. Returns whether the keys were set.
    pub fn set_many(
        &self,
        pairs: &[(&[u8], Bytes)],
        only_if_all_absent: bool,
    ) -> Result<bool, StorageError> {
        let mut states = Vec::with_capacity(pairs.len());
        for (key, _) in pairs {
            let state = self.load(self.db, key)?;
            if only_if_all_absent && state.live().is_some() {
                return Ok(false);
            }
            states.push(state);
        }
        let mut txn = self.txn();
        for ((state, (_, value)), last) in states.iter().zip(pairs).zip(last_of_each_key(pairs)) {
            if last {
                txn.put(state, &MetaValue::string(value.clone(), 0, 0));
            }
        }
        txn.commit()?;
        Ok(true)
    }

    /// GETDEL.
    pub fn get_delete(&self, key: &[u8]) -> Result<Option<Bytes>, StorageError> {
        let state = self.load(self.db, key)?;
        let Some(value) = string_value(&state)?.cloned() else {
            return Ok(None);
        };
        let mut txn = self.txn();
        txn.remove(&state);
        txn.commit()?;
        Ok(Some(value))
    }

    /// GETEX: returns the value and optionally changes its TTL (`Keep` leaves it alone).
    pub fn get_expire(&self, key: &[u8], ttl: TtlUpdate) -> Result<Option<Bytes>, StorageError> {
        let state = self.load(self.db, key)?;
        let Some(meta) = state.live_of(DataType::String)? else {
            return Ok(None);
        };
        let value = meta.body.clone();
        let new_expire = match ttl {
            TtlUpdate::Keep => return Ok(Some(value)),
            TtlUpdate::Clear => 0,
            TtlUpdate::At(t) => t,
        };
        if new_expire == meta.expire_ms {
            return Ok(Some(value));
        }
        let mut txn = self.txn();
        if new_expire != 0 && new_expire <= state.now_ms() {
            txn.remove(&state);
        } else {
            let mut updated = meta.clone();
            updated.expire_ms = new_expire;
            txn.put(&state, &updated);
        }
        txn.commit()?;
        Ok(Some(value))
    }
}

/// Whether each pair is the last of its key: of a key given twice the last value wins and the
/// key counter sees it once. A hash set, so an MSET of a million keys stays linear.
fn last_of_each_key(pairs: &[(&[u8], Bytes)]) -> Vec<bool> {
    let mut seen = std::collections::HashSet::with_capacity(pairs.len());
    let mut last: Vec<bool> = pairs.iter().rev().map(|(k, _)| seen.insert(*k)).collect();
    last.reverse();
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_pair_of_a_repeated_key_is_written() {
        let pairs: Vec<(&[u8], Bytes)> = vec![
            (b"a", Bytes::from_static(b"1")),
            (b"b", Bytes::from_static(b"2")),
            (b"a", Bytes::from_static(b"3")),
            (b"c", Bytes::from_static(b"4")),
            (b"a", Bytes::from_static(b"5")),
        ];
        assert_eq!(
            last_of_each_key(&pairs),
            vec![false, true, false, true, true]
        );
        assert!(last_of_each_key(&[]).is_empty());
    }
}
