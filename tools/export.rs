//! `pika_tools export`: writes a database as a stream of Redis commands (RESP) that
//! `redis-cli --pipe` loads into Redis or another pika-rs server.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use pika::storage::engine::{Cf, EngineOptions};
use pika::storage::{codec, DataType, Storage};

/// Write a database as Redis commands.
///
/// Reads a database directory that no server holds: a stopped server's db-path, or a backup
/// (from BGSAVE or `pika_tools backup`; a copy is read, the backup stays untouched). Writes
/// SELECT, then per key SET / HSET / RPUSH / SADD / ZADD (large collections in several
/// commands) and PEXPIREAT for keys with a TTL, to stdout or --output. Loads with
/// `redis-cli --pipe < FILE`.
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The database directory or backup to read.
    #[arg(long, value_name = "DIR")]
    db_path: PathBuf,
    /// Number of logical databases to export.
    #[arg(long, default_value_t = 16)]
    databases: usize,
    /// Write here instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Where generated commands go.
type Emit<'a> = dyn FnMut(&[&[u8]]) -> Result<(), String> + 'a;

/// Elements per generated command for big collections.
const CHUNK: usize = 128;

pub fn run(args: &Args) -> ExitCode {
    match export(args) {
        Ok((keys, commands)) => {
            eprintln!("exported {keys} keys as {commands} commands");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pika_tools export: {e}");
            ExitCode::from(1)
        }
    }
}

fn export(args: &Args) -> Result<(u64, u64), String> {
    // A backup must stay as it is: read a hard-linked copy of it.
    let scratch = std::env::temp_dir().join(format!("pika-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let copy = pika::backup::restore(&args.db_path, &scratch).is_ok();
    let path = if copy {
        scratch.as_path()
    } else {
        args.db_path.as_path()
    };
    let result = Storage::open(path, args.databases, &EngineOptions::default())
        .map_err(|e| e.to_string())
        .and_then(|storage| export_all(&storage, args));
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn export_all(storage: &Storage, args: &Args) -> Result<(u64, u64), String> {
    let sink: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| e.to_string())?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::new(sink);
    let (mut keys, mut commands) = (0u64, 0u64);
    let mut emit = |out: &mut BufWriter<Box<dyn Write>>, a: &[&[u8]]| -> Result<(), String> {
        commands += 1;
        pika::resp::client::write_request(out, a).map_err(|e| e.to_string())
    };
    for db in 0..args.databases {
        let mut cursor = 0;
        let mut selected = false;
        loop {
            let (next, batch) = storage
                .scan(db, cursor, 1000, &Default::default())
                .map_err(|e| e.to_string())?;
            for key in batch {
                let state = storage.load(db, &key).map_err(|e| e.to_string())?;
                let Some(meta) = state.live().cloned() else {
                    continue;
                };
                if !selected {
                    emit(&mut out, &[b"SELECT", db.to_string().as_bytes()])?;
                    selected = true;
                }
                export_key(storage, db, &key, &meta, &mut |a| emit(&mut out, a))?;
                if meta.expire_ms != 0 {
                    let at = meta.expire_ms.to_string();
                    emit(&mut out, &[b"PEXPIREAT", &key, at.as_bytes()])?;
                }
                keys += 1;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok((keys, commands))
}

/// Emits the commands that recreate one key's value.
fn export_key(
    storage: &Storage,
    db: usize,
    key: &[u8],
    meta: &codec::MetaValue,
    emit: &mut Emit<'_>,
) -> Result<(), String> {
    let t = meta.data_type;
    if t == DataType::String {
        let value = storage
            .get_string(db, key)
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        return emit(&[b"SET", key, &value]);
    }
    let Some(c) = storage
        .read_collection(db, key, t)
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    let (cf, verb): (Cf, &[u8]) = match t {
        DataType::Hash => (Cf::Hash, b"HSET"),
        DataType::Set => (Cf::Set, b"SADD"),
        DataType::List => (Cf::List, b"RPUSH"),
        DataType::ZSet => (Cf::ZSet, b"ZADD"),
        _ => return Ok(()),
    };
    let mut cur = storage.elements(cf, &c, false);
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let mut n = 0;
    while let Some((sub, val)) = cur.current() {
        match t {
            DataType::Hash => {
                parts.push(sub.to_vec());
                parts.push(val.to_vec());
            }
            DataType::Set => parts.push(sub.to_vec()),
            DataType::List => parts.push(val.to_vec()),
            _ => {
                let score = codec::decode_score(val).ok_or("unreadable score")?;
                // Shortest text that reads back as the same double (`inf` included).
                parts.push(format!("{score}").into_bytes());
                parts.push(sub.to_vec());
            }
        }
        n += 1;
        if n == CHUNK {
            flush(verb, key, &mut parts, emit)?;
            n = 0;
        }
        cur.advance();
    }
    cur.status().map_err(|e| e.to_string())?;
    flush(verb, key, &mut parts, emit)
}

fn flush(
    verb: &[u8],
    key: &[u8],
    parts: &mut Vec<Vec<u8>>,
    emit: &mut Emit<'_>,
) -> Result<(), String> {
    if parts.is_empty() {
        return Ok(());
    }
    let mut args: Vec<&[u8]> = vec![verb, key];
    args.extend(parts.iter().map(Vec::as_slice));
    emit(&args)?;
    parts.clear();
    Ok(())
}
