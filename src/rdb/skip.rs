//! Reading past values this server has no type for: self-describing module values. They are
//! consumed field by field so the keys after them can still be read, and reported as skipped.

use std::io::Read;

use super::error::{RdbError, Result};
use super::input::Input;
use super::length::read_length;
use super::string::skip_string;

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
