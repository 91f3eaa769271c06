//! The cluster as this node sees it: the nodes, who serves each of the 16384 slots, the slots
//! in migration, the epochs, and whether the cluster is healthy. Pure data and rules; the bus
//! and the commands change it under the lock of [`super::Cluster`].

use std::collections::{BTreeMap, HashMap};

use super::node::{ClusterNode, NodeFlags, NodeName};
use crate::util::slot::SLOT_COUNT;

/// Seconds a forgotten node stays out of the cluster (gossip does not bring it back).
pub const FORGET_TTL_MS: u64 = 60_000;

/// The cluster's health, as CLUSTER INFO's `cluster_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Ok,
    Fail,
}

/// Settings the rules read, from the live configuration.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub node_timeout_ms: u64,
    pub require_full_coverage: bool,
}

/// Bus message counters per message type, for CLUSTER INFO.
#[derive(Debug, Clone, Default)]
pub struct MessageStats {
    pub sent: BTreeMap<&'static str, u64>,
    pub received: BTreeMap<&'static str, u64>,
}

/// The whole cluster state of this node.
#[derive(Debug, Clone)]
pub struct ClusterState {
    pub myself: NodeName,
    pub nodes: HashMap<NodeName, ClusterNode>,
    /// Owner of every slot.
    slots: Vec<Option<NodeName>>,
    /// How many slots each owner serves, kept with `slots` (CLUSTER INFO and the health
    /// check read it on every message).
    owned: HashMap<NodeName, usize>,
    /// Slots this node is handing to another node (SETSLOT MIGRATING).
    pub migrating: BTreeMap<u16, NodeName>,
    /// Slots this node is receiving from another node (SETSLOT IMPORTING).
    pub importing: BTreeMap<u16, NodeName>,
    pub current_epoch: u64,
    pub last_vote_epoch: u64,
    pub health: Health,
    /// Nodes removed by CLUSTER FORGET, with the unix ms until which gossip is ignored.
    pub forgotten: HashMap<NodeName, u64>,
    pub stats: MessageStats,
}

impl ClusterState {
    /// A cluster of one: this node, a master with no slots.
    pub fn new(myself: NodeName, ip: &str, port: u16, cport: u16) -> ClusterState {
        let mut me = ClusterNode::new(
            myself,
            ip,
            port,
            cport,
            NodeFlags::MYSELF | NodeFlags::MASTER,
        );
        me.created = 0;
        let mut nodes = HashMap::new();
        nodes.insert(myself, me);
        ClusterState {
            myself,
            nodes,
            slots: vec![None; usize::from(SLOT_COUNT)],
            owned: HashMap::new(),
            migrating: BTreeMap::new(),
            importing: BTreeMap::new(),
            current_epoch: 0,
            last_vote_epoch: 0,
            health: Health::Fail,
            forgotten: HashMap::new(),
            stats: MessageStats::default(),
        }
    }

    /// This node.
    pub fn me(&self) -> &ClusterNode {
        &self.nodes[&self.myself]
    }

    /// This node, to change.
    pub fn me_mut(&mut self) -> &mut ClusterNode {
        self.nodes
            .get_mut(&self.myself)
            .expect("the cluster state always holds its own node")
    }

    /// The node serving `slot`.
    pub fn owner(&self, slot: u16) -> Option<NodeName> {
        self.slots[usize::from(slot)]
    }

    /// Gives `slot` to `node` (or to nobody).
    pub fn set_owner(&mut self, slot: u16, node: Option<NodeName>) {
        let previous = std::mem::replace(&mut self.slots[usize::from(slot)], node);
        if let Some(p) = previous {
            if let Some(n) = self.owned.get_mut(&p) {
                *n -= 1;
                if *n == 0 {
                    self.owned.remove(&p);
                }
            }
        }
        if let Some(n) = node {
            *self.owned.entry(n).or_insert(0) += 1;
        }
    }

    /// The slots `node` serves, ascending.
    pub fn slots_of(&self, node: &NodeName) -> Vec<u16> {
        (0..SLOT_COUNT)
            .filter(|&s| self.slots[usize::from(s)].as_ref() == Some(node))
            .collect()
    }

    /// The slots `node` serves as a 2048-byte bitmap (bit `s` of byte `s / 8`).
    pub fn slot_bitmap(&self, node: &NodeName) -> Vec<u8> {
        let mut bits = vec![0u8; usize::from(SLOT_COUNT) / 8];
        for s in 0..usize::from(SLOT_COUNT) {
            if self.slots[s].as_ref() == Some(node) {
                bits[s / 8] |= 1 << (s % 8);
            }
        }
        bits
    }

    /// How many slots `node` serves.
    pub fn slot_count(&self, node: &NodeName) -> usize {
        self.owned.get(node).copied().unwrap_or(0)
    }

    /// The slots `node` serves as inclusive ranges.
    pub fn slot_ranges(&self, node: &NodeName) -> Vec<(u16, u16)> {
        ranges(&self.slots_of(node))
    }

    /// Masters serving at least one slot: the cluster's size.
    pub fn size(&self) -> usize {
        self.owned.len()
    }

    /// Slots with an owner.
    pub fn assigned_slots(&self) -> usize {
        self.owned.values().sum()
    }

    /// Assigned slots whose owner is suspected (`pfail`) or failed (`fail`).
    pub fn slots_in_state(&self, flag: NodeFlags) -> usize {
        self.owned
            .iter()
            .filter(|(n, _)| self.nodes.get(n).is_some_and(|n| n.flags.contains(flag)))
            .map(|(_, count)| count)
            .sum()
    }

    /// The replicas of `master`.
    pub fn replicas_of(&self, master: &NodeName) -> Vec<&ClusterNode> {
        let mut v: Vec<&ClusterNode> = self
            .nodes
            .values()
            .filter(|n| n.replica_of.as_ref() == Some(master))
            .collect();
        v.sort_by_key(|n| n.name);
        v
    }

    /// The master this node replicates, if it is a replica.
    pub fn my_master(&self) -> Option<NodeName> {
        self.me().replica_of
    }

    /// The shard id of a node: Redis 7.0 has none of its own, so its master's name stands in.
    pub fn shard_of(&self, node: &ClusterNode) -> NodeName {
        node.replica_of.unwrap_or(node.name)
    }

    /// Removes a node and everything that points at it.
    /// This node itself is never removed (a hand-edited nodes.conf could flag it as a
    /// handshake node, which would otherwise time out).
    pub fn remove_node(&mut self, name: &NodeName) {
        if *name == self.myself {
            return;
        }
        self.nodes.remove(name);
        for slot in self.slots_of(name) {
            self.set_owner(slot, None);
        }
        self.migrating.retain(|_, n| n != name);
        self.importing.retain(|_, n| n != name);
        for node in self.nodes.values_mut() {
            node.fail_reports.retain(|(reporter, _)| reporter != name);
            if node.replica_of.as_ref() == Some(name) {
                node.replica_of = None;
            }
        }
    }

    /// The highest config epoch of any node.
    pub fn max_config_epoch(&self) -> u64 {
        self.nodes
            .values()
            .map(|n| n.config_epoch)
            .max()
            .unwrap_or(0)
    }

    /// Gives this node a config epoch above every other, without asking anyone (Redis'
    /// bump without consensus: SETSLOT NODE on an importing node, TAKEOVER, BUMPEPOCH).
    /// Returns whether the epoch changed.
    pub fn bump_epoch_without_consensus(&mut self) -> bool {
        let max = self.max_config_epoch().max(self.current_epoch);
        let mine = self.me().config_epoch;
        if mine == 0 || mine != max {
            self.current_epoch += 1;
            let epoch = self.current_epoch;
            self.me_mut().config_epoch = epoch;
            true
        } else {
            false
        }
    }

    /// Masters serving slots that this node considers reachable (neither pfail nor fail).
    fn reachable_masters(&self) -> usize {
        self.owned
            .keys()
            .filter(|n| {
                self.nodes
                    .get(n)
                    .is_some_and(|n| !n.flags.intersects(NodeFlags::PFAIL | NodeFlags::FAIL))
            })
            .count()
    }

    /// Recomputes the health: fail while a slot has no live owner (with full coverage
    /// required) or while this node sees fewer than a majority of the masters.
    pub fn update_health(&mut self, rules: &Rules) -> Health {
        let mut ok = true;
        if rules.require_full_coverage {
            ok = self.assigned_slots() == usize::from(SLOT_COUNT)
                && self
                    .owned
                    .keys()
                    .all(|n| self.nodes.get(n).is_some_and(|n| !n.is_failed()));
        }
        let size = self.size();
        if ok && size > 0 && self.reachable_masters() < size / 2 + 1 {
            ok = false;
        }
        if size == 0 {
            ok = !rules.require_full_coverage;
        }
        self.health = if ok { Health::Ok } else { Health::Fail };
        self.health
    }

    /// Counts a bus message sent (`true`) or received, by type name.
    pub fn count_message(&mut self, kind: &'static str, sent: bool) {
        let map = if sent {
            &mut self.stats.sent
        } else {
            &mut self.stats.received
        };
        *map.entry(kind).or_insert(0) += 1;
    }

    /// Forgets everything but this node (CLUSTER RESET): slots, other nodes, migrations.
    pub fn reset(&mut self, hard: bool, new_name: Option<NodeName>) {
        let others: Vec<NodeName> = self
            .nodes
            .keys()
            .filter(|n| **n != self.myself)
            .copied()
            .collect();
        for n in others {
            self.remove_node(&n);
        }
        for slot in 0..SLOT_COUNT {
            self.set_owner(slot, None);
        }
        self.migrating.clear();
        self.importing.clear();
        self.me_mut().set_master();
        if hard {
            self.current_epoch = 0;
            self.last_vote_epoch = 0;
            self.me_mut().config_epoch = 0;
            if let Some(name) = new_name {
                self.rename(&self.myself.clone(), name);
            }
        }
    }

    /// Renames a node (a handshake node once its real name is known; RESET HARD).
    pub fn rename(&mut self, from: &NodeName, to: NodeName) {
        let Some(mut node) = self.nodes.remove(from) else {
            return;
        };
        node.name = to;
        self.nodes.insert(to, node);
        for slot in self.slots_of(from) {
            self.set_owner(slot, Some(to));
        }
        if self.myself == *from {
            self.myself = to;
        }
    }
}

/// Inclusive ranges of an ascending list of slots.
pub fn ranges(slots: &[u16]) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    for &s in slots {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == s => *end = s,
            _ => out.push((s, s)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ClusterState {
        ClusterState::new(NodeName::random(), "127.0.0.1", 7000, 17000)
    }

    #[test]
    fn ranges_collapse_runs() {
        assert_eq!(ranges(&[0, 1, 2, 5, 7, 8]), vec![(0, 2), (5, 5), (7, 8)]);
        assert!(ranges(&[]).is_empty());
    }

    #[test]
    fn health_needs_full_coverage() {
        let rules = Rules {
            node_timeout_ms: 15000,
            require_full_coverage: true,
        };
        let mut s = state();
        assert_eq!(s.update_health(&rules), Health::Fail);
        let me = s.myself;
        for slot in 0..SLOT_COUNT - 1 {
            s.set_owner(slot, Some(me));
        }
        assert_eq!(s.update_health(&rules), Health::Fail);
        s.set_owner(SLOT_COUNT - 1, Some(me));
        assert_eq!(s.update_health(&rules), Health::Ok);
        assert_eq!(s.slot_ranges(&me), vec![(0, SLOT_COUNT - 1)]);
        assert_eq!(s.size(), 1);
    }

    #[test]
    fn health_fails_in_a_minority() {
        let rules = Rules {
            node_timeout_ms: 15000,
            require_full_coverage: false,
        };
        let mut s = state();
        let me = s.myself;
        let others: Vec<NodeName> = (0..2).map(|_| NodeName::random()).collect();
        for (i, n) in others.iter().enumerate() {
            let mut node =
                ClusterNode::new(*n, "127.0.0.1", 7001 + i as u16, 17001, NodeFlags::MASTER);
            node.flags |= NodeFlags::PFAIL;
            s.nodes.insert(*n, node);
            s.set_owner(i as u16 + 1, Some(*n));
        }
        s.set_owner(0, Some(me));
        assert_eq!(s.update_health(&rules), Health::Fail);
        s.nodes
            .get_mut(&others[0])
            .unwrap()
            .flags
            .remove(NodeFlags::PFAIL);
        assert_eq!(s.update_health(&rules), Health::Ok);
    }

    #[test]
    fn bumping_takes_the_highest_epoch() {
        let mut s = state();
        let other = NodeName::random();
        let mut node = ClusterNode::new(other, "127.0.0.1", 7001, 17001, NodeFlags::MASTER);
        node.config_epoch = 5;
        s.nodes.insert(other, node);
        s.current_epoch = 5;
        assert!(s.bump_epoch_without_consensus());
        assert_eq!(s.me().config_epoch, 6);
        assert!(!s.bump_epoch_without_consensus());
    }

    #[test]
    fn removing_a_node_frees_its_slots() {
        let mut s = state();
        let other = NodeName::random();
        s.nodes.insert(
            other,
            ClusterNode::new(other, "127.0.0.1", 7001, 17001, NodeFlags::MASTER),
        );
        s.set_owner(10, Some(other));
        s.migrating.insert(3, other);
        s.remove_node(&other);
        assert_eq!(s.owner(10), None);
        assert!(s.migrating.is_empty());
    }
}
