//! Access control lists, as Redis 7: users, their passwords and permissions, the check of a
//! command against them, and the log of refusals.
//!
//! - [`selector`]: what one selector allows and the check of a command against it;
//! - [`user`]: a user's rules (flags, passwords, selectors) and SETUSER's modifiers;
//! - [`describe`]: writing command permissions back as rules (ACL LIST, the ACL file);
//! - [`file`]: the ACL file's format;
//! - [`log`]: ACL LOG;
//! - [`catalog`]: the view of the command table the rules need.
//!
//! A [`User`] is shared by the registry and the clients authenticated as it: changing its
//! rules (SETUSER) swaps them atomically and every client sees the new ones at its next
//! command. The `default` user is never replaced (only its rules), so clients that never
//! authenticated follow its changes; `requirepass` sets its password.

pub mod catalog;
pub mod describe;
pub mod file;
pub mod log;
pub mod selector;
pub mod user;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::RwLock;

pub use selector::{ChannelUse, Denial, DenialKind, KeyUse, Request};
pub use user::UserRules;

/// Why a SETUSER modifier was refused; the texts are Redis'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    UnknownCommand,
    Syntax,
    KeysAfterAll,
    ChannelsAfterAll,
    NoSuchPassword,
    BadHash,
    FirstArgOfSubcommand,
}

impl RuleError {
    pub fn text(self) -> &'static str {
        match self {
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeysAfterAll => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and \
                 does not have any effect. Try 'resetkeys' to start with an empty list of \
                 patterns"
            }
            RuleError::ChannelsAfterAll => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid \
                 and does not have any effect. Try 'resetchannels' to start with an empty list \
                 of channels"
            }
            RuleError::NoSuchPassword => {
                "The password you are trying to remove from the user does not exist"
            }
            RuleError::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase \
                 hexadecimal characters"
            }
            RuleError::FirstArgOfSubcommand => {
                "Allowing first-arg of a subcommand is not supported"
            }
        }
    }
}

/// Bumped after any change of which user a client runs as or of a user's rules: a client
/// re-reads its user's "unrestricted" flag only when this moved (see
/// `Client::user_unrestricted`), so the gate's fast path is two atomic loads.
static RULES_EPOCH: AtomicU64 = AtomicU64::new(0);

/// The current [`RULES_EPOCH`].
pub fn rules_epoch() -> u64 {
    RULES_EPOCH.load(Ordering::Acquire)
}

/// Marks a change of rules or of a client's user.
pub fn bump_rules_epoch() {
    RULES_EPOCH.fetch_add(1, Ordering::AcqRel);
}

/// A user: its name and its current rules.
pub struct User {
    pub name: Vec<u8>,
    rules: ArcSwap<UserRules>,
    /// `rules.unrestricted()`, readable with one load on every command.
    unrestricted: AtomicBool,
}

impl User {
    fn new(name: &[u8], rules: UserRules) -> User {
        let unrestricted = rules.unrestricted();
        User {
            name: name.to_vec(),
            rules: ArcSwap::from_pointee(rules),
            unrestricted: AtomicBool::new(unrestricted),
        }
    }

    /// The current rules.
    pub fn rules(&self) -> Arc<UserRules> {
        self.rules.load_full()
    }

    /// True when the user may run anything on any key and channel (the fast path).
    pub fn unrestricted(&self) -> bool {
        self.unrestricted.load(Ordering::Relaxed)
    }

    fn set_rules(&self, rules: UserRules) {
        self.unrestricted
            .store(rules.unrestricted(), Ordering::Relaxed);
        self.rules.store(Arc::new(rules));
        bump_rules_epoch();
    }

    /// The name for replies and logs.
    pub fn name_text(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// Refusals counted for INFO (`acl_access_denied_*`).
#[derive(Default)]
pub struct DeniedCounters {
    pub auth: AtomicU64,
    pub cmd: AtomicU64,
    pub key: AtomicU64,
    pub channel: AtomicU64,
}

/// What a SETUSER changed.
pub struct SetUserOutcome {
    pub user: Arc<User>,
    /// The rules before, for an existing user (clients may need to go).
    pub previous: Option<Arc<UserRules>>,
}

/// The users, the log and the refusal counters.
pub struct Acl {
    users: RwLock<BTreeMap<Vec<u8>, Arc<User>>>,
    default: Arc<User>,
    pub log: log::AclLog,
    pub denied: DeniedCounters,
}

impl Acl {
    /// The ACL with only the default user, whose password is `requirepass` (none if empty).
    pub fn new(requirepass: &str) -> Acl {
        let default = Arc::new(User::new(b"default", UserRules::everything()));
        let acl = Acl {
            users: RwLock::new(BTreeMap::from([(
                b"default".to_vec(),
                Arc::clone(&default),
            )])),
            default,
            log: Default::default(),
            denied: Default::default(),
        };
        acl.set_default_password(requirepass);
        acl
    }

    /// The default user.
    pub fn default_user(&self) -> Arc<User> {
        Arc::clone(&self.default)
    }

    /// `requirepass`: the default user's only password, or nopass when empty.
    pub fn set_default_password(&self, password: &str) {
        let mut rules = (*self.default.rules()).clone();
        rules.passwords.clear();
        rules.nopass = password.is_empty();
        if !password.is_empty() {
            rules
                .passwords
                .push(user::hash_password(password.as_bytes()));
        }
        self.default.set_rules(rules);
    }

    /// True when a new connection is authenticated at once (default user on and nopass).
    pub fn new_clients_authenticated(&self) -> bool {
        let rules = self.default.rules();
        rules.enabled && rules.nopass
    }

    /// The user named `name`.
    pub fn user(&self, name: &[u8]) -> Option<Arc<User>> {
        self.users.read().get(name).cloned()
    }

    /// Every user, by name.
    pub fn users(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    /// The user `name` if `password` authenticates it.
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> Option<Arc<User>> {
        self.user(name).filter(|u| u.rules().accepts(password))
    }

    /// ACL SETUSER: applies every modifier to a copy of the user's rules (a new user's if it
    /// does not exist), and installs the copy only if all of them are valid.
    pub fn set_user(&self, name: &[u8], ops: &[&[u8]]) -> Result<SetUserOutcome, String> {
        let merged = file::merge_selector_args(ops).map_err(|start| {
            format!(
                "Unmatched parenthesis in acl selector starting at '{}'.",
                String::from_utf8_lossy(start)
            )
        })?;
        let mut users = self.users.write();
        let existing = users.get(name).cloned();
        let previous = existing.as_ref().map(|u| u.rules());
        let mut rules = previous.as_deref().cloned().unwrap_or_default();
        for op in &merged {
            rules.apply(op).map_err(|e| {
                format!(
                    "Error in ACL SETUSER modifier '{}': {}",
                    String::from_utf8_lossy(op),
                    e.text()
                )
            })?;
        }
        let user = match existing {
            Some(user) => {
                user.set_rules(rules);
                user
            }
            None => {
                let user = Arc::new(User::new(name, rules));
                users.insert(name.to_vec(), Arc::clone(&user));
                user
            }
        };
        Ok(SetUserOutcome { user, previous })
    }

    /// ACL DELUSER: removes the named users (never `default`), returning the removed ones.
    pub fn delete_users(&self, names: &[&[u8]]) -> Vec<Arc<User>> {
        let mut users = self.users.write();
        names
            .iter()
            .filter(|n| **n != b"default")
            .filter_map(|n| users.remove(*n))
            .collect()
    }

    /// The ACL file's text for the current users.
    pub fn to_file_text(&self) -> String {
        self.users()
            .iter()
            .map(|u| format!("user {} {}\n", u.name_text(), u.rules().describe()))
            .collect()
    }

    /// ACL LOAD: replaces every user with the file's (the default user keeps its identity
    /// and takes the file's rules, or the initial ones when the file does not name it).
    /// Returns the users that were replaced, whose clients must go; on any error nothing
    /// changes.
    pub fn load_file_text(&self, path: &str, text: &str) -> Result<Vec<Arc<User>>, String> {
        let parsed = file::parse(path, text)?;
        let mut users = self.users.write();
        let mut next = BTreeMap::new();
        let mut default_rules = UserRules::everything();
        for (name, rules) in parsed {
            if name == b"default" {
                default_rules = rules;
            } else {
                next.insert(name.clone(), Arc::new(User::new(&name, rules)));
            }
        }
        self.default.set_rules(default_rules);
        next.insert(b"default".to_vec(), Arc::clone(&self.default));
        let old = std::mem::replace(&mut *users, next);
        Ok(old
            .into_values()
            .filter(|u| !Arc::ptr_eq(u, &self.default))
            .collect())
    }

    /// Counts a refusal for INFO.
    pub fn count_denied(&self, reason: log::Reason) {
        let counter = match reason {
            log::Reason::Auth => &self.denied.auth,
            log::Reason::Command => &self.denied.cmd,
            log::Reason::Key => &self.denied.key,
            log::Reason::Channel => &self.denied.channel,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
