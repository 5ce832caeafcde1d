//! The Judge0 CE 1.13.1 compatibility API, proven with the official Judge0
//! Python SDK (PyPI `judge0` 0.0.8, installed by the test into `.rce/venv`)
//! against a real rce (Redis, Docker): a run with stdin through a language
//! alias (which needs `/about`), a numeric language id, a compile error, a
//! time limit, a judged expected output (Accepted and Wrong Answer) and a
//! batch of test cases; and PyPI `judge0api` 0.1.20, a third-party client
//! (query-parameter tokens, trailing slashes). Then the wire formats checked
//! byte by byte over raw HTTP, the routing edges, and a signed callback
//! delivered to a local receiver.

mod common;
#[path = "clients/support.rs"]
mod support;

use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

/// Longest one SDK scenario may take (jobs run in fresh containers on a
/// shared machine).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(180);

/// Runs `tests/clients/judge0_sdk.py SCENARIO` against `rce`.
async fn sdk(rce: &Rce, scenario: &str) -> Value {
    let key = support::api_key(rce).await;
    let mut command = Command::new(support::python());
    command
        .arg(support::script("judge0_sdk.py"))
        .arg(rce.url("/judge0"))
        .arg(&key)
        .arg(scenario);
    let seen = support::run_client(rce, command, CLIENT_TIMEOUT);
    assert_eq!(seen["version"], "1.13.1", "{seen}");
    seen
}

/// The SDK's `judge0.run` with `language=judge0.PYTHON` (resolved through
/// `/about`'s version) and stdin: Accepted, the program's output, Judge0's
/// units (seconds as a float, memory in KB).
#[actix_rt::test]
async fn sdk_runs_with_stdin_through_a_language_alias() {
    let rce = start_rce();
    let seen = sdk(&rce, "stdin").await;
    let result = &seen["result"];
    assert_eq!(result["status"], 3, "{seen}");
    assert_eq!(result["stdout"], "hello, judge0\n", "{seen}");
    assert!(
        result["time"]
            .as_f64()
            .is_some_and(|t| (0.0..5.0).contains(&t)),
        "{seen}"
    );
    assert!(
        result["memory"].as_f64().is_some_and(|m| m > 100.0),
        "{seen}"
    );
    assert!(result["created_at"].is_string(), "{seen}");
}

/// A numeric language id (71, Python) works as well as an alias.
#[actix_rt::test]
async fn sdk_runs_with_a_numeric_language_id() {
    let rce = start_rce();
    let seen = sdk(&rce, "numeric_id").await;
    assert_eq!(seen["result"]["status"], 3, "{seen}");
    assert_eq!(seen["result"]["stdout"], "42\n", "{seen}");
}

/// A C program that does not compile is Compilation Error (6) with the
/// compiler's output in `compile_output`.
#[actix_rt::test]
async fn sdk_reports_a_compile_error() {
    let rce = start_rce();
    let seen = sdk(&rce, "compile_error").await;
    assert_eq!(seen["result"]["status"], 6, "{seen}");
    assert!(
        seen["result"]["compile_output"]
            .as_str()
            .is_some_and(|o| o.contains("error")),
        "{seen}"
    );
    assert_eq!(seen["result"]["stdout"], Value::Null, "{seen}");
}

/// `compiler_options` reach the compiler as arguments (a `-D` macro with
/// quotes and a space compiles in), and shell syntax in them is only more
/// words, which the flag allow-list refuses: the SDK gets a 422 naming the
/// first one (`;`), and nothing runs.
#[actix_rt::test]
async fn sdk_passes_compiler_options_as_arguments() {
    let rce = start_rce();
    let seen = sdk(&rce, "compiler_options").await;
    assert_eq!(seen["defined"]["status"], 3, "{seen}");
    assert_eq!(seen["defined"]["stdout"], "hello, options\n", "{seen}");
    assert_eq!(seen["injected"]["refused"], 422, "{seen}");
    let body: Value =
        serde_json::from_str(seen["injected"]["body"].as_str().unwrap_or("null")).unwrap();
    assert!(
        body["compiler_options"][0]
            .as_str()
            .is_some_and(|m| m.contains("\";\"")),
        "{seen}"
    );
}

/// `compiler_options` go through the compiler's flag allow-list: a flag
/// that runs another program (`-wrapper,/bin/sh`) is a 422 naming
/// `compiler_options` and the flag; `-O2 -DX=1`
/// is accepted and the macro reaches the program.
#[actix_rt::test]
async fn compiler_options_outside_the_allow_list_are_refused() {
    let rce = start_rce();
    let key = support::api_key(&rce).await;
    let source = "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", X); return 0; }\n";
    let (status, errors) = judge0(
        &rce,
        "POST",
        "/submissions",
        Some(&key),
        Some(&json!({"source_code": source, "language_id": 50,
            "compiler_options": "-O2 -wrapper,/bin/sh,-c,id"})),
    )
    .await;
    assert_eq!(status, 422, "{errors}");
    let message = errors["compiler_options"][0].as_str().unwrap_or_default();
    assert!(message.contains("\"-wrapper,/bin/sh,-c,id\""), "{errors}");

    let (status, result) = judge0(
        &rce,
        "POST",
        "/submissions?wait=true",
        Some(&key),
        Some(&json!({"source_code": source, "language_id": 50, "compiler_options": "-O2 -DX=1"})),
    )
    .await;
    assert_eq!(status, 201, "{result}\n{}", rce.log());
    assert_eq!(result["status"]["id"], 3, "{result}");
    assert_eq!(result["stdout"], "1\n", "{result}");
}

/// Compiler options are part of what a kept compile must match: the same
/// source with `-DX=2` after `-DX=1` was kept compiles again and prints 2.
#[actix_rt::test]
async fn compiler_options_select_their_own_kept_compile() {
    let rce = start_rce();
    let key = support::api_key(&rce).await;
    let source = "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", X); return 0; }\n";
    for (options, printed) in [("-DX=1", "1\n"), ("-DX=1", "1\n"), ("-DX=2", "2\n")] {
        let (status, result) = judge0(
            &rce,
            "POST",
            "/submissions?wait=true",
            Some(&key),
            Some(&json!({"source_code": source, "language_id": 50, "compiler_options": options})),
        )
        .await;
        assert_eq!(status, 201, "{result}");
        assert_eq!(result["stdout"], printed, "{options}: {result}");
    }
    assert_eq!(compile_cache_lookups(&rce, "c", "hit").await, 1);
    assert_eq!(compile_cache_lookups(&rce, "c", "miss").await, 2);
}

/// `cpu_time_limit=1` on an endless loop is Time Limit Exceeded (5).
#[actix_rt::test]
async fn sdk_reports_a_time_limit() {
    let rce = start_rce();
    let seen = sdk(&rce, "time_limit").await;
    assert_eq!(seen["result"]["status"], 5, "{seen}");
    assert_eq!(
        seen["result"]["status_name"], "Time Limit Exceeded",
        "{seen}"
    );
}

/// An expected output is judged: matching is Accepted (3), not matching is
/// Wrong Answer (4), and the program's stdout is shown either way.
#[actix_rt::test]
async fn sdk_judges_expected_output() {
    let rce = start_rce();
    let seen = sdk(&rce, "judged").await;
    assert_eq!(seen["accepted"]["status"], 3, "{seen}");
    assert_eq!(seen["wrong"]["status"], 4, "{seen}");
    assert_eq!(seen["wrong"]["stdout"], "42\n", "{seen}");
}

/// Several test cases go through `POST /submissions/batch` and
/// `GET /submissions/batch`, results in order.
#[actix_rt::test]
async fn sdk_runs_a_batch_of_test_cases() {
    let rce = start_rce();
    let seen = sdk(&rce, "batch").await;
    let results = seen["results"].as_array().expect("results");
    let statuses: Vec<&Value> = results.iter().map(|r| &r["status"]).collect();
    assert_eq!(statuses, [&json!(3), &json!(3), &json!(4)], "{seen}");
    let outputs: Vec<&Value> = results.iter().map(|r| &r["stdout"]).collect();
    assert_eq!(
        outputs,
        [&json!("4\n"), &json!("9\n"), &json!("16\n")],
        "{seen}"
    );
    let tokens: std::collections::HashSet<&str> =
        results.iter().filter_map(|r| r["token"].as_str()).collect();
    assert_eq!(tokens.len(), 3, "{seen}");
}

/// PyPI `judge0api` 0.1.20, unmodified: it checks its key with
/// `POST /authenticate?X-Auth-Token=…` (a query parameter), submits to
/// `/submissions/` and reads back from `/submissions/TOKEN/` (trailing
/// slashes), and a wrong key fails its constructor with a 401.
#[actix_rt::test]
async fn judge0api_runs_through_trailing_slashes_and_query_tokens() {
    let rce = start_rce();
    let key = support::api_key(&rce).await;
    let mut command = Command::new(support::python());
    command
        .arg(support::script("judge0api_client.py"))
        .arg(rce.url("/judge0"))
        .arg(&key);
    let seen = support::run_client(&rce, command, CLIENT_TIMEOUT);
    assert_eq!(seen["status"]["id"], 3, "{seen}");
    assert_eq!(seen["stdout"], "desserts\n", "{seen}");
    assert_eq!(seen["again_status"]["id"], 3, "{seen}");
    assert_eq!(seen["again_stdout"], "desserts\n", "{seen}");
    assert_eq!(seen["again_language_id"], 71, "{seen}");
    assert_eq!(seen["refused"], 401, "{seen}");
}

/// The routing edges Judge0 clients rely on, over raw HTTP: trailing
/// slashes are the same routes; an unknown path under the prefix is a JSON
/// 404, never the editor's page; `/authenticate` and `/authorize` answer
/// 200 or 401; the key may come as a query parameter.
#[actix_rt::test]
async fn trailing_slashes_unknown_paths_and_token_checks() {
    let rce = start_rce();
    let key = support::api_key(&rce).await;
    let (status, created) = judge0(
        &rce,
        "POST",
        "/submissions/?base64_encoded=true&wait=true",
        Some(&key),
        Some(&json!({"source_code": "cHJpbnQoNDIp", "language_id": 71})),
    )
    .await;
    assert_eq!(status, 201, "{created}\n{}", rce.log());
    assert_eq!(created["stdout"], "NDIK\n", "{created}");
    let token = created["token"].as_str().expect("token");
    let (status, fetched) = judge0(
        &rce,
        "GET",
        &format!("/submissions/{token}/?X-Auth-Token={key}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{fetched}");
    assert_eq!(fetched["stdout"], "42\n", "{fetched}");
    let (status, languages) = judge0(&rce, "GET", "/languages/", None, None).await;
    assert_eq!(status, 200, "{languages}");
    assert!(
        languages.as_array().is_some_and(|l| !l.is_empty()),
        "{languages}"
    );

    for path in ["/nope", "/submissions/x/y", "/languages/71/extra"] {
        let (status, body) = judge0(&rce, "GET", path, Some(&key), None).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body["error"].is_string(), "{path}: {body}");
    }
    for url in ["/api/v2/nope", "/api/v1/nope", "/api/v1/submissions/x/y"] {
        let reply = request("GET", &rce.url(url), None, None).await;
        assert_eq!(reply.status, 404, "{url}");
        assert!(reply.body.is_object(), "{url}: not JSON");
    }

    for (path, status) in [
        (format!("/authenticate?X-Auth-Token={key}"), 200),
        (format!("/authorize?X-Auth-User={key}"), 200),
        ("/authenticate?X-Auth-Token=rce_wrong".to_string(), 401),
        ("/authorize?X-Auth-User=rce_wrong".to_string(), 401),
        ("/authenticate".to_string(), 401),
    ] {
        let (seen, body) = judge0(&rce, "POST", &path, None, None).await;
        assert_eq!(seen, status, "{path}: {body}");
    }
    let (status, body) = judge0(&rce, "POST", "/authenticate", Some(&key), None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = judge0(&rce, "GET", "/authenticate", Some(&key), None).await;
    assert_eq!(status, 404, "only POST: {body}");
}

/// Sends a request with `X-Auth-Token`.
async fn judge0(
    rce: &Rce,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = client().request(method, rce.url(&format!("/judge0{path}")));
    if let Some(key) = key {
        request = request.insert_header(("X-Auth-Token", key));
    }
    let mut response = match body {
        Some(body) => request.send_json(body).await,
        None => request.send().await,
    }
    .expect("request");
    let bytes = response.body().limit(1 << 24).await.expect("body");
    let text = String::from_utf8_lossy(&bytes).to_string();
    (
        response.status().as_u16(),
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The wire formats, exactly: `wait=true` answers 201 with the result;
/// `fields=*` has every attribute with Judge0's types (decimals as strings,
/// memory in KB, `YYYY-MM-DDTHH:MM:SS.mmmZ`); Base64 lines are 60
/// characters plus `\n`; unknown languages and bad limits are 422 with
/// per-field lists; no key is 401; another user's token is 404.
#[actix_rt::test]
async fn wire_formats_match_judge0() {
    let rce = start_rce();
    let key = support::api_key(&rce).await;
    let source = "print('x' * 100)\nimport sys\nsys.stderr.write('warn\\n')\n";
    let (status, created) = judge0(
        &rce,
        "POST",
        "/submissions?wait=true&fields=*",
        Some(&key),
        Some(
            &json!({"source_code": source, "language_id": 71, "stdin": "in", "cpu_time_limit": 2}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{created}\n{}", rce.log());
    assert_eq!(
        created["status"],
        json!({"id": 3, "description": "Accepted"}),
        "{created}"
    );
    assert_eq!(
        created["stdout"],
        format!("{}\n", "x".repeat(100)),
        "{created}"
    );
    assert_eq!(created["stderr"], "warn\n", "{created}");
    assert_eq!(created["cpu_time_limit"], "2.0", "{created}");
    assert!(
        created["time"]
            .as_str()
            .is_some_and(|t| t.parse::<f64>().is_ok() && t.contains('.')),
        "{created}"
    );
    assert!(created["wall_time"].is_string(), "{created}");
    assert!(created["memory"].is_u64(), "{created}");
    assert_eq!(created["exit_code"], 0, "{created}");
    assert_eq!(created["language"]["id"], 71, "{created}");
    assert_eq!(created["compile_output"], Value::Null, "{created}");
    for at in ["created_at", "finished_at"] {
        let text = created[at].as_str().unwrap_or_default();
        assert_eq!(text.len(), 24, "{at}: {text}");
        assert!(
            text.ends_with('Z') && text.as_bytes()[19] == b'.',
            "{at}: {text}"
        );
    }
    let token = created["token"].as_str().expect("token").to_string();

    let (status, encoded) = judge0(
        &rce,
        "GET",
        &format!("/submissions/{token}?base64_encoded=true"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(status, 200, "{encoded}");
    let keys: std::collections::BTreeSet<&str> = encoded
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let default_fields = [
        "compile_output",
        "memory",
        "message",
        "status",
        "stderr",
        "stdout",
        "time",
        "token",
    ];
    assert_eq!(keys, default_fields.into_iter().collect(), "{encoded}");
    let stdout = encoded["stdout"].as_str().expect("stdout");
    let lines: Vec<&str> = stdout.split_terminator('\n').collect();
    assert_eq!(lines.len(), 3, "{stdout:?}");
    assert!(
        lines[..2].iter().all(|l| l.len() == 60) && stdout.ends_with('\n'),
        "{stdout:?}"
    );
    assert_eq!(encoded["stderr"], "d2Fybgo=\n", "{encoded}");

    let (status, errors) = judge0(
        &rce,
        "POST",
        "/submissions",
        Some(&key),
        Some(&json!({"source_code": "x", "language_id": 70})),
    )
    .await;
    assert_eq!(status, 422, "{errors}");
    assert_eq!(
        errors,
        json!({"language_id": ["language with id 70 doesn't exist"]})
    );
    let (status, errors) = judge0(
        &rce,
        "POST",
        "/submissions",
        Some(&key),
        Some(&json!({"language_id": 71, "memory_limit": 99999999, "wall_time_limit": -1})),
    )
    .await;
    assert_eq!(status, 422, "{errors}");
    assert_eq!(errors["source_code"], json!(["can't be blank"]), "{errors}");
    assert!(
        errors["memory_limit"][0]
            .as_str()
            .unwrap()
            .starts_with("must be less than or equal to"),
        "{errors}"
    );
    assert_eq!(
        errors["wall_time_limit"],
        json!(["must be greater than or equal to 0"]),
        "{errors}"
    );

    let (status, _) = judge0(&rce, "GET", &format!("/submissions/{token}"), None, None).await;
    assert_eq!(status, 401);
    let stranger = support::api_key(&rce).await;
    let (status, _) = judge0(
        &rce,
        "GET",
        &format!("/submissions/{token}"),
        Some(&stranger),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, batch) = judge0(
        &rce,
        "GET",
        &format!("/submissions/batch?tokens={token},nope&fields=status_id"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(status, 200, "{batch}");
    assert_eq!(batch, json!({"submissions": [{"status_id": 3}, null]}));

    let (_, statuses) = judge0(&rce, "GET", "/statuses", None, None).await;
    assert_eq!(statuses.as_array().map(Vec::len), Some(14), "{statuses}");
    assert_eq!(
        statuses[11],
        json!({"id": 12, "description": "Runtime Error (Other)"})
    );
    let (_, config) = judge0(&rce, "GET", "/config_info", None, None).await;
    // The keys of Judge0 1.13.1's /config_info (the SDK's `Config` model).
    let judge0_keys = [
        "allow_enable_network",
        "allow_enable_per_process_and_thread_memory_limit",
        "allow_enable_per_process_and_thread_time_limit",
        "allowed_languages_for_compile_options",
        "callbacks_max_tries",
        "callbacks_timeout",
        "cpu_extra_time",
        "cpu_time_limit",
        "enable_additional_files",
        "enable_batched_submissions",
        "enable_callbacks",
        "enable_command_line_arguments",
        "enable_compiler_options",
        "enable_network",
        "enable_per_process_and_thread_memory_limit",
        "enable_per_process_and_thread_time_limit",
        "enable_submission_delete",
        "enable_wait_result",
        "maintenance_mode",
        "max_cpu_extra_time",
        "max_cpu_time_limit",
        "max_extract_size",
        "max_file_size",
        "max_max_file_size",
        "max_max_processes_and_or_threads",
        "max_memory_limit",
        "max_number_of_runs",
        "max_processes_and_or_threads",
        "max_queue_size",
        "max_stack_limit",
        "max_submission_batch_size",
        "max_wall_time_limit",
        "memory_limit",
        "number_of_runs",
        "redirect_stderr_to_stdout",
        "stack_limit",
        "submission_cache_duration",
        "use_docs_as_homepage",
        "wall_time_limit",
    ];
    let keys: std::collections::BTreeSet<&str> = config
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, judge0_keys.into_iter().collect(), "{config}");
    assert!(
        config["cpu_time_limit"].is_f64() && config["memory_limit"].is_u64(),
        "{config}"
    );
    let (_, languages) = judge0(&rce, "GET", "/languages", None, None).await;
    assert!(
        languages.as_array().unwrap().iter().any(|l| l["id"] == 71),
        "{languages}"
    );
    let (status, _) = judge0(&rce, "GET", "/languages/70", None, None).await;
    assert_eq!(status, 404);
}

/// A request as the receiver saw it.
struct Received {
    head: String,
    body: String,
}

/// Accepts one HTTP request on `listener`, answers 200, and returns it.
fn receive_one(listener: &TcpListener) -> Received {
    let (stream, _) = listener.accept().expect("accept");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header line");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    let mut stream = reader.into_inner();
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .expect("answer");
    Received {
        head,
        body: String::from_utf8(body).expect("UTF-8 body"),
    }
}

/// A submission with `callback_url` is PUT to the receiver once finished,
/// as Judge0's default fields (Base64 like the request), with a valid
/// HMAC-SHA256 signature; a host that is not allowed, and an allowed host
/// on a port outside `compat.judge0.callback_ports`, are refused with 422.
#[actix_rt::test]
async fn callbacks_are_signed_and_delivered() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let secret = "callback test secret";
    let rce = start_rce_with(RceOptions {
        env: vec![
            (
                "RCE_COMPAT__JUDGE0__CALLBACK_ALLOWED_HOSTS".into(),
                "127.0.0.1".into(),
            ),
            (
                "RCE_COMPAT__JUDGE0__CALLBACK_ALLOWED_ADDRESSES".into(),
                "127.0.0.1".into(),
            ),
            ("RCE_COMPAT__JUDGE0__CALLBACK_SECRET".into(), secret.into()),
            // The receiver's random port; only listed ports are allowed.
            (
                "RCE_COMPAT__JUDGE0__CALLBACK_PORTS".into(),
                port.to_string(),
            ),
        ],
        ..Default::default()
    });
    let key = support::api_key(&rce).await;
    let url = format!("http://127.0.0.1:{port}/judge0-callback");
    let (status, created) = judge0(
        &rce,
        "POST",
        "/submissions?base64_encoded=true",
        Some(&key),
        Some(&json!({"source_code": "cHJpbnQoImNiIik=", "language_id": 71, "callback_url": url})),
    )
    .await;
    assert_eq!(status, 201, "{created}\n{}", rce.log());
    let received = std::thread::spawn(move || receive_one(&listener))
        .join()
        .expect("receiver");
    assert!(
        received.head.starts_with("PUT /judge0-callback HTTP/1.1"),
        "{}",
        received.head
    );
    let body: Value = serde_json::from_str(&received.body).expect("JSON body");
    assert_eq!(body["token"], created["token"], "{body}");
    assert_eq!(body["status"]["id"], 3, "{body}");
    assert_eq!(body["stdout"], "Y2IK\n", "{body}");
    let signature = received
        .head
        .lines()
        .find_map(|l| {
            l.strip_prefix("x-rce-signature: ")
                .or_else(|| l.strip_prefix("X-Rce-Signature: "))
        })
        .expect("signature header")
        .trim()
        .to_string();
    let (t, v1) = signature.split_once(",v1=").expect("t=…,v1=…");
    let t = t.strip_prefix("t=").expect("t=");
    let expected = rce::compat::judge0::signature(secret, t.parse().unwrap(), &received.body);
    assert_eq!(signature, expected);
    assert_eq!(v1.len(), 64);

    let (status, errors) = judge0(
        &rce,
        "POST",
        "/submissions",
        Some(&key),
        Some(&json!({"source_code": "print(1)", "language_id": 71, "callback_url": "http://169.254.169.254/latest"})),
    )
    .await;
    assert_eq!(status, 422, "{errors}");
    assert!(
        errors["callback_url"][0]
            .as_str()
            .unwrap()
            .contains("not allowed"),
        "{errors}"
    );

    let other_port = if port == 65535 { port - 1 } else { port + 1 };
    let (status, errors) = judge0(
        &rce,
        "POST",
        "/submissions",
        Some(&key),
        Some(&json!({"source_code": "print(1)", "language_id": 71,
            "callback_url": format!("http://127.0.0.1:{other_port}/cb")})),
    )
    .await;
    assert_eq!(status, 422, "{errors}");
    assert!(
        errors["callback_url"][0]
            .as_str()
            .unwrap()
            .contains(&format!("port {other_port} is not allowed")),
        "{errors}"
    );
}
