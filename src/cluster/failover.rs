//! Replacing a failed master: the replica's election (rank by replication offset, a vote of
//! the majority of masters in a new epoch) and the masters' voting rules; manual failovers
//! (CLUSTER FAILOVER, FORCE, TAKEOVER).

use rand::Rng;

use crate::cluster::bus::gossip::{claimed_slots, Action};
use crate::cluster::bus::wire::{pb, Body};
use crate::cluster::node::{NodeFlags, NodeName};
use crate::cluster::state::{ClusterState, Rules};

/// How long a manual failover may take before it is abandoned, and how long its master
/// pauses writes.
pub const MANUAL_TIMEOUT_MS: u64 = 5000;

/// A manual failover in progress on a replica.
#[derive(Debug, Clone, Default)]
pub struct Manual {
    /// Unix ms when it is abandoned.
    pub deadline: u64,
    /// The master's offset once it paused writes; the election starts when this replica has
    /// applied that much.
    pub master_offset: Option<u64>,
    /// The election may start (FORCE, or caught up with the paused master).
    pub can_start: bool,
}

/// This node's election and voting state.
#[derive(Debug, Clone, Default)]
pub struct Election {
    /// Unix ms when the election starts (or started); 0 when none is scheduled.
    pub auth_time: u64,
    pub auth_sent: bool,
    pub auth_epoch: u64,
    pub auth_count: usize,
    pub rank: usize,
    pub manual: Option<Manual>,
    /// As a master: when this node last voted for a replica of each master.
    pub voted_at: std::collections::HashMap<NodeName, u64>,
    /// As a master: the replica it paused writes for, until when.
    pub paused_for: Option<(NodeName, u64)>,
}

impl Election {
    fn reset(&mut self) {
        self.auth_time = 0;
        self.auth_sent = false;
        self.auth_count = 0;
        self.rank = 0;
        self.manual = None;
    }
}

/// What a replica knows about its own replication, for the election.
#[derive(Debug, Clone, Copy)]
pub struct ReplicaView {
    /// The master position this replica applied.
    pub offset: u64,
    /// Milliseconds since the link to the master went down (0 while it is up).
    pub link_down_ms: u64,
    pub validity_factor: u64,
}

/// Replicas of the same master that have applied more than this one: they go first.
fn rank(state: &ClusterState, offset: u64) -> usize {
    let Some(master) = state.my_master() else {
        return 0;
    };
    state
        .replicas_of(&master)
        .iter()
        .filter(|r| {
            r.name != state.myself
                && !r.flags.contains(NodeFlags::NOFAILOVER)
                && r.repl_offset > offset
        })
        .count()
}

/// Advances a replica's election; called every cron tick.
pub fn tick(
    state: &mut ClusterState,
    election: &mut Election,
    rules: &Rules,
    now: u64,
    view: ReplicaView,
) -> Vec<Action> {
    let mut actions = Vec::new();
    let Some(master_name) = state.my_master().filter(|_| state.me().is_replica()) else {
        election.reset();
        return actions;
    };
    let Some(master) = state.nodes.get(&master_name) else {
        return actions;
    };
    if let Some(m) = &mut election.manual {
        if now > m.deadline {
            tracing::warn!("manual failover timed out");
            election.reset();
            return actions;
        }
        if m.master_offset.is_some_and(|o| view.offset >= o) && !m.can_start {
            tracing::info!("all of the master's writes applied: starting the manual failover");
            m.can_start = true;
        }
    }
    let manual = election.manual.as_ref().is_some_and(|m| m.can_start);
    if (!master.is_failed() && !manual) || state.slot_count(&master_name) == 0 {
        if election.manual.is_none() {
            election.auth_time = 0;
        }
        return actions;
    }
    if state.me().flags.contains(NodeFlags::NOFAILOVER) && !manual {
        return actions;
    }
    let timeout = rules.node_timeout_ms;
    if !manual && view.validity_factor > 0 {
        let data_age = view.link_down_ms.saturating_sub(timeout);
        if data_age > timeout * view.validity_factor + 10_000 {
            return actions;
        }
    }
    let auth_timeout = (timeout * 2).max(2000);
    let auth_retry = auth_timeout * 2;
    if election.auth_time == 0 || now.saturating_sub(election.auth_time) > auth_retry {
        election.auth_sent = false;
        election.auth_count = 0;
        if manual {
            election.auth_time = now;
            election.rank = 0;
        } else {
            election.rank = rank(state, view.offset);
            let jitter: u64 = rand::thread_rng().gen_range(0..500);
            election.auth_time = now + 500 + jitter + election.rank as u64 * 1000;
            tracing::info!(
                "start of election delayed for {} ms (rank #{})",
                election.auth_time - now,
                election.rank
            );
        }
        return actions;
    }
    if !election.auth_sent && !manual {
        let new_rank = rank(state, view.offset);
        if new_rank > election.rank {
            election.auth_time += (new_rank - election.rank) as u64 * 1000;
            election.rank = new_rank;
        }
    }
    if now < election.auth_time || now - election.auth_time > auth_timeout {
        return actions;
    }
    if !election.auth_sent {
        state.current_epoch += 1;
        election.auth_epoch = state.current_epoch;
        election.auth_sent = true;
        tracing::info!(
            "starting a failover election for epoch {}",
            election.auth_epoch
        );
        actions.push(Action::Broadcast(Body::AuthRequest(pb::AuthRequest {
            force: election.manual.is_some(),
        })));
        actions.push(Action::SaveDurable);
        return actions;
    }
    let quorum = state.size() / 2 + 1;
    if election.auth_count >= quorum {
        tracing::info!("failover election won: I'm the new master");
        let epoch = election.auth_epoch;
        replace_master(state, master_name, epoch, &mut actions);
        election.reset();
    }
    actions
}

/// This replica takes its master's slots and becomes a master at `epoch` (at least).
pub fn replace_master(
    state: &mut ClusterState,
    master: NodeName,
    epoch: u64,
    actions: &mut Vec<Action>,
) {
    let me = state.myself;
    for slot in state.slots_of(&master) {
        state.set_owner(slot, Some(me));
    }
    let node = state.me_mut();
    node.set_master();
    if node.config_epoch < epoch {
        node.config_epoch = epoch;
    }
    if let Some(old) = state.nodes.get_mut(&master) {
        old.set_replica_of(me);
    }
    actions.push(Action::Promote);
    actions.push(Action::SaveDurable);
    actions.push(Action::Broadcast(Body::Pong(
        crate::cluster::bus::gossip::gossip(state, None),
    )));
}

/// TAKEOVER: becomes master at once with a new epoch, asking nobody.
pub fn take_over(state: &mut ClusterState) -> Vec<Action> {
    let mut actions = Vec::new();
    let Some(master) = state.my_master() else {
        return actions;
    };
    state.current_epoch += 1;
    let epoch = state.current_epoch;
    replace_master(state, master, epoch, &mut actions);
    actions
}

/// A master's answer to a replica asking for its vote.
pub fn vote(
    state: &mut ClusterState,
    election: &mut Election,
    rules: &Rules,
    now: u64,
    requester: NodeName,
    h: &pb::Header,
    force: bool,
) -> Vec<Action> {
    let mut actions = Vec::new();
    let me = state.myself;
    if !state.me().is_master() || state.slot_count(&me) == 0 {
        return actions;
    }
    if h.current_epoch < state.current_epoch || state.last_vote_epoch == state.current_epoch {
        return actions;
    }
    let Some(master) = NodeName::parse(h.replica_of.as_bytes()) else {
        return actions;
    };
    let Some(master_node) = state.nodes.get(&master) else {
        return actions;
    };
    if !master_node.is_failed() && !force {
        return actions;
    }
    if election
        .voted_at
        .get(&master)
        .is_some_and(|&t| now.saturating_sub(t) < rules.node_timeout_ms * 2)
    {
        return actions;
    }
    // The requester's view of its master's slots must not be older than ours.
    for slot in claimed_slots(&h.slots) {
        let newer = state
            .owner(slot)
            .and_then(|o| state.nodes.get(&o))
            .is_some_and(|o| o.config_epoch > h.config_epoch);
        if newer {
            return actions;
        }
    }
    state.last_vote_epoch = state.current_epoch;
    election.voted_at.insert(master, now);
    tracing::info!(
        "failover auth granted to {requester} for epoch {}",
        state.current_epoch
    );
    // The vote is on disk before the replica hears of it.
    actions.push(Action::SaveDurable);
    actions.push(Action::Send(requester, Body::AuthAck(pb::AuthAck {})));
    actions
}

/// A master's vote for this replica's election.
pub fn count_vote(state: &ClusterState, election: &mut Election, voter: NodeName, h: &pb::Header) {
    let Some(node) = state.nodes.get(&voter) else {
        return;
    };
    if node.is_master()
        && state.slot_count(&voter) > 0
        && h.current_epoch >= election.auth_epoch
        && election.auth_sent
    {
        election.auth_count += 1;
    }
}

/// A message from this replica's master saying it paused writes: note its offset.
pub fn note_master_message(
    state: &ClusterState,
    election: &mut Election,
    sender: NodeName,
    h: &pb::Header,
) {
    if state.my_master() != Some(sender) || !h.paused_for_failover {
        return;
    }
    if let Some(m) = &mut election.manual {
        if m.master_offset.is_none() {
            m.master_offset = Some(h.repl_offset);
        }
    }
}
