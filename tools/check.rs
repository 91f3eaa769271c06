//! `pika_tools check`: compares two datasets key by key (servers, database directories or
//! backups) and prints every difference.

use std::process::ExitCode;

use pika::util::redis_digest::{to_hex, DatasetDigest};
use pika::util::repr::push_quoted;

use crate::progress;
use crate::source::{self, Source, SourceOptions};
use pika::dataset::Record;

/// Compare two datasets key by key.
///
/// A and B are each a running server (`host:port`), a database directory or a backup.
/// Prints one line per key that is only on one side or differs (type, value, or TTL by more
/// than a second), then a summary with both sides' digests (Redis' DEBUG DIGEST algorithm).
/// Exits with 1 when anything differs.
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// First dataset: host:port, a database directory, or a backup.
    a: String,
    /// Second dataset.
    b: String,
    #[command(flatten)]
    source_options: SourceOptions,
}

/// Keys compared per lookup batch.
const BATCH: usize = 256;

/// TTL deadlines closer than this are equal (an RDB file keeps some in seconds).
const TTL_SLACK_MS: i64 = 1000;

#[derive(Default)]
struct Tally {
    keys: u64,
    differ: u64,
    only_a: u64,
    only_b: u64,
}

pub fn run(args: &Args) -> ExitCode {
    match check(args) {
        Ok(t) => {
            if t.differ + t.only_a + t.only_b == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("pika_tools check: {e}");
            ExitCode::from(2)
        }
    }
}

fn check(args: &Args) -> Result<Tally, String> {
    let mut a = source::open(&args.a, &args.source_options)?;
    let mut b = source::open(&args.b, &args.source_options)?;
    let mut tally = Tally::default();
    let bar = progress::counter("keys compared");
    let digest_a = walk(a.as_mut(), b.as_mut(), &mut |ra, rb| {
        tally.keys += 1;
        bar.inc(1);
        match rb {
            None => {
                tally.only_a += 1;
                report(&ra, "only in A");
            }
            Some(rb) => {
                if let Some(what) = difference(&ra, rb) {
                    tally.differ += 1;
                    report(&ra, &format!("differs: {what}"));
                }
            }
        }
    })?;
    let digest_b = walk(b.as_mut(), a.as_mut(), &mut |rb, ra| {
        if ra.is_none() {
            tally.only_b += 1;
            report(&rb, "only in B");
        }
    })?;
    bar.finish_and_clear();
    println!(
        "checked {} keys of A: {} differ, {} only in A, {} only in B; digest A {} B {}",
        tally.keys,
        tally.differ,
        tally.only_a,
        tally.only_b,
        to_hex(&digest_a),
        to_hex(&digest_b)
    );
    Ok(tally)
}

/// Walks `from`, looking each key up in `other` in batches; returns `from`'s digest.
fn walk(
    from: &mut dyn Source,
    other: &mut dyn Source,
    pair: &mut dyn FnMut(Record, Option<&Record>),
) -> Result<[u8; 20], String> {
    let mut digest = DatasetDigest::default();
    let mut batch: Vec<Record> = Vec::with_capacity(BATCH);
    let mut flush = |batch: &mut Vec<Record>, other: &mut dyn Source| -> Result<(), String> {
        let Some(db) = batch.first().map(|r| r.db) else {
            return Ok(());
        };
        let keys: Vec<Vec<u8>> = batch.iter().map(|r| r.key.clone()).collect();
        let found = other.get_many(db, &keys)?;
        for (r, o) in batch.drain(..).zip(found) {
            pair(r, o.as_ref());
        }
        Ok(())
    };
    from.for_each(&mut |r| {
        if batch.first().is_some_and(|f| f.db != r.db) || batch.len() == BATCH {
            flush(&mut batch, other)?;
        }
        digest.add(r.db, &r.digest());
        batch.push(r);
        Ok(())
    })?;
    flush(&mut batch, other)?;
    Ok(digest.finish())
}

/// What differs between two versions of one key, if anything.
fn difference(a: &Record, b: &Record) -> Option<String> {
    if a.value.type_name() != b.value.type_name() {
        return Some(format!(
            "type {} / {}",
            a.value.type_name(),
            b.value.type_name()
        ));
    }
    if a.value.clone().comparable() != b.value.clone().comparable() {
        return Some("value".into());
    }
    match (a.expire_at_ms, b.expire_at_ms) {
        (None, None) => None,
        (Some(x), Some(y)) if (x - y).abs() <= TTL_SLACK_MS => None,
        (x, y) => Some(format!("ttl deadline {x:?} / {y:?}")),
    }
}

fn report(r: &Record, what: &str) {
    let mut key = String::new();
    push_quoted(&mut key, &r.key);
    println!("db{} {key}: {what}", r.db);
}
