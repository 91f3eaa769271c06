//! Waits that cluster tests need before they move slots.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{wait_for, TestServer};

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
