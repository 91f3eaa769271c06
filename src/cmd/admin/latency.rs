//! LATENCY: the latency monitor's spikes per event (LATEST, HISTORY, RESET, GRAPH, DOCTOR) and
//! the per-command latency histograms (HISTOGRAM), with Redis 7's replies.

use bytes::Bytes;

use crate::cmd::admin::command::help_reply;
use crate::cmd::admin::latency_report;
use crate::cmd::gate::spec::{CommandSpec, KeySpec};
use crate::cmd::gate::table::CommandTable;
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::command;
use crate::resp::Reply;
use crate::state::ServerState;

/// LATENCY's subcommands.
#[rustfmt::skip]
pub const SUBCOMMANDS: &[CommandSpec] = &[
    command!("latency|latest", 2, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Returns the latest latency samples for all events.", latest),
    command!("latency|history", 3, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Returns timestamp-latency samples for an event.", history),
    command!("latency|reset", -2, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Resets the latency data for one or more events.", reset),
    command!("latency|graph", 3, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Returns a latency graph for an event.", graph),
    command!("latency|doctor", 2, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Returns a human-readable latency analysis report.", doctor),
    command!("latency|histogram", -2, [ADMIN, NOSCRIPT, LOADING, STALE], KeySpec::None,
             [ADMIN, SLOW, DANGEROUS], "server",
             "Returns the cumulative distribution of latencies of a subset or all commands.",
             histogram),
    command!("latency|help", 2, [LOADING, STALE], KeySpec::None, [SLOW], "server",
             "Returns helpful text about the different subcommands.", help),
];

/// The LATENCY container; the dispatcher resolves a subcommand first.
pub fn latency(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Err(CmdError::WrongArity("latency".into()))
}

/// LATENCY LATEST: `[event, time of the latest spike, its latency, the all-time maximum]`.
fn latest(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let rows = ctx
        .server
        .latency
        .events
        .all()
        .into_iter()
        .filter_map(|(name, series)| {
            let last = series.samples.back()?;
            Some(Reply::Array(vec![
                Reply::bulk(name),
                Reply::Integer(last.time as i64),
                Reply::Integer(last.latency_ms as i64),
                Reply::Integer(series.max_ms as i64),
            ]))
        })
        .collect();
    Ok(Reply::Array(rows))
}

/// LATENCY HISTORY event: `[time, latency]` pairs, oldest first; empty for an unknown event.
fn history(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let name = args::text(&argv[2]);
    let samples = ctx
        .server
        .latency
        .events
        .get(&name)
        .map(|s| s.samples)
        .unwrap_or_default();
    Ok(Reply::Array(
        samples
            .iter()
            .map(|s| {
                Reply::Array(vec![
                    Reply::Integer(s.time as i64),
                    Reply::Integer(s.latency_ms as i64),
                ])
            })
            .collect(),
    ))
}

/// LATENCY RESET [event ...]: how many events were forgotten.
fn reset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let names: Vec<String> = argv[2..].iter().map(|a| args::text(a)).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    Ok(Reply::Integer(
        ctx.server.latency.events.reset(&names) as i64
    ))
}

/// LATENCY GRAPH event: an ASCII chart of the event's spikes.
fn graph(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let name = args::text(&argv[2]);
    match ctx.server.latency.events.get(&name) {
        Some(series) if !series.samples.is_empty() => Ok(Reply::Verbatim(Bytes::from(
            latency_report::graph(&name, &series, crate::util::clock::unix_secs()),
        ))),
        _ => Err(CmdError::err(format!(
            "No samples available for event '{name}'"
        ))),
    }
}

/// LATENCY DOCTOR: a report in prose.
fn doctor(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let events = ctx.server.latency.events.all();
    let cfg = ctx.server.config();
    Ok(Reply::Verbatim(Bytes::from(latency_report::doctor(
        &events,
        cfg.latency_monitor_threshold,
        cfg.slowlog_log_slower_than,
        crate::util::clock::unix_secs(),
    ))))
}

/// LATENCY HISTOGRAM [command ...]: per command, `calls` and `histogram_usec` (cumulative
/// counts at power-of-two microsecond steps). A container named lists its subcommands;
/// unknown names are skipped.
fn histogram(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let table = CommandTable::get();
    let mut out = Vec::new();
    if argv.len() == 2 {
        for (i, spec) in table.all() {
            push_histogram(ctx.server, i, spec.name, &mut out);
        }
        return Ok(Reply::Map(out));
    }
    for arg in &argv[2..] {
        let Some((i, spec)) = table.lookup(arg) else {
            continue;
        };
        push_histogram(ctx.server, i, spec.name, &mut out);
        for sub in spec.subcommands {
            if let Some((j, _)) = table.lookup(sub.name.as_bytes()) {
                push_histogram(ctx.server, j, sub.name, &mut out);
            }
        }
    }
    Ok(Reply::Map(out))
}

/// Adds command `idx`'s entry when it has recorded calls.
fn push_histogram(server: &ServerState, idx: usize, name: &str, out: &mut Vec<(Reply, Reply)>) {
    let Some(snapshot) = server.latency.commands.snapshot(idx) else {
        return;
    };
    let steps = snapshot
        .power_of_two_usec()
        .into_iter()
        .map(|(usec, count)| (Reply::Integer(usec as i64), Reply::Integer(count as i64)))
        .collect();
    out.push((
        Reply::bulk(name.to_string()),
        Reply::Map(vec![
            (
                Reply::bulk("calls"),
                Reply::Integer(snapshot.total() as i64),
            ),
            (Reply::bulk("histogram_usec"), Reply::Map(steps)),
        ]),
    ));
}

fn help(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    ))
}
