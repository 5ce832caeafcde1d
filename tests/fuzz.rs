//! API fuzzing: schemathesis (from PyPI, installed on first use into
//! `.rce/venv`) generates valid and invalid requests for every operation of
//! the served OpenAPI document (`/api/v1/openapi.json`) and checks that no
//! answer is a 5xx, that every documented answer matches its schema and
//! content type. The server runs `--role api` (no containers: accepted jobs
//! stay queued) with a cheap Argon2 cost and a short `?wait=true`, so the
//! run stays within about two minutes.

mod common;

use common::*;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The schemathesis release line the test is written against.
const SCHEMATHESIS: &str = "schemathesis>=4.3,<5";
/// Test cases per operation and phase (bounds the run time).
const MAX_EXAMPLES: &str = "150";
/// The whole run is killed (and the test fails) after this long.
const RUN_LIMIT: Duration = Duration::from_secs(240);

/// The `st` executable, installing schemathesis into `.rce/venv` if needed.
fn schemathesis() -> PathBuf {
    let venv = repo().join(".rce/venv");
    let st = venv.join("bin/st");
    if st.exists() {
        return st;
    }
    eprintln!("installing {SCHEMATHESIS} into {}", venv.display());
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("running python3 -m venv");
    assert!(
        status.success(),
        "python3 -m venv {} failed",
        venv.display()
    );
    let status = Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            SCHEMATHESIS,
        ])
        .status()
        .expect("running pip");
    assert!(
        status.success(),
        "pip install {SCHEMATHESIS} failed (is PyPI reachable?)"
    );
    st
}

/// Fuzzing every operation of the OpenAPI document finds no 5xx, no
/// response that breaks its documented schema, and no undocumented content
/// type; the run ends within its time limit (no hang).
#[actix_rt::test]
async fn schemathesis_finds_no_server_errors_or_schema_violations() {
    let st = schemathesis();
    let rce = start_rce_with(RceOptions {
        role: "api",
        env: [
            ("RCE_HTTP__MAX_WAIT_MS", "200"),
            ("RCE_HTTP__MAX_BODY_BYTES", "65536"),
            ("RCE_AUTH__ARGON2_MEMORY_KIB", "1024"),
            ("RCE_AUTH__ARGON2_ITERATIONS", "1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        share_with: None,
    });
    // An API key, not a login token: the fuzzer calls every operation,
    // POST /api/v1/auth/logout-all included, which revokes login tokens
    // (keys stay), and every later request would then be a 401.
    let (status, key) = post_json_as(
        &rce.token().await,
        &rce.url("/api/v1/keys"),
        &serde_json::json!({"name": "schemathesis"}),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    let token = key["key"].as_str().expect("the key's secret").to_string();
    let work = rce.dir.join("schemathesis");
    std::fs::create_dir_all(&work).unwrap();
    let mut child = Command::new(&st)
        .arg("run")
        .arg(rce.url("/api/v1/openapi.json"))
        .args(["--url", &rce.base])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args([
            "--max-examples",
            MAX_EXAMPLES,
            "--seed",
            "20261121",
            "--workers",
            "2",
        ])
        .args([
            "--request-timeout",
            "20",
            "--generation-database",
            "none",
            "--no-color",
        ])
        .args(["--generation-with-security-parameters", "false"])
        .arg("--report-dir")
        .arg(work.join("report"))
        .current_dir(&work)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting schemathesis");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "schemathesis did not finish within {RUN_LIMIT:?} (a hanging request?)\n{}",
                rce.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let output = reader.join().unwrap_or_default();
    let mut errors = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut errors)
        .ok();
    eprintln!(
        "{output}\n{errors}\nschemathesis took {:?}",
        started.elapsed()
    );
    assert!(
        status.success(),
        "schemathesis reported failures:\n{output}\n{errors}"
    );
    assert!(
        !rce.log().contains("panicked"),
        "the server panicked:\n{}",
        rce.log()
    );
}
