//! MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
//! [AUTH2 username password] [KEYS key [key ...]]: moves keys to another server (pika or
//! redis-server) as Redis 7 does, with Redis' replies and error texts.
//!
//! This module parses the arguments and turns the outcome into the reply; [`link`] is the
//! connection to the target (cached per `host:port`), [`transfer`] what is sent over it.
//! MIGRATE runs on the worker that took it, holding the locks of its own keys only (the
//! dispatcher takes them from the key spec), so every other key stays writable meanwhile; the
//! keys the target acknowledged are then deleted through the ordinary write path (a DEL in the
//! binlog, replicated), unless COPY.

mod link;
mod transfer;

use std::time::Duration;

use bytes::Bytes;

use crate::cmd::gate::spec::{CommandSpec, KeyFinder, KeySpec};
use crate::cmd::{args, CmdError, CmdResult, Ctx, EventClasses as Class};
use crate::command;
use crate::resp::Reply;
use transfer::{Candidate, Options};

/// Commands of this module.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("migrate", -6, [WRITE], MIGRATE_KEYS, [KEYSPACE, WRITE, SLOW, DANGEROUS], "generic",
             "Atomically transfer a key from a Redis instance to another one.", migrate,
             secrets: migrate_secrets,
             key_flags: &[&["RW", "access", "delete"], &["RW", "access", "delete", "incomplete"]]),
];

/// MIGRATE's keys: the one at 3, or those after KEYS.
const MIGRATE_KEYS: KeySpec = KeySpec::KeyOrKeyword {
    at: 3,
    keyword: "KEYS",
    startfrom: -2,
    find: KeyFinder(migrate_keys),
};

/// The timeout Redis uses when the argument is 0 or negative, in ms.
const DEFAULT_TIMEOUT_MS: u64 = 1000;

/// Options that take arguments, with how many (skipped when looking for KEYS).
fn option_arity(arg: &[u8]) -> usize {
    if args::is(arg, "auth") {
        1
    } else if args::is(arg, "auth2") {
        2
    } else {
        0
    }
}

/// Index of the KEYS option, looked for as Redis' `migrateGetKeys` does (skipping AUTH's and
/// AUTH2's arguments).
fn keys_option_at(argv: &[Bytes]) -> Option<usize> {
    let mut i = 6;
    while i < argv.len() {
        if args::is(&argv[i], "keys") {
            return Some(i);
        }
        i += option_arity(&argv[i]) + 1;
    }
    None
}

/// Key positions (COMMAND GETKEYS, key locks): argument 3, or every argument after KEYS when
/// the key argument is empty; none for KEYS after a non-empty key (a syntax error MIGRATE
/// itself reports).
fn migrate_keys(argv: &[Bytes]) -> Vec<usize> {
    match keys_option_at(argv) {
        Some(at) if argv.get(3).is_some_and(|k| k.is_empty()) => (at + 1..argv.len()).collect(),
        Some(_) => Vec::new(),
        None if argv.len() > 3 => vec![3],
        None => Vec::new(),
    }
}

/// The passwords (and AUTH2's user name) of a MIGRATE, hidden from the slow log and MONITOR.
fn migrate_secrets(argv: &[Bytes]) -> Vec<usize> {
    let mut found = Vec::new();
    let mut i = 6;
    while i < argv.len() && !args::is(&argv[i], "keys") {
        let n = option_arity(&argv[i]);
        found.extend((i + 1..=i + n).filter(|&p| p < argv.len()));
        i += n + 1;
    }
    found
}

/// Connections to MIGRATE targets kept open for the next call (INFO stats).
pub fn cached_sockets() -> usize {
    link::cached_count()
}

/// A parsed MIGRATE.
#[derive(Debug, PartialEq)]
struct MigrateArgs<'a> {
    host: &'a [u8],
    port: &'a [u8],
    keys: &'a [Bytes],
    db: i64,
    timeout: Duration,
    copy: bool,
    replace: bool,
    auth: Option<(Option<&'a [u8]>, &'a [u8])>,
}

/// Parses MIGRATE's arguments with Redis' checks in Redis' order: options first, then the
/// timeout, then the database.
fn parse(argv: &[Bytes]) -> Result<MigrateArgs<'_>, CmdError> {
    let (mut copy, mut replace) = (false, false);
    let mut auth = None;
    let mut keys = &argv[3..4];
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let arg = &argv[j];
        if args::is(arg, "copy") {
            copy = true;
        } else if args::is(arg, "replace") {
            replace = true;
        } else if args::is(arg, "auth") {
            if more < 1 {
                return Err(CmdError::Syntax);
            }
            auth = Some((None, argv[j + 1].as_ref()));
            j += 1;
        } else if args::is(arg, "auth2") {
            if more < 2 {
                return Err(CmdError::Syntax);
            }
            auth = Some((Some(argv[j + 1].as_ref()), argv[j + 2].as_ref()));
            j += 2;
        } else if args::is(arg, "keys") {
            if !argv[3].is_empty() {
                return Err(CmdError::err(
                    "When using MIGRATE KEYS option, the key argument must be set to the empty \
                     string",
                ));
            }
            keys = &argv[j + 1..];
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let timeout = args::int(&argv[5])?;
    let db = args::int(&argv[4])?;
    let timeout_ms = u64::try_from(timeout)
        .ok()
        .filter(|&t| t > 0)
        .unwrap_or(DEFAULT_TIMEOUT_MS);
    Ok(MigrateArgs {
        host: &argv[1],
        port: &argv[2],
        keys,
        db,
        timeout: Duration::from_millis(timeout_ms),
        copy,
        replace,
        auth,
    })
}

fn migrate(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let m = parse(argv)?;
    let to = Destination {
        host: m.host,
        port: m.port,
        timeout: m.timeout,
        db: m.db,
        replace: m.replace,
        auth: m.auth,
    };
    match send_keys(ctx, &to, m.keys, m.copy)? {
        0 => Ok(Reply::Simple("NOKEY".into())),
        _ => Ok(Reply::ok()),
    }
}

/// Where keys are sent, and how.
pub struct Destination<'a> {
    pub host: &'a [u8],
    pub port: &'a [u8],
    /// For connecting and for every exchange.
    pub timeout: Duration,
    /// Destination database (ignored on a cluster node).
    pub db: i64,
    /// Replace keys the target already has.
    pub replace: bool,
    /// AUTH's arguments: an optional user name, then the password.
    pub auth: Option<(Option<&'a [u8]>, &'a [u8])>,
}

/// Sends those of `keys` that exist to `to` and, unless `copy`, deletes here the ones the
/// target acknowledged (a DEL in the binlog). Returns how many existed (0: none, MIGRATE's
/// NOKEY); errors carry MIGRATE's texts. The caller holds the keys' locks. MIGRATE and
/// Codis' SLOTSMGRT* share it.
pub fn send_keys(
    ctx: &Ctx<'_>,
    to: &Destination<'_>,
    keys: &[Bytes],
    copy: bool,
) -> Result<usize, CmdError> {
    let keyspace = ctx.keys();
    let mut candidates = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(outline) = keyspace.outline(key)? {
            candidates.push(Candidate {
                key: key.clone(),
                outline,
            });
        }
    }
    if candidates.is_empty() {
        return Ok(0);
    }
    let cfg = ctx.server.config();
    let opts = Options {
        db: to.db,
        replace: to.replace,
        auth: to.auth,
        cluster: cfg.cluster_enabled,
        chunk_elements: cfg.migrate_chunk_elements.max(1),
    };
    drop(cfg);
    // A cached connection the target closed meanwhile fails at once: one retry on a new one,
    // unless something was acknowledged or the time ran out (as Redis retries).
    let mut may_retry = true;
    let report = loop {
        let mut conn = link::take(to.host, to.port, to.timeout)
            .map_err(|e| CmdError::Other(e.reply_text().into()))?;
        let report = transfer::run(&mut conn, &keyspace, &candidates, &opts)?;
        match &report.link_error {
            None => {
                link::give_back(to.host, to.port, conn);
                break report;
            }
            Some(e) if may_retry && conn.reused && !e.is_timeout() && report.acked.is_empty() => {
                may_retry = false;
            }
            Some(_) => break report,
        }
    };
    if !copy && !report.acked.is_empty() {
        keyspace.delete(&args::key_slices(&report.acked))?;
        for key in &report.acked {
            ctx.notify(Class::GENERIC, "del", key);
        }
    }
    if let Some(e) = report.target_error {
        return Err(CmdError::err(format!(
            "Target instance replied with error: {e}"
        )));
    }
    if let Some(e) = report.link_error {
        return Err(CmdError::Other(e.reply_text().into()));
    }
    Ok(candidates.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cmd::args::argv;

    #[test]
    fn keys_are_the_key_argument_or_those_after_keys() {
        assert_eq!(
            migrate_keys(&argv(&["migrate", "h", "1", "k", "0", "0"])),
            [3]
        );
        let multi = argv(&[
            "migrate", "h", "1", "", "0", "0", "COPY", "AUTH", "keys", "KEYS", "a", "b",
        ]);
        // AUTH's password "keys" is skipped, as Redis skips it.
        assert_eq!(migrate_keys(&multi), [10, 11]);
        let bad = argv(&["migrate", "h", "1", "k", "0", "0", "KEYS", "a"]);
        assert!(migrate_keys(&bad).is_empty());
    }

    #[test]
    fn passwords_are_secret_and_keys_are_not() {
        let a = argv(&[
            "migrate", "h", "1", "", "0", "0", "AUTH2", "u", "p", "AUTH", "q", "KEYS", "auth",
        ]);
        assert_eq!(migrate_secrets(&a), [7, 8, 10]);
    }

    #[test]
    fn options_parse_with_redis_errors() {
        let single = argv(&["migrate", "h", "1", "k", "3", "0", "copy", "REPLACE"]);
        let m = parse(&single).unwrap();
        assert!(m.copy && m.replace);
        assert_eq!(m.db, 3);
        assert_eq!(m.timeout, Duration::from_millis(1000));
        assert_eq!(m.keys, &argv(&["k"])[..]);
        let multi = argv(&["migrate", "h", "1", "", "0", "5", "KEYS", "a", "b"]);
        let m = parse(&multi).unwrap();
        assert_eq!(m.keys, &argv(&["a", "b"])[..]);
        assert_eq!(m.timeout, Duration::from_millis(5));
        assert!(matches!(
            parse(&argv(&["migrate", "h", "1", "k", "0", "0", "AUTH"])),
            Err(CmdError::Syntax)
        ));
        assert!(matches!(
            parse(&argv(&["migrate", "h", "1", "k", "0", "0", "AUTH2", "u"])),
            Err(CmdError::Syntax)
        ));
        assert!(matches!(
            parse(&argv(&["migrate", "h", "1", "k", "0", "0", "bogus"])),
            Err(CmdError::Syntax)
        ));
        let Err(CmdError::Other(text)) =
            parse(&argv(&["migrate", "h", "1", "k", "0", "0", "KEYS", "a"]))
        else {
            panic!("KEYS with a key accepted");
        };
        assert!(text.contains("the key argument must be set to the empty string"));
        assert!(matches!(
            parse(&argv(&["migrate", "h", "1", "k", "0", "x"])),
            Err(CmdError::NotInteger)
        ));
        assert!(matches!(
            parse(&argv(&["migrate", "h", "1", "k", "x", "0"])),
            Err(CmdError::NotInteger)
        ));
    }
}
