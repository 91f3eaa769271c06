//! SORT and SORT_RO, after Redis' `sort.c`: sort the elements of a list, set or sorted set
//! numerically (by default) or lexicographically (ALPHA), optionally by the values of other
//! keys (`BY pattern`, `*` replaced by the element, `->field` for hash fields, a pattern
//! without `*` meaning "do not sort"), fetch related values (`GET pattern`, `#` for the element
//! itself), page with LIMIT, and with STORE save the result as a list.
//!
//! Numeric sorting compares the values as doubles (read like C's `strtod`; a value that does
//! not convert fails the command) and breaks ties by comparing the elements' bytes, so the
//! result is deterministic; DESC reverses the whole order.

use std::cmp::Ordering;

use bytes::Bytes;

use crate::cmd::gate::spec::{CommandSpec, KeyFinder, KeySpec};
use crate::cmd::types::lazy_reply::{self, Shape};
use crate::cmd::{args, CmdError, CmdResult, Ctx, EventClasses as Class};
use crate::command;
use crate::resp::Reply;
use crate::storage::lazy::{LazyItems, ReadRange, DIRECT_ITEMS_MAX};
use crate::storage::types::sort::SortLookups;
use crate::storage::types::Scope;
use crate::storage::{DataType, StorageError};
use crate::util::number::parse_f64;

/// Commands of this group.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("sort", -2, [WRITE, DENYOOM], KeySpec::Find { find: KeyFinder(sort_keys), legacy: (1, 1, 1) },
             [WRITE, SET, SORTEDSET, LIST, SLOW, DANGEROUS], "generic",
             "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
             sort,
             key_flags: &[&["RO", "access"], &["OW", "update"]]),
    command!("sort_ro", -2, [READONLY], KeySpec::Find { find: KeyFinder(sort_ro_keys), legacy: (1, 1, 1) },
             [READ, SET, SORTEDSET, LIST, SLOW, DANGEROUS], "generic",
             "Returns the sorted elements of a list, a set, or a sorted set.", sort_ro),
];

/// The key of a SORT_RO command line: the sorted key only. Found by a function, as Redis
/// does, so COMMAND reports SORT_RO with movable keys like SORT (BY and GET patterns name
/// other keys a cluster cannot route).
fn sort_ro_keys(_: &[Bytes]) -> Vec<usize> {
    vec![1]
}

/// The keys of a SORT command line: the sorted key, and the STORE destination if any (the
/// last STORE wins, as in the command itself).
fn sort_keys(argv: &[Bytes]) -> Vec<usize> {
    let mut keys = Vec::new();
    if argv.len() > 1 {
        keys.push(1);
    }
    let mut store = None;
    let mut j = 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = &argv[j];
        if args::is(a, "limit") && left >= 2 {
            j += 2;
        } else if (args::is(a, "get") || args::is(a, "by")) && left >= 1 {
            j += 1;
        } else if args::is(a, "store") && left >= 1 {
            store = Some(j + 1);
            j += 1;
        }
        j += 1;
    }
    keys.extend(store);
    keys
}

fn sort(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    sort_generic(ctx, argv, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    sort_generic(ctx, argv, true)
}

/// The parsed options of one SORT call.
#[derive(Default)]
struct SortOptions<'a> {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    store: Option<&'a [u8]>,
    by: Option<&'a [u8]>,
    /// BY a pattern without `*`: keep the natural order.
    dontsort: bool,
    gets: Vec<&'a [u8]>,
}

fn parse_options(argv: &[Bytes], readonly: bool) -> Result<SortOptions<'_>, CmdError> {
    let mut o = SortOptions {
        limit_count: -1,
        ..SortOptions::default()
    };
    let mut j = 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = &argv[j];
        if args::is(a, "asc") {
            o.desc = false;
        } else if args::is(a, "desc") {
            o.desc = true;
        } else if args::is(a, "alpha") {
            o.alpha = true;
        } else if args::is(a, "limit") && left >= 2 {
            o.limit_start = args::int(&argv[j + 1])?;
            o.limit_count = args::int(&argv[j + 2])?;
            j += 2;
        } else if !readonly && args::is(a, "store") && left >= 1 {
            o.store = Some(&argv[j + 1]);
            j += 1;
        } else if args::is(a, "by") && left >= 1 {
            let pattern = argv[j + 1].as_ref();
            o.by = Some(pattern);
            o.dontsort = !pattern.contains(&b'*');
            j += 1;
        } else if args::is(a, "get") && left >= 1 {
            o.gets.push(&argv[j + 1]);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// Where BY and GET patterns read: the live store, or the snapshot a streamed reply's GETs
/// read from ([`SortLookups`]).
trait Lookups {
    /// The string at `key`, `None` when missing or of another type.
    fn string(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;
    /// The field of the hash at `key`, `None` when missing or not a hash.
    fn field(&self, key: &[u8], field: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;
}

/// The live store, in the command's database.
struct Live<'a>(Scope<'a>);

impl Lookups for Live<'_> {
    fn string(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.0.sort_lookup_string(key)
    }

    fn field(&self, key: &[u8], field: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.0.sort_lookup_field(key, field)
    }
}

impl Lookups for SortLookups {
    fn string(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        SortLookups::string(self, key)
    }

    fn field(&self, key: &[u8], field: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        SortLookups::field(self, key, field)
    }
}

/// The value a BY/GET `pattern` designates for `elem`: `#` is the element itself, `*` is
/// replaced by it, `key->field` reads a hash field. `None` when the pattern has no `*` or the
/// key is missing or of the wrong type.
fn lookup(
    src: &impl Lookups,
    pattern: &[u8],
    elem: &[u8],
) -> Result<Option<Vec<u8>>, StorageError> {
    if pattern == b"#" {
        return Ok(Some(elem.to_vec()));
    }
    let Some(star) = pattern.iter().position(|&b| b == b'*') else {
        return Ok(None);
    };
    let rest = &pattern[star + 1..];
    let arrow = rest.windows(2).position(|w| w == b"->");
    let (postfix, field) = match arrow {
        Some(i) if i + 2 < rest.len() => (&rest[..i], Some(&rest[i + 2..])),
        _ => (rest, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(postfix);
    match field {
        Some(f) => src.field(&key, f),
        None => src.string(&key),
    }
}

/// A sort weight read like C's `strtod` as SORT uses it: leading white space is skipped, the
/// whole rest must convert, an empty value is 0; `None` when it does not convert.
fn sort_score(v: &[u8]) -> Option<f64> {
    if v.is_empty() {
        return Some(0.0);
    }
    let start = v
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .unwrap_or(v.len());
    parse_f64(&v[start..]).filter(|x| !x.is_nan())
}

/// One element being sorted, with what it is compared by.
struct Item {
    elem: Vec<u8>,
    score: f64,
    cmp: Option<Vec<u8>>,
}

fn sort_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], readonly: bool) -> CmdResult {
    let mut o = parse_options(argv, readonly)?;
    // A pattern's keys may live on other nodes: Redis 7 refuses both options in a cluster.
    if ctx.server.cluster.is_some() {
        if o.by.is_some_and(|p| p.contains(&b'*')) {
            return Err(CmdError::err("BY option of SORT denied in Cluster mode."));
        }
        if !o.gets.is_empty() {
            return Err(CmdError::err("GET option of SORT denied in Cluster mode."));
        }
    }
    let scope = ctx.scope();
    let live = Live(scope);
    let source = scope.sort_source(&argv[1])?;
    let data_type = source.as_ref().map_or(DataType::List, |s| s.data_type);

    // A set has no natural order: when the result is stored, sort it anyway so it is
    // deterministic.
    if o.dontsort && data_type == DataType::Set && o.store.is_some() {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }

    let len = source.as_ref().map_or(0, |s| s.len()) as i64;
    let (mut start, mut end) = limit_window(len, o.limit_start, o.limit_count);

    let ordered = matches!(data_type, DataType::List | DataType::ZSet);
    let per_item = o.gets.len().max(1) as i64;
    let big_window = (end - start + 1).saturating_mul(per_item) > DIRECT_ITEMS_MAX as i64;
    if source.is_some() && ordered && o.dontsort && o.store.is_none() && big_window {
        // A big window in natural order needs no sort vector: it is read as it is written.
        let window = |len: u64| {
            let (start, end) = limit_window(len as i64, o.limit_start, o.limit_count);
            if end >= start {
                (start as u64, (end - start + 1) as u64)
            } else {
                (0, 0)
            }
        };
        // `None` when the key changed type meanwhile: then it is read as below.
        if let Some((range, lookups)) = scope.sort_elements_lazy(&argv[1], o.desc, window)? {
            return Ok(natural_order_reply(range, lookups, &o.gets));
        }
    }
    let elems: Vec<Vec<u8>> = match &source {
        None => Vec::new(),
        Some(src) if ordered && o.dontsort => {
            // Natural order, DESC reversing it; only the LIMIT window is read.
            let window = if end >= start {
                scope.sort_elements(src, o.desc, start as u64, (end - start + 1) as u64)?
            } else {
                Vec::new()
            };
            end -= start;
            start = 0;
            window
        }
        Some(src) => scope.sort_elements(src, false, 0, u64::MAX)?,
    };

    let mut items: Vec<Item> = elems
        .into_iter()
        .map(|elem| Item {
            elem,
            score: 0.0,
            cmp: None,
        })
        .collect();

    if !o.dontsort {
        let mut conversion_error = false;
        for item in &mut items {
            let by_value = match o.by {
                Some(pattern) => match lookup(&live, pattern, &item.elem)? {
                    Some(v) => Some(v),
                    None => continue,
                },
                None => None,
            };
            if o.alpha {
                item.cmp = by_value;
            } else {
                let v = by_value.as_deref().unwrap_or(&item.elem);
                match sort_score(v) {
                    Some(s) => item.score = s,
                    None => conversion_error = true,
                }
            }
        }
        if conversion_error {
            return Err(CmdError::err(
                "One or more scores can't be converted into double",
            ));
        }
        let by_pattern = o.by.is_some();
        let alpha = o.alpha;
        items.sort_by(|a, b| {
            let ord = if !alpha {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.elem.cmp(&b.elem))
            } else if by_pattern {
                // A missing weight sorts first.
                a.cmp.cmp(&b.cmp)
            } else {
                a.elem.cmp(&b.elem)
            };
            if o.desc {
                ord.reverse()
            } else {
                ord
            }
        });
    }

    let window: Vec<Item> = if end >= start && start >= 0 && !items.is_empty() {
        items.truncate((end as usize).min(items.len() - 1) + 1);
        items.drain(..(start as usize).min(items.len()));
        items
    } else {
        Vec::new()
    };

    match o.store {
        None => {
            let per_item = o.gets.len().max(1);
            if (window.len() * per_item) as u64 > DIRECT_ITEMS_MAX {
                return streamed_reply(scope, window, &o.gets);
            }
            let mut out = Vec::with_capacity(window.len() * per_item);
            for item in window {
                for pattern in &o.gets {
                    out.push(lookup(&live, pattern, &item.elem)?.map_or(Reply::Null, Reply::bulk));
                }
                if o.gets.is_empty() {
                    out.push(Reply::bulk(item.elem));
                }
            }
            Ok(Reply::Array(out))
        }
        Some(dest) => {
            let mut values = Vec::with_capacity(window.len() * o.gets.len().max(1));
            for item in window {
                for pattern in &o.gets {
                    values.push(lookup(&live, pattern, &item.elem)?.unwrap_or_default());
                }
                if o.gets.is_empty() {
                    values.push(item.elem);
                }
            }
            let existed = ctx.exists_for_notify(dest)?;
            let n = scope.list().store(dest, &values)?;
            ctx.notify_stored(Class::LIST, "sortstore", dest, n > 0, existed);
            Ok(Reply::Integer(n as i64))
        }
    }
}

/// The (start, end) positions, inclusive, that `LIMIT limit_start limit_count` selects of
/// `len` elements (as Redis computes them; end < start when nothing is selected).
fn limit_window(len: i64, limit_start: i64, limit_count: i64) -> (i64, i64) {
    let mut start = limit_start.max(0).min(len);
    let count = limit_count.max(-1).min(len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    (start, end)
}

/// The reply of a big window in natural order (BY nosort), read from a snapshot as it is
/// written: the elements, or what the GET patterns point at in the same snapshot.
fn natural_order_reply(range: ReadRange<Vec<u8>>, lookups: SortLookups, gets: &[&[u8]]) -> Reply {
    if gets.is_empty() {
        return lazy_reply::bulks(range, Shape::Array);
    }
    let gets: Vec<Vec<u8>> = gets.iter().map(|g| g.to_vec()).collect();
    let per_item = gets.len() as u64;
    let look_up = move |elem: Vec<u8>| -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        gets.iter()
            .map(|pattern| lookup(&lookups, pattern, &elem))
            .collect()
    };
    let values = match range {
        ReadRange::Whole(elems) => {
            let len = elems.len() as u64;
            ReadRange::Lazy(LazyItems::new(len, elems.into_iter().map(look_up)))
        }
        ReadRange::Lazy(elems) => {
            let len = elems.len();
            ReadRange::Lazy(LazyItems::new(
                len,
                elems.map(move |e| e.and_then(&look_up)),
            ))
        }
    };
    lazy_reply::optional_bulks(values, per_item)
}

/// A big SORT reply, written as the client reads it from the sorted elements (which SORT holds
/// in memory anyway, as Redis does): the elements themselves, or what the GET patterns point
/// at, looked up as they are written in a snapshot taken now.
fn streamed_reply(scope: Scope<'_>, window: Vec<Item>, gets: &[&[u8]]) -> CmdResult {
    let len = window.len() as u64;
    if gets.is_empty() {
        let elems = window.into_iter().map(|item| Ok(item.elem));
        return Ok(lazy_reply::bulks(
            ReadRange::Lazy(LazyItems::new(len, elems)),
            Shape::Array,
        ));
    }
    let lookups = scope.sort_lookups()?;
    let gets: Vec<Vec<u8>> = gets.iter().map(|g| g.to_vec()).collect();
    let per_item = gets.len() as u64;
    let values = window.into_iter().map(move |item| {
        gets.iter()
            .map(|pattern| lookup(&lookups, pattern, &item.elem))
            .collect()
    });
    Ok(lazy_reply::optional_bulks(
        ReadRange::Lazy(LazyItems::new(len, values)),
        per_item,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cmd::args::argv;

    #[test]
    fn sort_keys_include_the_store_destination() {
        let a = argv(&[
            "sort", "k", "BY", "store", "LIMIT", "0", "1", "STORE", "dst",
        ]);
        assert_eq!(sort_keys(&a), vec![1, 8]);
        assert_eq!(sort_keys(&argv(&["sort", "k"])), vec![1]);
        assert_eq!(sort_keys(&argv(&["sort", "k", "GET", "store"])), vec![1]);
        let repeated = argv(&["sort", "k", "STORE", "a", "STORE", "b"]);
        assert_eq!(sort_keys(&repeated), vec![1, 5]);
    }

    #[test]
    fn scores_follow_strtod() {
        assert_eq!(sort_score(b""), Some(0.0));
        assert_eq!(sort_score(b"  1.5"), Some(1.5));
        assert_eq!(sort_score(b"1.5 "), None);
        assert_eq!(sort_score(b"abc"), None);
        assert_eq!(sort_score(b"nan"), None);
        assert_eq!(sort_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(sort_score(b"0x10"), Some(16.0));
    }

    #[test]
    fn options_parse_like_redis() {
        let a = argv(&["sort", "k", "desc", "alpha", "limit", "1", "2", "by", "w_*"]);
        let o = parse_options(&a, false).unwrap();
        assert!(o.desc && o.alpha && !o.dontsort);
        assert_eq!((o.limit_start, o.limit_count), (1, 2));
        let nosort = argv(&["sort", "k", "by", "nosort"]);
        assert!(parse_options(&nosort, false).unwrap().dontsort);
        let store = argv(&["sort", "k", "store", "d"]);
        assert!(matches!(parse_options(&store, true), Err(CmdError::Syntax)));
        let bad_limit = argv(&["sort", "k", "limit", "x", "1"]);
        assert!(matches!(
            parse_options(&bad_limit, false),
            Err(CmdError::NotInteger)
        ));
    }
}
