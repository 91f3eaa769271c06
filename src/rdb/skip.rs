//! Reading past values this server has no type for: streams (which are long to encode, with
//! consumer groups and pending lists) and self-describing module values. They are consumed
//! field by field so the keys after them can still be read, and reported as skipped.

use std::io::Read;

use super::error::{RdbError, Result};
use super::input::Input;
use super::length::read_length;
use super::string::skip_string;

/// The three stream layouts: 15 (Redis 5), 19 (7.0: first id, tombstones, offsets) and 21
/// (7.2: a consumer's active time).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum StreamVersion {
    V1,
    V2,
    V3,
}

/// Reads past a stream value.
pub(super) fn skip_stream<R: Read>(input: &mut Input<R>, version: StreamVersion) -> Result<()> {
    // The entries: listpacks, each keyed by its 16-byte master entry id.
    let listpacks = read_length(input)?;
    for _ in 0..listpacks {
        skip_string(input)?;
        skip_string(input)?;
    }
    // Length, last id (ms, seq); then first id, max deleted id and entries added.
    let metadata = if version >= StreamVersion::V2 { 8 } else { 3 };
    for _ in 0..metadata {
        read_length(input)?;
    }
    let groups = read_length(input)?;
    for _ in 0..groups {
        skip_string(input)?; // name
        read_length(input)?; // last delivered id: ms
        read_length(input)?; // and seq
        if version >= StreamVersion::V2 {
            read_length(input)?; // entries read
        }
        // The group's pending entries: raw 16-byte id, delivery time (ms), delivery count.
        let pending = read_length(input)?;
        for _ in 0..pending {
            input.skip(16 + 8)?;
            read_length(input)?;
        }
        let consumers = read_length(input)?;
        for _ in 0..consumers {
            skip_string(input)?; // name
            input.skip(8)?; // seen time
            if version >= StreamVersion::V3 {
                input.skip(8)?; // active time
            }
            let owned = read_length(input)?;
            input.skip(owned.checked_mul(16).ok_or_else(|| {
                RdbError::new(input.offset(), format!("{owned} pending entries"))
            })?)?;
        }
    }
    Ok(())
}

/// Field tags of a module value of type 7.
const MODULE_EOF: u64 = 0;
const MODULE_SINT: u64 = 1;
const MODULE_UINT: u64 = 2;
const MODULE_FLOAT: u64 = 3;
const MODULE_DOUBLE: u64 = 4;
const MODULE_STRING: u64 = 5;

/// Reads past a module value of type 7, which tags each field it wrote, up to its end mark.
pub(super) fn skip_module_value<R: Read>(input: &mut Input<R>) -> Result<()> {
    read_length(input)?; // module id (name and encoding version)
    loop {
        let at = input.offset();
        match read_length(input)? {
            MODULE_EOF => return Ok(()),
            MODULE_SINT | MODULE_UINT => {
                read_length(input)?;
            }
            MODULE_FLOAT => input.skip(4)?,
            MODULE_DOUBLE => input.skip(8)?,
            MODULE_STRING => skip_string(input)?,
            op => {
                return Err(RdbError::new(
                    at,
                    format!("unknown module value field tag {op}"),
                ))
            }
        }
    }
}
