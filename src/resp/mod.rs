//! RESP wire protocol: turning client bytes into requests and replies into bytes.
//!
//! Job: this module is the only place that knows the Redis serialization
//! protocol. [`parse`] decodes what clients send (multibulk and inline
//! requests) with the exact acceptance rules and error texts of Redis 7, and
//! [`reply`] encodes the server's answers for either RESP2 or RESP3.
//!
//! Invariants:
//! - Nothing a client sends can make this module panic; malformed input is
//!   reported as a [`ProtocolError`], after which the connection is expected to
//!   be answered with that error and closed.
//! - Request arguments are arbitrary bytes, never assumed to be UTF-8, and are
//!   handed out as zero-copy [`bytes::Bytes`] views of the read buffer wherever
//!   the wire form allows it.

pub mod client;
pub mod parse;
pub mod reply;

pub use parse::{ParseLimits, ProtocolError, RequestParser};
pub use reply::{Protocol, Reply};
