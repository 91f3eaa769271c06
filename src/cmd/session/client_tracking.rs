//! CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO: a connection's client-side caching
//! options, with Redis 7.0's checks and error texts (`clientCommand` in `networking.c`). The
//! table and the invalidations are `state::tracking`'s.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;

use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::resp::Reply;
use crate::state::client::Client;
use crate::state::tracking::TrackingMode;

/// The options of CLIENT TRACKING, as given.
struct Options {
    mode: TrackingMode,
    /// REDIRECT was given (its id may be anything, 0 included, and must exist).
    redirect_given: bool,
    /// Prefixes in the order given (overlaps are reported in that order).
    prefixes: Vec<Bytes>,
}

fn parse_options(rest: &[Bytes]) -> Result<Options, CmdError> {
    let mut mode = TrackingMode::default();
    let mut prefixes = Vec::new();
    let mut redirect_given = false;
    let mut i = 0;
    while i < rest.len() {
        let arg = &rest[i];
        let more = i + 1 < rest.len();
        if args::is(arg, "redirect") && more {
            i += 1;
            if redirect_given {
                return Err(CmdError::err(
                    "A client can only redirect to a single other client",
                ));
            }
            redirect_given = true;
            // A negative id names no client (the lookup below fails).
            mode.redirect = u64::try_from(args::int(&rest[i])?).unwrap_or(0);
        } else if args::is(arg, "bcast") {
            mode.bcast = true;
        } else if args::is(arg, "optin") {
            mode.optin = true;
        } else if args::is(arg, "optout") {
            mode.optout = true;
        } else if args::is(arg, "noloop") {
            mode.noloop = true;
        } else if args::is(arg, "prefix") && more {
            i += 1;
            prefixes.push(rest[i].clone());
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(Options {
        mode,
        redirect_given,
        prefixes,
    })
}

/// One prefix is a prefix of the other (Redis compares the common length).
fn overlap(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// Redis' refusal of overlapping prefixes, against the client's own and among those given.
fn check_prefixes(existing: &BTreeSet<Bytes>, given: &[Bytes]) -> Result<(), CmdError> {
    for (i, p) in given.iter().enumerate() {
        if let Some(old) = existing.iter().find(|old| overlap(old, p)) {
            return Err(CmdError::err(format!(
                "Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                args::text(p),
                args::text(old)
            )));
        }
        if let Some(other) = given[i + 1..].iter().find(|other| overlap(p, other)) {
            return Err(CmdError::err(format!(
                "Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                args::text(p),
                args::text(other)
            )));
        }
    }
    Ok(())
}

/// The registered client `id`, if connected.
fn registered(ctx: &Ctx<'_>, id: u64) -> Option<Arc<Client>> {
    ctx.server.clients.lock().get(&id).cloned()
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
pub(super) fn tracking(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let Options {
        mut mode,
        redirect_given,
        prefixes,
    } = parse_options(&argv[3..])?;
    let mut redirect_to = None;
    if redirect_given {
        // The target must exist now, even if it may go later.
        let target = registered(ctx, mode.redirect)
            .ok_or_else(|| CmdError::err("The client ID you want redirect to does not exist"))?;
        redirect_to = Some(Arc::downgrade(&target));
    }
    let on = if args::is(&argv[2], "on") {
        true
    } else if args::is(&argv[2], "off") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let client = ctx.client;
    if !on {
        ctx.server.tracking.disable(client);
        return Ok(Reply::ok());
    }
    if !mode.bcast && !prefixes.is_empty() {
        return Err(CmdError::err(
            "PREFIX option requires BCAST mode to be enabled",
        ));
    }
    let current = client.tracking.mode();
    if let Some(cur) = &current {
        if cur.bcast != mode.bcast {
            return Err(CmdError::err(
                "You can't switch BCAST mode on/off before disabling tracking for this client, \
                 and then re-enabling it with a different mode.",
            ));
        }
    }
    if mode.bcast && (mode.optin || mode.optout) {
        return Err(CmdError::err(
            "OPTIN and OPTOUT are not compatible with BCAST",
        ));
    }
    if mode.optin && mode.optout {
        return Err(CmdError::err(
            "You can't specify both OPTIN mode and OPTOUT mode",
        ));
    }
    if let Some(cur) = &current {
        if (mode.optin && cur.optout) || (mode.optout && cur.optin) {
            return Err(CmdError::err(
                "You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, \
                 and then re-enabling it with a different mode.",
            ));
        }
    }
    if mode.bcast {
        let existing = current.map(|c| c.prefixes).unwrap_or_default();
        check_prefixes(&existing, &prefixes)?;
    }
    mode.prefixes = prefixes.into_iter().collect();
    let Some(me) = registered(ctx, client.id) else {
        // Only connections track (the server's internal clients have no socket).
        return Ok(Reply::ok());
    };
    ctx.server.tracking.enable(&me, mode, redirect_to);
    Ok(Reply::ok())
}

/// CLIENT CACHING YES|NO: whether the next command's keys are remembered (OPTIN/OPTOUT).
pub(super) fn caching(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let Some(mode) = ctx.client.tracking.mode() else {
        return Err(CmdError::err(
            "CLIENT CACHING can be called only when the client is in tracking mode with OPTIN \
             or OPTOUT mode enabled",
        ));
    };
    if args::is(&argv[2], "yes") {
        if !mode.optin {
            return Err(CmdError::err(
                "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if args::is(&argv[2], "no") {
        if !mode.optout {
            return Err(CmdError::err(
                "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(CmdError::Syntax);
    }
    ctx.client.tracking.give_caching();
    Ok(Reply::ok())
}

/// CLIENT GETREDIR: the redirect id, 0 without one, -1 while not tracking.
pub(super) fn getredir(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Integer(ctx.client.tracking.redirect_id()))
}

/// CLIENT TRACKINGINFO: flags, redirect and prefixes, in Redis' shape.
pub(super) fn trackinginfo(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let t = &ctx.client.tracking;
    let mode = t.mode();
    let mut flags = vec![if mode.is_some() { "on" } else { "off" }];
    let mut prefixes = Vec::new();
    if let Some(m) = &mode {
        if m.bcast {
            flags.push("bcast");
        }
        if m.optin {
            flags.push("optin");
            if t.caching_given() {
                flags.push("caching-yes");
            }
        }
        if m.optout {
            flags.push("optout");
            if t.caching_given() {
                flags.push("caching-no");
            }
        }
        if m.noloop {
            flags.push("noloop");
        }
        if t.redirect_broken() {
            flags.push("broken_redirect");
        }
        prefixes = m.prefixes.iter().cloned().map(Reply::Bulk).collect();
    }
    Ok(Reply::Map(vec![
        (
            Reply::bulk("flags"),
            Reply::Set(flags.into_iter().map(Reply::bulk).collect()),
        ),
        (Reply::bulk("redirect"), Reply::Integer(t.redirect_id())),
        (Reply::bulk("prefixes"), Reply::Array(prefixes)),
    ]))
}
