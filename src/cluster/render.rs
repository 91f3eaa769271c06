//! The cluster's text forms: CLUSTER NODES lines (also nodes.conf's), CLUSTER INFO.

use super::node::ClusterNode;
use super::state::{ClusterState, Health};

/// One CLUSTER NODES line (without the newline), in Redis 7's layout:
/// `name ip:port@cport flags master ping-sent pong-recv config-epoch link-state slots...`.
pub fn node_line(state: &ClusterState, node: &ClusterNode) -> String {
    let master = node
        .replica_of
        .map(|m| m.to_string())
        .unwrap_or_else(|| "-".to_string());
    // A replica shows its master's config epoch, as in Redis.
    let epoch = node
        .replica_of
        .filter(|_| node.is_replica())
        .and_then(|m| state.nodes.get(&m))
        .map_or(node.config_epoch, |m| m.config_epoch);
    let myself = node.name == state.myself;
    let link = if node.link_connected || myself {
        "connected"
    } else {
        "disconnected"
    };
    let mut line = format!(
        "{} {} {} {} {} {} {} {}",
        node.name,
        node.address(),
        node.flags.describe(),
        master,
        node.ping_sent,
        node.pong_received,
        epoch,
        link
    );
    for (start, end) in state.slot_ranges(&node.name) {
        if start == end {
            line.push_str(&format!(" {start}"));
        } else {
            line.push_str(&format!(" {start}-{end}"));
        }
    }
    if myself {
        let mut open: Vec<(u16, String)> = state
            .migrating
            .iter()
            .map(|(s, n)| (*s, format!(" [{s}->-{n}]")))
            .chain(
                state
                    .importing
                    .iter()
                    .filter(|(s, _)| !state.migrating.contains_key(s))
                    .map(|(s, n)| (*s, format!(" [{s}-<-{n}]"))),
            )
            .collect();
        open.sort_by_key(|(s, _)| *s);
        for (_, text) in open {
            line.push_str(&text);
        }
    }
    line
}

/// CLUSTER NODES: one line per node, each ending in a newline; this node first.
pub fn nodes(state: &ClusterState) -> String {
    let mut out = String::new();
    out.push_str(&node_line(state, state.me()));
    out.push('\n');
    let mut others: Vec<&ClusterNode> = state
        .nodes
        .values()
        .filter(|n| n.name != state.myself)
        .collect();
    others.sort_by_key(|n| n.name);
    for node in others {
        out.push_str(&node_line(state, node));
        out.push('\n');
    }
    out
}

/// Bus message type names, in the order CLUSTER INFO lists their counters.
const MESSAGE_TYPES: &[&str] = &[
    "ping",
    "pong",
    "meet",
    "fail",
    "publish",
    "publishshard",
    "auth-req",
    "auth-ack",
    "update",
    "mfstart",
    "module",
];

/// CLUSTER INFO, Redis 7's fields in Redis' order, CRLF-separated.
pub fn info(state: &ClusterState) -> String {
    use super::node::NodeFlags;
    let health = match state.health {
        Health::Ok => "ok",
        Health::Fail => "fail",
    };
    let assigned = state.assigned_slots();
    let pfail = state.slots_in_state(NodeFlags::PFAIL);
    let fail = state.slots_in_state(NodeFlags::FAIL);
    let my_epoch = state
        .my_master()
        .and_then(|m| state.nodes.get(&m))
        .map_or(state.me().config_epoch, |m| m.config_epoch);
    let mut lines = vec![
        format!("cluster_state:{health}"),
        format!("cluster_slots_assigned:{assigned}"),
        format!("cluster_slots_ok:{}", assigned - pfail - fail),
        format!("cluster_slots_pfail:{pfail}"),
        format!("cluster_slots_fail:{fail}"),
        format!("cluster_known_nodes:{}", state.nodes.len()),
        format!("cluster_size:{}", state.size()),
        format!("cluster_current_epoch:{}", state.current_epoch),
        format!("cluster_my_epoch:{my_epoch}"),
    ];
    let mut total_sent = 0;
    for kind in MESSAGE_TYPES {
        if let Some(n) = state.stats.sent.get(kind) {
            lines.push(format!("cluster_stats_messages_{kind}_sent:{n}"));
            total_sent += n;
        }
    }
    lines.push(format!("cluster_stats_messages_sent:{total_sent}"));
    let mut total_received = 0;
    for kind in MESSAGE_TYPES {
        if let Some(n) = state.stats.received.get(kind) {
            lines.push(format!("cluster_stats_messages_{kind}_received:{n}"));
            total_received += n;
        }
    }
    lines.push(format!("cluster_stats_messages_received:{total_received}"));
    lines.push("total_cluster_links_buffer_limit_exceeded:0".to_string());
    let mut text = lines.join("\r\n");
    text.push_str("\r\n");
    text
}
