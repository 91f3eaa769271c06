//! Server and administration commands: COMMAND, CONFIG, DEBUG, FUNCTION, INFO, MEMORY, replication
//! (SLAVEOF, SYNC), and SAVE/SHUTDOWN/SLOWLOG.

pub mod command;
pub mod config;
pub mod debug;
pub mod info;
pub mod memory;
pub mod replication;
pub mod server;
