//! The compile cache with a real rce and real containers: a job whose
//! compile input is identical to an earlier successful one's runs the kept
//! artifacts without compiling (same output, same compiler warnings), what a
//! program does to its own binary never reaches the next job, and any
//! difference in the compile input compiles again; failed compiles are not
//! kept.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(60);

/// C that warns at compile time, prints `token` and then replaces its own
/// binary with a script printing "poisoned", as a hostile program would to
/// reach the next job that reuses the compile.
fn tampering_c(token: &str) -> String {
    format!(
        r##"#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#warning "compile-cache-warning"
int main(void) {{
    printf("{token}\n");
    unlink("main");
    FILE *f = fopen("main", "w");
    if (f) {{ fputs("#!/bin/sh\necho poisoned\n", f); fclose(f); chmod("main", 0755); }}
    return 0;
}}
"##
    )
}

async fn run(rce: &Rce, body: Value) -> Value {
    let id = submit(rce, body).await;
    wait_completed(rce, &id, WITHIN).await["result"].clone()
}

/// C's compile cache (misses, hits) on `rce` so far.
async fn c_lookups(rce: &Rce) -> (u64, u64) {
    (
        compile_cache_lookups(rce, "c", "miss").await,
        compile_cache_lookups(rce, "c", "hit").await,
    )
}

/// The second identical job reuses the compile: same stdout and compile
/// output, and the first program's tampering with its binary is not what
/// the second one runs; test-case mode reuses it too; another source
/// compiles again (other compiler arguments: `tests/compat_judge0.rs`,
/// where they can be given).
#[actix_rt::test]
async fn identical_compiles_are_reused_and_cannot_be_poisoned() {
    let rce = start_rce();
    let source = tampering_c("fresh");
    let job = json!({"language": "c", "source": source});

    let first = run(&rce, job.clone()).await;
    assert_eq!(first["verdict"], "ok", "{first}");
    assert_eq!(first["stdout"], "fresh\n", "{first}");
    let warning = first["compile_output"].as_str().unwrap_or_default();
    assert!(warning.contains("compile-cache-warning"), "{first}");
    assert_eq!(c_lookups(&rce).await, (1, 0));

    let second = run(&rce, job.clone()).await;
    assert_eq!(second["verdict"], "ok", "{second}");
    assert_eq!(
        second["stdout"], "fresh\n",
        "the kept binary, not the script the first run left: {second}"
    );
    assert_eq!(second["compile_output"], first["compile_output"]);
    assert_eq!(c_lookups(&rce).await, (1, 1));

    let tests = run(
        &rce,
        json!({"language": "c", "source": source, "tests": [
            {"stdin": "", "expected_stdout": "fresh\n"},
        ]}),
    )
    .await;
    assert_eq!(tests["verdict"], "ok", "{tests}");
    assert_eq!(c_lookups(&rce).await, (1, 2));

    let changed = run(
        &rce,
        json!({"language": "c", "source": tampering_c("changed")}),
    )
    .await;
    assert_eq!(changed["stdout"], "changed\n", "{changed}");
    assert_eq!(
        c_lookups(&rce).await,
        (2, 2),
        "another source compiles again"
    );
    assert!(containers_left(&rce.prefix, Duration::from_secs(15))
        .await
        .is_empty());
}

/// A failed compile is not kept: the same broken source compiles (and
/// fails, with the same message) every time.
#[actix_rt::test]
async fn failed_compiles_are_not_kept() {
    let rce = start_rce();
    let broken = json!({"language": "c", "source": "int main(void) { return nope; }\n"});
    let first = run(&rce, broken.clone()).await;
    let second = run(&rce, broken).await;
    for result in [&first, &second] {
        assert_eq!(result["verdict"], "compile_error", "{result}");
        assert!(
            result["compile_output"]
                .as_str()
                .is_some_and(|output| output.contains("nope")),
            "{result}"
        );
    }
    assert_eq!(c_lookups(&rce).await, (2, 0));
}

/// `sandbox.compile_cache_mb = 0` turns the cache off: nothing is looked up.
#[actix_rt::test]
async fn a_zero_budget_turns_the_cache_off() {
    let rce = start_rce_with(RceOptions {
        env: env(&[("RCE_SANDBOX__COMPILE_CACHE_MB", "0")]),
        ..Default::default()
    });
    let job = json!({"language": "c", "source": tampering_c("off")});
    for _ in 0..2 {
        assert_eq!(run(&rce, job.clone()).await["stdout"], "off\n");
    }
    assert_eq!(c_lookups(&rce).await, (0, 0));
}
