//! ACL users and permissions, as Redis 7: SETUSER/GETUSER/LIST, AUTH as a user, command,
//! key and channel checks at the gate, in MULTI and in scripts, ACL LOG, the ACL file.

mod common;

use common::*;
use redis::Value;

/// A connection authenticated as `user`.
fn conn_as(s: &TestServer, user: &str, pass: &str) -> redis::Connection {
    let mut c = s.conn();
    let _: () = call(&mut c, &["AUTH", user, pass]);
    c
}

fn setuser(c: &mut redis::Connection, args: &[&str]) {
    let mut all = vec!["ACL", "SETUSER"];
    all.extend_from_slice(args);
    let _: () = call(c, &all);
}

/// ACL LOG as a list of field maps (string values only).
fn acl_log(c: &mut redis::Connection) -> Vec<std::collections::HashMap<String, String>> {
    let entries: Vec<Value> = call(c, &["ACL", "LOG"]);
    entries
        .into_iter()
        .map(|e| {
            let fields: Vec<Value> = redis::from_redis_value(e).unwrap();
            fields
                .chunks(2)
                .map(|kv| {
                    let k: String = redis::from_redis_value(kv[0].clone()).unwrap();
                    let v: String = match &kv[1] {
                        Value::Int(n) => n.to_string(),
                        other => redis::from_redis_value(other.clone()).unwrap_or_default(),
                    };
                    (k, v)
                })
                .collect()
        })
        .collect()
}

const NO_KEY: &str =
    "NOPERM this user has no permissions to access one of the keys used as arguments";
const NO_CHANNEL: &str =
    "NOPERM this user has no permissions to access one of the channels used as arguments";

#[test]
fn a_read_only_user_on_app_keys_reads_them_and_nothing_else() {
    let s = TestServer::start();
    let mut admin = s.conn();
    let _: () = call(&mut admin, &["SET", "app:x", "1"]);
    let _: () = call(&mut admin, &["SET", "other:x", "2"]);
    setuser(&mut admin, &["reader", "on", ">pw", "~app:*", "+@read"]);
    let mut r = conn_as(&s, "reader", "pw");
    assert_eq!(get(&mut r, "app:x").as_deref(), Some("1"));
    assert_eq!(err(&mut r, &["GET", "other:x"]), NO_KEY);
    assert_eq!(
        err(&mut r, &["SET", "app:x", "v"]),
        "NOPERM this user has no permissions to run the 'set' command"
    );
    assert_eq!(
        err(&mut r, &["CONFIG", "GET", "port"]),
        "NOPERM this user has no permissions to run the 'config|get' command"
    );
    let log = acl_log(&mut admin);
    assert_eq!(log.len(), 3, "{log:?}");
    assert_eq!(log[0]["reason"], "command");
    assert_eq!(log[0]["object"], "config|get");
    assert_eq!(log[0]["context"], "toplevel");
    assert_eq!(log[0]["username"], "reader");
    assert!(log[0]["client-info"].contains("user=reader"));
    assert_eq!(log[1]["object"], "set");
    assert_eq!(log[2]["reason"], "key");
    assert_eq!(log[2]["object"], "other:x");
    // The same refusal again is counted in its entry, not added.
    let _ = err(&mut r, &["GET", "other:x"]);
    let log = acl_log(&mut admin);
    assert_eq!(log.len(), 3);
    assert_eq!(log[0]["object"], "other:x");
    assert_eq!(log[0]["count"], "2");
    assert_eq!(
        info_field(&mut admin, "stats", "acl_access_denied_key"),
        "2"
    );
    assert_eq!(
        info_field(&mut admin, "stats", "acl_access_denied_cmd"),
        "2"
    );
    let _: () = call(&mut admin, &["ACL", "LOG", "RESET"]);
    assert!(acl_log(&mut admin).is_empty());
}

#[test]
fn auth_and_hello_authenticate_as_a_user() {
    let s = TestServer::start();
    let mut admin = s.conn();
    setuser(&mut admin, &["alice", "on", ">alicepw", "allkeys", "+@all"]);
    setuser(&mut admin, &["bob", "off", ">bobpw", "+@all"]);
    let mut c = s.conn();
    assert_eq!(call::<String>(&mut c, &["ACL", "WHOAMI"]), "default");
    assert_eq!(
        err(&mut c, &["AUTH", "alice", "wrong"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    assert_eq!(
        err(&mut c, &["AUTH", "bob", "bobpw"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    let _: () = call(&mut c, &["AUTH", "alice", "alicepw"]);
    assert_eq!(call::<String>(&mut c, &["ACL", "WHOAMI"]), "alice");
    let list: String = call(&mut c, &["CLIENT", "LIST"]);
    assert!(list.contains("user=alice"), "{list}");
    let mut h = s.conn();
    let _: Value = call(&mut h, &["HELLO", "2", "AUTH", "alice", "alicepw"]);
    assert_eq!(call::<String>(&mut h, &["ACL", "WHOAMI"]), "alice");
    let log = acl_log(&mut admin);
    assert_eq!(log[0]["reason"], "auth");
    assert_eq!(log[0]["object"], "AUTH");
    assert_eq!(log[0]["username"], "bob");
    assert_eq!(
        info_field(&mut admin, "stats", "acl_access_denied_auth"),
        "2"
    );
    // RESET goes back to the default user.
    let _: String = call(&mut c, &["RESET"]);
    assert_eq!(call::<String>(&mut c, &["ACL", "WHOAMI"]), "default");
}

#[test]
fn selectors_allow_a_command_when_any_of_them_does() {
    let s = TestServer::start();
    let mut admin = s.conn();
    setuser(
        &mut admin,
        &["u", "on", "nopass", "~a*", "+get", "(~b*", "+set)"],
    );
    let mut u = conn_as(&s, "u", "any");
    let _: () = call(&mut u, &["SET", "b1", "v"]);
    assert_eq!(get(&mut u, "a1"), None);
    assert_eq!(err(&mut u, &["GET", "b1"]), NO_KEY);
    assert_eq!(
        err(&mut u, &["SET", "a1", "v"]),
        NO_KEY,
        "a key refusal wins over a command one"
    );
    let rules: Vec<Value> = call(&mut admin, &["ACL", "GETUSER", "u"]);
    let selectors = match &rules[rules.len() - 1] {
        Value::Array(v) => v.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(selectors.len(), 1);
    let fields: Vec<String> = redis::from_redis_value(selectors[0].clone()).unwrap();
    assert_eq!(
        fields,
        ["commands", "-@all +set", "keys", "~b*", "channels", ""]
    );
    let _: () = call(&mut admin, &["ACL", "SETUSER", "u", "clearselectors"]);
    assert_eq!(
        err(&mut u, &["SET", "b1", "v"]),
        "NOPERM this user has no permissions to run the 'set' command"
    );
}

#[test]
fn read_and_write_key_patterns() {
    let s = TestServer::start();
    let mut admin = s.conn();
    setuser(
        &mut admin,
        &["rw", "on", "nopass", "+@all", "%R~in:*", "%W~out:*"],
    );
    let mut c = conn_as(&s, "rw", "x");
    assert_eq!(get(&mut c, "in:1"), None);
    let _: () = call(&mut c, &["SET", "out:1", "v"]);
    assert_eq!(err(&mut c, &["SET", "in:1", "v"]), NO_KEY);
    assert_eq!(err(&mut c, &["GET", "out:1"]), NO_KEY);
    // COPY reads its source and writes its destination.
    let _: () = call(&mut admin, &["SET", "in:2", "v"]);
    assert_eq!(int(&mut c, &["COPY", "in:2", "out:2"]), 1);
    assert_eq!(err(&mut c, &["COPY", "out:2", "in:3"]), NO_KEY);
    let dry: String = call(&mut admin, &["ACL", "DRYRUN", "rw", "GET", "out:1"]);
    assert_eq!(
        dry,
        "This user has no permissions to access the 'out:1' key"
    );
    let ok: String = call(&mut admin, &["ACL", "DRYRUN", "rw", "GET", "in:1"]);
    assert_eq!(ok, "OK");
}

#[test]
fn channel_patterns_limit_publish_and_subscribe() {
    let s = TestServer::start();
    let mut admin = s.conn();
    setuser(
        &mut admin,
        &["p", "on", "nopass", "+@all", "resetchannels", "&news.*"],
    );
    let mut c = conn_as(&s, "p", "x");
    assert_eq!(int(&mut c, &["PUBLISH", "news.today", "hi"]), 0);
    assert_eq!(err(&mut c, &["PUBLISH", "gossip", "hi"]), NO_CHANNEL);
    assert_eq!(err(&mut c, &["SUBSCRIBE", "news.x", "gossip"]), NO_CHANNEL);
    assert_eq!(err(&mut c, &["PSUBSCRIBE", "news.t*"]), NO_CHANNEL);
    let log = acl_log(&mut admin);
    assert_eq!(log[0]["reason"], "channel");
    assert_eq!(log[0]["object"], "news.t*");
    let mut sub = s.conn();
    let _: () = call(&mut sub, &["AUTH", "p", "x"]);
    let mut pubsub = sub.as_pubsub();
    pubsub.psubscribe("news.*").unwrap();
    assert_eq!(
        info_field(&mut admin, "stats", "acl_access_denied_channel"),
        "3"
    );
    // Narrowing the user's channels closes the subscriber that now exceeds them.
    setuser(&mut admin, &["p", "resetchannels", "&sport.*"]);
    pubsub
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let closed = pubsub.get_message();
    assert!(closed.is_err_and(|e| is_transport(&e)));
}

#[test]
fn queued_commands_are_checked_when_queued_and_again_at_exec() {
    let s = TestServer::start();
    let mut admin = s.conn();
    setuser(
        &mut admin,
        &["m", "on", "nopass", "~*", "+@all", "-flushall"],
    );
    let mut raw = s.raw();
    expect_raw(&mut raw, b"AUTH m x\r\n", b"+OK\r\n");
    expect_raw(&mut raw, b"MULTI\r\n", b"+OK\r\n");
    expect_raw(
        &mut raw,
        b"FLUSHALL\r\n",
        b"-NOPERM this user has no permissions to run the 'flushall' command\r\n",
    );
    expect_raw(
        &mut raw,
        b"EXEC\r\n",
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    );
    // Allowed when queued, refused when run: the transaction runs the rest.
    expect_raw(&mut raw, b"MULTI\r\n", b"+OK\r\n");
    expect_raw(&mut raw, b"SET k v\r\n", b"+QUEUED\r\n");
    expect_raw(&mut raw, b"GET k\r\n", b"+QUEUED\r\n");
    setuser(&mut admin, &["m", "-set"]);
    expect_raw(
        &mut raw,
        b"EXEC\r\n",
        b"*2\r\n-NOPERM ACLs rules changed between the moment the transaction was accumulated \
and the EXEC call. This command is no longer allowed for the following reason: no permission \
to execute the command or subcommand\r\n$-1\r\n",
    );
    let log = acl_log(&mut admin);
    assert_eq!(log[0]["context"], "multi");
    assert_eq!(log[0]["object"], "set");
}

#[test]
fn a_scripts_calls_are_checked_against_its_callers_user() {
    let s = TestServer::start();
    let mut admin = s.conn();
    setuser(&mut admin, &["lua", "on", "nopass", "~*", "+eval", "+get"]);
    let mut c = conn_as(&s, "lua", "x");
    let _: Option<String> = call(&mut c, &["EVAL", "return redis.call('get', 'k')", "0"]);
    let e = err(&mut c, &["EVAL", "return redis.call('set', 'k', 'v')", "0"]);
    assert!(
        e.starts_with("ERR The user executing the script can't run this command or subcommand"),
        "{e}"
    );
    assert_eq!(get(&mut admin, "k"), None);
    let log = acl_log(&mut admin);
    assert_eq!(log[0]["context"], "lua");
    assert_eq!(log[0]["object"], "set");
    // redis.acl_check_cmd answers for the caller's user without running anything.
    let check = "return redis.acl_check_cmd(unpack(ARGV))";
    let yes: i64 = call(&mut c, &["EVAL", check, "0", "get", "k"]);
    assert_eq!(yes, 1);
    let no: Option<i64> = call(&mut c, &["EVAL", check, "0", "set", "k", "v"]);
    assert_eq!(no, None);
    let e = err(&mut c, &["EVAL", check, "0", "nosuchcommand"]);
    assert!(
        e.contains("Invalid command passed to redis.acl_check_cmd()"),
        "{e}"
    );
}

#[test]
fn cat_genpass_and_help() {
    let s = TestServer::start();
    let mut c = s.conn();
    let categories: Vec<String> = call(&mut c, &["ACL", "CAT"]);
    assert_eq!(categories.len(), 21);
    assert_eq!(categories[0], "keyspace");
    let reads: Vec<String> = call(&mut c, &["ACL", "CAT", "read"]);
    assert!(reads.contains(&"get".to_string()) && !reads.contains(&"set".to_string()));
    assert_eq!(
        err(&mut c, &["ACL", "CAT", "nope"]),
        "ERR Unknown category 'nope'"
    );
    let pass: String = call(&mut c, &["ACL", "GENPASS"]);
    assert_eq!(pass.len(), 64);
    assert!(pass.chars().all(|ch| ch.is_ascii_hexdigit()));
    let short: String = call(&mut c, &["ACL", "GENPASS", "5"]);
    assert_eq!(short.len(), 2);
    assert!(err(&mut c, &["ACL", "GENPASS", "0"]).starts_with("ERR ACL GENPASS argument"));
    let help: Vec<String> = call(&mut c, &["ACL", "HELP"]);
    assert!(help[0].starts_with("ACL <subcommand>"));
}

#[test]
fn deleting_a_user_disconnects_its_clients() {
    let s = TestServer::start();
    let mut admin = s.conn();
    setuser(&mut admin, &["gone", "on", ">pw", "+@all", "~*"]);
    let mut c = conn_as(&s, "gone", "pw");
    let _: String = call(&mut c, &["PING"]);
    assert_eq!(
        err(&mut admin, &["ACL", "DELUSER", "default"]),
        "ERR The 'default' user cannot be removed"
    );
    assert_eq!(int(&mut admin, &["ACL", "DELUSER", "gone", "nobody"]), 1);
    let after = cmd::<String>(&mut c, &["PING"]);
    assert!(after.is_err_and(|e| is_transport(&e)));
    let users: Vec<String> = call(&mut admin, &["ACL", "USERS"]);
    assert_eq!(users, ["default"]);
}

#[test]
fn requirepass_is_the_default_users_password() {
    let s = TestServer::start_with(&["--requirepass", "secret"]);
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["PING"]), "NOAUTH Authentication required.");
    let _: () = call(&mut c, &["AUTH", "secret"]);
    let rules: Vec<Value> = call(&mut c, &["ACL", "GETUSER", "default"]);
    let passwords: Vec<String> = redis::from_redis_value(rules[3].clone()).unwrap();
    assert_eq!(
        passwords,
        ["2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"]
    );
    let _: () = call(&mut c, &["CONFIG", "SET", "requirepass", "other"]);
    let mut d = s.conn();
    assert_eq!(
        err(&mut d, &["AUTH", "default", "secret"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    let _: () = call(&mut d, &["AUTH", "default", "other"]);
    let _: () = call(&mut c, &["CONFIG", "SET", "requirepass", ""]);
    let mut e = s.conn();
    let _: String = call(&mut e, &["PING"]);
    let list: Vec<String> = call(&mut e, &["ACL", "LIST"]);
    assert_eq!(list, ["user default on nopass ~* &* +@all"]);
}

#[test]
fn the_acl_file_is_saved_and_loaded_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.acl");
    std::fs::write(&path, "").unwrap();
    let path_text = path.to_str().unwrap();
    let mut s = TestServer::start_with(&["--aclfile", path_text]);
    let mut admin = s.conn();
    setuser(
        &mut admin,
        &["saved", "on", ">pw", "~k*", "+get", "(%R~r* +@read)"],
    );
    let before: Vec<String> = call(&mut admin, &["ACL", "LIST"]);
    let _: () = call(&mut admin, &["ACL", "SAVE"]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("user saved on #"), "{text}");
    s.restart();
    let mut admin = s.conn();
    let after: Vec<String> = call(&mut admin, &["ACL", "LIST"]);
    assert_eq!(after, before);
    let mut c = conn_as(&s, "saved", "pw");
    assert_eq!(get(&mut c, "k1"), None);
    // An edited file is read by ACL LOAD; its users' connections are closed.
    std::fs::write(&path, "user other on nopass +@all ~*\n").unwrap();
    let _: () = call(&mut admin, &["ACL", "LOAD"]);
    let users: Vec<String> = call(&mut admin, &["ACL", "USERS"]);
    assert_eq!(users, ["default", "other"]);
    assert!(cmd::<String>(&mut c, &["PING"]).is_err_and(|e| is_transport(&e)));
    // A bad file changes nothing.
    std::fs::write(&path, "user x on +nosuchcommand\n").unwrap();
    let e = err(&mut admin, &["ACL", "LOAD"]);
    assert!(e.contains("Unknown command or category name in ACL"), "{e}");
    let users: Vec<String> = call(&mut admin, &["ACL", "USERS"]);
    assert_eq!(users, ["default", "other"]);
}

#[test]
fn acl_save_without_a_file_is_refused() {
    let s = TestServer::start();
    let mut c = s.conn();
    let e = err(&mut c, &["ACL", "SAVE"]);
    assert!(e.starts_with("ERR This Redis instance is not configured to use an ACL file."));
}

#[test]
fn setuser_errors_leave_the_user_unchanged() {
    let s = TestServer::start();
    let mut c = s.conn();
    setuser(&mut c, &["e", "on", "~a"]);
    assert_eq!(
        err(&mut c, &["ACL", "SETUSER", "e", "+get", "+nosuch"]),
        "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"
    );
    assert_eq!(
        err(&mut c, &["ACL", "SETUSER", "e", "allkeys", "~b"]),
        "ERR Error in ACL SETUSER modifier '~b': Adding a pattern after the * pattern (or the \
         'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start \
         with an empty list of patterns"
    );
    assert_eq!(
        err(&mut c, &["ACL", "SETUSER", "e", "(~x", "+get"]),
        "ERR Unmatched parenthesis in acl selector starting at '(~x'."
    );
    let list: Vec<String> = call(&mut c, &["ACL", "LIST"]);
    assert_eq!(list[1], "user e on ~a resetchannels -@all");
}

/// Runs the same commands on redis-server and pika and compares the replies.
#[test]
fn setuser_getuser_and_list_match_redis() {
    let Some((redis, pika)) = beside_redis() else {
        return;
    };
    let mut r = redis::Client::open(format!("redis://127.0.0.1:{}", redis.port))
        .unwrap()
        .get_connection()
        .unwrap();
    let mut p = pika.conn();
    let users: &[&[&str]] = &[
        &["a", "on", ">pw", "~app:*", "+@read"],
        &["b", "+@all", "-@dangerous", "%R~r*", "%W~w*", "&ch*"],
        &["c", "on", "nopass", "+get", "~*", "(~x* +@hash)"],
        &["d", "reset"],
        &["e", "+@all", "-@write", "+set"],
    ];
    for u in users {
        setuser(&mut r, u);
        setuser(&mut p, u);
    }
    let from_redis: Vec<String> = call(&mut r, &["ACL", "LIST"]);
    let from_pika: Vec<String> = call(&mut p, &["ACL", "LIST"]);
    assert_eq!(from_pika, from_redis);
    for name in ["a", "b", "c", "default"] {
        let r_user: Value = call(&mut r, &["ACL", "GETUSER", name]);
        let p_user: Value = call(&mut p, &["ACL", "GETUSER", name]);
        assert_eq!(p_user, r_user, "{name}");
    }
    for dry in [
        &["ACL", "DRYRUN", "a", "GET", "app:1"][..],
        &["ACL", "DRYRUN", "a", "GET", "x"],
        &["ACL", "DRYRUN", "a", "SET", "app:1", "v"],
        &["ACL", "DRYRUN", "b", "PUBLISH", "x", "m"],
    ] {
        let r_reply: String = call(&mut r, dry);
        let p_reply: String = call(&mut p, dry);
        assert_eq!(p_reply, r_reply, "{dry:?}");
    }
}

#[test]
fn client_kill_user_closes_that_users_connections() {
    let s = TestServer::start();
    let mut admin = s.conn();
    setuser(&mut admin, &["k", "on", ">pw", "+@all", "~*"]);
    let mut victim = conn_as(&s, "k", "pw");
    assert_eq!(
        err(&mut admin, &["CLIENT", "KILL", "USER", "nobody"]),
        "ERR No such user 'nobody'"
    );
    assert_eq!(int(&mut admin, &["CLIENT", "KILL", "USER", "k"]), 1);
    assert!(cmd::<String>(&mut victim, &["PING"]).is_err_and(|e| is_transport(&e)));
    // The caller runs as default and is skipped (SKIPME defaults to yes).
    assert_eq!(int(&mut admin, &["CLIENT", "KILL", "USER", "default"]), 0);
}
