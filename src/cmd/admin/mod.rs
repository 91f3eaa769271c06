//! Server and administration commands: COMMAND, CONFIG, DEBUG, FUNCTION, INFO, LATENCY, MEMORY, replication
//! (SLAVEOF, SYNC), and SAVE/SHUTDOWN/SLOWLOG.

pub mod acl;
pub mod cluster;
pub mod codis;
pub mod command;
pub mod config;
pub mod debug;
pub mod info;
pub mod latency;
mod latency_report;
pub mod memory;
pub mod replication;
pub mod server;
