//! Whole-file tests: fixtures written by redis-server (see fixtures/README.md) read back
//! exactly, hand-built files for the encodings and opcodes no fixture has, and corrupt input
//! (truncation, bad header, bad checksum, random byte flips) giving errors, never a panic.

use std::collections::BTreeMap;

use super::*;
use crate::dataset::Value;

pub(super) fn read_all(bytes: &[u8]) -> std::result::Result<Vec<Item>, RdbError> {
    RdbReader::new(bytes)?.collect()
}

/// Keyed by (db, key), with collections other than lists sorted, so files compare whatever
/// order Redis wrote members in.
fn by_key(items: Vec<Item>) -> BTreeMap<(usize, Vec<u8>), Item> {
    let mut out = BTreeMap::new();
    for mut item in items {
        let id = match &mut item {
            Item::Record(r) => {
                match &mut r.value {
                    Value::Set(v) => v.sort(),
                    Value::Hash(v) => v.sort(),
                    Value::ZSet(v) => v.sort_by(|a, b| a.0.cmp(&b.0)),
                    Value::Stream(s) => **s = std::mem::take(&mut **s).normalized(),
                    Value::String(_) | Value::List(_) => {}
                }
                (r.db, r.key.clone())
            }
            Item::Skipped { db, key, .. } => (*db, key.clone()),
        };
        assert!(out.insert(id, item).is_none(), "a key read twice");
    }
    out
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn strs(items: &[&str]) -> Vec<Vec<u8>> {
    items.iter().map(|s| b(s)).collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    items.iter().map(|(f, v)| (b(f), b(v))).collect()
}

fn scores(items: &[(&str, f64)]) -> Vec<(Vec<u8>, f64)> {
    items.iter().map(|(m, s)| (b(m), *s)).collect()
}

fn rec(db: usize, key: &str, value: Value) -> Item {
    rec_ttl(db, key, value, None)
}

fn rec_ttl(db: usize, key: &str, value: Value, expire_at_ms: Option<i64>) -> Item {
    Item::Record(Record {
        db,
        key: b(key),
        value,
        expire_at_ms,
    })
}

fn assert_same(got: Vec<Item>, want: Vec<Item>) {
    let (got, want) = (by_key(got), by_key(want));
    let got_keys: Vec<_> = got.keys().collect();
    let want_keys: Vec<_> = want.keys().collect();
    assert_eq!(got_keys, want_keys);
    for (id, item) in &want {
        assert_eq!(&got[id], item, "key {:?}", String::from_utf8_lossy(&id.1));
    }
}

const TYPES: &[u8] = include_bytes!("fixtures/types.rdb");
const NOCRC: &[u8] = include_bytes!("fixtures/nocrc.rdb");

#[test]
fn redis_7_fixture_reads_back_exactly() {
    let mut reader = RdbReader::new(TYPES).unwrap();
    assert_eq!(reader.version(), 10);
    let items: Vec<Item> = reader.by_ref().map(|r| r.unwrap()).collect();
    assert!(reader.next().is_none(), "the reader stays done");

    let abc = "abc".repeat(100);
    let x100 = "x".repeat(100);
    let p2000 = "P".repeat(2000);
    let list_big: Vec<String> = (0..2000).map(|i| format!("element-{i:04}")).collect();
    let hash_big: Vec<(String, String)> = (0..600)
        .map(|i| (format!("field-{i:03}"), format!("value-{i:03}")))
        .collect();
    let set_big: Vec<String> = (0..200).map(|i| format!("member-{i:03}")).collect();
    let mut zset_big: Vec<(Vec<u8>, f64)> = (0..200)
        .map(|i| (b(&format!("m-{i:03}")), f64::from(i) / 4.0 - 10.0))
        .collect();
    zset_big.push((b("m-inf"), f64::INFINITY));
    zset_big.push((b("m-neginf"), f64::NEG_INFINITY));
    let stream_s = super::stream_tests::types_fixture_stream();

    let want = vec![
        rec(0, "str:int8", Value::String(b("-7"))),
        rec(0, "str:int16", Value::String(b("12345"))),
        rec(0, "str:int32", Value::String(b("1234567890"))),
        rec(0, "str:bigint", Value::String(b("12345678901234"))),
        rec(0, "str:short", Value::String(b("hello world"))),
        rec(0, "str:long", Value::String(b(&abc))),
        rec(0, "str:empty", Value::String(Vec::new())),
        rec(
            0,
            "str:binary",
            Value::String(b"\x00\x01\xfe\xffbin".to_vec()),
        ),
        rec_ttl(
            0,
            "str:ttl",
            Value::String(b("expiring")),
            Some(4102444800123),
        ),
        rec(
            0,
            "list:small",
            Value::List(strs(&[
                "a",
                "b",
                "c",
                "5",
                "-100",
                "4000",
                "30000",
                "8000000",
                "2000000000",
                "9000000000000",
                "-9000000000000",
                &x100,
            ])),
        ),
        rec(
            0,
            "list:big",
            Value::List(list_big.iter().map(|s| b(s)).collect()),
        ),
        rec(
            0,
            "list:plain",
            Value::List(strs(&["head", &p2000, "tail"])),
        ),
        rec_ttl(
            0,
            "hash:small",
            Value::Hash(pairs(&[
                ("f1", "v1"),
                ("f2", "2"),
                ("f3", "-300"),
                ("empty", ""),
            ])),
            Some(4102444800456),
        ),
        rec(
            0,
            "hash:big",
            Value::Hash(hash_big.iter().map(|(f, v)| (b(f), b(v))).collect()),
        ),
        rec(
            0,
            "set:int16",
            Value::Set(strs(&["1", "2", "3", "-5", "300"])),
        ),
        rec(0, "set:int32", Value::Set(strs(&["70000", "-70000"]))),
        rec(
            0,
            "set:int64",
            Value::Set(strs(&["1", "70000", "5000000000", "-5000000000"])),
        ),
        rec(0, "set:str", Value::Set(strs(&["a", "b", "c"]))),
        rec(
            0,
            "set:big",
            Value::Set(set_big.iter().map(|s| b(s)).collect()),
        ),
        rec(
            0,
            "zset:small",
            Value::ZSet(scores(&[
                ("a", 1.0),
                ("b", 2.5),
                ("c", -3.0),
                ("d", f64::INFINITY),
                ("e", f64::NEG_INFINITY),
                ("f", 1e100),
                ("g", 0.1),
            ])),
        ),
        rec(0, "zset:big", Value::ZSet(zset_big)),
        rec(0, "stream:s", Value::Stream(Box::new(stream_s))),
        rec(3, "db3:str", Value::String(b("in db three"))),
        rec_ttl(3, "db3:ttl", Value::String(b("v")), Some(4102444800789)),
        rec(3, "db3:list", Value::List(strs(&["x", "y"]))),
        rec(3, "db3:set", Value::Set(strs(&["7"]))),
    ];
    assert_same(items, want);
}

#[test]
fn checksum_zero_means_unchecked() {
    assert_eq!(&NOCRC[NOCRC.len() - 8..], &[0u8; 8]);
    assert_ne!(&TYPES[TYPES.len() - 8..], &[0u8; 8]);
    let want = vec![
        rec(0, "str:long", Value::String(b(&"abc".repeat(100)))),
        rec(0, "list:small", Value::List(strs(&["a", "1", "b"]))),
        rec(
            0,
            "zset:small",
            Value::ZSet(scores(&[("x", 1.5), ("y", 2.0)])),
        ),
    ];
    assert_same(read_all(NOCRC).unwrap(), want);
}

// ---- hand-built files --------------------------------------------------------------------

pub(super) fn len(n: u64) -> Vec<u8> {
    if n < 64 {
        vec![n as u8]
    } else if n < 16384 {
        vec![0x40 | (n >> 8) as u8, n as u8]
    } else if n <= u64::from(u32::MAX) {
        let mut v = vec![0x80];
        v.extend_from_slice(&(n as u32).to_be_bytes());
        v
    } else {
        let mut v = vec![0x81];
        v.extend_from_slice(&n.to_be_bytes());
        v
    }
}

pub(super) fn string(s: &[u8]) -> Vec<u8> {
    let mut v = len(s.len() as u64);
    v.extend_from_slice(s);
    v
}

/// A whole file: header, `body`, end opcode and (version 5 on) checksum.
pub(super) fn file(version: u32, body: &[u8]) -> Vec<u8> {
    let mut out = format!("REDIS{version:04}").into_bytes();
    out.extend_from_slice(body);
    out.push(OP_EOF);
    if version >= CHECKSUM_VERSION {
        let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&out);
        out.extend_from_slice(&crc.to_le_bytes());
    }
    out
}

/// `key` of type `kind` with the already-encoded `value`.
pub(super) fn key(kind: u8, key: &str, value: &[u8]) -> Vec<u8> {
    let mut v = vec![kind];
    v.extend(string(key.as_bytes()));
    v.extend_from_slice(value);
    v
}

pub(super) fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn set_listpack_of_redis_7_2() {
    use super::listpack::tests::{build, string_entry};
    let lp = build(&[string_entry(b"a"), string_entry(b"b"), vec![5]]);
    let body = key(20, "s", &string(&lp));
    assert_eq!(
        read_all(&file(11, &body)).unwrap(),
        vec![rec(0, "s", Value::Set(strs(&["a", "b", "5"])))]
    );
}

#[test]
fn quicklists_of_ziplists_and_of_tagged_nodes() {
    use super::listpack::tests::{build as lp, string_entry};
    use super::ziplist::tests::build as zl;
    let v1 = cat(&[
        len(2),
        string(&zl(&[b"\x01a", b"\xf2"])),
        string(&zl(&[b"\x01b"])),
    ]);
    let v2 = cat(&[
        len(3),
        len(2),
        string(&lp(&[string_entry(b"x")])),
        len(1),
        string(b"a plain node"),
        len(2),
        string(&lp(&[string_entry(b"y"), vec![7]])),
    ]);
    let body = cat(&[key(14, "v1", &v1), key(18, "v2", &v2)]);
    assert_same(
        read_all(&file(9, &body)).unwrap(),
        vec![
            rec(0, "v1", Value::List(strs(&["a", "1", "b"]))),
            rec(0, "v2", Value::List(strs(&["x", "a plain node", "y", "7"]))),
        ],
    );
    let bad_container = key(18, "bad", &cat(&[len(1), len(3), string(b"zz")]));
    let err = read_all(&file(10, &bad_container)).unwrap_err();
    assert!(err.message().contains("\"bad\""), "{err}");
    assert!(err.message().contains("container"), "{err}");
}

#[test]
fn zset_scores_as_text_and_as_binary() {
    let text = cat(&[
        len(3),
        string(b"a"),
        vec![3, b'1', b'.', b'5'],
        string(b"b"),
        vec![254],
        string(b"c"),
        vec![255],
    ]);
    let binary = cat(&[len(1), string(b"d"), (-0.25f64).to_le_bytes().to_vec()]);
    let body = cat(&[key(3, "text", &text), key(5, "binary", &binary)]);
    assert_same(
        read_all(&file(8, &body)).unwrap(),
        vec![
            rec(
                0,
                "text",
                Value::ZSet(scores(&[
                    ("a", 1.5),
                    ("b", f64::INFINITY),
                    ("c", f64::NEG_INFINITY),
                ])),
            ),
            rec(0, "binary", Value::ZSet(scores(&[("d", -0.25)]))),
        ],
    );
    let nan = key(3, "nan", &cat(&[len(1), string(b"a"), vec![253]]));
    let err = read_all(&file(8, &nan)).unwrap_err();
    assert!(err.message().contains("NaN"), "{err}");
}

#[test]
fn opcodes_before_keys() {
    let body = cat(&[
        vec![OP_AUX],
        string(b"redis-ver"),
        string(b"7.0.15"),
        vec![OP_SELECTDB],
        len(2),
        vec![OP_RESIZEDB],
        len(1),
        len(1),
        vec![OP_EXPIRETIME],
        1000i32.to_le_bytes().to_vec(),
        vec![OP_IDLE],
        len(300),
        vec![OP_FREQ, 5],
        key(0, "old", &string(b"v")),
        vec![OP_FUNCTION],
        string(b"lib"),
        string(b"LUA"),
        len(1),
        string(b"description"),
        string(b"return 1"),
        vec![OP_FUNCTION2],
        string(b"#!lua name=x\n"),
        key(0, "after", &string(b"w")),
    ]);
    assert_eq!(
        read_all(&file(10, &body)).unwrap(),
        vec![
            rec_ttl(2, "old", Value::String(b("v")), Some(1_000_000)),
            rec(2, "after", Value::String(b("w"))),
        ]
    );
    // Before version 5 the file ends at the end opcode, with no checksum.
    let v4 = file(4, &key(0, "k", &string(b"v")));
    assert_eq!(v4.last(), Some(&OP_EOF));
    assert_eq!(read_all(&v4).unwrap().len(), 1);
}

#[test]
fn module_values_are_skipped() {
    let module = cat(&[
        len(0x1234_5678_9abc_def0),
        len(1),
        len(42),
        len(3),
        vec![0; 4],
        len(4),
        vec![0; 8],
        len(5),
        string(b"text"),
        len(0),
    ]);
    let body = cat(&[key(7, "m", &module), key(0, "last", &string(b"ok"))]);
    assert_eq!(
        read_all(&file(11, &body)).unwrap(),
        vec![
            Item::Skipped {
                db: 0,
                key: b("m"),
                type_name: "module",
            },
            rec(0, "last", Value::String(b("ok"))),
        ]
    );
}

#[test]
fn unsupported_content_is_an_error_naming_it() {
    let module_v1 = key(6, "m1", &len(1));
    let err = read_all(&file(10, &module_v1)).unwrap_err();
    assert!(
        err.message().contains("\"m1\"") && err.message().contains("module"),
        "{err}"
    );

    let aux = cat(&[vec![OP_MODULE_AUX], len(1), len(2), len(0)]);
    let err = read_all(&file(10, &aux)).unwrap_err();
    assert!(err.message().contains("module auxiliary"), "{err}");
    assert_eq!(err.offset(), 9);

    let unknown = key(8, "weird", &string(b"v"));
    let err = read_all(&file(10, &unknown)).unwrap_err();
    assert!(
        err.message().contains("\"weird\"") && err.message().contains("unknown value type 8"),
        "{err}"
    );
}

// ---- corrupt input ---------------------------------------------------------------------

#[test]
fn bad_headers() {
    for header in [
        &b""[..],
        b"RED",
        b"REDIS001",
        b"RADIS0010\xff",
        b"REDIS0000\xff",
        b"REDIS0012\xff",
        b"REDIS00x1\xff",
        b"REDIS-001\xff",
    ] {
        assert!(
            RdbReader::new(header).is_err(),
            "{:?}",
            header.escape_ascii().to_string()
        );
    }
    let mut bad_magic = TYPES.to_vec();
    bad_magic[0] = b'X';
    let err = read_all(&bad_magic).unwrap_err();
    assert!(err.message().contains("not an RDB file"), "{err}");
}

#[test]
fn every_truncation_is_an_error() {
    for cut in 0..NOCRC.len() {
        assert!(read_all(&NOCRC[..cut]).is_err(), "cut at {cut}");
    }
    for cut in (0..TYPES.len())
        .step_by(97)
        .chain(TYPES.len() - 16..TYPES.len())
    {
        assert!(read_all(&TYPES[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn checksum_is_verified() {
    let mut bad_trailer = TYPES.to_vec();
    *bad_trailer.last_mut().unwrap() ^= 1;
    let err = read_all(&bad_trailer).unwrap_err();
    assert!(err.message().contains("checksum mismatch"), "{err}");
    assert_eq!(err.offset() as usize, TYPES.len() - 8);

    // A changed byte inside a value still decodes; the checksum catches it.
    let at = TYPES.windows(11).position(|w| w == b"hello world").unwrap();
    let mut changed = TYPES.to_vec();
    changed[at] = b'j';
    let results: Vec<_> = RdbReader::new(&changed[..]).unwrap().collect();
    assert!(results.iter().any(|r| matches!(
        r,
        Ok(Item::Record(Record { value: Value::String(v), .. })) if v == b"jello world"
    )));
    let err = results.last().unwrap().as_ref().unwrap_err();
    assert!(err.message().contains("checksum mismatch"), "{err}");
}

/// A small deterministic generator (xorshift64*), enough to pick bytes to corrupt.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `data` with 1 to 4 bytes changed (never to themselves).
pub(super) fn flipped(data: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = data.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len());
        out[at] ^= 1 + rng.below(255) as u8;
    }
    out
}

#[test]
fn random_byte_flips_never_panic_and_fail_the_checksum() {
    for seed in 1..=400u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let data = flipped(TYPES, &mut rng);
        let result = read_all(&data);
        assert!(
            result.is_err(),
            "seed {seed}: a corrupted file read without error"
        );
    }
}

#[test]
fn random_byte_flips_in_unchecksummed_files_never_panic() {
    let files: [&[u8]; 1] = [NOCRC];
    for (i, data) in files.iter().enumerate() {
        for seed in 1..=300u64 {
            let mut rng = Rng((seed + 1000 * i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            // Only whether it panics matters here: any result is acceptable.
            let _ = read_all(&flipped(data, &mut rng));
        }
    }
}
