//! Pub/Sub commands: (P)SUBSCRIBE, (P)UNSUBSCRIBE, PUBLISH and PUBSUB. The registry and
//! delivery live in `state::pubsub`.

use bytes::Bytes;

use crate::cmd::gate::spec::{CommandSpec, KeyEnd, KeySpec};
use crate::cmd::{CmdResult, Ctx};
use crate::command;
use crate::resp::Reply;

/// Commands of this group.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!(
        "subscribe",
        -2,
        [PUBSUB, NOSCRIPT, LOADING, STALE, NO_MULTI],
        KeySpec::None,
        [PUBSUB, SLOW],
        "pubsub",
        "Listens for messages published to channels.",
        subscribe
    ),
    command!(
        "unsubscribe",
        -1,
        [PUBSUB, NOSCRIPT, LOADING, STALE, NO_MULTI],
        KeySpec::None,
        [PUBSUB, SLOW],
        "pubsub",
        "Stops listening to messages posted to channels.",
        unsubscribe
    ),
    command!(
        "psubscribe",
        -2,
        [PUBSUB, NOSCRIPT, LOADING, STALE, NO_MULTI],
        KeySpec::None,
        [PUBSUB, SLOW],
        "pubsub",
        "Listens for messages published to channels that match one or more patterns.",
        psubscribe
    ),
    command!(
        "punsubscribe",
        -1,
        [PUBSUB, NOSCRIPT, LOADING, STALE, NO_MULTI],
        KeySpec::None,
        [PUBSUB, SLOW],
        "pubsub",
        "Stops listening to messages published to channels that match one or more patterns.",
        punsubscribe
    ),
    command!(
        "publish",
        3,
        // MAY_REPLICATE, as in Redis: CLIENT PAUSE WRITE holds it back.
        [PUBSUB, LOADING, STALE, FAST, MAY_REPLICATE],
        KeySpec::None,
        [PUBSUB, FAST],
        "pubsub",
        "Posts a message to a channel.",
        publish
    ),
    command!("ssubscribe", -2, [PUBSUB, NOSCRIPT, LOADING, STALE],
             KeySpec::Range { first: 1, last: KeyEnd::FromEnd(1), step: 1 }, [PUBSUB, SLOW],
             "pubsub", "Listens for messages published to shard channels.", ssubscribe,
             key_flags: &[&["NOT_KEY"]]),
    command!("sunsubscribe", -1, [PUBSUB, NOSCRIPT, LOADING, STALE],
             KeySpec::Range { first: 1, last: KeyEnd::FromEnd(1), step: 1 }, [PUBSUB, SLOW],
             "pubsub", "Stops listening to messages posted to shard channels.", sunsubscribe,
             key_flags: &[&["NOT_KEY"]]),
    command!("spublish", 3, [PUBSUB, LOADING, STALE, FAST, MAY_REPLICATE],
             KeySpec::Range { first: 1, last: KeyEnd::At(1), step: 1 }, [PUBSUB, FAST],
             "pubsub", "Post a message to a shard channel", spublish,
             key_flags: &[&["NOT_KEY"]]),
    command!("pubsub", -2, [], KeySpec::None, [SLOW], "pubsub",
             "A container for Pub/Sub commands.", pubsub_help, subcommands: PUBSUB_SUBCOMMANDS),
];

const PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    command!(
        "pubsub|shardchannels",
        -2,
        [PUBSUB, LOADING, STALE],
        KeySpec::None,
        [PUBSUB, SLOW],
        "pubsub",
        "Returns the active shard channels.",
        pubsub_shardchannels
    ),
    command!(
        "pubsub|shardnumsub",
        -2,
        [PUBSUB, LOADING, STALE],
        KeySpec::None,
        [PUBSUB, SLOW],
        "pubsub",
        "Returns the count of subscribers of shard channels.",
        pubsub_shardnumsub
    ),
    command!(
        "pubsub|channels",
        -2,
        [PUBSUB, LOADING, STALE],
        KeySpec::None,
        [PUBSUB, SLOW],
        "pubsub",
        "Returns the active channels.",
        pubsub_channels
    ),
    command!(
        "pubsub|numsub",
        -2,
        [PUBSUB, LOADING, STALE],
        KeySpec::None,
        [PUBSUB, SLOW],
        "pubsub",
        "Returns a count of subscribers to channels.",
        pubsub_numsub
    ),
    command!(
        "pubsub|numpat",
        2,
        [PUBSUB, LOADING, STALE],
        KeySpec::None,
        [PUBSUB, SLOW],
        "pubsub",
        "Returns a count of unique pattern subscriptions.",
        pubsub_numpat
    ),
    command!(
        "pubsub|help",
        2,
        [LOADING, STALE],
        KeySpec::None,
        [SLOW],
        "pubsub",
        "Returns helpful text about the different subcommands.",
        pubsub_help
    ),
];

/// Whether a (un)subscription names a channel or a pattern.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Channel,
    Pattern,
}

/// One confirmation frame: `[verb, name or nil, count]`.
fn confirmation(verb: &'static str, name: Option<&Bytes>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::bulk_from_slice(verb.as_bytes()),
        name.map_or(Reply::Null, |n| Reply::Bulk(n.clone())),
        Reply::Integer(count as i64),
    ])
}

fn add(ctx: &mut Ctx<'_>, argv: &[Bytes], kind: Kind) -> CmdResult {
    let verb = if kind == Kind::Channel {
        "subscribe"
    } else {
        "psubscribe"
    };
    let frames = ctx.client.update_subscriptions(|subs| {
        subs.pending = true;
        argv[1..]
            .iter()
            .map(|name| {
                match kind {
                    Kind::Channel => subs.channels.insert(name.clone()),
                    Kind::Pattern => subs.patterns.insert(name.clone()),
                };
                confirmation(verb, Some(name), subs.count())
            })
            .collect()
    });
    Ok(Reply::Sequence(frames))
}

fn remove(ctx: &mut Ctx<'_>, argv: &[Bytes], kind: Kind) -> CmdResult {
    let verb = if kind == Kind::Channel {
        "unsubscribe"
    } else {
        "punsubscribe"
    };
    let (frames, removed) = ctx.client.update_subscriptions(|subs| {
        let set = match kind {
            Kind::Channel => &mut subs.channels,
            Kind::Pattern => &mut subs.patterns,
        };
        // No names: every one of this kind.
        let names: Vec<Bytes> = if argv.len() > 1 {
            argv[1..].to_vec()
        } else {
            set.iter().cloned().collect()
        };
        let mut removed = Vec::new();
        let mut frames = Vec::new();
        for name in names {
            let set = match kind {
                Kind::Channel => &mut subs.channels,
                Kind::Pattern => &mut subs.patterns,
            };
            if set.remove(&name) {
                removed.push(name.clone());
            }
            frames.push(confirmation(verb, Some(&name), subs.count()));
        }
        if frames.is_empty() {
            frames.push(confirmation(verb, None, subs.count()));
        }
        (frames, removed)
    });
    match kind {
        Kind::Channel => ctx.server.pubsub.deactivate(ctx.client.id, &removed, &[]),
        Kind::Pattern => ctx.server.pubsub.deactivate(ctx.client.id, &[], &removed),
    }
    Ok(Reply::Sequence(frames))
}

fn subscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    add(ctx, argv, Kind::Channel)
}

fn psubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    add(ctx, argv, Kind::Pattern)
}

fn unsubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    remove(ctx, argv, Kind::Channel)
}

fn punsubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    remove(ctx, argv, Kind::Pattern)
}

/// PUBLISH channel message: the number of clients that received it.
/// PUBLISH: delivered here, and on a cluster node to every other node's subscribers too
/// (the count is this node's receivers, as in Redis).
fn publish(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let n = ctx.server.pubsub.publish(&argv[1], &argv[2]);
    if let Some(bus) = ctx.server.cluster.as_deref().and_then(|c| c.bus()) {
        use crate::cluster::bus::wire::{pb, Body};
        bus.broadcast(Body::Publish(pb::Publish {
            channel: argv[1].to_vec(),
            message: argv[2].to_vec(),
            shard: false,
        }));
    }
    Ok(Reply::Integer(n as i64))
}

fn pubsub_channels(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(crate::cmd::CmdError::WrongArity("pubsub|channels".into()));
    }
    let pattern = argv.get(2).map(|p| p.as_ref());
    Ok(Reply::Array(
        ctx.server
            .pubsub
            .channels(pattern)
            .into_iter()
            .map(Reply::Bulk)
            .collect(),
    ))
}

fn pubsub_numsub(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut out = Vec::with_capacity((argv.len() - 2) * 2);
    for ch in &argv[2..] {
        out.push(Reply::Bulk(ch.clone()));
        out.push(Reply::Integer(ctx.server.pubsub.numsub(ch) as i64));
    }
    Ok(Reply::Array(out))
}

fn pubsub_numpat(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(ctx.server.pubsub.numpat() as i64))
}

fn pubsub_help(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    const LINES: &[&str] = &[
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    ];
    Ok(Reply::Array(
        LINES.iter().map(|l| Reply::Simple((*l).into())).collect(),
    ))
}

/// SSUBSCRIBE shardchannel...: confirmations count shard channels only, as in Redis.
fn ssubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let frames = ctx.client.update_subscriptions(|subs| {
        subs.pending = true;
        argv[1..]
            .iter()
            .map(|name| {
                subs.shard_channels.insert(name.clone());
                confirmation("ssubscribe", Some(name), subs.shard_channels.len())
            })
            .collect()
    });
    Ok(Reply::Sequence(frames))
}

/// SUNSUBSCRIBE [shardchannel...]: every shard channel without names.
fn sunsubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (frames, removed) = ctx.client.update_subscriptions(|subs| {
        let names: Vec<Bytes> = if argv.len() > 1 {
            argv[1..].to_vec()
        } else {
            subs.shard_channels.iter().cloned().collect()
        };
        let mut removed = Vec::new();
        let mut frames = Vec::new();
        for name in names {
            if subs.shard_channels.remove(&name) {
                removed.push(name.clone());
            }
            frames.push(confirmation(
                "sunsubscribe",
                Some(&name),
                subs.shard_channels.len(),
            ));
        }
        if frames.is_empty() {
            frames.push(confirmation("sunsubscribe", None, 0));
        }
        (frames, removed)
    });
    ctx.server.pubsub.deactivate_shard(ctx.client.id, &removed);
    Ok(Reply::Sequence(frames))
}

/// SPUBLISH shardchannel message: delivered here, and on a cluster node to the other nodes of
/// its shard (master and replicas); the count is this node's receivers.
fn spublish(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let n = ctx.server.pubsub.spublish(&argv[1], &argv[2]);
    if let Some(cluster) = ctx.server.cluster.as_deref() {
        if let Some(bus) = cluster.bus() {
            use crate::cluster::bus::wire::{pb, Body};
            let shard: Vec<crate::cluster::node::NodeName> = {
                let state = cluster.read();
                let master = state.shard_of(state.me());
                std::iter::once(master)
                    .chain(state.replicas_of(&master).iter().map(|r| r.name))
                    .filter(|n| *n != state.myself)
                    .collect()
            };
            for node in shard {
                bus.send(
                    &node,
                    Body::Publish(pb::Publish {
                        channel: argv[1].to_vec(),
                        message: argv[2].to_vec(),
                        shard: true,
                    }),
                );
            }
        }
    }
    Ok(Reply::Integer(n as i64))
}

fn pubsub_shardchannels(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(crate::cmd::CmdError::WrongArity(
            "pubsub|shardchannels".into(),
        ));
    }
    let pattern = argv.get(2).map(|p| p.as_ref());
    Ok(Reply::Array(
        ctx.server
            .pubsub
            .shard_channels(pattern)
            .into_iter()
            .map(Reply::Bulk)
            .collect(),
    ))
}

fn pubsub_shardnumsub(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut out = Vec::with_capacity((argv.len() - 2) * 2);
    for ch in &argv[2..] {
        out.push(Reply::Bulk(ch.clone()));
        out.push(Reply::Integer(ctx.server.pubsub.shard_numsub(ch) as i64));
    }
    Ok(Reply::Array(out))
}
