//! Commands on data, one module per Redis type (strings, bitmaps, hyperloglog, hashes, lists, sets,
//! sorted sets, geo, streams), the type-independent key commands, SORT, MIGRATE, and the reply
//! helpers they share.

pub mod bitmaps;
pub mod geo;
pub mod hashes;
pub mod hyperloglog;
pub mod keys;
pub mod lazy_reply;
pub mod lists;
pub mod migrate;
pub mod random_picks;
pub mod sets;
pub mod sort;
pub mod sorted_sets;
pub mod streams;
pub mod strings;
