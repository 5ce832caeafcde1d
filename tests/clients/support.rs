//! Shared by the compatibility tests (`tests/compat_*.rs`): installs the real
//! third-party clients from their registries into `.rce/venv` (PyPI: `judge0`
//! 0.0.8, `judge0api` 0.1.20, `pistonapi` 1.0.1, `aiopyston` 1.2.1) and
//! `.rce/node` (npm: `piston-client` 1.0.2) on
//! first use (a second run finds them and installs nothing), runs the
//! scripts beside this file, and makes API keys. A missing `python3` or `npm`,
//! or a registry that cannot be reached, fails the test with the reason:
//! these tests exist to prove the real clients work.
#![allow(dead_code)]

use crate::common::{post_json_as, register_and_login, Rce};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Python packages, pinned to the versions the tests were written against.
/// (`aiopyston` asks for any `aiohttp`; the one it was tried with is pinned.)
const PYTHON_PACKAGES: &[&str] = &[
    "judge0==0.0.8",
    "judge0api==0.1.20",
    "pistonapi==1.0.1",
    "aiopyston==1.2.1",
    "aiohttp==3.14.5",
];
/// npm packages.
const NODE_PACKAGES: &[&str] = &["piston-client@1.0.2"];

/// Serialises installs among the tests of one binary (cargo runs test
/// binaries one after another).
static INSTALL: Mutex<()> = Mutex::new(());

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the client scripts are.
pub fn script(name: &str) -> PathBuf {
    repo().join("tests/clients").join(name)
}

fn run_checked(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The venv's python, with the Python clients installed.
pub fn python() -> PathBuf {
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let venv = repo().join(".rce/venv");
    let python = venv.join("bin/python");
    let ready = python.exists()
        && Command::new(&python)
            .args([
                "-c",
                "import judge0, judge0api, pistonapi, pyston, importlib.metadata as m; \
                 assert judge0.__version__ == '0.0.8'; \
                 assert m.version('judge0api') == '0.1.20' and m.version('aiopyston') == '1.2.1'",
            ])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !ready {
        eprintln!("installing {PYTHON_PACKAGES:?} into {}", venv.display());
        run_checked(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv",
        );
        run_checked(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .args(PYTHON_PACKAGES),
            "pip install",
        );
    }
    python
}

/// The directory whose `node_modules` holds the Node clients.
pub fn node_prefix() -> PathBuf {
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let prefix = repo().join(".rce/node");
    let marker = prefix.join("node_modules/piston-client/package.json");
    let ready =
        std::fs::read_to_string(&marker).is_ok_and(|text| text.contains("\"version\": \"1.0.2\""));
    if !ready {
        eprintln!("installing {NODE_PACKAGES:?} into {}", prefix.display());
        std::fs::create_dir_all(&prefix).expect("creating .rce/node");
        run_checked(
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
                .arg(&prefix)
                .args(NODE_PACKAGES),
            "npm install",
        );
    }
    prefix
}

/// Runs a client script and parses the JSON it prints last; panics with
/// its output (and the server log) if it fails or takes longer than `within`.
pub fn run_client(rce: &Rce, mut command: Command, within: Duration) -> Value {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
    let started = Instant::now();
    loop {
        if child.try_wait().expect("waiting for the client").is_some() {
            break;
        }
        if started.elapsed() > within {
            let _ = child.kill();
            let output = child.wait_with_output().expect("client output");
            panic!(
                "client {command:?} did not finish within {within:?}\n{}\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                rce.log()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("client output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "client {command:?} failed ({}):\n{stdout}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        rce.log()
    );
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("client printed no JSON ({e}):\n{stdout}"))
}

/// A new user's API key (`rce_…`).
pub async fn api_key(rce: &Rce) -> String {
    let token = register_and_login(rce).await;
    let (status, reply) =
        post_json_as(&token, &rce.url("/api/v1/keys"), &json!({"name": "compat"})).await;
    assert_eq!(status, 201, "creating a key answered {reply}");
    reply["key"].as_str().expect("key").to_string()
}
