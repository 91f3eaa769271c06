//! Redis Cluster: 16384 hash slots spread over masters, each with replicas, that clients and
//! `redis-cli --cluster` drive as they drive redis-server nodes.
//!
//! - [`node`], [`state`]: what this node knows of the cluster, and the rules over it;
//! - [`routing`]: whether a command is served here or redirected (-MOVED, -ASK, ...);
//! - [`render`], [`nodes_conf`]: CLUSTER NODES / INFO text and the nodes.conf file;
//! - [`bus`]: the node-to-node protocol (`proto/cluster.proto`): gossip, failure detection,
//!   slot ownership; [`failover`]: elections. The threads carrying it are
//!   `server::cluster_bus`.
//!
//! Every key's records already start with its slot (`storage::codec`), so a slot's keys are
//! one contiguous range.

pub mod bus;
pub mod failover;
pub mod node;
pub mod nodes_conf;
pub mod render;
pub mod routing;
pub mod state;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, Weak};

use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::config::Config;
use node::NodeName;
use state::{ClusterState, Rules};

/// A cluster node's shared state: the cluster view, and where it is saved.
pub struct Cluster {
    state: RwLock<ClusterState>,
    conf_path: PathBuf,
    /// Serialises nodes.conf rewrites.
    save_lock: Mutex<()>,
    /// The failover this node (a replica) is running, if any.
    pub failover: Mutex<failover::Election>,
    /// Unix ms until which this master's writes are paused while its replica takes over in a
    /// manual failover.
    writes_paused_until: AtomicU64,
    /// The running bus, for messages commands send (PUBLISH, CLUSTER FAILOVER).
    bus: OnceLock<Weak<dyn bus::BusHandle>>,
}

impl Cluster {
    /// Loads nodes.conf, or starts a new node with a fresh name when there is none.
    pub fn open(cfg: &Config) -> Result<Cluster, String> {
        let conf_path = config_path(cfg);
        if let Some(dir) = conf_path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let state = match nodes_conf::load(&conf_path)? {
            Some(mut state) => {
                // The addresses of this node come from the live configuration.
                let (port, cport) = (announced_port(cfg), bus_port(cfg));
                let me = state.me_mut();
                me.port = port;
                me.cport = cport;
                if !cfg.cluster_announce_ip.is_empty() {
                    me.ip = cfg.cluster_announce_ip.clone();
                    me.ip_announced = true;
                }
                tracing::info!(
                    "cluster node {} loaded from {}",
                    state.myself,
                    conf_path.display()
                );
                state
            }
            None => {
                let name = NodeName::random();
                tracing::info!("no cluster configuration found, I'm {name}");
                let mut state = ClusterState::new(
                    name,
                    &cfg.cluster_announce_ip,
                    announced_port(cfg),
                    bus_port(cfg),
                );
                state.me_mut().ip_announced = !cfg.cluster_announce_ip.is_empty();
                state
            }
        };
        let cluster = Cluster {
            state: RwLock::new(state),
            conf_path,
            save_lock: Mutex::new(()),
            failover: Mutex::new(failover::Election::default()),
            writes_paused_until: AtomicU64::new(0),
            bus: OnceLock::new(),
        };
        cluster.state.write().update_health(&rules(cfg));
        cluster
            .save()
            .map_err(|e| format!("writing the cluster configuration: {e}"))?;
        Ok(cluster)
    }

    /// The cluster view, to read.
    pub fn read(&self) -> RwLockReadGuard<'_, ClusterState> {
        self.state.read()
    }

    /// The cluster view, to change; call [`Cluster::save`] after a change that must survive.
    pub fn write(&self) -> RwLockWriteGuard<'_, ClusterState> {
        self.state.write()
    }

    /// Rewrites nodes.conf from the current state, fsynced (SAVECONFIG, epochs, votes).
    pub fn save(&self) -> std::io::Result<()> {
        self.save_as(true)
    }

    fn save_as(&self, durable: bool) -> std::io::Result<()> {
        let _one_at_a_time = self.save_lock.lock();
        let text = nodes_conf::render(&self.state.read());
        nodes_conf::write(&text, &self.conf_path, durable)
    }

    /// Rewrites nodes.conf without waiting for the disk (slot and node changes, which the
    /// cluster would tell this node again), logging a failure.
    pub fn save_or_log(&self) {
        self.save_logged(false);
    }

    /// Rewrites nodes.conf, fsynced when `durable`, logging a failure (the state in memory
    /// stays authoritative).
    pub fn save_logged(&self, durable: bool) {
        if let Err(e) = self.save_as(durable) {
            tracing::error!("cannot write {}: {e}", self.conf_path.display());
        }
    }

    /// Notes that writes are paused (by CLIENT PAUSE's mechanism) until unix ms `until` for
    /// a replica's manual failover: the headers this master sends say so.
    pub fn pause_writes_until(&self, until: u64) {
        self.writes_paused_until.store(until, Ordering::SeqCst);
    }

    /// True while writes are paused for a manual failover.
    pub fn writes_paused(&self) -> bool {
        self.writes_paused_until.load(Ordering::SeqCst) > crate::util::clock::unix_ms()
    }

    /// Registers the running bus.
    pub fn attach_bus(&self, bus: Weak<dyn bus::BusHandle>) {
        let _ = self.bus.set(bus);
    }

    /// The running bus, if started.
    pub fn bus(&self) -> Option<std::sync::Arc<dyn bus::BusHandle>> {
        self.bus.get().and_then(Weak::upgrade)
    }
}

/// Where nodes.conf lives: a relative `cluster-config-file` is beside db-path (in its parent
/// directory), not inside it, because a full sync replaces db-path's contents.
pub fn config_path(cfg: &Config) -> PathBuf {
    if cfg.cluster_config_file.is_absolute() {
        return cfg.cluster_config_file.clone();
    }
    let db = cfg.db_path.components().as_path();
    let parent = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::Path::new("."));
    parent.join(&cfg.cluster_config_file)
}

/// The rules' settings from the live configuration.
pub fn rules(cfg: &Config) -> Rules {
    Rules {
        node_timeout_ms: cfg.cluster_node_timeout,
        require_full_coverage: cfg.cluster_require_full_coverage,
    }
}

/// The client port this node announces.
pub fn announced_port(cfg: &Config) -> u16 {
    if cfg.cluster_announce_port != 0 {
        cfg.cluster_announce_port
    } else {
        cfg.port
    }
}

/// The port the bus listens on.
pub fn listen_bus_port(cfg: &Config) -> u16 {
    if cfg.cluster_port != 0 {
        cfg.cluster_port
    } else {
        cfg.port.wrapping_add(10000)
    }
}

/// The bus port this node announces.
pub fn bus_port(cfg: &Config) -> u16 {
    if cfg.cluster_announce_bus_port != 0 {
        cfg.cluster_announce_bus_port
    } else {
        listen_bus_port(cfg)
    }
}
