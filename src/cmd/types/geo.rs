//! Geo commands, after Redis 7.0's `geo.c`: GEOADD, GEODIST, GEOHASH, GEOPOS, GEORADIUS,
//! GEORADIUSBYMEMBER (and their `_RO` forms), GEOSEARCH and GEOSEARCHSTORE.
//!
//! A geo key is a plain sorted set whose scores are 52-bit geohashes ([`crate::util::geohash`]),
//! so ZRANGE, ZSCORE and TYPE see exactly what a redis-server shows. A search reads the score
//! ranges of the nine cells covering the shape and keeps the members inside it; STORE forms
//! replace the destination with a sorted set in one write.

use bytes::Bytes;

use crate::cmd::args;
use crate::cmd::gate::spec::{CommandSpec, KeyFinder, KeySpec};
use crate::cmd::{CmdError, CmdResult, Ctx, EventClasses as Class};
use crate::command;
use crate::resp::Reply;
use crate::storage::collection::Collection;
use crate::storage::types::zset::{ScoreRange, ZaddFlags, ZaddOutcome};
use crate::util::geohash::{self, Shape};

/// Commands of this group.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("geoadd", -5, [WRITE, DENYOOM], KeySpec::single(1), [WRITE, GEO, SLOW], "geo",
             "Adds one or more members to a geospatial index. The key is created if it doesn't exist.",
             geoadd),
    command!("geodist", -4, [READONLY], KeySpec::single(1), [READ, GEO, SLOW], "geo",
             "Returns the distance between two members of a geospatial index.", geodist),
    command!("geohash", -2, [READONLY], KeySpec::single(1), [READ, GEO, SLOW], "geo",
             "Returns members from a geospatial index as geohash strings.", geohash_cmd),
    command!("geopos", -2, [READONLY], KeySpec::single(1), [READ, GEO, SLOW], "geo",
             "Returns the longitude and latitude of members from a geospatial index.", geopos),
    command!("georadius", -6, [WRITE, DENYOOM],
             KeySpec::Find { find: KeyFinder(georadius_keys), legacy: (1, 1, 1) },
             [WRITE, GEO, SLOW], "geo",
             "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.",
             georadius,
             key_flags: &[&["RO", "access"], &["OW", "update"]]),
    command!("georadius_ro", -6, [READONLY], KeySpec::single(1), [READ, GEO, SLOW], "geo",
             "Returns members from a geospatial index that are within a distance from a coordinate.",
             georadius_ro),
    command!("georadiusbymember", -5, [WRITE, DENYOOM],
             KeySpec::Find { find: KeyFinder(georadiusbymember_keys), legacy: (1, 1, 1) },
             [WRITE, GEO, SLOW], "geo",
             "Queries a geospatial index for members within a distance from a member, optionally stores the result.",
             georadiusbymember,
             key_flags: &[&["RO", "access"], &["OW", "update"]]),
    command!("georadiusbymember_ro", -5, [READONLY], KeySpec::single(1), [READ, GEO, SLOW], "geo",
             "Returns members from a geospatial index that are within a distance from a member.",
             georadiusbymember_ro),
    command!("geosearch", -7, [READONLY], KeySpec::single(1), [READ, GEO, SLOW], "geo",
             "Queries a geospatial index for members inside an area of a box or a circle.",
             geosearch),
    command!("geosearchstore", -8, [WRITE, DENYOOM], KeySpec::span(1, 2), [WRITE, GEO, SLOW],
             "geo",
             "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.",
             geosearchstore,
             key_flags: &[&["OW", "update"], &["RO", "access"]]),
];

/// The source key and the destination of STORE/STOREDIST (the last one given) from `from` on.
fn store_keys(argv: &[Bytes], from: usize) -> Vec<usize> {
    let mut keys = Vec::new();
    if argv.len() > 1 {
        keys.push(1);
    }
    let mut store = None;
    let mut j = from;
    while j + 1 < argv.len() {
        if args::is(&argv[j], "store") || args::is(&argv[j], "storedist") {
            store = Some(j + 1);
            j += 1;
        }
        j += 1;
    }
    keys.extend(store);
    keys
}

fn georadius_keys(argv: &[Bytes]) -> Vec<usize> {
    store_keys(argv, 6)
}

fn georadiusbymember_keys(argv: &[Bytes]) -> Vec<usize> {
    store_keys(argv, 5)
}

/// Metres per unit, or Redis' error.
fn unit(arg: &[u8]) -> Result<f64, CmdError> {
    match args::lower(arg).as_str() {
        "m" => Ok(1.0),
        "km" => Ok(1000.0),
        "ft" => Ok(0.3048),
        "mi" => Ok(1609.34),
        _ => Err(CmdError::err(
            "unsupported unit provided. please use M, KM, FT, MI",
        )),
    }
}

/// A float argument with Redis' custom error text.
fn float_or(arg: &[u8], msg: &str) -> Result<f64, CmdError> {
    crate::util::number::parse_f64(arg).ok_or_else(|| CmdError::err(msg))
}

/// A longitude, latitude pair within the indexable ranges.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), CmdError> {
    let (x, y) = (args::float(lon)?, args::float(lat)?);
    if !(geohash::LON_MIN..=geohash::LON_MAX).contains(&x)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&y)
    {
        return Err(CmdError::err(format!(
            "invalid longitude,latitude pair {x:.6},{y:.6}"
        )));
    }
    Ok((x, y))
}

/// A radius and its unit: (radius, metres per unit).
fn radius(value: &[u8], u: &[u8]) -> Result<(f64, f64), CmdError> {
    let r = float_or(value, "need numeric radius")?;
    if r < 0.0 {
        return Err(CmdError::err("radius cannot be negative"));
    }
    Ok((r, unit(u)?))
}

fn distance_reply(d: f64) -> Reply {
    Reply::bulk(format!("{d:.4}"))
}

/// GEOADD key [NX|XX] [CH] lon lat member [lon lat member ...]
fn geoadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut i = 2;
    while i < argv.len() {
        if args::is(&argv[i], "nx") {
            nx = true;
        } else if args::is(&argv[i], "xx") {
            xx = true;
        } else if args::is(&argv[i], "ch") {
            ch = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &argv[i..];
    if rest.is_empty() || !rest.len().is_multiple_of(3) || (nx && xx) {
        return Err(CmdError::Syntax);
    }
    let mut pairs = Vec::with_capacity(rest.len() / 3);
    for t in rest.chunks(3) {
        let (x, y) = lon_lat(&t[0], &t[1])?;
        let score = geohash::score_of(x, y).unwrap_or(0) as f64;
        pairs.push((score, &t[2][..]));
    }
    let flags = ZaddFlags {
        nx,
        xx,
        ..ZaddFlags::default()
    };
    match ctx.zset().add(&argv[1], &pairs, flags)? {
        ZaddOutcome::Done { added, changed, .. } => {
            // GEOADD is ZADD underneath, and Redis names its event so.
            if added + changed > 0 {
                ctx.notify(Class::ZSET, "zadd", &argv[1]);
            }
            Ok(Reply::Integer(
                (added + if ch { changed } else { 0 }) as i64,
            ))
        }
        ZaddOutcome::NotANumber => Err(CmdError::Syntax),
    }
}

/// GEODIST key member1 member2 [unit]
fn geodist(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let to_m = match argv.len() {
        4 => 1.0,
        5 => unit(&argv[4])?,
        _ => return Err(CmdError::Syntax),
    };
    let z = ctx.zset();
    let Some(c) = z.read(&argv[1])? else {
        return Ok(Reply::Null);
    };
    let s = z.scores(&c, &[&argv[2][..], &argv[3][..]])?;
    let (Some(a), Some(b)) = (s[0], s[1]) else {
        return Ok(Reply::Null);
    };
    let (a, b) = (geohash::decode_score(a), geohash::decode_score(b));
    Ok(distance_reply(geohash::distance(a.0, a.1, b.0, b.1) / to_m))
}

/// The scores of `members` (all `None` when the key is absent).
fn member_scores(
    ctx: &Ctx<'_>,
    key: &[u8],
    members: &[Bytes],
) -> Result<Vec<Option<f64>>, CmdError> {
    let z = ctx.zset();
    match z.read(key)? {
        None => Ok(vec![None; members.len()]),
        Some(c) => Ok(z.scores(&c, &args::key_slices(members))?),
    }
}

/// GEOHASH key [member ...]
fn geohash_cmd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let scores = member_scores(ctx, &argv[1], &argv[2..])?;
    Ok(Reply::Array(
        scores
            .into_iter()
            .map(|s| s.map_or(Reply::Null, |s| Reply::bulk(geohash::base32_of_score(s))))
            .collect(),
    ))
}

/// GEOPOS key [member ...]
fn geopos(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let scores = member_scores(ctx, &argv[1], &argv[2..])?;
    Ok(Reply::Array(
        scores
            .into_iter()
            .map(|s| match s {
                None => Reply::NullArray,
                Some(s) => {
                    let (x, y) = geohash::decode_score(s);
                    Reply::Array(vec![Reply::HumanDouble(x), Reply::HumanDouble(y)])
                }
            })
            .collect(),
    ))
}

/// Which command form is parsing its options.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    Radius { store: bool },
    ByMember { store: bool },
    Search,
    SearchStore,
}

#[derive(Clone, Copy, PartialEq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// A point found by a search.
struct Found {
    member: Vec<u8>,
    score: f64,
    dist: f64,
    lon: f64,
    lat: f64,
}

/// The position of a member, or Redis' error when it is missing.
fn member_pos(ctx: &Ctx<'_>, c: &Collection, member: &[u8]) -> Result<(f64, f64), CmdError> {
    match ctx.zset().score(c, member)? {
        Some(s) => Ok(geohash::decode_score(s)),
        None => Err(CmdError::err("could not decode requested zset member")),
    }
}

/// Every member inside `shape` around (`lon`, `lat`), stopping at `limit` (0: none).
fn search(
    ctx: &Ctx<'_>,
    c: &Collection,
    shape: Shape,
    lon: f64,
    lat: f64,
    limit: usize,
) -> Result<Vec<Found>, CmdError> {
    let z = ctx.zset();
    let cells = geohash::areas(shape, lon, lat);
    let mut out = Vec::new();
    // Huge areas can repeat a neighbour; like Redis, a repeat of the previous neighbour is
    // skipped (the centre cell is never compared).
    let mut last: Option<geohash::Hash> = None;
    for (i, cell) in cells.into_iter().enumerate() {
        if cell.is_zero() || last == Some(cell) {
            continue;
        }
        if limit > 0 && out.len() >= limit {
            break;
        }
        if i > 0 {
            last = Some(cell);
        }
        let (lo, hi) = cell.score_range();
        let range = ScoreRange {
            min: lo as f64,
            min_ex: false,
            max: hi as f64,
            max_ex: true,
        };
        for (member, score) in z.range_by_score(c, &range, false, 0, -1)? {
            let (x, y) = geohash::decode_score(score);
            if let Some(dist) = geohash::within(shape, lon, lat, x, y) {
                out.push(Found {
                    member,
                    score,
                    dist,
                    lon: x,
                    lat: y,
                });
                if limit > 0 && out.len() >= limit {
                    break;
                }
            }
        }
    }
    Ok(out)
}

/// GEORADIUS, GEORADIUSBYMEMBER, GEOSEARCH and their variants, as Redis' `georadiusGeneric`.
fn radius_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], form: Form) -> CmdResult {
    let z = ctx.zset();
    let key_at = if form == Form::SearchStore { 2 } else { 1 };
    let src = z.read(&argv[key_at])?;
    let mut center: Option<(f64, f64)> = None;
    let mut shape: Option<Shape> = None;
    let mut conversion = 1.0;
    let base = match form {
        Form::Radius { .. } => {
            center = Some(lon_lat(&argv[2], &argv[3])?);
            let (r, u) = radius(&argv[4], &argv[5])?;
            shape = Some(Shape::Radius(r * u));
            conversion = u;
            6
        }
        Form::ByMember { .. } => {
            if let Some(c) = &src {
                center = Some(member_pos(ctx, c, &argv[2])?);
                let (r, u) = radius(&argv[3], &argv[4])?;
                shape = Some(Shape::Radius(r * u));
                conversion = u;
            }
            5
        }
        Form::Search => 2,
        Form::SearchStore => 3,
    };
    let searching = matches!(form, Form::Search | Form::SearchStore);
    let may_store = matches!(
        form,
        Form::Radius { store: true } | Form::ByMember { store: true }
    );
    let mut store: Option<&Bytes> = if form == Form::SearchStore {
        Some(&argv[1])
    } else {
        None
    };
    let (mut withdist, mut withhash, mut withcoord, mut any) = (false, false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut storedist = false;
    let mut sort = Sort::None;
    let mut count: i64 = 0;
    let opts = &argv[base..];
    let mut i = 0;
    while i < opts.len() {
        let a = &opts[i];
        let left = opts.len() - i - 1;
        if args::is(a, "withdist") {
            withdist = true;
        } else if args::is(a, "withhash") {
            withhash = true;
        } else if args::is(a, "withcoord") {
            withcoord = true;
        } else if args::is(a, "any") {
            any = true;
        } else if args::is(a, "asc") {
            sort = Sort::Asc;
        } else if args::is(a, "desc") {
            sort = Sort::Desc;
        } else if args::is(a, "count") && left >= 1 {
            count = args::int(&opts[i + 1])?;
            if count <= 0 {
                return Err(CmdError::err("COUNT must be > 0"));
            }
            i += 1;
        } else if (args::is(a, "store") || args::is(a, "storedist")) && left >= 1 && may_store {
            store = Some(&opts[i + 1]);
            storedist = args::is(a, "storedist");
            i += 1;
        } else if args::is(a, "storedist") && form == Form::SearchStore {
            storedist = true;
        } else if args::is(a, "frommember") && left >= 1 && searching && !fromloc {
            if let Some(c) = &src {
                center = Some(member_pos(ctx, c, &opts[i + 1])?);
            }
            frommember = true;
            i += 1;
        } else if args::is(a, "fromlonlat") && left >= 2 && searching && !frommember {
            center = Some(lon_lat(&opts[i + 1], &opts[i + 2])?);
            fromloc = true;
            i += 2;
        } else if args::is(a, "byradius") && left >= 2 && searching && !bybox {
            let (r, u) = radius(&opts[i + 1], &opts[i + 2])?;
            shape = Some(Shape::Radius(r * u));
            conversion = u;
            byradius = true;
            i += 2;
        } else if args::is(a, "bybox") && left >= 3 && searching && !byradius {
            let w = float_or(&opts[i + 1], "need numeric width")?;
            let h = float_or(&opts[i + 2], "need numeric height")?;
            if w < 0.0 || h < 0.0 {
                return Err(CmdError::err("height or width cannot be negative"));
            }
            let u = unit(&opts[i + 3])?;
            shape = Some(Shape::Box {
                width: w * u,
                height: h * u,
            });
            conversion = u;
            bybox = true;
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let name = args::lower(&argv[0]);
    if store.is_some() && (withdist || withhash || withcoord) {
        return Err(CmdError::err(format!(
            "{} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if form == Form::SearchStore {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        )));
    }
    if searching && !(frommember || fromloc) {
        return Err(CmdError::err(format!(
            "exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if searching && !(byradius || bybox) {
        return Err(CmdError::err(format!(
            "exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if any && count == 0 {
        return Err(CmdError::err("the ANY argument requires COUNT argument"));
    }
    let (Some(c), Some((lon, lat)), Some(shape)) = (src, center, shape) else {
        return match store {
            Some(dest) => {
                let existed = ctx.exists_for_notify(dest)?;
                ctx.zset().store(dest, &[])?;
                ctx.notify_stored(Class::ZSET, "", dest, false, existed);
                Ok(Reply::Integer(0))
            }
            None => Ok(Reply::Array(Vec::new())),
        };
    };
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let limit = if any { count as usize } else { 0 };
    let mut found = search(ctx, &c, shape, lon, lat, limit)?;
    match sort {
        Sort::Asc => found.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Sort::Desc => found.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
        Sort::None => {}
    }
    if count > 0 {
        found.truncate(count as usize);
    }
    if let Some(dest) = store {
        let mut entries: Vec<(Vec<u8>, f64)> = Vec::with_capacity(found.len());
        let mut seen = std::collections::HashSet::new();
        for f in found {
            if seen.insert(f.member.clone()) {
                let score = if storedist {
                    f.dist / conversion
                } else {
                    f.score
                };
                entries.push((f.member, score));
            }
        }
        let existed = ctx.exists_for_notify(dest)?;
        let n = ctx.zset().store(dest, &entries)?;
        let event = if form == Form::SearchStore {
            "geosearchstore"
        } else {
            "georadiusstore"
        };
        ctx.notify_stored(Class::ZSET, event, dest, n > 0, existed);
        return Ok(Reply::Integer(n as i64));
    }
    let options = usize::from(withdist) + usize::from(withhash) + usize::from(withcoord);
    let items = found
        .into_iter()
        .map(|f| {
            let member = Reply::Bulk(Bytes::from(f.member));
            if options == 0 {
                return member;
            }
            let mut item = vec![member];
            if withdist {
                item.push(distance_reply(f.dist / conversion));
            }
            if withhash {
                item.push(Reply::Integer(f.score as i64));
            }
            if withcoord {
                item.push(Reply::Array(vec![
                    Reply::HumanDouble(f.lon),
                    Reply::HumanDouble(f.lat),
                ]));
            }
            Reply::Array(item)
        })
        .collect();
    Ok(Reply::Array(items))
}

/// GEORADIUS key lon lat radius unit [options] [STORE key] [STOREDIST key]
fn georadius(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    radius_generic(ctx, argv, Form::Radius { store: true })
}

/// GEORADIUS_RO key lon lat radius unit [options]
fn georadius_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    radius_generic(ctx, argv, Form::Radius { store: false })
}

/// GEORADIUSBYMEMBER key member radius unit [options] [STORE key] [STOREDIST key]
fn georadiusbymember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    radius_generic(ctx, argv, Form::ByMember { store: true })
}

/// GEORADIUSBYMEMBER_RO key member radius unit [options]
fn georadiusbymember_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    radius_generic(ctx, argv, Form::ByMember { store: false })
}

/// GEOSEARCH key FROMMEMBER m|FROMLONLAT lon lat BYRADIUS r unit|BYBOX w h unit [options]
fn geosearch(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    radius_generic(ctx, argv, Form::Search)
}

/// GEOSEARCHSTORE dest src ... [STOREDIST]
fn geosearchstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    radius_generic(ctx, argv, Form::SearchStore)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cmd::args::argv;

    #[test]
    fn store_destinations_are_keys() {
        let a = argv(&["georadius", "k", "1", "2", "3", "m", "STORE", "d"]);
        assert_eq!(georadius_keys(&a), vec![1, 7]);
        let a = argv(&["georadiusbymember", "k", "m", "3", "km", "storedist", "d"]);
        assert_eq!(georadiusbymember_keys(&a), vec![1, 6]);
        assert_eq!(
            georadius_keys(&argv(&["georadius", "k", "1", "2", "3", "m"])),
            vec![1]
        );
    }
}
