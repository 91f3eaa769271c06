//! What a bus message changes: the rules Redis Cluster applies on receiving PING, PONG, MEET,
//! FAIL, UPDATE and the election messages. Runs under the cluster lock and returns the
//! [`Action`]s to take once the lock is released (replies, role changes, saving).

use rand::seq::SliceRandom;

use super::wire::{pb, Body, BusMessage};
use crate::cluster::failover::{self, Election};
use crate::cluster::node::{ClusterNode, NodeFlags, NodeName};
use crate::cluster::state::{ClusterState, Rules};
use crate::util::slot::SLOT_COUNT;

/// Where a message came from.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The node our own link goes to, when the message came back on that link (a PONG).
    pub link_to: Option<NodeName>,
    /// The address the sender connected from, or that we connected to.
    pub peer_ip: String,
    /// Our own address on that connection.
    pub local_ip: String,
}

/// What to do once the cluster lock is released.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Answer on the connection the message came in on.
    Reply(Body),
    /// Send to one node over its link.
    Send(NodeName, Body),
    /// Send to every node with a link.
    Broadcast(Body),
    /// Replicate from this master (its address is in the state).
    Follow(NodeName),
    /// Stop replicating: this node became a master.
    Promote,
    /// Rewrite nodes.conf.
    Save,
    /// Rewrite nodes.conf and fsync it: epochs and votes.
    SaveDurable,
    /// Delete this node's keys in these slots: it lost them to a newer owner.
    DropSlotKeys(Vec<u16>),
    /// The link of a handshake node now belongs to its real name.
    RenameLink(NodeName, NodeName),
    /// Close the link to a node.
    CloseLink(NodeName),
    /// Pause writes for a replica's manual failover until this unix ms.
    PauseWrites(u64),
    /// Deliver a PUBLISH (or, `shard`, an SPUBLISH) to this node's subscribers.
    Publish {
        channel: Vec<u8>,
        message: Vec<u8>,
        shard: bool,
    },
}

/// The role bits a message may set on a node.
const ROLE_BITS: NodeFlags = NodeFlags::MASTER
    .union(NodeFlags::SLAVE)
    .union(NodeFlags::NOFAILOVER);

/// Flags as sent in a header or a gossip entry.
pub fn decode_flags(bits: u32) -> NodeFlags {
    NodeFlags::from_bits_truncate(bits as u16)
}

/// Reads the slot bitmap of a message: slot `s` is bit `s % 8` of byte `s / 8`.
pub fn claimed_slots(bitmap: &[u8]) -> Vec<u16> {
    (0..SLOT_COUNT)
        .filter(|&s| {
            bitmap
                .get(usize::from(s / 8))
                .is_some_and(|b| b & (1 << (s % 8)) != 0)
        })
        .collect()
}

/// Builds the header this node sends.
pub fn header(state: &ClusterState, repl_offset: u64, paused_for_failover: bool) -> pb::Header {
    let me = state.me();
    let (slots_owner, config_epoch) = match me.replica_of.and_then(|m| state.nodes.get(&m)) {
        Some(master) if me.is_replica() => (master.name, master.config_epoch),
        _ => (me.name, me.config_epoch),
    };
    pb::Header {
        name: me.name.to_string(),
        current_epoch: state.current_epoch,
        config_epoch,
        repl_offset,
        slots: state.slot_bitmap(&slots_owner),
        replica_of: me.replica_of.map(|m| m.to_string()).unwrap_or_default(),
        ip: me.ip.clone(),
        port: u32::from(me.port),
        cport: u32::from(me.cport),
        flags: u32::from((me.flags & ROLE_BITS).bits()),
        cluster_ok: state.health == crate::cluster::state::Health::Ok,
        hostname: me.hostname.clone(),
        paused_for_failover,
    }
}

/// Gossip about a few random nodes (a tenth of them, at least three) and every suspected one,
/// as a PING, PONG or MEET carries it.
pub fn gossip(state: &ClusterState, to: Option<&NodeName>) -> pb::Ping {
    let candidates: Vec<&ClusterNode> = state
        .nodes
        .values()
        .filter(|n| {
            n.name != state.myself
                && Some(&n.name) != to
                && !n.flags.intersects(NodeFlags::HANDSHAKE | NodeFlags::NOADDR)
                && (n.link_connected || state.slot_count(&n.name) > 0 || n.is_replica())
        })
        .collect();
    let wanted = (state.nodes.len() / 10).max(3).min(candidates.len());
    let mut rng = rand::thread_rng();
    let mut chosen: Vec<&ClusterNode> = candidates
        .choose_multiple(&mut rng, wanted)
        .copied()
        .collect();
    for n in &candidates {
        if n.flags.contains(NodeFlags::PFAIL) && !chosen.iter().any(|c| c.name == n.name) {
            chosen.push(n);
        }
    }
    pb::Ping {
        gossip: chosen
            .into_iter()
            .map(|n| pb::Gossip {
                name: n.name.to_string(),
                ping_sent: n.ping_sent,
                pong_received: n.pong_received,
                ip: n.ip.clone(),
                port: u32::from(n.port),
                cport: u32::from(n.cport),
                flags: u32::from(n.flags.bits()),
            })
            .collect(),
    }
}

/// Applies one message; returns what to do after.
pub fn process(
    state: &mut ClusterState,
    election: &mut Election,
    rules: &Rules,
    now: u64,
    msg: &BusMessage,
    incoming: &Incoming,
) -> Vec<Action> {
    let mut actions = Vec::new();
    let (Some(h), Some(body)) = (msg.sender.as_ref(), msg.body.as_ref()) else {
        return actions;
    };
    let Some(name) = NodeName::parse(h.name.as_bytes()) else {
        return actions;
    };
    state.count_message(super::wire::kind(body), false);
    if name == state.myself {
        return actions;
    }
    let flags = decode_flags(h.flags);
    let known = state.nodes.get(&name).is_some_and(|n| !n.in_handshake());
    if known {
        if h.current_epoch > state.current_epoch {
            state.current_epoch = h.current_epoch;
            actions.push(Action::SaveDurable);
        }
        if let Some(node) = state.nodes.get_mut(&name) {
            node.data_received = now;
            node.repl_offset = h.repl_offset;
            if flags.contains(NodeFlags::MASTER) && h.config_epoch > node.config_epoch {
                node.config_epoch = h.config_epoch;
                actions.push(Action::Save);
            }
        }
    }
    match body {
        Body::Meet(_) | Body::Ping(_) => {
            learn_my_ip(state, incoming, matches!(body, Body::Meet(_)));
            if !known && matches!(body, Body::Meet(_)) {
                add_met_node(state, name, h, incoming);
                actions.push(Action::Save);
            } else if known {
                update_address(state, &name, h, incoming, &mut actions);
            }
            actions.push(Action::Reply(Body::Pong(gossip(state, Some(&name)))));
        }
        Body::Pong(_) => pong(state, rules, now, name, h, incoming, &mut actions),
        _ => {}
    }
    let known = state.nodes.get(&name).is_some_and(|n| !n.in_handshake());
    if !known {
        return actions;
    }
    if matches!(body, Body::Ping(_) | Body::Pong(_) | Body::Meet(_)) {
        update_role(state, name, h, flags, &mut actions);
        if flags.contains(NodeFlags::MASTER) {
            update_slots(state, name, h, &mut actions);
            epoch_collision(state, name, h, &mut actions);
        }
        if let Body::Ping(p) | Body::Pong(p) | Body::Meet(p) = body {
            let sender_is_master = state.nodes.get(&name).is_some_and(|n| n.is_master());
            for g in &p.gossip {
                process_gossip(state, rules, now, name, sender_is_master, g, &mut actions);
            }
        }
        failover::note_master_message(state, election, name, h);
    }
    match body {
        Body::Fail(f) => {
            if let Some(target) = NodeName::parse(f.name.as_bytes()) {
                if target != state.myself {
                    if let Some(node) = state.nodes.get_mut(&target) {
                        if !node.is_failed() {
                            tracing::info!("FAIL message received from {name} about {target}");
                            node.flags.remove(NodeFlags::PFAIL);
                            node.flags.insert(NodeFlags::FAIL);
                            node.fail_time = now;
                            actions.push(Action::Save);
                        }
                    }
                }
            }
        }
        Body::Update(u) => {
            if let Some(target) = NodeName::parse(u.name.as_bytes()) {
                let newer = state
                    .nodes
                    .get(&target)
                    .is_some_and(|n| u.config_epoch > n.config_epoch);
                if newer {
                    if let Some(node) = state.nodes.get_mut(&target) {
                        node.config_epoch = u.config_epoch;
                        if node.is_replica() {
                            node.set_master();
                        }
                    }
                    let claimed = claimed_slots(&u.slots);
                    update_slots_config(state, target, u.config_epoch, &claimed, &mut actions);
                    actions.push(Action::Save);
                }
            }
        }
        Body::AuthRequest(r) => {
            actions.extend(failover::vote(
                state, election, rules, now, name, h, r.force,
            ));
        }
        Body::AuthAck(_) => failover::count_vote(state, election, name, h),
        Body::MfStart(_) => {
            let mine = state
                .nodes
                .get(&name)
                .is_some_and(|n| n.replica_of == Some(state.myself));
            if mine && state.me().is_master() {
                let until = now + failover::MANUAL_TIMEOUT_MS;
                election.paused_for = Some((name, until));
                actions.push(Action::PauseWrites(until));
                actions.push(Action::Send(name, Body::Ping(gossip(state, Some(&name)))));
            }
        }
        Body::Publish(p) => actions.push(Action::Publish {
            channel: p.channel.clone(),
            message: p.message.clone(),
            shard: p.shard,
        }),
        _ => {}
    }
    actions
}

/// Without an announced address a node learns its own from the connections others make to it.
fn learn_my_ip(state: &mut ClusterState, incoming: &Incoming, meet: bool) {
    if incoming.local_ip.is_empty() {
        return;
    }
    let me = state.me_mut();
    if (me.ip.is_empty() || meet) && me.ip != incoming.local_ip && !me.ip_announced {
        me.ip = incoming.local_ip.clone();
    }
}

/// The address a header gives, or the one the connection shows.
fn sender_ip(h: &pb::Header, incoming: &Incoming) -> String {
    if h.ip.is_empty() {
        incoming.peer_ip.clone()
    } else {
        h.ip.clone()
    }
}

fn add_met_node(state: &mut ClusterState, name: NodeName, h: &pb::Header, incoming: &Incoming) {
    let ip = sender_ip(h, incoming);
    let port = u16::try_from(h.port).unwrap_or(0);
    let cport = u16::try_from(h.cport).unwrap_or(0);
    // A node we were meeting by address at the same time is this one.
    let duplicate: Vec<NodeName> = state
        .nodes
        .values()
        .filter(|n| n.in_handshake() && n.ip == ip && n.port == port)
        .map(|n| n.name)
        .collect();
    for d in duplicate {
        state.remove_node(&d);
    }
    let role = decode_flags(h.flags) & ROLE_BITS;
    let mut node = ClusterNode::new(name, &ip, port, cport, role);
    node.hostname = h.hostname.clone();
    tracing::info!("met node {name} at {ip}:{port}");
    state.nodes.insert(name, node);
}

fn update_address(
    state: &mut ClusterState,
    name: &NodeName,
    h: &pb::Header,
    incoming: &Incoming,
    actions: &mut Vec<Action>,
) {
    let ip = sender_ip(h, incoming);
    let (port, cport) = (
        u16::try_from(h.port).unwrap_or(0),
        u16::try_from(h.cport).unwrap_or(0),
    );
    if let Some(node) = state.nodes.get_mut(name) {
        if node.ip != ip || node.port != port || node.cport != cport {
            tracing::info!("address of node {name} updated to {ip}:{port}@{cport}");
            node.ip = ip;
            node.port = port;
            node.cport = cport;
            node.flags.remove(NodeFlags::NOADDR);
            actions.push(Action::CloseLink(*name));
            actions.push(Action::Save);
        }
    }
}

fn pong(
    state: &mut ClusterState,
    rules: &Rules,
    now: u64,
    name: NodeName,
    h: &pb::Header,
    incoming: &Incoming,
    actions: &mut Vec<Action>,
) {
    let Some(link_node) = incoming.link_to else {
        return;
    };
    let in_handshake = state
        .nodes
        .get(&link_node)
        .is_some_and(|n| n.in_handshake());
    if in_handshake {
        if state.nodes.contains_key(&name) {
            // Met twice: the handshake entry goes, the known node keeps its name.
            state.remove_node(&link_node);
            actions.push(Action::CloseLink(link_node));
            update_address(state, &name, h, incoming, actions);
            return;
        }
        state.rename(&link_node, name);
        if let Some(node) = state.nodes.get_mut(&name) {
            node.flags.remove(NodeFlags::HANDSHAKE);
            node.flags.insert(decode_flags(h.flags) & ROLE_BITS);
            node.hostname = h.hostname.clone();
        }
        tracing::info!("handshake with node {name} completed");
        actions.push(Action::RenameLink(link_node, name));
        actions.push(Action::Save);
    } else if link_node != name {
        // Another node now answers at that address: the old one lost it.
        if let Some(old) = state.nodes.get_mut(&link_node) {
            old.flags.insert(NodeFlags::NOADDR);
            old.ip.clear();
            old.port = 0;
            old.cport = 0;
        }
        actions.push(Action::CloseLink(link_node));
        actions.push(Action::Save);
        return;
    }
    let Some(node) = state.nodes.get_mut(&name) else {
        return;
    };
    node.pong_received = now;
    node.ping_sent = 0;
    if node.flags.contains(NodeFlags::PFAIL) {
        node.flags.remove(NodeFlags::PFAIL);
    } else if node.is_failed() {
        let slots = state.slot_count(&name);
        clear_failure_if_needed(state, rules, now, name, slots, actions);
    }
}

/// Clears FAIL on a node that is reachable again: at once for replicas and masters without
/// slots, after twice node-timeout for a master nobody replaced.
fn clear_failure_if_needed(
    state: &mut ClusterState,
    rules: &Rules,
    now: u64,
    name: NodeName,
    slots: usize,
    actions: &mut Vec<Action>,
) {
    let Some(node) = state.nodes.get_mut(&name) else {
        return;
    };
    if !node.is_failed() {
        return;
    }
    let undo = node.is_replica()
        || slots == 0
        || now.saturating_sub(node.fail_time) > rules.node_timeout_ms * 2;
    if undo {
        tracing::info!("clear FAIL state for node {name}: it is reachable again");
        node.flags.remove(NodeFlags::FAIL);
        actions.push(Action::Save);
    }
}

fn update_role(
    state: &mut ClusterState,
    name: NodeName,
    h: &pb::Header,
    flags: NodeFlags,
    actions: &mut Vec<Action>,
) {
    let master_of = NodeName::parse(h.replica_of.as_bytes());
    let Some(node) = state.nodes.get_mut(&name) else {
        return;
    };
    node.flags
        .set(NodeFlags::NOFAILOVER, flags.contains(NodeFlags::NOFAILOVER));
    if flags.contains(NodeFlags::MASTER) && !node.is_master() {
        node.set_master();
        actions.push(Action::Save);
    } else if flags.contains(NodeFlags::SLAVE) {
        if let Some(master) = master_of {
            let was_master = node.is_master();
            if was_master || node.replica_of != Some(master) {
                node.set_replica_of(master);
                actions.push(Action::Save);
            }
            if was_master {
                // A master turned replica serves no slots any more.
                for slot in state.slots_of(&name) {
                    state.set_owner(slot, None);
                }
            }
        }
    }
}

fn update_slots(
    state: &mut ClusterState,
    name: NodeName,
    h: &pb::Header,
    actions: &mut Vec<Action>,
) {
    let claimed = claimed_slots(&h.slots);
    let changed = claimed.iter().any(|&s| state.owner(s) != Some(name));
    if !changed {
        return;
    }
    update_slots_config(state, name, h.config_epoch, &claimed, actions);
    // The sender claims slots someone owns at a newer epoch: tell it.
    for &slot in &claimed {
        let Some(owner) = state.owner(slot) else {
            continue;
        };
        if owner == name {
            continue;
        }
        if let Some(o) = state.nodes.get(&owner) {
            if o.config_epoch > h.config_epoch {
                actions.push(Action::Send(
                    name,
                    Body::Update(pb::Update {
                        name: owner.to_string(),
                        config_epoch: o.config_epoch,
                        slots: state.slot_bitmap(&owner),
                    }),
                ));
                break;
            }
        }
    }
}

/// `sender` claims `claimed` at `epoch`: it takes every slot whose owner has an older epoch
/// (slots this node imports stay as they are). When this node's master (or this node) loses
/// its last slot to it, this node follows the sender.
pub fn update_slots_config(
    state: &mut ClusterState,
    sender: NodeName,
    epoch: u64,
    claimed: &[u16],
    actions: &mut Vec<Action>,
) {
    let me = state.myself;
    let current_master = if state.me().is_master() {
        Some(me)
    } else {
        state.my_master()
    };
    let mut new_primary = None;
    let mut lost = Vec::new();
    for &slot in claimed {
        let owner = state.owner(slot);
        if owner == Some(sender) || state.importing.contains_key(&slot) {
            continue;
        }
        let owner_epoch = owner
            .and_then(|o| state.nodes.get(&o))
            .map(|o| o.config_epoch);
        if owner_epoch.is_none_or(|e| e < epoch) {
            if owner == Some(me) {
                lost.push(slot);
            }
            if owner.is_some() && owner == current_master {
                new_primary = Some(sender);
            }
            state.set_owner(slot, Some(sender));
            actions.push(Action::Save);
        }
    }
    if let (Some(primary), Some(master)) = (new_primary, current_master) {
        if state.slot_count(&master) == 0 {
            tracing::info!("configuration change detected: following {primary}");
            state.migrating.clear();
            state.importing.clear();
            state.me_mut().set_replica_of(primary);
            actions.push(Action::Follow(primary));
            actions.push(Action::Save);
            return;
        }
    }
    if !lost.is_empty() {
        actions.push(Action::DropSlotKeys(lost));
    }
}

/// Two masters with one config epoch: the one with the smaller name takes a new epoch.
fn epoch_collision(
    state: &mut ClusterState,
    name: NodeName,
    h: &pb::Header,
    actions: &mut Vec<Action>,
) {
    let me = state.me();
    if !me.is_master() || h.config_epoch != me.config_epoch || name <= state.myself {
        return;
    }
    state.current_epoch += 1;
    let epoch = state.current_epoch;
    state.me_mut().config_epoch = epoch;
    tracing::info!("config epoch collision with {name}: my config epoch is now {epoch}");
    actions.push(Action::SaveDurable);
}

fn process_gossip(
    state: &mut ClusterState,
    rules: &Rules,
    now: u64,
    sender: NodeName,
    sender_is_master: bool,
    g: &pb::Gossip,
    actions: &mut Vec<Action>,
) {
    let Some(name) = NodeName::parse(g.name.as_bytes()) else {
        return;
    };
    let flags = decode_flags(g.flags);
    let failing = flags.intersects(NodeFlags::PFAIL | NodeFlags::FAIL);
    if let Some(node) = state.nodes.get_mut(&name) {
        if sender_is_master && name != state.myself {
            node.fail_reports.retain(|(r, _)| *r != sender);
            if failing {
                node.fail_reports.push((sender, now));
                mark_failing_if_needed(state, rules, now, name, actions);
            }
        }
        let Some(node) = state.nodes.get_mut(&name) else {
            return;
        };
        if !failing
            && node.ping_sent == 0
            && node.fail_reports.is_empty()
            && g.pong_received <= now + 500
            && g.pong_received > node.pong_received
        {
            node.pong_received = g.pong_received;
        }
        return;
    }
    if flags.contains(NodeFlags::NOADDR) || flags.contains(NodeFlags::HANDSHAKE) {
        return;
    }
    if state.forgotten.get(&name).is_some_and(|&until| until > now) {
        return;
    }
    let (Ok(port), Ok(cport)) = (u16::try_from(g.port), u16::try_from(g.cport)) else {
        return;
    };
    tracing::info!("learnt of node {name} at {}:{port} from {sender}", g.ip);
    let node = ClusterNode::new(name, &g.ip, port, cport, flags & ROLE_BITS);
    state.nodes.insert(name, node);
    actions.push(Action::Save);
}

/// Marks `name` failed once a majority of masters (this one included, if a master) suspect
/// it, and tells everyone.
pub fn mark_failing_if_needed(
    state: &mut ClusterState,
    rules: &Rules,
    now: u64,
    name: NodeName,
    actions: &mut Vec<Action>,
) {
    let quorum = state.size() / 2 + 1;
    let me_master = state.me().is_master();
    let Some(node) = state.nodes.get_mut(&name) else {
        return;
    };
    if !node.flags.contains(NodeFlags::PFAIL) || node.is_failed() {
        return;
    }
    let max_age = rules.node_timeout_ms * 2;
    node.fail_reports
        .retain(|(_, t)| now.saturating_sub(*t) <= max_age);
    let failures = node.fail_reports.len() + usize::from(me_master);
    if failures < quorum {
        return;
    }
    tracing::info!("marking node {name} as failing (quorum reached)");
    node.flags.remove(NodeFlags::PFAIL);
    node.flags.insert(NodeFlags::FAIL);
    node.fail_time = now;
    actions.push(Action::Broadcast(Body::Fail(pb::Fail {
        name: name.to_string(),
    })));
    actions.push(Action::Save);
}
