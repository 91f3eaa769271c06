//! A database directory or backup, opened directly with the server's storage code (the server
//! must not be running on it). A backup is read through a hard-linked scratch copy, so it
//! stays exactly as it was.

use std::path::{Path, PathBuf};

use pika::storage::engine::{Cf, EngineOptions};
use pika::storage::{codec, DataType, Storage};

use super::{Source, Visit};
use pika::dataset::{Record, Value};

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
        let is_backup = path.join(pika::backup::INFO_FILE).exists();
        let scratch = is_backup.then(|| {
            Scratch(std::env::temp_dir().join(format!(
                "pika-tools-{}-{}",
                std::process::id(),
                rand::random::<u32>()
            )))
        });
        let dir = match &scratch {
            Some(s) => {
                pika::backup::restore(path, &s.0)?;
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
        let err = |e: pika::storage::StorageError| e.to_string();
        let state = self.storage.load(db, key).map_err(err)?;
        let Some(meta) = state.live().cloned() else {
            return Ok(None);
        };
        let t = meta.data_type;
        let value = if t == DataType::String {
            Value::String(
                self.storage
                    .get_string(db, key)
                    .map_err(err)?
                    .map(|v| v.to_vec())
                    .unwrap_or_default(),
            )
        } else {
            let Some(c) = self.storage.read_collection(db, key, t).map_err(err)? else {
                return Ok(None);
            };
            let cf = match t {
                DataType::Hash => Cf::Hash,
                DataType::Set => Cf::Set,
                DataType::List => Cf::List,
                DataType::ZSet => Cf::ZSet,
                _ => return Ok(None),
            };
            let mut cur = self.storage.elements(cf, &c, false);
            let mut value = match t {
                DataType::Hash => Value::Hash(Vec::new()),
                DataType::Set => Value::Set(Vec::new()),
                DataType::List => Value::List(Vec::new()),
                _ => Value::ZSet(Vec::new()),
            };
            while let Some((sub, val)) = cur.current() {
                match &mut value {
                    Value::Hash(v) => v.push((sub.to_vec(), val.to_vec())),
                    Value::Set(v) => v.push(sub.to_vec()),
                    Value::List(v) => v.push(val.to_vec()),
                    Value::ZSet(v) => v.push((
                        sub.to_vec(),
                        codec::decode_score(val).ok_or("unreadable score")?,
                    )),
                    Value::String(_) => {}
                }
                cur.advance();
            }
            cur.status().map_err(err)?;
            value
        };
        Ok(Some(Record {
            db,
            key: key.to_vec(),
            value,
            expire_at_ms: (meta.expire_ms != 0).then_some(meta.expire_ms as i64),
        }))
    }
}

impl Source for StorageSource {
    fn for_each(&mut self, visit: &mut Visit<'_>) -> Result<(), String> {
        for db in 0..self.databases {
            let mut cursor = 0;
            loop {
                let (next, keys) = self
                    .storage
                    .scan(db, cursor, 1000, &Default::default())
                    .map_err(|e| e.to_string())?;
                for key in keys {
                    if let Some(r) = self.read(db, &key)? {
                        visit(r)?;
                    }
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(())
    }

    fn get_many(&mut self, db: usize, keys: &[Vec<u8>]) -> Result<Vec<Option<Record>>, String> {
        if db >= self.databases {
            return Ok(vec![None; keys.len()]);
        }
        keys.iter().map(|k| self.read(db, k)).collect()
    }
}
