//! Commands described as data: what the dispatcher, COMMAND and key locking need to know.

use bitflags::bitflags;
use bytes::Bytes;

use crate::cmd::{CmdResult, Ctx};

bitflags! {
    /// Command flags, as `COMMAND INFO` reports them.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct CmdFlags: u32 {
        const WRITE = 1 << 0;
        const READONLY = 1 << 1;
        const DENYOOM = 1 << 2;
        const ADMIN = 1 << 3;
        const PUBSUB = 1 << 4;
        const NOSCRIPT = 1 << 5;
        const BLOCKING = 1 << 6;
        const LOADING = 1 << 7;
        const STALE = 1 << 8;
        const SKIP_MONITOR = 1 << 9;
        const SKIP_SLOWLOG = 1 << 10;
        const FAST = 1 << 11;
        /// Allowed before AUTH (AUTH, HELLO, QUIT...).
        const NO_AUTH = 1 << 12;
        const MAY_REPLICATE = 1 << 13;
        const NO_MULTI = 1 << 14;
        const ALLOW_BUSY = 1 << 15;
        /// Refused while a replica loads its data set asynchronously (SAVE, BGSAVE...).
        const NO_ASYNC_LOADING = 1 << 16;
        /// Internal, not reported: looking at the keys does not count as an access for OBJECT
        /// IDLETIME (TYPE, TTL, EXISTS, OBJECT).
        const NO_TOUCH = 1 << 17;
        /// Internal, not reported: refused unless `enable-debug-command` admits the client
        /// (DEBUG; Redis' `CMD_PROTECTED`).
        const PROTECTED = 1 << 18;
        /// Internal, not reported: costs O(1) per argument whatever the values, like a `fast`
        /// command, though Redis files it as slow (SET, MSET): a network thread may run it
        /// itself (see `server::inline`).
        const BOUNDED = 1 << 19;
        /// Internal, not reported: `key start stop` reads an index range, whose cost is its
        /// length (LRANGE, ZRANGE): a short range is as cheap as a `fast` command.
        const INDEX_RANGE = 1 << 20;
        /// Served for a slot being imported as if the client had sent ASKING
        /// (RESTORE-ASKING, sent by MIGRATE in a cluster).
        const ASKING = 1 << 21;
    }
}

bitflags! {
    /// ACL categories (`@read`, `@string`, ...).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct AclCategories: u32 {
        const KEYSPACE = 1 << 0;
        const READ = 1 << 1;
        const WRITE = 1 << 2;
        const SET = 1 << 3;
        const SORTEDSET = 1 << 4;
        const LIST = 1 << 5;
        const HASH = 1 << 6;
        const STRING = 1 << 7;
        const BITMAP = 1 << 8;
        const HYPERLOGLOG = 1 << 9;
        const GEO = 1 << 10;
        const STREAM = 1 << 11;
        const PUBSUB = 1 << 12;
        const ADMIN = 1 << 13;
        const FAST = 1 << 14;
        const SLOW = 1 << 15;
        const BLOCKING = 1 << 16;
        const DANGEROUS = 1 << 17;
        const CONNECTION = 1 << 18;
        const TRANSACTION = 1 << 19;
        const SCRIPTING = 1 << 20;
    }
}

/// Where the keys of a command are among its arguments (argument 0 is the command name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    /// No keys.
    None,
    /// Keys at `first`, `first + step`, ... up to `last`.
    Range {
        first: usize,
        last: KeyEnd,
        step: usize,
    },
    /// Keys follow a count argument (SINTERCARD, LMPOP, ZUNION...): `argv[numkeys_at]` keys at
    /// `first`, `first + step`, ... (absolute argument indexes). Reported by COMMAND INFO as
    /// movable keys (0, 0, 0).
    Keynum {
        numkeys_at: usize,
        first: usize,
        step: usize,
    },
    /// Keys found by a function of the arguments (SORT ... STORE): movable keys, reported by
    /// COMMAND INFO with the `legacy` (first, last, step) triple.
    Find {
        find: KeyFinder,
        legacy: (i64, i64, i64),
    },
    /// Keys after a keyword (XREAD's `STREAMS k1 k2 id1 id2`: the first half of what follows
    /// it), searched from argument `startfrom`; `find` gives their positions. Reported by
    /// COMMAND INFO as movable keys (0, 0, 0) with a `keyword` key spec.
    Keyword {
        keyword: &'static str,
        startfrom: usize,
        find: KeyFinder,
    },
    /// One key at `at`, or, in the extended form, the keys after a keyword that the backward
    /// search from argument `startfrom` (negative: from the end) finds: MIGRATE's `key` or
    /// `"" ... KEYS k1 k2`. `find` gives the positions of whichever form the call uses.
    /// Reported by COMMAND INFO as movable keys with the legacy triple `(at, at, 1)` and two
    /// key specs, an `index` one and a `keyword` one.
    KeyOrKeyword {
        at: usize,
        keyword: &'static str,
        startfrom: i64,
        find: KeyFinder,
    },
    /// A destination key at `dest` plus [`KeySpec::Keynum`] keys (ZUNIONSTORE and friends).
    KeynumWithDest {
        dest: usize,
        numkeys_at: usize,
        first: usize,
        step: usize,
    },
}

/// The function of a [`KeySpec::Find`]: key positions from the full argument vector.
#[derive(Clone, Copy)]
pub struct KeyFinder(pub fn(&[Bytes]) -> Vec<usize>);

impl PartialEq for KeyFinder {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::fn_addr_eq(self.0, other.0)
    }
}

impl Eq for KeyFinder {}

impl std::fmt::Debug for KeyFinder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyFinder")
    }
}

/// Positions of `numkeys` keys (read at `numkeys_at`) starting at `first`; empty when the
/// count is not a positive integer, clamped to the arguments present.
fn keynum_positions(argv: &[Bytes], numkeys_at: usize, first: usize, step: usize) -> Vec<usize> {
    let Some(n) = argv
        .get(numkeys_at)
        .and_then(|a| crate::util::number::parse_i64(a))
        .filter(|&n| n > 0)
    else {
        return Vec::new();
    };
    (0..n as usize)
        .map(|i| first + i * step.max(1))
        .take_while(|&p| p < argv.len())
        .collect()
}

/// Which arguments of a command are secrets (passwords): a function of the full argument
/// vector returning their positions. The slow log and MONITOR show those as `(redacted)`, as
/// Redis does with `redactClientCommandArgument`.
#[derive(Clone, Copy)]
pub struct SecretArgs(pub fn(&[Bytes]) -> Vec<usize>);

impl std::fmt::Debug for SecretArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretArgs")
    }
}

/// What the slow log and MONITOR show in place of a secret argument.
pub const REDACTED: &[u8] = b"(redacted)";

/// The last key position of a [`KeySpec::Range`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEnd {
    /// A fixed argument index.
    At(usize),
    /// Counted from the end: `FromEnd(1)` is the last argument.
    FromEnd(usize),
}

/// The function that runs a command.
pub type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> CmdResult;

/// One command (or subcommand) of the table.
pub struct CommandSpec {
    /// Lower-case name (`get`, or `client|list` for subcommands).
    pub name: &'static str,
    /// Redis arity: `n` exactly n arguments (name included), `-n` at least n.
    pub arity: i32,
    pub flags: CmdFlags,
    pub keys: KeySpec,
    pub acl: AclCategories,
    /// Command group for COMMAND DOCS (`string`, `generic`, `server`, `connection`).
    pub group: &'static str,
    /// One-line summary for COMMAND DOCS.
    pub summary: &'static str,
    pub handler: Handler,
    /// Subcommands of a container command (CONFIG, CLIENT, ...); dispatch goes by `argv[1]`.
    pub subcommands: &'static [CommandSpec],
    /// Arguments never shown by the slow log or MONITOR (passwords); `None` for most commands.
    pub secrets: Option<SecretArgs>,
    /// Redis 7 key-spec flags, one list per key spec (COPY, RENAME: source, then
    /// destination). Empty for the default: `RO access` for reads, `RW update` for writes.
    pub key_flags: &'static [&'static [&'static str]],
}

impl CommandSpec {
    /// True when `argc` arguments (name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= self.arity.unsigned_abs() as usize
        }
    }

    /// `argv` as the slow log and MONITOR may show it: every secret argument replaced by
    /// `(redacted)`. Borrows `argv` unchanged for commands without secrets.
    pub fn shown_args<'a>(&self, argv: &'a [Bytes]) -> std::borrow::Cow<'a, [Bytes]> {
        let Some(SecretArgs(find)) = self.secrets else {
            return std::borrow::Cow::Borrowed(argv);
        };
        let mut shown = argv.to_vec();
        for i in find(argv) {
            if let Some(arg) = shown.get_mut(i) {
                *arg = Bytes::from_static(REDACTED);
            }
        }
        std::borrow::Cow::Owned(shown)
    }

    /// Positions of the keys in `argv` (COMMAND GETKEYS, locking, cluster routing).
    pub fn key_positions(&self, argv: &[Bytes]) -> Vec<usize> {
        let argc = argv.len();
        match self.keys {
            KeySpec::None => Vec::new(),
            KeySpec::Keynum {
                numkeys_at,
                first,
                step,
            } => keynum_positions(argv, numkeys_at, first, step),
            KeySpec::KeynumWithDest {
                dest,
                numkeys_at,
                first,
                step,
            } => {
                let keys = keynum_positions(argv, numkeys_at, first, step);
                if keys.is_empty() || dest >= argc {
                    return Vec::new();
                }
                std::iter::once(dest).chain(keys).collect()
            }
            KeySpec::Range { first, last, step } => {
                let last = match last {
                    KeyEnd::At(i) => i,
                    KeyEnd::FromEnd(n) => match argc.checked_sub(n) {
                        Some(i) => i,
                        None => return Vec::new(),
                    },
                };
                let last = last.min(argc.saturating_sub(1));
                if first > last || first >= argc {
                    return Vec::new();
                }
                (first..=last).step_by(step.max(1)).collect()
            }
            KeySpec::Find { find, .. }
            | KeySpec::Keyword { find, .. }
            | KeySpec::KeyOrKeyword { find, .. } => (find.0)(argv),
        }
    }

    /// The (first, last, step) triple of COMMAND INFO, with Redis' negative "from the end" form.
    pub fn legacy_key_triple(&self) -> (i64, i64, i64) {
        match self.keys {
            KeySpec::None
            | KeySpec::Keynum { .. }
            | KeySpec::KeynumWithDest { .. }
            | KeySpec::Keyword { .. } => (0, 0, 0),
            KeySpec::Find { legacy, .. } => legacy,
            KeySpec::KeyOrKeyword { at, .. } => (at as i64, at as i64, 1),
            KeySpec::Range { first, last, step } => {
                let last = match last {
                    KeyEnd::At(i) => i as i64,
                    KeyEnd::FromEnd(n) => -(n as i64),
                };
                (first as i64, last, step as i64)
            }
        }
    }

    /// Flag names for COMMAND INFO.
    pub fn flag_names(&self) -> Vec<&'static str> {
        const NAMES: &[(CmdFlags, &str)] = &[
            (CmdFlags::WRITE, "write"),
            (CmdFlags::READONLY, "readonly"),
            (CmdFlags::DENYOOM, "denyoom"),
            (CmdFlags::ADMIN, "admin"),
            (CmdFlags::PUBSUB, "pubsub"),
            (CmdFlags::NOSCRIPT, "noscript"),
            (CmdFlags::BLOCKING, "blocking"),
            (CmdFlags::LOADING, "loading"),
            (CmdFlags::STALE, "stale"),
            (CmdFlags::SKIP_MONITOR, "skip_monitor"),
            (CmdFlags::SKIP_SLOWLOG, "skip_slowlog"),
            (CmdFlags::FAST, "fast"),
            (CmdFlags::NO_AUTH, "no_auth"),
            // MAY_REPLICATE is not listed: Redis hides it on purpose.
            (CmdFlags::NO_ASYNC_LOADING, "no_async_loading"),
            (CmdFlags::NO_MULTI, "no_multi"),
            (CmdFlags::ALLOW_BUSY, "allow_busy"),
            (CmdFlags::ASKING, "asking"),
        ];
        let mut names: Vec<&'static str> = NAMES
            .iter()
            .filter(|(f, _)| self.flags.contains(*f))
            .map(|(_, n)| *n)
            .collect();
        if matches!(
            self.keys,
            KeySpec::Keynum { .. }
                | KeySpec::KeynumWithDest { .. }
                | KeySpec::Find { .. }
                | KeySpec::Keyword { .. }
                | KeySpec::KeyOrKeyword { .. }
        ) {
            names.push("movablekeys");
        }
        names
    }

    /// ACL category names for COMMAND INFO (`@read`, ...).
    pub fn acl_names(&self) -> Vec<&'static str> {
        const NAMES: &[(AclCategories, &str)] = &[
            (AclCategories::KEYSPACE, "@keyspace"),
            (AclCategories::READ, "@read"),
            (AclCategories::WRITE, "@write"),
            (AclCategories::SET, "@set"),
            (AclCategories::SORTEDSET, "@sortedset"),
            (AclCategories::LIST, "@list"),
            (AclCategories::HASH, "@hash"),
            (AclCategories::STRING, "@string"),
            (AclCategories::BITMAP, "@bitmap"),
            (AclCategories::HYPERLOGLOG, "@hyperloglog"),
            (AclCategories::GEO, "@geo"),
            (AclCategories::STREAM, "@stream"),
            (AclCategories::PUBSUB, "@pubsub"),
            (AclCategories::ADMIN, "@admin"),
            (AclCategories::FAST, "@fast"),
            (AclCategories::SLOW, "@slow"),
            (AclCategories::BLOCKING, "@blocking"),
            (AclCategories::DANGEROUS, "@dangerous"),
            (AclCategories::CONNECTION, "@connection"),
            (AclCategories::TRANSACTION, "@transaction"),
            (AclCategories::SCRIPTING, "@scripting"),
        ];
        NAMES
            .iter()
            .filter(|(f, _)| self.acl.contains(*f))
            .map(|(_, n)| *n)
            .collect()
    }
}

impl KeySpec {
    /// One key at argument `i`.
    pub const fn single(i: usize) -> KeySpec {
        KeySpec::Range {
            first: i,
            last: KeyEnd::At(i),
            step: 1,
        }
    }

    /// Keys at `first..=last`.
    pub const fn span(first: usize, last: usize) -> KeySpec {
        KeySpec::Range {
            first,
            last: KeyEnd::At(last),
            step: 1,
        }
    }

    /// Every argument from `first` on is a key (DEL, EXISTS, MGET).
    pub const fn rest(first: usize) -> KeySpec {
        KeySpec::Range {
            first,
            last: KeyEnd::FromEnd(1),
            step: 1,
        }
    }

    /// Every `step`-th argument from `first` on (MSET: key value key value ...).
    pub const fn every(first: usize, step: usize) -> KeySpec {
        KeySpec::Range {
            first,
            last: KeyEnd::FromEnd(1),
            step,
        }
    }
}

/// Builds a [`CommandSpec`] from one line: name, arity, flags, keys, ACL categories, group,
/// summary, handler, and optionally subcommands and the finder of secret arguments
/// (`secrets: some_fn`, see [`SecretArgs`]).
#[macro_export]
macro_rules! command {
    ($name:literal, $arity:expr, [$($flag:ident),*], $keys:expr, [$($acl:ident),*], $group:literal,
     $summary:literal, $handler:path $(, subcommands: $subs:expr)? $(, secrets: $secrets:path)?
     $(, key_flags: $key_flags:expr)? $(,)?) => {
        $crate::cmd::gate::spec::CommandSpec {
            name: $name,
            arity: $arity,
            flags: $crate::cmd::gate::spec::CmdFlags::empty()
                $(.union($crate::cmd::gate::spec::CmdFlags::$flag))*,
            keys: $keys,
            acl: $crate::cmd::gate::spec::AclCategories::empty()
                $(.union($crate::cmd::gate::spec::AclCategories::$acl))*,
            group: $group,
            summary: $summary,
            handler: $handler,
            subcommands: $crate::command!(@subs $($subs)?),
            secrets: $crate::command!(@secrets $($secrets)?),
            key_flags: $crate::command!(@key_flags $($key_flags)?),
        }
    };
    (@key_flags) => { &[] };
    (@key_flags $key_flags:expr) => { $key_flags };
    (@subs) => { &[] };
    (@subs $subs:expr) => { $subs };
    (@secrets) => { None };
    (@secrets $secrets:path) => { Some($crate::cmd::gate::spec::SecretArgs($secrets)) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::Reply;

    fn noop(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
        Ok(Reply::ok())
    }

    fn spec(arity: i32, keys: KeySpec) -> CommandSpec {
        CommandSpec {
            name: "t",
            arity,
            flags: CmdFlags::empty(),
            keys,
            acl: AclCategories::empty(),
            group: "generic",
            summary: "",
            handler: noop,
            subcommands: &[],
            secrets: None,
            key_flags: &[],
        }
    }

    #[test]
    fn arity_exact_and_minimum() {
        assert!(spec(2, KeySpec::None).arity_ok(2));
        assert!(!spec(2, KeySpec::None).arity_ok(3));
        assert!(spec(-2, KeySpec::None).arity_ok(5));
        assert!(!spec(-3, KeySpec::None).arity_ok(2));
    }

    #[test]
    fn key_positions_follow_the_spec() {
        let mset = spec(
            -3,
            KeySpec::Range {
                first: 1,
                last: KeyEnd::FromEnd(1),
                step: 2,
            },
        );
        let argv = |n: usize| vec![Bytes::from_static(b"x"); n];
        assert_eq!(mset.key_positions(&argv(5)), vec![1, 3]);
        let get = spec(
            2,
            KeySpec::Range {
                first: 1,
                last: KeyEnd::At(1),
                step: 1,
            },
        );
        assert_eq!(get.key_positions(&argv(2)), vec![1]);
        assert_eq!(get.legacy_key_triple(), (1, 1, 1));
        assert_eq!(mset.legacy_key_triple(), (1, -1, 2));
    }

    #[test]
    fn keynum_keys_follow_their_count_argument() {
        let sintercard = spec(
            -3,
            KeySpec::Keynum {
                numkeys_at: 1,
                first: 2,
                step: 1,
            },
        );
        let argv: Vec<Bytes> = ["sintercard", "2", "a", "b", "LIMIT", "1"]
            .iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect();
        assert_eq!(sintercard.key_positions(&argv), vec![2, 3]);
        assert_eq!(sintercard.key_positions(&argv[..3]), vec![2]);
        let bad: Vec<Bytes> = ["sintercard", "x", "a"]
            .iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect();
        assert!(sintercard.key_positions(&bad).is_empty());
        assert_eq!(sintercard.legacy_key_triple(), (0, 0, 0));
        assert!(sintercard.flag_names().contains(&"movablekeys"));
    }
}
