//! Small, dependency-light helpers shared by the command layer.
//!
//! These reproduce Redis' exact parsing and matching rules (integer and float
//! parsing, glob patterns, cluster hash slots) so that command handlers behave
//! byte-for-byte like Redis without each re-implementing the quirks.

pub mod alloc_counter;
pub mod bits;
pub mod civil;
pub mod disk_space;
pub mod glob;
#[cfg(test)]
pub(crate) mod mutate;
pub mod number;
pub mod priority;
pub mod redis_digest;
pub mod repr;
pub mod slot;
pub mod stop;
