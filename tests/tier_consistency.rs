//! Randomized consistency of the hot tier: with a tier so small that it evicts all the time,
//! many clients doing random writes, reads, expiry, renames, moves and flushes never read a
//! stale value.
//!
//! Every client owns a disjoint set of keys, so its model of them is sequential and exact.
//! Expiry is modelled by a deadline window: a write that sets a TTL between sending at `s` and
//! the reply at `r` puts the deadline in `[s + ttl, r + ttl]`; an operation answered before
//! the window (less a margin) sees the key, one sent after it (plus the margin) does not, and
//! in between both outcomes are accepted (a write whose outcome stays ambiguous is followed by
//! a DEL that brings the model back in step). FLUSHDB and FLUSHALL run in phases: all clients
//! stop at a barrier, one flushes, all clear their models and read every key back.
//!
//! Besides its own keys, each client writes a few shared strings that the others read at the
//! same time: a read must return the value of the last write answered before the read was
//! sent, or of a write that overlapped it, never an older one (a stale cache fill after a
//! concurrent write shows up here).
//!
//! A second test runs the same clients against a master and reads on its replica (after WAIT
//! acknowledges the writes before each read), without TTLs: the replica's tier must follow
//! what its master applied.
//!
//! The seed is fixed (`TIER_SEED` overrides it) and printed with any failure.

mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::{error_text, TestServer};

/// Clients, each with its own connections and keys.
const CLIENTS: usize = 8;
/// Keys per client in each of the two databases.
const KEYS: usize = 40;
/// Shared strings per client, written by it and read by the others.
const SHARED: usize = 2;
/// 2 KB writes pipelined after each shared write.
const FILLERS: usize = 24;
/// Phases, each ended by a flush.
const PHASES: usize = 8;
const PHASE: Duration = Duration::from_millis(3000);
/// Slack around an expiry deadline for the server's clock and millisecond rounding.
const MARGIN: Duration = Duration::from_millis(25);
const DEFAULT_SEED: u64 = 0x7133_c0de_5eed_0001;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const NO_SUCH_KEY: &str = "ERR no such key";

use common::SeededRng as Rng;

/// A key's value in the model.
#[derive(Clone, Debug, PartialEq)]
enum Val {
    Str(Vec<u8>),
    Hash(BTreeMap<String, String>),
    List(VecDeque<String>),
    Set(BTreeSet<String>),
    Zset(BTreeMap<String, i64>),
}

/// A live key: its value and, with a TTL, the window its deadline lies in.
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    val: Val,
    deadline: Option<(Instant, Instant)>,
}

type Slot = Option<Entry>;

/// A reply, normalized so unordered collections compare equal.
#[derive(Clone, PartialEq)]
enum R {
    Nil,
    Int(i64),
    Bulk(Vec<u8>),
    Ok,
    Arr(Vec<R>),
    Err(String),
}

impl std::fmt::Debug for R {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            R::Nil => f.write_str("nil"),
            R::Int(n) => write!(f, "{n}"),
            R::Bulk(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            R::Ok => f.write_str("OK"),
            R::Arr(items) => f.debug_list().entries(items).finish(),
            R::Err(e) => write!(f, "-{e}"),
        }
    }
}

fn bulk(s: &str) -> R {
    R::Bulk(s.as_bytes().to_vec())
}

fn from_value(v: redis::Value) -> R {
    match v {
        redis::Value::Nil => R::Nil,
        redis::Value::Int(n) => R::Int(n),
        redis::Value::BulkString(b) => R::Bulk(b),
        redis::Value::Okay => R::Ok,
        redis::Value::SimpleString(s) if s == "OK" => R::Ok,
        redis::Value::SimpleString(s) => R::Bulk(s.into_bytes()),
        redis::Value::Array(items) => R::Arr(items.into_iter().map(from_value).collect()),
        other => R::Err(format!("unexpected reply {other:?}")),
    }
}

/// One operation of a client: on database `db`, over its keys by index.
#[derive(Clone, Debug)]
enum Op {
    Set(usize, Vec<u8>, Option<u64>),
    Get(usize),
    Incr(usize),
    Append(usize, Vec<u8>),
    Del(usize),
    GetDel(usize),
    SetRange(usize, usize, Vec<u8>),
    HSet(usize, String, String),
    HGet(usize, String),
    HGetAll(usize),
    HDel(usize, String),
    RPush(usize, Vec<String>),
    LPop(usize),
    LRange(usize),
    SAdd(usize, String),
    SRem(usize, String),
    SMembers(usize),
    ZAdd(usize, i64, String),
    ZRem(usize, String),
    ZRange(usize),
    Rename(usize, usize),
    /// MOVE to the other database.
    Move(usize),
    Expire(usize, u64),
    PExpire(usize, u64),
    Persist(usize),
    Exists(usize),
}

impl Op {
    /// The keys it touches, as (database offset from the op's own: 0 same, 1 other, key).
    fn keys(&self) -> Vec<(usize, usize)> {
        use Op::*;
        match self {
            Rename(a, b) => vec![(0, *a), (0, *b)],
            Move(k) => vec![(0, *k), (1, *k)],
            Set(k, ..)
            | Get(k)
            | Incr(k)
            | Append(k, _)
            | Del(k)
            | GetDel(k)
            | SetRange(k, ..)
            | HSet(k, ..)
            | HGet(k, _)
            | HGetAll(k)
            | HDel(k, _)
            | RPush(k, _)
            | LPop(k)
            | LRange(k)
            | SAdd(k, _)
            | SRem(k, _)
            | SMembers(k)
            | ZAdd(k, ..)
            | ZRem(k, _)
            | ZRange(k)
            | Expire(k, _)
            | PExpire(k, _)
            | Persist(k)
            | Exists(k) => vec![(0, *k)],
        }
    }

    fn args(&self, name: &dyn Fn(usize) -> String, db: usize) -> Vec<Vec<u8>> {
        use Op::*;
        let s = |x: &str| x.as_bytes().to_vec();
        match self {
            Set(k, v, px) => {
                let mut a = vec![s("SET"), s(&name(*k)), v.clone()];
                if let Some(ms) = px {
                    a.extend([s("PX"), s(&ms.to_string())]);
                }
                a
            }
            Get(k) => vec![s("GET"), s(&name(*k))],
            Incr(k) => vec![s("INCR"), s(&name(*k))],
            Append(k, v) => vec![s("APPEND"), s(&name(*k)), v.clone()],
            Del(k) => vec![s("DEL"), s(&name(*k))],
            GetDel(k) => vec![s("GETDEL"), s(&name(*k))],
            SetRange(k, off, v) => {
                vec![s("SETRANGE"), s(&name(*k)), s(&off.to_string()), v.clone()]
            }
            HSet(k, f, v) => vec![s("HSET"), s(&name(*k)), s(f), s(v)],
            HGet(k, f) => vec![s("HGET"), s(&name(*k)), s(f)],
            HGetAll(k) => vec![s("HGETALL"), s(&name(*k))],
            HDel(k, f) => vec![s("HDEL"), s(&name(*k)), s(f)],
            RPush(k, vs) => {
                let mut a = vec![s("RPUSH"), s(&name(*k))];
                a.extend(vs.iter().map(|v| s(v)));
                a
            }
            LPop(k) => vec![s("LPOP"), s(&name(*k))],
            LRange(k) => vec![s("LRANGE"), s(&name(*k)), s("0"), s("-1")],
            SAdd(k, m) => vec![s("SADD"), s(&name(*k)), s(m)],
            SRem(k, m) => vec![s("SREM"), s(&name(*k)), s(m)],
            SMembers(k) => vec![s("SMEMBERS"), s(&name(*k))],
            ZAdd(k, score, m) => vec![s("ZADD"), s(&name(*k)), s(&score.to_string()), s(m)],
            ZRem(k, m) => vec![s("ZREM"), s(&name(*k)), s(m)],
            ZRange(k) => vec![s("ZRANGE"), s(&name(*k)), s("0"), s("-1"), s("WITHSCORES")],
            Rename(a, b) => vec![s("RENAME"), s(&name(*a)), s(&name(*b))],
            Move(k) => vec![s("MOVE"), s(&name(*k)), s(&(1 - db).to_string())],
            Expire(k, secs) => vec![s("EXPIRE"), s(&name(*k)), s(&secs.to_string())],
            PExpire(k, ms) => vec![s("PEXPIRE"), s(&name(*k)), s(&ms.to_string())],
            Persist(k) => vec![s("PERSIST"), s(&name(*k))],
            Exists(k) => vec![s("EXISTS"), s(&name(*k))],
        }
    }

    /// Whether it only reads (so a replica can answer it).
    fn reads_only(&self) -> bool {
        use Op::*;
        matches!(
            self,
            Get(_) | HGet(..) | HGetAll(_) | LRange(_) | SMembers(_) | ZRange(_) | Exists(_)
        )
    }

    /// Sorts what the server may return in any order.
    fn normalize(&self, r: R) -> R {
        match (self, r) {
            (Op::SMembers(_), R::Arr(mut items)) => {
                items.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
                R::Arr(items)
            }
            (Op::HGetAll(_), R::Arr(items)) => {
                let mut pairs: Vec<(R, R)> = items
                    .chunks(2)
                    .map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or(R::Nil)))
                    .collect();
                pairs.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
                R::Arr(pairs.into_iter().flat_map(|(f, v)| [f, v]).collect())
            }
            (_, r) => r,
        }
    }
}

fn sorted_bulks<'a>(items: impl Iterator<Item = &'a String>) -> R {
    let mut v: Vec<R> = items.map(|s| bulk(s)).collect();
    v.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    R::Arr(v)
}

/// Redis' string2ll: canonical decimal only.
fn strict_int(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?;
    let n: i64 = s.parse().ok()?;
    (n.to_string() == s).then_some(n)
}

/// What `op` answers and does to `slots` (its keys' states, in `Op::keys` order), sent at
/// `sent` and answered at `answered`.
fn apply(op: &Op, slots: &mut [Slot], sent: Instant, answered: Instant) -> R {
    use Op::*;
    let window = |ms: u64| {
        let d = Duration::from_millis(ms);
        Some((sent + d, answered + d))
    };
    let new = |val: Val| {
        Some(Entry {
            val,
            deadline: None,
        })
    };
    let slot = &mut slots[0];
    match op {
        Set(_, v, px) => {
            *slot = Some(Entry {
                val: Val::Str(v.clone()),
                deadline: px.and_then(window),
            });
            R::Ok
        }
        Get(_) => match slot {
            None => R::Nil,
            Some(Entry {
                val: Val::Str(v), ..
            }) => R::Bulk(v.clone()),
            Some(_) => R::Err(WRONGTYPE.into()),
        },
        Incr(_) => match slot {
            None => {
                *slot = new(Val::Str(b"1".to_vec()));
                R::Int(1)
            }
            Some(Entry {
                val: Val::Str(v), ..
            }) => match strict_int(v) {
                Some(n) => {
                    *v = (n + 1).to_string().into_bytes();
                    R::Int(n + 1)
                }
                None => R::Err(NOT_INTEGER.into()),
            },
            Some(_) => R::Err(WRONGTYPE.into()),
        },
        Append(_, add) => match slot {
            None => {
                *slot = new(Val::Str(add.clone()));
                R::Int(add.len() as i64)
            }
            Some(Entry {
                val: Val::Str(v), ..
            }) => {
                v.extend_from_slice(add);
                R::Int(v.len() as i64)
            }
            Some(_) => R::Err(WRONGTYPE.into()),
        },
        Del(_) => R::Int(slot.take().is_some() as i64),
        GetDel(_) => match slot {
            None => R::Nil,
            Some(Entry {
                val: Val::Str(v), ..
            }) => {
                let v = v.clone();
                *slot = None;
                R::Bulk(v)
            }
            Some(_) => R::Err(WRONGTYPE.into()),
        },
        SetRange(_, off, add) => {
            let write = |v: &mut Vec<u8>| {
                if v.len() < off + add.len() {
                    v.resize(off + add.len(), 0);
                }
                v[*off..off + add.len()].copy_from_slice(add);
                R::Int(v.len() as i64)
            };
            match slot {
                None => {
                    let mut v = Vec::new();
                    let r = write(&mut v);
                    *slot = new(Val::Str(v));
                    r
                }
                Some(Entry {
                    val: Val::Str(v), ..
                }) => write(v),
                Some(_) => R::Err(WRONGTYPE.into()),
            }
        }
        HSet(_, f, v) => {
            if slot.is_none() {
                *slot = new(Val::Hash(BTreeMap::new()));
            }
            match slot {
                Some(Entry {
                    val: Val::Hash(h), ..
                }) => R::Int(h.insert(f.clone(), v.clone()).is_none() as i64),
                _ => R::Err(WRONGTYPE.into()),
            }
        }
        HGet(_, f) => match slot {
            None => R::Nil,
            Some(Entry {
                val: Val::Hash(h), ..
            }) => h.get(f).map_or(R::Nil, |v| bulk(v)),
            Some(_) => R::Err(WRONGTYPE.into()),
        },
        HGetAll(_) => match slot {
            None => R::Arr(vec![]),
            Some(Entry {
                val: Val::Hash(h), ..
            }) => R::Arr(h.iter().flat_map(|(f, v)| [bulk(f), bulk(v)]).collect()),
            Some(_) => R::Err(WRONGTYPE.into()),
        },
        HDel(_, f) => match slot {
            None => R::Int(0),
            Some(Entry {
                val: Val::Hash(h), ..
            }) => {
                let gone = h.remove(f).is_some();
                if h.is_empty() {
                    *slot = None;
                }
                R::Int(gone as i64)
            }
            Some(_) => R::Err(WRONGTYPE.into()),
        },
        RPush(_, vs) => {
            if slot.is_none() {
                *slot = new(Val::List(VecDeque::new()));
            }
            match slot {
                Some(Entry {
                    val: Val::List(l), ..
                }) => {
                    l.extend(vs.iter().cloned());
                    R::Int(l.len() as i64)
                }
                _ => R::Err(WRONGTYPE.into()),
            }
        }
        LPop(_) => match slot {
            None => R::Nil,
            Some(Entry {
                val: Val::List(l), ..
            }) => {
                let v = l.pop_front().map_or(R::Nil, |v| bulk(&v));
                if l.is_empty() {
                    *slot = None;
                }
                v
            }
            Some(_) => R::Err(WRONGTYPE.into()),
        },
        LRange(_) => match slot {
            None => R::Arr(vec![]),
            Some(Entry {
                val: Val::List(l), ..
            }) => R::Arr(l.iter().map(|v| bulk(v)).collect()),
            Some(_) => R::Err(WRONGTYPE.into()),
        },
        SAdd(_, m) => {
            if slot.is_none() {
                *slot = new(Val::Set(BTreeSet::new()));
            }
            match slot {
                Some(Entry {
                    val: Val::Set(s), ..
                }) => R::Int(s.insert(m.clone()) as i64),
                _ => R::Err(WRONGTYPE.into()),
            }
        }
        SRem(_, m) => match slot {
            None => R::Int(0),
            Some(Entry {
                val: Val::Set(s), ..
            }) => {
                let gone = s.remove(m);
                if s.is_empty() {
                    *slot = None;
                }
                R::Int(gone as i64)
            }
            Some(_) => R::Err(WRONGTYPE.into()),
        },
        SMembers(_) => match slot {
            None => R::Arr(vec![]),
            Some(Entry {
                val: Val::Set(s), ..
            }) => sorted_bulks(s.iter()),
            Some(_) => R::Err(WRONGTYPE.into()),
        },
        ZAdd(_, score, m) => {
            if slot.is_none() {
                *slot = new(Val::Zset(BTreeMap::new()));
            }
            match slot {
                Some(Entry {
                    val: Val::Zset(z), ..
                }) => R::Int(z.insert(m.clone(), *score).is_none() as i64),
                _ => R::Err(WRONGTYPE.into()),
            }
        }
        ZRem(_, m) => match slot {
            None => R::Int(0),
            Some(Entry {
                val: Val::Zset(z), ..
            }) => {
                let gone = z.remove(m).is_some();
                if z.is_empty() {
                    *slot = None;
                }
                R::Int(gone as i64)
            }
            Some(_) => R::Err(WRONGTYPE.into()),
        },
        ZRange(_) => match slot {
            None => R::Arr(vec![]),
            Some(Entry {
                val: Val::Zset(z), ..
            }) => {
                let mut by_score: Vec<(&i64, &String)> = z.iter().map(|(m, s)| (s, m)).collect();
                by_score.sort();
                R::Arr(
                    by_score
                        .into_iter()
                        .flat_map(|(s, m)| [bulk(m), bulk(&s.to_string())])
                        .collect(),
                )
            }
            Some(_) => R::Err(WRONGTYPE.into()),
        },
        Rename(..) => match slots[0].take() {
            None => R::Err(NO_SUCH_KEY.into()),
            Some(e) => {
                slots[1] = Some(e);
                R::Ok
            }
        },
        Move(_) => {
            if slots[0].is_none() || slots[1].is_some() {
                R::Int(0)
            } else {
                slots[1] = slots[0].take();
                R::Int(1)
            }
        }
        Expire(_, secs) => match slot {
            None => R::Int(0),
            Some(e) => {
                e.deadline = window(secs * 1000);
                R::Int(1)
            }
        },
        PExpire(_, ms) => match slot {
            None => R::Int(0),
            Some(e) => {
                e.deadline = window(*ms);
                R::Int(1)
            }
        },
        Persist(_) => match slot {
            Some(e) if e.deadline.is_some() => {
                e.deadline = None;
                R::Int(1)
            }
            _ => R::Int(0),
        },
        Exists(_) => R::Int(slot.is_some() as i64),
    }
}

/// One write of a shared string: the version it stored (`None`: deleted), when it was sent
/// and when it was answered.
struct Write {
    version: Option<u64>,
    sent: Instant,
    done: Option<Instant>,
}

/// The writes of every shared string, oldest first (the last 64 kept).
struct Shared {
    history: Vec<Mutex<VecDeque<Write>>>,
}

impl Shared {
    fn new() -> Shared {
        Shared {
            history: (0..CLIENTS * SHARED)
                .map(|_| Mutex::new(VecDeque::new()))
                .collect(),
        }
    }

    fn key(i: usize) -> String {
        format!("s{}:{}", i / SHARED, i % SHARED)
    }

    fn log(&self, i: usize) -> std::sync::MutexGuard<'_, VecDeque<Write>> {
        self.history[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After a flush: every shared string is gone.
    fn cleared(&self, at: Instant) {
        for i in 0..self.history.len() {
            let mut log = self.log(i);
            log.clear();
            log.push_back(Write {
                version: None,
                sent: at,
                done: Some(at),
            });
        }
    }

    /// The versions a read sent at `sent` and answered at `answered` may return.
    fn allowed(&self, i: usize, sent: Instant, answered: Instant) -> Vec<Option<u64>> {
        let log = self.log(i);
        let last_done = log.iter().rposition(|w| w.done.is_some_and(|d| d < sent));
        let mut versions: Vec<Option<u64>> = match last_done {
            Some(_) => vec![],
            None => vec![None],
        };
        versions.extend(
            log.iter()
                .skip(last_done.unwrap_or(0))
                .filter(|w| w.sent < answered)
                .map(|w| w.version),
        );
        versions
    }
}

/// One client: its connections (one per database), its model, its random stream.
struct Client {
    id: usize,
    seed: u64,
    rng: Rng,
    conns: [redis::Connection; 2],
    model: [Vec<Slot>; 2],
    ops: u64,
    ambiguous: u64,
    shared: Arc<Shared>,
    /// With a replica: connections to it (by database), where reads go once the writes
    /// before them are acknowledged by it (WAIT); no TTLs and no shared strings then.
    replica: Option<[redis::Connection; 2]>,
    /// A write was sent since the last WAIT.
    unsynced: bool,
    /// Versions of this client's shared writes.
    version: u64,
    /// Recent operations, for the failure report.
    recent: VecDeque<String>,
}

impl Client {
    fn name(&self, k: usize) -> String {
        format!("c{}:k{}", self.id, k)
    }

    fn send(&mut self, db: usize, args: &[Vec<u8>]) -> R {
        let mut c = redis::cmd(std::str::from_utf8(&args[0]).unwrap_or("?"));
        for a in &args[1..] {
            c.arg(&a[..]);
        }
        match c.query::<redis::Value>(&mut self.conns[db]) {
            Ok(v) => from_value(v),
            Err(e) if common::is_transport(&e) => self.fail(&format!("link failed: {e}")),
            Err(e) => R::Err(error_text(&e)),
        }
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "client {} (seed {:#x}, TIER_SEED to rerun), after {} operations: {what}\nrecent:\n{}",
            self.id,
            self.seed,
            self.ops,
            self.recent.iter().cloned().collect::<Vec<_>>().join("\n")
        )
    }

    /// Runs `op` on database `db` and checks its reply against every outcome the model allows.
    fn run(&mut self, db: usize, op: Op) {
        let keys: Vec<(usize, usize)> = op
            .keys()
            .into_iter()
            .map(|(rel, k)| ((db + rel) % 2, k))
            .collect();
        let id = self.id;
        let args = op.args(&|k| format!("c{id}:k{k}"), db);
        let sent = Instant::now();
        // A key whose deadline passed before sending is gone for good.
        for &(d, k) in &keys {
            if let Some((_, hi)) = self.model[d][k].as_ref().and_then(|e| e.deadline) {
                if sent > hi + MARGIN {
                    self.model[d][k] = None;
                }
            }
        }
        let reply = if op.reads_only() && self.replica.is_some() {
            self.sync_replica();
            self.send_replica(db, &args)
        } else {
            self.unsynced = true;
            self.send(db, &args)
        };
        let answered = Instant::now();
        let reply = op.normalize(reply);
        self.ops += 1;
        self.note(format!(
            "db{db} {} -> {reply:?}",
            args.iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        ));
        // Keys that may or may not have expired while the command ran.
        let before: Vec<Slot> = keys
            .iter()
            .map(|&(d, k)| self.model[d][k].clone())
            .collect();
        let unsure: Vec<usize> = (0..keys.len())
            .filter(|&i| {
                before[i]
                    .as_ref()
                    .and_then(|e| e.deadline)
                    .is_some_and(|(lo, _)| answered + MARGIN >= lo)
            })
            .collect();
        let mut outcomes = Vec::new();
        let mut seen = Vec::new();
        for mask in 0..(1usize << unsure.len()) {
            let mut slots = before.clone();
            for (bit, &i) in unsure.iter().enumerate() {
                if mask & (1 << bit) != 0 {
                    slots[i] = None;
                }
            }
            let expected = op.normalize(apply(&op, &mut slots, sent, answered));
            if expected == reply {
                outcomes.push(slots);
            }
            seen.push(expected);
        }
        let Some(first) = outcomes.first().cloned() else {
            self.fail(&format!(
                "{} answered {reply:?}; the model allows {seen:?}",
                args.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        };
        if outcomes.iter().all(|o| *o == first) {
            for (&(d, k), slot) in keys.iter().zip(first) {
                self.model[d][k] = slot;
            }
        } else {
            // The reply does not tell which keys had expired: delete them to know again.
            self.ambiguous += 1;
            for &(d, k) in &keys {
                let name = self.name(k);
                self.send(d, &[b"DEL".to_vec(), name.into_bytes()]);
                self.model[d][k] = None;
            }
        }
    }

    /// Waits until the replica applied every write so far.
    fn sync_replica(&mut self) {
        if !self.unsynced {
            return;
        }
        let r = self.send(0, &[b"WAIT".to_vec(), b"1".to_vec(), b"10000".to_vec()]);
        if r != R::Int(1) {
            self.fail(&format!("WAIT 1 10000 answered {r:?}"));
        }
        self.unsynced = false;
    }

    fn send_replica(&mut self, db: usize, args: &[Vec<u8>]) -> R {
        let mut c = redis::cmd(std::str::from_utf8(&args[0]).unwrap_or("?"));
        for a in &args[1..] {
            c.arg(&a[..]);
        }
        let Some(conns) = self.replica.as_mut() else {
            return R::Err("no replica".into());
        };
        match c.query::<redis::Value>(&mut conns[db]) {
            Ok(v) => from_value(v),
            Err(e) if common::is_transport(&e) => self.fail(&format!("replica link failed: {e}")),
            Err(e) => R::Err(error_text(&e)),
        }
    }

    fn note(&mut self, line: String) {
        if self.recent.len() == 24 {
            self.recent.pop_front();
        }
        self.recent.push_back(line);
    }

    /// Writes one of this client's shared strings (SET of a new version, or DEL).
    fn write_shared(&mut self) {
        let i = self.id * SHARED + self.rng.below(SHARED);
        let key = Shared::key(i).into_bytes();
        let version = if self.rng.chance(10) {
            None
        } else {
            self.version += 1;
            Some(self.version)
        };
        let args = match version {
            Some(v) => {
                let pad = "p".repeat(self.rng.below(300));
                vec![b"SET".to_vec(), key, format!("v{v}:{pad}").into_bytes()]
            }
            None => vec![b"DEL".to_vec(), key],
        };
        let sent = Instant::now();
        self.shared.log(i).push_back(Write {
            version,
            sent,
            done: None,
        });
        // Large writes of filler keys follow in the same pipeline, so the write lands in a
        // round with them and they evict it from the tier while the round is still pending:
        // a reader missing it then must not put the older value back.
        let mut pipe = redis::pipe();
        let mut cmd = redis::cmd(std::str::from_utf8(&args[0]).unwrap_or("?"));
        for a in &args[1..] {
            cmd.arg(&a[..]);
        }
        pipe.add_command(cmd);
        let filler = vec![b'f'; 2048];
        for j in 0..FILLERS {
            pipe.cmd("SET")
                .arg(format!("f{}:{j}", self.id))
                .arg(&filler[..])
                .ignore();
        }
        let reply = match pipe.query::<Vec<redis::Value>>(&mut self.conns[0]) {
            Ok(mut v) if v.len() == 1 => from_value(v.remove(0)),
            Ok(v) => self.fail(&format!("shared write pipeline answered {v:?}")),
            Err(e) => R::Err(error_text(&e)),
        };
        let answered = Instant::now();
        {
            let mut log = self.shared.log(i);
            if let Some(w) = log.back_mut() {
                w.done = Some(answered);
            }
            while log.len() > 64 {
                log.pop_front();
            }
        }
        self.ops += 1;
        self.note(format!(
            "shared {} {version:?} -> {reply:?}",
            Shared::key(i)
        ));
        if matches!(reply, R::Err(_)) {
            self.fail(&format!("shared write answered {reply:?}"));
        }
    }

    /// Reads another client's shared string and checks it is not older than it may be.
    fn read_shared(&mut self) {
        let i = self.rng.below(CLIENTS * SHARED);
        let key = Shared::key(i);
        let sent = Instant::now();
        let reply = self.send(0, &[b"GET".to_vec(), key.clone().into_bytes()]);
        let answered = Instant::now();
        self.ops += 1;
        let version = match &reply {
            R::Nil => None,
            R::Bulk(b) => {
                let text = String::from_utf8_lossy(b);
                let v = text
                    .strip_prefix('v')
                    .and_then(|t| t.split(':').next())
                    .and_then(|n| n.parse::<u64>().ok());
                match v {
                    Some(v) => Some(v),
                    None => self.fail(&format!("GET {key} answered {reply:?}")),
                }
            }
            _ => self.fail(&format!("GET {key} answered {reply:?}")),
        };
        self.note(format!("shared GET {key} -> {version:?}"));
        let allowed = self.shared.allowed(i, sent, answered);
        if !allowed.contains(&version) {
            self.fail(&format!(
                "GET {key} answered version {version:?}; the writes allow {allowed:?} (stale read)"
            ));
        }
    }

    fn random_op(&mut self) -> Op {
        let op = self.any_op();
        if self.replica.is_none() {
            return op;
        }
        // A replica leaves expiry to its master: no deadlines in this variant.
        match op {
            Op::Set(k, v, Some(_)) => Op::Set(k, v, None),
            Op::Expire(k, _) | Op::PExpire(k, _) => Op::Persist(k),
            op => op,
        }
    }

    fn any_op(&mut self) -> Op {
        let r = &mut self.rng;
        let k = r.below(KEYS);
        // Each key leans to one type, so most operations find the type they expect, and
        // some find another (WRONGTYPE).
        let kind = if r.chance(85) { k % 5 } else { r.below(6) };
        let ttl_ms = 20 + r.below(400) as u64;
        match (kind, r.below(8)) {
            (_, 0) if r.chance(50) => match r.below(6) {
                0 => Op::Rename(k, (k + 1 + r.below(KEYS - 1)) % KEYS),
                1 => Op::Move(k),
                2 => Op::PExpire(k, ttl_ms),
                3 => Op::Expire(k, 1),
                4 => Op::Persist(k),
                _ => Op::Exists(k),
            },
            (0, 0) => Op::Del(k),
            (0, 1) => {
                let v = if r.chance(30) {
                    r.below(1000).to_string().into_bytes()
                } else {
                    r.text(600).into_bytes()
                };
                let px = r.chance(25).then_some(ttl_ms);
                Op::Set(k, v, px)
            }
            (0, 2) => Op::Incr(k),
            (0, 3) => Op::Append(k, r.text(40).into_bytes()),
            (0, 4) => Op::GetDel(k),
            (0, 5) => Op::SetRange(k, r.below(50), r.text(20).into_bytes()),
            (0, _) => Op::Get(k),
            (1, 0..=2) => Op::HSet(k, format!("f{}", r.below(8)), r.text(80)),
            (1, 3) => Op::HDel(k, format!("f{}", r.below(8))),
            (1, 4 | 5) => Op::HGet(k, format!("f{}", r.below(8))),
            (1, _) => Op::HGetAll(k),
            (2, 0..=2) => {
                let n = 1 + r.below(3);
                Op::RPush(k, (0..n).map(|_| r.text(60)).collect())
            }
            (2, 3 | 4) => Op::LPop(k),
            (2, _) => Op::LRange(k),
            (3, 0..=2) => Op::SAdd(k, format!("m{}", r.below(12))),
            (3, 3) => Op::SRem(k, format!("m{}", r.below(12))),
            (3, _) => Op::SMembers(k),
            (4, 0..=2) => Op::ZAdd(k, r.below(20) as i64 - 5, format!("z{}", r.below(10))),
            (4, 3) => Op::ZRem(k, format!("z{}", r.below(10))),
            (4, _) => Op::ZRange(k),
            _ => Op::Exists(k),
        }
    }

    /// Reads every key of both databases back through the type's full read.
    fn sweep(&mut self) {
        for db in 0..2 {
            for k in 0..KEYS {
                let op = match self.model[db][k].as_ref().map(|e| &e.val) {
                    None => Op::Exists(k),
                    Some(Val::Str(_)) => Op::Get(k),
                    Some(Val::Hash(_)) => Op::HGetAll(k),
                    Some(Val::List(_)) => Op::LRange(k),
                    Some(Val::Set(_)) => Op::SMembers(k),
                    Some(Val::Zset(_)) => Op::ZRange(k),
                };
                self.run(db, op);
            }
        }
    }
}

/// A barrier that lets everyone go when a client fails, instead of leaving the others
/// waiting for it forever.
struct Gate {
    /// (clients arrived in this round, round number).
    state: Mutex<(usize, u64)>,
    cv: Condvar,
    failed: AtomicBool,
}

impl Gate {
    fn new() -> Gate {
        Gate {
            state: Mutex::new((0, 0)),
            cv: Condvar::new(),
            failed: AtomicBool::new(false),
        }
    }

    /// Waits for every client; false when one failed.
    fn wait(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let round = state.1;
        state.0 += 1;
        if state.0 == CLIENTS {
            *state = (0, round + 1);
            self.cv.notify_all();
        }
        while state.1 == round && !self.failed.load(Ordering::SeqCst) {
            state = self
                .cv
                .wait_timeout(state, Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        !self.failed.load(Ordering::SeqCst)
    }

    fn fail(&self) {
        self.failed.store(true, Ordering::SeqCst);
        self.cv.notify_all();
    }
}

fn connect(server: &TestServer, db: usize) -> redis::Connection {
    let mut c = server.conn();
    let _: () = redis::cmd("SELECT").arg(db).query(&mut c).unwrap();
    c
}

/// Runs the clients against `server` and returns (operations, ambiguous outcomes resolved).
fn run_clients(server: &TestServer, replica: Option<&TestServer>, seed: u64) -> (u64, u64) {
    let gate = Arc::new(Gate::new());
    let shared = Arc::new(Shared::new());
    shared.cleared(Instant::now());
    let handles: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let conns = [connect(server, 0), connect(server, 1)];
            let replica = replica.map(|r| [connect(r, 0), connect(r, 1)]);
            let gate = Arc::clone(&gate);
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                // A failing client releases the others, which then stop.
                struct Release(Arc<Gate>);
                impl Drop for Release {
                    fn drop(&mut self) {
                        if std::thread::panicking() {
                            self.0.fail();
                        }
                    }
                }
                let _release = Release(Arc::clone(&gate));
                let mut c = Client {
                    id,
                    seed,
                    rng: Rng(seed ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(id as u64 + 1)) | 1),
                    conns,
                    model: [vec![None; KEYS], vec![None; KEYS]],
                    ops: 0,
                    ambiguous: 0,
                    shared,
                    unsynced: replica.is_some(),
                    replica,
                    version: 0,
                    recent: VecDeque::new(),
                };
                for phase in 0..PHASES {
                    let end = Instant::now() + PHASE;
                    while Instant::now() < end && !gate.failed.load(Ordering::SeqCst) {
                        match c.rng.below(100) {
                            0..=5 if c.replica.is_none() => c.write_shared(),
                            6..=14 if c.replica.is_none() => c.read_shared(),
                            n => {
                                let db = if n < 84 { 0 } else { 1 };
                                let op = c.random_op();
                                c.run(db, op);
                            }
                        }
                    }
                    c.sweep();
                    if !gate.wait() {
                        break;
                    }
                    // FLUSHDB of one database, then the other, then FLUSHALL.
                    let cleared: &[usize] = match phase % 3 {
                        0 => &[0],
                        1 => &[1],
                        _ => &[0, 1],
                    };
                    if id == 0 {
                        let r = if cleared.len() == 2 {
                            c.send(0, &[b"FLUSHALL".to_vec()])
                        } else {
                            c.send(cleared[0], &[b"FLUSHDB".to_vec()])
                        };
                        if r != R::Ok {
                            c.fail(&format!("flush answered {r:?}"));
                        }
                        if cleared.contains(&0) {
                            c.shared.cleared(Instant::now());
                        }
                        c.unsynced = true;
                        if c.replica.is_some() {
                            c.sync_replica();
                        }
                    }
                    if !gate.wait() {
                        break;
                    }
                    for &db in cleared {
                        c.model[db].iter_mut().for_each(|s| *s = None);
                    }
                    c.sweep();
                }
                (c.ops, c.ambiguous)
            })
        })
        .collect();
    let mut failure = None;
    let mut totals = (0, 0);
    for h in handles {
        match h.join() {
            Ok((ops, ambiguous)) => {
                totals.0 += ops;
                totals.1 += ambiguous;
            }
            Err(e) => failure = Some(e),
        }
    }
    if let Some(e) = failure {
        std::panic::resume_unwind(e);
    }
    totals
}

fn seed() -> u64 {
    std::env::var("TIER_SEED")
        .ok()
        .and_then(|s| {
            let s = s.trim_start_matches("0x");
            u64::from_str_radix(s, 16).ok()
        })
        .unwrap_or(DEFAULT_SEED)
}

#[test]
fn tiny_tier_never_serves_a_stale_value() {
    let seed = seed();
    let server = TestServer::start_with(&[
        "--cache-maxmemory",
        "64kb",
        // Several network threads and workers, so reads and writes of a key race.
        "--thread-num",
        "3",
        "--thread-pool-size",
        "4",
    ]);
    let started = Instant::now();
    let (ops, ambiguous) = run_clients(&server, None, seed);
    let mut c = server.conn();
    let cached = common::info_field(&mut c, "memory", "cache_memory");
    println!(
        "seed {seed:#x}: {ops} operations by {CLIENTS} clients in {:.1}s, no stale read \
         ({ambiguous} expiry races resolved by DEL; tier holds {cached} bytes)",
        started.elapsed().as_secs_f64()
    );
    assert!(ops > 10_000, "only {ops} operations ran");
}

#[test]
fn replica_tier_follows_its_master() {
    let seed = seed();
    let tiny = [
        "--cache-maxmemory",
        "64kb",
        "--thread-num",
        "2",
        "--thread-pool-size",
        "2",
    ];
    let master = TestServer::start_with(&tiny);
    let replica = TestServer::slave_of(&master, &tiny);
    // The replica may restart to install its first snapshot: it refuses connections a moment.
    common::wait_until("the replica is linked", || {
        let linked = redis::Client::open(replica.url())
            .and_then(|c| c.get_connection())
            .and_then(|mut c| {
                redis::cmd("INFO")
                    .arg("replication")
                    .query::<String>(&mut c)
            })
            .is_ok_and(|t| t.contains("master_link_status:up"));
        let mut m = master.conn();
        linked && redis::cmd("WAIT").arg(1).arg(1000).query::<i64>(&mut m) == Ok(1)
    });
    let started = Instant::now();
    let (ops, _) = run_clients(&master, Some(&replica), seed);
    println!(
        "seed {seed:#x}: {ops} operations on a master, reads on its replica after WAIT, in \
         {:.1}s, no stale read",
        started.elapsed().as_secs_f64()
    );
    assert!(ops > 2_000, "only {ops} operations ran");
}
