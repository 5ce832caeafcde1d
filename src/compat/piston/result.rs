//! An rce result as Piston's `execute` answer: `{language, version, run,
//! compile?}`, each stage with `stdout`, `stderr`, `output`, `code`,
//! `signal` (a name such as `"SIGKILL"`), `message`, `status` (Piston's
//! `RE`, `SG`, `TO`, `OL`, `XX`), `cpu_time` and `wall_time` (ms) and
//! `memory` (bytes). rce keeps stdout and stderr apart, so `output` is
//! stdout followed by stderr rather than their interleaving.

use super::runtimes::{signal_name, Runtime};
use crate::job::{JobResult, Verdict};
use serde_json::{json, Value};

/// Isolate's (and so Piston's) wording and status for how a stage ended.
pub fn status_and_message(result: &JobResult) -> (Option<&'static str>, Option<String>) {
    match result.verdict {
        Verdict::Ok | Verdict::WrongAnswer => (None, None),
        Verdict::CompileError | Verdict::RuntimeError => match (result.signal, result.exit_code) {
            (Some(signal), _) => (Some("SG"), Some(format!("Caught fatal signal {signal}"))),
            (None, Some(code)) => (Some("RE"), Some(format!("Exited with error status {code}"))),
            (None, None) => (Some("RE"), result.message.clone()),
        },
        Verdict::TimeLimitExceeded => {
            let wall = result
                .message
                .as_deref()
                .is_some_and(|m| m.contains("wall"));
            (
                Some("TO"),
                Some(
                    if wall {
                        "Time limit exceeded (wall clock)"
                    } else {
                        "Time limit exceeded"
                    }
                    .into(),
                ),
            )
        }
        Verdict::MemoryLimitExceeded => (Some("SG"), Some("Memory limit exceeded".into())),
        Verdict::OutputLimitExceeded => (Some("OL"), Some("output length exceeded".into())),
        Verdict::InternalError => (Some("XX"), result.message.clone()),
    }
}

/// The signal Piston reports: the real one, or SIGKILL for the limits
/// Piston enforces by killing.
pub fn signal_of(result: &JobResult) -> Option<&'static str> {
    match result.verdict {
        Verdict::TimeLimitExceeded
        | Verdict::OutputLimitExceeded
        | Verdict::MemoryLimitExceeded => result.signal.and_then(signal_name).or(Some("SIGKILL")),
        _ => result.signal.and_then(signal_name),
    }
}

fn stage(stdout: &str, stderr: &str, code: Option<i32>, result: Option<&JobResult>) -> Value {
    let (status, message) = result.map(status_and_message).unwrap_or((None, None));
    json!({
        "stdout": stdout,
        "stderr": stderr,
        "output": format!("{stdout}{stderr}"),
        "code": code,
        "signal": result.and_then(signal_of),
        "message": message,
        "status": status,
        "cpu_time": result.map(|r| r.time_ms),
        "wall_time": result.map(|r| r.wall_ms),
        "memory": result.map(|r| r.memory_kb * 1024),
    })
}

/// The `execute` answer. A failed compile has no run stage; as Piston does
/// for old clients, `run` then repeats `compile`.
pub fn execute_answer(runtime: &Runtime, compiles: bool, result: &JobResult) -> Value {
    let mut answer = json!({"language": runtime.language, "version": runtime.version});
    let compile_failed = result.verdict == Verdict::CompileError;
    if compiles {
        let output = result.compile_output.as_deref().unwrap_or("");
        answer["compile"] = if compile_failed {
            stage("", output, result.exit_code, Some(result))
        } else {
            stage("", output, Some(0), None)
        };
    }
    answer["run"] = if compile_failed {
        answer["compile"].clone()
    } else {
        stage(
            &result.stdout,
            &result.stderr,
            result.exit_code,
            Some(result),
        )
    };
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> Runtime {
        Runtime {
            language: "c".into(),
            version: "12.2.0".into(),
            aliases: vec![],
            runtime: None,
            rce_id: "c".into(),
        }
    }

    fn result(verdict: Verdict) -> JobResult {
        JobResult {
            verdict,
            message: None,
            ..JobResult::internal_error("")
        }
    }

    /// A normal run: code 0, no status, output is stdout then stderr,
    /// memory in bytes.
    #[test]
    fn ok_run_shape() {
        let r = JobResult {
            stdout: "out\n".into(),
            stderr: "err\n".into(),
            exit_code: Some(0),
            memory_kb: 2,
            time_ms: 3,
            wall_ms: 4,
            ..result(Verdict::Ok)
        };
        let answer = execute_answer(&runtime(), true, &r);
        assert_eq!(answer["run"]["output"], "out\nerr\n");
        assert_eq!(answer["run"]["status"], Value::Null);
        assert_eq!(answer["run"]["memory"], 2048);
        assert_eq!(answer["compile"]["code"], 0);
        assert_eq!(answer["version"], "12.2.0");
    }

    /// Statuses: RE with the exit code, SG with the signal's name, TO with
    /// SIGKILL; a failed compile repeats as `run`.
    #[test]
    fn failure_statuses() {
        let re = execute_answer(
            &runtime(),
            false,
            &JobResult {
                exit_code: Some(3),
                ..result(Verdict::RuntimeError)
            },
        );
        assert_eq!(
            (re["run"]["status"].as_str(), re["run"]["code"].as_i64()),
            (Some("RE"), Some(3))
        );
        assert_eq!(re["run"]["message"], "Exited with error status 3");
        let sg = execute_answer(
            &runtime(),
            false,
            &JobResult {
                signal: Some(11),
                ..result(Verdict::RuntimeError)
            },
        );
        assert_eq!(
            (sg["run"]["status"].as_str(), sg["run"]["signal"].as_str()),
            (Some("SG"), Some("SIGSEGV"))
        );
        let to = execute_answer(&runtime(), false, &result(Verdict::TimeLimitExceeded));
        assert_eq!(
            (to["run"]["status"].as_str(), to["run"]["signal"].as_str()),
            (Some("TO"), Some("SIGKILL"))
        );
        let ce = JobResult {
            compile_output: Some("main.c:1: error".into()),
            exit_code: Some(1),
            ..result(Verdict::CompileError)
        };
        let ce = execute_answer(&runtime(), true, &ce);
        assert_eq!(ce["compile"]["code"], 1);
        assert_eq!(ce["run"], ce["compile"]);
        assert_eq!(ce["compile"]["stderr"], "main.c:1: error");
    }
}
