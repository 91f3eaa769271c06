//! The on-disk format version: recorded at creation, checked at every open.
//!
//! A database written by a newer build is refused with a clear message instead of being
//! misread. A database written by an older build is brought up to date by the upgrade steps
//! below, one version at a time, before the server accepts clients, so a format change never
//! asks users to dump and reload.

use std::path::Path;

use super::codec::{SysKey, FORMAT_VERSION};
use super::engine::{Cf, Engine};
use super::StorageError;

/// An upgrade from `version` to `version + 1`.
type UpgradeStep = fn(&Engine) -> Result<(), StorageError>;

/// Upgrade steps, indexed by the version they upgrade from (starting at 1). Empty while only
/// version 1 exists.
const UPGRADES: &[UpgradeStep] = &[];

/// Verifies the stored format version, writing it on a new database and upgrading old ones.
pub fn check_and_upgrade(engine: &Engine, path: &Path) -> Result<(), StorageError> {
    let stored = engine.get(Cf::Default, SysKey::FORMAT_VERSION)?;
    let mut version = match stored {
        None => {
            write_version(engine, FORMAT_VERSION)?;
            return Ok(());
        }
        Some(raw) => u32::from_be_bytes(raw.as_slice().try_into().map_err(|_| {
            StorageError::Corrupt(format!("format version record of {}", path.display()))
        })?),
    };
    if version > FORMAT_VERSION {
        return Err(StorageError::FormatTooNew {
            path: path.display().to_string(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    while version < FORMAT_VERSION {
        let step = UPGRADES
            .get((version as usize).wrapping_sub(1))
            .ok_or_else(|| {
                StorageError::Corrupt(format!("no upgrade path from format version {version}"))
            })?;
        tracing::info!(from = version, to = version + 1, "upgrading on-disk format");
        step(engine)?;
        version += 1;
        write_version(engine, version)?;
    }
    Ok(())
}

fn write_version(engine: &Engine, version: u32) -> Result<(), StorageError> {
    let mut b = engine.batch();
    b.put(Cf::Default, SysKey::FORMAT_VERSION, &version.to_be_bytes());
    engine.write(b)
}
