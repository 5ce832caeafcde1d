//! Bad submissions over HTTP against a real `rce serve`: each is refused
//! with a 4xx JSON error whose code names the field and whose message names
//! the problem (and the maximum, where there is one), and none of them ever
//! reaches a worker: no container is created.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

/// The server's defaults (README, `sandbox.max_limits`, `sandbox.max_source_bytes`).
const MAX_LIMITS: [(&str, u64); 5] = [
    ("time_ms", 30_000),
    ("wall_ms", 60_000),
    ("memory_mb", 2048),
    ("pids", 256),
    ("output_kb", 16_384),
];
const MAX_SOURCE_BYTES: usize = 1024 * 1024;
const MAX_FILES: usize = 64;

/// POSTs `body` and expects a 400 with `code`, a message containing every
/// one of `mentions`; returns the message.
async fn refused(rce: &Rce, body: Value, code: &str, mentions: &[&str]) -> String {
    let (status, reply) =
        post_json_as(&rce.token().await, &rce.url("/api/v1/submissions"), &body).await;
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["error"]["code"], code, "{reply}");
    let message = reply["error"]["message"]
        .as_str()
        .expect("a message")
        .to_string();
    for mention in mentions {
        assert!(message.contains(mention), "{mention:?} not in {message:?}");
    }
    message
}

/// One file named `name`.
fn named(name: &str) -> Value {
    json!({"language": "python", "files": [{"name": name, "content": "print(1)"}]})
}

/// No container was created for this server's jobs.
async fn nothing_ran(rce: &Rce) {
    assert!(containers_of(&rce.prefix).await.is_empty());
}

/// An unknown language is refused, naming it and listing the known ones.
#[actix_rt::test]
async fn unknown_language() {
    let rce = start_rce();
    let body = json!({"language": "brainfuck", "source": "++++++++[>++++++++<-]>+."});
    refused(&rce, body, "language", &["\"brainfuck\"", "python", "rust"]).await;
    nothing_ran(&rce).await;
}

/// File names that could leave the work dir or confuse it are refused, each
/// with its reason: absolute, `..`, `.`, empty components, a NUL byte, a
/// component over 255 bytes (naming 255), a path over 4096 bytes (naming
/// 4096), an empty name, and the same name twice.
#[actix_rt::test]
async fn bad_file_names() {
    let rce = start_rce();
    let long_component = "a".repeat(256);
    let long_path = vec!["d"; 2100].join("/");
    let cases: Vec<(&str, &[&str])> = vec![
        ("/etc/passwd", &["absolute"]),
        ("../escape.py", &["\"..\""]),
        ("src/../../escape.py", &["\"..\""]),
        ("./main.py", &["\".\""]),
        ("src//main.py", &["empty path component"]),
        ("main\0.py", &["NUL"]),
        (long_component.as_str(), &["255"]),
        (long_path.as_str(), &["4096"]),
        ("", &["empty"]),
    ];
    for (name, mentions) in cases {
        refused(&rce, named(name), "files.name", mentions).await;
    }
    let twice = json!({"language": "python", "files": [
        {"name": "main.py", "content": "print(1)"},
        {"name": "main.py", "content": "print(2)"},
    ]});
    refused(&rce, twice, "files.name", &["twice"]).await;
    nothing_ran(&rce).await;
}

/// More than 64 files is refused, naming the count and the maximum; 64
/// are accepted.
#[actix_rt::test]
async fn too_many_files() {
    let rce = start_rce();
    let files = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"name": format!("m{i}.py"), "content": "x = 1\n"}))
            .collect()
    };
    let body = json!({"language": "python", "files": files(MAX_FILES + 1)});
    refused(&rce, body, "files", &["65", "64"]).await;
    let (status, reply) = post_json_as(
        &rce.token().await,
        &rce.url("/api/v1/submissions"),
        &json!({"language": "python", "files": files(MAX_FILES)}),
    )
    .await;
    assert_eq!(status, 202, "{reply}");
}

/// Files larger than the source maximum together are refused naming the
/// maximum in bytes, as one source or as several files; a body over the
/// request limit is a 413 naming that limit.
#[actix_rt::test]
async fn too_large_files() {
    let rce = start_rce();
    let max = MAX_SOURCE_BYTES.to_string();
    let big = format!("# {}\n", "x".repeat(MAX_SOURCE_BYTES));
    refused(
        &rce,
        json!({"language": "python", "source": big}),
        "source",
        &[max.as_str()],
    )
    .await;
    let half = format!("# {}\n", "x".repeat(MAX_SOURCE_BYTES / 2));
    let body = json!({"language": "python", "files": [
        {"name": "a.py", "content": half},
        {"name": "main.py", "content": half},
    ]});
    refused(&rce, body, "files", &[max.as_str()]).await;

    let huge = format!("# {}\n", "x".repeat(9 * 1024 * 1024));
    let (status, reply) = post_json_as(
        &rce.token().await,
        &rce.url("/api/v1/submissions"),
        &json!({"language": "python", "source": huge}),
    )
    .await;
    assert_eq!(status, 413, "{reply}");
    assert_eq!(reply["error"]["code"], "body.too_large", "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("8388608"),
        "{reply}"
    );
    nothing_ran(&rce).await;
}

/// Each limit above its maximum is refused with the field's code, the value
/// and the maximum; zero is refused too.
#[actix_rt::test]
async fn limits_above_the_maxima() {
    let rce = start_rce();
    for (field, max) in MAX_LIMITS {
        let over = max + 1;
        let body = json!({"language": "python", "source": "print(1)", "limits": {field: over}});
        let code = format!("limits.{field}");
        let (over, max) = (over.to_string(), max.to_string());
        refused(&rce, body, &code, &[over.as_str(), max.as_str()]).await;
        let body = json!({"language": "python", "source": "print(1)", "limits": {field: 0}});
        refused(&rce, body, &code, &["at least 1"]).await;
    }
    let body = json!({"language": "python", "source": "print(1)", "limits": {"cpu": 1}});
    let (status, reply) =
        post_json_as(&rce.token().await, &rce.url("/api/v1/submissions"), &body).await;
    assert_eq!(status, 400, "an unknown limit: {reply}");
    nothing_ran(&rce).await;
}

/// Stdin, test cases and arguments are bounded too: each refusal names the
/// maximum.
#[actix_rt::test]
async fn stdin_tests_and_args_are_bounded() {
    let rce = start_rce();
    let body = json!({"language": "python", "source": "print(1)", "stdin": "x".repeat(4 * 1024 * 1024 + 1)});
    refused(&rce, body, "stdin", &["4194304"]).await;
    let case = json!({"stdin": "", "expected_stdout": "1"});
    let body = json!({"language": "python", "source": "print(1)", "tests": vec![case; 65]});
    refused(&rce, body, "tests", &["65", "64"]).await;
    let body = json!({"language": "python", "source": "print(1)", "args": vec!["a"; 65]});
    refused(&rce, body, "args", &["65", "64"]).await;
    let body = json!({"language": "python", "source": "print(1)", "args": ["a\u{0}b"]});
    refused(&rce, body, "args", &["NUL"]).await;
    // Wait a moment: a job that slipped through would have a container now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    nothing_ran(&rce).await;
}

/// Arguments are bounded in bytes together (`sandbox.max_args_bytes`, 64
/// KiB), and a job's worst-case wall time (wall limit × test cases, plus
/// compile) by `sandbox.max_total_wall_ms` (900000 ms) although each limit
/// alone is allowed; both refusals name the maximum.
#[actix_rt::test]
async fn args_bytes_and_total_wall_time_are_bounded() {
    let rce = start_rce();
    let long = "a".repeat(40 * 1024);
    let body = json!({"language": "python", "source": "print(1)", "args": [long, long]});
    refused(&rce, body, "args", &["81920", "65536"]).await;
    let case = json!({"stdin": "", "expected_stdout": "1"});
    let body = json!({
        "language": "python", "source": "print(1)",
        "limits": {"wall_ms": 60_000}, "tests": vec![case.clone(); 16],
    });
    refused(&rce, body, "limits.total_wall_ms", &["960000", "900000"]).await;
    let body = json!({
        "language": "c", "source": "int main(){return 0;}",
        "limits": {"wall_ms": 60_000}, "tests": vec![case; 15],
    });
    refused(
        &rce,
        body,
        "limits.total_wall_ms",
        &["compile 60000 ms", "900000"],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    nothing_ran(&rce).await;
}

/// Bodies are strict: an array where an object belongs (serde would read
/// it by position) and a wrong type are refused, the code naming the
/// field and the message its exact place; the body itself must be an
/// object.
#[actix_rt::test]
async fn wrong_shapes_and_types_name_the_field() {
    let rce = start_rce();
    let cases: Vec<(Value, &str, &[&str])> = vec![
        (
            json!({"language": "python", "files": [["main.py", "print(1)"]]}),
            "files",
            &["files[0]", "must be an object, not an array"],
        ),
        (
            json!({"language": "python", "source": "print(1)", "limits": [1000]}),
            "limits",
            &["limits", "must be an object"],
        ),
        (
            json!({"language": "python", "source": "print(1)", "tests": [["", "1"]]}),
            "tests",
            &["tests[0]", "must be an object"],
        ),
        (
            json!({"language": "python", "source": "print(1)", "limits": {"time_ms": "soon"}}),
            "limits.time_ms",
            &["limits.time_ms", "invalid type: string"],
        ),
        (
            json!({"language": "python", "files": [{"name": "main.py", "content": 7}]}),
            "files.content",
            &["files[0].content", "invalid type: integer"],
        ),
        (
            json!({"language": 71, "source": "print(1)"}),
            "language",
            &["language", "expected a string"],
        ),
        (json!(["python", "print(1)"]), "body", &["JSON object"]),
    ];
    for (body, code, mentions) in cases {
        refused(&rce, body, code, mentions).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    nothing_ran(&rce).await;
}

/// API v1 takes no compiler flags at all: a `compile_args` field (the
/// job's internal name, which only the Judge0 layer fills through its flag
/// allow-list) is an unknown field, a 400 whose code names it, whether its
/// flags are dangerous (`-wrapper,/bin/sh`) or harmless (`-O2 -DX=1`), so
/// API v1 cannot reach around the allow-list.
#[actix_rt::test]
async fn compile_args_are_not_part_of_api_v1() {
    let rce = start_rce();
    for flags in [json!(["-wrapper,/bin/sh"]), json!(["-O2", "-DX=1"])] {
        let body =
            json!({"language": "c", "source": "int main(void){return 0;}", "compile_args": flags});
        refused(
            &rce,
            body,
            "compile_args",
            &["unknown field `compile_args`"],
        )
        .await;
    }
    nothing_ran(&rce).await;
}
