//! A user's rules: enabled or not, passwords (SHA-256, hex), and its selectors; how ACL
//! SETUSER's modifiers change them, and how they are written back as rules.

use sha2::{Digest, Sha256};

use super::describe::describe_commands;
use super::selector::{Denial, Request, Selector};
use super::RuleError;

/// The rules of one user. The root selector is `selectors[0]`.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRules {
    pub enabled: bool,
    pub nopass: bool,
    /// `Some(true)` after `sanitize-payload`, `Some(false)` after `skip-sanitize-payload`.
    pub sanitize_payload: Option<bool>,
    /// SHA-256 hex digests, in the order they were added.
    pub passwords: Vec<String>,
    pub selectors: Vec<Selector>,
}

impl Default for UserRules {
    /// A new user: off, no passwords, no commands, keys or channels.
    fn default() -> Self {
        UserRules {
            enabled: false,
            nopass: false,
            sanitize_payload: None,
            passwords: Vec::new(),
            selectors: vec![Selector::default()],
        }
    }
}

/// The SHA-256 of a password, in lower-case hex, as ACL rules store it.
pub fn hash_password(password: &[u8]) -> String {
    let digest = Sha256::digest(password);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// A `#<hash>` must be 64 lower-case hex digits.
fn valid_hash(hash: &[u8]) -> bool {
    hash.len() == 64 && hash.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Compares without an early exit, so timing does not reveal how much of a guess matched.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl UserRules {
    /// The default user: on, nopass, everything allowed.
    pub fn everything() -> UserRules {
        let mut rules = UserRules::default();
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            // Fixed, valid rules: none of them can fail.
            let _ = rules.apply(op.as_bytes());
        }
        rules
    }

    /// The root selector.
    pub fn root(&self) -> &Selector {
        &self.selectors[0]
    }

    /// True when every command, key and channel is allowed: the check is skipped.
    pub fn unrestricted(&self) -> bool {
        self.selectors.len() == 1 && self.root().allows_everything()
    }

    /// Whether `password` authenticates this user (never for a disabled one).
    pub fn accepts(&self, password: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let hashed = hash_password(password);
        self.passwords
            .iter()
            .any(|p| same_secret(p.as_bytes(), hashed.as_bytes()))
    }

    /// Checks a command against every selector: allowed when one allows it. Otherwise the
    /// refusal Redis reports: a key or channel refusal over a command one, the last argument
    /// among equals.
    pub fn check(&self, req: &Request<'_>) -> Result<(), Denial> {
        let mut worst: Option<Denial> = None;
        for selector in &self.selectors {
            match selector.check(req) {
                Ok(()) => return Ok(()),
                Err(d) => {
                    let replace = worst
                        .is_none_or(|w| d.kind > w.kind || (d.kind == w.kind && d.pos > w.pos));
                    if replace {
                        worst = Some(d);
                    }
                }
            }
        }
        Err(worst.unwrap_or(Denial {
            kind: super::selector::DenialKind::Command,
            pos: 0,
        }))
    }

    /// Applies one modifier of ACL SETUSER (already merged: a selector is one argument).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if is("on") {
            self.enabled = true;
        } else if is("off") {
            self.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.sanitize_payload = Some(false);
        } else if is("sanitize-payload") {
            self.sanitize_payload = Some(true);
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = if op[0] == b'>' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = if op[0] == b'<' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            let at = self
                .passwords
                .iter()
                .position(|p| *p == hash)
                .ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(at);
        } else if op[0] == b'(' && op.last() == Some(&b')') {
            let mut selector = Selector::default();
            for inner in op[1..op.len() - 1]
                .split(|b| b.is_ascii_whitespace())
                .filter(|s| !s.is_empty())
            {
                selector.apply(inner)?;
            }
            self.selectors.push(selector);
        } else if is("clearselectors") {
            self.selectors.truncate(1);
        } else if is("reset") {
            for op in ["resetpass", "resetkeys", "resetchannels", "off"] {
                self.apply(op.as_bytes())?;
            }
            self.sanitize_payload = Some(true);
            self.selectors.truncate(1);
            self.selectors[0].apply(b"-@all")?;
        } else {
            self.selectors[0].apply(op)?;
        }
        Ok(())
    }

    /// The rules as ACL LIST and the ACL file write them (without `user <name>`).
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let flags = [
            (self.enabled, "on"),
            (!self.enabled, "off"),
            (self.nopass, "nopass"),
            (
                self.sanitize_payload == Some(false),
                "skip-sanitize-payload",
            ),
            (self.sanitize_payload == Some(true), "sanitize-payload"),
        ];
        for (set, name) in flags {
            if set {
                out.push_str(name);
                out.push(' ');
            }
        }
        for p in &self.passwords {
            out.push('#');
            out.push_str(p);
            out.push(' ');
        }
        for (i, selector) in self.selectors.iter().enumerate() {
            let described = describe_selector(selector);
            if i == 0 {
                out.push_str(&described);
            } else {
                out.push_str(&format!(" ({described})"));
            }
        }
        out
    }

    /// The flag names GETUSER lists.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut names = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            names.push("nopass");
        }
        match self.sanitize_payload {
            Some(false) => names.push("skip-sanitize-payload"),
            Some(true) => names.push("sanitize-payload"),
            None => {}
        }
        names
    }
}

/// One selector as rules: keys, channels, then commands.
pub fn describe_selector(selector: &Selector) -> String {
    let mut out = String::new();
    if selector.all_keys {
        out.push_str("~* ");
    } else {
        for k in &selector.keys {
            out.push_str(&k.rule());
            out.push(' ');
        }
    }
    if selector.all_channels {
        out.push_str("&* ");
    } else {
        out.push_str("resetchannels ");
        for c in &selector.channels {
            out.push('&');
            out.push_str(&String::from_utf8_lossy(c));
            out.push(' ');
        }
    }
    out.push_str(&describe_commands(selector));
    out
}

/// GETUSER's `keys` field: the patterns, space-separated.
pub fn keys_field(selector: &Selector) -> String {
    if selector.all_keys {
        return "~*".into();
    }
    selector
        .keys
        .iter()
        .map(|k| k.rule())
        .collect::<Vec<_>>()
        .join(" ")
}

/// GETUSER's `channels` field.
pub fn channels_field(selector: &Selector) -> String {
    if selector.all_channels {
        return "&*".into();
    }
    selector
        .channels
        .iter()
        .map(|c| format!("&{}", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join(" ")
}
