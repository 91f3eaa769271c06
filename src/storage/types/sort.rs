//! What SORT needs from storage: the elements of a list, set or sorted set in their natural
//! order, the string values and hash fields its BY/GET patterns point at, and storing a result
//! as a list (layout: `CollectionHeader.extra` = `head: u64 BE | tail: u64 BE`, elements under
//! `index: u64 BE` sub-keys, a new list starting at `head = tail = 1 << 63`).

use super::{Lists, Scope};
use crate::storage::codec::{
    encode_element_prefix, encode_meta_key, Cf, CollectionHeader, DataType, MetaValue,
};
use crate::storage::collection::{elements_from_in, elements_in, Collection};
use crate::storage::engine::{ReadView, Snapshot};
use crate::storage::lazy::{LazyItems, ReadRange, Step, Walk};
use crate::storage::write::WriteTxn;
use crate::storage::StorageError;

/// Index of the first element of a list built from scratch.
const LIST_START: u64 = 1 << 63;

/// The key SORT works on.
pub struct SortSource {
    pub data_type: DataType,
    collection: Collection,
}

impl SortSource {
    /// Number of elements.
    pub fn len(&self) -> u64 {
        self.collection.len()
    }

    /// True when there is no element.
    pub fn is_empty(&self) -> bool {
        self.collection.is_empty()
    }
}

impl Scope<'_> {
    /// SORT / SORT_RO: the list, set or sorted set at `key`; `None` when missing, WRONGTYPE for
    /// other types.
    pub fn sort_source(&self, key: &[u8]) -> Result<Option<SortSource>, StorageError> {
        let state = self.load(self.db, key)?;
        let Some(t) = state.live().map(|m| m.data_type) else {
            return Ok(None);
        };
        if !matches!(t, DataType::List | DataType::Set | DataType::ZSet) {
            return Err(StorageError::WrongType);
        }
        Ok(self
            .read_collection(self.db, key, t)?
            .map(|collection| SortSource {
                data_type: t,
                collection,
            }))
    }

    /// SORT: elements of `src` in natural order (list order, member order for sets, score
    /// order for sorted sets), reversed with `reverse`, skipping `skip` and keeping at most
    /// `take`.
    pub fn sort_elements(
        &self,
        src: &SortSource,
        reverse: bool,
        skip: u64,
        take: u64,
    ) -> Result<Vec<Vec<u8>>, StorageError> {
        let c = &src.collection;
        let (cf, member_at) = match src.data_type {
            DataType::ZSet => (Cf::ZScore, 8),
            DataType::Set => (Cf::Set, 0),
            _ => (Cf::List, 0),
        };
        let mut out = Vec::with_capacity(take.min(c.len()).min(1 << 16) as usize);
        if take == 0 {
            return Ok(out);
        }
        let mut cur = if src.data_type == DataType::List && skip > 0 {
            // A list is addressed by index: start right at the wanted element.
            let (head, tail) = list_bounds(c);
            let at = if reverse {
                tail.wrapping_sub(1).wrapping_sub(skip)
            } else {
                head.wrapping_add(skip)
            };
            self.elements_from(cf, c, &at.to_be_bytes(), reverse)
        } else {
            let mut cur = self.elements(cf, c, reverse);
            for _ in 0..skip {
                if cur.current().is_none() {
                    break;
                }
                cur.advance();
            }
            cur
        };
        while let Some((sub, value)) = cur.current() {
            if out.len() as u64 >= take {
                break;
            }
            out.push(match src.data_type {
                DataType::List => value.to_vec(),
                _ => sub.get(member_at..).unwrap_or_default().to_vec(),
            });
            cur.advance();
        }
        cur.status()?;
        Ok(out)
    }

    /// SORT ... BY nosort of a big list or sorted set, for a reply: the elements in natural
    /// order (reversed with `reverse`) that `window` selects for the key's length, as (skip,
    /// take), read lazily from a snapshot, with lookups in the same snapshot for GET. `None`
    /// when the key holds another type by then (the caller reads it the usual way).
    pub fn sort_elements_lazy(
        &self,
        key: &[u8],
        reverse: bool,
        window: impl FnOnce(u64) -> (u64, u64),
    ) -> Result<Option<NaturalOrder>, StorageError> {
        let lookups = self.sort_lookups()?;
        let snap = lookups.snap.clone();
        let c = match self.read_collection_in(&snap, self.db, key, DataType::List) {
            Err(StorageError::WrongType) => {
                match self.read_collection_in(&snap, self.db, key, DataType::ZSet) {
                    Err(StorageError::WrongType) => return Ok(None),
                    other => other?,
                }
            }
            other => other?,
        };
        let Some(c) = c else {
            return Ok(Some((ReadRange::empty(), lookups)));
        };
        let (skip, take) = window(c.len());
        if take == 0 {
            return Ok(Some((ReadRange::empty(), lookups)));
        }
        let view = ReadView::Snapshot(snap);
        let items = if c.data_type == DataType::List {
            // A list is addressed by index: start right at the wanted element.
            let (head, tail) = list_bounds(&c);
            let at = if reverse {
                tail.wrapping_sub(1).wrapping_sub(skip)
            } else {
                head.wrapping_add(skip)
            };
            let cur = elements_from_in(&view, Cf::List, &c, &at.to_be_bytes(), reverse);
            LazyItems::new(
                take,
                Walk::new(cur, take, |_, v| Ok(Step::Yield(v.to_vec()))),
            )
        } else {
            let cur = elements_in(&view, Cf::ZScore, &c, reverse);
            let member =
                |sub: &[u8], _: &[u8]| Ok(Step::Yield(sub.get(8..).unwrap_or_default().to_vec()));
            LazyItems::new(take, Walk::new(cur, take, member).skip_entries(skip))
        };
        Ok(Some((ReadRange::Lazy(items), lookups)))
    }

    /// The string at `key`, or `None` when missing or of another type (SORT BY/GET).
    pub fn sort_lookup_string(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let state = self.load(self.db, key)?;
        Ok(state
            .live()
            .filter(|m| m.data_type == DataType::String)
            .map(|m| m.body.to_vec()))
    }

    /// The field of the hash at `key`, or `None` when missing or not a hash (SORT `->`).
    pub fn sort_lookup_field(
        &self,
        key: &[u8],
        field: &[u8],
    ) -> Result<Option<Vec<u8>>, StorageError> {
        match self.read_collection(self.db, key, DataType::Hash) {
            Ok(Some(c)) => self.element_get(Cf::Hash, &c, field),
            Ok(None) | Err(StorageError::WrongType) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Lists<'_> {
    /// SORT ... STORE: replaces `dest` with a list of `items` (removing it when empty); returns
    /// the length.
    pub fn store(&self, dest: &[u8], items: &[Vec<u8>]) -> Result<u64, StorageError> {
        let mut c = self.replace_collection(self.db, dest, DataType::List)?;
        let mut txn = self.txn();
        fill_list(&mut txn, &mut c, items);
        txn.store_collection(&c);
        txn.commit()?;
        Ok(c.header.count)
    }
}

/// A window of a key in natural order read lazily, and lookups in the same snapshot.
pub type NaturalOrder = (ReadRange<Vec<u8>>, SortLookups);

/// The values SORT's GET patterns point at, read from one snapshot of a database: a big SORT
/// reply looks them up as it is written, each from the view the command saw when it ran.
pub struct SortLookups {
    snap: Snapshot,
    pdb: u16,
    now_ms: u64,
}

impl Scope<'_> {
    /// Lookups in this database as it is now, for the GET patterns of a big SORT reply.
    pub fn sort_lookups(&self) -> Result<SortLookups, StorageError> {
        Ok(SortLookups {
            pdb: self.physical(self.db)?,
            snap: self.engine.snapshot(),
            now_ms: crate::util::clock::unix_ms(),
        })
    }
}

impl SortLookups {
    /// The live meta record of `key` if it has type `t`, with the key's slot.
    fn meta_of(&self, key: &[u8], t: DataType) -> Result<Option<(MetaValue, u16)>, StorageError> {
        let slot = crate::util::slot::key_slot(key);
        let Some(raw) = self
            .snap
            .get(Cf::Meta, &encode_meta_key(self.pdb, slot, key))?
        else {
            return Ok(None);
        };
        let meta = MetaValue::decode(&raw)
            .ok_or_else(|| StorageError::Corrupt("meta record of a SORT lookup".into()))?;
        Ok((meta.data_type == t && !meta.is_expired(self.now_ms)).then_some((meta, slot)))
    }

    /// As [`Scope::sort_lookup_string`].
    pub fn string(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .meta_of(key, DataType::String)?
            .map(|(meta, _)| meta.body.to_vec()))
    }

    /// As [`Scope::sort_lookup_field`].
    pub fn field(&self, key: &[u8], field: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let Some((meta, slot)) = self.meta_of(key, DataType::Hash)? else {
            return Ok(None);
        };
        let header = CollectionHeader::decode(&meta.body)
            .ok_or_else(|| StorageError::Corrupt("hash header of a SORT lookup".into()))?;
        let mut element = encode_element_prefix(self.pdb, slot, key, header.version);
        element.extend_from_slice(field);
        self.snap.get(Cf::Hash, &element)
    }
}

/// Writes `items` in order into the new, empty list `c`, with its count and bounds.
pub(in crate::storage) fn fill_list(txn: &mut WriteTxn<'_>, c: &mut Collection, items: &[Vec<u8>]) {
    for (i, item) in items.iter().enumerate() {
        txn.put_element(Cf::List, c, &(LIST_START + i as u64).to_be_bytes(), item);
    }
    c.header.count = items.len() as u64;
    let mut extra = Vec::with_capacity(16);
    extra.extend_from_slice(&LIST_START.to_be_bytes());
    extra.extend_from_slice(&(LIST_START + items.len() as u64).to_be_bytes());
    c.header.extra = extra;
}

/// A list's (head, tail) indexes from its header.
fn list_bounds(c: &Collection) -> (u64, u64) {
    let word = |at: usize| {
        c.header
            .extra
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
    };
    match (word(0), word(8)) {
        (Some(h), Some(t)) => (h, t),
        _ => (LIST_START, LIST_START + c.len()),
    }
}
