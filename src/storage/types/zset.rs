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

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::storage::codec::{decode_score, encode_score, Cf, DataType};
use crate::storage::collection::{
    elements_from_in, elements_in, Collection, ElementCursor, EncodingLimits,
};
use crate::storage::engine::ReadView;
use crate::storage::lazy::{LazyItems, ReadRange, Step, Walk, DIRECT_ITEMS_MAX};
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

/// A score interval with optionally exclusive ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub min_ex: bool,
    pub max: f64,
    pub max_ex: bool,
}

impl ScoreRange {
    fn above_min(&self, s: f64) -> bool {
        if self.min_ex {
            s > self.min
        } else {
            s >= self.min
        }
    }

    fn below_max(&self, s: f64) -> bool {
        if self.max_ex {
            s < self.max
        } else {
            s <= self.max
        }
    }

    /// True when no score can be inside.
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.min_ex || self.max_ex))
    }
}

/// One end of a lexicographic range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every member.
    NegInf,
    /// `+`: above every member.
    PosInf,
    /// `[member`.
    Incl(Vec<u8>),
    /// `(member`.
    Excl(Vec<u8>),
}

/// A lexicographic member interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    fn above_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(b) => m >= b.as_slice(),
            LexBound::Excl(b) => m > b.as_slice(),
        }
    }

    fn below_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(b) => m <= b.as_slice(),
            LexBound::Excl(b) => m < b.as_slice(),
        }
    }

    /// True when no member can be inside.
    pub fn is_empty(&self) -> bool {
        if self.min == LexBound::PosInf || self.max == LexBound::NegInf {
            return true;
        }
        let key = |b: &LexBound| -> (u8, Vec<u8>) {
            match b {
                LexBound::NegInf => (0, Vec::new()),
                LexBound::Incl(v) | LexBound::Excl(v) => (1, v.clone()),
                LexBound::PosInf => (2, Vec::new()),
            }
        };
        let exclusive =
            matches!(self.min, LexBound::Excl(_)) || matches!(self.max, LexBound::Excl(_));
        match key(&self.min).cmp(&key(&self.max)) {
            Ordering::Greater => true,
            Ordering::Equal => exclusive,
            Ordering::Less => false,
        }
    }

    /// Where a forward walk of the member index starts.
    fn start(&self) -> &[u8] {
        match &self.min {
            LexBound::Incl(b) | LexBound::Excl(b) => b,
            _ => b"",
        }
    }
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

/// The cursor a score-range walk starts with, in `view`; `None` when nothing can be in range.
fn score_cursor<'s>(
    view: &ReadView<'s>,
    c: &Collection,
    range: &ScoreRange,
    reverse: bool,
) -> Option<ElementCursor<'s>> {
    if range.is_empty() {
        return None;
    }
    if reverse {
        let from = if range.max_ex {
            Some(encode_score(range.max))
        } else {
            after_score(range.max)
        };
        Some(match from {
            Some(k) => elements_from_in(view, Cf::ZScore, c, &k, true),
            None => elements_in(view, Cf::ZScore, c, true),
        })
    } else {
        let from = if range.min_ex {
            after_score(range.min)
        } else {
            Some(encode_score(range.min))
        };
        from.map(|k| elements_from_in(view, Cf::ZScore, c, &k, false))
    }
}

/// The cursor a lex-range walk starts with, in `view`; `None` when nothing can be in range.
fn lex_cursor<'s>(
    view: &ReadView<'s>,
    c: &Collection,
    range: &LexRange,
    reverse: bool,
) -> Option<ElementCursor<'s>> {
    if range.is_empty() {
        return None;
    }
    Some(if reverse {
        match &range.max {
            LexBound::Incl(b) | LexBound::Excl(b) => elements_from_in(view, Cf::ZSet, c, b, true),
            _ => elements_in(view, Cf::ZSet, c, true),
        }
    } else {
        elements_from_in(view, Cf::ZSet, c, range.start(), false)
    })
}

/// What ZRANGE and its older forms ask for.
#[derive(Debug, Clone)]
pub enum ZRangeQuery {
    /// Inclusive ranks (negative counts from the end).
    Rank(i64, i64),
    /// Scores, with LIMIT offset and count (a negative count: no limit).
    Score(ScoreRange, i64, i64),
    /// Members of equal score, with LIMIT offset and count.
    Lex(LexRange, i64, i64),
}

/// The forward ranks `[a, b]` a rank query selects in a zset of `len` members (for `reverse`,
/// counted from the end as Redis does); `None` when empty.
fn rank_span(len: u64, start: i64, end: i64, reverse: bool) -> Option<(u64, u64)> {
    let len = len as i64;
    let start = if start < 0 { start + len } else { start }.max(0);
    let end = if end < 0 { end + len } else { end };
    if start > end || start >= len {
        return None;
    }
    let end = end.min(len - 1);
    let (a, b) = if reverse {
        (len - 1 - end, len - 1 - start)
    } else {
        (start, end)
    };
    Some((a as u64, b as u64))
}

/// A walk of the score index yielding (member, score).
fn rank_step(sub: &[u8], _: &[u8]) -> Result<Step<ScoredMember>, StorageError> {
    let (score, member) = split_score_key(sub)?;
    Ok(Step::Yield((member.to_vec(), score)))
}

/// A score-range walk's step: members before the range are passed, the first one after it
/// ends the walk.
fn score_step(
    range: ScoreRange,
    reverse: bool,
) -> impl FnMut(&[u8], &[u8]) -> Result<Step<ScoredMember>, StorageError> + Send {
    move |sub: &[u8], _: &[u8]| {
        let (score, member) = split_score_key(sub)?;
        let (inside_start, inside_end) = if reverse {
            (range.below_max(score), range.above_min(score))
        } else {
            (range.above_min(score), range.below_max(score))
        };
        Ok(match (inside_start, inside_end) {
            (false, _) => Step::Pass,
            (true, false) => Step::Stop,
            (true, true) => Step::Yield((member.to_vec(), score)),
        })
    }
}

/// A lex-range walk's step over the member index (same rules as [`score_step`]).
fn lex_step(
    range: LexRange,
    reverse: bool,
) -> impl FnMut(&[u8], &[u8]) -> Result<Step<ScoredMember>, StorageError> + Send {
    move |member: &[u8], value: &[u8]| {
        let (inside_start, inside_end) = if reverse {
            (range.below_max(member), range.above_min(member))
        } else {
            (range.above_min(member), range.below_max(member))
        };
        Ok(match (inside_start, inside_end) {
            (false, _) => Step::Pass,
            (true, false) => Step::Stop,
            (true, true) => Step::Yield((member.to_vec(), stored_score(value)?)),
        })
    }
}

/// The step of a range walk, boxed so that every query kind walks with one type.
type StepFn = Box<dyn FnMut(&[u8], &[u8]) -> Result<Step<ScoredMember>, StorageError> + Send>;

/// The bytes an entry of a result takes, for the direct read's budget.
fn scored_size(item: &ScoredMember) -> usize {
    item.0.len() + 8
}

/// A source of ZUNION/ZINTER/ZDIFF: a sorted set, or a set whose members score 1.
pub struct OpSource {
    c: Collection,
    is_set: bool,
}

impl OpSource {
    /// Number of members.
    pub fn len(&self) -> u64 {
        self.c.len()
    }

    /// True when the source has no member.
    pub fn is_empty(&self) -> bool {
        self.c.is_empty()
    }
}

impl Storage {
    pub(in crate::storage) fn zset_limits(&self) -> (u64, u64) {
        (
            EncodingLimits::get(&self.limits.zset_max_listpack_entries),
            EncodingLimits::get(&self.limits.zset_max_listpack_value),
        )
    }

    /// The live zset at `key` for reading; `None` when absent.
    pub fn zset(&self, db: usize, key: &[u8]) -> Result<Option<Collection>, StorageError> {
        self.read_collection(db, key, DataType::ZSet)
    }

    /// ZADD / ZINCRBY: one multi-get of the members' scores and one batch.
    pub fn zadd(
        &self,
        db: usize,
        key: &[u8],
        pairs: &[(f64, &[u8])],
        f: ZaddFlags,
    ) -> Result<ZaddOutcome, StorageError> {
        let mut c = self.write_collection(db, key, DataType::ZSet)?;
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
    pub fn zrem(&self, db: usize, key: &[u8], members: &[&[u8]]) -> Result<u64, StorageError> {
        let Some(mut c) = self.zset(db, key)? else {
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
    fn zdelete_entries(
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
    pub fn zscore(&self, c: &Collection, member: &[u8]) -> Result<Option<f64>, StorageError> {
        match self.element_get(Cf::ZSet, c, member)? {
            Some(raw) => Ok(Some(stored_score(&raw)?)),
            None => Ok(None),
        }
    }

    /// ZMSCORE.
    pub fn zmscore(
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
    pub fn zrank(
        &self,
        c: &Collection,
        member: &[u8],
        reverse: bool,
    ) -> Result<Option<u64>, StorageError> {
        let Some(score) = self.zscore(c, member)? else {
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
    fn zwalk(
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

    /// ZRANGE by rank (Redis index rules: negative counts from the end), in the requested
    /// direction. Walks from whichever end of the order is nearer.
    pub fn zrange_by_rank(
        &self,
        c: &Collection,
        start: i64,
        end: i64,
        reverse: bool,
    ) -> Result<Vec<ScoredMember>, StorageError> {
        let len = c.len() as i64;
        let (mut start, mut end) = (start, end);
        if start < 0 {
            start += len;
        }
        if end < 0 {
            end += len;
        }
        if start < 0 {
            start = 0;
        }
        if start > end || start >= len {
            return Ok(Vec::new());
        }
        if end >= len {
            end = len - 1;
        }
        // Forward ranks [a, b] of the wanted entries.
        let (a, b) = if reverse {
            (len - 1 - end, len - 1 - start)
        } else {
            (start, end)
        };
        let take = (b - a + 1) as u64;
        let from_end = a > len - 1 - b;
        let mut out = if from_end {
            self.zwalk(c, true, (len - 1 - b) as u64, take)?
        } else {
            self.zwalk(c, false, a as u64, take)?
        };
        if from_end != reverse {
            out.reverse();
        }
        Ok(out)
    }

    /// Score-range walk: calls `f` with each entry in range (in the requested direction)
    /// until it returns false.
    fn zscore_walk(
        &self,
        c: &Collection,
        range: &ScoreRange,
        reverse: bool,
        mut f: impl FnMut(&[u8], f64) -> bool,
    ) -> Result<(), StorageError> {
        let Some(mut cur) = score_cursor(&ReadView::Live(&self.engine), c, range, reverse) else {
            return Ok(());
        };
        while let Some((sub, _)) = cur.current() {
            let (score, member) = split_score_key(sub)?;
            let (inside_start, inside_end) = if reverse {
                (range.below_max(score), range.above_min(score))
            } else {
                (range.above_min(score), range.below_max(score))
            };
            if inside_start && (!inside_end || !f(member, score)) {
                break;
            }
            cur.advance();
        }
        cur.status()
    }

    /// ZRANGEBYSCORE with LIMIT semantics: a negative `offset` gives nothing, a negative
    /// `limit` means no limit.
    pub fn zrange_by_score(
        &self,
        c: &Collection,
        range: &ScoreRange,
        reverse: bool,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<ScoredMember>, StorageError> {
        collect_limited(c, offset, limit, |f| self.zscore_walk(c, range, reverse, f))
    }

    /// ZRANGE and its older forms, for a reply: the members in the requested order. A big
    /// result is read lazily from a snapshot (see [`lazy`](crate::storage::lazy)); score and lex ranges,
    /// whose size the header does not tell, are first counted in a walk of that snapshot.
    pub fn zrange_reply(
        &self,
        db: usize,
        key: &[u8],
        query: &ZRangeQuery,
        reverse: bool,
    ) -> Result<ReadRange<ScoredMember>, StorageError> {
        let Some(c) = self.zset(db, key)? else {
            return Ok(ReadRange::empty());
        };
        let walk_first = match query {
            ZRangeQuery::Rank(start, end) => match rank_span(c.len(), *start, *end, reverse) {
                None => return Ok(ReadRange::empty()),
                Some((a, b)) if b - a >= DIRECT_ITEMS_MAX => false,
                Some((a, b)) => {
                    // The walk starts at the end the order is read from; when the other end
                    // is nearer, walking from there and reversing skips less.
                    let skip = if reverse { c.len() - 1 - b } else { a };
                    if skip > a.min(c.len() - 1 - b) {
                        let items = self.zrange_by_rank(&c, *start, *end, reverse)?;
                        return Ok(ReadRange::Whole(items));
                    }
                    true
                }
            },
            _ => true,
        };
        if walk_first {
            let Some(walk) = self.zrange_walk(&ReadView::Live(&self.engine), &c, query, reverse)
            else {
                return Ok(ReadRange::empty());
            };
            if let Some(items) = walk.collect_small(scored_size)? {
                return Ok(ReadRange::Whole(items));
            }
        }
        let snap = self.engine.snapshot();
        let Some(c) = self.read_collection_in(&snap, db, key, DataType::ZSet)? else {
            return Ok(ReadRange::empty());
        };
        let view = ReadView::Snapshot(snap);
        let len = match (query, self.zrange_walk(&view, &c, query, reverse)) {
            (_, None) => return Ok(ReadRange::empty()),
            (ZRangeQuery::Rank(start, end), Some(_)) => {
                rank_span(c.len(), *start, *end, reverse).map_or(0, |(a, b)| b - a + 1)
            }
            (_, Some(walk)) => walk.count()?,
        };
        match self.zrange_walk(&view, &c, query, reverse) {
            Some(walk) => Ok(ReadRange::Lazy(LazyItems::new(len, walk))),
            None => Ok(ReadRange::empty()),
        }
    }

    /// The walk that yields the result of `query` in `view`; `None` when it is empty
    /// (LIMIT rules of score and lex ranges: a negative offset gives nothing, a negative
    /// count means no limit).
    fn zrange_walk<'s>(
        &self,
        view: &ReadView<'s>,
        c: &Collection,
        query: &ZRangeQuery,
        reverse: bool,
    ) -> Option<Walk<'s, StepFn>> {
        let limited = |offset: i64, limit: i64| {
            let empty = offset < 0 || limit == 0 || (offset > 0 && offset as u64 >= c.len());
            let take = if limit < 0 { u64::MAX } else { limit as u64 };
            (!empty).then_some((offset as u64, take))
        };
        Some(match query {
            ZRangeQuery::Rank(start, end) => {
                let (a, b) = rank_span(c.len(), *start, *end, reverse)?;
                let skip = if reverse { c.len() - 1 - b } else { a };
                let cur = elements_in(view, Cf::ZScore, c, reverse);
                Walk::new(cur, b - a + 1, Box::new(rank_step) as StepFn).skip_entries(skip)
            }
            ZRangeQuery::Score(range, offset, limit) => {
                let (skip, take) = limited(*offset, *limit)?;
                let cur = score_cursor(view, c, range, reverse)?;
                Walk::new(cur, take, Box::new(score_step(*range, reverse)) as StepFn)
                    .skip_items(skip)
            }
            ZRangeQuery::Lex(range, offset, limit) => {
                let (skip, take) = limited(*offset, *limit)?;
                let cur = lex_cursor(view, c, range, reverse)?;
                Walk::new(
                    cur,
                    take,
                    Box::new(lex_step(range.clone(), reverse)) as StepFn,
                )
                .skip_items(skip)
            }
        })
    }

    /// ZCOUNT.
    pub fn zcount(&self, c: &Collection, range: &ScoreRange) -> Result<u64, StorageError> {
        let mut n = 0;
        self.zscore_walk(c, range, false, |_, _| {
            n += 1;
            true
        })?;
        Ok(n)
    }

    /// Lex-range walk over the member index, in the requested direction.
    fn zlex_walk(
        &self,
        c: &Collection,
        range: &LexRange,
        reverse: bool,
        mut f: impl FnMut(&[u8], f64) -> bool,
    ) -> Result<(), StorageError> {
        let Some(mut cur) = lex_cursor(&ReadView::Live(&self.engine), c, range, reverse) else {
            return Ok(());
        };
        while let Some((member, value)) = cur.current() {
            let (inside_start, inside_end) = if reverse {
                (range.below_max(member), range.above_min(member))
            } else {
                (range.above_min(member), range.below_max(member))
            };
            if inside_start && (!inside_end || !f(member, stored_score(value)?)) {
                break;
            }
            cur.advance();
        }
        cur.status()
    }

    /// ZRANGEBYLEX with LIMIT (same offset/limit rules as by score).
    pub fn zrange_by_lex(
        &self,
        c: &Collection,
        range: &LexRange,
        reverse: bool,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<ScoredMember>, StorageError> {
        collect_limited(c, offset, limit, |f| self.zlex_walk(c, range, reverse, f))
    }

    /// ZLEXCOUNT.
    pub fn zlexcount(&self, c: &Collection, range: &LexRange) -> Result<u64, StorageError> {
        let mut n = 0;
        self.zlex_walk(c, range, false, |_, _| {
            n += 1;
            true
        })?;
        Ok(n)
    }

    /// ZREMRANGEBYRANK.
    pub fn zremrange_by_rank(
        &self,
        db: usize,
        key: &[u8],
        start: i64,
        end: i64,
    ) -> Result<u64, StorageError> {
        self.zremove_range(db, key, |st, c| st.zrange_by_rank(c, start, end, false))
    }

    /// Removes the entries `range` selects from the zset at `key`; how many were removed.
    fn zremove_range(
        &self,
        db: usize,
        key: &[u8],
        range: impl FnOnce(&Self, &Collection) -> Result<Vec<ScoredMember>, StorageError>,
    ) -> Result<u64, StorageError> {
        let Some(c) = self.zset(db, key)? else {
            return Ok(0);
        };
        let entries = range(self, &c)?;
        let n = entries.len() as u64;
        self.zdelete_entries(c, &entries)?;
        Ok(n)
    }

    /// ZREMRANGEBYSCORE.
    pub fn zremrange_by_score(
        &self,
        db: usize,
        key: &[u8],
        range: &ScoreRange,
    ) -> Result<u64, StorageError> {
        self.zremove_range(db, key, |st, c| st.zrange_by_score(c, range, false, 0, -1))
    }

    /// ZREMRANGEBYLEX.
    pub fn zremrange_by_lex(
        &self,
        db: usize,
        key: &[u8],
        range: &LexRange,
    ) -> Result<u64, StorageError> {
        self.zremove_range(db, key, |st, c| st.zrange_by_lex(c, range, false, 0, -1))
    }

    /// ZPOPMIN / ZPOPMAX of up to `count` entries; `None` when the key is absent.
    pub fn zpop(
        &self,
        db: usize,
        key: &[u8],
        max: bool,
        count: u64,
    ) -> Result<Option<Vec<ScoredMember>>, StorageError> {
        let Some(c) = self.zset(db, key)? else {
            return Ok(None);
        };
        let entries = self.zwalk(&c, max, 0, count)?;
        self.zdelete_entries(c, &entries)?;
        Ok(Some(entries))
    }

    /// Every entry in order (ZRANDMEMBER with a large count, ZUNION inputs).
    pub fn zall(&self, c: &Collection) -> Result<Vec<ScoredMember>, StorageError> {
        self.zwalk(c, false, 0, u64::MAX)
    }

    /// One ZSCAN step: (next cursor, member/score pairs).
    pub fn zscan(
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

    /// A ZUNION/ZINTER/ZDIFF input: a zset or a set; `None` when absent, `WrongType` otherwise.
    pub fn zop_source(&self, db: usize, key: &[u8]) -> Result<Option<OpSource>, StorageError> {
        let state = self.load(db, key)?;
        let t = match state.live() {
            None => return Ok(None),
            Some(m) => m.data_type,
        };
        if t != DataType::ZSet && t != DataType::Set {
            return Err(StorageError::WrongType);
        }
        let c = self.collection_for_write(state, t)?;
        Ok(Some(OpSource {
            c,
            is_set: t == DataType::Set,
        }))
    }

    /// Every member of a source with its score (1 for set members), in the source's order.
    pub fn zop_all(&self, src: &OpSource) -> Result<Vec<ScoredMember>, StorageError> {
        if !src.is_set {
            return self.zall(&src.c);
        }
        let mut cur = self.elements(Cf::Set, &src.c, false);
        let mut out = Vec::with_capacity(src.c.len().min(1 << 16) as usize);
        while let Some((member, _)) = cur.current() {
            out.push((member.to_vec(), 1.0));
            cur.advance();
        }
        cur.status()?;
        Ok(out)
    }

    /// The scores of `members` in a source (1 for members of a set), `None` when absent.
    pub fn zop_scores(
        &self,
        src: &OpSource,
        members: &[&[u8]],
    ) -> Result<Vec<Option<f64>>, StorageError> {
        if src.is_set {
            return Ok(self
                .element_multi_get(Cf::Set, &src.c, members)?
                .into_iter()
                .map(|v| v.map(|_| 1.0))
                .collect());
        }
        self.zmscore(&src.c, members)
    }

    /// Replaces `dest` (whatever it holds) with a zset of `entries` (distinct members); an
    /// empty result deletes it. Returns the new size.
    pub fn zstore(
        &self,
        db: usize,
        dest: &[u8],
        entries: &[ScoredMember],
    ) -> Result<u64, StorageError> {
        let mut c = self.replace_collection(db, dest, DataType::ZSet)?;
        let mut txn = self.txn();
        self.fill_zset(&mut txn, &mut c, entries);
        txn.store_collection(&c);
        txn.commit()?;
        Ok(c.header.count)
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

/// The members a range walk visits after skipping `offset`, at most `limit` of them (negative:
/// no limit); a negative offset gives nothing (ZRANGEBYSCORE/BYLEX LIMIT rules).
fn collect_limited(
    c: &Collection,
    offset: i64,
    limit: i64,
    walk: impl FnOnce(&mut dyn FnMut(&[u8], f64) -> bool) -> Result<(), StorageError>,
) -> Result<Vec<ScoredMember>, StorageError> {
    let mut out = Vec::new();
    if offset < 0 || limit == 0 || (offset > 0 && offset as u64 >= c.len()) {
        return Ok(out);
    }
    let mut skip = offset;
    walk(&mut |member, score| {
        if skip > 0 {
            skip -= 1;
            return true;
        }
        out.push((member.to_vec(), score));
        limit < 0 || (out.len() as i64) < limit
    })?;
    Ok(out)
}
