//! Bitmap commands, black-box: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.

mod common;

use common::{cmd, err, int, server_with_hash, TestServer, WRONGTYPE};
use redis::Value;

const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";
const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_BIT: &str = "ERR bit is not an integer or out of range";
const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

fn set_bytes(c: &mut redis::Connection, key: &str, value: &[u8]) {
    let _: () = redis::cmd("SET").arg(key).arg(value).query(c).unwrap();
}

fn get_bytes(c: &mut redis::Connection, key: &str) -> Option<Vec<u8>> {
    cmd(c, &["GET", key]).unwrap()
}

fn ints(c: &mut redis::Connection, args: &[&str]) -> Vec<Option<i64>> {
    cmd(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn exists(c: &mut redis::Connection, key: &str) -> bool {
    int(c, &["EXISTS", key]) == 1
}

// ---------------------------------------------------------------------------------------------
// SETBIT / GETBIT

#[test]
fn setbit_returns_old_bit_and_zero_pads_the_string() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["SETBIT", "k", "9", "1"]), 0);
    assert_eq!(get_bytes(&mut c, "k"), Some(vec![0x00, 0x40]));
    assert_eq!(int(&mut c, &["SETBIT", "k", "9", "1"]), 1);
    assert_eq!(int(&mut c, &["SETBIT", "k", "9", "0"]), 1);
    assert_eq!(get_bytes(&mut c, "k"), Some(vec![0x00, 0x00]));
}

#[test]
fn setbit_edits_an_existing_value_in_place() {
    let s = TestServer::start();
    let mut c = s.conn();
    set_bytes(&mut c, "k", b"`");
    assert_eq!(int(&mut c, &["SETBIT", "k", "7", "1"]), 0);
    assert_eq!(common::get(&mut c, "k").as_deref(), Some("a"));
    let enc: String = cmd(&mut c, &["OBJECT", "ENCODING", "k"]).unwrap();
    assert_eq!(enc, "raw");
}

#[test]
fn setbit_rejects_bad_offsets() {
    let s = TestServer::start();
    let mut c = s.conn();
    for off in ["-1", "4294967296", "abc", "1.5", "+3"] {
        assert_eq!(err(&mut c, &["SETBIT", "k", off, "1"]), BAD_OFFSET, "{off}");
    }
    assert!(!exists(&mut c, "k"));
}

#[test]
fn setbit_offset_limit_follows_proto_max_bulk_len() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["CONFIG", "SET", "proto-max-bulk-len", "1048576"]).unwrap();
    assert_eq!(err(&mut c, &["SETBIT", "k", "8388608", "1"]), BAD_OFFSET);
    assert_eq!(int(&mut c, &["SETBIT", "k", "8388607", "1"]), 0);
    assert_eq!(int(&mut c, &["STRLEN", "k"]), 1_048_576);
}

#[test]
fn setbit_accepts_only_zero_or_one() {
    let s = TestServer::start();
    let mut c = s.conn();
    for v in ["2", "-1", "x", "01", ""] {
        assert_eq!(err(&mut c, &["SETBIT", "k", "0", v]), BAD_BIT, "{v:?}");
    }
    // The offset is checked first.
    assert_eq!(err(&mut c, &["SETBIT", "k", "-5", "7"]), BAD_OFFSET);
}

#[test]
fn setbit_keeps_the_ttl() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "k", "x", "EX", "100"]).unwrap();
    int(&mut c, &["SETBIT", "k", "100", "1"]);
    assert!(int(&mut c, &["TTL", "k"]) > 90);
}

#[test]
fn setbit_and_getbit_on_a_hash_are_wrongtype() {
    let s = server_with_hash("h");
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["SETBIT", "h", "0", "1"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["GETBIT", "h", "0"]), WRONGTYPE);
}

#[test]
fn getbit_reads_bits_and_zero_beyond_the_end() {
    let s = TestServer::start();
    let mut c = s.conn();
    set_bytes(&mut c, "k", &[0b1010_0000]);
    let bits: Vec<i64> = (0..4)
        .map(|i| int(&mut c, &["GETBIT", "k", &i.to_string()]))
        .collect();
    assert_eq!(bits, vec![1, 0, 1, 0]);
    assert_eq!(int(&mut c, &["GETBIT", "k", "1000"]), 0);
    assert_eq!(int(&mut c, &["GETBIT", "missing", "3"]), 0);
}

#[test]
fn getbit_rejects_bad_offsets_even_on_missing_keys() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["GETBIT", "missing", "-1"]), BAD_OFFSET);
    assert_eq!(
        err(&mut c, &["GETBIT", "missing", "4294967296"]),
        BAD_OFFSET
    );
}

// ---------------------------------------------------------------------------------------------
// BITCOUNT

#[test]
fn bitcount_whole_string_and_missing_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    set_bytes(&mut c, "k", b"foobar");
    assert_eq!(int(&mut c, &["BITCOUNT", "k"]), 26);
    assert_eq!(int(&mut c, &["BITCOUNT", "missing"]), 0);
}

#[test]
fn bitcount_byte_ranges_with_negative_indexes() {
    let s = TestServer::start();
    let mut c = s.conn();
    set_bytes(&mut c, "k", &[0xff, 0x0f, 0x01]);
    assert_eq!(int(&mut c, &["BITCOUNT", "k", "0", "0"]), 8);
    assert_eq!(int(&mut c, &["BITCOUNT", "k", "1", "-1"]), 5);
    assert_eq!(int(&mut c, &["BITCOUNT", "k", "-2", "-2", "BYTE"]), 4);
    assert_eq!(int(&mut c, &["BITCOUNT", "k", "-100", "100"]), 13);
    assert_eq!(int(&mut c, &["BITCOUNT", "k", "2", "1"]), 0);
    assert_eq!(int(&mut c, &["BITCOUNT", "k", "-1", "-3"]), 0);
}

#[test]
fn bitcount_bit_ranges() {
    let s = TestServer::start();
    let mut c = s.conn();
    set_bytes(&mut c, "k", &[0xff, 0x0f]);
    assert_eq!(int(&mut c, &["BITCOUNT", "k", "4", "11", "bit"]), 4);
    assert_eq!(int(&mut c, &["BITCOUNT", "k", "-4", "-1", "BIT"]), 4);
    assert_eq!(int(&mut c, &["BITCOUNT", "k", "8", "11", "BIT"]), 0);
    assert_eq!(int(&mut c, &["BITCOUNT", "k", "7", "7", "BIT"]), 1);
}

#[test]
fn bitcount_argument_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    set_bytes(&mut c, "k", b"abc");
    assert_eq!(err(&mut c, &["BITCOUNT", "k", "0"]), SYNTAX);
    assert_eq!(err(&mut c, &["BITCOUNT", "k", "0", "1", "WORD"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["BITCOUNT", "k", "0", "1", "BIT", "x"]),
        SYNTAX
    );
    assert_eq!(err(&mut c, &["BITCOUNT", "k", "a", "1"]), NOT_INT);
    assert_eq!(err(&mut c, &["BITCOUNT", "k", "0", "1x"]), NOT_INT);
}

#[test]
fn bitcount_on_a_hash_is_wrongtype() {
    let s = server_with_hash("h");
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["BITCOUNT", "h"]), WRONGTYPE);
}

// ---------------------------------------------------------------------------------------------
// BITPOS

#[test]
fn bitpos_on_a_missing_key_sees_endless_zeros() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["BITPOS", "missing", "0"]), 0);
    assert_eq!(int(&mut c, &["BITPOS", "missing", "1"]), -1);
    assert_eq!(int(&mut c, &["BITPOS", "missing", "1", "3", "9"]), -1);
}

#[test]
fn bitpos_validates_the_bit_argument() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["BITPOS", "k", "2"]),
        "ERR The bit argument must be 1 or 0."
    );
    assert_eq!(err(&mut c, &["BITPOS", "k", "one"]), NOT_INT);
}

#[test]
fn bitpos_finds_first_set_and_clear_bits() {
    let s = TestServer::start();
    let mut c = s.conn();
    set_bytes(&mut c, "k", &[0xff, 0xf0, 0x00]);
    assert_eq!(int(&mut c, &["BITPOS", "k", "0"]), 12);
    assert_eq!(int(&mut c, &["BITPOS", "k", "1"]), 0);
    assert_eq!(int(&mut c, &["BITPOS", "k", "1", "1"]), 8);
    assert_eq!(int(&mut c, &["BITPOS", "k", "1", "-1"]), -1);
    assert_eq!(int(&mut c, &["BITPOS", "k", "1", "2", "-1"]), -1);
}

#[test]
fn bitpos_clear_bit_past_all_ones_depends_on_end() {
    let s = TestServer::start();
    let mut c = s.conn();
    set_bytes(&mut c, "k", &[0xff, 0xff]);
    // Without an end the string continues with zeros; with one, the range has none.
    assert_eq!(int(&mut c, &["BITPOS", "k", "0"]), 16);
    assert_eq!(int(&mut c, &["BITPOS", "k", "0", "1"]), 16);
    assert_eq!(int(&mut c, &["BITPOS", "k", "0", "0", "-1"]), -1);
    assert_eq!(int(&mut c, &["BITPOS", "k", "0", "3", "-1", "BIT"]), -1);
}

#[test]
fn bitpos_all_zero_string_has_no_set_bit() {
    let s = TestServer::start();
    let mut c = s.conn();
    set_bytes(&mut c, "k", &[0, 0, 0]);
    assert_eq!(int(&mut c, &["BITPOS", "k", "1"]), -1);
    assert_eq!(int(&mut c, &["BITPOS", "k", "0"]), 0);
    assert_eq!(int(&mut c, &["BITPOS", "k", "0", "-1"]), 16);
}

#[test]
fn bitpos_bit_ranges() {
    let s = TestServer::start();
    let mut c = s.conn();
    set_bytes(&mut c, "k", &[0x00, 0x81]);
    assert_eq!(int(&mut c, &["BITPOS", "k", "1", "9", "-1", "BIT"]), 15);
    assert_eq!(int(&mut c, &["BITPOS", "k", "1", "9", "14", "bit"]), -1);
    assert_eq!(int(&mut c, &["BITPOS", "k", "0", "8", "8", "BIT"]), -1);
    assert_eq!(int(&mut c, &["BITPOS", "k", "1", "5", "3", "BIT"]), -1);
}

#[test]
fn bitpos_empty_string_and_empty_ranges_answer_minus_one() {
    let s = TestServer::start();
    let mut c = s.conn();
    set_bytes(&mut c, "e", b"");
    assert_eq!(int(&mut c, &["BITPOS", "e", "0"]), -1);
    assert_eq!(int(&mut c, &["BITPOS", "e", "1"]), -1);
    set_bytes(&mut c, "k", b"\x00");
    assert_eq!(int(&mut c, &["BITPOS", "k", "0", "5"]), -1);
}

#[test]
fn bitpos_argument_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    set_bytes(&mut c, "k", b"abc");
    assert_eq!(
        err(&mut c, &["BITPOS", "k", "1", "0", "1", "NIBBLE"]),
        SYNTAX
    );
    assert_eq!(
        err(&mut c, &["BITPOS", "k", "1", "0", "1", "BIT", "x"]),
        SYNTAX
    );
    assert_eq!(err(&mut c, &["BITPOS", "k", "1", "x"]), NOT_INT);
    assert_eq!(err(&mut c, &["BITPOS", "k", "1", "0", "y"]), NOT_INT);
}

#[test]
fn bitpos_on_a_hash_is_wrongtype() {
    let s = server_with_hash("h");
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["BITPOS", "h", "1"]), WRONGTYPE);
}

// ---------------------------------------------------------------------------------------------
// BITOP

#[test]
fn bitop_and_or_xor_pad_shorter_sources() {
    let s = TestServer::start();
    let mut c = s.conn();
    set_bytes(&mut c, "a", &[0xf0, 0xff]);
    set_bytes(&mut c, "b", &[0x3c]);
    assert_eq!(int(&mut c, &["BITOP", "AND", "d", "a", "b"]), 2);
    assert_eq!(get_bytes(&mut c, "d"), Some(vec![0x30, 0x00]));
    assert_eq!(int(&mut c, &["BITOP", "or", "d", "a", "b"]), 2);
    assert_eq!(get_bytes(&mut c, "d"), Some(vec![0xfc, 0xff]));
    assert_eq!(int(&mut c, &["BITOP", "Xor", "d", "a", "b", "missing"]), 2);
    assert_eq!(get_bytes(&mut c, "d"), Some(vec![0xcc, 0xff]));
}

#[test]
fn bitop_not_inverts_one_source() {
    let s = TestServer::start();
    let mut c = s.conn();
    set_bytes(&mut c, "a", &[0x0f, 0xaa]);
    assert_eq!(int(&mut c, &["BITOP", "NOT", "d", "a"]), 2);
    assert_eq!(get_bytes(&mut c, "d"), Some(vec![0xf0, 0x55]));
}

#[test]
fn bitop_not_needs_exactly_one_source() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["BITOP", "NOT", "d", "a", "b"]),
        "ERR BITOP NOT must be called with a single source key."
    );
}

#[test]
fn bitop_unknown_operation_is_syntax_error() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["BITOP", "NAND", "d", "a", "b"]), SYNTAX);
}

#[test]
fn bitop_empty_result_deletes_destination() {
    let s = TestServer::start();
    let mut c = s.conn();
    set_bytes(&mut c, "d", b"old");
    assert_eq!(int(&mut c, &["BITOP", "OR", "d", "nokey1", "nokey2"]), 0);
    assert!(!exists(&mut c, "d"));
}

#[test]
fn bitop_overwrites_destination_and_drops_its_ttl() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "d", "something long", "EX", "100"]).unwrap();
    set_bytes(&mut c, "a", b"A");
    assert_eq!(int(&mut c, &["BITOP", "AND", "d", "a"]), 1);
    assert_eq!(common::get(&mut c, "d").as_deref(), Some("A"));
    assert_eq!(int(&mut c, &["TTL", "d"]), -1);
}

#[test]
fn bitop_overwrites_a_destination_of_another_type() {
    let s = server_with_hash("h");
    let mut c = s.conn();
    set_bytes(&mut c, "a", b"z");
    assert_eq!(int(&mut c, &["BITOP", "OR", "h", "a"]), 1);
    assert_eq!(common::get(&mut c, "h").as_deref(), Some("z"));
}

#[test]
fn bitop_with_a_hash_source_is_wrongtype() {
    let s = server_with_hash("h");
    let mut c = s.conn();
    set_bytes(&mut c, "a", b"z");
    assert_eq!(err(&mut c, &["BITOP", "OR", "d", "a", "h"]), WRONGTYPE);
    assert!(!exists(&mut c, "d"));
}

#[test]
fn bitop_keys_are_destination_then_sources() {
    let s = TestServer::start();
    let mut c = s.conn();
    let keys: Vec<String> = cmd(
        &mut c,
        &["COMMAND", "GETKEYS", "BITOP", "AND", "d", "x", "y"],
    )
    .unwrap();
    assert_eq!(keys, vec!["d", "x", "y"]);
}

// ---------------------------------------------------------------------------------------------
// BITFIELD

#[test]
fn bitfield_get_on_missing_key_reads_zeros_without_creating_it() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        ints(
            &mut c,
            &["BITFIELD", "k", "GET", "i8", "0", "GET", "u63", "100"]
        ),
        vec![Some(0), Some(0)]
    );
    assert!(!exists(&mut c, "k"));
}

#[test]
fn bitfield_get_signed_and_unsigned_across_bytes() {
    let s = TestServer::start();
    let mut c = s.conn();
    set_bytes(&mut c, "k", &[0x0f, 0xf0]);
    assert_eq!(
        ints(
            &mut c,
            &["BITFIELD", "k", "GET", "u8", "4", "GET", "i8", "4", "GET", "i4", "8"]
        ),
        vec![Some(255), Some(-1), Some(-1)]
    );
    // Bits past the end read as zero.
    assert_eq!(
        ints(&mut c, &["BITFIELD", "k", "GET", "u8", "12"]),
        vec![Some(0)]
    );
}

#[test]
fn bitfield_set_returns_old_value_and_incrby_the_new_one() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        ints(
            &mut c,
            &[
                "BITFIELD", "k", "SET", "u8", "0", "200", "INCRBY", "u8", "0", "5", "GET", "u8",
                "0"
            ]
        ),
        vec![Some(0), Some(205), Some(205)]
    );
    assert_eq!(get_bytes(&mut c, "k"), Some(vec![205]));
}

#[test]
fn bitfield_hash_offsets_are_multiples_of_the_width() {
    let s = TestServer::start();
    let mut c = s.conn();
    ints(
        &mut c,
        &[
            "BITFIELD", "k", "SET", "u8", "#1", "65", "SET", "u8", "#2", "66",
        ],
    );
    assert_eq!(get_bytes(&mut c, "k"), Some(vec![0, 65, 66]));
    assert_eq!(
        ints(&mut c, &["BITFIELD", "k", "GET", "u4", "#3"]),
        vec![Some(1)]
    );
}

#[test]
fn bitfield_overflow_wrap_is_the_default() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        ints(
            &mut c,
            &["BITFIELD", "k", "SET", "i8", "0", "127", "INCRBY", "i8", "0", "1"]
        ),
        vec![Some(0), Some(-128)]
    );
    assert_eq!(
        ints(
            &mut c,
            &["BITFIELD", "k", "SET", "u4", "8", "300", "GET", "u4", "8"]
        ),
        vec![Some(0), Some(12)]
    );
}

#[test]
fn bitfield_overflow_sat_clamps() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        ints(
            &mut c,
            &[
                "BITFIELD", "k", "OVERFLOW", "SAT", "INCRBY", "u4", "0", "100", "INCRBY", "i4",
                "4", "-100"
            ]
        ),
        vec![Some(15), Some(-8)]
    );
    // A negative SET value is a huge unsigned number: it saturates high.
    assert_eq!(
        ints(
            &mut c,
            &["BITFIELD", "k", "OVERFLOW", "sat", "SET", "u8", "8", "-1", "GET", "u8", "8"]
        ),
        vec![Some(0), Some(255)]
    );
}

#[test]
fn bitfield_overflow_fail_answers_nil_and_leaves_the_field() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        ints(
            &mut c,
            &[
                "BITFIELD", "k", "SET", "u2", "0", "3", "OVERFLOW", "FAIL", "INCRBY", "u2", "0",
                "1", "GET", "u2", "0"
            ]
        ),
        vec![Some(0), None, Some(3)]
    );
}

#[test]
fn bitfield_overflow_applies_only_to_later_operations() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        ints(
            &mut c,
            &[
                "BITFIELD", "k", "INCRBY", "u2", "0", "5", "OVERFLOW", "FAIL", "INCRBY", "u2", "2",
                "5"
            ]
        ),
        vec![Some(1), None]
    );
}

#[test]
fn bitfield_failed_write_still_creates_the_padded_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        ints(
            &mut c,
            &["BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", "10", "9"]
        ),
        vec![None]
    );
    assert_eq!(get_bytes(&mut c, "k"), Some(vec![0, 0]));
}

#[test]
fn bitfield_i64_extremes() {
    let s = TestServer::start();
    let mut c = s.conn();
    let max = i64::MAX.to_string();
    assert_eq!(
        ints(
            &mut c,
            &["BITFIELD", "k", "SET", "i64", "3", &max, "INCRBY", "i64", "3", "1"]
        ),
        vec![Some(0), Some(i64::MIN)]
    );
    assert_eq!(
        ints(
            &mut c,
            &["BITFIELD", "k", "OVERFLOW", "SAT", "INCRBY", "i64", "3", "-1"]
        ),
        vec![Some(i64::MIN)]
    );
}

#[test]
fn bitfield_without_operations_returns_empty_array() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(ints(&mut c, &["BITFIELD", "k"]), Vec::<Option<i64>>::new());
}

#[test]
fn bitfield_rejects_bad_types() {
    let s = TestServer::start();
    let mut c = s.conn();
    for ty in ["u64", "i65", "i0", "I8", "x8", "u", "i-1"] {
        assert_eq!(
            err(&mut c, &["BITFIELD", "k", "GET", ty, "0"]),
            BAD_TYPE,
            "{ty}"
        );
    }
}

#[test]
fn bitfield_rejects_bad_offsets() {
    let s = TestServer::start();
    let mut c = s.conn();
    for off in ["-1", "x", "#-1", "##1", "4294967296", "#536870912"] {
        assert_eq!(
            err(&mut c, &["BITFIELD", "k", "GET", "u8", off]),
            BAD_OFFSET,
            "{off}"
        );
    }
}

#[test]
fn bitfield_rejects_bad_overflow_policy() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err(
            &mut c,
            &["BITFIELD", "k", "OVERFLOW", "CLAMP", "GET", "u8", "0"]
        ),
        "ERR Invalid OVERFLOW type specified"
    );
}

#[test]
fn bitfield_syntax_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["BITFIELD", "k", "DEL", "u8", "0"]), SYNTAX);
    assert_eq!(err(&mut c, &["BITFIELD", "k", "GET", "u8"]), SYNTAX);
    assert_eq!(err(&mut c, &["BITFIELD", "k", "SET", "u8", "0"]), SYNTAX);
    assert_eq!(err(&mut c, &["BITFIELD", "k", "OVERFLOW"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["BITFIELD", "k", "INCRBY", "u8", "0", "one"]),
        NOT_INT
    );
    assert!(!exists(&mut c, "k"));
}

#[test]
fn bitfield_keeps_the_ttl() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = cmd(&mut c, &["SET", "k", "x", "EX", "100"]).unwrap();
    ints(&mut c, &["BITFIELD", "k", "SET", "u8", "16", "1"]);
    assert!(int(&mut c, &["TTL", "k"]) > 90);
}

#[test]
fn bitfield_on_a_hash_is_wrongtype() {
    let s = server_with_hash("h");
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["BITFIELD", "h", "GET", "u8", "0"]), WRONGTYPE);
    assert_eq!(
        err(&mut c, &["BITFIELD", "h", "SET", "u8", "0", "1"]),
        WRONGTYPE
    );
    assert_eq!(
        err(&mut c, &["BITFIELD_RO", "h", "GET", "u8", "0"]),
        WRONGTYPE
    );
}

#[test]
fn bitfield_ro_reads_fields() {
    let s = TestServer::start();
    let mut c = s.conn();
    set_bytes(&mut c, "k", &[0x80]);
    assert_eq!(
        ints(
            &mut c,
            &["BITFIELD_RO", "k", "GET", "i8", "0", "GET", "u1", "0"]
        ),
        vec![Some(-128), Some(1)]
    );
}

#[test]
fn bitfield_ro_refuses_writes() {
    let s = TestServer::start();
    let mut c = s.conn();
    let msg = "ERR BITFIELD_RO only supports the GET subcommand";
    assert_eq!(
        err(&mut c, &["BITFIELD_RO", "k", "SET", "u8", "0", "1"]),
        msg
    );
    assert_eq!(
        err(
            &mut c,
            &[
                "BITFIELD_RO",
                "k",
                "GET",
                "u8",
                "0",
                "INCRBY",
                "u8",
                "0",
                "1"
            ]
        ),
        msg
    );
    assert!(!exists(&mut c, "k"));
}

#[test]
fn bitfield_is_a_write_command_and_bitfield_ro_is_readonly() {
    let s = TestServer::start();
    let mut c = s.conn();
    let info: Value = cmd(&mut c, &["COMMAND", "INFO", "bitfield", "bitfield_ro"]).unwrap();
    let Value::Array(entries) = info else {
        panic!("{info:?}")
    };
    let flags = |e: &Value| -> Vec<String> {
        let Value::Array(fields) = e else {
            panic!("{e:?}")
        };
        redis::from_redis_value(fields[2].clone()).unwrap()
    };
    assert!(flags(&entries[0]).contains(&"write".to_string()));
    assert!(flags(&entries[1]).contains(&"readonly".to_string()));
}

/// INFO persistence's count of changes since the last save.
fn changes(c: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("rdb_changes_since_last_save")
}

#[test]
fn setbit_and_bitfield_count_a_change_only_when_bits_change() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: i64 = redis::cmd("SETBIT")
        .arg("b")
        .arg(3)
        .arg(1)
        .query(&mut c)
        .unwrap();
    let _: Vec<i64> = redis::cmd("BITFIELD")
        .arg("f")
        .arg("SET")
        .arg("u4")
        .arg(0)
        .arg(5)
        .query(&mut c)
        .unwrap();
    let before = changes(&mut c);
    let _: i64 = redis::cmd("SETBIT")
        .arg("b")
        .arg(3)
        .arg(1)
        .query(&mut c)
        .unwrap();
    let _: Vec<i64> = redis::cmd("BITFIELD")
        .arg("f")
        .arg("SET")
        .arg("u4")
        .arg(0)
        .arg(5)
        .query(&mut c)
        .unwrap();
    assert_eq!(
        changes(&mut c),
        before,
        "rewriting the same bits is not a change"
    );
    let _: i64 = redis::cmd("SETBIT")
        .arg("b")
        .arg(3)
        .arg(0)
        .query(&mut c)
        .unwrap();
    assert_eq!(changes(&mut c), before + 1);
}
