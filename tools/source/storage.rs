//! A database directory or backup, opened directly with the server's storage code (the server
//! must not be running on it). A backup is read through a hard-linked scratch copy, so it
//! stays exactly as it was.

use std::path::{Path, PathBuf};

use pika::storage::engine::EngineOptions;
use pika::storage::types::Writer;
use pika::storage::Storage;

use super::Source;
use pika::dataset::Record;

pub struct StorageSource {
    storage: Storage,
    databases: usize,
    /// Declared last: dropped after the storage that has it open.
    _scratch: Option<Scratch>,
}

/// A scratch copy, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl StorageSource {
    pub fn open(path: &Path, databases: usize) -> Result<Self, String> {
        let is_backup = path.join(pika::services::backup::INFO_FILE).exists();
        let scratch = is_backup.then(|| {
            Scratch(std::env::temp_dir().join(format!(
                "pika-tools-{}-{}",
                std::process::id(),
                rand::random::<u32>()
            )))
        });
        let dir = match &scratch {
            Some(s) => {
                pika::services::backup::restore(path, &s.0)?;
                s.0.as_path()
            }
            None => path,
        };
        if !dir.join("CURRENT").exists() {
            return Err(format!(
                "{} is neither a database directory nor a backup",
                path.display()
            ));
        }
        let storage = Storage::open(dir, databases, &EngineOptions::default())
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        Ok(StorageSource {
            storage,
            databases,
            _scratch: scratch,
        })
    }

    /// Reads one live key.
    fn read(&self, db: usize, key: &[u8]) -> Result<Option<Record>, String> {
        let found = self
            .storage
            .at(db, Writer::INTERNAL)
            .keys()
            .value(key)
            .map_err(|e| e.to_string())?;
        Ok(found.map(|(value, expire_ms)| Record {
            db,
            key: key.to_vec(),
            value,
            expire_at_ms: (expire_ms != 0).then_some(expire_ms as i64),
        }))
    }
}

impl Source for StorageSource {
    fn databases(&mut self) -> Result<Vec<usize>, String> {
        Ok((0..self.databases).collect())
    }

    fn scan(&mut self, db: usize, cursor: u64) -> Result<(u64, Vec<Vec<u8>>), String> {
        self.storage
            .at(db, Writer::INTERNAL)
            .keys()
            .scan(cursor, 1000, &Default::default())
            .map_err(|e| e.to_string())
    }

    fn get_many(&mut self, db: usize, keys: &[Vec<u8>]) -> Result<Vec<Option<Record>>, String> {
        if db >= self.databases {
            return Ok(vec![None; keys.len()]);
        }
        keys.iter().map(|k| self.read(db, k)).collect()
    }
}
