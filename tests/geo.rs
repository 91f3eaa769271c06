//! Geo commands, black-box: GEOADD and its flags, GEOPOS, GEODIST, GEOHASH, the radius, box
//! and member searches with their options and STORE forms, errors, and replies compared with
//! redis-server's (where it is installed).

mod common;

use std::io::Write;
use std::net::TcpStream;

use common::{beside_redis, cmd, err, int, read_until, TestServer, WRONGTYPE};
use redis::Value;

fn sicily(c: &mut redis::Connection) {
    let n = int(
        c,
        &[
            "GEOADD",
            "Sicily",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
    );
    assert_eq!(n, 2);
}

#[test]
fn geoadd_stores_redis_scores_in_a_zset() {
    let s = TestServer::start();
    let mut c = s.conn();
    sicily(&mut c);
    let score: String = cmd(&mut c, &["ZSCORE", "Sicily", "Palermo"]).unwrap();
    assert_eq!(score, "3479099956230698");
    let t: String = cmd(&mut c, &["TYPE", "Sicily"]).unwrap();
    assert_eq!(t, "zset");
    // NX leaves existing members, XX adds none, CH counts changes.
    assert_eq!(
        int(&mut c, &["GEOADD", "Sicily", "NX", "1", "1", "Palermo"]),
        0
    );
    assert_eq!(
        int(&mut c, &["GEOADD", "Sicily", "XX", "1", "1", "Nowhere"]),
        0
    );
    assert_eq!(int(&mut c, &["ZCARD", "Sicily"]), 2);
    assert_eq!(
        int(
            &mut c,
            &["GEOADD", "Sicily", "XX", "CH", "1", "1", "Palermo"]
        ),
        1
    );
    assert_eq!(int(&mut c, &["GEOADD", "Sicily", "1", "1", "Palermo"]), 0);
    assert_eq!(
        int(&mut c, &["GEOADD", "Sicily", "CH", "1", "1", "Palermo"]),
        0
    );
}

#[test]
fn errors_are_redis_texts() {
    let s = TestServer::start();
    let mut c = s.conn();
    sicily(&mut c);
    assert_eq!(
        err(&mut c, &["GEOADD", "k", "200", "100", "x"]),
        "ERR invalid longitude,latitude pair 200.000000,100.000000"
    );
    assert_eq!(
        err(&mut c, &["GEOADD", "k", "NX", "XX", "1", "1", "x"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["GEOADD", "k", "1", "1", "x", "2"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["GEOADD", "k", "a", "1", "x"]),
        "ERR value is not a valid float"
    );
    assert_eq!(
        err(&mut c, &["GEODIST", "Sicily", "Palermo", "Catania", "yd"]),
        "ERR unsupported unit provided. please use M, KM, FT, MI"
    );
    assert_eq!(
        err(&mut c, &["GEORADIUSBYMEMBER", "Sicily", "Rome", "10", "km"]),
        "ERR could not decode requested zset member"
    );
    assert_eq!(
        err(&mut c, &["GEORADIUS", "Sicily", "15", "37", "-1", "km"]),
        "ERR radius cannot be negative"
    );
    assert_eq!(
        err(&mut c, &["GEORADIUS", "Sicily", "15", "37", "x", "km"]),
        "ERR need numeric radius"
    );
    assert_eq!(
        err(
            &mut c,
            &[
                "GEOSEARCH",
                "Sicily",
                "BYRADIUS",
                "10",
                "km",
                "ASC",
                "WITHDIST"
            ]
        ),
        "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for geosearch"
    );
    assert_eq!(
        err(
            &mut c,
            &[
                "GEOSEARCH",
                "Sicily",
                "FROMLONLAT",
                "15",
                "37",
                "ASC",
                "WITHDIST"
            ]
        ),
        "ERR exactly one of BYRADIUS and BYBOX can be specified for geosearch"
    );
    assert_eq!(
        err(
            &mut c,
            &[
                "GEOSEARCH",
                "Sicily",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "1",
                "m",
                "ANY"
            ]
        ),
        "ERR the ANY argument requires COUNT argument"
    );
    assert_eq!(
        err(
            &mut c,
            &[
                "GEOSEARCH",
                "Sicily",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "1",
                "m",
                "COUNT",
                "0"
            ]
        ),
        "ERR COUNT must be > 0"
    );
    assert_eq!(
        err(&mut c, &["GEORADIUS", "Sicily", "15", "37", "1", "km", "WITHDIST", "STORE", "d"]),
        "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
    );
    assert_eq!(
        err(
            &mut c,
            &[
                "GEORADIUS_RO",
                "Sicily",
                "15",
                "37",
                "1",
                "km",
                "STORE",
                "d"
            ]
        ),
        "ERR syntax error"
    );
    let _: () = cmd(&mut c, &["SET", "str", "x"]).unwrap();
    assert_eq!(err(&mut c, &["GEOPOS", "str", "a"]), WRONGTYPE);
    assert_eq!(
        err(
            &mut c,
            &[
                "GEOSEARCH",
                "str",
                "FROMLONLAT",
                "1",
                "1",
                "BYRADIUS",
                "1",
                "m"
            ]
        ),
        WRONGTYPE
    );
}

#[test]
fn positions_distances_and_hashes() {
    let s = TestServer::start();
    let mut c = s.conn();
    sicily(&mut c);
    let pos: Vec<Option<Vec<String>>> =
        cmd(&mut c, &["GEOPOS", "Sicily", "Palermo", "Nowhere"]).unwrap();
    assert_eq!(
        pos,
        vec![
            Some(vec![
                "13.36138933897018433".into(),
                "38.11555639549629859".into()
            ]),
            None
        ]
    );
    let d: String = cmd(&mut c, &["GEODIST", "Sicily", "Palermo", "Catania", "km"]).unwrap();
    assert_eq!(d, "166.2742");
    let none: Option<String> = cmd(&mut c, &["GEODIST", "Sicily", "Palermo", "x"]).unwrap();
    assert_eq!(none, None);
    let h: Vec<Option<String>> = cmd(&mut c, &["GEOHASH", "Sicily", "Palermo", "x"]).unwrap();
    assert_eq!(h, vec![Some("sqc8b49rny0".into()), None]);
}

#[test]
fn searches_and_stores() {
    let s = TestServer::start();
    let mut c = s.conn();
    sicily(&mut c);
    let near: Vec<String> = cmd(
        &mut c,
        &["GEORADIUS", "Sicily", "15", "37", "200", "km", "ASC"],
    )
    .unwrap();
    assert_eq!(near, vec!["Catania", "Palermo"]);
    let one: Vec<String> = cmd(
        &mut c,
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYBOX",
            "400",
            "400",
            "km",
            "DESC",
            "COUNT",
            "1",
        ],
    )
    .unwrap();
    assert_eq!(one, vec!["Catania"]);
    assert_eq!(
        int(
            &mut c,
            &[
                "GEOSEARCHSTORE",
                "dst",
                "Sicily",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "200",
                "km",
                "STOREDIST"
            ]
        ),
        2
    );
    let d: String = cmd(&mut c, &["ZSCORE", "dst", "Catania"]).unwrap();
    assert!(d.starts_with("56.44"), "{d}");
    assert_eq!(
        int(
            &mut c,
            &[
                "GEORADIUSBYMEMBER",
                "Sicily",
                "Palermo",
                "1",
                "m",
                "STORE",
                "dst"
            ]
        ),
        1
    );
    assert_eq!(int(&mut c, &["ZCARD", "dst"]), 1);
    // An empty result deletes the destination.
    assert_eq!(
        int(
            &mut c,
            &["GEORADIUS", "Sicily", "0", "0", "1", "m", "STORE", "dst"]
        ),
        0
    );
    assert_eq!(int(&mut c, &["EXISTS", "dst"]), 0);
    let empty: Vec<String> = cmd(&mut c, &["GEORADIUS", "none", "0", "0", "1", "m"]).unwrap();
    assert!(empty.is_empty());
}

/// A deterministic spread of points around a centre.
fn points(seed: u64, n: usize, lon: f64, lat: f64, spread: f64) -> Vec<(String, String, String)> {
    let mut x = seed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 1_000_000) as f64 / 1_000_000.0 - 0.5
    };
    (0..n)
        .map(|i| {
            let plon = (lon + next() * spread).clamp(-180.0, 180.0);
            let plat = (lat + next() * spread).clamp(-85.0, 85.0);
            (format!("{plon:.6}"), format!("{plat:.6}"), format!("p{i}"))
        })
        .collect()
}

/// Runs the same commands on pika and redis-server and compares the replies.
#[test]
fn replies_match_redis_server() {
    let Some((redis, s)) = beside_redis() else {
        return;
    };
    let mut r = redis.conn();
    let mut p = s.conn();
    let mut both = |args: &[&str]| {
        let a: Value = cmd(&mut r, args).unwrap_or_else(|e| Value::SimpleString(e.to_string()));
        let b: Value = cmd(&mut p, args).unwrap_or_else(|e| Value::SimpleString(e.to_string()));
        assert_eq!(a, b, "{args:?}");
    };
    let centres = [
        (13.4, 38.1),
        (-0.1, 51.5),
        (179.9, 0.0),
        (-179.9, -40.0),
        (10.0, 84.5),
        (0.0, 0.0),
    ];
    for (k, &(lon, lat)) in centres.iter().enumerate() {
        let key = format!("g{k}");
        for spread in [0.01, 1.0, 20.0] {
            let pts = points(
                k as u64 * 31 + (spread * 100.0) as u64 + 1,
                60,
                lon,
                lat,
                spread,
            );
            let mut args = vec!["GEOADD".to_string(), key.clone()];
            for (x, y, m) in &pts {
                args.extend([x.clone(), y.clone(), format!("{m}_{spread}")]);
            }
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            both(&a);
        }
        let (lo, la) = (format!("{lon}"), format!("{lat}"));
        both(&["ZRANGE", &key, "0", "-1", "WITHSCORES"]);
        both(&["GEOPOS", &key, "p0_0.01", "p1_1", "p2_20", "none"]);
        both(&["GEOHASH", &key, "p0_0.01", "p1_1", "p2_20", "none"]);
        for unit in ["m", "km", "ft", "mi"] {
            both(&["GEODIST", &key, "p0_0.01", "p1_1", unit]);
            both(&["GEODIST", &key, "p3_20", "p1_1", unit]);
        }
        for radius in ["0", "500", "50", "2000", "20000"] {
            both(&[
                "GEORADIUS",
                &key,
                &lo,
                &la,
                radius,
                "km",
                "WITHDIST",
                "WITHCOORD",
                "WITHHASH",
            ]);
            both(&[
                "GEORADIUS_RO",
                &key,
                &lo,
                &la,
                radius,
                "km",
                "ASC",
                "WITHDIST",
            ]);
            both(&[
                "GEORADIUS",
                &key,
                &lo,
                &la,
                radius,
                "mi",
                "DESC",
                "COUNT",
                "7",
            ]);
            both(&[
                "GEORADIUSBYMEMBER",
                &key,
                "p0_1",
                radius,
                "km",
                "WITHDIST",
                "ASC",
            ]);
            both(&["GEORADIUSBYMEMBER_RO", &key, "p4_20", radius, "ft"]);
            both(&[
                "GEOSEARCH",
                &key,
                "FROMLONLAT",
                &lo,
                &la,
                "BYBOX",
                radius,
                radius,
                "km",
                "ASC",
                "WITHCOORD",
            ]);
            both(&[
                "GEOSEARCH",
                &key,
                "FROMMEMBER",
                "p5_20",
                "BYRADIUS",
                radius,
                "km",
                "DESC",
                "WITHDIST",
            ]);
            both(&[
                "GEOSEARCH",
                &key,
                "FROMMEMBER",
                "p5_1",
                "BYBOX",
                radius,
                "100",
                "km",
            ]);
            both(&[
                "GEOSEARCHSTORE",
                "dst",
                &key,
                "FROMLONLAT",
                &lo,
                &la,
                "BYRADIUS",
                radius,
                "km",
                "STOREDIST",
            ]);
            both(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
            both(&[
                "GEOSEARCH",
                &key,
                "FROMLONLAT",
                &lo,
                &la,
                "BYRADIUS",
                radius,
                "km",
                "COUNT",
                "3",
                "ANY",
            ]);
            both(&[
                "GEOSEARCH",
                &key,
                "FROMLONLAT",
                &lo,
                &la,
                "BYBOX",
                radius,
                "10",
                "mi",
                "COUNT",
                "5",
                "ANY",
                "DESC",
            ]);
            both(&[
                "GEORADIUS",
                &key,
                &lo,
                &la,
                radius,
                "km",
                "COUNT",
                "4",
                "ANY",
                "WITHHASH",
            ]);
            both(&[
                "GEORADIUS",
                &key,
                &lo,
                &la,
                radius,
                "km",
                "COUNT",
                "4",
                "STOREDIST",
                "dst3",
            ]);
            both(&["ZRANGE", "dst3", "0", "-1", "WITHSCORES"]);
            both(&["GEORADIUS", &key, &lo, &la, radius, "km", "STORE", "dst2"]);
            both(&["ZRANGE", "dst2", "0", "-1", "WITHSCORES"]);
        }
    }
    both(&["GEOADD", "k", "180.1", "0", "x"]);
    both(&["GEOADD", "k", "0", "85.06", "x"]);
    both(&["GEOADD", "k", "XX", "NX", "1", "1", "x"]);
    both(&[
        "GEOSEARCH",
        "g0",
        "FROMLONLAT",
        "1",
        "1",
        "BYBOX",
        "-1",
        "1",
        "km",
    ]);
    both(&[
        "GEOSEARCH",
        "g0",
        "FROMLONLAT",
        "1",
        "1",
        "BYBOX",
        "x",
        "1",
        "km",
    ]);
    both(&[
        "GEOSEARCH",
        "g0",
        "FROMLONLAT",
        "1",
        "1",
        "BYBOX",
        "1",
        "x",
        "km",
    ]);
    both(&[
        "GEOSEARCH",
        "g0",
        "FROMMEMBER",
        "x",
        "FROMLONLAT",
        "1",
        "1",
        "BYRADIUS",
        "1",
        "km",
    ]);
    both(&[
        "GEOSEARCH",
        "g0",
        "FROMLONLAT",
        "1",
        "1",
        "BYRADIUS",
        "1",
        "km",
        "BYBOX",
        "1",
        "1",
        "km",
    ]);
    both(&[
        "GEOSEARCH",
        "g0",
        "FROMLONLAT",
        "1",
        "1",
        "BYRADIUS",
        "1",
        "km",
        "STOREDIST",
    ]);
    both(&[
        "GEOSEARCHSTORE",
        "d",
        "g0",
        "FROMLONLAT",
        "1",
        "1",
        "BYRADIUS",
        "1",
        "km",
        "WITHHASH",
    ]);
    both(&[
        "GEOSEARCH",
        "missing",
        "FROMMEMBER",
        "x",
        "BYRADIUS",
        "1",
        "km",
    ]);
    both(&[
        "GEORADIUSBYMEMBER",
        "missing",
        "x",
        "1",
        "km",
        "STORE",
        "dst",
    ]);
    both(&["EXISTS", "dst"]);
    both(&["GEODIST", "missing", "a", "b"]);
    both(&["GEOPOS", "missing", "a"]);
    both(&["GEOHASH", "missing", "a"]);
}

/// The raw RESP3 reply to `request` (inline), read up to a PING's reply sent after it.
fn resp3_raw(port: u16, request: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"HELLO 3\r\nPING\r\n").unwrap();
    read_until(&mut s, b"+PONG\r\n");
    s.write_all(format!("{request}\r\nPING\r\n").as_bytes())
        .unwrap();
    read_until(&mut s, b"+PONG\r\n")
}

/// RESP3 coordinates are doubles in Redis' long form, byte for byte.
#[test]
fn resp3_coordinates_match_redis_server() {
    let Some((redis, s)) = beside_redis() else {
        return;
    };
    let mut r = redis.conn();
    let mut p = s.conn();
    sicily(&mut r);
    sicily(&mut p);
    for request in [
        "GEOPOS Sicily Palermo Catania none",
        "GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC WITHCOORD WITHDIST WITHHASH",
        "GEODIST Sicily Palermo Catania mi",
        "GEOHASH Sicily Palermo none",
    ] {
        assert_eq!(
            resp3_raw(redis.port, request),
            resp3_raw(s.port, request),
            "{request}"
        );
    }
}
