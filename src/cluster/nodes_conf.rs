//! nodes.conf: the node's cluster state on disk, in Redis' format (CLUSTER NODES lines, then
//! `vars currentEpoch N lastVoteEpoch M`), replaced atomically so a crash leaves the old file
//! or the new one.

use std::io::Write;
use std::path::Path;

use super::node::{ClusterNode, NodeFlags, NodeName};
use super::render;
use super::state::ClusterState;

/// Writes `state` to `path` through a temporary file renamed over it; with `durable` the
/// data and the rename are fsynced first (epochs and votes must survive a power loss).
pub fn save(state: &ClusterState, path: &Path, durable: bool) -> std::io::Result<()> {
    write(&render(state), path, durable)
}

/// The text of nodes.conf for `state`.
pub fn render(state: &ClusterState) -> String {
    let mut text = render::nodes(state);
    text.push_str(&format!(
        "vars currentEpoch {} lastVoteEpoch {}\n",
        state.current_epoch, state.last_vote_epoch
    ));
    text
}

/// Replaces `path` with `text` through a temporary file (see [`save`]).
pub fn write(text: &str, path: &Path, durable: bool) -> std::io::Result<()> {
    let tmp = path.with_extension("conf.tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        if durable {
            f.sync_all()?;
        }
    }
    std::fs::rename(&tmp, path)?;
    if durable {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
    }
    Ok(())
}

/// Reads a nodes.conf; `Ok(None)` when there is none yet.
pub fn load(path: &Path) -> Result<Option<ClusterState>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    parse(&text)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses nodes.conf text.
pub fn parse(text: &str) -> Result<ClusterState, String> {
    let mut nodes: Vec<(ClusterNode, Vec<&str>)> = Vec::new();
    let (mut current_epoch, mut last_vote_epoch) = (0, 0);
    for (n, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields[0] == "vars" {
            for pair in fields[1..].chunks(2) {
                if let [k, v] = pair {
                    let v: u64 = v.parse().map_err(|_| format!("line {}: bad {k}", n + 1))?;
                    match *k {
                        "currentEpoch" => current_epoch = v,
                        "lastVoteEpoch" => last_vote_epoch = v,
                        _ => {}
                    }
                }
            }
            continue;
        }
        if fields.len() < 8 {
            return Err(format!("line {}: too few fields", n + 1));
        }
        let bad = |what: &str| format!("line {}: bad {what}", n + 1);
        let name = NodeName::parse(fields[0].as_bytes()).ok_or_else(|| bad("node name"))?;
        let (ip, port, cport, hostname) = parse_address(fields[1]).ok_or_else(|| bad("address"))?;
        let mut flags = NodeFlags::parse(fields[2]);
        // Liveness is learnt again from the bus.
        flags.remove(NodeFlags::PFAIL | NodeFlags::MEET);
        let mut node = ClusterNode::new(name, &ip, port, cport, flags);
        node.hostname = hostname;
        if fields[3] != "-" {
            node.replica_of =
                Some(NodeName::parse(fields[3].as_bytes()).ok_or_else(|| bad("master"))?);
        }
        node.config_epoch = fields[6].parse().map_err(|_| bad("config epoch"))?;
        node.created = 0;
        nodes.push((node, fields[8..].to_vec()));
    }
    let me = nodes
        .iter()
        .find(|(n, _)| n.flags.contains(NodeFlags::MYSELF))
        .map(|(n, _)| n.clone())
        .ok_or("no line for this node (flag myself)")?;
    let mut state = ClusterState::new(me.name, &me.ip, me.port, me.cport);
    state.current_epoch = current_epoch;
    state.last_vote_epoch = last_vote_epoch;
    for (node, slots) in nodes {
        let name = node.name;
        for spec in slots {
            apply_slot_spec(&mut state, name, spec).ok_or_else(|| format!("bad slot {spec}"))?;
        }
        state.nodes.insert(name, node);
    }
    Ok(state)
}

/// `ip:port@cport[,hostname]`.
pub fn parse_address(text: &str) -> Option<(String, u16, u16, String)> {
    let (addr, hostname) = match text.split_once(',') {
        Some((a, h)) => (a, h.to_string()),
        None => (text, String::new()),
    };
    let (hostport, cport) = addr.split_once('@')?;
    let (ip, port) = hostport.rsplit_once(':')?;
    Some((
        ip.to_string(),
        port.parse().ok()?,
        cport.parse().ok()?,
        hostname,
    ))
}

/// One slot entry of a node line: `N`, `A-B`, `[N->-name]`, `[N-<-name]`.
fn apply_slot_spec(state: &mut ClusterState, owner: NodeName, spec: &str) -> Option<()> {
    if let Some(inner) = spec.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        if let Some((slot, to)) = inner.split_once("->-") {
            let to = NodeName::parse(to.as_bytes())?;
            state.migrating.insert(slot.parse().ok()?, to);
        } else if let Some((slot, from)) = inner.split_once("-<-") {
            let from = NodeName::parse(from.as_bytes())?;
            state.importing.insert(slot.parse().ok()?, from);
        } else {
            return None;
        }
        return Some(());
    }
    let (start, end) = match spec.split_once('-') {
        Some((a, b)) => (a.parse::<u16>().ok()?, b.parse::<u16>().ok()?),
        None => {
            let s = spec.parse::<u16>().ok()?;
            (s, s)
        }
    };
    if start > end || end >= crate::util::slot::SLOT_COUNT {
        return None;
    }
    for slot in start..=end {
        state.set_owner(slot, Some(owner));
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        let me = NodeName::random();
        let other = NodeName::random();
        let replica = NodeName::random();
        let mut s = ClusterState::new(me, "127.0.0.1", 7000, 17000);
        s.current_epoch = 7;
        s.last_vote_epoch = 3;
        s.me_mut().config_epoch = 2;
        let mut o = ClusterNode::new(other, "127.0.0.1", 7001, 17001, NodeFlags::MASTER);
        o.config_epoch = 5;
        s.nodes.insert(other, o);
        let mut r = ClusterNode::new(replica, "127.0.0.1", 7002, 17002, NodeFlags::SLAVE);
        r.replica_of = Some(other);
        s.nodes.insert(replica, r);
        for slot in 0..100 {
            s.set_owner(slot, Some(me));
        }
        s.set_owner(200, Some(other));
        s.migrating.insert(5, other);
        s.importing.insert(300, other);
        let dir = std::env::temp_dir().join(format!("nodes-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("nodes.conf");
        save(&s, &path, true).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&format!("{me} 127.0.0.1:7000@17000 myself,master - 0 0 2 connected 0-99 [5->-{other}] [300-<-{other}]")), "{text}");
        assert!(text.ends_with("vars currentEpoch 7 lastVoteEpoch 3\n"));
        let back = load(&path).unwrap().unwrap();
        assert_eq!(back.myself, me);
        assert_eq!(back.current_epoch, 7);
        assert_eq!(back.last_vote_epoch, 3);
        assert_eq!(back.slot_ranges(&me), vec![(0, 99)]);
        assert_eq!(back.owner(200), Some(other));
        assert_eq!(back.migrating.get(&5), Some(&other));
        assert_eq!(back.importing.get(&300), Some(&other));
        assert_eq!(back.nodes[&replica].replica_of, Some(other));
        assert_eq!(back.nodes[&other].config_epoch, 5);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("hello world\n").is_err());
        assert!(parse("vars currentEpoch 1 lastVoteEpoch 0\n").is_err());
        assert!(parse_address("127.0.0.1:7000@17000,host").is_some());
        assert!(parse_address("127.0.0.1:7000").is_none());
    }
}
