//! The cost of the ACL check at the dispatch gate: for an unrestricted user (the default one,
//! the hot path) a flag load; for a restricted user the full check of a GET's key against
//! its patterns. Run with `cargo bench --bench acl`.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};

use pika::cmd::gate::acl::{check_rules, install_catalog};
use pika::cmd::gate::table::CommandTable;
use pika::state::acl::Acl;
use pika::state::client::Client;

fn check(c: &mut Criterion) {
    install_catalog();
    let acl = Acl::new("");
    let addr = "127.0.0.1:1".parse().expect("a valid address");
    let client = Client::new(1, addr, addr, true, acl.default_user());
    c.bench_function("acl_unrestricted_user", |b| {
        b.iter(|| std::hint::black_box(&client).user_unrestricted())
    });
    let ops: [&[u8]; 4] = [b"on", b"+@read", b"~app:*", b"~cache:*"];
    let user = acl.set_user(b"reader", &ops).expect("valid rules").user;
    let argv = [Bytes::from_static(b"get"), Bytes::from_static(b"cache:42")];
    let (idx, spec) = CommandTable::get().lookup(b"get").expect("GET exists");
    c.bench_function("acl_restricted_get", |b| {
        b.iter(|| check_rules(&user.rules(), idx, spec, std::hint::black_box(&argv)).is_ok())
    });
}

criterion_group!(benches, check);
criterion_main!(benches);
