//! The Piston v2 compatibility API, proven with real clients installed by
//! the test from their registries (npm `piston-client` 1.0.2 into
//! `.rce/node`, PyPI `pistonapi` 1.0.1 and `aiopyston` 1.2.1 into
//! `.rce/venv`): runtimes, and execute with stdin and args, against a real
//! rce. The first two have no header option, so they carry the API key as
//! Basic auth in the base URL; aiopyston sends it as a bare `Authorization`.
//! Then the wire details over raw HTTP: the bodies the clients send (JSON
//! as text/plain, forms), Piston's error messages, anonymous access (off by
//! default), the stage fields and the routing edges.

mod common;
#[path = "clients/support.rs"]
mod support;

use common::*;
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

const CLIENT_TIMEOUT: Duration = Duration::from_secs(180);

/// `http://key:KEY@127.0.0.1:port` for a base URL `http://127.0.0.1:port`.
fn with_key(base: &str, key: &str) -> String {
    base.replacen("http://", &format!("http://key:{key}@"), 1)
}

/// npm `piston-client`: runtimes lists Piston-named languages with semver
/// versions; execute passes stdin and args (and its default args when none
/// are given); a compiled language has a `compile` stage and the run's exit
/// code.
#[actix_rt::test]
async fn piston_client_runs_with_stdin_and_args() {
    let rce = start_rce();
    let key = support::api_key(&rce).await;
    let prefix = support::node_prefix();
    let mut command = Command::new("node");
    command
        .arg(support::script("piston_client.mjs"))
        .arg(&prefix)
        .arg(with_key(&rce.base, &key));
    let seen = support::run_client(&rce, command, CLIENT_TIMEOUT);
    let runtimes = seen["runtimes"].as_array().expect("runtimes");
    let python = runtimes
        .iter()
        .find(|r| r["language"] == "python")
        .expect("python runtime");
    assert_eq!(
        python["version"].as_str().map(|v| v.split('.').count()),
        Some(3),
        "{python}"
    );
    assert!(
        runtimes
            .iter()
            .any(|r| r["language"] == "c++" && r["runtime"] == "gcc"),
        "{seen}"
    );
    let echo = &seen["echo"];
    assert_eq!(echo["language"], "python", "{seen}");
    assert_eq!(echo["run"]["stdout"], "hello\na b c\n", "{seen}");
    assert_eq!(echo["run"]["code"], 0, "{seen}");
    assert_eq!(echo["run"]["output"], "hello\na b c\n", "{seen}");
    assert!(
        echo["run"]["cpu_time"].is_u64() && echo["run"]["memory"].is_u64(),
        "{seen}"
    );
    assert_eq!(seen["defaults"]["run"]["stdout"], "3\n", "{seen}");
    let compiled = &seen["compiled"];
    assert_eq!(compiled["compile"]["code"], 0, "{seen}");
    assert_eq!(compiled["run"]["stdout"], "from c\n", "{seen}");
    assert_eq!(compiled["run"]["code"], 3, "{seen}");
    assert_eq!(compiled["run"]["status"], "RE", "{seen}");
}

/// PyPI `pistonapi`: its form-encoded execute (files as a plain string,
/// args repeated) runs with stdin and args; an unknown language raises
/// its PistonError with Piston's message.
#[actix_rt::test]
async fn pistonapi_runs_with_stdin_and_args() {
    let rce = start_rce();
    let key = support::api_key(&rce).await;
    let mut command = Command::new(support::python());
    command
        .arg(support::script("pistonapi_client.py"))
        .arg(with_key(&rce.url("/api/v2"), &key));
    let seen = support::run_client(&rce, command, CLIENT_TIMEOUT);
    assert!(
        seen["languages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "python"),
        "{seen}"
    );
    assert!(
        seen["python"]["aliases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "py"),
        "{seen}"
    );
    assert_eq!(seen["output"], "SHOUT\n['one', 'two']\n", "{seen}");
    assert_eq!(seen["unknown"], "brainfuck-* runtime is unknown", "{seen}");
}

/// PyPI `aiopyston` 1.2.1, unmodified: it sends the key as a bare
/// `Authorization: KEY` (no scheme) and asks for `runtimes/` and
/// `execute/` (trailing slashes); an alias resolves, stdin and args reach
/// the program, and a compiled language reports its compile stage.
#[actix_rt::test]
async fn aiopyston_runs_with_a_bare_key_and_trailing_slashes() {
    let rce = start_rce();
    let key = support::api_key(&rce).await;
    let mut command = Command::new(support::python());
    command
        .arg(support::script("aiopyston_client.py"))
        .arg(rce.url("/api/v2/"))
        .arg(&key);
    let seen = support::run_client(&rce, command, CLIENT_TIMEOUT);
    assert!(
        seen["languages"]
            .as_array()
            .is_some_and(|l| l.iter().any(|l| l == "python")),
        "{seen}"
    );
    assert!(
        seen["python_aliases"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a == "py")),
        "{seen}"
    );
    assert_eq!(seen["stdout"], "abab ['x', 'y']\n", "{seen}");
    assert_eq!(seen["code"], 0, "{seen}");
    assert_eq!(seen["compile_code"], 0, "{seen}");
    assert_eq!(seen["compiled_stdout"], "from c\n", "{seen}");
    assert_eq!(seen["compiled_code"], 4, "{seen}");
}

/// The Piston routing edges over raw HTTP: a bare `Authorization: KEY`
/// runs, a wrong one is 401, and an unknown path is Piston's JSON 404.
#[actix_rt::test]
async fn bare_keys_and_unknown_paths() {
    let rce = start_rce();
    let key = support::api_key(&rce).await;
    let body = json!({"language": "python", "version": "*", "files": [{"content": "print(5)"}]});
    let url = rce.url("/api/v2/execute/");
    for (credential, status) in [(key.as_str(), 200), ("rce_wrong", 401)] {
        let mut response = client()
            .post(&url)
            .insert_header(("Authorization", credential))
            .send_json(&body)
            .await
            .expect("request");
        let reply: Value = response.json().await.expect("JSON");
        assert_eq!(response.status().as_u16(), status, "{reply}");
        if status == 200 {
            assert_eq!(reply["run"]["stdout"], "5\n", "{reply}");
        }
    }
    let reply = request("GET", &rce.url("/api/v2/nope"), None, None).await;
    assert_eq!(reply.status, 404);
    assert!(reply.body["message"].is_string(), "{}", reply.body);
}

/// POSTs `body` to `/api/v2/execute` with a content type and credential.
async fn execute(
    rce: &Rce,
    content_type: &str,
    body: &'static [u8],
    key: Option<&str>,
) -> (u16, Value) {
    post_raw_as(key, &rce.url("/api/v2/execute"), content_type, body).await
}

/// Without credentials running is 401 (listing stays public); with
/// `compat.piston.allow_anonymous` it runs.
#[actix_rt::test]
async fn anonymous_access_is_opt_in() {
    let rce = start_rce();
    let body: &[u8] = br#"{"language":"python","version":"*","files":[{"content":"print(7)"}]}"#;
    let (status, reply) = execute(&rce, "application/json", body, None).await;
    assert_eq!(status, 401, "{reply}");
    assert!(reply["message"].is_string(), "{reply}");
    let (status, _) = get_json(&rce.url("/api/v2/runtimes")).await;
    assert_eq!(status, 200);
    drop(rce);
    let open = start_rce_with(RceOptions {
        env: vec![("RCE_COMPAT__PISTON__ALLOW_ANONYMOUS".into(), "true".into())],
        ..Default::default()
    });
    let (status, reply) = execute(&open, "application/json", body, None).await;
    assert_eq!(status, 200, "{reply}\n{}", open.log());
    assert_eq!(reply["run"]["stdout"], "7\n", "{reply}");
}

/// The bodies clients really send are read (JSON as text/plain, a form
/// with `files=<code>`), failures carry Piston's statuses and messages, and
/// bad requests are 400 `{"message"}`.
#[actix_rt::test]
async fn bodies_and_failures_look_like_pistons() {
    let rce = start_rce();
    let key = support::api_key(&rce).await;
    let key = Some(key.as_str());
    let (status, reply) = execute(
        &rce,
        "text/plain;charset=UTF-8",
        br#"{"language":"py","files":[{"content":"import os\nos.kill(os.getpid(), 11)"}],"run_memory_limit":-1}"#,
        key,
    )
    .await;
    assert_eq!(status, 200, "{reply}\n{}", rce.log());
    assert_eq!(reply["run"]["signal"], "SIGSEGV", "{reply}");
    assert_eq!(reply["run"]["status"], "SG", "{reply}");
    assert_eq!(reply["run"]["code"], Value::Null, "{reply}");
    let (status, reply) = execute(
        &rce,
        "application/x-www-form-urlencoded",
        b"language=python&files=while+True%3A+pass&run_timeout=1000&run_cpu_time=500",
        key,
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["run"]["status"], "TO", "{reply}");
    assert_eq!(reply["run"]["signal"], "SIGKILL", "{reply}");
    let (status, reply) = execute(
        &rce,
        "application/json",
        br#"{"language":"c","files":[{"name":"x.c","content":"int main( {"}]}"#,
        key,
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["compile"]["code"], 1, "{reply}");
    assert!(
        reply["compile"]["stderr"]
            .as_str()
            .unwrap()
            .contains("error"),
        "{reply}"
    );
    assert_eq!(reply["run"], reply["compile"], "{reply}");
    let (status, reply) = execute(
        &rce,
        "application/json",
        br#"{"language":"python","version":"2.7.0","files":[]}"#,
        key,
    )
    .await;
    assert_eq!(
        (status, reply),
        (400, json!({"message": "python-2.7.0 runtime is unknown"}))
    );
    let (status, reply) = execute(
        &rce,
        "application/json",
        br#"{"language":"python","files":[{"content":"x"}],"run_memory_limit":"lots"}"#,
        key,
    )
    .await;
    assert_eq!(
        (status, reply),
        (
            400,
            json!({"message": "If specified, run_memory_limit must be a number"})
        )
    );
}

/// What a Piston WebSocket client reads: a JSON message or the close.
#[derive(Debug)]
enum Frame {
    Message(Value),
    Closed(Option<u16>),
}

/// A test client speaking Piston's `/api/v2/connect` protocol.
struct PistonWs {
    framed: actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>,
}

impl PistonWs {
    /// Connects with the key in `?token=`.
    async fn connect(rce: &Rce, key: &str) -> PistonWs {
        let url = format!("{}?token={key}", rce.ws_url("/api/v2/connect"));
        let (_, framed) = client().ws(url).connect().await.expect("websocket connect");
        PistonWs { framed }
    }

    async fn send(&mut self, message: Value) {
        use futures_util::SinkExt;
        self.framed
            .send(awc::ws::Message::Text(message.to_string().into()))
            .await
            .expect("send");
    }

    /// The next message or the close (pings answered); panics after `within`.
    async fn next(&mut self, within: Duration) -> Frame {
        use futures_util::{SinkExt, StreamExt};
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.framed.next())
                .await
                .expect("no frame in time");
            match frame {
                None => return Frame::Closed(None),
                Some(Err(error)) => panic!("websocket error: {error}"),
                Some(Ok(awc::ws::Frame::Text(bytes))) => {
                    return Frame::Message(serde_json::from_slice(&bytes).expect("JSON message"))
                }
                Some(Ok(awc::ws::Frame::Ping(bytes))) => {
                    let _ = self.framed.send(awc::ws::Message::Pong(bytes)).await;
                }
                Some(Ok(awc::ws::Frame::Close(reason))) => {
                    return Frame::Closed(reason.map(|r| u16::from(r.code)))
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Reads until the close, returning the messages and the close code.
    async fn rest(&mut self, within: Duration) -> (Vec<Value>, Option<u16>) {
        let mut messages = Vec::new();
        loop {
            match self.next(within).await {
                Frame::Message(message) => messages.push(message),
                Frame::Closed(code) => return (messages, code),
            }
        }
    }

    /// Reads messages until one satisfies `pred`, returning all read.
    async fn until(&mut self, within: Duration, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut messages = Vec::new();
        loop {
            match self.next(within).await {
                Frame::Message(message) => {
                    let done = pred(&message);
                    messages.push(message);
                    if done {
                        return messages;
                    }
                }
                Frame::Closed(code) => {
                    panic!("closed ({code:?}) before the expected message: {messages:?}")
                }
            }
        }
    }
}

/// All stdout `data` of `messages`, joined.
fn stdout_of(messages: &[Value]) -> String {
    messages
        .iter()
        .filter(|m| m["type"] == "data" && m["stream"] == "stdout")
        .filter_map(|m| m["data"].as_str())
        .collect()
}

const WS_WAIT: Duration = Duration::from_secs(60);

/// Piston's WebSocket protocol, interactively: `init` answers `runtime`
/// and `stage run`; stdin sent line by line reaches the program while it
/// runs (its answer comes back before more input is sent); rce's
/// `eof: true` ends its input; `exit` carries the code plus CPU time, wall
/// time and memory; the socket closes with 4999.
#[actix_rt::test]
async fn websocket_interactive_stdin_and_end_of_input() {
    let rce = start_rce();
    let key = support::api_key(&rce).await;
    let mut ws = PistonWs::connect(&rce, &key).await;
    let program = "import sys\nfor line in sys.stdin:\n    print(line.strip().upper(), flush=True)\nprint('done')\n";
    ws.send(json!({"type": "init", "language": "python", "version": "*", "files": [{"content": program}]})).await;
    let first = ws.until(WS_WAIT, |m| m["type"] == "runtime").await;
    assert_eq!(first.last().unwrap()["language"], "python", "{first:?}");
    ws.send(json!({"type": "data", "stream": "stdin", "data": "abc\n"}))
        .await;
    let seen = ws
        .until(WS_WAIT, |m| {
            m["type"] == "data" && m["data"].as_str().is_some_and(|d| d.contains("ABC"))
        })
        .await;
    assert!(
        seen.iter()
            .any(|m| m == &json!({"type": "stage", "stage": "run"})),
        "{seen:?}\n{}",
        rce.log()
    );
    ws.send(json!({"type": "data", "stream": "stdin", "data": "def\n", "eof": true}))
        .await;
    let (rest, code) = ws.rest(WS_WAIT).await;
    let all: Vec<Value> = seen.into_iter().chain(rest.iter().cloned()).collect();
    assert_eq!(stdout_of(&all), "ABC\nDEF\ndone\n", "{all:?}");
    let exit = rest
        .iter()
        .find(|m| m["type"] == "exit")
        .expect("exit message");
    assert_eq!(exit["stage"], "run", "{exit}");
    assert_eq!(exit["code"], 0, "{exit}");
    assert_eq!(exit["signal"], Value::Null, "{exit}");
    assert!(
        exit["cpu_time"].is_u64() && exit["wall_time"].is_u64() && exit["memory"].is_u64(),
        "{exit}"
    );
    assert_eq!(code, Some(4999));
}

/// A `signal` reaches the program: a sleeping program is stopped at once
/// (long before its time limit) and `exit` says it was killed; an unknown
/// signal name closes the socket with 4005.
#[actix_rt::test]
async fn websocket_signal_stops_the_program() {
    let rce = start_rce();
    let key = support::api_key(&rce).await;
    let mut ws = PistonWs::connect(&rce, &key).await;
    let program = "import time\nprint('up', flush=True)\ntime.sleep(50)\n";
    ws.send(json!({"type": "init", "language": "python", "files": [{"content": program}], "run_timeout": 55000})).await;
    ws.until(WS_WAIT, |m| m["type"] == "data" && m["data"] == "up\n")
        .await;
    let sent = std::time::Instant::now();
    ws.send(json!({"type": "signal", "signal": "SIGTERM"}))
        .await;
    let (rest, code) = ws.rest(WS_WAIT).await;
    assert!(
        sent.elapsed() < Duration::from_secs(30),
        "the signal did not stop the program: {rest:?}"
    );
    let exit = rest
        .iter()
        .find(|m| m["type"] == "exit")
        .expect("exit message");
    assert_ne!(exit["code"], 0, "{exit}");
    assert!(
        exit["signal"].is_string() || exit["code"].is_i64(),
        "{exit}"
    );
    assert_eq!(code, Some(4999), "{rest:?}");

    let mut ws = PistonWs::connect(&rce, &key).await;
    ws.send(json!({"type": "init", "language": "python", "files": [{"content": "input()"}]}))
        .await;
    ws.until(WS_WAIT, |m| m["type"] == "runtime").await;
    ws.send(json!({"type": "signal", "signal": "SIGNOPE"}))
        .await;
    let (_, code) = ws.rest(WS_WAIT).await;
    assert_eq!(code, Some(4005));
}

/// Piston's close codes: no `init` within a second is 4001; `data` before
/// `init` is 4003; a second `init` is 4000; writing to stdout is 4004; a bad
/// `init` is an `error` message then 4002. No credentials is 401 before
/// any upgrade.
#[actix_rt::test]
async fn websocket_close_codes_are_pistons() {
    let rce = start_rce();
    let key = support::api_key(&rce).await;
    let init = json!({"type": "init", "language": "python", "files": [{"content": "input()"}]});

    let mut ws = PistonWs::connect(&rce, &key).await;
    let (_, code) = ws.rest(Duration::from_secs(10)).await;
    assert_eq!(code, Some(4001));

    let mut ws = PistonWs::connect(&rce, &key).await;
    ws.send(json!({"type": "data", "stream": "stdin", "data": "x"}))
        .await;
    assert_eq!(ws.rest(WS_WAIT).await.1, Some(4003));

    let mut ws = PistonWs::connect(&rce, &key).await;
    ws.send(init.clone()).await;
    ws.until(WS_WAIT, |m| m["type"] == "runtime").await;
    ws.send(init.clone()).await;
    assert_eq!(ws.rest(WS_WAIT).await.1, Some(4000));

    let mut ws = PistonWs::connect(&rce, &key).await;
    ws.send(init.clone()).await;
    ws.until(WS_WAIT, |m| m["type"] == "runtime").await;
    ws.send(json!({"type": "data", "stream": "stdout", "data": "x"}))
        .await;
    assert_eq!(ws.rest(WS_WAIT).await.1, Some(4004));

    let mut ws = PistonWs::connect(&rce, &key).await;
    ws.send(json!({"type": "init", "language": "brainfuck", "files": [{"content": "x"}]}))
        .await;
    let (messages, code) = ws.rest(WS_WAIT).await;
    assert_eq!(
        messages,
        [json!({"type": "error", "message": "brainfuck-* runtime is unknown"})]
    );
    assert_eq!(code, Some(4002));

    let refused = client().ws(rce.ws_url("/api/v2/connect")).connect().await;
    match refused {
        Err(awc::error::WsClientError::InvalidResponseStatus(status)) => {
            assert_eq!(status.as_u16(), 401)
        }
        other => panic!(
            "expected a 401 handshake, got {:?}",
            other.map(|(r, _)| r.status())
        ),
    }
}

/// When the server shuts down, an open Piston socket is closed with 1001
/// going-away (the client reconnects elsewhere) rather than cut off, and
/// the server still exits cleanly.
#[actix_rt::test]
async fn websocket_closes_with_going_away_on_shutdown() {
    let mut rce = start_rce();
    let key = support::api_key(&rce).await;
    let mut ws = PistonWs::connect(&rce, &key).await;
    ws.send(json!({"type": "init", "language": "python", "files": [{"content": "input()"}]}))
        .await;
    ws.until(WS_WAIT, |m| m["type"] == "runtime").await;
    let stopping = std::thread::spawn(move || rce.terminate());
    let (_, code) = ws.rest(WS_WAIT).await;
    assert_eq!(code, Some(1001));
    let status = stopping.join().expect("terminate");
    assert!(status.success(), "{status:?}");
}
