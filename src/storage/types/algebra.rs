//! The set and sorted-set algebra, side by side: SINTER/SUNION/SDIFF (and SINTERCARD, the
//! STORE forms) on the [`Sets`] view, and the sources and destination of
//! ZUNION/ZINTER/ZDIFF (and their STORE forms) on the [`Zsets`] view.
//!
//! Set algebra streams: intersections and differences walk one set and point-check the others
//! in batches, unions merge the sorted member cursors. Sorted-set algebra reads each source
//! (a zset, or a set whose members score 1) and the command combines the scores.

use super::zset::ScoredMember;
use super::{Sets, Zsets};
use crate::storage::codec::{Cf, DataType};
use crate::storage::collection::Collection;
use crate::storage::StorageError;

/// Candidates point-checked per multi-get in intersections and differences.
const CHECK_BATCH: usize = 256;

/// The set operations of SINTER, SUNION and SDIFF (and their STORE forms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetAlgebra {
    Inter,
    Union,
    Diff,
}

impl Sets<'_> {
    /// The source sets of SINTER/SUNION/SDIFF and their STORE forms, in argument order
    /// (`None` for missing keys); WRONGTYPE for the first key of another type.
    fn read_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Collection>>, StorageError> {
        keys.iter().map(|k| self.read(k)).collect()
    }

    /// Feeds every member of the intersection of `sets` to `emit` until it returns false.
    fn visit_inter(
        &self,
        sets: &[Option<Collection>],
        emit: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), StorageError> {
        let mut present: Vec<&Collection> = Vec::with_capacity(sets.len());
        for s in sets {
            match s {
                Some(c) => present.push(c),
                None => return Ok(()),
            }
        }
        present.sort_by_key(|c| c.len());
        let Some((smallest, others)) = present.split_first() else {
            return Ok(());
        };
        let others: Vec<&Collection> = others
            .iter()
            .copied()
            .filter(|o| o.prefix() != smallest.prefix())
            .collect();
        self.visit_filtered(smallest, &others, true, emit)
    }

    /// Walks `base` and feeds `emit` the members that are in every one of `others` (`inside`)
    /// or in none of them (`!inside`), checking candidates in batches.
    fn visit_filtered(
        &self,
        base: &Collection,
        others: &[&Collection],
        inside: bool,
        emit: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), StorageError> {
        let mut cur = self.elements(Cf::Set, base, false);
        loop {
            let mut batch: Vec<Vec<u8>> = Vec::with_capacity(CHECK_BATCH);
            while batch.len() < CHECK_BATCH {
                let Some((m, _)) = cur.current() else { break };
                batch.push(m.to_vec());
                cur.advance();
            }
            cur.status()?;
            if batch.is_empty() {
                return Ok(());
            }
            for other in others {
                if batch.is_empty() {
                    break;
                }
                let refs: Vec<&[u8]> = batch.iter().map(|m| m.as_slice()).collect();
                let found = self.element_multi_get(Cf::Set, other, &refs)?;
                let mut keep = found.iter().map(|f| f.is_some() == inside);
                batch.retain(|_| keep.next().unwrap_or(false));
            }
            for m in &batch {
                if !emit(m) {
                    return Ok(());
                }
            }
        }
    }

    /// Feeds every member of the union of `sets` to `emit`, each once, in member order.
    fn visit_union(
        &self,
        sets: &[Option<Collection>],
        emit: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), StorageError> {
        let mut cursors: Vec<_> = sets
            .iter()
            .flatten()
            .map(|c| self.elements(Cf::Set, c, false))
            .collect();
        loop {
            let mut min: Option<Vec<u8>> = None;
            for cur in &cursors {
                if let Some((m, _)) = cur.current() {
                    if min.as_deref().is_none_or(|x| m < x) {
                        min = Some(m.to_vec());
                    }
                }
            }
            for cur in &cursors {
                cur.status()?;
            }
            let Some(min) = min else { return Ok(()) };
            for cur in cursors.iter_mut() {
                if cur.current().is_some_and(|(m, _)| m == min.as_slice()) {
                    cur.advance();
                }
            }
            if !emit(&min) {
                return Ok(());
            }
        }
    }

    /// Feeds the members of the first set that are in none of the others to `emit`.
    fn visit_diff(
        &self,
        sets: &[Option<Collection>],
        emit: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), StorageError> {
        let Some(Some(first)) = sets.first() else {
            return Ok(());
        };
        let others: Vec<&Collection> = sets[1..].iter().flatten().collect();
        if others.iter().any(|o| o.prefix() == first.prefix()) {
            return Ok(());
        }
        self.visit_filtered(first, &others, false, emit)
    }

    /// Feeds the members of `op` over `sets` to `emit` until it returns false.
    fn visit_algebra(
        &self,
        op: SetAlgebra,
        sets: &[Option<Collection>],
        emit: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), StorageError> {
        match op {
            SetAlgebra::Inter => self.visit_inter(sets, emit),
            SetAlgebra::Union => self.visit_union(sets, emit),
            SetAlgebra::Diff => self.visit_diff(sets, emit),
        }
    }

    /// SINTER / SUNION / SDIFF.
    pub fn combine(&self, op: SetAlgebra, keys: &[&[u8]]) -> Result<Vec<Vec<u8>>, StorageError> {
        let sets = self.read_many(keys)?;
        let mut out = Vec::new();
        self.visit_algebra(op, &sets, &mut |m| {
            out.push(m.to_vec());
            true
        })?;
        Ok(out)
    }

    /// SINTERCARD: the intersection's size, stopping at `limit` (0 = no limit).
    pub fn intersection_len(&self, keys: &[&[u8]], limit: u64) -> Result<u64, StorageError> {
        let sets = self.read_many(keys)?;
        let mut n = 0u64;
        self.visit_inter(&sets, &mut |_| {
            n += 1;
            limit == 0 || n < limit
        })?;
        Ok(n)
    }

    /// SINTERSTORE / SUNIONSTORE / SDIFFSTORE: replaces `dest` with the result (removing it
    /// when the result is empty) and returns the result's size.
    pub fn store(&self, op: SetAlgebra, dest: &[u8], keys: &[&[u8]]) -> Result<u64, StorageError> {
        let sets = self.read_many(keys)?;
        let mut out = self.replace_collection(self.db, dest, DataType::Set)?;
        let mut txn = self.txn();
        self.visit_algebra(op, &sets, &mut |m| {
            txn.put_element(Cf::Set, &out, m, b"");
            out.header.count += 1;
            self.note_added_member(&mut out, m);
            true
        })?;
        txn.store_collection(&out);
        txn.commit()?;
        Ok(out.header.count)
    }
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

impl Zsets<'_> {
    /// A ZUNION/ZINTER/ZDIFF input: a zset or a set; `None` when absent, `WrongType` otherwise.
    pub fn source(&self, key: &[u8]) -> Result<Option<OpSource>, StorageError> {
        let state = self.load(self.db, key)?;
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
    pub fn source_all(&self, src: &OpSource) -> Result<Vec<ScoredMember>, StorageError> {
        if !src.is_set {
            return self.all(&src.c);
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
    pub fn source_scores(
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
        self.scores(&src.c, members)
    }

    /// ZUNIONSTORE / ZINTERSTORE / ZDIFFSTORE / ZRANGESTORE: replaces `dest` (whatever it
    /// holds) with a zset of `entries` (distinct members); an empty result deletes it. Returns
    /// the new size.
    pub fn store(&self, dest: &[u8], entries: &[ScoredMember]) -> Result<u64, StorageError> {
        let mut c = self.replace_collection(self.db, dest, DataType::ZSet)?;
        let mut txn = self.txn();
        self.fill_zset(&mut txn, &mut c, entries);
        txn.store_collection(&c);
        txn.commit()?;
        Ok(c.header.count)
    }
}
