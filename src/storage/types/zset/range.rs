//! Ranges of a sorted set: by rank, by score and by lexicographic member order, read
//! (ZRANGE and its older forms, ZCOUNT, ZLEXCOUNT) or removed (ZREMRANGEBY*).

use std::cmp::Ordering;

use super::{after_score, split_score_key, stored_score, ScoredMember};
use crate::storage::codec::{encode_score, Cf, DataType};
use crate::storage::collection::{elements_from_in, elements_in, Collection, ElementCursor};
use crate::storage::engine::ReadView;
use crate::storage::lazy::{LazyItems, ReadRange, Step, Walk, DIRECT_ITEMS_MAX};
use crate::storage::types::Zsets;
use crate::storage::StorageError;

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

impl Zsets<'_> {
    /// ZRANGE by rank (Redis index rules: negative counts from the end), in the requested
    /// direction. Walks from whichever end of the order is nearer.
    pub fn range_by_rank(
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
            self.walk(c, true, (len - 1 - b) as u64, take)?
        } else {
            self.walk(c, false, a as u64, take)?
        };
        if from_end != reverse {
            out.reverse();
        }
        Ok(out)
    }

    /// Score-range walk: calls `f` with each entry in range (in the requested direction)
    /// until it returns false.
    fn score_walk(
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
    pub fn range_by_score(
        &self,
        c: &Collection,
        range: &ScoreRange,
        reverse: bool,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<ScoredMember>, StorageError> {
        collect_limited(c, offset, limit, |f| self.score_walk(c, range, reverse, f))
    }

    /// ZRANGE and its older forms, for a reply: the members in the requested order. A big
    /// result is read lazily from a snapshot (see [`lazy`](crate::storage::lazy)); score and lex ranges,
    /// whose size the header does not tell, are first counted in a walk of that snapshot.
    pub fn range(
        &self,
        key: &[u8],
        query: &ZRangeQuery,
        reverse: bool,
    ) -> Result<ReadRange<ScoredMember>, StorageError> {
        let c = match query {
            ZRangeQuery::Rank(start, end) => {
                let Some((c, body)) = self.read_with_body(self.db, key, DataType::ZSet)? else {
                    return Ok(ReadRange::empty());
                };
                let Some((a, b)) = rank_span(c.len(), *start, *end, reverse) else {
                    return Ok(ReadRange::empty());
                };
                if let Some(held) = body.as_deref().and_then(|w| w.zset_ranks(c.len(), a, b)) {
                    let owned = |(m, s): (bytes::Bytes, f64)| (m.to_vec(), s);
                    return Ok(ReadRange::Whole(if reverse {
                        held.into_iter().rev().map(owned).collect()
                    } else {
                        held.into_iter().map(owned).collect()
                    }));
                }
                c
            }
            _ => match self.read(key)? {
                Some(c) => c,
                None => return Ok(ReadRange::empty()),
            },
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
                        let items = self.range_by_rank(&c, *start, *end, reverse)?;
                        return Ok(ReadRange::Whole(items));
                    }
                    true
                }
            },
            _ => true,
        };
        if walk_first {
            let Some(walk) = self.range_walk(&ReadView::Live(&self.engine), &c, query, reverse)
            else {
                return Ok(ReadRange::empty());
            };
            if let Some(items) = walk.collect_small(scored_size)? {
                return Ok(ReadRange::Whole(items));
            }
        }
        let snap = self.engine.snapshot();
        let Some(c) = self.read_collection_in(&snap, self.db, key, DataType::ZSet)? else {
            return Ok(ReadRange::empty());
        };
        let view = ReadView::Snapshot(snap);
        let len = match (query, self.range_walk(&view, &c, query, reverse)) {
            (_, None) => return Ok(ReadRange::empty()),
            (ZRangeQuery::Rank(start, end), Some(_)) => {
                rank_span(c.len(), *start, *end, reverse).map_or(0, |(a, b)| b - a + 1)
            }
            (_, Some(walk)) => walk.count()?,
        };
        match self.range_walk(&view, &c, query, reverse) {
            Some(walk) => Ok(ReadRange::Lazy(LazyItems::new(len, walk))),
            None => Ok(ReadRange::empty()),
        }
    }

    /// The walk that yields the result of `query` in `view`; `None` when it is empty
    /// (LIMIT rules of score and lex ranges: a negative offset gives nothing, a negative
    /// count means no limit).
    fn range_walk<'s>(
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
    pub fn count(&self, c: &Collection, range: &ScoreRange) -> Result<u64, StorageError> {
        let mut n = 0;
        self.score_walk(c, range, false, |_, _| {
            n += 1;
            true
        })?;
        Ok(n)
    }

    /// Lex-range walk over the member index, in the requested direction.
    fn lex_walk(
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
    pub fn range_by_lex(
        &self,
        c: &Collection,
        range: &LexRange,
        reverse: bool,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<ScoredMember>, StorageError> {
        collect_limited(c, offset, limit, |f| self.lex_walk(c, range, reverse, f))
    }

    /// ZLEXCOUNT.
    pub fn lex_count(&self, c: &Collection, range: &LexRange) -> Result<u64, StorageError> {
        let mut n = 0;
        self.lex_walk(c, range, false, |_, _| {
            n += 1;
            true
        })?;
        Ok(n)
    }

    /// ZREMRANGEBYRANK.
    pub fn remove_range_by_rank(
        &self,
        key: &[u8],
        start: i64,
        end: i64,
    ) -> Result<u64, StorageError> {
        self.remove_range(key, |st, c| st.range_by_rank(c, start, end, false))
    }

    /// Removes the entries `range` selects from the zset at `key`; how many were removed.
    fn remove_range(
        &self,
        key: &[u8],
        range: impl FnOnce(&Self, &Collection) -> Result<Vec<ScoredMember>, StorageError>,
    ) -> Result<u64, StorageError> {
        let Some(c) = self.read(key)? else {
            return Ok(0);
        };
        let entries = range(self, &c)?;
        let n = entries.len() as u64;
        self.delete_entries(c, &entries)?;
        Ok(n)
    }

    /// ZREMRANGEBYSCORE.
    pub fn remove_range_by_score(
        &self,
        key: &[u8],
        range: &ScoreRange,
    ) -> Result<u64, StorageError> {
        self.remove_range(key, |st, c| st.range_by_score(c, range, false, 0, -1))
    }

    /// ZREMRANGEBYLEX.
    pub fn remove_range_by_lex(&self, key: &[u8], range: &LexRange) -> Result<u64, StorageError> {
        self.remove_range(key, |st, c| st.range_by_lex(c, range, false, 0, -1))
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
