//! Client-side caching (CLIENT TRACKING) as Redis 7.0: default mode, BCAST, REDIRECT,
//! OPTIN/OPTOUT, NOLOOP, flushes, expiry, transactions, scripts and replication. Connections
//! speak raw RESP so the order of pushes and replies is what is checked.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::TestServer;

/// A decoded RESP2/RESP3 frame.
#[derive(Debug, Clone, PartialEq)]
enum Frame {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(String),
    Null,
    Array(Vec<Frame>),
    Push(Vec<Frame>),
    Map(Vec<(Frame, Frame)>),
    Set(Vec<Frame>),
}

impl Frame {
    /// The push `invalidate [keys]` with these keys.
    fn invalidate(keys: &[&str]) -> Frame {
        Frame::Push(vec![
            Frame::Bulk("invalidate".into()),
            Frame::Array(keys.iter().map(|k| Frame::Bulk(k.to_string())).collect()),
        ])
    }

    /// A RESP2 Pub/Sub message on the invalidation channel with these keys.
    fn redirected(keys: &[&str]) -> Frame {
        Frame::Array(vec![
            Frame::Bulk("message".into()),
            Frame::Bulk("__redis__:invalidate".into()),
            Frame::Array(keys.iter().map(|k| Frame::Bulk(k.to_string())).collect()),
        ])
    }

    fn ok() -> Frame {
        Frame::Simple("OK".into())
    }
}

/// A raw connection reading whole frames.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn open(s: &TestServer) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    /// A RESP3 connection (HELLO 3 answered).
    fn resp3(s: &TestServer) -> Conn {
        let mut c = Conn::open(s);
        c.send(&["HELLO", "3"]);
        assert!(matches!(c.read(), Frame::Map(_)));
        c
    }

    fn send(&mut self, args: &[&str]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        self.stream.write_all(&out).expect("write");
    }

    /// Sends a command and returns the next frame (which must be its reply).
    fn call(&mut self, args: &[&str]) -> Frame {
        self.send(args);
        self.read()
    }

    /// The next frame, waiting up to five seconds.
    fn read(&mut self) -> Frame {
        self.try_read(Duration::from_secs(5))
            .unwrap_or_else(|| panic!("no frame; have {:?}", String::from_utf8_lossy(&self.buf)))
    }

    /// The next frame if one arrives within `wait`.
    fn try_read(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some((frame, used)) = parse(&self.buf) {
                self.buf.drain(..used);
                return Some(frame);
            }
            if Instant::now() >= deadline {
                return None;
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => {}
            }
        }
    }

    /// Nothing more arrives for a while.
    fn expect_silence(&mut self) {
        if let Some(f) = self.try_read(Duration::from_millis(300)) {
            panic!("unexpected frame {f:?}");
        }
    }
}

/// Parses one frame from the front of `b`: (frame, bytes used), or None if incomplete.
fn parse(b: &[u8]) -> Option<(Frame, usize)> {
    let end = b.windows(2).position(|w| w == b"\r\n")?;
    let line = String::from_utf8_lossy(&b[1..end]).into_owned();
    let rest = end + 2;
    let items = |n: usize, mut at: usize| -> Option<(Vec<Frame>, usize)> {
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let (f, used) = parse(&b[at..])?;
            v.push(f);
            at += used;
        }
        Some((v, at))
    };
    match b.first()? {
        b'+' => Some((Frame::Simple(line), rest)),
        b'-' => Some((Frame::Error(line), rest)),
        b':' => Some((Frame::Int(line.parse().ok()?), rest)),
        b'_' => Some((Frame::Null, rest)),
        b'$' | b'=' => {
            let n: i64 = line.parse().ok()?;
            if n < 0 {
                return Some((Frame::Null, rest));
            }
            let n = n as usize;
            if b.len() < rest + n + 2 {
                return None;
            }
            let text = String::from_utf8_lossy(&b[rest..rest + n]).into_owned();
            Some((Frame::Bulk(text), rest + n + 2))
        }
        b'*' | b'>' | b'~' => {
            let n: i64 = line.parse().ok()?;
            if n < 0 {
                return Some((Frame::Null, rest));
            }
            let (v, at) = items(n as usize, rest)?;
            Some((
                match b[0] {
                    b'*' => Frame::Array(v),
                    b'>' => Frame::Push(v),
                    _ => Frame::Set(v),
                },
                at,
            ))
        }
        b'%' => {
            let n: usize = line.parse().ok()?;
            let (v, at) = items(2 * n, rest)?;
            let mut pairs = Vec::new();
            let mut it = v.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            Some((Frame::Map(pairs), at))
        }
        _ => None,
    }
}

fn bulk(s: &str) -> Frame {
    Frame::Bulk(s.into())
}

fn int_of(f: Frame) -> i64 {
    match f {
        Frame::Int(n) => n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// A RESP2 connection subscribed to the invalidation channel, and its client id.
fn redirect_target(s: &TestServer) -> (Conn, String) {
    let mut r = Conn::open(s);
    let id = int_of(r.call(&["CLIENT", "ID"])).to_string();
    let confirm = r.call(&["SUBSCRIBE", "__redis__:invalidate"]);
    assert!(matches!(confirm, Frame::Array(_)), "{confirm:?}");
    (r, id)
}

#[test]
fn a_read_key_changed_by_another_client_is_invalidated_once() {
    let s = TestServer::start();
    let mut t = Conn::resp3(&s);
    let mut w = Conn::open(&s);
    assert_eq!(t.call(&["CLIENT", "TRACKING", "ON"]), Frame::ok());
    w.call(&["SET", "k", "1"]);
    w.call(&["SET", "unread", "1"]);
    assert_eq!(t.call(&["GET", "k"]), bulk("1"));
    w.call(&["SET", "unread", "2"]);
    w.call(&["SET", "k", "2"]);
    assert_eq!(t.read(), Frame::invalidate(&["k"]));
    // Forgotten after one invalidation: no second one until it is read again.
    w.call(&["SET", "k", "3"]);
    t.expect_silence();
}

#[test]
fn a_clients_own_write_is_invalidated_after_its_reply() {
    let s = TestServer::start();
    let mut t = Conn::resp3(&s);
    t.call(&["CLIENT", "TRACKING", "ON"]);
    t.call(&["HSET", "h", "f", "1"]);
    t.call(&["HGET", "h", "f"]);
    assert_eq!(t.call(&["HDEL", "h", "f"]), Frame::Int(1));
    assert_eq!(t.read(), Frame::invalidate(&["h"]));
}

#[test]
fn bcast_reports_changes_under_registered_prefixes_once_per_prefix() {
    let s = TestServer::start();
    let mut t = Conn::resp3(&s);
    let mut w = Conn::open(&s);
    let reply = t.call(&[
        "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a:", "PREFIX", "b:",
    ]);
    assert_eq!(reply, Frame::ok());
    w.call(&["MULTI"]);
    for k in ["a:1", "a:2", "b:1", "c:1"] {
        w.call(&["INCR", k]);
    }
    assert!(matches!(w.call(&["EXEC"]), Frame::Array(_)));
    let mut got = vec![t.read(), t.read()];
    got.sort_by_key(|f| format!("{f:?}"));
    assert_eq!(
        got,
        vec![
            Frame::invalidate(&["a:1", "a:2"]),
            Frame::invalidate(&["b:1"])
        ]
    );
    t.expect_silence();
}

#[test]
fn redirected_invalidations_reach_a_resp2_subscriber_as_messages() {
    let s = TestServer::start();
    let (mut target, id) = redirect_target(&s);
    let mut t = Conn::open(&s);
    let mut w = Conn::open(&s);
    assert_eq!(
        t.call(&["CLIENT", "TRACKING", "ON", "REDIRECT", &id]),
        Frame::ok()
    );
    assert_eq!(
        t.call(&["CLIENT", "GETREDIR"]),
        Frame::Int(id.parse().unwrap())
    );
    w.call(&["SET", "k", "1"]);
    t.call(&["MGET", "k", "other"]);
    w.call(&["DEL", "k"]);
    assert_eq!(target.read(), Frame::redirected(&["k"]));
    // The RESP2 tracking client itself hears nothing.
    t.expect_silence();
}

#[test]
fn a_vanished_redirect_target_is_reported_broken() {
    let s = TestServer::start();
    let (mut target, id) = redirect_target(&s);
    let mut t = Conn::resp3(&s);
    let mut w = Conn::open(&s);
    t.call(&["CLIENT", "TRACKING", "ON", "REDIRECT", &id]);
    t.call(&["GET", "k"]);
    assert_eq!(target.call(&["QUIT"]), Frame::ok());
    std::thread::sleep(Duration::from_millis(100));
    w.call(&["SET", "k", "1"]);
    let broken = Frame::Push(vec![
        bulk("tracking-redir-broken"),
        Frame::Int(id.parse().unwrap()),
    ]);
    assert_eq!(t.read(), broken);
    let info = t.call(&["CLIENT", "TRACKINGINFO"]);
    let Frame::Map(pairs) = info else {
        panic!("{info:?}")
    };
    assert_eq!(
        pairs[0].1,
        Frame::Set(vec![bulk("on"), bulk("broken_redirect")])
    );
    let list = t.call(&["CLIENT", "INFO"]);
    assert!(format!("{list:?}").contains("flags=tR"), "{list:?}");
}

#[test]
fn optin_tracks_only_after_caching_yes_and_only_the_next_command() {
    let s = TestServer::start();
    let mut t = Conn::resp3(&s);
    let mut w = Conn::open(&s);
    t.call(&["CLIENT", "TRACKING", "ON", "OPTIN"]);
    t.call(&["GET", "skipped"]);
    assert_eq!(t.call(&["CLIENT", "CACHING", "YES"]), Frame::ok());
    t.call(&["GET", "cached"]);
    t.call(&["GET", "after"]);
    w.call(&["MSET", "skipped", "1", "after", "1", "cached", "1"]);
    assert_eq!(t.read(), Frame::invalidate(&["cached"]));
    t.expect_silence();
    // Inside MULTI, CACHING YES covers the whole transaction.
    t.call(&["CLIENT", "CACHING", "YES"]);
    t.call(&["MULTI"]);
    t.call(&["GET", "x"]);
    t.call(&["GET", "y"]);
    t.call(&["EXEC"]);
    w.call(&["MSET", "x", "1", "y", "1"]);
    assert_eq!(t.read(), Frame::invalidate(&["x"]));
    assert_eq!(t.read(), Frame::invalidate(&["y"]));
}

#[test]
fn optout_skips_the_command_after_caching_no() {
    let s = TestServer::start();
    let mut t = Conn::resp3(&s);
    let mut w = Conn::open(&s);
    t.call(&["CLIENT", "TRACKING", "ON", "OPTOUT"]);
    t.call(&["CLIENT", "CACHING", "NO"]);
    t.call(&["GET", "skipped"]);
    t.call(&["GET", "cached"]);
    w.call(&["MSET", "skipped", "1", "cached", "1"]);
    assert_eq!(t.read(), Frame::invalidate(&["cached"]));
    t.expect_silence();
}

#[test]
fn noloop_leaves_out_the_clients_own_writes() {
    let s = TestServer::start();
    let mut t = Conn::resp3(&s);
    let mut w = Conn::open(&s);
    t.call(&["CLIENT", "TRACKING", "ON", "NOLOOP"]);
    t.call(&["MGET", "mine", "theirs"]);
    t.call(&["SET", "mine", "1"]);
    w.call(&["SET", "theirs", "1"]);
    assert_eq!(t.read(), Frame::invalidate(&["theirs"]));
    t.expect_silence();
}

#[test]
fn flushall_and_flushdb_invalidate_everything_with_a_null() {
    let s = TestServer::start();
    let mut t = Conn::resp3(&s);
    let mut w = Conn::open(&s);
    t.call(&["CLIENT", "TRACKING", "ON"]);
    t.call(&["GET", "k"]);
    w.call(&["FLUSHALL"]);
    assert_eq!(t.read(), Frame::Push(vec![bulk("invalidate"), Frame::Null]));
    t.call(&["GET", "k"]);
    w.call(&["FLUSHDB"]);
    assert_eq!(t.read(), Frame::Push(vec![bulk("invalidate"), Frame::Null]));
}

#[test]
fn a_flush_forgets_keys_of_clients_that_stopped_tracking() {
    let s = TestServer::start();
    let (mut target, id) = redirect_target(&s);
    let mut t = Conn::resp3(&s);
    t.call(&["CLIENT", "TRACKING", "ON", "REDIRECT", &id]);
    t.call(&["GET", "k"]);
    t.call(&["CLIENT", "TRACKING", "OFF"]);
    t.call(&["FLUSHALL"]);
    let Frame::Bulk(info) = t.call(&["INFO", "stats"]) else {
        panic!("INFO")
    };
    assert!(info.contains("tracking_total_keys:0"), "{info}");
    // Tracking again, the old read is not reported.
    t.call(&["CLIENT", "TRACKING", "ON", "REDIRECT", &id]);
    t.call(&["SET", "k", "1"]);
    target.expect_silence();
}

#[test]
fn an_expired_key_is_invalidated() {
    let s = TestServer::start();
    let mut t = Conn::resp3(&s);
    let mut w = Conn::open(&s);
    t.call(&["CLIENT", "TRACKING", "ON"]);
    w.call(&["SET", "k", "v", "PX", "200"]);
    assert_eq!(t.call(&["GET", "k"]), bulk("v"));
    assert_eq!(t.read(), Frame::invalidate(&["k"]));
}

#[test]
fn a_key_removed_by_the_expirer_is_invalidated_once_in_bcast() {
    let s = TestServer::start();
    let mut t = Conn::resp3(&s);
    let mut w = Conn::open(&s);
    assert_eq!(t.call(&["CLIENT", "TRACKING", "ON", "BCAST"]), Frame::ok());
    w.call(&["SET", "k", "v", "PX", "1"]);
    assert_eq!(t.read(), Frame::invalidate(&["k"]));
    // The expirer removes it soon after: one message for that, and no other.
    assert_eq!(t.read(), Frame::invalidate(&["k"]));
    t.expect_silence();
}

#[test]
fn writes_inside_multi_and_eval_invalidate() {
    let s = TestServer::start();
    let mut t = Conn::resp3(&s);
    let mut w = Conn::open(&s);
    t.call(&["CLIENT", "TRACKING", "ON"]);
    t.call(&["MGET", "m", "e"]);
    w.call(&["MULTI"]);
    w.call(&["SET", "m", "1"]);
    w.call(&["EXEC"]);
    assert_eq!(t.read(), Frame::invalidate(&["m"]));
    w.call(&["EVAL", "return redis.call('set', KEYS[1], 'x')", "1", "e"]);
    assert_eq!(t.read(), Frame::invalidate(&["e"]));
}

#[test]
fn a_script_that_reads_tracks_its_declared_keys() {
    let s = TestServer::start();
    let mut t = Conn::resp3(&s);
    let mut w = Conn::open(&s);
    t.call(&["CLIENT", "TRACKING", "ON"]);
    t.call(&["EVAL", "redis.call('set', 'other', 'x')", "1", "quiet"]);
    t.call(&["EVAL", "redis.call('get', 'other')", "1", "declared"]);
    w.call(&["MSET", "quiet", "1", "declared", "1"]);
    assert_eq!(t.read(), Frame::invalidate(&["declared"]));
    t.expect_silence();
}

#[test]
fn a_write_on_the_master_invalidates_a_key_read_on_its_replica() {
    let master = TestServer::start();
    let replica = TestServer::slave_of(&master, &[]);
    let mut m = Conn::open(&master);
    m.call(&["SET", "k", "1"]);
    // The first sync restarts the replica's storage, closing its connections: wait for it.
    common::wait_until("the replica to have k", || {
        replica
            .try_q(&["GET", "k"])
            .is_ok_and(|v| v == redis::Value::BulkString(b"1".to_vec()))
    });
    let mut t = Conn::resp3(&replica);
    t.call(&["CLIENT", "TRACKING", "ON"]);
    t.call(&["GET", "k"]);
    m.call(&["SET", "k", "2"]);
    assert_eq!(t.read(), Frame::invalidate(&["k"]));
}

#[test]
fn tracking_options_are_checked_with_redis_errors() {
    let s = TestServer::start();
    let mut c = Conn::open(&s);
    let err = |c: &mut Conn, args: &[&str]| match c.call(args) {
        Frame::Error(e) => e,
        other => panic!("{args:?} gave {other:?}"),
    };
    assert_eq!(
        err(&mut c, &["CLIENT", "TRACKING", "ON", "PREFIX", "a"]),
        "ERR PREFIX option requires BCAST mode to be enabled"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"]),
        "ERR You can't specify both OPTIN mode and OPTOUT mode"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"]),
        "ERR OPTIN and OPTOUT are not compatible with BCAST"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "TRACKING", "ON", "REDIRECT", "9999"]),
        "ERR The client ID you want redirect to does not exist"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "CACHING", "YES"]),
        "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "FOOBAR", "PREFIX", "FOO"]),
        "ERR Prefix 'FOOBAR' overlaps with another provided prefix 'FOO'. Prefixes for a single client must not overlap."
    );
    c.call(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "FOO"]);
    assert_eq!(
        err(&mut c, &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "FO"]),
        "ERR Prefix 'FO' overlaps with an existing prefix 'FOO'. Prefixes for a single client must not overlap."
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "TRACKING", "ON"]),
        "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "CACHING", "NO"]),
        "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."
    );
}

#[test]
fn trackinginfo_getredir_and_info_report_the_state() {
    let s = TestServer::start();
    let mut c = Conn::open(&s);
    let mut b = Conn::open(&s);
    assert_eq!(c.call(&["CLIENT", "GETREDIR"]), Frame::Int(-1));
    let off = c.call(&["CLIENT", "TRACKINGINFO"]);
    assert_eq!(
        off,
        Frame::Array(vec![
            bulk("flags"),
            Frame::Array(vec![bulk("off")]),
            bulk("redirect"),
            Frame::Int(-1),
            bulk("prefixes"),
            Frame::Array(vec![]),
        ])
    );
    c.call(&["CLIENT", "TRACKING", "ON", "OPTIN", "NOLOOP"]);
    c.call(&["CLIENT", "CACHING", "YES"]);
    let on = c.call(&["CLIENT", "TRACKINGINFO"]);
    assert_eq!(
        on,
        Frame::Array(vec![
            bulk("flags"),
            Frame::Array(vec![
                bulk("on"),
                bulk("optin"),
                bulk("caching-yes"),
                bulk("noloop")
            ]),
            bulk("redirect"),
            Frame::Int(0),
            bulk("prefixes"),
            Frame::Array(vec![]),
        ])
    );
    assert_eq!(c.call(&["CLIENT", "GETREDIR"]), Frame::Int(0));
    c.call(&["CLIENT", "CACHING", "YES"]);
    c.call(&["MGET", "k1", "k2"]);
    b.call(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "p:"]);
    let Frame::Bulk(info) = c.call(&["INFO"]) else {
        panic!("INFO")
    };
    for field in [
        "tracking_clients:2",
        "tracking_total_keys:2",
        "tracking_total_items:2",
        "tracking_total_prefixes:1",
    ] {
        assert!(info.contains(field), "{field} missing");
    }
    let Frame::Bulk(list) = b.call(&["CLIENT", "INFO"]) else {
        panic!("CLIENT INFO")
    };
    assert!(
        list.contains("flags=tB") && list.contains("redir=0"),
        "{list}"
    );
    c.call(&["CLIENT", "TRACKING", "OFF"]);
    assert_eq!(c.call(&["CLIENT", "GETREDIR"]), Frame::Int(-1));
}

#[test]
fn the_table_limit_invalidates_keys_to_make_room() {
    let s = TestServer::start();
    let mut t = Conn::resp3(&s);
    t.call(&["CLIENT", "TRACKING", "ON"]);
    t.call(&["MGET", "a", "b", "c"]);
    let mut admin = Conn::open(&s);
    admin.call(&["CONFIG", "SET", "tracking-table-max-keys", "1"]);
    let mut evicted = Vec::new();
    for _ in 0..2 {
        let Frame::Push(items) = t.read() else {
            panic!("expected pushes")
        };
        evicted.push(items[1].clone());
    }
    t.expect_silence();
    assert_eq!(evicted.len(), 2);
    let Frame::Bulk(info) = admin.call(&["INFO", "stats"]) else {
        panic!("INFO")
    };
    assert!(info.contains("tracking_total_keys:1"), "{info}");
}
