//! Small, dependency-light helpers shared by the command layer.
//!
//! These reproduce Redis' exact parsing and matching rules (integer and float
//! parsing, glob patterns, cluster hash slots) so that command handlers behave
//! byte-for-byte like Redis without each re-implementing the quirks.
//!
//! Beside them sit helpers any module may use without depending on another part of the
//! crate, such as the stop signal background threads share ([`stop`]).

pub mod alloc_counter;
pub mod bits;
pub mod civil;
pub mod clock;
pub mod codis;
pub mod disk_space;
pub mod fnv;
pub mod frame;
pub mod geohash;
pub mod glob;
pub mod hll;
pub mod keyspace_events;
pub mod malloc_tuning;
#[cfg(test)]
pub(crate) mod mutate;
pub mod number;
pub mod priority;
pub mod redis_digest;
pub mod repr;
pub mod sd_notify;
pub mod slot;
pub mod stop;
pub mod stream_id;
