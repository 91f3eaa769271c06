//! A dataset as plain values: one `Record` per key, whatever it was read from (a server, a
//! database directory, a backup, an RDB file or a DUMP payload) and whatever it is written to.

pub mod stream;
mod stream_replay;

use stream::StreamValue;

/// One key with its value and deadline.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Logical database index (SELECT number).
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    /// Absolute deadline in Unix milliseconds; `None` for a key without a TTL.
    pub expire_at_ms: Option<i64>,
}

/// A key's value. Lists keep their order; the other collections are compared as sets.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
    /// Boxed: a stream carries its groups and counters, far larger than the other variants.
    Stream(Box<StreamValue>),
}

use crate::util::redis_digest::{type_code, ValueDigest};

/// Where generated commands go.
pub type Emit<'a> = dyn FnMut(&[&[u8]]) -> Result<(), String> + 'a;

/// Elements per generated command, so a big collection never makes one huge command.
const CHUNK: usize = 128;

impl Value {
    /// Redis' name of the type (TYPE's answer).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The value as a copy made with commands can reproduce it, for comparing two datasets:
    /// normalized, and without the stream consumers' seen and active times (no command sets
    /// them; a replay makes them the time of the replay).
    pub fn comparable(self) -> Value {
        match self.normalized() {
            Value::Stream(mut s) => {
                for c in s.groups.iter_mut().flat_map(|g| g.consumers.iter_mut()) {
                    c.seen_time_ms = 0;
                    c.active_time_ms = None;
                }
                Value::Stream(s)
            }
            v => v,
        }
    }

    /// The same value with unordered collections sorted, so equal contents compare equal.
    pub fn normalized(mut self) -> Value {
        match &mut self {
            Value::Hash(v) => v.sort(),
            Value::Set(v) => v.sort(),
            Value::ZSet(v) => v.sort_by(|a, b| a.0.cmp(&b.0)),
            Value::Stream(s) => **s = std::mem::take(&mut **s).normalized(),
            Value::String(_) | Value::List(_) => {}
        }
        self
    }
}

impl Record {
    /// The Redis commands that recreate this key (in its database), TTL last.
    pub fn commands(&self, emit: &mut Emit<'_>) -> Result<(), String> {
        let key = self.key.as_slice();
        match &self.value {
            Value::String(v) => emit(&[b"SET", key, v])?,
            Value::List(items) => chunked(b"RPUSH", key, items, |x, out| out.push(x), emit)?,
            Value::Set(items) => chunked(b"SADD", key, items, |x, out| out.push(x), emit)?,
            Value::Hash(pairs) => chunked(
                b"HSET",
                key,
                pairs,
                |(f, v), out| {
                    out.push(f);
                    out.push(v);
                },
                emit,
            )?,
            Value::ZSet(pairs) => {
                let scores: Vec<(Vec<u8>, &[u8])> = pairs
                    .iter()
                    .map(|(m, s)| (format_score(*s).into_bytes(), m.as_slice()))
                    .collect();
                chunked(
                    b"ZADD",
                    key,
                    &scores,
                    |(s, m), out| {
                        out.push(s);
                        out.push(m);
                    },
                    emit,
                )?
            }
            Value::Stream(s) => s.commands(key, emit)?,
        }
        if let Some(at) = self.expire_at_ms {
            emit(&[b"PEXPIREAT", key, at.to_string().as_bytes()])?;
        }
        Ok(())
    }

    /// This key's share of DEBUG DIGEST (Redis' algorithm).
    pub fn digest(&self) -> crate::util::redis_digest::Digest20 {
        let key = self.key.as_slice();
        let d = match &self.value {
            Value::String(v) => {
                let mut d = ValueDigest::for_key(key, type_code::STRING);
                d.ordered(v);
                d
            }
            Value::List(items) => {
                let mut d = ValueDigest::for_key(key, type_code::LIST);
                items.iter().for_each(|x| d.ordered(x));
                d
            }
            Value::Set(items) => {
                let mut d = ValueDigest::for_key(key, type_code::SET);
                items.iter().for_each(|x| d.member(x));
                d
            }
            Value::Hash(pairs) => {
                let mut d = ValueDigest::for_key(key, type_code::HASH);
                pairs.iter().for_each(|(f, v)| d.field(f, v));
                d
            }
            Value::ZSet(pairs) => {
                let mut d = ValueDigest::for_key(key, type_code::ZSET);
                pairs.iter().for_each(|(m, s)| d.scored(m, *s));
                d
            }
            Value::Stream(s) => {
                let mut d = ValueDigest::for_key(key, type_code::STREAM);
                s.digest_into(&mut d);
                d
            }
        };
        d.finish(self.expire_at_ms.is_some())
    }
}

/// Turns records into a command stream: SELECT when the database changes, then the
/// commands that recreate each key.
#[derive(Default)]
pub struct Replayer {
    selected: Option<usize>,
}

impl Replayer {
    pub fn replay(&mut self, r: &Record, emit: &mut Emit<'_>) -> Result<(), String> {
        if self.selected != Some(r.db) {
            emit(&[b"SELECT", r.db.to_string().as_bytes()])?;
            self.selected = Some(r.db);
        }
        r.commands(emit)
    }
}

/// A score as text that reads back as the same double (`inf` and `-inf` included).
fn format_score(s: f64) -> String {
    format!("{s}")
}

/// Emits `verb key item...` commands of at most `CHUNK` items each.
fn chunked<T>(
    verb: &[u8],
    key: &[u8],
    items: &[T],
    push: impl for<'a> Fn(&'a T, &mut Vec<&'a [u8]>),
    emit: &mut Emit<'_>,
) -> Result<(), String> {
    for chunk in items.chunks(CHUNK) {
        let mut args: Vec<&[u8]> = vec![verb, key];
        for item in chunk {
            push(item, &mut args);
        }
        emit(&args)?;
    }
    Ok(())
}
