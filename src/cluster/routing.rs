//! Which node serves a command: the redirects of a cluster node (-MOVED, -ASK, -TRYAGAIN,
//! -CROSSSLOT, -CLUSTERDOWN), decided from the command's keys as Redis Cluster decides them.

use super::node::NodeName;
use super::state::{ClusterState, Health};
use crate::util::slot::key_slot;

/// What the client asked for and may do, besides its keys.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query {
    /// The command (or a queued command of EXEC) writes.
    pub write: bool,
    /// The client sent ASKING, or the command implies it (RESTORE-ASKING).
    pub asking: bool,
    /// The client sent READONLY.
    pub readonly: bool,
    /// MIGRATE: always served locally while its slot is open.
    pub migrate: bool,
    /// Reads are served while the cluster is down.
    pub allow_reads_when_down: bool,
    /// Sharded pub/sub (SSUBSCRIBE, SPUBLISH): channels, not keys; replicas serve them.
    pub shard_channel: bool,
}

/// Why a command is not served here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    Moved { slot: u16, node: NodeName },
    Ask { slot: u16, node: NodeName },
    TryAgain,
    CrossSlot,
    Down,
    DownReadOnly,
    Unbound,
}

impl Redirect {
    /// The error reply text, naming nodes by the `ip:port` `state` knows them at.
    pub fn reply_text(&self, state: &ClusterState) -> String {
        let address = |name: &NodeName| {
            state
                .nodes
                .get(name)
                .map(|n| format!("{}:{}", n.ip, n.port))
                .unwrap_or_default()
        };
        match self {
            Redirect::Moved { slot, node } => format!("MOVED {slot} {}", address(node)),
            Redirect::Ask { slot, node } => format!("ASK {slot} {}", address(node)),
            Redirect::TryAgain => "TRYAGAIN Multiple keys request during rehashing of slot".into(),
            Redirect::CrossSlot => "CROSSSLOT Keys in request don't hash to the same slot".into(),
            Redirect::Down => "CLUSTERDOWN The cluster is down".into(),
            Redirect::DownReadOnly => {
                "CLUSTERDOWN The cluster is down and only accepts read commands".into()
            }
            Redirect::Unbound => "CLUSTERDOWN Hash slot not served".into(),
        }
    }
}

/// Decides whether this node serves a command over `keys`. `exists` tells whether a key is
/// here (asked only for keys of a slot in migration).
pub fn route<'k>(
    state: &ClusterState,
    keys: impl IntoIterator<Item = &'k [u8]>,
    query: Query,
    mut exists: impl FnMut(&[u8]) -> bool,
) -> Result<(), Redirect> {
    let myself = state.myself;
    let mut first: Option<(&[u8], u16, NodeName)> = None;
    let (mut migrating, mut importing, mut multiple) = (false, false, false);
    let (mut missing, mut present) = (0usize, 0usize);
    for key in keys {
        let slot = key_slot(key);
        match first {
            None => {
                let owner = state.owner(slot).ok_or(Redirect::Unbound)?;
                if owner == myself && state.migrating.contains_key(&slot) {
                    migrating = true;
                } else if state.importing.contains_key(&slot) {
                    importing = true;
                }
                first = Some((key, slot, owner));
            }
            Some((first_key, first_slot, _)) => {
                if first_key != key {
                    if slot != first_slot {
                        return Err(Redirect::CrossSlot);
                    }
                    multiple = true;
                }
            }
        }
        if (migrating || importing) && !query.shard_channel {
            if exists(key) {
                present += 1;
            } else {
                missing += 1;
            }
        }
    }
    let Some((_, slot, owner)) = first else {
        return Ok(());
    };
    // Sharded pub/sub stays up with the cluster down (Redis'
    // cluster-allow-pubsubshard-when-down defaults to yes).
    if state.health != Health::Ok && !query.shard_channel {
        if !query.allow_reads_when_down {
            return Err(Redirect::Down);
        }
        if query.write {
            return Err(Redirect::DownReadOnly);
        }
    }
    if (migrating || importing) && query.migrate {
        return Ok(());
    }
    if migrating && missing > 0 {
        if present > 0 {
            return Err(Redirect::TryAgain);
        }
        let node = state.migrating[&slot];
        return Err(Redirect::Ask { slot, node });
    }
    if importing && query.asking {
        if multiple && missing > 0 {
            return Err(Redirect::TryAgain);
        }
        return Ok(());
    }
    if (query.readonly || query.shard_channel) && !query.write && state.my_master() == Some(owner) {
        return Ok(());
    }
    if owner != myself {
        return Err(Redirect::Moved { slot, node: owner });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::node::{ClusterNode, NodeFlags};
    use super::*;

    fn two_nodes() -> (ClusterState, NodeName) {
        let mut s = ClusterState::new(NodeName::random(), "127.0.0.1", 7000, 17000);
        let other = NodeName::random();
        s.nodes.insert(
            other,
            ClusterNode::new(other, "127.0.0.1", 7001, 17001, NodeFlags::MASTER),
        );
        let me = s.myself;
        for slot in 0..crate::util::slot::SLOT_COUNT {
            s.set_owner(slot, Some(if slot < 8192 { me } else { other }));
        }
        s.health = Health::Ok;
        (s, other)
    }

    fn keys<'a>(k: &'a [&'a str]) -> impl Iterator<Item = &'a [u8]> {
        k.iter().map(|k| k.as_bytes())
    }

    #[test]
    fn moved_crossslot_and_local() {
        let (s, other) = two_nodes();
        let q = Query::default();
        // "foo" is slot 12182, "bar" 5061.
        assert_eq!(
            route(&s, keys(&["foo"]), q, |_| true),
            Err(Redirect::Moved {
                slot: 12182,
                node: other
            })
        );
        assert_eq!(route(&s, keys(&["bar"]), q, |_| true), Ok(()));
        assert_eq!(
            route(&s, keys(&["bar", "foo"]), q, |_| true),
            Err(Redirect::CrossSlot)
        );
        assert_eq!(route(&s, keys(&["{bar}1", "{bar}2"]), q, |_| true), Ok(()));
        assert_eq!(route(&s, keys(&[]), q, |_| true), Ok(()));
    }

    #[test]
    fn migrating_asks_for_missing_keys() {
        let (mut s, other) = two_nodes();
        s.migrating.insert(5061, other);
        let q = Query::default();
        assert_eq!(route(&s, keys(&["bar"]), q, |_| true), Ok(()));
        assert_eq!(
            route(&s, keys(&["bar"]), q, |_| false),
            Err(Redirect::Ask {
                slot: 5061,
                node: other
            })
        );
        assert_eq!(
            route(&s, keys(&["{bar}1", "{bar}2"]), q, |k| k == b"{bar}1"),
            Err(Redirect::TryAgain)
        );
    }

    #[test]
    fn importing_needs_asking() {
        let (mut s, other) = two_nodes();
        s.importing.insert(12182, other);
        let q = Query::default();
        assert!(matches!(
            route(&s, keys(&["foo"]), q, |_| false),
            Err(Redirect::Moved { .. })
        ));
        let asking = Query { asking: true, ..q };
        assert_eq!(route(&s, keys(&["foo"]), asking, |_| false), Ok(()));
        assert_eq!(
            route(&s, keys(&["{foo}a", "{foo}b"]), asking, |_| false),
            Err(Redirect::TryAgain)
        );
    }

    #[test]
    fn down_and_unbound() {
        let (mut s, _) = two_nodes();
        s.health = Health::Fail;
        let q = Query::default();
        assert_eq!(route(&s, keys(&["bar"]), q, |_| true), Err(Redirect::Down));
        let reads = Query {
            allow_reads_when_down: true,
            ..q
        };
        assert_eq!(route(&s, keys(&["bar"]), reads, |_| true), Ok(()));
        let write = Query {
            write: true,
            ..reads
        };
        assert_eq!(
            route(&s, keys(&["bar"]), write, |_| true),
            Err(Redirect::DownReadOnly)
        );
        s.set_owner(5061, None);
        assert_eq!(
            route(&s, keys(&["bar"]), q, |_| true),
            Err(Redirect::Unbound)
        );
    }

    #[test]
    fn replicas_serve_readonly_reads_of_their_master() {
        let (mut s, other) = two_nodes();
        s.me_mut().set_replica_of(other);
        let q = Query {
            readonly: true,
            ..Query::default()
        };
        assert_eq!(route(&s, keys(&["foo"]), q, |_| true), Ok(()));
        let w = Query { write: true, ..q };
        assert!(matches!(
            route(&s, keys(&["foo"]), w, |_| true),
            Err(Redirect::Moved { .. })
        ));
    }
}
