//! RDB files into a server: each key read becomes the commands that recreate it.

use std::io::Read;

use pika::util::redis_digest::{to_hex, DatasetDigest};
use pika::util::repr::push_quoted;

use crate::loader::Loader;
use pika::dataset::Replayer;
use pika::rdb::{Item, RdbReader};

/// What was read from the file.
#[derive(Debug, Default)]
pub struct RdbSummary {
    pub keys: u64,
    /// Keys of types the tools do not carry (module values).
    pub skipped: u64,
    /// Keys whose deadline had passed, dropped as Redis drops them on load.
    pub expired: u64,
    /// DEBUG DIGEST of the keys sent, to compare with the server's afterwards.
    pub digest: String,
}

pub fn load(input: impl Read, loader: &mut Loader) -> Result<RdbSummary, String> {
    let reader = RdbReader::new(input).map_err(|e| e.to_string())?;
    eprintln!("RDB version {}", reader.version());
    let now = pika::util::clock::unix_ms() as i64;
    let mut summary = RdbSummary::default();
    let mut digest = DatasetDigest::default();
    let mut replayer = Replayer::default();
    for item in reader {
        match item.map_err(|e| e.to_string())? {
            Item::Record(r) => {
                if r.expire_at_ms.is_some_and(|at| at <= now) {
                    summary.expired += 1;
                    continue;
                }
                replayer.replay(&r, &mut |args| loader.send(args))?;
                digest.add(r.db, &r.digest());
                summary.keys += 1;
            }
            Item::Skipped { db, key, type_name } => {
                let mut name = String::new();
                push_quoted(&mut name, &key);
                eprintln!("skipped db{db} {name}: {type_name} keys are not supported");
                summary.skipped += 1;
            }
        }
    }
    summary.digest = to_hex(&digest.finish());
    Ok(summary)
}
