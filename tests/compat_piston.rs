//! The Piston v2 compatibility API, proven with real clients installed by
//! the test from their registries (npm `piston-client` 1.0.2 into
//! `.rce/node`, PyPI `pistonapi` 1.0.1 into `.rce/venv`): runtimes, and
//! execute with stdin and args, against a real rce. Both clients have no
//! header option, so they carry the API key as Basic auth in the base URL.
//! Then the wire details over raw HTTP: the bodies the clients send (JSON
//! as text/plain, forms), Piston's error messages, anonymous access (off by
//! default) and the stage fields.

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
    assert_eq!(seen["unknown"], "cobol-* runtime is unknown", "{seen}");
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
