//! The on-disk format version: recorded at creation, checked at every open.
//!
//! A database written by a newer build is refused with a clear message instead of being
//! misread. A database written by an older build is brought up to date by the upgrade steps
//! below, one version at a time, before the server accepts clients, so a format change never
//! asks users to dump and reload.

use std::path::Path;

use super::codec::{Cf, SysKey, FORMAT_VERSION};
use super::engine::Engine;
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
            set_format_version(engine, FORMAT_VERSION)?;
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
        set_format_version(engine, version)?;
    }
    Ok(())
}

/// Records `version` as the database's on-disk format (upgrade steps, and tools that convert
/// databases).
pub fn set_format_version(engine: &Engine, version: u32) -> Result<(), StorageError> {
    let mut b = engine.batch();
    b.put(Cf::Default, SysKey::FORMAT_VERSION, &version.to_be_bytes());
    engine.write(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::engine::EngineOptions;

    #[test]
    fn new_database_gets_the_current_version_and_reopens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Engine::open(dir.path(), &EngineOptions::default()).expect("open");
        check_and_upgrade(&engine, dir.path()).expect("fresh database");
        check_and_upgrade(&engine, dir.path()).expect("same version again");
    }

    #[test]
    fn newer_format_is_refused_with_both_versions_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Engine::open(dir.path(), &EngineOptions::default()).expect("open");
        set_format_version(&engine, FORMAT_VERSION + 1).expect("stamp");
        let err = check_and_upgrade(&engine, dir.path()).expect_err("must refuse");
        let text = err.to_string();
        assert!(
            text.contains(&format!("format version {}", FORMAT_VERSION + 1)),
            "{text}"
        );
        assert!(text.contains(&format!("up to {FORMAT_VERSION}")), "{text}");
    }
}
