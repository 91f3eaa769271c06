//! Hot-path benchmarks: parsing pipelined requests and encoding replies.
//! Run with `cargo bench --bench resp` (release build; compare before/after a change).

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use pika::resp::{ParseLimits, Protocol, Reply, RequestParser};

/// A pipeline of `n` `SET key:i <100 bytes>` requests, as redis-benchmark sends them.
fn pipelined_sets(n: usize) -> Vec<u8> {
    let value = "x".repeat(100);
    let mut out = Vec::new();
    for i in 0..n {
        let key = format!("key:{i:012}");
        out.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
                key.len(),
                value.len()
            )
            .as_bytes(),
        );
    }
    out
}

fn parse(c: &mut Criterion) {
    let input = pipelined_sets(1000);
    let limits = ParseLimits::default();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("1000 pipelined SETs", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(&input[..]);
            let mut parser = RequestParser::new();
            let mut n = 0;
            while let Ok(Some(_)) = parser.next_request(&mut buf, &limits) {
                n += 1;
            }
            assert_eq!(n, 1000);
        })
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let bulk = Reply::Bulk(Bytes::from(vec![b'x'; 100]));
    let array = Reply::Array((0..10).map(|i| Reply::Integer(i * 1000)).collect());
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("1000 bulk replies", |b| {
        b.iter(|| {
            let mut out = BytesMut::with_capacity(128 * 1000);
            for _ in 0..1000 {
                bulk.encode(&mut out, Protocol::Resp2);
            }
            out
        })
    });
    group.bench_function("1000 ten-integer arrays", |b| {
        b.iter(|| {
            let mut out = BytesMut::with_capacity(64 * 1000);
            for _ in 0..1000 {
                array.encode(&mut out, Protocol::Resp3);
            }
            out
        })
    });
    group.finish();
}

criterion_group!(benches, parse, encode);
criterion_main!(benches);
