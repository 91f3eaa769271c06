//! The cost the dispatch gate pays per command for latency tracking: one record into this
//! thread's histogram of the command. Run with `cargo bench --bench latency`.

use criterion::{criterion_group, criterion_main, Criterion};

use pika::state::latency::tracker::CommandLatencies;

fn record(c: &mut Criterion) {
    let tracker = CommandLatencies::new(400);
    let mut i = 0u64;
    c.bench_function("latency_record", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            tracker.record((i % 8) as usize, std::hint::black_box(800 + (i & 4095)));
        })
    });
}

criterion_group!(benches, record);
criterion_main!(benches);
