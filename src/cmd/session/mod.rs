//! Commands about the client's own connection: PING, AUTH, SELECT, HELLO and CLIENT, transactions
//! (MULTI/EXEC/WATCH) and pub/sub.

pub mod client;
mod client_tracking;
pub mod connection;
pub mod multi;
pub mod pubsub;
