//! A running server (pika-rs, Redis, or anything speaking its protocol), read with SCAN and
//! the read commands of each type, pipelined in batches. Streams are read with DUMP and the
//! RDB decoder: one exact reply with the consumer groups, pending entries and counters, which
//! XRANGE and XINFO would need many commands (and a race with writers) to gather.

use redis::{Connection, Value as Reply};

use super::Source;
use pika::dataset::{Record, Value};

/// Keys asked for per SCAN call and per pipelined batch.
const BATCH: usize = 500;

pub struct ServerSource {
    conn: Connection,
    selected: Option<usize>,
}

fn err(e: redis::RedisError) -> String {
    e.to_string()
}

impl ServerSource {
    pub fn connect(addr: &str, password: Option<&str>) -> Result<Self, String> {
        let client =
            redis::Client::open(format!("redis://{addr}/")).map_err(|e| format!("{addr}: {e}"))?;
        let mut conn = client
            .get_connection()
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        if let Some(p) = password {
            redis::cmd("AUTH")
                .arg(p)
                .query::<()>(&mut conn)
                .map_err(|e| format!("{addr}: {e}"))?;
        }
        Ok(ServerSource {
            conn,
            selected: None,
        })
    }

    fn select(&mut self, db: usize) -> Result<(), String> {
        if self.selected != Some(db) {
            redis::cmd("SELECT")
                .arg(db)
                .query::<()>(&mut self.conn)
                .map_err(err)?;
            self.selected = Some(db);
        }
        Ok(())
    }
}

impl Source for ServerSource {
    /// The databases that hold keys, from INFO keyspace.
    fn databases(&mut self) -> Result<Vec<usize>, String> {
        let info: String = redis::cmd("INFO")
            .arg("keyspace")
            .query(&mut self.conn)
            .map_err(err)?;
        let mut dbs: Vec<usize> = info
            .lines()
            .filter_map(|l| l.strip_prefix("db")?.split_once(':')?.0.parse().ok())
            .collect();
        dbs.sort_unstable();
        Ok(dbs)
    }

    fn scan(&mut self, db: usize, cursor: u64) -> Result<(u64, Vec<Vec<u8>>), String> {
        self.select(db)?;
        redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(BATCH)
            .query(&mut self.conn)
            .map_err(err)
    }

    fn get_many(&mut self, db: usize, keys: &[Vec<u8>]) -> Result<Vec<Option<Record>>, String> {
        self.select(db)?;
        let mut out = Vec::with_capacity(keys.len());
        for batch in keys.chunks(BATCH) {
            let mut pipe = redis::pipe();
            for k in batch {
                pipe.cmd("TYPE").arg(k).cmd("PEXPIRETIME").arg(k);
            }
            let meta: Vec<(String, i64)> = pipe.query(&mut self.conn).map_err(err)?;
            let mut pipe = redis::pipe();
            for (k, (t, _)) in batch.iter().zip(&meta) {
                match t.as_str() {
                    "string" => pipe.cmd("GET").arg(k),
                    "list" => pipe.cmd("LRANGE").arg(k).arg(0).arg(-1),
                    "hash" => pipe.cmd("HGETALL").arg(k),
                    "set" => pipe.cmd("SMEMBERS").arg(k),
                    "zset" => pipe.cmd("ZRANGE").arg(k).arg(0).arg(-1).arg("WITHSCORES"),
                    "stream" => pipe.cmd("DUMP").arg(k),
                    // Missing now, or a type the tools do not carry: a cheap placeholder.
                    _ => pipe.cmd("PING"),
                };
            }
            let values: Vec<Reply> = pipe.query(&mut self.conn).map_err(err)?;
            for ((k, (t, at)), v) in batch.iter().zip(meta).zip(values) {
                out.push(to_value(&t, v)?.map(|value| Record {
                    db,
                    key: k.clone(),
                    value,
                    expire_at_ms: (at >= 0).then_some(at),
                }));
            }
        }
        Ok(out)
    }
}

/// Converts a read command's reply into a value (`None`: the key is gone or of another type).
fn to_value(t: &str, reply: Reply) -> Result<Option<Value>, String> {
    let flat = |reply: Reply| -> Result<Vec<Vec<u8>>, String> {
        redis::from_redis_value(reply).map_err(|e| e.to_string())
    };
    let pairs = |items: Vec<Vec<u8>>| -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut it = items.into_iter();
        std::iter::from_fn(|| Some((it.next()?, it.next()?))).collect()
    };
    Ok(match (t, reply) {
        (_, Reply::Nil) => None,
        ("string", r) => Some(Value::String(
            redis::from_redis_value(r).map_err(|e| e.to_string())?,
        )),
        ("list", r) => Some(Value::List(flat(r)?)).filter(non_empty),
        ("set", r) => Some(Value::Set(flat(r)?)).filter(non_empty),
        ("hash", r) => Some(Value::Hash(pairs(flat(r)?))).filter(non_empty),
        ("zset", r) => {
            let mut members = Vec::new();
            for (m, s) in pairs(flat(r)?) {
                let text = String::from_utf8_lossy(&s);
                let score = text
                    .parse::<f64>()
                    .map_err(|_| format!("unreadable score {text:?}"))?;
                members.push((m, score));
            }
            Some(Value::ZSet(members)).filter(non_empty)
        }
        ("stream", r) => {
            let payload: Vec<u8> = redis::from_redis_value(r).map_err(|e| e.to_string())?;
            match pika::rdb::dump::decode(&payload) {
                Ok(v @ Value::Stream(_)) => Some(v),
                // Replaced by a key of another type between TYPE and DUMP.
                Ok(_) => None,
                Err(e) => return Err(format!("unreadable DUMP payload of a stream: {e:?}")),
            }
        }
        _ => None,
    })
}

/// A collection read empty was deleted between TYPE and the read.
fn non_empty(v: &Value) -> bool {
    !matches!(v, Value::List(x) | Value::Set(x) if x.is_empty())
        && !matches!(v, Value::Hash(x) if x.is_empty())
        && !matches!(v, Value::ZSet(x) if x.is_empty())
}
