//! ACL LOG: recent refusals, newest first. A refusal like one of the last ten (same reason,
//! context, object and user, within a minute) bumps that entry's count instead of adding
//! one, as in Redis.

use std::collections::VecDeque;

use parking_lot::Mutex;

/// Entries kept (Redis' `acllog-max-len` default).
pub const LOG_MAX_LEN: usize = 128;

/// Entries within this many milliseconds of each other may be merged.
const GROUPING_MAX_DELTA_MS: u64 = 60_000;

/// Why an entry was logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

/// Where the refused command was run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Toplevel,
    Multi,
    Lua,
}

impl Context {
    pub fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

/// One ACL LOG entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub count: u64,
    pub reason: Reason,
    pub context: Context,
    /// The command, key, channel, or (for auth) the command name that failed.
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    /// Unix milliseconds of the last occurrence.
    pub ctime_ms: u64,
    /// CLIENT INFO of the client, as of the last occurrence.
    pub client_info: String,
}

/// The log.
#[derive(Default)]
pub struct AclLog {
    entries: Mutex<VecDeque<Entry>>,
}

impl AclLog {
    /// Records a refusal (merging it into a similar recent entry).
    pub fn add(&self, entry: Entry) {
        let mut entries = self.entries.lock();
        let similar = entries.iter().take(10).position(|e| {
            e.reason == entry.reason
                && e.context == entry.context
                && e.ctime_ms.abs_diff(entry.ctime_ms) <= GROUPING_MAX_DELTA_MS
                && e.object == entry.object
                && e.username == entry.username
        });
        if let Some(i) = similar {
            if let Some(mut found) = entries.remove(i) {
                found.count += 1;
                found.ctime_ms = entry.ctime_ms;
                found.client_info = entry.client_info;
                entries.push_front(found);
            }
            return;
        }
        entries.push_front(entry);
        entries.truncate(LOG_MAX_LEN);
    }

    /// The newest `count` entries.
    pub fn newest(&self, count: usize) -> Vec<Entry> {
        self.entries.lock().iter().take(count).cloned().collect()
    }

    /// ACL LOG RESET.
    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}
