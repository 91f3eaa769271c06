//! The sorted set type: members with double scores, ordered by (score, member).
//!
//! Every zset keeps two indexes of its elements, always written together in one batch:
//! ```text
//! cf "zset"    sub-key: member                          value: encode_score(score) (8 bytes)
//! cf "zscore"  sub-key: encode_score(score) | member    value: empty
//! ```
//! The member index answers point reads (ZSCORE, ZMSCORE, the existing score ZADD needs) and
//! lexicographic ranges (ZRANGEBYLEX and friends: Redis defines lex ranges only for members of
//! equal score, whose (score, member) order is the member order). The score index is the
//! sorted order itself: score ranges are a seek to `encode_score(min)`, rank ranges walk from
//! whichever end is nearer (the element count in the header tells how far the other end is),
//! and pops take the first or last entries. Nothing loads a whole zset unless the command
//! returns or combines all of it (ZUNION, ZRANDMEMBER with a large count).
//!
//! OBJECT ENCODING follows Redis: a zset is `skiplist` once it held more than
//! `zset-max-listpack-entries` members or a member longer than `zset-max-listpack-value`.

mod range;

use std::collections::HashMap;

pub use range::{LexBound, LexRange, ScoreRange, ZRangeQuery};

use super::Zsets;
use crate::storage::codec::{decode_score, encode_score, Cf, DataType};
use crate::storage::collection::{Collection, EncodingLimits};
use crate::storage::write::WriteTxn;
use crate::storage::{Storage, StorageError};

/// A member and its score.
pub type ScoredMember = (Vec<u8>, f64);

/// ZADD's flags (conflicts are rejected by the caller).
#[derive(Debug, Clone, Copy, Default)]
pub struct ZaddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub incr: bool,
}

/// What ZADD did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ZaddOutcome {
    /// `added` new members, `changed` existing members with a new score; with INCR, `score`
    /// is the member's new score (`None` when a flag prevented the update).
    Done {
        added: u64,
        changed: u64,
        score: Option<f64>,
    },
    /// INCR produced NaN (`inf` + `-inf`); nothing was written.
    NotANumber,
}

/// Sub-key of the score index.
fn score_key(score: f64, member: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + member.len());
    k.extend_from_slice(&encode_score(score));
    k.extend_from_slice(member);
    k
}

/// Splits a score-index sub-key into (score, member).
fn split_score_key(sub: &[u8]) -> Result<(f64, &[u8]), StorageError> {
    match decode_score(sub) {
        Some(s) => Ok((s, &sub[8..])),
        None => Err(StorageError::Corrupt("zset score index entry".into())),
    }
}

fn stored_score(raw: &[u8]) -> Result<f64, StorageError> {
    decode_score(raw).ok_or_else(|| StorageError::Corrupt("zset member score".into()))
}

/// The 8-byte key just above every sub-key that starts with `encode_score(s)`.
fn after_score(s: f64) -> Option<[u8; 8]> {
    u64::from_be_bytes(encode_score(s))
        .checked_add(1)
        .map(u64::to_be_bytes)
}

impl Storage {
    pub(in crate::storage) fn zset_limits(&self) -> (u64, u64) {
        (
            EncodingLimits::get(&self.limits.zset_max_listpack_entries),
            EncodingLimits::get(&self.limits.zset_max_listpack_value),
        )
    }

    /// Writes `entries` (distinct members) into the new, empty zset `c`, with its count and
    /// encoding.
    pub(in crate::storage) fn fill_zset(
        &self,
        txn: &mut WriteTxn<'_>,
        c: &mut Collection,
        entries: &[ScoredMember],
    ) {
        let (max_entries, max_value) = self.zset_limits();
        for (member, score) in entries {
            txn.put_element(Cf::ZScore, c, &score_key(*score, member), b"");
            txn.put_element(Cf::ZSet, c, member, &encode_score(*score));
            if member.len() as u64 > max_value {
                c.mark_large();
            }
        }
        c.header.count = entries.len() as u64;
        if c.header.count > max_entries {
            c.mark_large();
        }
    }
}

impl Zsets<'_> {
    /// The live zset at `key` for reading; `None` when absent.
    pub fn read(&self, key: &[u8]) -> Result<Option<Collection>, StorageError> {
        self.read_collection(self.db, key, DataType::ZSet)
    }

    /// ZADD / ZINCRBY: one multi-get of the members' scores and one batch.
    pub fn add(
        &self,
        key: &[u8],
        pairs: &[(f64, &[u8])],
        f: ZaddFlags,
    ) -> Result<ZaddOutcome, StorageError> {
        let mut c = self.write_collection(self.db, key, DataType::ZSet)?;
        let none = ZaddOutcome::Done {
            added: 0,
            changed: 0,
            score: None,
        };
        if !c.existed && f.xx {
            return Ok(none);
        }
        let current: Vec<Option<Vec<u8>>> = if c.existed {
            let members: Vec<&[u8]> = pairs.iter().map(|p| p.1).collect();
            self.element_multi_get(Cf::ZSet, &c, &members)?
        } else {
            vec![None; pairs.len()]
        };
        // Later pairs of one command see what earlier ones did to the same member.
        let mut pending: HashMap<&[u8], f64> = HashMap::new();
        let track = pairs.len() > 1;
        let (max_entries, max_value) = self.zset_limits();
        let mut txn = self.txn();
        let (mut added, mut changed) = (0u64, 0u64);
        let mut result = None;
        for (i, &(score, member)) in pairs.iter().enumerate() {
            let old = match pending.get(member) {
                Some(&s) => Some(s),
                None => match &current[i] {
                    Some(raw) => Some(stored_score(raw)?),
                    None => None,
                },
            };
            match old {
                Some(old) => {
                    if f.nx {
                        continue;
                    }
                    let new = if f.incr { old + score } else { score };
                    if new.is_nan() {
                        return Ok(ZaddOutcome::NotANumber);
                    }
                    if (f.gt && new <= old) || (f.lt && new >= old) {
                        continue;
                    }
                    if new != old {
                        txn.delete_element(Cf::ZScore, &c, &score_key(old, member));
                        txn.put_element(Cf::ZScore, &c, &score_key(new, member), b"");
                        txn.put_element(Cf::ZSet, &c, member, &encode_score(new));
                        changed += 1;
                        if track {
                            pending.insert(member, new);
                        }
                    }
                    result = Some(new);
                }
                None => {
                    if f.xx {
                        continue;
                    }
                    txn.put_element(Cf::ZScore, &c, &score_key(score, member), b"");
                    txn.put_element(Cf::ZSet, &c, member, &encode_score(score));
                    c.header.count += 1;
                    added += 1;
                    if member.len() as u64 > max_value {
                        c.mark_large();
                    }
                    if track {
                        pending.insert(member, score);
                    }
                    result = Some(score);
                }
            }
        }
        if added > 0 {
            if c.header.count > max_entries {
                c.mark_large();
            }
            txn.store_collection(&c);
        }
        txn.commit()?;
        Ok(ZaddOutcome::Done {
            added,
            changed,
            score: if f.incr { result } else { None },
        })
    }

    /// ZREM: removes the members present; returns how many.
    pub fn remove(&self, key: &[u8], members: &[&[u8]]) -> Result<u64, StorageError> {
        let Some(mut c) = self.read(key)? else {
            return Ok(0);
        };
        let current = self.element_multi_get(Cf::ZSet, &c, members)?;
        let mut txn = self.txn();
        let mut removed = 0;
        let mut seen: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
        for (member, raw) in members.iter().zip(current) {
            let Some(raw) = raw else { continue };
            if members.len() > 1 && !seen.insert(member) {
                continue;
            }
            let score = stored_score(&raw)?;
            txn.delete_element(Cf::ZScore, &c, &score_key(score, member));
            txn.delete_element(Cf::ZSet, &c, member);
            removed += 1;
        }
        if removed > 0 {
            c.header.count -= removed;
            txn.store_collection(&c);
            txn.commit()?;
        }
        Ok(removed)
    }

    /// Deletes `entries` (present members) from `c` in one batch.
    fn delete_entries(
        &self,
        mut c: Collection,
        entries: &[ScoredMember],
    ) -> Result<(), StorageError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut txn = self.txn();
        for (member, score) in entries {
            txn.delete_element(Cf::ZScore, &c, &score_key(*score, member));
            txn.delete_element(Cf::ZSet, &c, member);
        }
        c.header.count = c.header.count.saturating_sub(entries.len() as u64);
        txn.store_collection(&c);
        txn.commit()
    }

    /// ZSCORE.
    pub fn score(&self, c: &Collection, member: &[u8]) -> Result<Option<f64>, StorageError> {
        match self.element_get(Cf::ZSet, c, member)? {
            Some(raw) => Ok(Some(stored_score(&raw)?)),
            None => Ok(None),
        }
    }

    /// ZMSCORE.
    pub fn scores(
        &self,
        c: &Collection,
        members: &[&[u8]],
    ) -> Result<Vec<Option<f64>>, StorageError> {
        self.element_multi_get(Cf::ZSet, c, members)?
            .into_iter()
            .map(|raw| raw.map(|r| stored_score(&r)).transpose())
            .collect()
    }

    /// ZRANK / ZREVRANK: walks the order up to the member.
    pub fn rank(
        &self,
        c: &Collection,
        member: &[u8],
        reverse: bool,
    ) -> Result<Option<u64>, StorageError> {
        let Some(score) = self.score(c, member)? else {
            return Ok(None);
        };
        let target = score_key(score, member);
        let mut cur = self.elements(Cf::ZScore, c, false);
        let mut rank = 0u64;
        while let Some((sub, _)) = cur.current() {
            if sub >= target.as_slice() {
                break;
            }
            rank += 1;
            cur.advance();
        }
        cur.status()?;
        Ok(Some(if reverse {
            c.len().saturating_sub(1 + rank)
        } else {
            rank
        }))
    }

    /// `take` entries of the order after skipping `skip`, from the start or (backwards) from
    /// the end.
    fn walk(
        &self,
        c: &Collection,
        from_end: bool,
        skip: u64,
        take: u64,
    ) -> Result<Vec<ScoredMember>, StorageError> {
        let mut cur = self.elements(Cf::ZScore, c, from_end);
        let mut out = Vec::with_capacity(take.min(1024) as usize);
        let mut skipped = 0;
        while let Some((sub, _)) = cur.current() {
            if skipped < skip {
                skipped += 1;
            } else {
                if out.len() as u64 >= take {
                    break;
                }
                let (score, member) = split_score_key(sub)?;
                out.push((member.to_vec(), score));
            }
            cur.advance();
        }
        cur.status()?;
        Ok(out)
    }

    /// ZPOPMIN / ZPOPMAX of up to `count` entries; `None` when the key is absent.
    pub fn pop(
        &self,
        key: &[u8],
        max: bool,
        count: u64,
    ) -> Result<Option<Vec<ScoredMember>>, StorageError> {
        let Some(c) = self.read(key)? else {
            return Ok(None);
        };
        let entries = self.walk(&c, max, 0, count)?;
        self.delete_entries(c, &entries)?;
        Ok(Some(entries))
    }

    /// Every entry in order (ZRANDMEMBER with a large count, ZUNION inputs).
    pub fn all(&self, c: &Collection) -> Result<Vec<ScoredMember>, StorageError> {
        self.walk(c, false, 0, u64::MAX)
    }

    /// One ZSCAN step: (next cursor, member/score pairs).
    pub fn scan(
        &self,
        c: &Collection,
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
    ) -> Result<(u64, Vec<ScoredMember>), StorageError> {
        let (next, items) = self.scan_elements(Cf::ZSet, c, cursor, count, pattern)?;
        let items = items
            .into_iter()
            .map(|(m, v)| Ok((m, stored_score(&v)?)))
            .collect::<Result<Vec<_>, StorageError>>()?;
        Ok((next, items))
    }
}
