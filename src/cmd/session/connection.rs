//! Connection commands: PING, ECHO, QUIT, RESET, SELECT, AUTH, HELLO, and CLIENT (whose
//! subcommands live in [`crate::cmd::session::client`]).
//!
//! Authentication follows Redis 7's ACL users (`state::acl`): `AUTH user pass`, and `AUTH
//! pass` for the `default` user, whose password is `requirepass`; while the default user is
//! "nopass" any password works for `AUTH default <pw>`, and the one-argument form is an
//! error. A failed attempt is logged in ACL LOG.

use bytes::Bytes;

use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::session::client::{apply_name, validate_name, CLIENT};
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::command;
use crate::resp::{Protocol, Reply};
use crate::state::client::ReplyMode;
use crate::util::number::parse_i64;

/// The Redis version HELLO reports; pika-rs follows its semantics.
pub const REDIS_COMPAT_VERSION: &str = "7.0.15";

/// Commands of this group.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("ping", -1, [FAST], KeySpec::None, [FAST, CONNECTION], "connection",
             "Returns the server's liveliness response.", ping),
    command!("echo", 2, [LOADING, STALE, FAST], KeySpec::None, [FAST, CONNECTION], "connection",
             "Returns the given string.", echo),
    command!("quit", -1, [NOSCRIPT, LOADING, STALE, FAST, NO_AUTH, ALLOW_BUSY], KeySpec::None, [FAST, CONNECTION], "connection",
             "Closes the connection.", quit),
    command!("reset", 1, [NOSCRIPT, LOADING, STALE, FAST, NO_AUTH, ALLOW_BUSY], KeySpec::None, [FAST, CONNECTION], "connection",
             "Resets the connection.", reset),
    command!("select", 2, [LOADING, STALE, FAST], KeySpec::None, [FAST, CONNECTION], "connection",
             "Changes the selected database.", select),
    command!("auth", -2, [NOSCRIPT, LOADING, STALE, FAST, NO_AUTH, ALLOW_BUSY], KeySpec::None, [FAST, CONNECTION], "connection",
             "Authenticates the connection.", auth, secrets: auth_secret_args),
    command!("hello", -1, [NOSCRIPT, LOADING, STALE, FAST, NO_AUTH, ALLOW_BUSY], KeySpec::None, [FAST, CONNECTION], "connection",
             "Handshakes with the Redis server.", hello, secrets: hello_secret_args),
    CLIENT,
];

fn ping(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    // A subscribed RESP2 client gets PING's answer as a message-shaped pair, as in Redis.
    if ctx.client.in_subscribed_mode() && argv.len() <= 2 {
        return Ok(Reply::Array(vec![
            Reply::bulk_from_slice(b"pong"),
            Reply::Bulk(argv.get(1).cloned().unwrap_or_default()),
        ]));
    }
    match argv.len() {
        1 => Ok(Reply::Simple("PONG".into())),
        2 => Ok(Reply::Bulk(argv[1].clone())),
        _ => Err(CmdError::WrongArity("ping".into())),
    }
}

fn echo(_: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Bulk(argv[1].clone()))
}

/// Replies +OK; the connection closes once that reply is written.
fn quit(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.client.close_after_reply();
    Ok(Reply::ok())
}

/// Back to a fresh connection's state: db 0, RESP2, replies on, no name, not protected from
/// eviction, no transaction or watched keys, and unauthenticated when a password is required.
fn reset(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let c = ctx.client;
    ctx.server.monitors.remove(c.id);
    ctx.server.pubsub.remove_client(c);
    ctx.server.tracking.disable(c);
    crate::cmd::session::multi::discard_state(ctx.server, c);
    c.set_db(0);
    c.set_protocol(Protocol::Resp2);
    // RESET ends CLIENT REPLY OFF; a RESET that a pending SKIP applies to stays silent.
    if c.reply_mode() == ReplyMode::Off {
        c.set_reply_mode(ReplyMode::On);
    }
    c.set_name(None);
    c.no_evict
        .store(false, std::sync::atomic::Ordering::Relaxed);
    c.set_user(ctx.server.acl.default_user());
    c.set_authenticated(ctx.server.acl.new_clients_authenticated());
    Ok(Reply::Simple("RESET".into()))
}

fn select(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    // Redis reads the index as a C int: anything outside i32 is "not an integer".
    let index = i32::try_from(args::int(&argv[1])?).map_err(|_| CmdError::NotInteger)?;
    if ctx.server.cluster.is_some() && index != 0 {
        return Err(CmdError::err("SELECT is not allowed in cluster mode"));
    }
    match usize::try_from(index) {
        Ok(db) if db < ctx.storage().databases() => {
            ctx.client.set_db(db);
            Ok(Reply::ok())
        }
        _ => Err(CmdError::err("DB index is out of range")),
    }
}

fn wrongpass() -> CmdError {
    CmdError::Other("WRONGPASS invalid username-password pair or user is disabled.".into())
}

/// Authenticates the client as `user`, or fails with WRONGPASS (leaving its state
/// unchanged) and logs the attempt. `command` is the command as typed, for the log.
fn authenticate(
    ctx: &Ctx<'_>,
    command: &[u8],
    user: &[u8],
    password: &[u8],
) -> Result<(), CmdError> {
    match ctx.server.acl.authenticate(user, password) {
        Some(found) => {
            ctx.client.set_user(found);
            ctx.client.set_authenticated(true);
            Ok(())
        }
        None => {
            let context = crate::cmd::gate::acl::context_of(ctx.client);
            crate::cmd::gate::acl::log(
                ctx.server,
                ctx.client,
                crate::state::acl::log::Reason::Auth,
                context,
                command.to_vec(),
                user.to_vec(),
            );
            Err(wrongpass())
        }
    }
}

fn auth(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (user, password): (&[u8], &[u8]) = match argv {
        [_, password] => {
            if ctx.server.acl.default_user().rules().nopass {
                return Err(CmdError::err(
                    "AUTH <password> called without any password configured for the default \
                     user. Are you sure your configuration is correct?",
                ));
            }
            (b"default", password)
        }
        [_, user, password] => (user, password),
        _ => return Err(CmdError::Syntax),
    };
    authenticate(ctx, &argv[0], user, password)?;
    Ok(Reply::ok())
}

/// Every argument of AUTH is a credential: the slow log and MONITOR show none of them. (Redis
/// leaves the arguments of a malformed AUTH with more than two unredacted; hiding them too
/// costs nothing and protects a mistyped command line.)
fn auth_secret_args(argv: &[Bytes]) -> Vec<usize> {
    (1..argv.len()).collect()
}

/// The user name and password after each `AUTH` option of HELLO, found the way [`hello`]
/// reads its options (a SETNAME value is skipped, so a client named "auth" stays visible).
/// Unlike Redis, scanning starts at the protocol version and goes on past an unknown option,
/// so a password is hidden even in a HELLO that fails (`HELLO AUTH user pass`, a typo).
fn hello_secret_args(argv: &[Bytes]) -> Vec<usize> {
    let mut secrets = Vec::new();
    let mut j = 1;
    while let Some(opt) = argv.get(j) {
        let more = argv.len() - 1 - j;
        if args::is(opt, "auth") && more >= 2 {
            secrets.extend([j + 1, j + 2]);
            j += 3;
        } else if args::is(opt, "setname") && more >= 1 {
            j += 2;
        } else {
            j += 1;
        }
    }
    secrets
}

/// `HELLO [protover [AUTH user pass] [SETNAME name]]`: switches protocol, optionally
/// authenticating and naming the connection, and describes the server.
fn hello(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut proto = ctx.client.protocol();
    if let Some(v) = argv.get(1) {
        proto = match parse_i64(v) {
            Some(2) => Protocol::Resp2,
            Some(3) => Protocol::Resp3,
            Some(_) => {
                return Err(CmdError::Other(
                    "NOPROTO unsupported protocol version".into(),
                ))
            }
            None => {
                return Err(CmdError::err(
                    "Protocol version is not an integer or out of range",
                ))
            }
        };
    }
    let mut credentials = None;
    let mut name = None;
    let mut j = 2;
    while let Some(opt) = argv.get(j) {
        let more = argv.len() - 1 - j;
        if args::is(opt, "auth") && more >= 2 {
            credentials = Some((&argv[j + 1], &argv[j + 2]));
            j += 3;
        } else if args::is(opt, "setname") && more >= 1 {
            validate_name(&argv[j + 1])?;
            name = Some(&argv[j + 1]);
            j += 2;
        } else {
            return Err(CmdError::err(format!(
                "Syntax error in HELLO option '{}'",
                args::text(opt)
            )));
        }
    }
    if let Some((user, password)) = credentials {
        authenticate(ctx, &argv[0], user, password)?;
    }
    if !ctx.client.is_authenticated() {
        return Err(CmdError::Other(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO AUTH <user> <pass> option can be used to authenticate the client and select \
             the RESP protocol version at the same time"
                .into(),
        ));
    }
    if let Some(name) = name {
        apply_name(ctx.client, name);
    }
    ctx.client.set_protocol(proto);
    let field = |k: &'static str| Reply::Bulk(Bytes::from_static(k.as_bytes()));
    Ok(Reply::Map(vec![
        (field("server"), field("redis")),
        (field("version"), field(REDIS_COMPAT_VERSION)),
        (
            field("proto"),
            Reply::Integer(if proto == Protocol::Resp3 { 3 } else { 2 }),
        ),
        (field("id"), Reply::Integer(ctx.client.id as i64)),
        (field("mode"), field("standalone")),
        (field("role"), field("master")),
        (field("modules"), Reply::Array(Vec::new())),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cmd::args::argv;

    #[test]
    fn hello_hides_only_auth_credentials() {
        let cases: &[(&[&str], &[usize])] = &[
            (&["hello"], &[]),
            (&["hello", "3"], &[]),
            (&["hello", "3", "auth", "u", "p"], &[3, 4]),
            (
                &["hello", "3", "setname", "auth", "auth", "u", "p"],
                &[5, 6],
            ),
            (&["hello", "3", "auth", "u"], &[]),
            // Failing HELLOs hide their credentials too.
            (&["hello", "auth", "u", "p"], &[2, 3]),
            (&["hello", "3", "bogus", "AUTH", "u", "p"], &[4, 5]),
        ];
        for (args, secret) in cases {
            assert_eq!(hello_secret_args(&argv(args)), *secret, "{args:?}");
        }
    }

    #[test]
    fn auth_hides_every_argument() {
        assert_eq!(auth_secret_args(&argv(&["auth", "p"])), [1]);
        assert_eq!(auth_secret_args(&argv(&["auth", "u", "p", "x"])), [1, 2, 3]);
    }
}
