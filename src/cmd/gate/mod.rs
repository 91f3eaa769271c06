//! The gate every command passes: the declarative table, the spec of each command, the dispatcher
//! that checks and runs it, and the access times it records.

pub mod acl;
pub mod cluster_route;
pub mod dispatch;
pub mod spec;
pub mod table;
