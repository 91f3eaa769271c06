//! CLUSTER and its subcommands, ASKING, READONLY, READWRITE: Redis 7's replies and error texts.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::cluster::bus::gossip::{self, Action};
use crate::cluster::bus::wire::{pb, Body};
use crate::cluster::node::{ClusterNode, NodeFlags, NodeName};
use crate::cluster::state::{ClusterState, FORGET_TTL_MS};
use crate::cluster::{failover, render, Cluster};
use crate::cmd::admin::command::help_reply;
use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::command;
use crate::resp::Reply;
use crate::util::clock::unix_ms;
use crate::util::slot::{key_slot, SLOT_COUNT};

/// Commands of this group.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("cluster", -2, [], KeySpec::None, [SLOW], "cluster",
             "A container for Redis Cluster commands.", container, subcommands: SUBCOMMANDS),
    command!("asking", 1, [FAST], KeySpec::None, [FAST, CONNECTION], "cluster",
             "Signals that a cluster client is following an -ASK redirect.", asking),
    command!("readonly", 1, [LOADING, STALE, FAST], KeySpec::None, [FAST, CONNECTION], "cluster",
             "Enables read-only queries for a connection to a Redis Cluster replica node.",
             readonly),
    command!("readwrite", 1, [LOADING, STALE, FAST], KeySpec::None, [FAST, CONNECTION], "cluster",
             "Enables read-write queries for a connection to a Redis Cluster replica node.",
             readwrite),
];

/// CLUSTER's subcommands, with Redis 7's arities and flags.
#[rustfmt::skip]
const SUBCOMMANDS: &[CommandSpec] = &[
    command!("cluster|addslots", -3, [NO_ASYNC_LOADING, ADMIN, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "cluster", "Assigns new hash slots to a node.", addslots),
    command!("cluster|addslotsrange", -4, [NO_ASYNC_LOADING, ADMIN, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "cluster", "Assigns new hash slot ranges to a node.",
             addslotsrange),
    command!("cluster|bumpepoch", 2, [NO_ASYNC_LOADING, ADMIN, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "cluster", "Advances the cluster config epoch.", bumpepoch),
    command!("cluster|count-failure-reports", 3, [ADMIN, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "cluster",
             "Returns the number of active failure reports active for a node.",
             count_failure_reports),
    command!("cluster|countkeysinslot", 3, [STALE], KeySpec::None, [SLOW], "cluster",
             "Returns the number of keys in a hash slot.", countkeysinslot),
    command!("cluster|delslots", -3, [NO_ASYNC_LOADING, ADMIN, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "cluster", "Sets hash slots as unbound for a node.",
             delslots),
    command!("cluster|delslotsrange", -4, [NO_ASYNC_LOADING, ADMIN, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "cluster", "Sets hash slot ranges as unbound for a node.",
             delslotsrange),
    command!("cluster|failover", -2, [NO_ASYNC_LOADING, ADMIN, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "cluster",
             "Forces a replica to perform a manual failover of its master.", failover_cmd),
    command!("cluster|flushslots", 2, [NO_ASYNC_LOADING, ADMIN, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "cluster",
             "Deletes all slots information from a node.", flushslots),
    command!("cluster|forget", 3, [NO_ASYNC_LOADING, ADMIN, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "cluster", "Removes a node from the nodes table.", forget),
    command!("cluster|getkeysinslot", 4, [STALE], KeySpec::None, [SLOW], "cluster",
             "Returns the key names in a hash slot.", getkeysinslot),
    command!("cluster|help", 2, [LOADING, STALE], KeySpec::None, [SLOW], "cluster",
             "Returns helpful text about the different subcommands.", help),
    command!("cluster|info", 2, [STALE], KeySpec::None, [SLOW], "cluster",
             "Returns information about the state of a node.", info),
    command!("cluster|keyslot", 3, [STALE], KeySpec::None, [SLOW], "cluster",
             "Returns the hash slot for a key.", keyslot),
    command!("cluster|links", 2, [STALE], KeySpec::None, [SLOW], "cluster",
             "Returns a list of all TCP links to and from peer nodes.", links),
    command!("cluster|meet", -4, [NO_ASYNC_LOADING, ADMIN, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "cluster", "Forces a node to handshake with another node.",
             meet),
    command!("cluster|myid", 2, [STALE], KeySpec::None, [SLOW], "cluster",
             "Returns the ID of a node.", myid),
    command!("cluster|myshardid", 2, [STALE], KeySpec::None, [SLOW], "cluster",
             "Returns the shard ID of a node.", myshardid),
    command!("cluster|nodes", 2, [STALE], KeySpec::None, [SLOW], "cluster",
             "Returns the cluster configuration for a node.", nodes),
    command!("cluster|replicas", 3, [ADMIN, STALE], KeySpec::None, [ADMIN, SLOW, DANGEROUS],
             "cluster", "Lists the replica nodes of a master node.", replicas),
    command!("cluster|replicate", 3, [NO_ASYNC_LOADING, ADMIN, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "cluster",
             "Configure a node as replica of a master node.", replicate),
    command!("cluster|reset", -2, [ADMIN, STALE, NOSCRIPT], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "cluster", "Resets a node.", reset),
    command!("cluster|saveconfig", 2, [NO_ASYNC_LOADING, ADMIN, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "cluster",
             "Forces a node to save the cluster configuration to disk.", saveconfig),
    command!("cluster|set-config-epoch", 3, [NO_ASYNC_LOADING, ADMIN, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "cluster", "Sets the configuration epoch for a new node.",
             set_config_epoch),
    command!("cluster|setslot", -4, [NO_ASYNC_LOADING, ADMIN, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "cluster", "Binds a hash slot to a node.", setslot),
    command!("cluster|shards", 2, [STALE], KeySpec::None, [SLOW], "cluster",
             "Returns the mapping of cluster slots to shards.", shards),
    command!("cluster|slaves", 3, [ADMIN, STALE], KeySpec::None, [ADMIN, SLOW, DANGEROUS],
             "cluster", "Lists the replica nodes of a master node.", replicas),
    command!("cluster|slots", 2, [STALE], KeySpec::None, [SLOW], "cluster",
             "Returns the mapping of cluster slots to nodes.", slots),
];

fn container(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Err(CmdError::WrongArity("cluster".into()))
}

/// The cluster of a cluster node; the error Redis gives elsewhere.
fn cluster<'a>(ctx: &Ctx<'a>) -> Result<&'a Cluster, CmdError> {
    ctx.server
        .cluster
        .as_deref()
        .ok_or_else(|| CmdError::err("This instance has cluster support disabled"))
}

/// Takes actions decided under the cluster lock (through the bus when it runs), then saves.
fn apply(cluster: &Cluster, actions: Vec<Action>) {
    match cluster.bus() {
        Some(bus) => bus.apply(actions),
        None => cluster.save_or_log(),
    }
}

/// Updates the health and saves nodes.conf, as Redis does before answering.
fn settle(ctx: &Ctx<'_>, cluster: &Cluster) {
    settle_as(ctx, cluster, false);
}

/// [`settle`], fsyncing nodes.conf when `durable` (config epochs).
fn settle_as(ctx: &Ctx<'_>, cluster: &Cluster, durable: bool) {
    cluster
        .write()
        .update_health(&crate::cluster::rules(&ctx.server.config()));
    cluster.save_logged(durable);
}

fn asking(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    cluster(ctx)?;
    ctx.client.asking.store(true, Ordering::Relaxed);
    Ok(Reply::ok())
}

fn readonly(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    cluster(ctx)?;
    ctx.client.cluster_readonly.store(true, Ordering::Relaxed);
    Ok(Reply::ok())
}

fn readwrite(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    cluster(ctx)?;
    ctx.client.cluster_readonly.store(false, Ordering::Relaxed);
    Ok(Reply::ok())
}

fn help(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    cluster(ctx)?;
    Ok(help_reply(
        "CLUSTER",
        &[
            "ADDSLOTS <slot> [<slot> ...]",
            "    Assign slots to current node.",
            "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
            "    Assign slots which are between <start-slot> and <end-slot> to current node.",
            "BUMPEPOCH",
            "    Advance the cluster config epoch.",
            "COUNT-FAILURE-REPORTS <node-id>",
            "    Return number of failure reports for <node-id>.",
            "COUNTKEYSINSLOT <slot>",
            "    Return the number of keys in <slot>.",
            "DELSLOTS <slot> [<slot> ...]",
            "    Delete slots information from current node.",
            "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
            "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
            "FAILOVER [FORCE|TAKEOVER]",
            "    Promote current replica node to being a master.",
            "FORGET <node-id>",
            "    Remove a node from the cluster.",
            "GETKEYSINSLOT <slot> <count>",
            "    Return key names stored by current node in a slot.",
            "FLUSHSLOTS",
            "    Delete current node own slots information.",
            "INFO",
            "    Return information about the cluster.",
            "KEYSLOT <key>",
            "    Return the hash slot for <key>.",
            "MEET <ip> <port> [<bus-port>]",
            "    Connect nodes into a working cluster.",
            "MYID",
            "    Return the node id.",
            "MYSHARDID",
            "    Return the node's shard id.",
            "NODES",
            "    Return cluster configuration seen by node. Output format:",
            "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
            "REPLICATE <node-id>",
            "    Configure current node as replica to <node-id>.",
            "RESET [HARD|SOFT]",
            "    Reset current node (default: soft).",
            "SET-CONFIG-EPOCH <epoch>",
            "    Set config epoch of current node.",
            "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
            "    Set slot state.",
            "REPLICAS <node-id>",
            "    Return <node-id> replicas.",
            "SAVECONFIG",
            "    Force saving cluster configuration on disk.",
            "SLOTS",
            "    Return information about slots range mappings. Each range is made of:",
            "    start, end, master and replicas IP addresses, ports and ids",
            "SHARDS",
            "    Return information about slot range mappings and the nodes associated with them.",
            "LINKS",
            "    Return information about all network links between this node and its peers.",
            "    Output format is an array where each array element is a map containing attributes of a link",
        ],
    ))
}

fn info(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let cluster = cluster(ctx)?;
    Ok(Reply::Verbatim(Bytes::from(render::info(&cluster.read()))))
}

fn nodes(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let cluster = cluster(ctx)?;
    Ok(Reply::Verbatim(Bytes::from(render::nodes(&cluster.read()))))
}

fn myid(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let cluster = cluster(ctx)?;
    Ok(Reply::bulk(cluster.read().myself.to_string()))
}

fn myshardid(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let cluster = cluster(ctx)?;
    let state = cluster.read();
    Ok(Reply::bulk(state.shard_of(state.me()).to_string()))
}

fn keyslot(_: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(i64::from(key_slot(&argv[2]))))
}

/// A slot argument of ADDSLOTS, SETSLOT and the like.
fn slot_arg(arg: &[u8]) -> Result<u16, CmdError> {
    args::int(arg)
        .ok()
        .and_then(|s| u16::try_from(s).ok())
        .filter(|&s| s < SLOT_COUNT)
        .ok_or_else(|| CmdError::err("Invalid or out of range slot"))
}

fn countkeysinslot(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    cluster(ctx)?;
    let slot = args::int(&argv[2])?;
    let slot = u16::try_from(slot)
        .ok()
        .filter(|&s| s < SLOT_COUNT)
        .ok_or_else(|| CmdError::err("Invalid slot"))?;
    Ok(Reply::Integer(ctx.keys().count_in_slot(slot)? as i64))
}

fn getkeysinslot(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    cluster(ctx)?;
    let slot = args::int(&argv[2])?;
    let count = args::int(&argv[3])?;
    let invalid = || CmdError::err("Invalid slot or number of keys");
    let slot = u16::try_from(slot)
        .ok()
        .filter(|&s| s < SLOT_COUNT)
        .ok_or_else(invalid)?;
    let count = usize::try_from(count).map_err(|_| invalid())?;
    let keys = ctx.keys().keys_in_slot(slot, count)?;
    Ok(Reply::Array(
        keys.into_iter().map(|k| Reply::Bulk(k.into())).collect(),
    ))
}

/// Checks a set of slots for ADDSLOTS / DELSLOTS, with Redis' errors in Redis' order.
fn check_assignments(state: &ClusterState, slots: &[u16], del: bool) -> Result<(), CmdError> {
    let mut seen = vec![false; usize::from(SLOT_COUNT)];
    for &slot in slots {
        if del && state.owner(slot).is_none() {
            return Err(CmdError::err(format!("Slot {slot} is already unassigned")));
        }
        if !del && state.owner(slot).is_some() {
            return Err(CmdError::err(format!("Slot {slot} is already busy")));
        }
        if std::mem::replace(&mut seen[usize::from(slot)], true) {
            return Err(CmdError::err(format!(
                "Slot {slot} specified multiple times"
            )));
        }
    }
    Ok(())
}

fn assign(ctx: &Ctx<'_>, slots: &[u16], del: bool) -> CmdResult {
    let cluster = cluster(ctx)?;
    {
        let mut state = cluster.write();
        check_assignments(&state, slots, del)?;
        let me = state.myself;
        for &slot in slots {
            if del {
                state.set_owner(slot, None);
                state.importing.remove(&slot);
                state.migrating.remove(&slot);
            } else {
                // Assigning a slot being imported closes the import.
                state.importing.remove(&slot);
                state.set_owner(slot, Some(me));
            }
        }
    }
    settle(ctx, cluster);
    Ok(Reply::ok())
}

fn addslots(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let slots = argv[2..]
        .iter()
        .map(|a| slot_arg(a))
        .collect::<Result<Vec<u16>, _>>()?;
    assign(ctx, &slots, false)
}

fn delslots(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let slots = argv[2..]
        .iter()
        .map(|a| slot_arg(a))
        .collect::<Result<Vec<u16>, _>>()?;
    assign(ctx, &slots, true)
}

/// The slots of `start end` pairs.
fn slot_ranges(argv: &[Bytes], name: &str) -> Result<Vec<u16>, CmdError> {
    if argv.len() % 2 == 1 {
        return Err(CmdError::WrongArity(name.into()));
    }
    let mut slots = Vec::new();
    for pair in argv[2..].chunks(2) {
        let start = slot_arg(&pair[0])?;
        let end = slot_arg(&pair[1])?;
        if start > end {
            return Err(CmdError::err(format!(
                "start slot number {start} is greater than end slot number {end}"
            )));
        }
        slots.extend(start..=end);
    }
    Ok(slots)
}

fn addslotsrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    cluster(ctx)?;
    let slots = slot_ranges(argv, "cluster|addslotsrange")?;
    assign(ctx, &slots, false)
}

fn delslotsrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    cluster(ctx)?;
    let slots = slot_ranges(argv, "cluster|delslotsrange")?;
    assign(ctx, &slots, true)
}

fn flushslots(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let cluster = cluster(ctx)?;
    if ctx.keys().size()? != 0 {
        return Err(CmdError::err(
            "DB must be empty to perform CLUSTER FLUSHSLOTS.",
        ));
    }
    {
        let mut state = cluster.write();
        let me = state.myself;
        for slot in state.slots_of(&me) {
            state.set_owner(slot, None);
        }
    }
    settle(ctx, cluster);
    Ok(Reply::ok())
}

/// The node a command names, or Redis' `Unknown node` error.
fn known_node(state: &ClusterState, arg: &[u8]) -> Result<NodeName, CmdError> {
    lookup(state, arg)
        .ok_or_else(|| CmdError::err(format!("Unknown node {}", String::from_utf8_lossy(arg))))
}

/// Looks a node up by the name a command gives.
fn lookup(state: &ClusterState, arg: &[u8]) -> Option<NodeName> {
    NodeName::parse(arg).filter(|n| state.nodes.contains_key(n))
}

fn setslot(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cluster = cluster(ctx)?;
    if cluster.read().me().is_replica() {
        return Err(CmdError::err("Please use SETSLOT only with masters."));
    }
    let slot = slot_arg(&argv[2])?;
    let action = String::from_utf8_lossy(&argv[3]).to_ascii_lowercase();
    let node_arg = argv.get(4).map(|a| a.as_ref()).unwrap_or_default();
    let shown = String::from_utf8_lossy(node_arg).into_owned();
    let not_master = || CmdError::err("Target node is not a master");
    let mut actions = Vec::new();
    match (action.as_str(), argv.len()) {
        ("migrating", 5) => {
            let mut state = cluster.write();
            if state.owner(slot) != Some(state.myself) {
                return Err(CmdError::err(format!(
                    "I'm not the owner of hash slot {slot}"
                )));
            }
            let n = lookup(&state, node_arg)
                .ok_or_else(|| CmdError::err(format!("I don't know about node {shown}")))?;
            if state.nodes[&n].is_replica() {
                return Err(not_master());
            }
            state.migrating.insert(slot, n);
        }
        ("importing", 5) => {
            let mut state = cluster.write();
            if state.owner(slot) == Some(state.myself) {
                return Err(CmdError::err(format!(
                    "I'm already the owner of hash slot {slot}"
                )));
            }
            let n = lookup(&state, node_arg)
                .ok_or_else(|| CmdError::err(format!("I don't know about node {shown}")))?;
            if state.nodes[&n].is_replica() {
                return Err(not_master());
            }
            state.importing.insert(slot, n);
        }
        ("stable", 4) => {
            let mut state = cluster.write();
            state.importing.remove(&slot);
            state.migrating.remove(&slot);
        }
        ("node", 5) => {
            let keys_here = ctx.keys().count_in_slot(slot)?;
            let mut state = cluster.write();
            let n = known_node(&state, node_arg)?;
            if state.nodes[&n].is_replica() {
                return Err(not_master());
            }
            let me = state.myself;
            let was_mine = state.owner(slot) == Some(me);
            if was_mine && n != me && keys_here != 0 {
                return Err(CmdError::err(format!(
                    "Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."
                )));
            }
            if keys_here == 0 {
                state.migrating.remove(&slot);
            }
            state.set_owner(slot, Some(n));
            if was_mine && n != me && state.slot_count(&me) == 0 {
                tracing::warn!(
                    "configuration change detected: reconfiguring myself as a replica of {n}"
                );
                state.me_mut().set_replica_of(n);
                actions.push(Action::Follow(n));
            }
            if n == me && state.importing.remove(&slot).is_some() {
                if state.bump_epoch_without_consensus() {
                    tracing::warn!("config epoch updated after importing slot {slot}");
                }
                actions.push(Action::Broadcast(Body::Pong(gossip::gossip(&state, None))));
            }
        }
        _ => {
            return Err(CmdError::err(
                "Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP",
            ))
        }
    }
    settle(ctx, cluster);
    apply(cluster, actions);
    Ok(Reply::ok())
}

fn bumpepoch(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let cluster = cluster(ctx)?;
    let (bumped, epoch) = {
        let mut state = cluster.write();
        let bumped = state.bump_epoch_without_consensus();
        (bumped, state.me().config_epoch)
    };
    settle_as(ctx, cluster, true);
    let word = if bumped { "BUMPED" } else { "STILL" };
    Ok(Reply::Simple(format!("{word} {epoch}").into()))
}

fn saveconfig(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let cluster = cluster(ctx)?;
    cluster
        .save()
        .map_err(|e| CmdError::err(format!("error saving the cluster node config: {e}")))?;
    Ok(Reply::ok())
}

fn set_config_epoch(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cluster = cluster(ctx)?;
    let epoch = args::int(&argv[2])?;
    {
        let mut state = cluster.write();
        if epoch < 0 {
            return Err(CmdError::err(format!(
                "Invalid config epoch specified: {epoch}"
            )));
        }
        if state.nodes.len() > 1 {
            return Err(CmdError::err(
                "The user can assign a config epoch only when the node does not know any other node.",
            ));
        }
        if state.me().config_epoch != 0 {
            return Err(CmdError::err("Node config epoch is already non-zero"));
        }
        let epoch = epoch as u64;
        state.me_mut().config_epoch = epoch;
        if state.current_epoch < epoch {
            state.current_epoch = epoch;
        }
        tracing::warn!("config epoch set to {epoch} via CLUSTER SET-CONFIG-EPOCH");
    }
    settle_as(ctx, cluster, true);
    Ok(Reply::ok())
}

fn meet(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cluster = cluster(ctx)?;
    if argv.len() > 5 {
        return Err(CmdError::WrongArity("cluster|meet".into()));
    }
    let shown = |a: &Bytes| String::from_utf8_lossy(a).into_owned();
    let port = args::int(&argv[3]).map_err(|_| {
        CmdError::err(format!(
            "Invalid TCP base port specified: {}",
            shown(&argv[3])
        ))
    })?;
    let cport = match argv.get(4) {
        Some(a) => args::int(a)
            .map_err(|_| CmdError::err(format!("Invalid TCP bus port specified: {}", shown(a))))?,
        None => port + 10000,
    };
    let ip = shown(&argv[2]);
    let invalid = || {
        CmdError::err(format!(
            "Invalid node address specified: {}:{}",
            ip,
            shown(&argv[3])
        ))
    };
    let normalized: std::net::IpAddr = ip.parse().map_err(|_| invalid())?;
    let (Ok(port), Ok(cport)) = (u16::try_from(port), u16::try_from(cport)) else {
        return Err(invalid());
    };
    if port == 0 || cport == 0 {
        return Err(invalid());
    }
    let ip = normalized.to_string();
    {
        let mut state = cluster.write();
        let already = state
            .nodes
            .values()
            .any(|n| n.in_handshake() && n.ip == ip && n.port == port && n.cport == cport);
        if !already {
            let name = NodeName::random();
            let node = ClusterNode::new(
                name,
                &ip,
                port,
                cport,
                NodeFlags::HANDSHAKE | NodeFlags::MEET,
            );
            state.nodes.insert(name, node);
        }
    }
    Ok(Reply::ok())
}

fn forget(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cluster = cluster(ctx)?;
    {
        let mut state = cluster.write();
        let n = known_node(&state, &argv[2])?;
        if n == state.myself {
            return Err(CmdError::err("I tried hard but I can't forget myself..."));
        }
        if state.me().is_replica() && state.my_master() == Some(n) {
            return Err(CmdError::err("Can't forget my master!"));
        }
        state.forgotten.insert(n, unix_ms() + FORGET_TTL_MS);
        state.remove_node(&n);
    }
    settle(ctx, cluster);
    Ok(Reply::ok())
}

fn replicate(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cluster = cluster(ctx)?;
    let keys = ctx.keys().size()?;
    let master = {
        let mut state = cluster.write();
        let n = known_node(&state, &argv[2])?;
        if n == state.myself {
            return Err(CmdError::err("Can't replicate myself"));
        }
        if state.nodes[&n].is_replica() {
            return Err(CmdError::err(
                "I can only replicate a master, not a replica.",
            ));
        }
        let me = state.myself;
        if state.me().is_master() && (state.slot_count(&me) != 0 || keys != 0) {
            return Err(CmdError::err(
                "To set a master the node must be empty and without assigned slots.",
            ));
        }
        state.migrating.clear();
        state.importing.clear();
        state.me_mut().set_replica_of(n);
        n
    };
    settle(ctx, cluster);
    apply(cluster, vec![Action::Follow(master)]);
    Ok(Reply::ok())
}

fn replicas(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cluster = cluster(ctx)?;
    let state = cluster.read();
    let n = known_node(&state, &argv[2])?;
    if state.nodes[&n].is_replica() {
        return Err(CmdError::err("The specified node is not a master"));
    }
    Ok(Reply::Array(
        state
            .replicas_of(&n)
            .into_iter()
            .map(|r| Reply::bulk(render::node_line(&state, r)))
            .collect(),
    ))
}

fn count_failure_reports(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cluster = cluster(ctx)?;
    let state = cluster.read();
    let n = known_node(&state, &argv[2])?;
    let max_age = ctx.server.config().cluster_node_timeout * 2;
    let now = unix_ms();
    let live = state.nodes[&n]
        .fail_reports
        .iter()
        .filter(|(_, t)| now.saturating_sub(*t) <= max_age)
        .count();
    Ok(Reply::Integer(live as i64))
}

fn failover_cmd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cluster = cluster(ctx)?;
    if argv.len() > 3 {
        return Err(CmdError::WrongArity("cluster|failover".into()));
    }
    let (mut force, mut takeover) = (false, false);
    if let Some(opt) = argv.get(2) {
        if args::is(opt, "force") {
            force = true;
        } else if args::is(opt, "takeover") {
            takeover = true;
            force = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut state = cluster.write();
    if state.me().is_master() {
        return Err(CmdError::err(
            "You should send CLUSTER FAILOVER to a replica",
        ));
    }
    let Some(master) = state.my_master().and_then(|m| state.nodes.get(&m)) else {
        return Err(CmdError::err(
            "I'm a replica but my master is unknown to me",
        ));
    };
    if !force && (master.is_failed() || !master.link_connected) {
        return Err(CmdError::err(
            "Master is down or failed, please use CLUSTER FAILOVER FORCE",
        ));
    }
    let master = master.name;
    let mut election = cluster.failover.lock();
    let deadline = unix_ms() + failover::MANUAL_TIMEOUT_MS;
    let mut actions = Vec::new();
    if takeover {
        tracing::warn!("taking over the master (user request)");
        election.manual = None;
        actions = failover::take_over(&mut state);
    } else {
        election.auth_time = 0;
        election.manual = Some(failover::Manual {
            deadline,
            master_offset: None,
            can_start: force,
        });
        if force {
            tracing::warn!("forced failover user request accepted");
        } else {
            tracing::warn!("manual failover user request accepted");
            actions.push(Action::Send(
                master,
                Body::MfStart(pb::ManualFailoverStart {}),
            ));
        }
    }
    drop(election);
    drop(state);
    apply(cluster, actions);
    Ok(Reply::ok())
}

fn reset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cluster = cluster(ctx)?;
    if argv.len() > 3 {
        return Err(CmdError::WrongArity("cluster|reset".into()));
    }
    let hard = match argv.get(2) {
        None => false,
        Some(a) if args::is(a, "hard") => true,
        Some(a) if args::is(a, "soft") => false,
        Some(_) => return Err(CmdError::Syntax),
    };
    let is_master = cluster.read().me().is_master();
    if is_master && ctx.keys().size()? != 0 {
        return Err(CmdError::err(
            "CLUSTER RESET can't be called with master nodes containing keys",
        ));
    }
    let was_replica = !is_master;
    {
        let mut state = cluster.write();
        let new_name = hard.then(NodeName::random);
        state.reset(hard, new_name);
        *cluster.failover.lock() = failover::Election::default();
    }
    if was_replica {
        // A reset replica becomes an empty master.
        ctx.server.follow_master(None)?;
        ctx.keys().flush()?;
    }
    settle(ctx, cluster);
    Ok(Reply::ok())
}

/// CLUSTER SLOTS: `[start, end, master, replicas...]` per range, each node `[ip, port, id,
/// {metadata}]`.
fn slots(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let cluster = cluster(ctx)?;
    let state = cluster.read();
    let node_reply = |n: &ClusterNode| {
        let mut meta = Vec::new();
        if !n.hostname.is_empty() {
            meta.push((Reply::bulk("hostname"), Reply::bulk(n.hostname.clone())));
        }
        Reply::Array(vec![
            Reply::bulk(n.ip.clone()),
            Reply::Integer(i64::from(n.port)),
            Reply::bulk(n.name.to_string()),
            Reply::Map(meta),
        ])
    };
    let mut masters: Vec<&ClusterNode> = state.nodes.values().filter(|n| n.is_master()).collect();
    masters.sort_by_key(|n| n.name);
    let mut out = Vec::new();
    for master in masters {
        let replicas: Vec<&ClusterNode> = state
            .replicas_of(&master.name)
            .into_iter()
            .filter(|r| !r.is_failed() && (r.repl_offset != 0 || r.name == state.myself))
            .collect();
        for (start, end) in state.slot_ranges(&master.name) {
            let mut entry = vec![
                Reply::Integer(i64::from(start)),
                Reply::Integer(i64::from(end)),
                node_reply(master),
            ];
            entry.extend(replicas.iter().map(|r| node_reply(r)));
            out.push(entry);
        }
    }
    out.sort_by_key(|e| match e.first() {
        Some(Reply::Integer(s)) => *s,
        _ => 0,
    });
    Ok(Reply::Array(out.into_iter().map(Reply::Array).collect()))
}

/// CLUSTER SHARDS: per master, its slot ranges and its nodes with their role and health.
fn shards(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let cluster = cluster(ctx)?;
    let state = cluster.read();
    let offset = |n: &ClusterNode| n.repl_offset as i64;
    let node_reply = |n: &ClusterNode| {
        let mut fields = vec![
            (Reply::bulk("id"), Reply::bulk(n.name.to_string())),
            (Reply::bulk("port"), Reply::Integer(i64::from(n.port))),
            (Reply::bulk("ip"), Reply::bulk(n.ip.clone())),
            (Reply::bulk("endpoint"), Reply::bulk(n.ip.clone())),
        ];
        if !n.hostname.is_empty() {
            fields.push((Reply::bulk("hostname"), Reply::bulk(n.hostname.clone())));
        }
        let role = if n.is_master() { "master" } else { "replica" };
        let health = if n.is_failed() { "fail" } else { "online" };
        fields.push((Reply::bulk("role"), Reply::bulk(role)));
        fields.push((Reply::bulk("replication-offset"), Reply::Integer(offset(n))));
        fields.push((Reply::bulk("health"), Reply::bulk(health)));
        Reply::Map(fields)
    };
    let mut masters: Vec<&ClusterNode> = state.nodes.values().filter(|n| n.is_master()).collect();
    masters.sort_by_key(|n| n.name);
    let mut out = Vec::new();
    for master in masters {
        let mut slots = Vec::new();
        for (start, end) in state.slot_ranges(&master.name) {
            slots.push(Reply::Integer(i64::from(start)));
            slots.push(Reply::Integer(i64::from(end)));
        }
        let mut nodes = vec![node_reply(master)];
        nodes.extend(state.replicas_of(&master.name).into_iter().map(node_reply));
        out.push(Reply::Map(vec![
            (Reply::bulk("slots"), Reply::Array(slots)),
            (Reply::bulk("nodes"), Reply::Array(nodes)),
        ]));
    }
    Ok(Reply::Array(out))
}

/// CLUSTER LINKS: the links this node keeps to its peers (outgoing ones; incoming links are
/// the peers' own).
fn links(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let cluster = cluster(ctx)?;
    let state = cluster.read();
    let mut nodes: Vec<&ClusterNode> = state
        .nodes
        .values()
        .filter(|n| n.name != state.myself && n.link_connected)
        .collect();
    nodes.sort_by_key(|n| n.name);
    Ok(Reply::Array(
        nodes
            .into_iter()
            .map(|n| {
                Reply::Map(vec![
                    (Reply::bulk("direction"), Reply::bulk("to")),
                    (Reply::bulk("node"), Reply::bulk(n.name.to_string())),
                    (Reply::bulk("create-time"), Reply::Integer(n.created as i64)),
                    (Reply::bulk("events"), Reply::bulk("rw")),
                    (Reply::bulk("send-buffer-allocated"), Reply::Integer(0)),
                    (Reply::bulk("send-buffer-used"), Reply::Integer(0)),
                ])
            })
            .collect(),
    ))
}
