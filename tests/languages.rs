//! Every language of the manifest end to end, through a real `rce serve` and
//! real containers, driven by the fixture next to its image:
//! `images/<lang>/hello.json` is a submission body (post it with
//! `curl -d @images/c/hello.json`) whose program prints `Hello, World!` and
//! then copies its stdin, and `hello.out` is the stdout it must produce. Per
//! language: the fixture as it is, other stdin echoed back, a broken program
//! (a `compile_error` where the language compiles, a `runtime_error` from the
//! interpreter's syntax error elsewhere), and test-case mode with one passing
//! and one failing case. Python and C also run under gVisor where installed.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

/// How long one language's jobs may take together (javac and rustc on a
/// loaded two-core machine take seconds each).
const LANGUAGE_TIMEOUT: Duration = Duration::from_secs(180);

/// Appended to a fixture's program to break it in every language.
const BROKEN_LINE: &str = "\n@@@ not a program @@@\n";

/// One language's fixture and what the manifest says about it.
struct Fixture {
    id: String,
    body: Value,
    expected: String,
    compiled: bool,
    file: String,
}

/// The manifest's languages: `(id, compiles)`.
fn manifest() -> Vec<(String, bool)> {
    let text = std::fs::read_to_string(repo().join("images/languages.toml")).expect("manifest");
    let manifest: toml::Value = toml::from_str(&text).expect("manifest is TOML");
    manifest["language"]
        .as_array()
        .expect("[[language]] entries")
        .iter()
        .map(|l| {
            (
                l["id"].as_str().expect("id").to_string(),
                l.get("compile").is_some(),
            )
        })
        .collect()
}

fn fixture(id: &str) -> Fixture {
    let dir = repo().join("images").join(id);
    let body: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("hello.json"))
            .unwrap_or_else(|e| panic!("images/{id}/hello.json: {e}")),
    )
    .unwrap_or_else(|e| panic!("images/{id}/hello.json is not JSON: {e}"));
    let expected = std::fs::read_to_string(dir.join("hello.out"))
        .unwrap_or_else(|e| panic!("images/{id}/hello.out: {e}"));
    let compiled = manifest()
        .into_iter()
        .find(|(lang, _)| lang == id)
        .unwrap_or_else(|| panic!("{id} is not in images/languages.toml"))
        .1;
    let file = body["files"][0]["name"]
        .as_str()
        .expect("a file")
        .to_string();
    Fixture {
        id: id.to_string(),
        body,
        expected,
        compiled,
        file,
    }
}

/// `body` with other fields set.
fn with(body: &Value, changes: Value) -> Value {
    let mut body = body.clone();
    let Value::Object(changes) = changes else {
        panic!("changes must be an object: {changes}")
    };
    for (key, value) in changes {
        body[key.as_str()] = value;
    }
    body
}

/// Stdin the echo test sends: several lines, non-ASCII, no final newline,
/// and enough bytes (≈ 64 KiB) to need more than one pipe read.
fn echo_input() -> String {
    let mut input = String::from("line one\nzwei – ünïcödé ✓\n");
    for i in 0..1500 {
        input.push_str(&format!("{i:04} the quick brown fox jumps over it\n"));
    }
    input.push_str("no newline at the end");
    input
}

/// Submits the four jobs of `fixture` at once and checks each result.
async fn check_language(rce: &Rce, fixture: &Fixture) {
    let id = &fixture.id;
    let hello = fixture.body.clone();
    let echo = with(&fixture.body, json!({"stdin": echo_input()}));
    let mut files = fixture.body["files"].clone();
    let broken_content = format!(
        "{}{BROKEN_LINE}",
        files[0]["content"].as_str().expect("content")
    );
    files[0]["content"] = json!(broken_content);
    let broken = with(&fixture.body, json!({ "files": files }));
    let tests = with(
        &fixture.body,
        json!({
            "stdin": null,
            "tests": [
                // Lenient comparison: no final newline expected, still a pass.
                {"stdin": "first\n", "expected_stdout": "Hello, World!\nfirst"},
                {"stdin": "second\n", "expected_stdout": "Hello, World!\nsomething else\n"},
            ],
        }),
    );

    let mut ids = Vec::new();
    for body in [hello, echo, broken, tests] {
        ids.push(submit(rce, body).await);
    }
    let mut results = Vec::new();
    for job in &ids {
        let submission = wait_completed(rce, job, LANGUAGE_TIMEOUT).await;
        results.push(submission["result"].clone());
    }
    let [hello, echo, broken, tests] = &results[..] else {
        unreachable!()
    };

    assert_eq!(hello["verdict"], "ok", "{id} hello: {hello}");
    assert_eq!(hello["stdout"], fixture.expected.as_str(), "{id} hello");
    assert_eq!(hello["stderr"], "", "{id} hello");
    assert_eq!(hello["exit_code"], 0, "{id} hello");
    assert!(hello["memory_kb"].as_u64() > Some(0), "{id} hello: {hello}");

    assert_eq!(echo["verdict"], "ok", "{id} echo: {echo}");
    assert_eq!(
        echo["stdout"].as_str(),
        Some(format!("Hello, World!\n{}", echo_input()).as_str()),
        "{id} echo"
    );

    if fixture.compiled {
        assert_eq!(broken["verdict"], "compile_error", "{id} broken: {broken}");
        let output = broken["compile_output"].as_str().unwrap_or_default();
        assert!(
            output.contains(&fixture.file),
            "{id}: the compiler's message names {}: {broken}",
            fixture.file
        );
        assert_eq!(broken["stdout"], "", "{id}: nothing ran");
    } else {
        assert_eq!(broken["verdict"], "runtime_error", "{id} broken: {broken}");
        assert_ne!(broken["exit_code"], 0, "{id} broken: {broken}");
        assert_ne!(broken["stderr"], "", "{id}: the interpreter said why");
    }

    assert_eq!(tests["verdict"], "wrong_answer", "{id} tests: {tests}");
    let cases = tests["tests"].as_array().expect("per-test results");
    assert_eq!(cases.len(), 2, "{id} tests: {tests}");
    assert_eq!(cases[0]["verdict"], "ok", "{id} tests: {tests}");
    assert_eq!(cases[1]["verdict"], "wrong_answer", "{id} tests: {tests}");
    assert_eq!(cases[1]["stdout"], "Hello, World!\nsecond\n", "{id} tests");
}

async fn language(id: &str) {
    let rce = start_rce();
    check_language(&rce, &fixture(id)).await;
    assert!(
        containers_left(&rce.prefix, Duration::from_secs(10))
            .await
            .is_empty(),
        "{id}: containers left behind"
    );
}

macro_rules! language_tests {
    ($($(#[$doc:meta])* $id:ident;)*) => {
        $(
            $(#[$doc])*
            #[actix_rt::test]
            async fn $id() {
                language(stringify!($id)).await;
            }
        )*
    };
}

language_tests! {
    /// Python: hello, stdin echo, a SyntaxError as runtime_error, test mode.
    python;
    /// JavaScript (Node.js): hello, stdin echo, a SyntaxError as
    /// runtime_error, test mode.
    javascript;
    /// C: hello, stdin echo, a compile error naming main.c, test mode.
    c;
    /// C++: hello, stdin echo, a compile error naming main.cpp, test mode.
    cpp;
    /// Java: hello, stdin echo, a javac error naming Main.java, test mode.
    java;
    /// Go: hello, stdin echo, a compile error naming main.go, test mode.
    go;
    /// Rust: hello, stdin echo, a rustc error naming main.rs, test mode.
    rust;
    /// Ruby: hello, stdin echo, a syntax error as runtime_error, test mode.
    ruby;
    /// Bash: hello, stdin echo, an unknown command as runtime_error, test mode.
    bash;
}

/// Every language of the manifest has a fixture (and a test above), and
/// each fixture asks for its own language.
#[test]
fn every_manifest_language_has_a_fixture() {
    let tested = [
        "python",
        "javascript",
        "c",
        "cpp",
        "java",
        "go",
        "rust",
        "ruby",
        "bash",
    ];
    for (id, _) in manifest() {
        assert!(tested.contains(&id.as_str()), "{id} has no test here");
        assert_eq!(fixture(&id).body["language"], id.as_str());
    }
}

/// Under gVisor (runsc) Python and C run end to end too: hello and stdin
/// echo from the fixture, and a C compile error. Skipped visibly where runsc
/// is not installed or not registered with the engine.
#[actix_rt::test]
async fn python_and_c_under_gvisor() {
    if let Some(why) = runsc_unavailable().await {
        eprintln!("SKIPPED python_and_c_under_gvisor: {why}");
        return;
    }
    let rce = start_rce_with(RceOptions {
        env: vec![("RCE_SANDBOX__RUNTIME".into(), "runsc".into())],
        ..Default::default()
    });
    for id in ["python", "c"] {
        check_language(&rce, &fixture(id)).await;
    }
    assert!(containers_left(&rce.prefix, Duration::from_secs(10))
        .await
        .is_empty());
}
