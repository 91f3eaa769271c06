//! Commands: parsing of arguments, calls into storage, and reply values.
//!
//! Every command is a synchronous function `fn(&mut Ctx, &[Bytes]) -> CmdResult` listed in the
//! declarative [`gate::table`]. The [`gate::dispatch`] gate is the one place that checks arity
//! and authentication, takes key locks, records statistics and the slow log, and turns
//! [`CmdError`]s into Redis error replies. Handlers never touch sockets.
//!
//! - [`gate`]: the table, command specs (arity, flags, key positions), the dispatcher;
//! - [`types`]: commands on data, one module per Redis type, named after it (`strings`,
//!   `hashes`, `lists`, `sets`, `sorted_sets`, `bitmaps`, `hyperloglog`, `geo`), type-independent `keys`,
//!   `sort`;
//! - [`session`]: the client's own connection (`connection`: PING, AUTH, SELECT, HELLO...),
//!   CLIENT, MULTI/EXEC/WATCH, pub/sub;
//! - [`admin`]: INFO, CONFIG, COMMAND, DEBUG, MEMORY, FUNCTION, replication, saving.
//!
//! Handlers reach storage through the views of [`Ctx`] (`ctx.hash().set(..)`), which carry
//! the client's database and the command's name to the write path.

pub mod admin;
pub mod args;
pub mod gate;
pub mod scripting;
pub mod session;
pub mod types;

use std::borrow::Cow;

use bytes::Bytes;

use crate::resp::Reply;
use crate::state::client::Client;
use crate::state::ServerState;
use crate::storage::types::{
    Hashes, Keyspace, Lists, Scope, Sets, Streams, Strings, Writer, Zsets,
};
use crate::storage::StorageError;
pub use crate::util::keyspace_events::EventClasses;

/// What a command sees: the shared server state and its own client.
pub struct Ctx<'a> {
    pub server: &'a ServerState,
    pub client: &'a Client,
    /// The running command, named in the binlog note of what it writes.
    pub writer: Writer<'a>,
}

impl Ctx<'_> {
    /// The client's selected database.
    pub fn db(&self) -> usize {
        self.client.db()
    }

    /// The storage.
    pub fn storage(&self) -> &crate::storage::Storage {
        &self.server.storage
    }

    /// The client's selected database as this command sees it.
    pub fn scope(&self) -> Scope<'_> {
        self.server.storage.at(self.db(), self.writer)
    }

    /// Strings of the selected database.
    pub fn strings(&self) -> Strings<'_> {
        self.scope().strings()
    }

    /// Hashes of the selected database.
    pub fn hash(&self) -> Hashes<'_> {
        self.scope().hash()
    }

    /// Lists of the selected database.
    pub fn list(&self) -> Lists<'_> {
        self.scope().list()
    }

    /// Sets of the selected database.
    pub fn set(&self) -> Sets<'_> {
        self.scope().set()
    }

    /// Sorted sets of the selected database.
    pub fn zset(&self) -> Zsets<'_> {
        self.scope().zset()
    }

    /// Streams of the selected database.
    pub fn stream(&self) -> Streams<'_> {
        self.scope().stream()
    }

    /// Keys of the selected database, whatever their type.
    pub fn keys(&self) -> Keyspace<'_> {
        self.scope().keys()
    }

    /// Publishes keyspace notification `event` of `class` on `key` of the client's database;
    /// with the class off this is one atomic load. Handlers call it after their write landed.
    #[inline]
    pub fn notify(&self, class: EventClasses, event: &str, key: &[u8]) {
        let notifier = &self.server.storage.notifier;
        if notifier.wants(class) {
            notifier.emit(class, event, self.db(), key);
        }
    }

    /// [`Ctx::notify`] for a key of logical database `db` (COPY and MOVE write to another).
    pub fn notify_in(&self, db: usize, class: EventClasses, event: &str, key: &[u8]) {
        self.server.storage.notifier.emit(class, event, db, key);
    }

    /// True when events of `class` publish (to skip gathering what only they need).
    #[inline]
    pub fn notifies(&self, class: EventClasses) -> bool {
        self.server.storage.notifier.wants(class)
    }

    /// After a command took elements out of `key`: publishes `del` when that emptied the
    /// collection and so removed the key (a read only while generic events are on).
    pub fn notify_if_emptied(&self, key: &[u8]) -> Result<(), CmdError> {
        if self.server.storage.notifier.wants(EventClasses::GENERIC)
            && self.keys().state(key)?.live().is_none()
        {
            self.notify(EventClasses::GENERIC, "del", key);
        }
        Ok(())
    }

    /// Whether `key` exists now, asked only while generic events are on: a store command that
    /// finds an empty result publishes `del` only if it removed a destination.
    pub fn exists_for_notify(&self, key: &[u8]) -> Result<bool, CmdError> {
        Ok(self.server.storage.notifier.wants(EventClasses::GENERIC)
            && self.keys().state(key)?.live().is_some())
    }

    /// The events of a command that stored its result at `dst`: `event` when it stored
    /// something, `del` when the result was empty and removed a destination that `existed`.
    pub fn notify_stored(
        &self,
        class: EventClasses,
        event: &str,
        dst: &[u8],
        stored: bool,
        existed: bool,
    ) {
        if stored {
            self.notify(class, event, dst);
        } else if existed {
            self.notify(EventClasses::GENERIC, "del", dst);
        }
    }

    /// Makes a blocking command wait: call it when none of `keys` has data, and return its
    /// result. The client is parked without holding a worker; when one of the keys receives
    /// data the *whole command runs again* (so the handler needs no special wake-up path), and
    /// when `timeout` passes (`None`: never) the client gets `on_timeout`. The first call's
    /// deadline stands across re-runs.
    pub fn block(
        &self,
        keys: &[Bytes],
        timeout: Option<std::time::Duration>,
        on_timeout: Reply,
    ) -> CmdResult {
        self.block_as(keys, timeout, on_timeout, None)
    }

    /// [`Ctx::block`], running `rerun_argv` instead of the original command when a key gets
    /// data (XREAD pins `$` to the id it stood for when the client blocked).
    pub fn block_as(
        &self,
        keys: &[Bytes],
        timeout: Option<std::time::Duration>,
        on_timeout: Reply,
        rerun_argv: Option<Vec<Bytes>>,
    ) -> CmdResult {
        // Inside EXEC nothing waits: the command answers as if it timed out.
        if self.client.is_executing() {
            return Ok(on_timeout);
        }
        self.client
            .request_block(crate::state::client::BlockRequest {
                keys: keys.to_vec(),
                deadline: timeout.map(|t| std::time::Instant::now() + t),
                on_timeout,
                rerun_argv,
            });
        // Not sent: the worker sees the request and parks the client instead.
        Ok(Reply::Null)
    }
}

/// Why a command failed; [`CmdError::reply_text`] has the exact Redis wording.
#[derive(Debug, thiserror::Error)]
pub enum CmdError {
    #[error("ERR syntax error")]
    Syntax,
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(String),
    #[error("{0}")]
    Storage(StorageError),
    /// Any other error; the text includes its code (`ERR ...`, `NOAUTH ...`).
    #[error("{0}")]
    Other(Cow<'static, str>),
}

impl From<StorageError> for CmdError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::WrongType => CmdError::WrongType,
            other => CmdError::Storage(other),
        }
    }
}

impl CmdError {
    /// An `ERR`-coded error with a message.
    pub fn err(msg: impl Into<String>) -> CmdError {
        CmdError::Other(Cow::Owned(format!("ERR {}", msg.into())))
    }

    /// The text of the error reply.
    pub fn reply_text(&self) -> Cow<'static, str> {
        match self {
            CmdError::Other(s) => s.clone(),
            CmdError::Storage(StorageError::DbOutOfRange) => "ERR DB index is out of range".into(),
            CmdError::Storage(e) => format!("ERR {e}").into(),
            other => other.to_string().into(),
        }
    }
}

/// The result of a command.
pub type CmdResult = Result<Reply, CmdError>;
