//! The set type: one `Cf::Set` element per member (sub-key = member, empty value).
//!
//! OBJECT ENCODING follows Redis 7.0: a set is an `intset` while every member is an integer
//! (`string2ll` strictness) and it holds at most `set-max-intset-entries` members; otherwise it
//! is a `hashtable`, for good (the `LARGE_ENCODING` flag is sticky).
//!
//! Random members: a set of up to [`WALK_PICK_MAX`] members is walked to a uniformly chosen
//! position; a larger one is probed with a few seeks that descend its sub-key trie along
//! random bytes, so no command scans a huge set to pick one member. Picks of several distinct
//! members use reservoir sampling over one cursor walk.
//!
//! The set algebra (SINTER, SUNION, SDIFF and their STORE forms) is in
//! [`algebra`](super::algebra), next to the sorted-set algebra.

use rand::Rng;

use super::Sets;
use crate::storage::codec::{flags, Cf, DataType};
use crate::storage::collection::{elements_in, Collection, EncodingLimits};
use crate::storage::engine::ReadView;
use crate::storage::lazy::{LazyItems, ReadRange, Step, Walk, DIRECT_ITEMS_MAX};
use crate::storage::{Storage, StorageError};
use crate::util::number::parse_i64;

/// Sets up to this size pick a random member by walking to a uniformly chosen position.
pub const WALK_PICK_MAX: u64 = 1000;

/// True when Redis would keep `member` in an intset.
fn intset_member(member: &[u8]) -> bool {
    parse_i64(member).is_some()
}

/// Algorithm R: keeps a uniform sample of at most `k` of the items offered.
struct Reservoir<T> {
    k: usize,
    seen: u64,
    items: Vec<T>,
}

impl<T> Reservoir<T> {
    fn new(k: usize) -> Reservoir<T> {
        Reservoir {
            k,
            seen: 0,
            items: Vec::with_capacity(k.min(4096)),
        }
    }

    /// Offers one item; `make` builds it only when it is kept.
    fn offer(&mut self, rng: &mut impl Rng, make: impl FnOnce() -> T) {
        self.seen += 1;
        if self.items.len() < self.k {
            self.items.push(make());
            return;
        }
        let j = rng.gen_range(0..self.seen);
        if (j as usize) < self.k {
            self.items[j as usize] = make();
        }
    }
}

impl Storage {
    fn intset_limit(&self) -> u64 {
        EncodingLimits::get(&self.limits.set_max_intset_entries)
    }

    /// Marks `c` as a hashtable when adding `member` takes it out of the intset encoding
    /// (call after counting the member in).
    pub(in crate::storage) fn note_added_member(&self, c: &mut Collection, member: &[u8]) {
        if !c.is_large() && (c.header.count > self.intset_limit() || !intset_member(member)) {
            c.mark_large();
        }
    }
}

impl Sets<'_> {
    /// The live set at `key` for reading; `None` when absent (SSCAN checks it before its options).
    pub fn read(&self, key: &[u8]) -> Result<Option<Collection>, StorageError> {
        self.read_collection(self.db, key, DataType::Set)
    }

    /// SADD: the number of members that were not there yet.
    pub fn add(&self, key: &[u8], members: &[&[u8]]) -> Result<u64, StorageError> {
        let mut c = self.write_collection(self.db, key, DataType::Set)?;
        let members = distinct(members);
        let present = if c.existed {
            self.element_multi_get(Cf::Set, &c, &members)?
        } else {
            Vec::new()
        };
        let mut txn = self.txn();
        let mut added = 0u64;
        for (i, m) in members.iter().enumerate() {
            if present.get(i).is_some_and(|p| p.is_some()) {
                continue;
            }
            txn.put_element(Cf::Set, &c, m, b"");
            c.header.count += 1;
            added += 1;
            self.note_added_member(&mut c, m);
        }
        if added > 0 {
            txn.store_collection(&c);
            txn.commit()?;
        }
        Ok(added)
    }

    /// SREM: the number of members removed.
    pub fn remove(&self, key: &[u8], members: &[&[u8]]) -> Result<u64, StorageError> {
        let Some(mut c) = self.read(key)? else {
            return Ok(0);
        };
        let members = distinct(members);
        let present = self.element_multi_get(Cf::Set, &c, &members)?;
        let mut txn = self.txn();
        let mut removed = 0u64;
        for (m, p) in members.iter().zip(&present) {
            if p.is_some() {
                txn.delete_element(Cf::Set, &c, m);
                removed += 1;
            }
        }
        if removed > 0 {
            c.header.count = c.header.count.saturating_sub(removed);
            txn.store_collection(&c);
            txn.commit()?;
        }
        Ok(removed)
    }

    /// SCARD.
    pub fn len(&self, key: &[u8]) -> Result<u64, StorageError> {
        Ok(self.read(key)?.map_or(0, |c| c.len()))
    }

    /// SISMEMBER / SMISMEMBER: membership of each member (all false for a missing key).
    pub fn contains_many(&self, key: &[u8], members: &[&[u8]]) -> Result<Vec<bool>, StorageError> {
        let Some((c, body)) = self.read_with_body(self.db, key, DataType::Set)? else {
            return Ok(vec![false; members.len()]);
        };
        if let Some(body) = body {
            return Ok(members.iter().map(|m| body.set_contains(m)).collect());
        }
        if let [one] = members {
            return Ok(vec![self.element_get(Cf::Set, &c, one)?.is_some()]);
        }
        Ok(self
            .element_multi_get(Cf::Set, &c, members)?
            .into_iter()
            .map(|v| v.is_some())
            .collect())
    }

    /// Every member of `c`, in sub-key order.
    fn all_members(&self, c: &Collection) -> Result<Vec<Vec<u8>>, StorageError> {
        let mut out = Vec::with_capacity(c.len().min(1 << 16) as usize);
        let mut cur = self.elements(Cf::Set, c, false);
        while let Some((m, _)) = cur.current() {
            out.push(m.to_vec());
            cur.advance();
        }
        cur.status()?;
        Ok(out)
    }

    /// SMEMBERS (empty for a missing key). A big set is read lazily from a snapshot (see
    /// [`lazy`](crate::storage::lazy)).
    pub fn members(&self, key: &[u8]) -> Result<ReadRange<Vec<u8>>, StorageError> {
        let Some((c, body)) = self.read_with_body(self.db, key, DataType::Set)? else {
            return Ok(ReadRange::empty());
        };
        if let Some(members) = body.as_deref().and_then(|b| b.set_members()) {
            return Ok(ReadRange::Whole(members));
        }
        if c.len() <= DIRECT_ITEMS_MAX {
            let cur = self.elements(Cf::Set, &c, false);
            let walk = Walk::new(cur, c.len(), |member, _| Ok(Step::Yield(member.to_vec())));
            if let Some(members) = walk.collect_small(Vec::len)? {
                return Ok(ReadRange::Whole(members));
            }
        }
        let snap = self.engine.snapshot();
        let Some(c) = self.read_collection_in(&snap, self.db, key, DataType::Set)? else {
            return Ok(ReadRange::empty());
        };
        let cur = elements_in(&ReadView::Snapshot(snap), Cf::Set, &c, false);
        let walk = Walk::new(cur, c.len(), |member, _| Ok(Step::Yield(member.to_vec())));
        Ok(ReadRange::Lazy(LazyItems::new(c.len(), walk)))
    }

    /// One random member of a non-empty set.
    fn random_member(&self, c: &Collection, rng: &mut impl Rng) -> Result<Vec<u8>, StorageError> {
        if c.len() <= WALK_PICK_MAX {
            let mut k = rng.gen_range(0..c.len().max(1));
            let mut cur = self.elements(Cf::Set, c, false);
            let mut last = None;
            while let Some((m, _)) = cur.current() {
                if k == 0 {
                    return Ok(m.to_vec());
                }
                last = Some(m.to_vec());
                k -= 1;
                cur.advance();
            }
            cur.status()?;
            // The count overstated the members (never expected): the last one seen will do.
            return last.ok_or_else(|| StorageError::Corrupt("empty set with a count".into()));
        }
        // Large sets: one seek to a random point between the first and the last member (three
        // seeks in all, whatever the size). Not exactly uniform (members after a gap in the key
        // space are likelier), which SPOP and SRANDMEMBER allow; small sets above are exact.
        let plen = c.prefix().len();
        let mut cur = self.engine.prefix(Cf::Set, c.prefix());
        let first = cur.current().map(|(k, _)| k[plen..].to_vec());
        cur.seek_to_last();
        let last = cur.current().map(|(k, _)| k[plen..].to_vec());
        cur.status()?;
        let first = first.ok_or_else(|| StorageError::Corrupt("empty set with a count".into()))?;
        let last = last.unwrap_or_else(|| first.clone());
        let target = random_key_between(&first, &last, rng);
        cur.seek(&c.element_key(&target));
        // A short random walk from the landing point spreads the picks over the members that
        // follow a gap, instead of always the first of them.
        let mut picked = None;
        for _ in 0..=rng.gen_range(0..RANDOM_WALK_STEPS) {
            match cur.current() {
                Some((k, _)) => picked = Some(k[plen..].to_vec()),
                None => break,
            }
            cur.advance();
        }
        cur.status()?;
        Ok(picked.unwrap_or(last))
    }

    /// The member a single SPOP takes from a large set: the walk goes forward from where the
    /// previous pop of this set took its member (a random start the first time), skipping a few
    /// members at random, and wraps around at the end. Popped members leave deletion markers
    /// behind the walk, never in front of it, so a pop does not slow down as the set drains,
    /// as it would if every pop seeked to random points among the markers.
    fn pop_candidate(&self, c: &Collection, rng: &mut impl Rng) -> Result<Vec<u8>, StorageError> {
        let plen = c.prefix().len();
        let mut cur = self.engine.prefix(Cf::Set, c.prefix());
        match self.spop_hints.get(c.prefix()) {
            Some(from) => cur.seek(&c.element_key(&from)),
            None => {
                let start = self.random_member(c, rng)?;
                cur.seek(&c.element_key(&start));
            }
        }
        let mut picked = None;
        for _ in 0..=rng.gen_range(0..POP_SKIP_STEPS) {
            match cur.current() {
                Some((k, _)) => picked = Some(k[plen..].to_vec()),
                None => break,
            }
            cur.advance();
        }
        if picked.is_none() {
            // Past the last member: wrap around to the first.
            let first = self.engine.prefix(Cf::Set, c.prefix());
            picked = first.current().map(|(k, _)| k[plen..].to_vec());
            first.status()?;
        }
        cur.status()?;
        picked.ok_or_else(|| StorageError::Corrupt("empty set with a count".into()))
    }

    /// `k` distinct members chosen uniformly (all of them when `k >= len`).
    fn sample_members(
        &self,
        c: &Collection,
        k: u64,
        rng: &mut impl Rng,
    ) -> Result<Vec<Vec<u8>>, StorageError> {
        if k >= c.len() {
            return self.all_members(c);
        }
        let mut reservoir = Reservoir::new(k as usize);
        let mut cur = self.elements(Cf::Set, c, false);
        while let Some((m, _)) = cur.current() {
            reservoir.offer(rng, || m.to_vec());
            cur.advance();
        }
        cur.status()?;
        Ok(reservoir.items)
    }

    /// SRANDMEMBER without a count.
    pub fn random(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let Some(c) = self.read(key)? else {
            return Ok(None);
        };
        Ok(Some(self.random_member(&c, &mut rand::thread_rng())?))
    }

    /// SRANDMEMBER with a positive count: `count` distinct members (at most all of them), in
    /// random order.
    pub fn random_distinct(&self, key: &[u8], count: u64) -> Result<Vec<Vec<u8>>, StorageError> {
        let Some(c) = self.read(key)? else {
            return Ok(Vec::new());
        };
        if count == 0 {
            return Ok(Vec::new());
        }
        let rng = &mut rand::thread_rng();
        let mut picked = self.sample_members(&c, count, rng)?;
        shuffle(&mut picked, rng);
        Ok(picked)
    }

    /// SPOP without a count.
    pub fn pop(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let Some(mut c) = self.read(key)? else {
            return Ok(None);
        };
        let rng = &mut rand::thread_rng();
        // A set being drained by pops keeps the forward walk even once it is small: its
        // deletion markers lie before the walk's position.
        let draining = self.spop_hints.get(c.prefix()).is_some();
        let member = if c.len() <= WALK_PICK_MAX && !draining {
            self.random_member(&c, rng)?
        } else {
            self.pop_candidate(&c, rng)?
        };
        self.spop_hints.remember(c.prefix(), &member);
        let mut txn = self.txn();
        txn.delete_element(Cf::Set, &c, &member);
        c.header.count -= 1;
        txn.store_collection(&c);
        txn.commit()?;
        Ok(Some(member))
    }

    /// SPOP with a count: up to `count` distinct random members, removed.
    pub fn pop_many(&self, key: &[u8], count: u64) -> Result<Vec<Vec<u8>>, StorageError> {
        let Some(mut c) = self.read(key)? else {
            return Ok(Vec::new());
        };
        if count == 0 {
            return Ok(Vec::new());
        }
        let size = c.len();
        let mut txn = self.txn();
        if count >= size {
            // Everything goes: the key is removed; its elements die with its version.
            let all = self.all_members(&c)?;
            c.header.count = 0;
            txn.store_collection(&c);
            txn.commit()?;
            return Ok(all);
        }
        let rng = &mut rand::thread_rng();
        let remaining = size - count;
        let popped = if remaining.saturating_mul(5) > count {
            // Few members leave: sample them.
            let popped = self.sample_members(&c, count, rng)?;
            for m in &popped {
                txn.delete_element(Cf::Set, &c, m);
            }
            popped
        } else {
            // Most members leave: sample the ones that stay, as Redis does, which also gives
            // the key the encoding of a set built from the survivors only.
            let mut kept = self.sample_members(&c, remaining, rng)?;
            kept.sort_unstable();
            let mut popped = Vec::with_capacity(count as usize);
            let mut cur = self.elements(Cf::Set, &c, false);
            while let Some((m, _)) = cur.current() {
                if kept.binary_search_by(|k| k.as_slice().cmp(m)).is_err() {
                    txn.delete_element(Cf::Set, &c, m);
                    popped.push(m.to_vec());
                }
                cur.advance();
            }
            cur.status()?;
            c.flags &= !flags::LARGE_ENCODING;
            if remaining > self.intset_limit() || !kept.iter().all(|m| intset_member(m)) {
                c.mark_large();
            }
            popped
        };
        c.header.count -= popped.len() as u64;
        txn.store_collection(&c);
        txn.commit()?;
        let mut popped = popped;
        shuffle(&mut popped, rng);
        Ok(popped)
    }

    /// SMOVE: true when the member was moved (or, with `src == dst`, is a member).
    pub fn move_to(&self, src: &[u8], dst: &[u8], member: &[u8]) -> Result<bool, StorageError> {
        let Some(mut from) = self.read(src)? else {
            return Ok(false);
        };
        let mut to = self.write_collection(self.db, dst, DataType::Set)?;
        if src == dst {
            return Ok(self.element_get(Cf::Set, &from, member)?.is_some());
        }
        if self.element_get(Cf::Set, &from, member)?.is_none() {
            return Ok(false);
        }
        let mut txn = self.txn();
        txn.delete_element(Cf::Set, &from, member);
        from.header.count -= 1;
        txn.store_collection(&from);
        let already = to.existed && self.element_get(Cf::Set, &to, member)?.is_some();
        if !already {
            txn.put_element(Cf::Set, &to, member, b"");
            to.header.count += 1;
            self.note_added_member(&mut to, member);
            txn.store_collection(&to);
        }
        txn.commit()?;
        Ok(true)
    }

    /// SSCAN: one step; `None` when the key is missing.
    pub fn scan(
        &self,
        key: &[u8],
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
    ) -> Result<(u64, Vec<Vec<u8>>), StorageError> {
        let Some(c) = self.read(key)? else {
            return Ok((0, Vec::new()));
        };
        let (next, found) = self.scan_elements(Cf::Set, &c, cursor, count, pattern)?;
        Ok((next, found.into_iter().map(|(m, _)| m).collect()))
    }
}

/// Most members a single SPOP of a large set steps over (see `pop_candidate`).
const POP_SKIP_STEPS: u32 = 4;

/// Where the last SPOP of each large set took its member, so the next one goes on from there
/// (see `Storage::pop_candidate`). Bounded: forgetting a set only costs one random restart.
#[derive(Default)]
pub struct PopHints {
    last: parking_lot::Mutex<std::collections::HashMap<Vec<u8>, Vec<u8>>>,
}

/// Sets remembered by [`PopHints`] before it starts over.
const MAX_POP_HINTS: usize = 1024;

impl PopHints {
    fn get(&self, prefix: &[u8]) -> Option<Vec<u8>> {
        self.last.lock().get(prefix).cloned()
    }

    fn remember(&self, prefix: &[u8], member: &[u8]) {
        let mut last = self.last.lock();
        if last.len() >= MAX_POP_HINTS && !last.contains_key(prefix) {
            last.clear();
        }
        last.insert(prefix.to_vec(), member.to_vec());
    }
}

/// Most members a random pick steps over after its seek (see `random_member`).
const RANDOM_WALK_STEPS: u32 = 32;

/// A random byte string between `lo` and `hi` (`lo <= hi`): their common prefix, then the next
/// eight bytes of each read as numbers and a uniform pick between them.
fn random_key_between(lo: &[u8], hi: &[u8], rng: &mut impl Rng) -> Vec<u8> {
    let common = lo.iter().zip(hi).take_while(|(a, b)| a == b).count();
    let window = |s: &[u8]| {
        let mut w = [0u8; 8];
        for (d, b) in w.iter_mut().zip(s.iter().skip(common)) {
            *d = *b;
        }
        u64::from_be_bytes(w)
    };
    let (a, b) = (window(lo), window(hi));
    let pick = if a < b { rng.gen_range(a..=b) } else { a };
    let mut out = lo[..common].to_vec();
    out.extend_from_slice(&pick.to_be_bytes());
    out
}

/// The distinct members of `members`, first occurrences in order.
fn distinct<'a>(members: &[&'a [u8]]) -> Vec<&'a [u8]> {
    if members.len() <= 16 {
        let mut out: Vec<&[u8]> = Vec::with_capacity(members.len());
        for m in members {
            if !out.contains(m) {
                out.push(m);
            }
        }
        return out;
    }
    let mut seen = std::collections::HashSet::with_capacity(members.len());
    members
        .iter()
        .copied()
        .filter(|m| seen.insert(*m))
        .collect()
}

fn shuffle<T>(items: &mut [T], rng: &mut impl Rng) {
    use rand::seq::SliceRandom;
    items.shuffle(rng);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservoir_keeps_k_distinct_items() {
        let mut rng = rand::thread_rng();
        let mut r = Reservoir::new(5);
        for i in 0..100 {
            r.offer(&mut rng, || i);
        }
        let mut items = r.items.clone();
        items.sort_unstable();
        items.dedup();
        assert_eq!(items.len(), 5);
    }

    #[test]
    fn distinct_keeps_first_occurrences() {
        let v: Vec<&[u8]> = vec![b"a", b"b", b"a", b"c"];
        assert_eq!(distinct(&v), vec![&b"a"[..], b"b", b"c"]);
        let many: Vec<Vec<u8>> = (0..40).map(|i| vec![i % 20]).collect();
        let refs: Vec<&[u8]> = many.iter().map(|m| m.as_slice()).collect();
        assert_eq!(distinct(&refs).len(), 20);
    }
}
