//! Forming a test cluster and waiting until it is ready to move slots.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{wait_for, TestServer};

/// The cluster bus port of `s`.
pub fn bus_port(s: &TestServer) -> String {
    let v: Vec<String> = s.q(&["CONFIG", "GET", "cluster-port"]);
    v[1].clone()
}

/// A field of CLUSTER INFO (empty when absent).
pub fn cluster_info(s: &TestServer, field: &str) -> String {
    let text: String = s.q(&["CLUSTER", "INFO"]);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// `a` meets `b`.
pub fn meet(a: &TestServer, b: &TestServer) {
    let port = b.port.to_string();
    let bus = bus_port(b);
    let _: String = a.q(&["CLUSTER", "MEET", "127.0.0.1", &port, &bus]);
}

/// Waits until every node reports `cluster_state:ok` and knows `known` nodes.
pub fn wait_ok(nodes: &[&TestServer], known: usize, timeout: Duration) {
    wait_for("cluster state ok", timeout, || {
        for n in nodes {
            let state = cluster_info(n, "cluster_state");
            let count = cluster_info(n, "cluster_known_nodes");
            if state != "ok" || count != known.to_string() {
                return Err(format!("node {}: state {state}, {count} nodes", n.port));
            }
        }
        Ok(())
    });
}

/// Each node's view of the config epochs: node id -> (epoch, is a master).
fn epochs_seen_by(s: &TestServer) -> BTreeMap<String, (u64, bool)> {
    let text: String = s.q(&["CLUSTER", "NODES"]);
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let epoch = fields.get(6)?.parse().ok()?;
            let master = fields.get(2)?.split(',').any(|f| f == "master");
            Some((fields[0].to_string(), (epoch, master)))
        })
        .collect()
}

/// Waits until every node sees the same config epochs and no two masters share one.
///
/// Nodes that just met start at epoch 0 and settle collisions over a few gossip rounds.
/// Moving a slot before that is unsafe, in Redis as here: the importing node's epoch bump
/// may tie with a collision bump it has not heard of yet, and the other node's next
/// heartbeat, at the newer epoch, then takes the freshly moved slot back (with its keys).
/// `redis-cli --cluster create` avoids this with CLUSTER SET-CONFIG-EPOCH.
pub fn wait_for_settled_epochs(nodes: &[&TestServer]) {
    wait_for("settled config epochs", Duration::from_secs(20), || {
        let views: Vec<_> = nodes.iter().map(|n| epochs_seen_by(n)).collect();
        if views.windows(2).any(|w| w[0] != w[1]) {
            return Err(format!("views differ: {views:?}"));
        }
        let mut masters: Vec<u64> = views[0]
            .values()
            .filter(|(_, master)| *master)
            .map(|(epoch, _)| *epoch)
            .collect();
        let count = masters.len();
        masters.sort_unstable();
        masters.dedup();
        if masters.len() != count {
            return Err(format!("masters share an epoch: {views:?}"));
        }
        Ok(())
    });
}
