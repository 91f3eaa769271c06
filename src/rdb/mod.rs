//! Reading Redis RDB files (as `SAVE`/`BGSAVE` write them; RDB versions 1 to 11, i.e. up to
//! Redis 7.2) into the tools' `Record`s, so a Redis dataset can be imported.
//!
//! The file is a header (`REDIS` and a 4-digit version), then a stream of opcodes — metadata
//! (AUX fields, database selection, resize hints, expiry and eviction hints for the next key,
//! function libraries) and keys, each a type byte, the key and the value — and finally `0xFF`
//! with a CRC-64 of everything before it (version 5 on; zero when saving with
//! `rdbchecksum no`), which is verified.
//!
//! Every value encoding Redis has written is decoded, and collections (streams with their
//! consumer groups included) come out in the plain `Value` form. Self-describing module values
//! have no counterpart here: they are read past and reported as [`Item::Skipped`]. Module
//! values of the first format and module auxiliary data cannot be read without their module
//! and are errors. Keys whose deadline has passed are returned with that deadline (Redis would
//! drop them on load); empty collections, which Redis drops, are not returned (empty streams,
//! which Redis keeps, are).
//!
//! Corrupt or truncated input gives an [`RdbError`] naming the problem and its byte offset;
//! lengths from the file never size an allocation beyond a fixed cap.

mod cursor;
pub mod dump;
mod error;
mod input;
mod intset;
mod length;
mod listpack;
mod lzf;
#[cfg(test)]
mod proptests;
mod skip;
mod stream;
#[cfg(test)]
mod stream_tests;
mod stream_write;
mod string;
#[cfg(test)]
mod tests;
mod value;
pub mod writer;
mod ziplist;
mod zipmap;

use std::io::Read;

use crate::dataset::Record;

pub use error::RdbError;
use error::Result;
use input::Input;
use length::read_length;
use string::{read_string, skip_string};
use value::{read_value, type_name, Decoded};

/// Newest RDB format version understood (Redis 7.2).
const MAX_VERSION: u32 = 11;
/// First version whose files end with a checksum.
const CHECKSUM_VERSION: u32 = 5;

const OP_FUNCTION2: u8 = 0xf5;
const OP_FUNCTION: u8 = 0xf6;
const OP_MODULE_AUX: u8 = 0xf7;
const OP_IDLE: u8 = 0xf8;
const OP_FREQ: u8 = 0xf9;
pub(crate) const OP_AUX: u8 = 0xfa;
pub(crate) const OP_RESIZEDB: u8 = 0xfb;
pub(crate) const OP_EXPIRETIME_MS: u8 = 0xfc;
const OP_EXPIRETIME: u8 = 0xfd;
pub(crate) const OP_SELECTDB: u8 = 0xfe;
pub(crate) const OP_EOF: u8 = 0xff;

/// One key read from the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Record(Record),
    /// A key of a type this server does not have (`"module"`), read past.
    Skipped {
        db: usize,
        key: Vec<u8>,
        type_name: &'static str,
    },
}

/// Reads an RDB file key by key. Yields `Err` at most once, then ends.
pub struct RdbReader<R: Read> {
    input: Input<R>,
    version: u32,
    db: usize,
    done: bool,
}

impl<R: Read> RdbReader<R> {
    /// Reads and checks the header. `source` need not be buffered.
    pub fn new(source: R) -> std::result::Result<Self, RdbError> {
        let mut input = Input::new(source);
        let header: [u8; 9] = input
            .array()
            .map_err(|e| RdbError::new(0, format!("not an RDB file: {}", e.message())))?;
        let (magic, digits) = header.split_at(5);
        if magic != b"REDIS" {
            return Err(RdbError::new(0, "not an RDB file (no REDIS signature)"));
        }
        let version = std::str::from_utf8(digits)
            .ok()
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<u32>().ok())
            .ok_or_else(|| {
                RdbError::new(
                    5,
                    format!("bad RDB version {:?}", digits.escape_ascii().to_string()),
                )
            })?;
        if !(1..=MAX_VERSION).contains(&version) {
            return Err(RdbError::new(
                5,
                format!("RDB version {version} is not supported (1 to {MAX_VERSION} are)"),
            ));
        }
        Ok(Self {
            input,
            version,
            db: 0,
            done: false,
        })
    }

    /// The file's RDB format version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The next key, or `None` after the end-of-file opcode (and a good checksum).
    fn read_item(&mut self) -> Result<Option<Item>> {
        let mut expire_at_ms = None;
        loop {
            let at = self.input.offset();
            match self.input.u8()? {
                OP_EXPIRETIME_MS => {
                    expire_at_ms = Some(i64::from_le_bytes(self.input.array()?));
                }
                OP_EXPIRETIME => {
                    let seconds = i32::from_le_bytes(self.input.array()?);
                    expire_at_ms = Some(i64::from(seconds) * 1000);
                }
                OP_FREQ => {
                    self.input.u8()?;
                }
                OP_IDLE => {
                    read_length(&mut self.input)?;
                }
                OP_SELECTDB => {
                    let db = read_length(&mut self.input)?;
                    self.db = usize::try_from(db)
                        .map_err(|_| RdbError::new(at, format!("database number {db}")))?;
                }
                OP_RESIZEDB => {
                    read_length(&mut self.input)?;
                    read_length(&mut self.input)?;
                }
                OP_AUX => {
                    skip_string(&mut self.input)?;
                    skip_string(&mut self.input)?;
                }
                OP_FUNCTION2 => skip_string(&mut self.input)?,
                OP_FUNCTION => {
                    // The Redis 7.0 release-candidate form: name, engine, optional
                    // description, code.
                    skip_string(&mut self.input)?;
                    skip_string(&mut self.input)?;
                    if read_length(&mut self.input)? != 0 {
                        skip_string(&mut self.input)?;
                    }
                    skip_string(&mut self.input)?;
                }
                OP_MODULE_AUX => {
                    return Err(RdbError::new(
                        at,
                        "module auxiliary data is not supported (the file needs a Redis module)",
                    ))
                }
                OP_EOF => {
                    self.verify_checksum()?;
                    return Ok(None);
                }
                kind => {
                    let key = read_string(&mut self.input)?;
                    let decoded = read_value(&mut self.input, kind).map_err(|e| {
                        e.context(&format!(
                            "key {} of type {kind} ({})",
                            shown(&key),
                            type_name(kind)
                        ))
                    })?;
                    let db = self.db;
                    match decoded {
                        Decoded::Value(value) => {
                            return Ok(Some(Item::Record(Record {
                                db,
                                key,
                                value,
                                expire_at_ms,
                            })))
                        }
                        Decoded::Skipped(type_name) => {
                            return Ok(Some(Item::Skipped { db, key, type_name }))
                        }
                        Decoded::Empty => expire_at_ms = None,
                    }
                }
            }
        }
    }

    fn verify_checksum(&mut self) -> Result<()> {
        if self.version < CHECKSUM_VERSION {
            return Ok(());
        }
        let computed = self.input.checksum();
        let at = self.input.offset();
        let stored = u64::from_le_bytes(self.input.array()?);
        if stored != 0 && stored != computed {
            return Err(RdbError::new(
                at,
                format!(
                    "checksum mismatch: the file says {stored:016x}, its contents give {computed:016x}"
                ),
            ));
        }
        Ok(())
    }
}

impl<R: Read> Iterator for RdbReader<R> {
    type Item = std::result::Result<Item, RdbError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_item() {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// A key for an error message: quoted, escaped, and cut short if long.
fn shown(key: &[u8]) -> String {
    const MAX: usize = 64;
    let cut = &key[..key.len().min(MAX)];
    let more = if key.len() > MAX { "..." } else { "" };
    format!("\"{}\"{more}", cut.escape_ascii())
}
