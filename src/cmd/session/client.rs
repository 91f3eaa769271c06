//! CLIENT and its subcommands: identity (ID, SETNAME, GETNAME), introspection (LIST, INFO),
//! control of other connections (KILL, UNBLOCK) and of this one (REPLY, NO-EVICT); client-side
//! caching (TRACKING, CACHING, GETREDIR, TRACKINGINFO) is in `client_tracking`.
//!
//! Clients live in the registry of [`crate::state::ServerState`]; killing one marks it closing
//! and wakes its connection task, which closes the socket. Replies and error texts are Redis
//! 7.0's (`clientCommand` in `networking.c`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::command;
use crate::resp::Reply;
use crate::state::client::{Client, ReplyMode};
use crate::util::number::parse_i64;

/// The CLIENT container; connection.rs lists it among the group's commands.
pub const CLIENT: CommandSpec = command!(
    "client", -2, [], KeySpec::None, [SLOW], "connection",
    "A container for client connection commands.", container,
    subcommands: SUBCOMMANDS
);

#[rustfmt::skip]
const SUBCOMMANDS: &[CommandSpec] = &[
    command!("client|id", 2, [NOSCRIPT, LOADING, STALE], KeySpec::None, [SLOW, CONNECTION], "connection",
             "Returns the unique client ID of the connection.", id),
    command!("client|setname", 3, [NOSCRIPT, LOADING, STALE], KeySpec::None, [SLOW, CONNECTION], "connection",
             "Sets the connection name.", setname),
    command!("client|getname", 2, [NOSCRIPT, LOADING, STALE], KeySpec::None, [SLOW, CONNECTION], "connection",
             "Returns the name of the connection.", getname),
    command!("client|list", -2, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None, [ADMIN, SLOW, DANGEROUS, CONNECTION], "connection",
             "Lists open connections.", list),
    command!("client|info", 2, [NOSCRIPT, LOADING, STALE], KeySpec::None, [SLOW, CONNECTION], "connection",
             "Returns information about the connection.", info),
    command!("client|kill", -3, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None, [ADMIN, SLOW, DANGEROUS, CONNECTION], "connection",
             "Terminates open connections.", kill),
    command!("client|no-evict", 3, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None, [ADMIN, SLOW, DANGEROUS, CONNECTION], "connection",
             "Sets the client eviction mode of the connection.", no_evict),
    command!("client|pause", -3, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None, [ADMIN, SLOW, DANGEROUS, CONNECTION], "connection",
             "Suspends commands processing.", pause),
    command!("client|unpause", 2, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None, [ADMIN, SLOW, DANGEROUS, CONNECTION], "connection",
             "Resumes processing of clients that were paused.", unpause),
    command!("client|reply", 3, [NOSCRIPT, LOADING, STALE], KeySpec::None, [SLOW, CONNECTION], "connection",
             "Instructs the server whether to reply to commands.", reply),
    command!("client|unblock", -3, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None, [ADMIN, SLOW, DANGEROUS, CONNECTION], "connection",
             "Unblocks a client blocked by a blocking command from a different connection.", unblock),
    command!("client|tracking", -3, [NOSCRIPT, LOADING, STALE], KeySpec::None, [SLOW, CONNECTION], "connection",
             "Enable or disable server assisted client side caching support", super::client_tracking::tracking),
    command!("client|caching", 3, [NOSCRIPT, LOADING, STALE], KeySpec::None, [SLOW, CONNECTION], "connection",
             "Instruct the server about tracking or not keys in the next request", super::client_tracking::caching),
    command!("client|getredir", 2, [NOSCRIPT, LOADING, STALE], KeySpec::None, [SLOW, CONNECTION], "connection",
             "Get tracking notifications redirection client ID if any", super::client_tracking::getredir),
    command!("client|trackinginfo", 2, [NOSCRIPT, LOADING, STALE], KeySpec::None, [SLOW, CONNECTION], "connection",
             "Return information about server assisted client side caching for the current connection", super::client_tracking::trackinginfo),
    command!("client|help", 2, [LOADING, STALE], KeySpec::None, [SLOW, CONNECTION], "connection",
             "Returns helpful text about the different subcommands.", help),
];

/// Never runs: the dispatcher always resolves CLIENT to one of its subcommands.
fn container(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Err(CmdError::err("unknown subcommand. Try CLIENT HELP."))
}

fn id(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(ctx.client.id as i64))
}

/// Redis accepts names made of printable ASCII without spaces ('!'..='~'); empty clears.
pub(crate) fn validate_name(name: &[u8]) -> Result<(), CmdError> {
    if name.iter().all(|&b| (b'!'..=b'~').contains(&b)) {
        Ok(())
    } else {
        Err(CmdError::err(
            "Client names cannot contain spaces, newlines or special characters.",
        ))
    }
}

/// Sets (or, for an empty name, clears) the name of `client`; the name was validated.
pub(crate) fn apply_name(client: &Client, name: &Bytes) {
    client.set_name((!name.is_empty()).then(|| name.clone()));
}

fn setname(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    validate_name(&argv[2])?;
    apply_name(ctx.client, &argv[2]);
    Ok(Reply::ok())
}

fn getname(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(ctx.client.name().map_or(Reply::Null, Reply::Bulk))
}

/// Client types of CLIENT LIST/KILL TYPE. Every connection here is a normal one (no
/// replication links or pub/sub tracking are visible to this module), so only `normal`
/// matches anything.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Other,
}

fn client_type(arg: &[u8]) -> Result<ClientType, CmdError> {
    if args::is(arg, "normal") {
        Ok(ClientType::Normal)
    } else if ["master", "slave", "replica", "pubsub"]
        .iter()
        .any(|t| args::is(arg, t))
    {
        Ok(ClientType::Other)
    } else {
        Err(CmdError::err(format!(
            "Unknown client type '{}'",
            args::text(arg)
        )))
    }
}

/// A snapshot of the registry, so no lock is held while formatting or killing.
fn all_clients(ctx: &Ctx<'_>) -> Vec<Arc<Client>> {
    ctx.server.clients.lock().values().cloned().collect()
}

fn list(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut out = String::new();
    if argv.len() == 4 && args::is(&argv[2], "type") {
        if client_type(&argv[3])? == ClientType::Normal {
            for c in all_clients(ctx) {
                out.push_str(&c.info_line());
                out.push('\n');
            }
        }
    } else if argv.len() > 3 && args::is(&argv[2], "id") {
        let mut ids = Vec::with_capacity(argv.len() - 3);
        for a in &argv[3..] {
            ids.push(parse_i64(a).ok_or_else(|| CmdError::err("Invalid client ID"))?);
        }
        for cid in ids {
            let found = u64::try_from(cid)
                .ok()
                .and_then(|cid| ctx.server.clients.lock().get(&cid).cloned());
            if let Some(c) = found {
                out.push_str(&c.info_line());
                out.push('\n');
            }
        }
    } else if argv.len() != 2 {
        return Err(CmdError::Syntax);
    } else {
        for c in all_clients(ctx) {
            out.push_str(&c.info_line());
            out.push('\n');
        }
    }
    Ok(Reply::Verbatim(Bytes::from(out)))
}

fn info(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let mut line = ctx.client.info_line();
    line.push('\n');
    Ok(Reply::Verbatim(Bytes::from(line)))
}

/// The filters of `CLIENT KILL <filter> <value> ...`.
struct KillFilter {
    id: Option<u64>,
    kind: Option<ClientType>,
    addr: Option<Bytes>,
    laddr: Option<Bytes>,
    user: Option<std::sync::Arc<crate::state::acl::User>>,
    skip_me: bool,
}

impl KillFilter {
    fn parse(ctx: &Ctx<'_>, argv: &[Bytes]) -> Result<KillFilter, CmdError> {
        let mut f = KillFilter {
            id: None,
            kind: None,
            addr: None,
            laddr: None,
            user: None,
            skip_me: true,
        };
        let mut i = 2;
        while i < argv.len() {
            let opt = &argv[i];
            let Some(value) = argv.get(i + 1) else {
                return Err(CmdError::Syntax);
            };
            if args::is(opt, "id") {
                let id = parse_i64(value)
                    .filter(|&v| v >= 1)
                    .ok_or_else(|| CmdError::err("client-id should be greater than 0"))?;
                f.id = Some(id as u64);
            } else if args::is(opt, "type") {
                f.kind = Some(client_type(value)?);
            } else if args::is(opt, "addr") {
                f.addr = Some(value.clone());
            } else if args::is(opt, "laddr") {
                f.laddr = Some(value.clone());
            } else if args::is(opt, "user") {
                let user = ctx.server.acl.user(value).ok_or_else(|| {
                    CmdError::err(format!("No such user '{}'", args::text(value)))
                })?;
                f.user = Some(user);
            } else if args::is(opt, "skipme") {
                f.skip_me = if args::is(value, "yes") {
                    true
                } else if args::is(value, "no") {
                    false
                } else {
                    return Err(CmdError::Syntax);
                };
            } else {
                return Err(CmdError::Syntax);
            }
            i += 2;
        }
        Ok(f)
    }

    fn matches(&self, c: &Client, me: u64) -> bool {
        if self.id.is_some_and(|id| id != c.id) {
            return false;
        }
        if self.kind.is_some_and(|k| k != ClientType::Normal) {
            return false;
        }
        if let Some(a) = &self.addr {
            if a.as_ref() != c.addr.to_string().as_bytes() {
                return false;
            }
        }
        if let Some(a) = &self.laddr {
            if a.as_ref() != c.local_addr.to_string().as_bytes() {
                return false;
            }
        }
        if let Some(u) = &self.user {
            if !std::sync::Arc::ptr_eq(u, &c.user()) {
                return false;
            }
        }
        !(self.skip_me && c.id == me)
    }
}

/// Closes `victim`: this connection after its reply, any other one right away.
fn kill_client(ctx: &Ctx<'_>, victim: &Client) {
    if victim.id == ctx.client.id {
        ctx.client.close_after_reply();
    } else {
        victim.kill();
        // Forget it now so CLIENT LIST and INFO stop showing it; its task unregisters too.
        ctx.server.unregister_client(victim.id);
    }
}

fn kill(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() == 3 {
        // Old form: CLIENT KILL ip:port, which may also kill the caller.
        let addr = argv[2].as_ref();
        let victims: Vec<_> = all_clients(ctx)
            .into_iter()
            .filter(|c| c.addr.to_string().as_bytes() == addr)
            .collect();
        if victims.is_empty() {
            return Err(CmdError::err("No such client"));
        }
        for v in &victims {
            kill_client(ctx, v);
        }
        return Ok(Reply::ok());
    }
    let filter = KillFilter::parse(ctx, argv)?;
    let mut killed = 0;
    for c in all_clients(ctx) {
        if filter.matches(&c, ctx.client.id) {
            kill_client(ctx, &c);
            killed += 1;
        }
    }
    Ok(Reply::Integer(killed))
}

/// Parses `on` / `off` (anything else is a syntax error).
fn on_off(arg: &[u8]) -> Result<bool, CmdError> {
    if args::is(arg, "on") {
        Ok(true)
    } else if args::is(arg, "off") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

fn no_evict(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let on = on_off(&argv[2])?;
    ctx.client.no_evict.store(on, Ordering::Relaxed);
    Ok(Reply::ok())
}

/// CLIENT PAUSE timeout [WRITE|ALL]: commands (ALL, the default) or writes (WRITE) wait
/// for `timeout` ms.
fn pause(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 4 {
        return Err(CmdError::Syntax);
    }
    let timeout = args::int(&argv[2])
        .map_err(|_| CmdError::err("timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    let all = match argv.get(3) {
        None => true,
        Some(a) if args::is(a, "all") => true,
        Some(a) if args::is(a, "write") => false,
        Some(_) => return Err(CmdError::Syntax),
    };
    let until = crate::util::clock::unix_ms().saturating_add(timeout as u64);
    ctx.server.pause.pause(until, all, &ctx.server.storage);
    Ok(Reply::ok())
}

/// CLIENT UNPAUSE: paused clients run now.
fn unpause(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.server.pause.unpause(&ctx.server.storage);
    Ok(Reply::ok())
}

/// The worker pool applies the mode: it drops the replies of OFF and of the command after
/// SKIP (and of CLIENT REPLY OFF/SKIP themselves).
fn reply(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let arg = &argv[2];
    if args::is(arg, "on") {
        ctx.client.set_reply_mode(ReplyMode::On);
    } else if args::is(arg, "off") {
        ctx.client.set_reply_mode(ReplyMode::Off);
    } else if args::is(arg, "skip") {
        // SKIP while OFF stays OFF, as in Redis.
        if ctx.client.reply_mode() != ReplyMode::Off {
            ctx.client.set_reply_mode(ReplyMode::Skip);
        }
    } else {
        return Err(CmdError::Syntax);
    }
    Ok(Reply::ok())
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: answers a client parked in a blocking command as if its
/// timeout passed (or with an -UNBLOCKED error); 1 if it was blocked.
fn unblock(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 4 {
        return Err(CmdError::err(
            "unknown subcommand or wrong number of arguments for 'unblock'. Try CLIENT HELP.",
        ));
    }
    let mut with_error = false;
    if let Some(reason) = argv.get(3) {
        with_error = args::is(reason, "error");
        if !args::is(reason, "timeout") && !with_error {
            return Err(CmdError::err(
                "CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ));
        }
    }
    let id = args::int(&argv[2])?;
    let Ok(id) = u64::try_from(id) else {
        return Ok(Reply::Integer(0));
    };
    let done = ctx
        .server
        .blocking
        .unblock(&ctx.server.storage.ready, id, with_error);
    Ok(Reply::Integer(i64::from(done)))
}

const HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "    * ID <id> [<id> ...]",
    "      Return clients with the given IDs.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "HELP",
    "    Print this help.",
];

fn help(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Array(
        HELP.iter().map(|l| Reply::Simple((*l).into())).collect(),
    ))
}
