//! The browser editor end to end, inside `cargo test`: runs the
//! `node --test web/e2e/` suite (Debian's Chromium driven by playwright-core)
//! against this build's `rce` binary, with the real Redis and Docker engine.
//! The suite starts and restarts rce itself (the reconnect test needs a
//! server that comes back on the same port). It needs the web build and its
//! node_modules (`make web`) and Chromium (`make setup`): `make test` does
//! both and sets `WEB_E2E=require`, so there a missing piece fails;
//! a plain `cargo test` without them prints why and skips.

mod common;

use std::path::Path;
use std::process::Command;

/// What the suite needs that this machine lacks.
fn missing(repo: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    if Command::new("node")
        .arg("--version")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        missing.push("node (Node.js 20.19+)".to_string());
    }
    for (path, how) in [
        ("web/node_modules/playwright-core/package.json", "make web"),
        ("web/dist/index.html", "make web"),
    ] {
        if !repo.join(path).exists() {
            missing.push(format!("{path} ({how})"));
        }
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        missing.push(format!("{chromium} (apt-get install -y chromium)"));
    }
    missing
}

/// Every browser scenario passes in a real Chromium: register → run Python →
/// output and badges; interactive input; time limit; C compile error; test
/// cases; reload keeps the code; history; a phone (no sideways scroll, Run and
/// the connection pill inside the viewport, Run clicked); reconnect after
/// the server restarts. Screenshots land in artifacts/web-e2e/.
#[test]
fn browser_editor_end_to_end() {
    let repo = common::repo();
    let missing = missing(&repo);
    if !missing.is_empty() {
        let message = format!("web e2e: missing {}", missing.join(", "));
        if std::env::var("WEB_E2E").as_deref() == Ok("require") {
            panic!("{message}");
        }
        eprintln!("SKIPPED {message}; `make test` builds and installs them");
        return;
    }
    let output = Command::new("node")
        .args([
            "--test",
            "--test-concurrency=1",
            "--test-reporter=spec",
            "web/e2e/",
        ])
        .current_dir(&repo)
        .env("RCE_BIN", env!("CARGO_BIN_EXE_rce"))
        .envs(common::service_env())
        .output()
        .expect("running node --test web/e2e/");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "the browser tests failed ({}); see the output above",
        output.status
    );
}
