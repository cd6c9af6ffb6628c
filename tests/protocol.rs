//! The wire protocol over raw TCP: inline commands, multibulk framing,
//! protocol errors (each closes only its own connection), split and large
//! requests, command errors byte for byte.

mod common;

use common::*;
use std::time::Duration;

sharded_tests!(
    inline_commands,
    inline_quoting,
    inline_unbalanced_quotes,
    wrong_arity,
    unknown_command,
    empty_requests_are_ignored,
    protocol_errors_close_only_that_connection,
    oversized_headers,
    byte_by_byte_requests,
    one_megabyte_value,
    many_arguments,
    truncated_request_then_disconnect,
    half_sent_request_completes_later,
);

fn inline_commands(s: &Server) {
    let mut c = s.raw();
    c.send(b"PING\r\n");
    assert_eq!(c.read_reply(), b"+PONG\r\n");
    c.send(b"SET a b\r\n");
    assert_eq!(c.read_reply(), ok());
    c.send(b"GET a\r\n");
    assert_eq!(c.read_reply(), bulk("b"));
    // A bare \n also ends an inline command; extra spaces are separators.
    c.send(b"PING\n");
    assert_eq!(c.read_reply(), b"+PONG\r\n");
    c.send(b"   SET    spaced    value   \r\n");
    assert_eq!(c.read_reply(), ok());
    c.send(b"GET spaced\r\n");
    assert_eq!(c.read_reply(), bulk("value"));
    // Several inline commands in one write, mixed with multibulk.
    let mut req = b"INCR n\r\nINCR n\r\n".to_vec();
    req.extend(encode_str(&["INCRBY", "n", "10"]));
    req.extend(b"GET n\r\n");
    c.send(&req);
    assert_eq!(c.read_reply(), int(1));
    assert_eq!(c.read_reply(), int(2));
    assert_eq!(c.read_reply(), int(12));
    assert_eq!(c.read_reply(), bulk("12"));
    c.send(b"GET\r\n");
    assert_eq!(
        c.read_reply(),
        err("ERR wrong number of arguments for 'get' command")
    );
}

fn inline_quoting(s: &Server) {
    let mut c = s.raw();
    c.send(b"SET \"a b\" 'c'\r\n");
    assert_eq!(c.read_reply(), ok());
    c.send(b"GET \"a b\"\r\n");
    assert_eq!(c.read_reply(), bulk("c"));
    let mut d = s.raw();
    d.check(&["GET", "a b"], &bulk("c"));
    // Escapes inside double quotes; only \' inside single quotes.
    c.send(b"ECHO \"a\\tb\\x41\\\\\\n\\\"q\"\r\n");
    assert_eq!(c.read_reply(), bulk_bytes(b"a\tbA\\\n\"q"));
    c.send(b"ECHO 'it\\'s \\n'\r\n");
    assert_eq!(c.read_reply(), bulk("it's \\n"));
    c.send(b"ECHO \"\"\r\n");
    assert_eq!(c.read_reply(), bulk(""));
    c.send(b"SET bin \"\\x00\\xff\"\r\n");
    assert_eq!(c.read_reply(), ok());
    assert_eq!(c.cmd(&["STRLEN", "bin"]), int(2));
}

fn inline_unbalanced_quotes(s: &Server) {
    for bad in [
        &b"SET \"a b\r\n"[..],
        b"ECHO 'abc\r\n",
        b"ECHO \"a\"b\r\n",
        b"ECHO 'a'b\r\n",
    ] {
        let mut c = s.raw();
        c.send(bad);
        assert_eq!(
            show(&c.read_reply()),
            show(&err("ERR Protocol error: unbalanced quotes in request")),
            "for {:?}",
            show(bad)
        );
        c.expect_closed();
    }
    let mut c = s.raw();
    c.check(&["PING"], b"+PONG\r\n");
}

fn wrong_arity(s: &Server) {
    let mut c = s.raw();
    for (args, name) in [
        (&["GET"][..], "get"),
        (&["GET", "a", "b"], "get"),
        (&["SET", "a"], "set"),
        (&["set"], "set"),
        (&["MGET"], "mget"),
        (&["INCR"], "incr"),
        (&["EXPIRE", "a"], "expire"),
        (&["Ttl"], "ttl"),
        (&["SELECT"], "select"),
        (&["ECHO"], "echo"),
        (&["MSET", "a", "1", "b"], "mset"),
    ] {
        c.check(
            args,
            &err(&format!(
                "ERR wrong number of arguments for '{name}' command"
            )),
        );
    }
    // Subcommands are named container|sub.
    c.check(
        &["CONFIG", "GET"],
        &err("ERR wrong number of arguments for 'config|get' command"),
    );
    c.check(
        &["CLIENT", "KILL"],
        &err("ERR wrong number of arguments for 'client|kill' command"),
    );
    c.check(
        &["CONFIG"],
        &err("ERR wrong number of arguments for 'config' command"),
    );
}

fn unknown_command(s: &Server) {
    let mut c = s.raw();
    c.check(
        &["foo", "a", "b"],
        &err("ERR unknown command 'foo', with args beginning with: 'a' 'b' "),
    );
    c.check(
        &["FOO"],
        &err("ERR unknown command 'FOO', with args beginning with: "),
    );
    c.check(
        &["foo", ""],
        &err("ERR unknown command 'foo', with args beginning with: '' "),
    );
    c.send(b"foo a b\r\n");
    assert_eq!(
        c.read_reply(),
        err("ERR unknown command 'foo', with args beginning with: 'a' 'b' ")
    );
    // An empty command name.
    c.send(b"*1\r\n$0\r\n\r\n");
    assert_eq!(
        c.read_reply(),
        err("ERR unknown command '', with args beginning with: ")
    );
    // The argument list is cut at 128 characters; so is the name.
    let long = "x".repeat(200);
    c.check(
        &["foo", &long],
        &err(&format!(
            "ERR unknown command 'foo', with args beginning with: '{}' ",
            "x".repeat(128)
        )),
    );
    let many: Vec<String> = (0..40)
        .map(|i| format!("{}", (b'a' + (i % 26) as u8) as char))
        .collect();
    let mut args = vec!["foo"];
    args.extend(many.iter().map(|a| a.as_str()));
    let shown: String = many[..32].iter().map(|a| format!("'{a}' ")).collect();
    c.check(
        &args,
        &err(&format!(
            "ERR unknown command 'foo', with args beginning with: {shown}"
        )),
    );
    let name = "f".repeat(300);
    c.check(
        &[&name, "a"],
        &err(&format!(
            "ERR unknown command '{}', with args beginning with: 'a' ",
            "f".repeat(128)
        )),
    );
    // The connection stays usable.
    c.check(&["PING"], b"+PONG\r\n");
}

fn empty_requests_are_ignored(s: &Server) {
    let mut c = s.raw();
    c.send(b"*0\r\n*0\r\n*-1\r\n\r\n\r\n*1\r\n$4\r\nPING\r\n*0\r\n");
    assert_eq!(c.read_reply(), b"+PONG\r\n");
    c.send(b"\n\r\n*0\r\nECHO x\r\n");
    assert_eq!(c.read_reply(), bulk("x"));
    // Nothing else was answered.
    c.check(&["ECHO", "last"], &bulk("last"));
}

fn protocol_errors_close_only_that_connection(s: &Server) {
    let mut keeper = s.raw();
    let mut pipelined = s.raw();
    keeper.check(&["SET", "precious", "data"], &ok());
    for (bad, msg) in [
        (&b"*abc\r\n"[..], "invalid multibulk length"),
        (b"*1\r\nfoo\r\n", "expected '$', got 'f'"),
        (b"*2\r\n$3\r\nGET\r\n:1\r\n", "expected '$', got ':'"),
        (b"*1\r\n$-5\r\n", "invalid bulk length"),
        (b"*1\r\n$-1\r\n", "invalid bulk length"),
        (b"*1\r\n$x\r\n", "invalid bulk length"),
        (b"*1\r\n$99999999999\r\n", "invalid bulk length"),
        (b"*1\r\n$536870913\r\n", "invalid bulk length"),
        (b"*2147483648\r\n", "invalid multibulk length"),
        (b"*1 \r\n$4\r\nPING\r\n", "invalid multibulk length"),
        (b"*01\r\n$4\r\nPING\r\n", "invalid multibulk length"),
        (b"*1\r\n$04\r\nPING\r\n", "invalid bulk length"),
    ] {
        let mut c = s.raw();
        c.send(bad);
        assert_eq!(
            show(&c.read_reply()),
            show(&err(&format!("ERR Protocol error: {msg}"))),
            "for {:?}",
            show(bad)
        );
        c.expect_closed();
        keeper.check(&["GET", "precious"], &bulk("data"));
    }
    // Replies to requests before the bad one are still delivered.
    let mut req = encode_str(&["SET", "before", "1"]);
    req.extend(encode_str(&["GET", "precious"]));
    req.extend(b"*1\r\nxx\r\n");
    req.extend(encode_str(&["SET", "after", "1"]));
    pipelined.send(&req);
    assert_eq!(pipelined.read_reply(), ok());
    assert_eq!(pipelined.read_reply(), bulk("data"));
    assert_eq!(
        pipelined.read_reply(),
        err("ERR Protocol error: expected '$', got 'x'")
    );
    pipelined.expect_closed();
    keeper.check(&["GET", "before"], &bulk("1"));
    keeper.check(&["EXISTS", "after"], &int(0));
    let mut fresh = s.raw();
    fresh.check(&["GET", "precious"], &bulk("data"));
}

fn oversized_headers(s: &Server) {
    let mut c = s.raw();
    c.send(&vec![b'a'; 70_000]);
    assert_eq!(
        c.read_reply(),
        err("ERR Protocol error: too big inline request")
    );
    c.expect_closed();
    let mut c = s.raw();
    let mut req = b"*".to_vec();
    req.extend(vec![b'1'; 70_000]);
    c.send(&req);
    assert_eq!(
        c.read_reply(),
        err("ERR Protocol error: too big mbulk count string")
    );
    c.expect_closed();
    let mut c = s.raw();
    let mut req = b"*1\r\n$".to_vec();
    req.extend(vec![b'1'; 70_000]);
    c.send(&req);
    assert_eq!(
        c.read_reply(),
        err("ERR Protocol error: too big bulk count string")
    );
    c.expect_closed();
    let mut c = s.raw();
    c.check(&["PING"], b"+PONG\r\n");
}

#[test]
fn unauthenticated_request_limits() {
    let s = Server::start_with(&["--threads", "2", "--requirepass", "pw"]);
    let mut c = s.raw();
    c.send(b"*11\r\n");
    assert_eq!(
        c.read_reply(),
        err("ERR Protocol error: unauthenticated multibulk length")
    );
    c.expect_closed();
    let mut c = s.raw();
    c.send(b"*1\r\n$16385\r\n");
    assert_eq!(
        c.read_reply(),
        err("ERR Protocol error: unauthenticated bulk length")
    );
    c.expect_closed();
    // At the limits, before and after AUTH.
    let mut c = s.raw();
    let ten: Vec<&str> = std::iter::once("EXISTS").chain(["k"; 9]).collect();
    c.check(&ten, &err("NOAUTH Authentication required."));
    let big = "v".repeat(16384);
    c.check(&["ECHO", &big], &err("NOAUTH Authentication required."));
    c.check(&["AUTH", "pw"], &ok());
    let eleven: Vec<&str> = std::iter::once("EXISTS").chain(["k"; 10]).collect();
    c.check(&eleven, &int(0));
    let big = "v".repeat(100_000);
    c.check(&["SET", "k", &big], &ok());
    c.check(&["STRLEN", "k"], &int(100_000));
}

fn byte_by_byte_requests(s: &Server) {
    let mut c = s.raw();
    let mut req = Vec::new();
    let mut expected = Vec::new();
    for i in 0..8 {
        let k = format!("bb:{i}");
        req.extend(encode_str(&["SET", &k, &format!("v{i}")]));
        expected.push(ok());
        req.extend(encode_str(&["GET", &k]));
        expected.push(bulk(&format!("v{i}")));
    }
    req.extend(b"INCR bb:ctr\r\n");
    expected.push(int(1));
    req.extend(b"*0\r\n");
    req.extend(encode_str(&["MGET", "bb:0", "bb:7", "nope"]));
    expected.push(array(&[bulk("v0"), bulk("v7"), nil()]));
    req.extend(b"ECHO \"quoted arg\"\n");
    expected.push(bulk("quoted arg"));
    for (i, b) in req.iter().enumerate() {
        c.send(&[*b]);
        if i % 4 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    for exp in &expected {
        assert_eq!(show(&c.read_reply()), show(exp));
    }
    // The same batch in one write gives identical replies.
    let mut d = s.raw();
    d.check(&["DEL", "bb:ctr"], &int(1));
    d.send(&req);
    for exp in &expected {
        assert_eq!(show(&d.read_reply()), show(exp));
    }
}

fn one_megabyte_value(s: &Server) {
    let mut c = s.raw();
    let val: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    assert_eq!(c.cmd_bytes(&[b"SET", b"big", &val]), ok());
    assert_eq!(c.cmd(&["STRLEN", "big"]), int(1024 * 1024));
    let got = c.cmd(&["GET", "big"]);
    assert!(got == bulk_bytes(&val), "1 MB value did not round-trip");
    assert_eq!(
        c.cmd_bytes(&[b"APPEND", b"big", b"tail"]),
        int(1024 * 1024 + 4)
    );
    // Pipelined behind and ahead of other commands, from another connection.
    let mut d = s.raw();
    let mut req = encode_str(&["PING"]);
    req.extend(encode(&[b"SET", b"big2", &val]));
    req.extend(encode_str(&["GET", "big2"]));
    req.extend(encode_str(&["PING"]));
    d.send(&req);
    assert_eq!(d.read_reply(), b"+PONG\r\n");
    assert_eq!(d.read_reply(), ok());
    assert!(d.read_reply() == bulk_bytes(&val));
    assert_eq!(d.read_reply(), b"+PONG\r\n");
}

fn many_arguments(s: &Server) {
    let mut c = s.raw();
    let mut args = vec!["MSET".to_string()];
    for i in 0..5000 {
        args.push(format!("many:{i}"));
        args.push(i.to_string());
    }
    let refs: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
    c.check(&refs, &ok());
    c.check(&["DBSIZE"], &int(5000));
    let mut args = vec!["EXISTS".to_string()];
    args.extend((0..6000).map(|i| format!("many:{i}")));
    let refs: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
    c.check(&refs, &int(5000));
}

fn truncated_request_then_disconnect(s: &Server) {
    for partial in [
        &b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc"[..],
        b"*3\r\n$3\r\nSET\r\n$1\r\nk",
        b"*3\r\n",
        b"*3\r",
        b"SET k v",
        b"*1\r\n$4\r\nPI",
    ] {
        let mut c = s.raw();
        c.send(partial);
        c.shutdown_write();
        c.expect_closed();
        drop(c);
        let mut c = s.raw();
        c.check(&["GET", "k"], &nil());
    }
    // Dropped without shutdown, with data in flight.
    for _ in 0..20 {
        let mut c = s.raw();
        c.send(b"*2\r\n$3\r\nGET\r\n$1\r\n");
    }
    let mut c = s.raw();
    c.check(&["PING"], b"+PONG\r\n");
    c.check(&["DBSIZE"], &int(0));
}

fn half_sent_request_completes_later(s: &Server) {
    let mut c = s.raw();
    c.send(b"*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$5\r\nval");
    std::thread::sleep(Duration::from_millis(150));
    // Meanwhile another client is served.
    let mut d = s.raw();
    d.check(&["GET", "slow"], &nil());
    c.send(b"ue\r\n");
    assert_eq!(c.read_reply(), ok());
    d.check(&["GET", "slow"], &bulk("value"));
}
