//! The reader's one error type. Every failure names what was wrong and the byte offset in the
//! file where the item that failed starts, so a corrupt dump can be inspected with a hex dump.

use std::fmt;

/// A malformed, truncated or unsupported RDB file (or an I/O failure while reading it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbError {
    offset: u64,
    message: String,
}

impl RdbError {
    pub(super) fn new(offset: u64, message: impl Into<String>) -> Self {
        Self {
            offset,
            message: message.into(),
        }
    }

    /// Byte offset (from the start of the file) of the item that could not be read.
    #[cfg(test)]
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// What was wrong, without the offset.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with `context` (e.g. the key being read) in front of its message.
    pub(super) fn context(mut self, context: &str) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

impl std::error::Error for RdbError {}

pub(super) type Result<T> = std::result::Result<T, RdbError>;
