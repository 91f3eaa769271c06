//! SCAN over the keyspace with cursors that cost O(COUNT) per call.
//!
//! A cursor is a number (clients parse it as one), laid out as
//! `| slot: 16 bits | token: 48 bits |`. The token names an entry of a bounded in-memory table
//! holding the exact key to resume at. If the entry is gone (table overflow, restart, another
//! server) the walk resumes at the start of `slot`: a key may then be returned twice, which
//! SCAN's contract allows, but no key present for the whole walk is ever skipped.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::codec::{self, Cf, DataType, MetaValue};
use super::types::Keyspace;
use super::StorageError;
use crate::util::clock::unix_ms;
use crate::util::glob::glob_match;

/// Cursor entries kept; older ones fall back to their slot start.
const MAX_CURSORS: usize = 16 * 1024;
const TOKEN_BITS: u32 = 48;
const TOKEN_MASK: u64 = (1 << TOKEN_BITS) - 1;

/// Token → (physical db, meta key to resume at), plus tokens oldest first for eviction.
type CursorEntries = (HashMap<u64, (u16, Vec<u8>)>, VecDeque<u64>);

/// Resume positions of outstanding cursors.
#[derive(Default)]
pub struct CursorTable {
    next_token: AtomicU64,
    entries: Mutex<CursorEntries>,
}

impl CursorTable {
    fn save(&self, pdb: u16, meta_key: Vec<u8>) -> u64 {
        let slot = codec::decode_meta_key(&meta_key).map_or(0, |(_, s, _)| s);
        let token = (self.next_token.fetch_add(1, Ordering::Relaxed) % TOKEN_MASK) + 1;
        let mut guard = self.entries.lock();
        let (map, order) = &mut *guard;
        map.insert(token, (pdb, meta_key));
        order.push_back(token);
        while order.len() > MAX_CURSORS {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
        (u64::from(slot) << TOKEN_BITS) | token
    }

    /// The meta key to resume at for `cursor` in physical db `pdb`.
    fn resume_point(&self, pdb: u16, cursor: u64) -> Vec<u8> {
        let slot = (cursor >> TOKEN_BITS) as u16 % crate::util::slot::SLOT_COUNT;
        let token = cursor & TOKEN_MASK;
        if let Some((p, key)) = self.entries.lock().0.get(&token) {
            let same_slot = codec::decode_meta_key(key).is_some_and(|(_, s, _)| s == slot);
            if *p == pdb && same_slot {
                return key.clone();
            }
        }
        codec::slot_lower_bound(pdb, slot)
    }
}

/// Filters of one SCAN call.
#[derive(Debug, Default, Clone)]
pub struct ScanFilter<'a> {
    pub pattern: Option<&'a [u8]>,
    pub data_type: Option<DataType>,
}

impl Keyspace<'_> {
    /// SCAN: one step that visits about `count` keys from `cursor`; returns the next cursor (0
    /// at the end) and the keys that passed the filters.
    pub fn scan(
        &self,
        cursor: u64,
        count: usize,
        filter: &ScanFilter<'_>,
    ) -> Result<(u64, Vec<Vec<u8>>), StorageError> {
        let pdb = self.physical(self.db)?;
        let lower = if cursor == 0 {
            codec::db_lower_bound(pdb)
        } else {
            self.scan_cursors.resume_point(pdb, cursor)
        };
        let upper = codec::db_upper_bound(pdb);
        let now = unix_ms();
        let mut cur = self.engine.range(Cf::Meta, &lower, Some(&upper));
        let mut keys = Vec::new();
        let mut visited = 0usize;
        while let Some((k, v)) = cur.current() {
            if visited >= count.max(1) {
                let next = self.scan_cursors.save(pdb, k.to_vec());
                return Ok((next, keys));
            }
            visited += 1;
            let user_key = &k[codec::KEY_PREFIX_LEN..];
            let live = MetaValue::raw_is_live(v, now);
            let type_ok = filter
                .data_type
                .is_none_or(|t| v.first() == Some(&(t as u8)));
            let name_ok = filter
                .pattern
                .is_none_or(|p| glob_match(p, user_key, false));
            if live && type_ok && name_ok {
                keys.push(user_key.to_vec());
            }
            cur.advance();
        }
        cur.status()?;
        Ok((0, keys))
    }
}
