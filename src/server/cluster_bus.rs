//! The cluster bus at run time: a listener for the other nodes' links, one outgoing link per
//! known node, and a cron every 100 ms that pings, detects failures and runs elections.
//! Messages are applied by `cluster::bus::gossip` under the cluster lock; what they call for
//! ([`Action`]) happens here, after the lock is released.

use std::collections::HashMap;
use std::io::{self, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rand::seq::SliceRandom;

use crate::cluster::bus::gossip::{self, Action, Incoming};
use crate::cluster::bus::wire::{self, Body, BusMessage};
use crate::cluster::bus::BusHandle;
use crate::cluster::failover::{self, ReplicaView};
use crate::cluster::node::{NodeFlags, NodeName};
use crate::cluster::routing;
use crate::cluster::Cluster;
use crate::replication::MasterAddr;
use crate::state::ServerState;
use crate::util::clock::unix_ms;

/// Period of the cluster cron.
const CRON_PERIOD: Duration = Duration::from_millis(100);

/// Frames queued for a link before it counts as stuck and further ones are dropped.
const LINK_QUEUE: usize = 1024;

/// A link to one node: the queue its writer thread sends from.
struct Link {
    id: u64,
    /// `None` while connecting.
    queue: Option<SyncSender<Vec<u8>>>,
    /// Unix ms when the link was created.
    created: u64,
}

/// The bus of a running node.
pub struct Bus {
    server: Arc<ServerState>,
    links: Mutex<HashMap<NodeName, Link>>,
    /// Other nodes' links to this one, closed at shutdown so their threads end.
    inbound: Mutex<HashMap<u64, TcpStream>>,
    next_link: AtomicU64,
    /// The replication offset sent in headers, refreshed by the cron.
    offset: AtomicU64,
}

impl Bus {
    fn cluster(&self) -> &Cluster {
        self.server
            .cluster
            .as_deref()
            .expect("the bus runs only on cluster nodes")
    }
}

/// Starts the bus: binds the bus port and spawns the listener and the cron.
pub fn start(server: Arc<ServerState>) -> io::Result<()> {
    let cfg = server.config();
    let bind = format!("{}:{}", cfg.bind, crate::cluster::listen_bus_port(&cfg));
    drop(cfg);
    // After an in-process restart (a full sync) the previous bus may hold the port for a
    // moment longer.
    let mut attempts = 0;
    let listener = loop {
        match TcpListener::bind(&bind) {
            Ok(l) => break l,
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && attempts < 50 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(e),
        }
    };
    tracing::info!("cluster bus listening on {bind}");
    listener.set_nonblocking(true)?;
    let bus = Arc::new(Bus {
        server,
        links: Mutex::new(HashMap::new()),
        inbound: Mutex::new(HashMap::new()),
        next_link: AtomicU64::new(1),
        offset: AtomicU64::new(0),
    });
    let handle: Arc<dyn BusHandle> = bus.clone();
    bus.cluster().attach_bus(Arc::downgrade(&handle));
    let accepting = Arc::clone(&bus);
    std::thread::Builder::new()
        .name("cluster-bus".into())
        .spawn(move || accept_loop(accepting, listener))?;
    let cron = Arc::clone(&bus);
    std::thread::Builder::new()
        .name("cluster-cron".into())
        .spawn(move || cron_loop(cron))?;
    Ok(())
}

/// Accepts links until shutdown (the listener is non-blocking, so the flag is seen).
fn accept_loop(bus: Arc<Bus>, listener: TcpListener) {
    while !bus.server.shutdown_requested() {
        let Ok((stream, _)) = listener.accept() else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        if stream.set_nonblocking(false).is_err() {
            continue;
        }
        let reader = Arc::clone(&bus);
        let spawned = std::thread::Builder::new()
            .name("cluster-in".into())
            .spawn(move || serve_inbound(reader, stream));
        if let Err(e) = spawned {
            tracing::warn!("cannot serve a cluster bus connection: {e}");
        }
    }
}

/// Reads another node's link: applies each message and answers PING / MEET with PONG.
fn serve_inbound(bus: Arc<Bus>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let incoming = Incoming {
        link_to: None,
        peer_ip: stream
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
        local_ip: stream
            .local_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
    };
    let (Ok(read_half), Ok(registered)) = (stream.try_clone(), stream.try_clone()) else {
        return;
    };
    let id = bus.next_link.fetch_add(1, Ordering::Relaxed);
    bus.inbound.lock().insert(id, registered);
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    while !bus.server.shutdown_requested() {
        let Ok(msg) = wire::recv(&mut reader) else {
            break;
        };
        let replies = bus.handle(&msg, &incoming);
        if replies
            .into_iter()
            .any(|body| wire::send(&mut writer, &bus.message(body)).is_err())
        {
            break;
        }
    }
    bus.inbound.lock().remove(&id);
    let _ = writer.shutdown(Shutdown::Both);
}

impl Bus {
    /// Applies a message; runs its actions and returns the replies for its connection.
    fn handle(&self, msg: &BusMessage, incoming: &Incoming) -> Vec<Body> {
        let cluster = self.cluster();
        let rules = crate::cluster::rules(&self.server.config());
        let actions = {
            let mut state = cluster.write();
            let mut election = cluster.failover.lock();
            let actions =
                gossip::process(&mut state, &mut election, &rules, unix_ms(), msg, incoming);
            state.update_health(&rules);
            actions
        };
        self.run(actions)
    }

    /// A message from this node with its current header.
    fn message(&self, body: Body) -> BusMessage {
        let cluster = self.cluster();
        let paused = cluster.writes_paused();
        let mut state = cluster.write();
        state.count_message(wire::kind(&body), true);
        BusMessage {
            sender: Some(gossip::header(
                &state,
                self.offset.load(Ordering::Relaxed),
                paused,
            )),
            body: Some(body),
        }
    }

    /// Queues a message on the link to `node`; a missing or stuck link drops it (the cron
    /// repeats what matters).
    fn send_to(&self, node: &NodeName, body: Body) {
        let frame = wire::frame(&self.message(body));
        if let Some(queue) = self.links.lock().get(node).and_then(|l| l.queue.clone()) {
            let _ = queue.try_send(frame);
        }
    }

    /// Sends to every node with a link.
    fn broadcast_all(&self, body: Body) {
        let frame = wire::frame(&self.message(body));
        let queues: Vec<SyncSender<Vec<u8>>> = self
            .links
            .lock()
            .values()
            .filter_map(|l| l.queue.clone())
            .collect();
        for q in queues {
            let _ = q.try_send(frame.clone());
        }
    }

    /// Takes the actions of a message, a cron tick or a command; returns the replies.
    fn run(&self, actions: Vec<Action>) -> Vec<Body> {
        let mut replies = Vec::new();
        let (mut save, mut durable) = (false, false);
        for action in actions {
            match action {
                Action::Reply(body) => replies.push(body),
                Action::Send(node, body) => self.send_to(&node, body),
                Action::Broadcast(body) => self.broadcast_all(body),
                Action::Save => save = true,
                Action::SaveDurable => {
                    // Written before anything after it (a vote's ack) is sent.
                    self.cluster().save_logged(true);
                    durable = true;
                }
                Action::Follow(master) => {
                    // A manual failover that demoted this master is over: writes go on
                    // (redirected to the new master).
                    if self.cluster().writes_paused() {
                        self.cluster().pause_writes_until(0);
                        self.server.pause.unpause(&self.server.storage);
                    }
                    self.follow(master);
                }
                Action::Promote => {
                    if let Err(e) = self.server.follow_master(None) {
                        tracing::error!("cannot stop replicating after a failover: {e}");
                    }
                }
                Action::DropSlotKeys(slots) => {
                    for slot in slots {
                        if let Err(e) = self.server.storage.delete_slot(slot) {
                            tracing::error!("cannot delete the keys of lost slot {slot}: {e}");
                        }
                    }
                }
                Action::RenameLink(from, to) => {
                    let mut links = self.links.lock();
                    if let Some(link) = links.remove(&from) {
                        links.insert(to, link);
                    }
                }
                Action::CloseLink(node) => {
                    self.links.lock().remove(&node);
                    if let Some(n) = self.cluster().write().nodes.get_mut(&node) {
                        n.link_connected = false;
                    }
                }
                Action::PauseWrites(until) => {
                    // As Redis does: the writes wait as under CLIENT PAUSE WRITE.
                    self.server.pause.pause(until, false, &self.server.storage);
                    self.cluster().pause_writes_until(until);
                }
                Action::Publish {
                    channel,
                    message,
                    shard,
                } => {
                    let (channel, message) = (channel.into(), message.into());
                    if shard {
                        self.server.pubsub.spublish(&channel, &message);
                    } else {
                        self.server.pubsub.publish(&channel, &message);
                    }
                }
            }
        }
        if save && !durable {
            self.cluster().save_or_log();
        }
        replies
    }

    /// Replicates from `master`, as the cluster decided.
    fn follow(&self, master: NodeName) {
        let addr = {
            let state = self.cluster().read();
            state.nodes.get(&master).map(|n| MasterAddr {
                host: n.ip.clone(),
                port: n.port,
            })
        };
        if let Some(addr) = addr {
            if let Err(e) = self.server.follow_master(Some(addr)) {
                tracing::error!("cannot replicate from {master}: {e}");
            }
        }
    }
}

fn cron_loop(bus: Arc<Bus>) {
    let mut iteration: u64 = 0;
    while !bus.server.shutdown_requested() {
        std::thread::sleep(CRON_PERIOD);
        iteration += 1;
        bus.offset
            .store(bus.replication_offset(), Ordering::Relaxed);
        let actions = bus.cron(iteration);
        bus.run(actions);
        if iteration.is_multiple_of(10) {
            bus.redirect_blocked_clients();
        }
    }
    // Ends every link thread: writers see their queue gone, readers their socket closed.
    bus.links.lock().clear();
    for (_, stream) in bus.inbound.lock().drain() {
        let _ = stream.shutdown(Shutdown::Both);
    }
}

impl Bus {
    /// A master's latest binlog sequence, or the master position a replica applied.
    fn replication_offset(&self) -> u64 {
        let storage = &self.server.storage;
        if self.server.replication.is_slave() {
            storage
                .master_position()
                .ok()
                .flatten()
                .map_or(0, |(_, seq)| seq)
        } else {
            storage.engine().latest_sequence()
        }
    }

    /// One cron tick: links, pings, failure detection, the election, health.
    fn cron(self: &Arc<Bus>, iteration: u64) -> Vec<Action> {
        let cluster = self.cluster();
        let cfg = self.server.config();
        let rules = crate::cluster::rules(&cfg);
        let now = unix_ms();
        let timeout = rules.node_timeout_ms;
        let mut actions = Vec::new();
        let mut connect = Vec::new();
        let mut pings = Vec::new();
        {
            let mut state = cluster.write();
            let me = state.myself;
            state.forgotten.retain(|_, until| *until > now);
            let stale_handshakes: Vec<NodeName> = state
                .nodes
                .values()
                .filter(|n| n.in_handshake() && now.saturating_sub(n.created) > timeout.max(1000))
                .map(|n| n.name)
                .collect();
            for name in stale_handshakes {
                state.remove_node(&name);
                actions.push(Action::CloseLink(name));
            }
            let mut links = self.links.lock();
            // Links to nodes no longer known (FORGET, RESET) end.
            links.retain(|name, _| state.nodes.contains_key(name));
            for node in state.nodes.values_mut() {
                if node.name == me || node.flags.contains(NodeFlags::NOADDR) {
                    continue;
                }
                let link = links.get(&node.name);
                match link {
                    None => connect.push((node.name, node.ip.clone(), node.cport)),
                    Some(l) if l.queue.is_some() => {
                        let half = timeout / 2;
                        if node.ping_sent == 0 && now.saturating_sub(node.pong_received) > half {
                            pings.push(node.name);
                        } else if node.ping_sent != 0
                            && now.saturating_sub(l.created) > timeout
                            && now.saturating_sub(node.ping_sent) > half
                            && now.saturating_sub(node.data_received) > half
                        {
                            // The link looks dead: a new one is tried.
                            actions.push(Action::CloseLink(node.name));
                        }
                    }
                    Some(_) => {}
                }
                if node.ping_sent != 0
                    && now.saturating_sub(node.ping_sent) > timeout
                    && !node.flags.intersects(NodeFlags::PFAIL | NodeFlags::FAIL)
                {
                    tracing::info!("node {} is possibly failing", node.name);
                    node.flags.insert(NodeFlags::PFAIL);
                }
            }
            drop(links);
            if iteration.is_multiple_of(10) {
                // Besides the nodes not heard from for half the timeout, one of five random
                // nodes, the one heard from longest ago.
                let linked = self.links.lock();
                let mut candidates: Vec<(NodeName, u64)> = state
                    .nodes
                    .values()
                    .filter(|n| {
                        n.name != me
                            && n.ping_sent == 0
                            && !n.in_handshake()
                            && linked.get(&n.name).is_some_and(|l| l.queue.is_some())
                    })
                    .map(|n| (n.name, n.pong_received))
                    .collect();
                drop(linked);
                candidates.shuffle(&mut rand::thread_rng());
                if let Some((name, _)) = candidates.iter().take(5).min_by_key(|(_, pong)| *pong) {
                    if !pings.contains(name) {
                        pings.push(*name);
                    }
                }
            }
            let pfail: Vec<NodeName> = state
                .nodes
                .values()
                .filter(|n| n.flags.contains(NodeFlags::PFAIL))
                .map(|n| n.name)
                .collect();
            for name in pfail {
                gossip::mark_failing_if_needed(&mut state, &rules, now, name, &mut actions);
            }
            let view = ReplicaView {
                offset: self.offset.load(Ordering::Relaxed),
                link_down_ms: self.server.replication.link_down_ms(),
                validity_factor: cfg.cluster_replica_validity_factor,
            };
            let mut election = cluster.failover.lock();
            if let Some((_, until)) = election.paused_for {
                if now > until {
                    election.paused_for = None;
                }
            }
            actions.extend(failover::tick(&mut state, &mut election, &rules, now, view));
            let before = state.health;
            let after = state.update_health(&rules);
            if before != after {
                tracing::info!("cluster state changed: {after:?}");
            }
        }
        for (name, ip, cport) in connect {
            self.connect(name, ip, cport, timeout);
        }
        for name in pings {
            self.ping(&name, now);
        }
        actions
    }

    /// Clients blocked on keys whose slot this node no longer serves get the redirect (or
    /// -CLUSTERDOWN) instead of waiting on.
    fn redirect_blocked_clients(&self) {
        let blocking = &self.server.blocking;
        let parked = blocking.parked_keys();
        if parked.is_empty() {
            return;
        }
        let allow_reads = self.server.config().cluster_allow_reads_when_down;
        let redirects: Vec<(u64, String)> = {
            let state = self.cluster().read();
            parked
                .into_iter()
                .filter_map(|(id, keys)| {
                    let query = routing::Query {
                        allow_reads_when_down: allow_reads,
                        ..Default::default()
                    };
                    let routed =
                        routing::route(&state, keys.iter().map(|k| k.as_ref()), query, |_| true);
                    routed.err().map(|r| (id, r.reply_text(&state)))
                })
                .collect()
        };
        for (id, text) in redirects {
            if let Some(w) = blocking.unpark(&self.server.storage.ready, id) {
                crate::state::blocking::answer(w, &crate::resp::Reply::err(text));
            }
        }
    }

    /// Sends a PING (a MEET to a node met by CLUSTER MEET), noting when it was sent.
    fn ping(&self, node: &NodeName, now: u64) {
        let body = {
            let mut state = self.cluster().write();
            let gossip = gossip::gossip(&state, Some(node));
            let Some(n) = state.nodes.get_mut(node) else {
                return;
            };
            if n.ping_sent == 0 {
                n.ping_sent = now;
            }
            if n.flags.contains(NodeFlags::MEET) {
                n.flags.remove(NodeFlags::MEET);
                Body::Meet(gossip)
            } else {
                Body::Ping(gossip)
            }
        };
        self.send_to(node, body);
    }

    /// Opens a link to `node` in the background.
    fn connect(self: &Arc<Bus>, node: NodeName, ip: String, cport: u16, timeout_ms: u64) {
        let id = self.next_link.fetch_add(1, Ordering::Relaxed);
        self.links.lock().insert(
            node,
            Link {
                id,
                queue: None,
                created: unix_ms(),
            },
        );
        let bus = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("cluster-link".into())
            .spawn(move || bus.run_link(id, node, ip, cport, timeout_ms));
        if spawned.is_err() {
            self.links.lock().remove(&node);
        }
    }

    /// The name the link `id` belongs to now (a handshake renames it).
    fn link_name(&self, id: u64) -> Option<NodeName> {
        self.links
            .lock()
            .iter()
            .find(|(_, l)| l.id == id)
            .map(|(n, _)| *n)
    }

    fn run_link(self: Arc<Bus>, id: u64, node: NodeName, ip: String, cport: u16, timeout_ms: u64) {
        let addr: Option<SocketAddr> = (ip.as_str(), cport)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next());
        let connect_timeout = Duration::from_millis(timeout_ms.clamp(100, 5000));
        let stream = addr.and_then(|a| TcpStream::connect_timeout(&a, connect_timeout).ok());
        let Some(stream) = stream else {
            // An unreachable node counts as a ping without answer.
            if let Some(name) = self.link_name(id) {
                let mut state = self.cluster().write();
                if let Some(n) = state.nodes.get_mut(&name) {
                    if n.ping_sent == 0 {
                        n.ping_sent = unix_ms();
                    }
                }
                drop(state);
                self.drop_link(id);
            }
            // Do not retry at once.
            std::thread::sleep(Duration::from_millis(500));
            return;
        };
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(LINK_QUEUE);
        {
            let mut links = self.links.lock();
            match links.iter_mut().find(|(_, l)| l.id == id) {
                Some((_, l)) => l.queue = Some(tx),
                None => return,
            }
        }
        let name = self.link_name(id).unwrap_or(node);
        let old_ping = {
            let mut state = self.cluster().write();
            state.nodes.get_mut(&name).map(|n| {
                n.link_connected = true;
                n.ping_sent
            })
        };
        // A new link starts with a PING (or MEET); a ping that was already waiting keeps its
        // time, so a node whose links keep failing is still detected.
        self.ping(&name, unix_ms());
        if let Some(old) = old_ping.filter(|&t| t != 0) {
            if let Some(n) = self.cluster().write().nodes.get_mut(&name) {
                n.ping_sent = old;
            }
        }
        let incoming_base = Incoming {
            link_to: None,
            peer_ip: ip.clone(),
            local_ip: stream
                .local_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default(),
        };
        if let Ok(read_half) = stream.try_clone() {
            let reader_bus = Arc::clone(&self);
            let _ = std::thread::Builder::new()
                .name("cluster-link-in".into())
                .spawn(move || {
                    let mut reader = BufReader::new(read_half);
                    while let Ok(msg) = wire::recv(&mut reader) {
                        let Some(to) = reader_bus.link_name(id) else {
                            break;
                        };
                        let incoming = Incoming {
                            link_to: Some(to),
                            ..incoming_base.clone()
                        };
                        // Answers to what we send never call for a reply on this link.
                        let _ = reader_bus.handle(&msg, &incoming);
                    }
                    reader_bus.drop_link(id);
                });
        }
        write_link(&self, id, stream, rx);
    }

    /// Forgets link `id` and marks its node disconnected.
    fn drop_link(&self, id: u64) {
        let name = {
            let mut links = self.links.lock();
            let name = links.iter().find(|(_, l)| l.id == id).map(|(n, _)| *n);
            if let Some(n) = name {
                links.remove(&n);
            }
            name
        };
        if let Some(name) = name {
            if let Some(n) = self.cluster().write().nodes.get_mut(&name) {
                n.link_connected = false;
            }
        }
    }
}

/// Writes a link's queued frames until the link is dropped or the socket fails.
fn write_link(bus: &Bus, id: u64, mut stream: TcpStream, rx: Receiver<Vec<u8>>) {
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(frame) => {
                if stream.write_all(&frame).is_err() {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if bus.server.shutdown_requested() || bus.link_name(id).is_none() {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    bus.drop_link(id);
}

impl BusHandle for Bus {
    fn send(&self, node: &NodeName, body: Body) {
        self.send_to(node, body);
    }

    fn broadcast(&self, body: Body) {
        self.broadcast_all(body);
    }

    fn apply(&self, actions: Vec<Action>) {
        self.run(actions);
    }
}
