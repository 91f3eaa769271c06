//! Sorted-set algebra: ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD (plain sets
//! count as scores of 1).

use std::collections::HashMap;

use bytes::Bytes;

use super::{positive_long, scored_reply};
use crate::cmd::{args, CmdError, CmdResult, Ctx, EventClasses as Class};
use crate::resp::Reply;
use crate::storage::types::zset::ScoredMember;
use crate::util::number::parse_f64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(agg: Aggregate, acc: &mut f64, v: f64) {
    match agg {
        Aggregate::Sum => {
            *acc += v;
            if acc.is_nan() {
                *acc = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *acc {
                *acc = v;
            }
        }
        Aggregate::Max => {
            if v > *acc {
                *acc = v;
            }
        }
    }
}

fn weighted(w: f64, s: f64) -> f64 {
    let v = w * s;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// What a sorted-set algebra command computes and where the result goes.
#[derive(Clone, Copy)]
struct ZsetOp {
    name: &'static str,
    op: SetOp,
    /// The result is stored at `argv[1]` (ZUNIONSTORE and friends).
    store: bool,
    /// Only the result's size is answered (ZINTERCARD).
    card: bool,
}

pub(super) fn zunion(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zsetop(
        ctx,
        argv,
        ZsetOp {
            name: "zunion",
            op: SetOp::Union,
            store: false,
            card: false,
        },
    )
}

pub(super) fn zinter(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zsetop(
        ctx,
        argv,
        ZsetOp {
            name: "zinter",
            op: SetOp::Inter,
            store: false,
            card: false,
        },
    )
}

pub(super) fn zdiff(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zsetop(
        ctx,
        argv,
        ZsetOp {
            name: "zdiff",
            op: SetOp::Diff,
            store: false,
            card: false,
        },
    )
}

pub(super) fn zunionstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let op = ZsetOp {
        name: "zunionstore",
        op: SetOp::Union,
        store: true,
        card: false,
    };
    zsetop(ctx, argv, op)
}

pub(super) fn zinterstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let op = ZsetOp {
        name: "zinterstore",
        op: SetOp::Inter,
        store: true,
        card: false,
    };
    zsetop(ctx, argv, op)
}

pub(super) fn zdiffstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zsetop(
        ctx,
        argv,
        ZsetOp {
            name: "zdiffstore",
            op: SetOp::Diff,
            store: true,
            card: false,
        },
    )
}

pub(super) fn zintercard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zsetop(
        ctx,
        argv,
        ZsetOp {
            name: "zintercard",
            op: SetOp::Inter,
            store: false,
            card: true,
        },
    )
}

/// ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD: one generic function.
fn zsetop(ctx: &mut Ctx<'_>, argv: &[Bytes], form: ZsetOp) -> CmdResult {
    let ZsetOp {
        name,
        op,
        store,
        card,
    } = form;
    let numkeys_at = if store { 2 } else { 1 };
    let setnum = args::int(&argv[numkeys_at])?;
    if setnum < 1 {
        return Err(CmdError::err(format!(
            "at least 1 input key is needed for '{name}' command"
        )));
    }
    if setnum as u64 > (argv.len() - numkeys_at - 1) as u64 {
        return Err(CmdError::Syntax);
    }
    let setnum = setnum as usize;
    let zs = ctx.zset();
    let mut sources = Vec::with_capacity(setnum);
    for key in &argv[numkeys_at + 1..numkeys_at + 1 + setnum] {
        sources.push(zs.source(key)?);
    }
    let mut weights = vec![1.0f64; setnum];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0i64;
    let mut j = numkeys_at + 1 + setnum;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = &argv[j];
        if op != SetOp::Diff && !card && remaining > setnum && args::is(a, "weights") {
            for (i, w) in weights.iter_mut().enumerate() {
                *w = parse_f64(&argv[j + 1 + i])
                    .ok_or_else(|| CmdError::err("weight value is not a float"))?;
            }
            j += 1 + setnum;
        } else if op != SetOp::Diff && !card && remaining >= 2 && args::is(a, "aggregate") {
            let v = &argv[j + 1];
            agg = if args::is(v, "sum") {
                Aggregate::Sum
            } else if args::is(v, "min") {
                Aggregate::Min
            } else if args::is(v, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if !store && !card && args::is(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card && remaining >= 2 && args::is(a, "limit") {
            limit = positive_long(&argv[j + 1], Some("LIMIT can't be negative"))?;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }

    let mut inputs: Vec<_> = sources.into_iter().zip(weights).collect();
    let result: Vec<ScoredMember> = match op {
        SetOp::Union => {
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            for (src, w) in inputs
                .iter()
                .filter_map(|(s, w)| s.as_ref().map(|s| (s, *w)))
            {
                for (m, s) in zs.source_all(src)? {
                    let v = weighted(w, s);
                    match acc.get_mut(&m) {
                        Some(cur) => aggregate(agg, cur, v),
                        None => {
                            acc.insert(m, v);
                        }
                    }
                }
            }
            acc.into_iter().collect()
        }
        SetOp::Inter => {
            inputs.sort_by_key(|(s, _)| s.as_ref().map_or(0, |s| s.len()));
            let mut out = Vec::new();
            if inputs
                .iter()
                .all(|(s, _)| s.as_ref().is_some_and(|s| !s.is_empty()))
            {
                let (first, w0) = (inputs[0].0.as_ref().expect("checked"), inputs[0].1);
                let base = zs.source_all(first)?;
                for chunk in base.chunks(1024) {
                    let members: Vec<&[u8]> = chunk.iter().map(|(m, _)| m.as_slice()).collect();
                    let mut scores: Vec<Option<f64>> =
                        chunk.iter().map(|(_, s)| Some(weighted(w0, *s))).collect();
                    for (src, w) in &inputs[1..] {
                        let src = src.as_ref().expect("checked");
                        let other = zs.source_scores(src, &members)?;
                        for (acc, o) in scores.iter_mut().zip(other) {
                            match (acc.as_mut(), o) {
                                (Some(a), Some(v)) => aggregate(agg, a, weighted(*w, v)),
                                _ => *acc = None,
                            }
                        }
                    }
                    for ((m, _), s) in chunk.iter().zip(scores) {
                        if let Some(s) = s {
                            out.push((m.clone(), s));
                            if card && limit > 0 && out.len() as i64 >= limit {
                                break;
                            }
                        }
                    }
                    if card && limit > 0 && out.len() as i64 >= limit {
                        break;
                    }
                }
            }
            out
        }
        SetOp::Diff => {
            let mut out = Vec::new();
            if let Some(first) = inputs[0].0.as_ref() {
                let base = zs.source_all(first)?;
                for chunk in base.chunks(1024) {
                    let members: Vec<&[u8]> = chunk.iter().map(|(m, _)| m.as_slice()).collect();
                    let mut keep = vec![true; chunk.len()];
                    for src in inputs[1..].iter().filter_map(|(s, _)| s.as_ref()) {
                        for (k, o) in keep.iter_mut().zip(zs.source_scores(src, &members)?) {
                            if o.is_some() {
                                *k = false;
                            }
                        }
                    }
                    out.extend(
                        chunk
                            .iter()
                            .zip(keep)
                            .filter(|(_, k)| *k)
                            .map(|(e, _)| e.clone()),
                    );
                }
            }
            out
        }
    };
    if card {
        return Ok(Reply::Integer(result.len() as i64));
    }
    let mut result = result;
    result.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    if store {
        let existed = ctx.exists_for_notify(&argv[1])?;
        let n = zs.store(&argv[1], &result)?;
        ctx.notify_stored(Class::ZSET, name, &argv[1], n > 0, existed);
        return Ok(Reply::Integer(n as i64));
    }
    Ok(scored_reply(ctx, result, withscores))
}
