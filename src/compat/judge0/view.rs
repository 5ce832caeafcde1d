//! A stored job shown as a Judge0 submission: every attribute Judge0 CE
//! 1.13.1 serialises (`fields=*`), or the default eight, or the ones a
//! client names. Output fields are `null` when empty, as Judge0 stores them;
//! with `base64_encoded=true` the text fields (and `message`) are Base64 in
//! Ruby's line-wrapped form.

use super::format::{decimal, encode64, seconds_to_ms, timestamp};
use super::request::{Extras, CPU_EXTRA_TIME, STACK_LIMIT_KB};
use super::tables::{id_of_language, language_by_id, status_of};
use crate::job::{JobResult, JobStatus, Verdict};
use crate::languages::Languages;
use crate::store::StoredJob;
use serde_json::{json, Map, Value};

/// What `GET /submissions/{token}` shows without `fields`.
pub const DEFAULT_FIELDS: &[&str] = &[
    "token",
    "time",
    "memory",
    "stdout",
    "stderr",
    "compile_output",
    "message",
    "status",
];

/// Every attribute, in Judge0's column order.
pub const ALL_FIELDS: &[&str] = &[
    "source_code",
    "language_id",
    "stdin",
    "expected_output",
    "stdout",
    "status_id",
    "created_at",
    "finished_at",
    "time",
    "memory",
    "stderr",
    "token",
    "number_of_runs",
    "cpu_time_limit",
    "cpu_extra_time",
    "wall_time_limit",
    "memory_limit",
    "stack_limit",
    "max_processes_and_or_threads",
    "enable_per_process_and_thread_time_limit",
    "enable_per_process_and_thread_memory_limit",
    "max_file_size",
    "compile_output",
    "exit_code",
    "exit_signal",
    "message",
    "wall_time",
    "compiler_options",
    "command_line_arguments",
    "redirect_stderr_to_stdout",
    "callback_url",
    "additional_files",
    "enable_network",
    "post_execution_filesystem",
    "status",
    "language",
];

/// Which attributes to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fields {
    Default,
    All,
    Named(Vec<String>),
}

impl Fields {
    /// Reads `?fields=`: absent is the default set, `*` is everything, else
    /// a comma-separated list whose unknown names are returned as the error.
    pub fn parse(text: Option<&str>) -> Result<Fields, Vec<String>> {
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(Fields::Default);
        };
        if text == "*" {
            return Ok(Fields::All);
        }
        let names: Vec<String> = text
            .split(',')
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect();
        let unknown: Vec<String> = names
            .iter()
            .filter(|n| !ALL_FIELDS.contains(&n.as_str()))
            .cloned()
            .collect();
        if unknown.is_empty() {
            Ok(Fields::Named(names))
        } else {
            Err(unknown)
        }
    }

    fn names(&self) -> Vec<&str> {
        match self {
            Fields::Default => DEFAULT_FIELDS.to_vec(),
            Fields::All => ALL_FIELDS.to_vec(),
            Fields::Named(names) => names.iter().map(String::as_str).collect(),
        }
    }
}

/// Judge0's (Isolate's) wording for how a run ended.
fn message_of(result: &JobResult) -> Option<String> {
    match result.verdict {
        Verdict::Ok | Verdict::WrongAnswer | Verdict::CompileError => None,
        Verdict::TimeLimitExceeded => Some(
            if result
                .message
                .as_deref()
                .is_some_and(|m| m.contains("wall"))
            {
                "Time limit exceeded (wall clock)"
            } else {
                "Time limit exceeded"
            }
            .into(),
        ),
        Verdict::MemoryLimitExceeded => Some("Memory limit exceeded".into()),
        Verdict::OutputLimitExceeded => Some("Output limit exceeded".into()),
        Verdict::RuntimeError => match (result.signal, result.exit_code) {
            (Some(signal), _) => Some(format!("Caught fatal signal {signal}")),
            (None, Some(code)) => Some(format!("Exited with error status {code}")),
            (None, None) => result.message.clone(),
        },
        Verdict::InternalError => result.message.clone(),
    }
}

/// A text value: `null` when absent or empty, Base64 when asked.
fn text(value: Option<&str>, base64: bool) -> Value {
    match value.filter(|v| !v.is_empty()) {
        None => Value::Null,
        Some(v) if base64 => Value::String(encode64(v)),
        Some(v) => Value::String(v.to_string()),
    }
}

/// The submission's attributes, restricted to `fields`.
pub fn render(
    stored: &StoredJob,
    extras: Option<&Extras>,
    languages: &Languages,
    base64: bool,
    fields: &Fields,
) -> Map<String, Value> {
    let job = &stored.job;
    let result = stored
        .result
        .as_ref()
        .filter(|_| stored.status == JobStatus::Completed);
    let status = status_of(stored.status, result);
    let language_id = extras
        .map(|e| e.language_id)
        .or_else(|| id_of_language(&job.language))
        .unwrap_or(0);
    let mut all = Map::new();
    put_submitted(&mut all, stored, language_id, base64);
    put_outcome(&mut all, stored, result, extras, base64);
    all.insert("status_id".into(), json!(status.id));
    put_limits(&mut all, stored, extras);
    put_options(&mut all, extras);
    all.insert(
        "status".into(),
        json!({"id": status.id, "description": status.description}),
    );
    let language_name = language_name(language_id, &job.language, languages);
    all.insert(
        "language".into(),
        json!({"id": language_id, "name": language_name}),
    );
    let mut shown = Map::new();
    for name in fields.names() {
        if let Some(value) = all.remove(name) {
            shown.insert(name.to_string(), value);
        }
    }
    shown
}

/// Judge0's name for the language: its label with rce's version in it, or
/// rce's language id when Judge0 has no such language.
fn language_name(language_id: u32, rce_language: &str, languages: &Languages) -> String {
    language_by_id(language_id)
        .map(|l| {
            let version = languages
                .get(l.language)
                .map(|lang| lang.version.as_str())
                .unwrap_or("");
            l.label.replace("{}", version)
        })
        .unwrap_or_else(|| rce_language.to_string())
}

/// What the client sent: source, language, input, expected output, and
/// the token and time it got.
fn put_submitted(all: &mut Map<String, Value>, stored: &StoredJob, language_id: u32, base64: bool) {
    let job = &stored.job;
    let test = job.tests.first();
    let stdin = test.map(|t| t.stdin.as_str()).unwrap_or(job.stdin.as_str());
    let mut put = |name: &str, value: Value| {
        all.insert(name.to_string(), value);
    };
    put(
        "source_code",
        text(job.files.first().map(|f| f.content.as_str()), base64),
    );
    put("language_id", json!(language_id));
    put("stdin", text(Some(stdin), base64));
    put(
        "expected_output",
        text(test.map(|t| t.expected_stdout.as_str()), base64),
    );
    put("created_at", json!(timestamp(job.created_at)));
    put("token", json!(job.id.to_string()));
}

/// How the run went: output (stderr folded into stdout when the client
/// asked), times, memory, exit and message; `null` until it finished.
fn put_outcome(
    all: &mut Map<String, Value>,
    stored: &StoredJob,
    result: Option<&JobResult>,
    extras: Option<&Extras>,
    base64: bool,
) {
    let redirect = extras.is_some_and(|e| e.redirect_stderr_to_stdout);
    let (stdout, stderr) = match result {
        None => (None, None),
        Some(r) if redirect => (Some(format!("{}{}", r.stdout, r.stderr)), None),
        Some(r) => (Some(r.stdout.clone()), Some(r.stderr.clone())),
    };
    let mut put = |name: &str, value: Value| {
        all.insert(name.to_string(), value);
    };
    put("stdout", text(stdout.as_deref(), base64));
    put(
        "finished_at",
        stored
            .finished_at
            .map(timestamp)
            .map_or(Value::Null, Value::String),
    );
    put(
        "time",
        result.map_or(Value::Null, |r| json!(decimal(r.time_ms))),
    );
    put("memory", result.map_or(Value::Null, |r| json!(r.memory_kb)));
    put("stderr", text(stderr.as_deref(), base64));
    put(
        "compile_output",
        text(result.and_then(|r| r.compile_output.as_deref()), base64),
    );
    put(
        "exit_code",
        result
            .and_then(|r| r.exit_code)
            .map_or(Value::Null, |c| json!(c)),
    );
    put(
        "exit_signal",
        result
            .and_then(|r| r.signal)
            .map_or(Value::Null, |s| json!(s)),
    );
    put(
        "message",
        text(result.and_then(message_of).as_deref(), base64),
    );
    put(
        "wall_time",
        result.map_or(Value::Null, |r| json!(decimal(r.wall_ms))),
    );
}

/// The limits in Judge0's units: as the client set them where rce keeps
/// them beside the job, else the job's own.
fn put_limits(all: &mut Map<String, Value>, stored: &StoredJob, extras: Option<&Extras>) {
    let limits = stored.job.limits;
    let mut put = |name: &str, value: Value| {
        all.insert(name.to_string(), value);
    };
    put(
        "number_of_runs",
        json!(extras.map_or(1, |e| e.number_of_runs)),
    );
    let cpu_limit_ms = extras.map_or(limits.time_ms, |e| seconds_to_ms(e.cpu_time_limit));
    put("cpu_time_limit", json!(decimal(cpu_limit_ms)));
    let extra_ms = seconds_to_ms(extras.map_or(CPU_EXTRA_TIME, |e| e.cpu_extra_time));
    put("cpu_extra_time", json!(decimal(extra_ms)));
    let wall_limit_ms = extras.map_or(limits.wall_ms, |e| seconds_to_ms(e.wall_time_limit));
    put("wall_time_limit", json!(decimal(wall_limit_ms)));
    put(
        "memory_limit",
        json!(extras.map_or(limits.memory_mb * 1024, |e| e.memory_limit)),
    );
    put(
        "stack_limit",
        json!(extras.map_or(STACK_LIMIT_KB, |e| e.stack_limit)),
    );
    put("max_processes_and_or_threads", json!(limits.pids));
    put(
        "enable_per_process_and_thread_time_limit",
        json!(extras.is_some_and(|e| e.enable_per_process_and_thread_time_limit)),
    );
    put(
        "enable_per_process_and_thread_memory_limit",
        json!(extras.is_some_and(|e| e.enable_per_process_and_thread_memory_limit)),
    );
    put("max_file_size", json!(limits.output_kb));
}

/// The options echoed as the client sent them, and the ones rce never
/// supports (always `null` or `false`).
fn put_options(all: &mut Map<String, Value>, extras: Option<&Extras>) {
    let mut put = |name: &str, value: Value| {
        all.insert(name.to_string(), value);
    };
    put(
        "compiler_options",
        extras
            .and_then(|e| e.compiler_options.clone())
            .map_or(Value::Null, Value::String),
    );
    put(
        "command_line_arguments",
        extras
            .and_then(|e| e.command_line_arguments.clone())
            .map_or(Value::Null, Value::String),
    );
    put(
        "redirect_stderr_to_stdout",
        json!(extras.is_some_and(|e| e.redirect_stderr_to_stdout)),
    );
    put(
        "callback_url",
        extras
            .and_then(|e| e.callback_url.clone())
            .map_or(Value::Null, Value::String),
    );
    put("additional_files", Value::Null);
    put("enable_network", json!(false));
    put("post_execution_filesystem", Value::Null);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{Job, JobId, Limits};
    use rce_protocol::{SourceFile, TestCase};
    use time::OffsetDateTime;

    fn languages() -> Languages {
        Languages::parse(
            "[[language]]\nid='python'\nname='Python'\nversion='3.11'\nimage='rce-python'\nfile='main.py'\nrun=['python3','main.py']\n",
        )
        .unwrap()
    }

    fn stored(result: Option<JobResult>) -> StoredJob {
        let job = Job {
            id: JobId::new(),
            user_id: "u".into(),
            language: "python".into(),
            files: vec![SourceFile {
                name: "main.py".into(),
                content: "print(1)".into(),
            }],
            stdin: String::new(),
            args: vec![],
            limits: Limits {
                time_ms: 2000,
                wall_ms: 4000,
                memory_mb: 128,
                pids: 64,
                output_kb: 1024,
            },
            tests: vec![TestCase {
                stdin: "in".into(),
                expected_stdout: "1".into(),
            }],
            interactive: false,
            compile_args: vec![],
            created_at: OffsetDateTime::now_utc(),
        };
        StoredJob {
            job,
            status: if result.is_some() {
                JobStatus::Completed
            } else {
                JobStatus::Queued
            },
            finished_at: result.as_ref().map(|_| OffsetDateTime::now_utc()),
            result,
        }
    }

    /// A finished job shows Judge0's types: decimals as strings, memory in
    /// KB, null for empty output, the status object, the language's name.
    #[test]
    fn finished_job_has_judge0_types() {
        let result = JobResult {
            verdict: Verdict::RuntimeError,
            exit_code: Some(3),
            stdout: "1\n".into(),
            time_ms: 12,
            wall_ms: 30,
            memory_kb: 3200,
            message: None,
            ..JobResult::internal_error("")
        };
        let shown = render(
            &stored(Some(result)),
            None,
            &languages(),
            false,
            &Fields::All,
        );
        assert_eq!(shown["time"], "0.012");
        assert_eq!(shown["wall_time"], "0.03");
        assert_eq!(shown["memory"], 3200);
        assert_eq!(shown["stderr"], Value::Null);
        assert_eq!(
            shown["status"],
            json!({"id": 11, "description": "Runtime Error (NZEC)"})
        );
        assert_eq!(shown["message"], "Exited with error status 3");
        assert_eq!(
            shown["language"],
            json!({"id": 71, "name": "Python (3.11)"})
        );
        assert_eq!(shown["cpu_time_limit"], "2.0");
        assert_eq!(shown["stdin"], "in");
        assert_eq!(shown["expected_output"], "1");
        assert_eq!(shown.len(), ALL_FIELDS.len());
    }

    /// The default set is Judge0's eight; Base64 wraps text fields; a queued
    /// job has no time yet.
    #[test]
    fn default_fields_and_base64() {
        let queued = render(&stored(None), None, &languages(), true, &Fields::Default);
        let mut keys: Vec<&str> = queued.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut expected = DEFAULT_FIELDS.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(queued["time"], Value::Null);
        assert_eq!(queued["status"]["id"], 1);
        let named = render(
            &stored(None),
            None,
            &languages(),
            true,
            &Fields::Named(vec!["source_code".into()]),
        );
        assert_eq!(named["source_code"], "cHJpbnQoMSk=\n");
    }

    /// `fields` accepts `*`, a known list, and names the unknown ones.
    #[test]
    fn fields_parse() {
        assert_eq!(Fields::parse(None).unwrap(), Fields::Default);
        assert_eq!(Fields::parse(Some("*")).unwrap(), Fields::All);
        assert_eq!(Fields::parse(Some("stdout,bogus")).unwrap_err(), ["bogus"]);
    }
}
