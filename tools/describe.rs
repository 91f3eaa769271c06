//! Write-batch ops described for humans, decoding pika's key layouts (`pika_tools binlog`).

use std::fmt::Write as _;

use pika::storage::batch_note::BatchNote;
use pika::storage::codec::{self, Cf, MetaValue};
use pika::storage::wal::{BatchOp, OpKind};

/// The name of the column family with RocksDB id `id` in a database pika created (`"?"` for
/// an id it does not create).
pub fn cf_name(id: u32) -> &'static str {
    Cf::from_index(id).map_or("?", Cf::name)
}

/// Appends `bytes` as redis-cli prints strings: bare when plain printable ASCII, otherwise
/// quoted with `\n`, `\r`, `\t`, `\a`, `\b`, `\\`, `\"` and `\xNN` escapes.
pub fn push_escaped(out: &mut String, bytes: &[u8]) {
    let plain = !bytes.is_empty()
        && bytes
            .iter()
            .all(|&b| (0x21..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if plain {
        out.extend(bytes.iter().map(|&b| b as char));
        return;
    }
    pika::util::repr::push_quoted(out, bytes);
}

/// `bytes` escaped as by [`push_escaped`].
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    push_escaped(&mut s, bytes);
    s
}

/// Longest value shown by [`describe_op`] before it is cut.
const VALUE_SHOWN: usize = 64;

fn push_value(out: &mut String, name: &str, value: &[u8]) {
    let _ = write!(out, " {name}=");
    if value.len() > VALUE_SHOWN {
        push_escaped(out, &value[..VALUE_SHOWN]);
        let _ = write!(out, "...({} bytes)", value.len());
    } else {
        push_escaped(out, value);
    }
}

/// `db=N key=K` of a meta key (or of a bare `db` prefix, as range deletes use).
fn push_meta_key(out: &mut String, raw: &[u8]) {
    match codec::decode_meta_key(raw) {
        Some((db, _, key)) => {
            let _ = write!(out, "db={db} key=");
            push_escaped(out, key);
        }
        None if raw.len() == 2 => {
            let _ = write!(out, "db={}", u16::from_be_bytes([raw[0], raw[1]]));
        }
        None => {
            out.push_str("raw=");
            push_escaped(out, raw);
        }
    }
}

fn push_element_key(out: &mut String, cf: Cf, raw: &[u8]) {
    let Some((meta_key, version, sub)) = codec::decode_element_key(raw) else {
        out.push_str("raw=");
        push_escaped(out, raw);
        return;
    };
    push_meta_key(out, &meta_key);
    match cf {
        Cf::List if sub.len() == 8 => {
            // Relative to where the list started, so LPUSHed elements go negative.
            let stored = u64::from_be_bytes(sub.try_into().expect("8 bytes"));
            let index = stored.wrapping_sub(pika::storage::types::list::INITIAL_INDEX) as i64;
            let _ = write!(out, " index={index}");
        }
        Cf::ZScore if sub.len() >= 8 => {
            let score = codec::decode_score(sub).unwrap_or(f64::NAN);
            let _ = write!(out, " score={score}");
            out.push_str(" sub=");
            push_escaped(out, &sub[8..]);
        }
        _ => {
            out.push_str(" sub=");
            push_escaped(out, sub);
        }
    }
    let _ = write!(out, " ver={version}");
}

/// `dbsize db=N` and the like for the system records of the default column family.
fn push_system_key(out: &mut String, raw: &[u8]) {
    for counter in [&b"dbsize"[..], b"expires"] {
        if let Some(db) = raw.strip_prefix(counter).filter(|d| d.len() == 2) {
            let _ = write!(
                out,
                "{} db={}",
                String::from_utf8_lossy(counter),
                u16::from_be_bytes([db[0], db[1]])
            );
            return;
        }
    }
    out.push_str("key=");
    push_escaped(out, raw);
}

/// A one-line description of an op for humans, decoding pika's key layouts (see `codec`):
/// `put meta db=0 key=foo type=string val=bar`, `del hash db=0 key=h sub=f ver=3` (`ver`: the
/// collection's version), `put list db=0 key=l index=-1 ver=2 val=x` (`index` counted from
/// where the list started),
/// `merge default dbsize db=0 +1`, `logdata note time_ms=... db=0 cmd=SET`.
pub fn describe_op(op: &BatchOp) -> String {
    let mut out = String::new();
    out.push_str(op.kind.name());
    if op.kind == OpKind::LogData {
        match BatchNote::decode(&op.value) {
            Some(n) => {
                let _ = write!(out, " note time_ms={} db={} cmd=", n.time_ms, n.db);
                push_escaped(&mut out, n.command.as_bytes());
            }
            None => push_value(&mut out, "blob", &op.value),
        }
        return out;
    }
    let _ = write!(out, " {}", cf_name(op.cf));
    let cf = Cf::from_index(op.cf);
    let describe_key = |out: &mut String, key: &[u8]| {
        out.push(' ');
        match cf {
            Some(Cf::Meta) => push_meta_key(out, key),
            Some(Cf::Expire) => match codec::decode_expire_key(key) {
                Some((deadline, meta_key)) => {
                    push_meta_key(out, meta_key);
                    let _ = write!(out, " deadline_ms={deadline}");
                }
                None => {
                    out.push_str("raw=");
                    push_escaped(out, key);
                }
            },
            Some(Cf::Default) => push_system_key(out, key),
            Some(c) if c.holds_elements() => push_element_key(out, c, key),
            _ => {
                out.push_str("raw=");
                push_escaped(out, key);
            }
        }
    };
    match op.kind {
        OpKind::DeleteRange => {
            describe_key(&mut out, &op.key);
            out.push_str(" ..");
            describe_key(&mut out, &op.value);
        }
        _ => describe_key(&mut out, &op.key),
    }
    match (op.kind, cf) {
        (OpKind::Put, Some(Cf::Meta)) => match MetaValue::decode(&op.value) {
            Some(m) => {
                let _ = write!(out, " type={}", m.data_type.name());
                if m.expire_ms != 0 {
                    let _ = write!(out, " expire_ms={}", m.expire_ms);
                }
                if m.data_type == codec::DataType::String {
                    push_value(&mut out, "val", &m.body);
                } else if let Some(h) = codec::CollectionHeader::decode(&m.body) {
                    let _ = write!(out, " ver={} count={}", h.version, h.count);
                }
            }
            None => push_value(&mut out, "raw", &op.value),
        },
        (OpKind::Put, Some(Cf::ZSet)) => match codec::decode_score(&op.value) {
            Some(score) => {
                let _ = write!(out, " score={score}");
            }
            None => push_value(&mut out, "raw", &op.value),
        },
        (OpKind::Put, Some(Cf::Hash | Cf::List)) => push_value(&mut out, "val", &op.value),
        (OpKind::Merge, Some(Cf::Default)) if op.value.len() == 9 => {
            let n = codec::counter::decode_value(&op.value);
            match op.value[0] {
                b'+' => {
                    let _ = write!(out, " {n:+}");
                }
                b'=' => {
                    let _ = write!(out, " ={n}");
                }
                _ => push_value(&mut out, "operand", &op.value),
            }
        }
        (OpKind::Put | OpKind::Merge, _) if !op.value.is_empty() => {
            push_value(&mut out, "val", &op.value)
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note_op(command: &str) -> BatchOp {
        let note = BatchNote {
            time_ms: 5,
            db: 0,
            command: command.into(),
        };
        BatchOp::new(0, OpKind::LogData, b"", &note.encode())
    }

    #[test]
    fn names_the_column_families_the_engine_creates() {
        assert_eq!(cf_name(0), "default");
        assert_eq!(cf_name(1), "meta");
        assert_eq!(cf_name(99), "?");
    }

    #[test]
    fn escapes_like_redis_cli() {
        assert_eq!(escape(b"foo:1"), "foo:1");
        assert_eq!(escape(b""), "\"\"");
        assert_eq!(escape(b"a b"), "\"a b\"");
        assert_eq!(escape(b"q\"\\\n\x00\xff"), "\"q\\\"\\\\\\n\\x00\\xff\"");
        assert_eq!(escape("é".as_bytes()), "\"\\xc3\\xa9\"");
    }

    #[test]
    fn describes_pika_keys() {
        use codec::{encode_element_prefix, encode_expire_key, encode_meta_key, DataType};
        let cf = |c: Cf| Cf::ALL.iter().position(|&x| x == c).expect("cf") as u32;
        let meta = MetaValue::string(bytes::Bytes::from_static(b"bar"), 0, 0);
        let d = describe_op(&BatchOp::new(
            cf(Cf::Meta),
            OpKind::Put,
            &encode_meta_key(0, 12182, b"foo"),
            &meta.encode(),
        ));
        assert_eq!(d, "put meta db=0 key=foo type=string val=bar");
        let hash = MetaValue {
            data_type: DataType::Hash,
            flags: 0,
            expire_ms: 99,
            body: codec::CollectionHeader {
                version: 3,
                count: 2,
                extra: vec![],
            }
            .encode(),
        };
        let d = describe_op(&BatchOp::new(
            cf(Cf::Meta),
            OpKind::Put,
            &encode_meta_key(1, 5, b"h"),
            &hash.encode(),
        ));
        assert_eq!(
            d,
            "put meta db=1 key=h type=hash expire_ms=99 ver=3 count=2"
        );
        let mut field = encode_element_prefix(0, 5, b"h", 3);
        field.extend_from_slice(b"f\x01");
        assert_eq!(
            describe_op(&BatchOp::new(cf(Cf::Hash), OpKind::Delete, &field, b"")),
            "del hash db=0 key=h sub=\"f\\x01\" ver=3"
        );
        let mut item = encode_element_prefix(0, 5, b"l", 4);
        item.extend_from_slice(&(pika::storage::types::list::INITIAL_INDEX - 2).to_be_bytes());
        assert_eq!(
            describe_op(&BatchOp::new(cf(Cf::List), OpKind::Put, &item, b"x")),
            "put list db=0 key=l index=-2 ver=4 val=x"
        );
        let mut by_score = encode_element_prefix(0, 5, b"z", 1);
        by_score.extend_from_slice(&codec::encode_score(1.5));
        by_score.extend_from_slice(b"m");
        assert_eq!(
            describe_op(&BatchOp::new(cf(Cf::ZScore), OpKind::Put, &by_score, b"")),
            "put zscore db=0 key=z score=1.5 sub=m ver=1"
        );
        assert_eq!(
            describe_op(&BatchOp::new(
                cf(Cf::Expire),
                OpKind::Put,
                &encode_expire_key(1234, 2, 0, b"k"),
                b""
            )),
            "put expire db=2 key=k deadline_ms=1234"
        );
        assert_eq!(
            describe_op(&BatchOp::new(
                0,
                OpKind::Merge,
                &codec::SysKey::dbsize(0),
                &codec::counter::add(1)
            )),
            "merge default dbsize db=0 +1"
        );
        assert_eq!(
            describe_op(&BatchOp::new(
                cf(Cf::Meta),
                OpKind::DeleteRange,
                &codec::db_lower_bound(4),
                &codec::db_upper_bound(4)
            )),
            "delrange meta db=4 .. db=5"
        );
        assert_eq!(
            describe_op(&note_op("SET")),
            "logdata note time_ms=5 db=0 cmd=SET"
        );
        assert_eq!(
            describe_op(&BatchOp::new(0, OpKind::LogData, b"", b"x y")),
            "logdata blob=\"x y\""
        );
        assert_eq!(
            describe_op(&BatchOp::new(42, OpKind::Put, b"k", b"")),
            "put ? raw=k"
        );
    }
}

/// Property tests: any op, whatever its bytes, is described without panicking.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn describe_op_never_panics(
            cf in 0u32..16,
            kind in 0usize..6,
            key in prop::collection::vec(any::<u8>(), 0..40),
            value in prop::collection::vec(any::<u8>(), 0..80),
        ) {
            let kinds = [OpKind::Put, OpKind::Delete, OpKind::SingleDelete, OpKind::Merge,
                OpKind::DeleteRange, OpKind::LogData];
            describe_op(&BatchOp { cf, kind: kinds[kind], key, value });
        }
    }
}
