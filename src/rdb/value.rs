//! Decoding one value, given its RDB type byte, into the tools' `Value` model — whatever
//! encoding Redis chose for it (plain, ziplist, listpack, intset, zipmap, quicklist, stream
//! listpacks).

use std::io::Read;

use crate::dataset::Value;

use super::cursor::{into_pairs, BlobResult};
use super::error::{RdbError, Result};
use super::input::Input;
use super::length::read_length;
use super::skip::skip_module_value;
use super::stream::{read_stream, StreamVersion};
use super::string::{parse_score, read_binary_double, read_string, read_text_double};
use super::{intset, listpack, ziplist, zipmap};

/// Most elements reserved ahead of reading a collection: a corrupt count must not become a
/// huge allocation; longer collections grow as their elements actually arrive.
const PREALLOC_ELEMENTS: u64 = 4096;

/// What a key's value turned out to be.
pub(super) enum Decoded {
    Value(Value),
    /// A collection with no elements, which Redis itself drops on load.
    Empty,
    /// A type this server does not have, read past; the name says which.
    Skipped(&'static str),
}

/// The RDB name of a value type, for messages.
pub(super) fn type_name(kind: u8) -> &'static str {
    match kind {
        0 => "string",
        1 => "list",
        2 => "set",
        3 => "zset",
        4 => "hash",
        5 => "zset (binary scores)",
        6 => "module (v1)",
        7 => "module",
        9 => "hash zipmap",
        10 => "list ziplist",
        11 => "set intset",
        12 => "zset ziplist",
        13 => "hash ziplist",
        14 => "list quicklist",
        15 => "stream",
        16 => "hash listpack",
        17 => "zset listpack",
        18 => "list quicklist (listpack nodes)",
        19 => "stream (v2)",
        20 => "set listpack",
        21 => "stream (v3)",
        _ => "unknown type",
    }
}

/// Reads the value of RDB type `kind`.
pub(super) fn read_value<R: Read>(input: &mut Input<R>, kind: u8) -> Result<Decoded> {
    let at = input.offset();
    let value = match kind {
        0 => Value::String(read_string(input)?),
        1 => Value::List(read_strings(input)?),
        2 => Value::Set(read_strings(input)?),
        3 | 5 => {
            let n = read_length(input)?;
            let mut members = Vec::with_capacity(prealloc(n));
            for _ in 0..n {
                let member = read_string(input)?;
                let score_at = input.offset();
                let score = if kind == 3 {
                    read_text_double(input)?
                } else {
                    read_binary_double(input)?
                };
                check_score(score).map_err(|e| RdbError::new(score_at, e))?;
                members.push((member, score));
            }
            Value::ZSet(members)
        }
        4 => {
            let n = read_length(input)?;
            let mut fields = Vec::with_capacity(prealloc(n));
            for _ in 0..n {
                let field = read_string(input)?;
                fields.push((field, read_string(input)?));
            }
            Value::Hash(fields)
        }
        9 => Value::Hash(read_blob(input, zipmap::pairs)?),
        10 => Value::List(read_blob(input, ziplist::entries)?),
        11 => Value::Set(read_blob(input, intset::members)?),
        12 => Value::ZSet(read_blob(input, |b| scored(ziplist::entries(b)?))?),
        13 => Value::Hash(read_blob(input, |b| {
            into_pairs(ziplist::entries(b)?, "hash")
        })?),
        14 | 18 => Value::List(read_quicklist(input, kind == 18)?),
        16 => Value::Hash(read_blob(input, |b| {
            into_pairs(listpack::entries(b)?, "hash")
        })?),
        17 => Value::ZSet(read_blob(input, |b| scored(listpack::entries(b)?))?),
        20 => Value::Set(read_blob(input, listpack::entries)?),
        15 | 19 | 21 => {
            let version = match kind {
                15 => StreamVersion::V1,
                19 => StreamVersion::V2,
                _ => StreamVersion::V3,
            };
            // Kept even when empty: an empty stream is a value (Redis loads it).
            return Ok(Decoded::Value(Value::Stream(Box::new(read_stream(
                input, version,
            )?))));
        }
        7 => {
            skip_module_value(input)?;
            return Ok(Decoded::Skipped("module"));
        }
        6 => {
            return Err(RdbError::new(
                at,
                "module value of the first format (type 6): it can only be read by its module",
            ))
        }
        _ => return Err(RdbError::new(at, format!("unknown value type {kind}"))),
    };
    let empty = match &value {
        Value::String(_) | Value::Stream(_) => false,
        Value::List(v) | Value::Set(v) => v.is_empty(),
        Value::Hash(v) => v.is_empty(),
        Value::ZSet(v) => v.is_empty(),
    };
    Ok(if empty {
        Decoded::Empty
    } else {
        Decoded::Value(value)
    })
}

fn prealloc(n: u64) -> usize {
    n.min(PREALLOC_ELEMENTS) as usize
}

/// A count, then that many strings.
fn read_strings<R: Read>(input: &mut Input<R>) -> Result<Vec<Vec<u8>>> {
    let n = read_length(input)?;
    let mut out = Vec::with_capacity(prealloc(n));
    for _ in 0..n {
        out.push(read_string(input)?);
    }
    Ok(out)
}

/// A string holding an encoded structure, decoded by `decode`; its errors point at the string.
fn read_blob<R: Read, T>(
    input: &mut Input<R>,
    decode: impl FnOnce(&[u8]) -> BlobResult<T>,
) -> Result<T> {
    let at = input.offset();
    let blob = read_string(input)?;
    decode(&blob).map_err(|e| RdbError::new(at, e))
}

/// A list saved as quicklist nodes: ziplists (type 14), or (type 18) each node tagged as a
/// listpack or as one plain element too large to pack.
fn read_quicklist<R: Read>(input: &mut Input<R>, tagged: bool) -> Result<Vec<Vec<u8>>> {
    const PLAIN: u64 = 1;
    const PACKED: u64 = 2;
    let nodes = read_length(input)?;
    let mut out = Vec::new();
    for _ in 0..nodes {
        let container = if tagged {
            let at = input.offset();
            match read_length(input)? {
                c @ (PLAIN | PACKED) => c,
                c => {
                    return Err(RdbError::new(
                        at,
                        format!("quicklist node of unknown container type {c}"),
                    ))
                }
            }
        } else {
            PACKED
        };
        let at = input.offset();
        let blob = read_string(input)?;
        if blob.is_empty() {
            return Err(RdbError::new(at, "empty quicklist node"));
        }
        if container == PLAIN {
            out.push(blob);
            continue;
        }
        let entries = if tagged {
            listpack::entries(&blob)
        } else {
            ziplist::entries(&blob)
        };
        out.extend(entries.map_err(|e| RdbError::new(at, e))?);
    }
    Ok(out)
}

/// Members and scores stored alternately as entries, each score as text or an integer.
fn scored(entries: Vec<Vec<u8>>) -> BlobResult<Vec<(Vec<u8>, f64)>> {
    into_pairs(entries, "sorted set")?
        .into_iter()
        .map(|(member, score_text)| {
            let score = parse_score(&score_text)
                .ok_or_else(|| format!("bad score {:?}", score_text.escape_ascii().to_string()))?;
            check_score(score)?;
            Ok((member, score))
        })
        .collect()
}

/// Redis refuses to load a NaN score; so does this reader.
fn check_score(score: f64) -> BlobResult<()> {
    if score.is_nan() {
        Err("NaN score".into())
    } else {
        Ok(())
    }
}
