//! Per-connection state shared by the connection task, the workers and the client registry.
//!
//! The connection task owns the socket; workers run the client's commands and may change its
//! state (SELECT, HELLO, AUTH, CLIENT SETNAME, QUIT). CLIENT LIST/KILL read and signal it from
//! other connections, so every field is atomic or behind a small mutex.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::resp::Protocol;
use crate::util::clock;

/// CLIENT REPLY modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ReplyMode {
    On = 0,
    Off = 1,
    /// Suppress the reply of the next command only.
    Skip = 2,
}

/// What a connection costs beside its buffers (client record, connection, task), for
/// CLIENT LIST's tot-mem.
const CLIENT_OVERHEAD_BYTES: usize = 2048;

/// One connected client.
pub struct Client {
    pub id: u64,
    pub addr: SocketAddr,
    pub local_addr: SocketAddr,
    pub created: Instant,
    db: AtomicUsize,
    resp3: AtomicBool,
    authenticated: AtomicBool,
    /// The ACL user the client runs as (`default` until AUTH names another).
    user: arc_swap::ArcSwap<super::acl::User>,
    /// The user's "unrestricted" flag as of the ACL epoch in `user_checked_epoch`.
    user_unrestricted: AtomicBool,
    user_checked_epoch: AtomicU64,
    reply_mode: AtomicU8,
    /// Bumped by every explicit change of the reply mode, so the worker can tell a command
    /// that set the mode (CLIENT REPLY ...) from one that ran under it.
    reply_mode_changes: AtomicU64,
    /// Set by QUIT and by a kill: the connection closes after the current replies.
    closing: AtomicBool,
    /// Wakes the connection task when another client kills this one.
    pub kill_signal: Notify,
    pub no_evict: AtomicBool,
    /// ASKING was sent: the next command may use a slot this cluster node is importing.
    pub asking: AtomicBool,
    /// READONLY was sent: a cluster replica serves reads of its master's slots.
    pub cluster_readonly: AtomicBool,
    name: Mutex<Option<Bytes>>,
    last_command: Mutex<String>,
    /// When the last command came, on the coarse monotonic clock (ms).
    last_interaction_ms: AtomicU64,
    /// Bytes waiting in the query buffer, for CLIENT LIST.
    pub query_buffer_len: AtomicUsize,
    /// Bytes allocated for the query buffer, for CLIENT LIST.
    pub query_buffer_capacity: AtomicUsize,
    /// Reply bytes the socket has not taken yet, for CLIENT LIST.
    pub output_buffer_len: AtomicUsize,
    /// Where out-of-band bytes (MONITOR lines) go; set by the connection at accept.
    pub sink: super::monitor::SinkSlot,
    /// Set by MONITOR; the worker registers the monitor once the +OK is out.
    monitor_requested: AtomicBool,
    /// Set by a blocking command that found nothing; the worker parks the client.
    block_request: Mutex<Option<BlockRequest>>,
    /// True while the client waits in a blocking command (CLIENT LIST flag `b`).
    pub blocked: AtomicBool,
    /// True while a parked command runs again because one of its keys was signalled: XREADGROUP
    /// then fails when its stream or group vanished, where a first run would not block.
    pub resumed: AtomicBool,
    /// Client-side caching (CLIENT TRACKING) of this connection.
    pub tracking: super::tracking::ClientTracking,
    /// The open MULTI transaction, if any.
    transaction: Mutex<Option<Transaction>>,
    /// Pub/Sub channels and patterns (see `state::pubsub`); change them through
    /// `update_subscriptions`, which keeps `subscription_count` in step.
    pub subscriptions: Mutex<super::pubsub::Subscriptions>,
    /// Channels plus patterns subscribed, readable without the lock on every command.
    subscription_count: AtomicUsize,
    /// True while EXEC runs the client's queued commands (blocking commands do not block).
    executing: AtomicBool,
    /// Set by PIKA-REPLICATE: the connection becomes a replication link (the slave's listening
    /// port); the network task hands the socket over once the +OK is out.
    replica_port: Mutex<Option<u16>>,
    /// Set on the client that applies a Redis master's command stream: its writes are the
    /// master's, so a read-only replica accepts them.
    master_link: AtomicBool,
    /// The port a Redis replica announced (`REPLCONF listening-port`).
    announced_port: Mutex<Option<u16>>,
    /// Set by PSYNC: the connection becomes a Redis replica's link, with what it was answered;
    /// the network task hands the socket over once the answer is out.
    redis_replica: Mutex<Option<(crate::replication::redis_feed::PsyncAnswer, u64)>>,
}

/// Commands queued between MULTI and EXEC.
#[derive(Debug, Default)]
pub struct Transaction {
    pub queued: Vec<Vec<Bytes>>,
    /// A command was rejected while queueing: EXEC fails with EXECABORT.
    pub failed: bool,
}

/// What a blocking command waits for (see `Ctx::block`).
#[derive(Debug, Clone)]
pub struct BlockRequest {
    /// The keys whose data would let the command complete.
    pub keys: Vec<Bytes>,
    /// When to give up; `None` waits forever.
    pub deadline: Option<Instant>,
    /// The reply sent when the deadline passes.
    pub on_timeout: crate::resp::Reply,
    /// The command to run again instead of the original one, when its arguments depend on
    /// the moment it blocked (XREAD's `$` becomes the stream's last id then).
    pub rerun_argv: Option<Vec<Bytes>>,
}

impl Client {
    /// A new client, authenticated from the start when no password is configured.
    pub fn new(
        id: u64,
        addr: SocketAddr,
        local_addr: SocketAddr,
        authenticated: bool,
        user: std::sync::Arc<super::acl::User>,
    ) -> Client {
        Client {
            id,
            addr,
            local_addr,
            created: Instant::now(),
            db: AtomicUsize::new(0),
            resp3: AtomicBool::new(false),
            authenticated: AtomicBool::new(authenticated),
            user: arc_swap::ArcSwap::new(user),
            user_unrestricted: AtomicBool::new(false),
            // No epoch yet: the first check reads the user's flag.
            user_checked_epoch: AtomicU64::new(u64::MAX),
            reply_mode: AtomicU8::new(ReplyMode::On as u8),
            reply_mode_changes: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            kill_signal: Notify::new(),
            no_evict: AtomicBool::new(false),
            asking: AtomicBool::new(false),
            cluster_readonly: AtomicBool::new(false),
            name: Mutex::new(None),
            last_command: Mutex::new(String::from("NULL")),
            last_interaction_ms: AtomicU64::new(clock::monotonic_ms_coarse()),
            query_buffer_len: AtomicUsize::new(0),
            query_buffer_capacity: AtomicUsize::new(0),
            output_buffer_len: AtomicUsize::new(0),
            sink: super::monitor::SinkSlot::new(),
            monitor_requested: AtomicBool::new(false),
            block_request: Mutex::new(None),
            blocked: AtomicBool::new(false),
            resumed: AtomicBool::new(false),
            transaction: Mutex::new(None),
            tracking: Default::default(),
            subscriptions: Mutex::new(Default::default()),
            subscription_count: AtomicUsize::new(0),
            executing: AtomicBool::new(false),
            replica_port: Mutex::new(None),
            master_link: AtomicBool::new(false),
            announced_port: Mutex::new(None),
            redis_replica: Mutex::new(None),
        }
    }

    /// Records the port a Redis replica announced.
    pub fn set_announced_port(&self, port: u16) {
        *self.announced_port.lock() = Some(port);
    }

    /// The port a Redis replica announced, if any.
    pub fn announced_port(&self) -> Option<u16> {
        *self.announced_port.lock()
    }

    /// Asks for the connection to be handed to a Redis replica's sender (see
    /// `replication::redis_replica`).
    /// `reader`: the replica's place in the stream (`RedisFeed::psync`).
    pub fn request_redis_replica_handover(
        &self,
        answer: crate::replication::redis_feed::PsyncAnswer,
        reader: u64,
    ) {
        *self.redis_replica.lock() = Some((answer, reader));
    }

    /// True when PSYNC asked for the connection to be handed over.
    pub fn wants_redis_replica_handover(&self) -> bool {
        self.redis_replica.lock().is_some()
    }

    /// Takes the PSYNC answer of a connection to hand over.
    pub fn take_redis_replica_handover(
        &self,
    ) -> Option<(crate::replication::redis_feed::PsyncAnswer, u64)> {
        self.redis_replica.lock().take()
    }

    /// Marks this client as the one applying a Redis master's stream (see `master_link`).
    pub fn set_master_link(&self) {
        self.master_link.store(true, Ordering::Relaxed);
    }

    /// True for the client applying a Redis master's stream.
    pub fn is_master_link(&self) -> bool {
        self.master_link.load(Ordering::Relaxed)
    }

    /// True in RESP2 while subscribed: only (P)(UN)SUBSCRIBE, PING, QUIT and RESET run.
    pub fn in_subscribed_mode(&self) -> bool {
        self.subscription_count.load(Ordering::Relaxed) > 0 && self.protocol() == Protocol::Resp2
    }

    /// True while subscribed to any channel or pattern (the `pubsub` output limit class).
    pub fn is_subscribed(&self) -> bool {
        self.subscription_count.load(Ordering::Relaxed) > 0
    }

    /// Changes this client's subscriptions.
    pub fn update_subscriptions<R>(
        &self,
        f: impl FnOnce(&mut super::pubsub::Subscriptions) -> R,
    ) -> R {
        let mut subs = self.subscriptions.lock();
        let result = f(&mut subs);
        self.subscription_count
            .store(subs.total(), Ordering::Relaxed);
        result
    }

    pub fn db(&self) -> usize {
        self.db.load(Ordering::Relaxed)
    }

    pub fn set_db(&self, db: usize) {
        self.db.store(db, Ordering::Relaxed);
    }

    pub fn protocol(&self) -> Protocol {
        if self.resp3.load(Ordering::Relaxed) {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        }
    }

    pub fn set_protocol(&self, p: Protocol) {
        self.resp3.store(p == Protocol::Resp3, Ordering::Relaxed);
    }

    pub fn is_authenticated(&self) -> bool {
        self.authenticated.load(Ordering::Relaxed)
    }

    pub fn set_authenticated(&self, v: bool) {
        self.authenticated.store(v, Ordering::Relaxed);
    }

    /// The ACL user the client runs as.
    pub fn user(&self) -> std::sync::Arc<super::acl::User> {
        self.user.load_full()
    }

    /// True when the client's user may run anything (the ACL check is skipped). Cached
    /// until the ACL epoch moves (a SETUSER, LOAD or AUTH anywhere), so the usual cost is
    /// two atomic loads.
    pub fn user_unrestricted(&self) -> bool {
        let epoch = super::acl::rules_epoch();
        if self.user_checked_epoch.load(Ordering::Acquire) == epoch {
            return self.user_unrestricted.load(Ordering::Relaxed);
        }
        let unrestricted = self.user.load().unrestricted();
        self.user_unrestricted
            .store(unrestricted, Ordering::Relaxed);
        self.user_checked_epoch.store(epoch, Ordering::Release);
        unrestricted
    }

    /// Makes the client run as `user` (AUTH, HELLO AUTH, RESET, a deleted user).
    pub fn set_user(&self, user: std::sync::Arc<super::acl::User>) {
        self.user.store(user);
        super::acl::bump_rules_epoch();
    }

    pub fn reply_mode(&self) -> ReplyMode {
        match self.reply_mode.load(Ordering::Relaxed) {
            1 => ReplyMode::Off,
            2 => ReplyMode::Skip,
            _ => ReplyMode::On,
        }
    }

    pub fn set_reply_mode(&self, m: ReplyMode) {
        self.reply_mode.store(m as u8, Ordering::Relaxed);
        self.reply_mode_changes.fetch_add(1, Ordering::Relaxed);
    }

    /// How many times the reply mode was set explicitly.
    pub fn reply_mode_changes(&self) -> u64 {
        self.reply_mode_changes.load(Ordering::Relaxed)
    }

    /// Ends a pending skip as the command it applies to starts (not an explicit change).
    pub fn consume_skip(&self) {
        let _ = self.reply_mode.compare_exchange(
            ReplyMode::Skip as u8,
            ReplyMode::On as u8,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Asks the connection to close once pending replies are written.
    pub fn close_after_reply(&self) {
        self.closing.store(true, Ordering::Relaxed);
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Relaxed)
    }

    /// CLIENT KILL: mark closing and wake the connection task.
    pub fn kill(&self) {
        self.close_after_reply();
        self.kill_signal.notify_one();
    }

    /// MONITOR: asks to be registered as a monitor after the current replies.
    pub fn request_monitor(&self) {
        self.monitor_requested.store(true, Ordering::Relaxed);
    }

    /// A blocking command asks to wait (see `Ctx::block`).
    pub fn request_block(&self, request: BlockRequest) {
        *self.block_request.lock() = Some(request);
    }

    /// True when the command that just ran asked to wait (it is not finished yet).
    pub fn has_block_request(&self) -> bool {
        self.block_request.lock().is_some()
    }

    /// Takes a pending block request.
    pub fn take_block_request(&self) -> Option<BlockRequest> {
        self.block_request.lock().take()
    }

    /// Takes a pending MONITOR request.
    /// Asks for the connection to be handed to replication (see `replication::master`).
    pub fn request_replica_handover(&self, listening_port: u16) {
        *self.replica_port.lock() = Some(listening_port);
    }

    /// The listening port of a slave whose connection must be handed over, if requested.
    pub fn replica_handover(&self) -> Option<u16> {
        *self.replica_port.lock()
    }

    pub fn take_monitor_request(&self) -> bool {
        self.monitor_requested.swap(false, Ordering::Relaxed)
    }

    /// The MULTI state (None outside a transaction), locked for inspection or change.
    pub fn transaction(&self) -> parking_lot::MutexGuard<'_, Option<Transaction>> {
        self.transaction.lock()
    }

    /// True between MULTI and EXEC/DISCARD.
    pub fn in_multi(&self) -> bool {
        self.transaction.lock().is_some()
    }

    /// Marks whether EXEC is running the client's queued commands.
    pub fn set_executing(&self, v: bool) {
        self.executing.store(v, Ordering::Relaxed);
    }

    /// True while EXEC runs the client's queued commands.
    pub fn is_executing(&self) -> bool {
        self.executing.load(Ordering::Relaxed)
    }

    pub fn name(&self) -> Option<Bytes> {
        self.name.lock().clone()
    }

    pub fn set_name(&self, name: Option<Bytes>) {
        *self.name.lock() = name;
    }

    /// Records the command being run, for CLIENT LIST's `cmd=` and `idle=`.
    pub fn touch(&self, command: &str) {
        let mut last = self.last_command.lock();
        if last.as_str() != command {
            last.clear();
            last.push_str(command);
        }
        self.last_interaction_ms
            .store(clock::monotonic_ms_coarse(), Ordering::Relaxed);
    }

    pub fn last_command(&self) -> String {
        self.last_command.lock().clone()
    }

    /// Seconds since the last command.
    pub fn idle_secs(&self) -> u64 {
        let now = clock::monotonic_ms_coarse();
        now.saturating_sub(self.last_interaction_ms.load(Ordering::Relaxed)) / 1000
    }

    /// (query buffer bytes, unread reply bytes, memory the connection holds in all), as
    /// CLIENT LIST's qbuf, omem and tot-mem.
    pub fn buffer_figures(&self) -> (usize, usize, usize) {
        let qbuf = self.query_buffer_len.load(Ordering::Relaxed);
        let qbuf_capacity = self.query_buffer_capacity.load(Ordering::Relaxed).max(qbuf);
        let omem = self.output_buffer_len.load(Ordering::Relaxed);
        (qbuf, omem, CLIENT_OVERHEAD_BYTES + qbuf_capacity + omem)
    }

    /// One line of CLIENT LIST / CLIENT INFO, with Redis' field names.
    pub fn info_line(&self) -> String {
        let name = self
            .name()
            .map(|n| String::from_utf8_lossy(&n).into_owned())
            .unwrap_or_default();
        let qbuf = self.query_buffer_len.load(Ordering::Relaxed);
        let qbuf_capacity = self.query_buffer_capacity.load(Ordering::Relaxed).max(qbuf);
        let omem = self.output_buffer_len.load(Ordering::Relaxed);
        let (sub, psub) = {
            let subs = self.subscriptions.lock();
            (subs.channels.len(), subs.patterns.len())
        };
        let multi = self
            .transaction
            .lock()
            .as_ref()
            .map_or(-1, |t| t.queued.len() as i64);
        let mut flags = String::new();
        if multi >= 0 {
            flags.push('x');
        }
        if self.blocked.load(Ordering::Relaxed) {
            flags.push('b');
        }
        self.tracking.list_flags(&mut flags);
        if flags.is_empty() {
            flags.push('N');
        }
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db={} sub={} psub={} \
             ssub=0 multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll={} \
             omem={} tot-mem={} events=r cmd={} user={} redir={} resp={}",
            self.id,
            self.addr,
            self.local_addr,
            name,
            self.created.elapsed().as_secs(),
            self.idle_secs(),
            flags,
            self.db(),
            sub,
            psub,
            multi,
            qbuf,
            qbuf_capacity - qbuf,
            usize::from(omem > 0),
            omem,
            CLIENT_OVERHEAD_BYTES + qbuf_capacity + omem,
            self.last_command(),
            self.user.load().name_text(),
            self.tracking.redirect_id(),
            if self.protocol() == Protocol::Resp3 {
                3
            } else {
                2
            },
        )
    }
}
