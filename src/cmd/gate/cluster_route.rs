//! The cluster's check at the gate: a cluster node serves a command only when it holds the
//! slot of its keys; otherwise the client is redirected (see [`crate::cluster::routing`]).

use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::cluster::routing::{self, Query};
use crate::cluster::Cluster;
use crate::cmd::gate::dispatch::resolve_spec;
use crate::cmd::gate::spec::{CmdFlags, CommandSpec};
use crate::resp::Reply;
use crate::state::client::Client;
use crate::state::ServerState;
use crate::storage::types::Writer;

/// Clears the client's ASKING flag when dropped: it holds for one command.
pub struct AskingSpent<'a>(pub &'a Client);

impl Drop for AskingSpent<'_> {
    fn drop(&mut self) {
        self.0.asking.store(false, Ordering::Relaxed);
    }
}

/// Checks that this node serves `argv`; the redirect reply otherwise. EXEC is checked over
/// every queued command, as one request.
pub fn check(
    server: &ServerState,
    cluster: &Cluster,
    client: &Client,
    spec: &CommandSpec,
    argv: &[Bytes],
) -> Result<(), Reply> {
    let mut write = spec.flags.contains(CmdFlags::WRITE);
    let mut keys: Vec<Bytes> = Vec::new();
    if spec.name == "exec" {
        let queued: Vec<Vec<Bytes>> = client
            .transaction()
            .as_ref()
            .map(|t| t.queued.clone())
            .unwrap_or_default();
        for q in &queued {
            if let Some(s) = resolve_spec(q) {
                write |= s.flags.contains(CmdFlags::WRITE);
                keys.extend(s.key_positions(q).into_iter().map(|i| q[i].clone()));
            }
        }
    } else {
        keys.extend(
            spec.key_positions(argv)
                .into_iter()
                .map(|i| argv[i].clone()),
        );
    }
    if keys.is_empty() {
        return Ok(());
    }
    let query = Query {
        write,
        asking: client.asking.load(Ordering::Relaxed) || spec.flags.contains(CmdFlags::ASKING),
        readonly: client.cluster_readonly.load(Ordering::Relaxed),
        migrate: spec.name == "migrate",
        allow_reads_when_down: server.config().cluster_allow_reads_when_down,
        shard_channel: matches!(spec.name, "ssubscribe" | "sunsubscribe" | "spublish"),
    };
    let view = server.storage.at(0, Writer::INTERNAL).keys();
    let state = cluster.read();
    let result = routing::route(&state, keys.iter().map(|k| k.as_ref()), query, |key| {
        view.exists(&[key]).is_ok_and(|n| n > 0)
    });
    result.map_err(|redirect| Reply::err(redirect.reply_text(&state)))
}

/// Checks again once the command holds its key locks, while some slot of this node is in
/// migration: MIGRATE may have moved a key between the first check and the lock, and a
/// write must then follow it (-ASK) instead of recreating it here.
pub fn recheck_under_locks(
    server: &ServerState,
    client: &Client,
    spec: &CommandSpec,
    argv: &[Bytes],
) -> Result<(), Reply> {
    let Some(cluster) = server.cluster.as_deref() else {
        return Ok(());
    };
    if client.is_master_link()
        || spec.name == "migrate"
        || cluster.read().migrating.is_empty()
        || !spec.flags.contains(CmdFlags::WRITE)
    {
        return Ok(());
    }
    check(server, cluster, client, spec, argv)
}
