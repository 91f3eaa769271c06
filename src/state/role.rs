//! Changing whom this node follows: SLAVEOF / REPLICAOF and the cluster's role changes
//! (CLUSTER REPLICATE, a replica promoted by a failover, an old master demoted) go through
//! here, so storage, the replication link and the `slaveof` directive stay in step.

use crate::replication::MasterAddr;
use crate::storage::StorageError;

use super::ServerState;

impl ServerState {
    /// Follows `master`, or becomes a master with `None`. Returns false when nothing changed.
    pub fn follow_master(&self, master: Option<MasterAddr>) -> Result<bool, StorageError> {
        let repl = &self.replication;
        let storage = &self.storage;
        match master {
            None => {
                if !repl.is_slave() {
                    return Ok(false);
                }
                repl.set_master(None);
                storage.set_replica(false);
                storage.clear_master_position()?;
                storage.continue_versions_after_master()?;
                self.set_slaveof_directive("");
                tracing::info!("promoted to master");
            }
            Some(master) => {
                if repl.master().as_ref() == Some(&master) {
                    return Ok(false);
                }
                storage.set_replica(true);
                let directive = master.to_directive();
                tracing::info!("now a slave of {}:{}", master.host, master.port);
                repl.set_master(Some(master));
                self.set_slaveof_directive(&directive);
            }
        }
        Ok(true)
    }

    /// Keeps CONFIG GET slaveof (and a storage restart after a full sync) in step.
    fn set_slaveof_directive(&self, value: &str) {
        let mut cfg = (**self.config()).clone();
        cfg.slaveof = value.to_string();
        self.set_config(cfg);
    }
}
