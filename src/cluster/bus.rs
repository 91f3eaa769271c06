//! The cluster bus protocol: frames ([`wire`]) and what each message changes ([`gossip`]).
//! The threads that carry it live in `server::cluster_bus`; commands reach them through
//! [`BusHandle`].

pub mod gossip;
pub mod wire;

use crate::cluster::node::NodeName;
use gossip::Action;
use wire::Body;

/// What commands may ask of the running bus.
pub trait BusHandle: Send + Sync {
    /// Sends a message to one node.
    fn send(&self, node: &NodeName, body: Body);
    /// Sends a message to every node with a link.
    fn broadcast(&self, body: Body);
    /// Takes actions decided under the cluster lock (replies are dropped).
    fn apply(&self, actions: Vec<Action>);
}
