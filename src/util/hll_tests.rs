use super::*;

fn dense_of(value: &[u8]) -> Vec<u8> {
    let mut v = value.to_vec();
    to_dense(&mut v).unwrap();
    dense_registers(&v)
}

#[test]
fn patterns_match_redis_server() {
    // Register and run length redis-server 7.0 reports (PFDEBUG GETREG) for one element.
    assert_eq!(pattern(b"hello"), (9216, 1));
    assert_eq!(pattern(b"a"), (12711, 2));
    assert_eq!(pattern(b"foo"), (7348, 5));
    assert_eq!(pattern(b""), (5938, 2));
    assert_eq!(pattern(b"12345"), (14704, 1));
    // Tails of every length go through their own path.
    let data = b"0123456789abcdef";
    let hashes: std::collections::HashSet<u64> =
        (0..=16).map(|n| murmur64a(&data[..n], SEED)).collect();
    assert_eq!(hashes.len(), 17);
    assert_eq!(murmur64a(b"", 0), 0);
}

#[test]
fn pattern_is_within_bounds() {
    for i in 0..10_000u32 {
        let (index, count) = pattern(&i.to_le_bytes());
        assert!(index < REGISTERS);
        assert!((1..=51).contains(&count));
    }
}

#[test]
fn empty_sparse_layout() {
    let v = new_sparse();
    assert_eq!(&v[..5], b"HYLL\x01");
    assert_eq!(&v[5..16], &[0u8; 11]);
    assert_eq!(&v[16..], &[0x7f, 0xff]);
    assert!(is_hll(&v));
    assert_eq!(count(&v), Ok(0));
    assert_eq!(decode_sparse(&v), "Z:16384");
    assert_eq!(cached_count(&v), Some(0));
}

#[test]
fn header_checks() {
    assert!(!is_hll(b"HYLL"));
    assert!(!is_hll(b"HYLX\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff"));
    assert!(!is_hll(b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0\x7f\xff"));
    // Dense must have the exact length.
    assert!(!is_hll(b"HYLL\x00\0\0\0\0\0\0\0\0\0\0\0\x7f\xff"));
    let mut dense = new_sparse();
    to_dense(&mut dense).unwrap();
    assert_eq!(dense.len(), DENSE_LEN);
    assert!(is_hll(&dense));
}

#[test]
fn cache_bits() {
    let mut v = new_sparse();
    set_cached_count(&mut v, 12345);
    assert_eq!(cached_count(&v), Some(12345));
    invalidate_cache(&mut v);
    assert_eq!(cached_count(&v), None);
    assert_eq!(v[15] & 0x80, 0x80);
}

#[test]
fn dense_registers_round_trip() {
    let mut regs = vec![0u8; DENSE_LEN - HEADER_LEN];
    for i in 0..REGISTERS {
        dense_put(&mut regs, i, (i % 64) as u8);
    }
    for i in 0..REGISTERS {
        assert_eq!(dense_get(&regs, i), (i % 64) as u8, "register {i}");
    }
    dense_put(&mut regs, 5, 0);
    assert_eq!(dense_get(&regs, 4), 4);
    assert_eq!(dense_get(&regs, 5), 0);
    assert_eq!(dense_get(&regs, 6), 6);
}

#[test]
fn sparse_set_splits_and_merges_like_redis() {
    let mut v = new_sparse();
    assert_eq!(raise(&mut v, 100, 3, 3000), Ok(true));
    assert_eq!(decode_sparse(&v), "Z:100 v:3,1 Z:16283");
    assert_eq!(raise(&mut v, 100, 2, 3000), Ok(false));
    assert_eq!(raise(&mut v, 101, 3, 3000), Ok(true));
    assert_eq!(decode_sparse(&v), "Z:100 v:3,2 Z:16282");
    assert_eq!(raise(&mut v, 0, 1, 3000), Ok(true));
    assert_eq!(decode_sparse(&v), "v:1,1 Z:99 v:3,2 Z:16282");
    assert_eq!(raise(&mut v, 16383, 5, 3000), Ok(true));
    assert_eq!(decode_sparse(&v), "v:1,1 Z:99 v:3,2 Z:16281 v:5,1");
    // Raising the middle of a VAL run splits it.
    assert_eq!(raise(&mut v, 102, 3, 3000), Ok(true));
    assert_eq!(raise(&mut v, 101, 4, 3000), Ok(true));
    assert_eq!(
        decode_sparse(&v),
        "v:1,1 Z:99 v:3,1 v:4,1 v:3,1 Z:16280 v:5,1"
    );
    assert_eq!(cached_count(&v), None);
}

#[test]
fn sparse_and_dense_agree() {
    let mut sparse = new_sparse();
    let mut dense = new_sparse();
    to_dense(&mut dense).unwrap();
    for i in 0..2000u32 {
        let e = format!("element:{i}");
        let a = add(&mut sparse, e.as_bytes(), 1 << 20).unwrap();
        let b = add(&mut dense, e.as_bytes(), 1 << 20).unwrap();
        assert_eq!(a, b);
    }
    assert_eq!(encoding(&sparse), Encoding::Sparse);
    assert_eq!(dense_of(&sparse), dense_registers(&dense));
    assert_eq!(count(&sparse), count(&dense));
    let mut max = vec![0u8; REGISTERS];
    merge_into(&mut max, &sparse).unwrap();
    assert_eq!(max, dense_registers(&dense));
    assert_eq!(count_registers(&max), count(&dense).unwrap());
}

#[test]
fn promotion_on_size_and_on_value() {
    let mut v = new_sparse();
    let mut i = 0u32;
    while encoding(&v) == Encoding::Sparse {
        add(&mut v, &i.to_le_bytes(), 3000).unwrap();
        assert!(encoding(&v) == Encoding::Dense || v.len() <= 3000);
        i += 1;
    }
    assert_eq!(v.len(), DENSE_LEN);
    let mut w = new_sparse();
    assert_eq!(raise(&mut w, 7, 33, 3000), Ok(true));
    assert_eq!(encoding(&w), Encoding::Dense);
    assert_eq!(dense_registers(&w)[7], 33);
}

#[test]
fn estimates_within_bounds() {
    let mut v = new_sparse();
    let mut checkpoint = 10u32;
    for i in 1..=200_000u32 {
        add(&mut v, format!("x{i}").as_bytes(), 3000).unwrap();
        if i == checkpoint {
            let card = count(&v).unwrap() as f64;
            let err = (card - f64::from(i)).abs() / f64::from(i);
            assert!(err < 0.05, "{i}: {card}");
            checkpoint *= 10;
        }
    }
}

#[test]
fn corrupt_sparse_is_detected() {
    let mut v = new_sparse();
    v.truncate(HEADER_LEN);
    v.push(0x00); // z:1 covers one register only
    assert_eq!(count(&v), Err(Corrupt));
    assert_eq!(to_dense(&mut v.clone()), Err(Corrupt));
    assert_eq!(merge_into(&mut [0u8; REGISTERS], &v), Err(Corrupt));
    assert_eq!(raise(&mut v, 100, 1, 3000), Err(Corrupt));
    // A VAL run past the last register.
    let mut w = header(Encoding::Sparse);
    push_xzero(&mut w, REGISTERS - 1);
    w.push(val_byte(3, 4));
    assert_eq!(to_dense(&mut w), Err(Corrupt));
}

#[test]
fn self_test_passes() {
    // The full PFSELFTEST is slow in unoptimised builds; run the register part only there.
    if cfg!(debug_assertions) {
        return;
    }
    assert_eq!(self_test(DEFAULT_SPARSE_MAX_BYTES), Ok(()));
}
