//! The client that applies a Redis master's command stream (see
//! `replication::from_redis`): its commands run through the one dispatch gate like any
//! client's, so this node's binlog, its slaves, blocked clients and WATCH all see them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use crate::cmd::gate::dispatch;
use crate::cmd::session::multi;
use crate::replication::from_redis::CommandApplier;
use crate::resp::Reply;
use crate::state::client::Client;
use crate::state::ServerState;

/// Error replies logged per link at most; the rest are only counted.
const LOGGED_ERRORS: u64 = 20;

/// Runs a Redis master's commands as one internal client (its SELECT and MULTI state carry
/// over from one group to the next).
pub struct MasterLink {
    server: Arc<ServerState>,
    client: Arc<Client>,
    errors: AtomicU64,
}

impl MasterLink {
    pub fn new(server: Arc<ServerState>) -> MasterLink {
        let client = server.internal_client(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        client.set_master_link();
        client.set_name(Some(Bytes::from_static(b"redis-master-link")));
        MasterLink {
            server,
            client,
            errors: AtomicU64::new(0),
        }
    }
}

impl CommandApplier for MasterLink {
    fn apply(&self, commands: &[Vec<Bytes>]) -> Result<(), String> {
        let storage = &self.server.storage;
        storage.begin_round();
        for argv in commands {
            let reply = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                dispatch::execute(&self.server, &self.client, argv)
            }))
            .unwrap_or_else(|_| Reply::err("ERR internal error while running the command"));
            if let Reply::Error(text) = reply {
                self.server
                    .stats
                    .unexpected_error_replies
                    .fetch_add(1, Ordering::Relaxed);
                let n = self.errors.fetch_add(1, Ordering::Relaxed);
                if n < LOGGED_ERRORS {
                    tracing::warn!(
                        "the Redis master's {} failed here: {text}",
                        String::from_utf8_lossy(argv.first().map_or(&b""[..], |a| a))
                    );
                }
            }
        }
        storage.end_round().map_err(|e| e.to_string())?;
        storage.ready.publish();
        Ok(())
    }

    fn reset(&self) {
        multi::discard_state(&self.server, &self.client);
        self.client.set_db(0);
        self.errors.store(0, Ordering::Relaxed);
    }
}
