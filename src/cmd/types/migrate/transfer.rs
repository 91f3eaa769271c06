//! The exchange with the target: what MIGRATE sends and how it reads the answers.
//!
//! 1. One pipeline: AUTH (if asked), SELECT (unless the connection already has the database
//!    selected, or in a cluster), then one `RESTORE key ttl payload [REPLACE]` per key
//!    (`RESTORE-ASKING` in a cluster), each payload in DUMP's format so a real redis-server
//!    takes it. Replies are read as Redis reads them: a key is acknowledged when its RESTORE
//!    answered and neither AUTH nor SELECT failed; the first error is the one reported. Unread
//!    replies are bounded ([`PIPELINE_WINDOW`]), so a target that stops reading while its own
//!    replies wait cannot stall the exchange.
//! 2. Keys too big for one payload (more than `migrate-chunk-elements` elements; lists, sets,
//!    hashes and sorted sets outside a cluster) are built on the target as a temporary key with
//!    ordinary writes, a batch of elements per command read straight from the store
//!    ([`Keyspace::walk_elements`]), so neither side holds the whole value. Then the temporary
//!    key gets the key's TTL (or none) and is renamed over the key: `RENAME` with REPLACE,
//!    otherwise `RENAMENX` after an `EXISTS` check, so a key the target already has answers
//!    BUSYKEY as RESTORE does. The temporary key carries a TTL ([`ORPHAN_TTL_MS`], renewed
//!    with every batch) until that point, so a transfer cut off halfway leaves nothing behind
//!    for long. Streams always take the payload path. In a cluster the rename of a key the
//!    target does not have yet is refused for a slot being imported (TRYAGAIN), so there every
//!    key takes the payload path.

use std::collections::VecDeque;

use bytes::Bytes;

use super::link::{LinkError, TargetLink};
use crate::storage::element_walk::{Element, KeyOutline};
use crate::storage::types::Keyspace;
use crate::storage::{DataType, StorageError};
use crate::util::clock::unix_ms;

/// Most replies left unread while a pipeline is being written.
const PIPELINE_WINDOW: usize = 1024;
/// Most element batches of one key sent ahead of their replies.
const BATCH_WINDOW: usize = 8;
/// The TTL of a temporary key while it is being filled, renewed with every batch.
const ORPHAN_TTL_MS: &[u8] = b"600000";
/// BUSYKEY, as the target's RESTORE words it.
const BUSYKEY: &str = "BUSYKEY Target key name already exists.";

/// How the keys are to be sent.
pub struct Options<'a> {
    /// Destination database.
    pub db: i64,
    pub replace: bool,
    /// AUTH's arguments: an optional user name, then the password.
    pub auth: Option<(Option<&'a [u8]>, &'a [u8])>,
    /// In a cluster: RESTORE-ASKING, no SELECT, and big keys built in place under ASKING.
    pub cluster: bool,
    /// Collections with more elements go in batches of this many.
    pub chunk_elements: u64,
}

/// A key to migrate and what it was when MIGRATE looked.
pub struct Candidate {
    pub key: Bytes,
    pub outline: KeyOutline,
}

/// How an exchange ended.
#[derive(Default)]
pub struct Report {
    /// Keys the target acknowledged, in the order sent: deleted here unless COPY.
    pub acked: Vec<Bytes>,
    /// The first error the target replied with (without its `-`).
    pub target_error: Option<String>,
    /// The connection failed: the exchange stopped there.
    pub link_error: Option<LinkError>,
}

/// Why a walk over a big key's elements stopped early.
enum Stop {
    Storage(StorageError),
    Link(LinkError),
    /// The target refused a batch (the reason is in `Exchange::step_error`).
    Refused,
}

impl From<StorageError> for Stop {
    fn from(e: StorageError) -> Self {
        Stop::Storage(e)
    }
}

impl From<LinkError> for Stop {
    fn from(e: LinkError) -> Self {
        Stop::Link(e)
    }
}

/// What a reply answers, in the order the commands were sent.
enum Expect {
    Auth,
    Select,
    Restore(Bytes),
    /// A step of the batched path: an error fails the key being sent.
    Step,
    /// The ASKING before a step on a cluster's importing node.
    Asking,
}

/// The exchange in progress.
struct Exchange<'l, 'o> {
    link: &'l mut TargetLink,
    opts: &'o Options<'o>,
    pending: VecDeque<Expect>,
    auth_error: Option<String>,
    select_error: Option<String>,
    /// The first error of a step of the big key being sent.
    step_error: Option<String>,
    report: Report,
}

/// Sends `candidates` over `link`. Storage errors (reading the keys here) end it with `Err`;
/// everything the target or the connection did is in the [`Report`].
pub fn run(
    link: &mut TargetLink,
    keys: &Keyspace<'_>,
    candidates: &[Candidate],
    opts: &Options<'_>,
) -> Result<Report, StorageError> {
    let mut ex = Exchange {
        link,
        opts,
        pending: VecDeque::new(),
        auth_error: None,
        select_error: None,
        step_error: None,
        report: Report::default(),
    };
    let (big, small): (Vec<&Candidate>, Vec<&Candidate>) =
        candidates.iter().partition(|c| ex.is_big(c));
    match ex.pipeline(keys, &small) {
        Ok(()) => {}
        Err(Stop::Storage(e)) => return Err(e),
        Err(Stop::Link(e)) => {
            ex.report.link_error = Some(e);
            return Ok(ex.finish());
        }
        Err(Stop::Refused) => {}
    }
    if ex.auth_error.is_none() && ex.select_error.is_none() {
        for c in big {
            match ex.send_in_batches(keys, c) {
                Ok(()) => {}
                Err(Stop::Storage(e)) => return Err(e),
                Err(Stop::Link(e)) => {
                    ex.report.link_error = Some(e);
                    break;
                }
                Err(Stop::Refused) => {}
            }
        }
    }
    Ok(ex.finish())
}

impl Exchange<'_, '_> {
    /// True when `c` goes in batches rather than as one payload.
    fn is_big(&self, c: &Candidate) -> bool {
        c.outline
            .elements
            .is_some_and(|n| n > self.opts.chunk_elements)
    }

    /// The reply as the report keeps it: the first target error wins.
    fn target_error(&mut self, text: String) {
        if self.report.target_error.is_none() {
            self.report.target_error = Some(text);
        }
    }

    fn finish(self) -> Report {
        if self.report.target_error.is_some() || self.report.link_error.is_some() {
            self.link.selected_db = None;
        } else if !self.opts.cluster {
            self.link.selected_db = Some(self.opts.db);
        }
        self.report
    }

    /// Queues a command whose reply `expect` describes.
    fn send(&mut self, args: &[&[u8]], expect: Expect) -> Result<(), LinkError> {
        self.link.send(args)?;
        self.pending.push_back(expect);
        Ok(())
    }

    /// Reads the reply to the oldest command sent.
    fn read_one(&mut self) -> Result<(), LinkError> {
        let Some(expect) = self.pending.pop_front() else {
            return Ok(());
        };
        let reply = self.link.reply()?;
        match (expect, reply) {
            (Expect::Auth, Err(e)) => self.auth_error = Some(e),
            (Expect::Select, Err(e)) => self.select_error = Some(e),
            (Expect::Auth | Expect::Select, Ok(_)) => {}
            (Expect::Restore(key), reply) => {
                let failed = self
                    .auth_error
                    .clone()
                    .or_else(|| self.select_error.clone())
                    .or(reply.err());
                match failed {
                    Some(e) => self.target_error(e),
                    None => self.report.acked.push(key),
                }
            }
            (Expect::Step, Err(e)) => {
                if self.step_error.is_none() {
                    self.step_error = Some(e);
                }
            }
            (Expect::Step, Ok(_)) | (Expect::Asking, _) => {}
        }
        Ok(())
    }

    /// Reads every reply still due.
    fn read_all(&mut self) -> Result<(), LinkError> {
        while !self.pending.is_empty() {
            self.read_one()?;
        }
        Ok(())
    }

    /// Queues a step of the batched path; a cluster's importing node needs ASKING before it.
    fn step(&mut self, args: &[&[u8]]) -> Result<(), LinkError> {
        if self.opts.cluster {
            self.send(&[b"ASKING"], Expect::Asking)?;
        }
        self.send(args, Expect::Step)
    }

    /// Sends and reads one command of the batched path, with nothing else pending.
    fn call(&mut self, args: &[&[u8]]) -> Result<Result<String, String>, LinkError> {
        self.read_all()?;
        if self.opts.cluster {
            self.link.send(&[b"ASKING"])?;
            let _ = self.link.reply()?;
        }
        self.link.send(args)?;
        self.link.reply()
    }

    /// Phase 1: AUTH, SELECT and one RESTORE per small key, then their replies.
    fn pipeline(&mut self, keys: &Keyspace<'_>, small: &[&Candidate]) -> Result<(), Stop> {
        if let Some((user, password)) = self.opts.auth {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            args.extend(user);
            args.push(password);
            self.send(&args, Expect::Auth)?;
        }
        if !self.opts.cluster && self.link.selected_db != Some(self.opts.db) {
            let db = self.opts.db.to_string();
            self.send(&[b"SELECT", db.as_bytes()], Expect::Select)?;
        }
        let restore: &[u8] = if self.opts.cluster {
            b"RESTORE-ASKING"
        } else {
            b"RESTORE"
        };
        for c in small {
            // Read again under the key lock: the value, and its deadline as of now.
            let Some((value, expire_ms)) = keys.value(&c.key)? else {
                continue;
            };
            let Some(ttl) = remaining_ttl(expire_ms) else {
                continue;
            };
            let payload = crate::rdb::dump::encode(&value);
            drop(value);
            let ttl = ttl.to_string();
            let mut args: Vec<&[u8]> = vec![restore, &c.key, ttl.as_bytes(), &payload];
            if self.opts.replace {
                args.push(b"REPLACE");
            }
            self.send(&args, Expect::Restore(c.key.clone()))?;
            if self.pending.len() > PIPELINE_WINDOW {
                self.read_one()?;
            }
        }
        self.read_all()?;
        // With nothing to restore, AUTH's or SELECT's error is still the answer.
        if let Some(e) = self.auth_error.clone().or(self.select_error.clone()) {
            self.target_error(e);
        }
        Ok(())
    }

    /// Phase 2 for one key: batches into a temporary key, its TTL, the rename. In a cluster
    /// the batches build the key itself (a rename there is a multi-key command the importing
    /// node refuses with -TRYAGAIN); no client sees it before the source deletes its own copy,
    /// since until then the source serves the key and sends nobody to the target.
    fn send_in_batches(&mut self, keys: &Keyspace<'_>, c: &Candidate) -> Result<(), Stop> {
        self.step_error = None;
        let key: &[u8] = &c.key;
        if !self.opts.replace {
            match self.call(&[b"EXISTS", key])? {
                Ok(n) if n != "0" => {
                    self.target_error(BUSYKEY.into());
                    return Ok(());
                }
                Ok(_) => {}
                Err(e) => {
                    self.target_error(e);
                    return Ok(());
                }
            }
        }
        let temp = if self.opts.cluster {
            key.to_vec()
        } else {
            temporary_name(key)
        };
        self.step(&[b"DEL", &temp])?;
        let mut batch = Batch::new(c.outline.data_type, &temp, self.opts.chunk_elements);
        let walked = keys.walk_elements(key, |element| {
            batch.push(element);
            if batch.is_full() {
                self.send_batch(&mut batch)?;
            }
            Ok(())
        });
        match walked {
            Ok(_) if self.step_error.is_none() => {}
            Ok(_) | Err(Stop::Refused) => return self.abandon(&temp),
            Err(e) => return Err(e),
        }
        if !batch.is_empty() {
            self.send_batch(&mut batch)?;
        }
        match remaining_ttl(c.outline.expire_ms) {
            Some(0) => self.step(&[b"PERSIST", &temp])?,
            // Expired while it was being sent: it goes with the shortest TTL, as Redis sends it.
            ttl => {
                let ms = ttl.unwrap_or(1).to_string();
                self.step(&[b"PEXPIRE", &temp, ms.as_bytes()])?;
            }
        }
        if self.opts.cluster {
            self.read_all()?;
            if self.step_error.is_some() {
                return self.abandon(&temp);
            }
        } else if self.opts.replace {
            self.send(&[b"RENAME", &temp, key], Expect::Step)?;
            self.read_all()?;
            if self.step_error.is_some() {
                return self.abandon(&temp);
            }
        } else {
            self.read_all()?;
            if self.step_error.is_some() {
                return self.abandon(&temp);
            }
            match self.call(&[b"RENAMENX", &temp, key])? {
                Ok(n) if n == "1" => {}
                Ok(_) => {
                    self.step_error = Some(BUSYKEY.into());
                    return self.abandon(&temp);
                }
                Err(e) => {
                    self.step_error = Some(e);
                    return self.abandon(&temp);
                }
            }
        }
        self.report.acked.push(c.key.clone());
        Ok(())
    }

    /// Sends one batch and the renewal of the temporary key's TTL, reading old replies when
    /// too many batches are unanswered; stops the walk once the target refused one.
    fn send_batch(&mut self, batch: &mut Batch) -> Result<(), Stop> {
        let args: Vec<&[u8]> = batch.args.iter().map(Vec::as_slice).collect();
        self.step(&args)?;
        let temp = batch.args[1].clone();
        self.step(&[b"PEXPIRE", &temp, ORPHAN_TTL_MS])?;
        batch.clear();
        while self.pending.len() > 4 * BATCH_WINDOW {
            self.read_one()?;
        }
        if self.step_error.is_some() {
            return Err(Stop::Refused);
        }
        Ok(())
    }

    /// Gives up on a big key the target refused: reports why and removes the temporary key.
    fn abandon(&mut self, temp: &[u8]) -> Result<(), Stop> {
        let reason = self.step_error.take().unwrap_or_default();
        self.target_error(reason);
        // Whatever DEL answers, the temporary key also expires by itself.
        let _ = self.call(&[b"DEL", temp])?;
        Ok(())
    }
}

/// The TTL to send for a deadline (0 = none): `Some(0)` for none, `None` when it has passed,
/// at least 1 ms otherwise (as Redis computes it).
fn remaining_ttl(expire_ms: u64) -> Option<u64> {
    if expire_ms == 0 {
        return Some(0);
    }
    let now = unix_ms();
    if expire_ms < now {
        return None;
    }
    Some((expire_ms - now).max(1))
}

/// A name for the temporary copy of `key` on the target, unique to this transfer.
fn temporary_name(key: &[u8]) -> Vec<u8> {
    let mut name = key.to_vec();
    name.extend_from_slice(format!(":migrating:{:016x}", rand::random::<u64>()).as_bytes());
    name
}

/// One write command filling the temporary key: `RPUSH|SADD|HSET|ZADD temp elements...`.
struct Batch {
    /// The command, the temporary key, then the elements' arguments.
    args: Vec<Vec<u8>>,
    elements: u64,
    limit: u64,
}

impl Batch {
    fn new(t: DataType, temp: &[u8], limit: u64) -> Batch {
        let command: &[u8] = match t {
            DataType::List => b"RPUSH",
            DataType::Set => b"SADD",
            DataType::Hash => b"HSET",
            _ => b"ZADD",
        };
        Batch {
            args: vec![command.to_vec(), temp.to_vec()],
            elements: 0,
            limit,
        }
    }

    fn push(&mut self, e: Element<'_>) {
        match e {
            Element::Item(v) | Element::Member(v) => self.args.push(v.to_vec()),
            Element::Field(f, v) => {
                self.args.push(f.to_vec());
                self.args.push(v.to_vec());
            }
            Element::Scored(m, score) => {
                // The shortest text that reads back as the same double ("inf" included).
                self.args.push(score.to_string().into_bytes());
                self.args.push(m.to_vec());
            }
        }
        self.elements += 1;
    }

    fn is_full(&self) -> bool {
        self.elements >= self.limit
    }

    fn is_empty(&self) -> bool {
        self.elements == 0
    }

    fn clear(&mut self) {
        self.args.truncate(2);
        self.elements = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_sent_as_text_that_reads_back_exactly() {
        for score in [0.1, -2.5e-300, 1e300, f64::INFINITY, f64::NEG_INFINITY, 3.0] {
            let mut b = Batch::new(DataType::ZSet, b"t", 10);
            b.push(Element::Scored(b"m", score));
            let text = String::from_utf8(b.args[2].clone()).unwrap();
            let back = crate::util::number::parse_f64(text.as_bytes()).unwrap();
            assert_eq!(back, score, "{text}");
        }
    }

    #[test]
    fn a_batch_holds_its_limit_of_elements_then_starts_over() {
        let mut b = Batch::new(DataType::Hash, b"t", 2);
        b.push(Element::Field(b"f1", b"v1"));
        assert!(!b.is_full());
        b.push(Element::Field(b"f2", b"v2"));
        assert!(b.is_full());
        assert_eq!(b.args.len(), 6);
        b.clear();
        assert!(b.is_empty());
        assert_eq!(b.args, vec![b"HSET".to_vec(), b"t".to_vec()]);
    }

    #[test]
    fn ttls_follow_redis() {
        assert_eq!(remaining_ttl(0), Some(0));
        assert_eq!(remaining_ttl(1), None);
        let later = unix_ms() + 60_000;
        assert!(remaining_ttl(later).is_some_and(|t| t > 50_000 && t <= 60_000));
    }

    #[test]
    fn temporary_names_keep_the_key_and_differ() {
        let a = temporary_name(b"big");
        let b = temporary_name(b"big");
        assert!(a.starts_with(b"big:migrating:"));
        assert_ne!(a, b);
    }
}
