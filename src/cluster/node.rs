//! One node of the cluster as this node knows it: name, addresses, role, liveness.

use bitflags::bitflags;
use rand::Rng;

/// Length of a node name: 40 lower-case hex characters, as Redis Cluster's.
pub const NAME_LEN: usize = 40;

/// A node's name (its id), 40 hex characters. `Copy` so the slot table can hold names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeName([u8; NAME_LEN]);

impl NodeName {
    /// A fresh random name, for this node on first start and for nodes met by address.
    pub fn random() -> NodeName {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut rng = rand::thread_rng();
        let mut name = [0u8; NAME_LEN];
        for b in name.iter_mut() {
            *b = HEX[rng.gen_range(0..16)];
        }
        NodeName(name)
    }

    /// Parses a name; `None` unless it is 40 hex characters (either case, kept as given).
    pub fn parse(text: &[u8]) -> Option<NodeName> {
        let bytes: [u8; NAME_LEN] = text.try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_hexdigit)
            .then_some(NodeName(bytes))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        // Only hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The name as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Display for NodeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for NodeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeName({})", self.as_str())
    }
}

bitflags! {
    /// A node's flags, as CLUSTER NODES shows them.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct NodeFlags: u16 {
        const MYSELF = 1 << 0;
        const MASTER = 1 << 1;
        const SLAVE = 1 << 2;
        /// Suspected: no answer within node-timeout, from this node's point of view.
        const PFAIL = 1 << 3;
        /// Failed: a majority of masters agreed.
        const FAIL = 1 << 4;
        /// Met by address; its real name is not known yet.
        const HANDSHAKE = 1 << 5;
        /// Its address is not known.
        const NOADDR = 1 << 6;
        /// A replica that never tries a failover.
        const NOFAILOVER = 1 << 7;
        /// Met by CLUSTER MEET: the first message to it is a MEET.
        const MEET = 1 << 8;
    }
}

/// Flag names in the order Redis prints them.
const FLAG_NAMES: &[(NodeFlags, &str)] = &[
    (NodeFlags::MYSELF, "myself"),
    (NodeFlags::MASTER, "master"),
    (NodeFlags::SLAVE, "slave"),
    (NodeFlags::PFAIL, "fail?"),
    (NodeFlags::FAIL, "fail"),
    (NodeFlags::HANDSHAKE, "handshake"),
    (NodeFlags::NOADDR, "noaddr"),
    (NodeFlags::NOFAILOVER, "nofailover"),
];

impl NodeFlags {
    /// The comma-separated form of CLUSTER NODES (`myself,master`, `noflags`).
    pub fn describe(self) -> String {
        let names: Vec<&str> = FLAG_NAMES
            .iter()
            .filter(|(f, _)| self.contains(*f))
            .map(|(_, n)| *n)
            .collect();
        if names.is_empty() {
            "noflags".to_string()
        } else {
            names.join(",")
        }
    }

    /// Parses the form [`NodeFlags::describe`] writes (nodes.conf).
    pub fn parse(text: &str) -> NodeFlags {
        let mut flags = NodeFlags::empty();
        for part in text.split(',') {
            if let Some((f, _)) = FLAG_NAMES.iter().find(|(_, n)| *n == part) {
                flags |= *f;
            }
        }
        flags
    }
}

/// What this node knows of one node (itself included).
#[derive(Debug, Clone)]
pub struct ClusterNode {
    pub name: NodeName,
    pub ip: String,
    /// Client port.
    pub port: u16,
    /// Cluster bus port.
    pub cport: u16,
    pub hostname: String,
    pub flags: NodeFlags,
    /// The master of a replica.
    pub replica_of: Option<NodeName>,
    /// Unix ms when the PING now waiting for its PONG was sent; 0 when none waits.
    pub ping_sent: u64,
    /// Unix ms of the last PONG received.
    pub pong_received: u64,
    /// Unix ms of the last message of any kind received from it.
    pub data_received: u64,
    /// Unix ms when it was marked FAIL.
    pub fail_time: u64,
    pub config_epoch: u64,
    /// Replication offset it last announced.
    pub repl_offset: u64,
    /// True while a bus link to it is up.
    pub link_connected: bool,
    /// Masters that reported it as failing, with the time of their latest report.
    pub fail_reports: Vec<(NodeName, u64)>,
    /// Unix ms when it was created (handshake timeout).
    pub created: u64,
    /// This node's address is set by cluster-announce-ip, not learnt from connections.
    pub ip_announced: bool,
}

impl ClusterNode {
    /// A node with no role yet.
    pub fn new(name: NodeName, ip: &str, port: u16, cport: u16, flags: NodeFlags) -> ClusterNode {
        ClusterNode {
            name,
            ip: ip.to_string(),
            port,
            cport,
            hostname: String::new(),
            flags,
            replica_of: None,
            ping_sent: 0,
            pong_received: 0,
            data_received: 0,
            fail_time: 0,
            config_epoch: 0,
            repl_offset: 0,
            link_connected: false,
            fail_reports: Vec::new(),
            created: crate::util::clock::unix_ms(),
            ip_announced: false,
        }
    }

    pub fn is_master(&self) -> bool {
        self.flags.contains(NodeFlags::MASTER)
    }

    pub fn is_replica(&self) -> bool {
        self.flags.contains(NodeFlags::SLAVE)
    }

    pub fn is_failed(&self) -> bool {
        self.flags.contains(NodeFlags::FAIL)
    }

    pub fn in_handshake(&self) -> bool {
        self.flags.contains(NodeFlags::HANDSHAKE)
    }

    /// `ip:port@cport`, the address form of CLUSTER NODES.
    pub fn address(&self) -> String {
        if self.hostname.is_empty() {
            format!("{}:{}@{}", self.ip, self.port, self.cport)
        } else {
            format!("{}:{}@{},{}", self.ip, self.port, self.cport, self.hostname)
        }
    }

    /// Makes it a master (keeping liveness flags).
    pub fn set_master(&mut self) {
        self.flags.remove(NodeFlags::SLAVE);
        self.flags.insert(NodeFlags::MASTER);
        self.replica_of = None;
    }

    /// Makes it a replica of `master`.
    pub fn set_replica_of(&mut self, master: NodeName) {
        self.flags.remove(NodeFlags::MASTER);
        self.flags.insert(NodeFlags::SLAVE);
        self.replica_of = Some(master);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_forty_hex_digits() {
        let n = NodeName::random();
        assert_eq!(n.as_str().len(), 40);
        assert_eq!(NodeName::parse(n.as_bytes()), Some(n));
        assert!(NodeName::parse(b"xyz").is_none());
        assert!(NodeName::parse(&[b'g'; 40]).is_none());
    }

    #[test]
    fn flags_print_in_redis_order() {
        let f = NodeFlags::MASTER | NodeFlags::MYSELF | NodeFlags::PFAIL;
        assert_eq!(f.describe(), "myself,master,fail?");
        assert_eq!(NodeFlags::empty().describe(), "noflags");
        assert_eq!(NodeFlags::parse("myself,master,fail?"), f);
        assert_eq!(
            NodeFlags::parse("slave,fail"),
            NodeFlags::SLAVE | NodeFlags::FAIL
        );
    }
}
