//! Where the tools read datasets from: a running server (any Redis-protocol server), a
//! database directory or backup (opened directly), or an RDB file.

pub mod server;
pub mod storage;

use pika::dataset::Record;

/// Receives each record read; an `Err` stops the walk.
pub type Visit<'a> = dyn FnMut(Record) -> Result<(), String> + 'a;

/// A dataset the tools can walk and look keys up in.
pub trait Source {
    /// The databases to walk, ascending.
    fn databases(&mut self) -> Result<Vec<usize>, String>;

    /// One SCAN step over database `db`: the next cursor (0 at the end) and some keys.
    fn scan(&mut self, db: usize, cursor: u64) -> Result<(u64, Vec<Vec<u8>>), String>;

    /// Reads the given keys of one database (`None` for a missing key).
    fn get_many(&mut self, db: usize, keys: &[Vec<u8>]) -> Result<Vec<Option<Record>>, String>;

    /// Calls `visit` for every key, database by database in ascending order.
    fn for_each(&mut self, visit: &mut Visit<'_>) -> Result<(), String> {
        for db in self.databases()? {
            let mut cursor = 0;
            loop {
                let (next, keys) = self.scan(db, cursor)?;
                for r in self.get_many(db, &keys)?.into_iter().flatten() {
                    visit(r)?;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(())
    }
}

/// Options shared by every kind of source.
#[derive(clap::Args, Debug, Clone)]
pub struct SourceOptions {
    /// Password for servers (AUTH).
    #[arg(long, short = 'a')]
    pub password: Option<String>,
    /// Number of logical databases in a database directory or backup.
    #[arg(long, default_value_t = 16)]
    pub databases: usize,
}

/// Opens `spec`: `host:port` for a running server, else a database directory or backup.
pub fn open(spec: &str, opts: &SourceOptions) -> Result<Box<dyn Source>, String> {
    if let Some(addr) = server_address(spec) {
        return Ok(Box::new(server::ServerSource::connect(
            &addr,
            opts.password.as_deref(),
        )?));
    }
    Ok(Box::new(storage::StorageSource::open(
        std::path::Path::new(spec),
        opts.databases,
    )?))
}

/// `host:port` (or `redis://host:port`) when `spec` names a server rather than a path.
pub fn server_address(spec: &str) -> Option<String> {
    let bare = spec.strip_prefix("redis://").unwrap_or(spec);
    let bare = bare.trim_end_matches('/');
    let (host, port) = bare.rsplit_once(':')?;
    if host.is_empty() || host.contains('/') || port.parse::<u16>().is_err() {
        return None;
    }
    if std::path::Path::new(spec).exists() {
        return None;
    }
    Some(bare.to_string())
}

#[cfg(test)]
mod tests {
    use super::server_address;

    #[test]
    fn server_specs_and_paths() {
        assert_eq!(
            server_address("127.0.0.1:9221").as_deref(),
            Some("127.0.0.1:9221")
        );
        assert_eq!(server_address("redis://h:1/").as_deref(), Some("h:1"));
        assert_eq!(server_address("/data/db"), None);
        assert_eq!(server_address("./dump/x:12"), None);
        assert_eq!(server_address("host:notaport"), None);
    }
}
