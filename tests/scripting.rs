//! Lua scripting and functions: EVAL and friends, SCRIPT, FUNCTION and FCALL, compared reply
//! for reply with a real redis-server where one is installed, plus what only pika-rs can show
//! (libraries surviving a restart, a slave receiving a script's effects).

mod common;

use std::time::Duration;

use common::{beside_redis, call, err, int, TestServer};
use redis::{Connection, Value};

/// The reply to `args` (an error as its text), comparable across servers.
fn reply(c: &mut Connection, args: &[&str]) -> Result<Value, String> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query::<Value>(c).map_err(|e| common::error_text(&e))
}

/// Runs every command on both servers and asserts the replies are the same.
fn same_on_both(commands: &[&[&str]]) {
    let Some((redis, s)) = beside_redis() else {
        return;
    };
    let mut r = redis.conn();
    let mut p = s.conn();
    for args in commands {
        let want = reply(&mut r, args);
        let got = reply(&mut p, args);
        assert_eq!(got, want, "{args:?}");
    }
}

#[test]
fn eval_conversions_match_redis() {
    same_on_both(&[
        &["EVAL", "return 'hello'", "0"],
        &["EVAL", "return 100.5", "0"],
        &["EVAL", "return {1,2,3,'ciao',{1,2}}", "0"],
        &["EVAL", "return {1,2,nil,4}", "0"],
        &["EVAL", "return true", "0"],
        &["EVAL", "return false", "0"],
        &["EVAL", "return nil", "0"],
        &["EVAL", "return redis.status_reply('FINE')", "0"],
        &["EVAL", "return redis.error_reply('My Error')", "0"],
        &["EVAL", "return redis.error_reply('NOCODE')", "0"],
        &["EVAL", "return {err='ERR this is an error'}", "0"],
        &["EVAL", "return redis.sha1hex('Pizza & Mandolino')", "0"],
        &["SET", "k", "v"],
        &["EVAL", "return redis.call('get', KEYS[1])", "1", "k"],
        &["EVAL", "return redis.call('get', 'missing')", "0"],
        &["HSET", "h", "a", "1"],
        &["EVAL", "return redis.call('hgetall', KEYS[1])", "1", "h"],
        &[
            "EVAL",
            "redis.setresp(3); return redis.call('hgetall', KEYS[1])",
            "1",
            "h",
        ],
        &["EVAL", "return redis.call('incr', KEYS[1])", "1", "k"],
        &["EVAL", "return redis.pcall('incr', KEYS[1])", "1", "k"],
        &[
            "EVAL",
            "local t = redis.pcall('incr', KEYS[1]); return t['err']",
            "1",
            "k",
        ],
        &["EVAL", "return redis.call('set', KEYS[1], 1.5)", "1", "n"],
        &["GET", "n"],
        &["EVAL", "return cjson.encode({1,2,{a=1}})", "0"],
        &["EVAL", "return cjson.decode('[1,2,3,\"x\"]')", "0"],
        &["EVAL", "return bit.tohex(bit.bor(0xf0, 0x0f))", "0"],
        &[
            "EVAL",
            "return struct.pack('>I2 b s c2', 258, -1, 'hi', 'xyz')",
            "0",
        ],
        &[
            "EVAL",
            "return {struct.unpack('<i2 c0 !4 d', struct.pack('<i2 c0 !4 d', 3, 'abc', 7.5))}",
            "0",
        ],
        &["EVAL", "return struct.size('!4 b i h')", "0"],
        &["EVAL", "return struct.pack('q', 1)", "0"],
        &["EVAL", "return struct.pack('i')", "0"],
        &["EVAL", "return struct.unpack('i', 'ab')", "0"],
        &["EVAL", "return struct.size('s')", "0"],
        &[
            "EVAL",
            "local ok, e = pcall(struct.pack, 'i40', 1) return e",
            "0",
        ],
        &["EVAL", "return bit.tobit()", "0"],
    ]);
}

#[test]
fn script_errors_match_redis() {
    same_on_both(&[
        &["EVAL", "return a", "0"],
        &["EVAL", "a = 10", "0"],
        &["EVAL", "setmetatable(_G, {})", "0"],
        &["EVAL", "redis.call = function() end", "0"],
        &["EVAL", "cjson.encode = function() end", "0"],
        &["EVAL", "print('x')", "0"],
        &["EVAL", "return redis.call('nosuch')", "0"],
        &["EVAL", "return redis.call('get')", "0"],
        &["EVAL", "return redis.call()", "0"],
        &["EVAL", "return redis.call('eval', 'return 1', '0')", "0"],
        &["EVAL", "return redis.call({})", "0"],
        &["EVAL", "error('boom')", "0"],
        &["EVAL", "return foo(", "0"],
        &["EVAL", "return 1", "2", "a"],
        &["EVAL", "return 1", "-1"],
        &["EVAL", "return 1", "x"],
        &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
        &["EVALSHA", "short", "0"],
        &["EVAL_RO", "return redis.call('set', 'a', 'b')", "1", "a"],
        &[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')",
            "1",
            "a",
        ],
        &["EVAL", "#!lua flags=bogus\nreturn 1", "0"],
        &["EVAL", "#!python\nreturn 1", "0"],
        &[
            "EVAL",
            "return loadstring(string.dump(function() return 1 end))()",
            "0",
        ],
    ]);
}

#[test]
fn script_cache_commands_match_redis() {
    same_on_both(&[
        &["SCRIPT", "LOAD", "return KEYS[1]"],
        &[
            "EVALSHA",
            "be4f2a6b2d6ed3a81b07eb9f6ea9c2a9e9b0cd06",
            "1",
            "x",
        ],
        &[
            "SCRIPT",
            "EXISTS",
            "be4f2a6b2d6ed3a81b07eb9f6ea9c2a9e9b0cd06",
            "0000",
        ],
        &["SCRIPT", "FLUSH"],
        &[
            "SCRIPT",
            "EXISTS",
            "be4f2a6b2d6ed3a81b07eb9f6ea9c2a9e9b0cd06",
        ],
        &["SCRIPT", "FLUSH", "bad"],
        &["SCRIPT", "KILL"],
        &["SCRIPT", "LOAD", "return ("],
    ]);
}

const LIB: &str = "#!lua name=mylib\n\
    redis.register_function('setit', function(keys, args) return redis.call('set', keys[1], args[1]) end)\n\
    redis.register_function{function_name='getit', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}";

#[test]
fn functions_match_redis() {
    same_on_both(&[
        &["FUNCTION", "FLUSH"],
        &["FUNCTION", "LOAD", LIB],
        &["FCALL", "setit", "1", "fk", "v1"],
        &["FCALL_RO", "getit", "1", "fk"],
        &["FCALL_RO", "setit", "1", "fk", "v"],
        &["FCALL", "nosuch", "0"],
        // (FUNCTION LIST with functions: Redis lists them in hash order, so not compared.)
        &["FUNCTION", "LIST", "LIBRARYNAME", "other*"],
        &["FUNCTION", "LOAD", LIB],
        &["FUNCTION", "LOAD", "return 1"],
        &["FUNCTION", "LOAD", "#!lua name=x\nreturn 1"],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=x\nredis.register_function('setit', function() end)",
        ],
        &["FUNCTION", "LOAD", "#!lua name=x\nfoo("],
        &["FUNCTION", "LOAD", "#!lua\nfoo("],
        &["FUNCTION", "LOAD", "#!js name=x\nfoo("],
        &["FUNCTION", "DELETE", "mylib"],
        &["FUNCTION", "DELETE", "mylib"],
        &["FCALL", "setit", "1", "fk", "v1"],
    ]);
}

#[test]
fn function_dump_restore_round_trips() {
    let s = TestServer::start();
    let mut c = s.conn();
    call::<String>(&mut c, &["FUNCTION", "LOAD", LIB]);
    let payload: Vec<u8> = redis::cmd("FUNCTION").arg("DUMP").query(&mut c).unwrap();
    call::<()>(&mut c, &["FUNCTION", "FLUSH"]);
    assert!(err(&mut c, &["FCALL", "getit", "1", "k"]).contains("Function not found"));
    let ok: String = redis::cmd("FUNCTION")
        .arg("RESTORE")
        .arg(&payload)
        .query(&mut c)
        .unwrap();
    assert_eq!(ok, "OK");
    let e: redis::RedisResult<String> = redis::cmd("FUNCTION")
        .arg("RESTORE")
        .arg(&payload)
        .query(&mut c);
    assert!(common::error_text(&e.unwrap_err()).contains("already exists"));
    let ok: String = redis::cmd("FUNCTION")
        .arg("RESTORE")
        .arg(&payload)
        .arg("REPLACE")
        .query(&mut c)
        .unwrap();
    assert_eq!(ok, "OK");
    assert!(err(&mut c, &["FUNCTION", "RESTORE", "junk"]).contains("payload"));
}

#[test]
fn libraries_survive_a_restart() {
    let mut s = TestServer::start();
    {
        let mut c = s.conn();
        call::<String>(&mut c, &["FUNCTION", "LOAD", LIB]);
        call::<String>(&mut c, &["FCALL", "setit", "1", "k", "v"]);
    }
    s.restart();
    let mut c = s.conn();
    let v: String = call(&mut c, &["FCALL_RO", "getit", "1", "k"]);
    assert_eq!(v, "v");
}

#[test]
fn a_script_writes_as_one_group_and_slaves_get_its_effects() {
    let master = TestServer::start();
    let addr = format!("127.0.0.1:{}", master.port);
    let slave = TestServer::start_with(&["--slaveof", &addr]);
    let mut m = master.conn();
    let n = int(
        &mut m,
        &[
            "EVAL",
            "redis.call('set', KEYS[1], 'a'); redis.call('rpush', KEYS[2], 1, 2); return redis.call('llen', KEYS[2])",
            "2",
            "s1",
            "l1",
        ],
    );
    assert_eq!(n, 2);
    call::<String>(&mut m, &["FUNCTION", "LOAD", LIB]);
    // The slave restarts its listener after the full sync: reconnect until it answers.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let slave_url = slave.url();
    let on_slave = |args: &[&str]| -> Option<Result<Value, String>> {
        let mut c = redis::Client::open(slave_url.as_str())
            .ok()?
            .get_connection()
            .ok()?;
        Some(reply(&mut c, args))
    };
    loop {
        let got = on_slave(&["GET", "s1"]);
        let len = on_slave(&["LLEN", "l1"]);
        if got == Some(Ok(Value::BulkString(b"a".to_vec()))) && len == Some(Ok(Value::Int(2))) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "slave never got the effects"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The library reached the slave too; its read-only function runs there.
    loop {
        if let Some(Ok(v)) = on_slave(&["FCALL_RO", "getit", "1", "s1"]) {
            assert_eq!(v, Value::BulkString(b"a".to_vec()));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "slave never got the library"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_long_script_makes_others_busy_and_can_be_killed() {
    // One worker: the others are answered while it runs the script.
    for workers in ["1", "2"] {
        let s = TestServer::start_with(&["--thread-pool-size", workers]);
        let mut c = s.conn();
        call::<()>(&mut c, &["CONFIG", "SET", "busy-reply-threshold", "100"]);
        call::<()>(&mut c, &["SET", "n", "1"]);
        let url = s.url();
        let runner = std::thread::spawn(move || {
            let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
            reply(&mut c, &["EVAL", "while true do end", "0"])
        });
        std::thread::sleep(Duration::from_millis(400));
        assert!(err(&mut c, &["PING"]).starts_with("BUSY"));
        assert!(err(&mut c, &["FUNCTION", "KILL"]).starts_with("BUSY"));
        // A transaction that met BUSY while queueing is refused as a whole.
        call::<()>(&mut c, &["MULTI"]);
        assert!(err(&mut c, &["INCR", "n"]).starts_with("BUSY"));
        let mut k = s.conn();
        call::<()>(&mut k, &["SCRIPT", "KILL"]);
        let out = runner.join().unwrap();
        assert!(out.unwrap_err().contains("killed by user"));
        call::<String>(&mut c, &["INCR", "n"]);
        assert!(err(&mut c, &["EXEC"]).starts_with("EXECABORT"));
        assert_eq!(call::<String>(&mut c, &["GET", "n"]), "1");
        assert_eq!(call::<String>(&mut c, &["PING"]), "PONG");
        assert!(err(&mut c, &["SCRIPT", "KILL"]).starts_with("NOTBUSY"));
    }
}

#[test]
fn eval_inside_multi_runs_at_exec() {
    let s = TestServer::start();
    let mut c = s.conn();
    call::<()>(&mut c, &["MULTI"]);
    call::<String>(
        &mut c,
        &["EVAL", "return redis.call('incr', KEYS[1])", "1", "m"],
    );
    call::<String>(&mut c, &["INCR", "m"]);
    let out: Vec<i64> = call(&mut c, &["EXEC"]);
    assert_eq!(out, vec![1, 2]);
}

/// Clients whose requests reach the server together with a long script's (same worker round,
/// or waiting for the one worker) are answered -BUSY while it runs, and can kill it.
#[test]
fn clients_arriving_with_a_long_script_are_answered_and_can_kill_it() {
    use std::io::Write;
    let s = TestServer::start_with(&["--thread-pool-size", "1"]);
    call::<()>(
        &mut s.conn(),
        &["CONFIG", "SET", "busy-reply-threshold", "20"],
    );
    let eval = b"*3\r\n$4\r\nEVAL\r\n$33\r\nwhile 1 do redis.call('ping') end\r\n$1\r\n0\r\n";
    for _ in 0..5 {
        let mut runner = s.raw();
        let mut other = s.raw();
        let mut killer = s.raw();
        // The runner pipelines a PING after its script, as a client that does not wait.
        let mut request = eval.to_vec();
        request.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        runner.write_all(&request).unwrap();
        other.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
        let busy = common::read_until(&mut other, b"\r\n");
        assert!(
            busy.starts_with(b"-BUSY"),
            "{}",
            String::from_utf8_lossy(&busy)
        );
        killer
            .write_all(b"*2\r\n$6\r\nSCRIPT\r\n$4\r\nKILL\r\n")
            .unwrap();
        assert_eq!(common::read_until(&mut killer, b"\r\n"), b"+OK\r\n");
        let out = common::read_until(&mut runner, b"+PONG\r\n");
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.starts_with("-ERR") && text.contains("killed by user"),
            "{text}"
        );
        assert!(text.ends_with("+PONG\r\n"), "{text}");
    }
}

#[test]
fn scripts_pass_thousands_of_arguments_and_seed_their_random_numbers() {
    let s = TestServer::start();
    let mut c = s.conn();
    let many = "local a = {} for i=1,7999 do a[i] = i end \
                return redis.call('rpush', KEYS[1], unpack(a))";
    assert_eq!(int(&mut c, &["EVAL", many, "1", "l"]), 7999);
    assert_eq!(int(&mut c, &["LLEN", "l"]), 7999);
    let seeded = "math.randomseed(ARGV[1]); return tostring(math.random())";
    let a: String = call(&mut c, &["EVAL", seeded, "0", "10"]);
    let b: String = call(&mut c, &["EVAL", seeded, "0", "10"]);
    let other: String = call(&mut c, &["EVAL", seeded, "0", "20"]);
    assert_eq!(a, b);
    assert_ne!(a, other);
    assert!(err(&mut c, &["EVAL", "math.randomseed('x')", "0"]).contains("number expected"));
}

#[test]
fn scripts_cannot_block_on_streams() {
    let s = TestServer::start();
    let mut c = s.conn();
    for cmd in [
        "return redis.pcall('xread','BLOCK',0,'STREAMS','s','$')",
        "return redis.pcall('xreadgroup','GROUP','g','c','BLOCK',0,'STREAMS','s','>')",
    ] {
        let text = err(&mut c, &["EVAL", cmd, "1", "s"]);
        assert!(
            text.ends_with("command is not allowed with BLOCK option from scripts"),
            "{text}"
        );
    }
    // A stream named "block" is no option.
    call::<String>(&mut c, &["XADD", "block", "1-1", "f", "v"]);
    let read = "return #redis.call('xread','STREAMS','block','0')";
    assert_eq!(int(&mut c, &["EVAL", read, "1", "block"]), 1);
}

/// A failed `redis.call` is counted once in the error statistics, also when the script's reply
/// carries its error; the script's own call counts as failed.
#[test]
fn a_failed_call_in_a_script_counts_one_error() {
    let s = TestServer::start();
    let mut c = s.conn();
    let stat = |c: &mut Connection, field: &str| common::info_field(c, "all", field);
    for script in [
        "return redis.call('select',99)",
        "return redis.pcall('select',99)",
    ] {
        call::<()>(&mut c, &["CONFIG", "RESETSTAT"]);
        assert!(err(&mut c, &["EVAL", script, "0"]).starts_with("ERR DB index is out of range"));
        assert_eq!(stat(&mut c, "errorstat_ERR"), "count=1");
        assert_eq!(stat(&mut c, "total_error_replies"), "1");
        assert!(stat(&mut c, "cmdstat_eval").contains("rejected_calls=0,failed_calls=1"));
        assert!(stat(&mut c, "cmdstat_select").contains("failed_calls=1"));
    }
    // redis.error_reply is the script's own error: counted when the script replies.
    call::<()>(&mut c, &["CONFIG", "RESETSTAT"]);
    err(
        &mut c,
        &["EVAL", "return redis.error_reply('MY_CODE msg')", "0"],
    );
    assert_eq!(stat(&mut c, "errorstat_MY_CODE"), "count=1");
}

/// Reloading a library again and again leaves the interpreter's memory bounded.
#[test]
fn reloaded_libraries_do_not_grow_the_interpreter() {
    let s = TestServer::start();
    let mut c = s.conn();
    let lib = "#!lua name=lib\nredis.register_function('f', function(keys) \
               return redis.call('incr', keys[1]) end)";
    let lua_memory = |c: &mut Connection| -> u64 {
        common::info_field(c, "memory", "used_memory_lua")
            .parse()
            .unwrap()
    };
    call::<String>(&mut c, &["FUNCTION", "LOAD", "REPLACE", lib]);
    let first = lua_memory(&mut c);
    let mut pipe = redis::pipe();
    for _ in 0..3000 {
        pipe.cmd("FUNCTION").arg("LOAD").arg("REPLACE").arg(lib);
        pipe.cmd("FCALL").arg("f").arg(1).arg("n");
    }
    pipe.query::<()>(&mut c).unwrap();
    assert_eq!(call::<i64>(&mut c, &["GET", "n"]), 3000);
    let after = lua_memory(&mut c);
    assert!(after < first * 2, "{first} bytes, then {after}");
}

/// SCRIPT FLUSH starts a new interpreter, as Redis resets its Lua VM: what a call with
/// thousands of arguments or a big reply grew goes, and library functions still run.
#[test]
fn script_flush_gives_back_the_interpreters_memory() {
    let s = TestServer::start();
    let mut c = s.conn();
    let lua_memory = |c: &mut Connection| -> u64 {
        common::info_field(c, "memory", "used_memory_lua")
            .parse()
            .unwrap()
    };
    let lib = "#!lua name=lib\nredis.register_function('f', function(keys) \
               return redis.call('incr', keys[1]) end)";
    call::<String>(&mut c, &["FUNCTION", "LOAD", lib]);
    let many = "local t = {} for i = 1, 7000 do t[i] = 'k' .. i end \
                redis.call('del', unpack(t)) \
                local all = {} for i = 1, 20000 do all[i] = tostring(i) end \
                return #redis.call('mget', unpack(all, 1, 5000))";
    assert_eq!(call::<i64>(&mut c, &["EVAL", many, "0"]), 5000);
    assert!(lua_memory(&mut c) > 200_000);
    call::<()>(&mut c, &["SCRIPT", "FLUSH"]);
    assert_eq!(lua_memory(&mut c), 0);
    assert_eq!(call::<i64>(&mut c, &["FCALL", "f", "1", "n"]), 1);
    for _ in 0..1000 {
        call::<i64>(
            &mut c,
            &["EVAL", "return redis.call('incr', KEYS[1])", "1", "n"],
        );
    }
    let after = lua_memory(&mut c);
    assert!(after < 100_000, "{after} bytes after 1000 small scripts");
}

/// `min-replicas-to-write`: without enough good replicas a master refuses writes, scripts
/// that declare they may write, and a flagless script's first write; reads still run.
#[test]
fn writes_wait_for_enough_good_replicas() {
    let master = TestServer::start();
    let mut c = master.conn();
    call::<()>(&mut c, &["SET", "x", "v"]);
    call::<()>(&mut c, &["CONFIG", "SET", "min-replicas-to-write", "1"]);
    let refused = "NOREPLICAS Not enough good replicas to write.";
    assert_eq!(err(&mut c, &["SET", "x", "w"]), refused);
    call::<()>(&mut c, &["MULTI"]);
    assert_eq!(err(&mut c, &["INCR", "n"]), refused);
    assert!(err(&mut c, &["EXEC"]).starts_with("EXECABORT"));
    let get = "return redis.call('get', KEYS[1])";
    let flagged_get = "#!lua\nreturn redis.call('get', KEYS[1])";
    let read_only_get = "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])";
    assert_eq!(call::<String>(&mut c, &["GET", "x"]), "v");
    assert_eq!(call::<String>(&mut c, &["EVAL", get, "1", "x"]), "v");
    assert_eq!(
        call::<String>(&mut c, &["EVAL", read_only_get, "1", "x"]),
        "v"
    );
    assert!(err(&mut c, &["EVAL", flagged_get, "1", "x"]).starts_with("NOREPLICAS"));
    let set = "return redis.call('set', KEYS[1], 'w')";
    assert!(err(&mut c, &["EVAL", set, "1", "x"]).starts_with("NOREPLICAS"));
    let alias: Vec<String> = call(&mut c, &["CONFIG", "GET", "min-slaves-to-write"]);
    assert_eq!(alias[1], "1");

    let _slave = TestServer::slave_of(&master, &[]);
    common::wait_until("the slave online", || {
        let info: String = call(&mut c, &["INFO", "replication"]);
        info.contains("state=online")
    });
    call::<()>(&mut c, &["SET", "x", "w"]);
    assert_eq!(call::<String>(&mut c, &["EVAL", set, "1", "x"]), "OK");
    // A lag limit of 0 turns the check off, as in Redis.
    call::<()>(&mut c, &["CONFIG", "SET", "min-replicas-to-write", "3"]);
    assert!(err(&mut c, &["SET", "x", "v"]).starts_with("NOREPLICAS"));
    call::<()>(&mut c, &["CONFIG", "SET", "min-replicas-max-lag", "0"]);
    call::<()>(&mut c, &["SET", "x", "v"]);
}

/// A client whose command ran just before a long script, in the same worker round, gets its
/// reply at once (not when the script ends), so it can go on to kill the script.
#[test]
fn a_reply_due_before_a_long_script_is_not_held_behind_it() {
    use std::io::Write;
    let s = TestServer::start_with(&["--thread-pool-size", "1", "--enable-debug-command", "yes"]);
    call::<()>(
        &mut s.conn(),
        &["CONFIG", "SET", "busy-reply-threshold", "50"],
    );
    for _ in 0..3 {
        let mut sleeper = s.raw();
        let mut early = s.raw();
        let mut runner = s.raw();
        // The sleep holds the one worker, so the next two queue up and share its next round.
        sleeper
            .write_all(b"*3\r\n$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n$3\r\n0.3\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        early.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        runner
            .write_all(b"*3\r\n$4\r\nEVAL\r\n$17\r\nwhile true do end\r\n$1\r\n0\r\n")
            .unwrap();
        assert_eq!(common::read_until(&mut early, b"\r\n"), b"+PONG\r\n");
        assert_eq!(common::read_until(&mut sleeper, b"\r\n"), b"+OK\r\n");
        let kill = |c: &mut std::net::TcpStream| {
            c.write_all(b"*2\r\n$6\r\nSCRIPT\r\n$4\r\nKILL\r\n")
                .unwrap();
            common::read_until(c, b"\r\n")
        };
        // The script may not be past the threshold yet: then there is nothing to kill.
        let mut killed = kill(&mut early);
        while killed.starts_with(b"-NOTBUSY") {
            std::thread::sleep(Duration::from_millis(20));
            killed = kill(&mut early);
        }
        assert_eq!(killed, b"+OK\r\n");
        let out = common::read_until(&mut runner, b"\r\n");
        assert!(String::from_utf8_lossy(&out).contains("killed by user"));
    }
}
