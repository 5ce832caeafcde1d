//! Every language of the manifest end to end, through a real `rce serve` and
//! real containers, driven by the fixture next to its image:
//! `images/<lang>/hello.json` is a submission body (post it with
//! `curl -d @images/c/hello.json`) whose program prints `Hello, World!` and
//! then copies its stdin, and `hello.out` is the stdout it must produce. Per
//! language: the fixture as it is, other stdin echoed back, a broken program
//! (a `compile_error` where the language compiles, a `runtime_error` from the
//! interpreter's syntax error elsewhere; `broken.json` next to the fixture
//! replaces the trailing garbage line where that does not break the program),
//! test-case mode with one passing and one failing case, and the echo again
//! once its compile was kept (reused, same result). Python and C
//! also run under gVisor where installed.

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
    /// `broken.json` next to `hello.json`, for languages where appending
    /// [`BROKEN_LINE`] does not break the program.
    broken: Option<Value>,
}

/// The manifest's `[[language]]` entries, as TOML.
fn manifest_entries() -> Vec<toml::Value> {
    let text = std::fs::read_to_string(repo().join("images/languages.toml")).expect("manifest");
    let mut manifest: toml::Value = toml::from_str(&text).expect("manifest is TOML");
    manifest["language"]
        .as_array_mut()
        .map(std::mem::take)
        .expect("[[language]] entries")
}

/// One `[[language]]` entry of the manifest, as TOML.
fn manifest_entry(id: &str) -> toml::Value {
    manifest_entries()
        .into_iter()
        .find(|l| l["id"].as_str() == Some(id))
        .unwrap_or_else(|| panic!("{id} is not in images/languages.toml"))
}

/// The manifest's languages: `(id, compiles)`.
fn manifest() -> Vec<(String, bool)> {
    manifest_entries()
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
    let broken = std::fs::read_to_string(dir.join("broken.json"))
        .ok()
        .map(|text| {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("images/{id}/broken.json is not JSON: {e}"))
        });
    Fixture {
        id: id.to_string(),
        body,
        expected,
        compiled,
        file,
        broken,
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
    let echo_body = echo.clone();
    let broken = fixture.broken.clone().unwrap_or_else(|| {
        let mut files = fixture.body["files"].clone();
        let broken_content = format!(
            "{}{BROKEN_LINE}",
            files[0]["content"].as_str().expect("content")
        );
        files[0]["content"] = json!(broken_content);
        with(&fixture.body, json!({ "files": files }))
    });
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

    // The echo again, now that its compile was kept: a compiled language's
    // compile is reused (its artifacts restored in a fresh container) and
    // nothing the user sees changes.
    let again = submit(rce, echo_body).await;
    let again = wait_completed(rce, &again, LANGUAGE_TIMEOUT).await["result"].clone();
    assert_eq!(again["verdict"], "ok", "{id} echo again: {again}");
    assert_eq!(again["stdout"], echo["stdout"], "{id} echo again");
    assert_eq!(
        again["compile_output"], echo["compile_output"],
        "{id} echo again"
    );
    if fixture.compiled {
        assert!(
            compile_cache_lookups(rce, id, "hit").await > 0,
            "{id}: the compile was not reused"
        );
    }
}

/// The version served is the one read from the image (a full dotted
/// number), and the manifest's `version` is a prefix of it.
async fn check_served_version(rce: &Rce, id: &str) {
    let (status, languages) = get_json(&rce.url("/api/v1/languages")).await;
    assert_eq!(status, 200, "{languages}");
    let served = languages
        .as_array()
        .expect("a list")
        .iter()
        .find(|l| l["id"] == id)
        .unwrap_or_else(|| panic!("{id} is not served (is its image built?): {languages}"));
    let version = served["version"].as_str().expect("a version");
    let expected = manifest_entry(id)["version"]
        .as_str()
        .expect("version")
        .to_string();
    assert!(
        version == expected || version.starts_with(&format!("{expected}.")),
        "{id}: the image says {version}, the manifest {expected}"
    );
    assert!(
        version.split('.').all(|part| part.parse::<u64>().is_ok()),
        "{id}: {version} is not read from the image"
    );
}

async fn language(id: &str) {
    let rce = start_rce();
    check_served_version(&rce, id).await;
    check_language(&rce, &fixture(id)).await;
    assert!(
        containers_left(&rce.prefix, Duration::from_secs(10))
            .await
            .is_empty(),
        "{id}: containers left behind"
    );
}

macro_rules! language_tests {
    ($($(#[$doc:meta])* $name:ident $(= $id:literal)?;)*) => {
        $(
            $(#[$doc])*
            #[actix_rt::test]
            async fn $name() {
                language(language_tests!(@id $name $($id)?)).await;
            }
        )*
        /// The language ids tested above.
        const TESTED: &[&str] = &[$(language_tests!(@id $name $($id)?)),*];
    };
    (@id $name:ident $id:literal) => { $id };
    (@id $name:ident) => { stringify!($name) };
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
    /// Kotlin: the fixture, stdin echo, a broken program, test mode.
    kotlin;
    /// Scala: the fixture, stdin echo, a broken program, test mode.
    scala;
    /// Groovy: the fixture, stdin echo, a broken program, test mode.
    groovy;
    /// Clojure: the fixture, stdin echo, a broken program, test mode.
    clojure;
    /// C# (Mono): the fixture, stdin echo, a broken program, test mode.
    csharp;
    /// Haskell: the fixture, stdin echo, a broken program, test mode.
    haskell;
    /// OCaml: the fixture, stdin echo, a broken program, test mode.
    ocaml;
    /// Erlang: the fixture, stdin echo, a broken program, test mode.
    erlang;
    /// Elixir: the fixture, stdin echo, a broken program, test mode.
    elixir;
    /// Racket: the fixture, stdin echo, a broken program, test mode.
    racket;
    /// Scheme (Guile): the fixture, stdin echo, a broken program, test mode.
    scheme;
    /// Common Lisp (SBCL): the fixture, stdin echo, a broken program, test mode.
    commonlisp;
    /// Prolog (SWI): the fixture, stdin echo, a broken program, test mode.
    prolog;
    /// C (Clang): the fixture, stdin echo, a broken program, test mode.
    c_clang = "c-clang";
    /// C++ (Clang): the fixture, stdin echo, a broken program, test mode.
    cpp_clang = "cpp-clang";
    /// Fortran: the fixture, stdin echo, a broken program, test mode.
    fortran;
    /// Pascal: the fixture, stdin echo, a broken program, test mode.
    pascal;
    /// D: the fixture, stdin echo, a broken program, test mode.
    d;
    /// Nim: the fixture, stdin echo, a broken program, test mode.
    nim;
    /// Ada: the fixture, stdin echo, a broken program, test mode.
    ada;
    /// COBOL: the fixture, stdin echo, a broken program, test mode.
    cobol;
    /// NASM: the fixture, stdin echo, a broken program, test mode.
    nasm;
    /// TypeScript: the fixture, stdin echo, a broken program, test mode.
    typescript;
    /// PHP: the fixture, stdin echo, a broken program, test mode.
    php;
    /// Perl: the fixture, stdin echo, a broken program, test mode.
    perl;
    /// Lua: the fixture, stdin echo, a broken program, test mode.
    lua;
    /// R: the fixture, stdin echo, a broken program, test mode.
    r;
    /// Octave: the fixture, stdin echo, a broken program, test mode.
    octave;
    /// SQLite: the fixture, stdin echo, a broken program, test mode.
    sqlite;
    /// Tcl: the fixture, stdin echo, a broken program, test mode.
    tcl;
    /// AWK: the fixture, stdin echo, a broken program, test mode.
    awk;
    /// Python with NumPy and pandas: the fixture, stdin echo, a broken program, test mode.
    python_scientific = "python-scientific";
}

/// Every language of the manifest has a fixture (and a test above), and
/// each fixture asks for its own language.
#[test]
fn every_manifest_language_has_a_fixture() {
    for (id, _) in manifest() {
        assert!(TESTED.contains(&id.as_str()), "{id} has no test here");
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

/// `sandbox.languages` narrows what is served (ids or aliases), in every
/// listing and at submission: another language is refused as unknown.
#[actix_rt::test]
async fn only_the_configured_languages_are_served() {
    let rce = start_rce_with(RceOptions {
        env: env(&[("RCE_SANDBOX__LANGUAGES", "python,gcc")]),
        ..Default::default()
    });
    let (status, languages) = get_json(&rce.url("/api/v1/languages")).await;
    assert_eq!(status, 200, "{languages}");
    let ids: Vec<&str> = languages
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|l| l["id"].as_str())
        .collect();
    assert_eq!(ids, ["python", "c"], "{languages}");
    let (status, runtimes) = get_json(&rce.url("/api/v2/runtimes")).await;
    assert_eq!(status, 200, "{runtimes}");
    assert_eq!(runtimes.as_array().map(Vec::len), Some(2), "{runtimes}");

    let token = rce.token().await;
    let (status, body) = post_json_as(
        &token,
        &rce.url("/api/v1/submissions"),
        &json!({"language": "ruby", "source": "puts 1"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "language", "{body}");
    let id = submit(
        &rce,
        json!({"language": "python", "source": "print(6 * 7)"}),
    )
    .await;
    let done = wait_completed(&rce, &id, LANGUAGE_TIMEOUT).await;
    assert_eq!(done["result"]["stdout"], "42\n", "{done}");
}

/// The JVM's heap follows the job's memory limit (`-Xmx{memory_mb}m`), not
/// the container's compile-sized memory: 300 MB of live arrays fit in a
/// 512 MB job (with the JVM's default heap, a quarter of the container, they
/// did not: OutOfMemoryError, a runtime_error), and 700 MB end as
/// memory_limit_exceeded.
#[actix_rt::test]
async fn java_heap_follows_the_job_memory_limit() {
    let rce = start_rce();
    let hold = |megabytes: u32| {
        json!({
            "language": "java",
            "files": [{"name": "Main.java", "content": format!(
                "import java.util.*;\n\
                 public class Main {{\n\
                 public static void main(String[] args) {{\n\
                 List<byte[]> held = new ArrayList<>();\n\
                 for (int i = 0; i < {megabytes}; i++) {{\n\
                 byte[] chunk = new byte[1 << 20]; Arrays.fill(chunk, (byte) 1); held.add(chunk);\n\
                 }}\n\
                 System.out.println(\"held \" + held.size());\n\
                 }}\n}}\n"
            )}],
            "limits": {"memory_mb": 512, "time_ms": 10000, "wall_ms": 20000},
        })
    };
    let fits = submit(&rce, hold(300)).await;
    let too_much = submit(&rce, hold(700)).await;
    let fits = wait_completed(&rce, &fits, LANGUAGE_TIMEOUT).await;
    assert_eq!(fits["result"]["verdict"], "ok", "{fits}");
    assert_eq!(fits["result"]["stdout"], "held 300\n", "{fits}");
    let too_much = wait_completed(&rce, &too_much, LANGUAGE_TIMEOUT).await;
    assert_eq!(
        too_much["result"]["verdict"], "memory_limit_exceeded",
        "{too_much}"
    );
}

/// A typo in `sandbox.languages` stops the server at start-up with a
/// message naming it, rather than quietly serving less.
#[test]
fn an_unknown_configured_language_stops_the_server() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rce"))
        .arg("serve")
        .current_dir(repo())
        .envs(service_env())
        .env("RCE_SANDBOX__LANGUAGES", "python,cobolt")
        .output()
        .expect("rce runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cobolt"), "{stderr}");
}
