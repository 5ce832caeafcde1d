//! What a submission is and what it becomes: the request body clients send,
//! the validated [`Job`] that travels through the queue and the store, its
//! limits, and the [`JobResult`] a finished job carries. Validation lives here
//! so the HTTP API and the WebSocket accept exactly the same submissions.

use crate::languages::{Language, Languages};
use rce_protocol::{SourceFile, TestCase, MAX_FILES};
use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A job's id: a UUIDv7, so ids sort by creation time.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[schema(value_type = String, format = Uuid)]
#[serde(transparent)]
pub struct JobId(pub Uuid);

impl JobId {
    pub fn new() -> JobId {
        JobId(Uuid::now_v7())
    }
}

impl Default for JobId {
    fn default() -> Self {
        JobId::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for JobId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<JobId, uuid::Error> {
        Uuid::parse_str(s).map(JobId)
    }
}

/// Limits of one program run, as a client may ask for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// CPU time of the program, in milliseconds.
    pub time_ms: u64,
    /// Wall-clock time of the program, in milliseconds.
    pub wall_ms: u64,
    /// Memory of the program, in MiB.
    pub memory_mb: u64,
    /// Processes and threads the program may hold at once.
    pub pids: u64,
    /// stdout + stderr kept, in KiB; beyond it the program is stopped.
    pub output_kb: u64,
}

/// A client's `limits` object: every field optional, defaults fill the rest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsRequest {
    pub time_ms: Option<u64>,
    pub wall_ms: Option<u64>,
    pub memory_mb: Option<u64>,
    pub pids: Option<u64>,
    pub output_kb: Option<u64>,
}

/// One file of a multi-file submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileInput {
    pub name: String,
    pub content: String,
}

/// A test case as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCaseInput {
    #[serde(default)]
    pub stdin: String,
    pub expected_stdout: String,
}

/// The body of `POST /api/v1/submissions` (and of a WebSocket `submit`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmissionRequest {
    /// A language id or alias from `GET /api/v1/languages`.
    #[schema(example = "python")]
    pub language: String,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default, deserialize_with = "crate::strict_json::objects")]
    pub files: Option<Vec<FileInput>>,
    #[serde(default)]
    pub stdin: Option<String>,
    #[serde(default)]
    pub args: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::strict_json::object")]
    pub limits: Option<LimitsRequest>,
    #[serde(default, deserialize_with = "crate::strict_json::objects")]
    pub tests: Option<Vec<TestCaseInput>>,
    /// Keep stdin open for `stdin` frames (WebSocket clients).
    #[serde(default)]
    pub interactive: Option<bool>,
    /// Extra compiler arguments (argv words, never a shell line). Not part
    /// of API v1's body: set by the Judge0 layer's `compiler_options`.
    #[serde(skip)]
    pub compile_args: Option<Vec<String>>,
}

/// The server's bounds on what a submission may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionBounds {
    pub default_limits: Limits,
    pub max_limits: Limits,
    /// All files (or the source) together, in bytes.
    pub max_source_bytes: u64,
    /// stdin, and separately all test cases' stdin + expected output.
    pub max_stdin_bytes: u64,
    /// Program arguments (and, separately, compiler arguments) at most.
    pub max_args: usize,
    /// All program arguments together in bytes (and, separately, all
    /// compiler arguments): they travel in the stored job and the stream.
    pub max_args_bytes: u64,
    pub max_tests: usize,
    /// The compile stage's wall limit, counted in a compiled job's total.
    pub compile_wall_ms: u64,
    /// A job's worst-case wall time at most: the compile stage (compiled
    /// languages) plus the wall limit once per test case (or for the one
    /// run). Bounds how long one job can hold a worker slot.
    pub max_total_wall_ms: u64,
}

/// A submission the server refused, with a stable dotted code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    pub code: String,
    pub message: String,
}

impl Rejection {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Rejection {
        Rejection {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// A validated submission: everything a worker needs to run it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub user_id: String,
    /// The language's id (never an alias).
    pub language: String,
    pub files: Vec<SourceFile>,
    pub stdin: String,
    pub args: Vec<String>,
    pub limits: Limits,
    pub tests: Vec<TestCase>,
    pub interactive: bool,
    /// Extra compiler arguments, placed before the source file in the
    /// language's compile command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compile_args: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl Job {
    /// Checks `request` against the languages and bounds and builds the job.
    /// The fields are checked in a fixed order, so a request wrong in
    /// several ways is always refused for the same one.
    pub fn from_request(
        request: SubmissionRequest,
        user_id: &str,
        languages: &Languages,
        bounds: &SubmissionBounds,
    ) -> Result<Job, Rejection> {
        let language = language_of(&request.language, languages)?;
        let files = files_of(&request, language, bounds)?;
        let limits = limits_of(request.limits.unwrap_or_default(), bounds)?;
        let stdin = stdin_of(request.stdin.unwrap_or_default(), bounds)?;
        let args = args_of(request.args.unwrap_or_default(), bounds)?;
        let tests = tests_of(request.tests.unwrap_or_default(), bounds)?;
        let compile_args =
            compile_args_of(request.compile_args.unwrap_or_default(), language, bounds)?;
        check_total_wall(&limits, language.compile.is_some(), tests.len(), bounds)?;
        let interactive = request.interactive.unwrap_or(false);
        if interactive && !tests.is_empty() {
            return Err(Rejection::new(
                "interactive",
                "an interactive job cannot have test cases",
            ));
        }
        Ok(Job {
            id: JobId::new(),
            user_id: user_id.to_string(),
            language: language.id.clone(),
            files,
            stdin,
            args,
            limits,
            tests,
            interactive,
            compile_args,
            created_at: OffsetDateTime::now_utc(),
        })
    }
}

/// The language named `id` (or an alias of it); refused with the list of
/// known ones.
fn language_of<'a>(id: &str, languages: &'a Languages) -> Result<&'a Language, Rejection> {
    languages.get(id).ok_or_else(|| {
        Rejection::new(
            "language",
            format!(
                "unknown language {:?}; known: {} (GET /api/v1/languages)",
                id,
                languages
                    .all()
                    .iter()
                    .map(|l| l.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

/// Refuses stdin over `max_stdin_bytes`.
fn stdin_of(stdin: String, bounds: &SubmissionBounds) -> Result<String, Rejection> {
    if stdin.len() as u64 > bounds.max_stdin_bytes {
        return Err(Rejection::new(
            "stdin",
            format!(
                "stdin is {} bytes, over the maximum of {} bytes",
                stdin.len(),
                bounds.max_stdin_bytes
            ),
        ));
    }
    Ok(stdin)
}

/// Refuses program arguments that are too many, too long together or hold
/// a NUL byte (no `argv` can carry one).
fn args_of(args: Vec<String>, bounds: &SubmissionBounds) -> Result<Vec<String>, Rejection> {
    if args.len() > bounds.max_args {
        return Err(Rejection::new(
            "args",
            format!(
                "args: {} arguments is over the maximum of {}",
                args.len(),
                bounds.max_args
            ),
        ));
    }
    if args.iter().any(|arg| arg.contains('\0')) {
        return Err(Rejection::new(
            "args",
            "args: an argument contains a NUL byte",
        ));
    }
    check_args_bytes("args", &args, bounds)?;
    Ok(args)
}

/// Refuses more than `max_tests` cases, or cases whose inputs and expected
/// outputs together exceed `max_stdin_bytes`.
fn tests_of(
    cases: Vec<TestCaseInput>,
    bounds: &SubmissionBounds,
) -> Result<Vec<TestCase>, Rejection> {
    let tests: Vec<TestCase> = cases
        .into_iter()
        .map(|case| TestCase {
            stdin: case.stdin,
            expected_stdout: case.expected_stdout,
        })
        .collect();
    if tests.len() > bounds.max_tests {
        return Err(Rejection::new(
            "tests",
            format!(
                "tests: {} test cases is over the maximum of {}",
                tests.len(),
                bounds.max_tests
            ),
        ));
    }
    // Every case's input and expected output travel in the job frame and
    // its result: bounded like one stdin.
    let test_bytes: u64 = tests
        .iter()
        .map(|case| (case.stdin.len() + case.expected_stdout.len()) as u64)
        .sum();
    if test_bytes > bounds.max_stdin_bytes {
        return Err(Rejection::new(
            "tests",
            format!(
                "tests: stdin and expected_stdout of all cases are {test_bytes} bytes, over the maximum of {} bytes",
                bounds.max_stdin_bytes
            ),
        ));
    }
    Ok(tests)
}

/// Refuses compiler arguments for an interpreted language, too many or too
/// long of them, NUL bytes, and flags the language's compiler does not
/// allow.
fn compile_args_of(
    compile_args: Vec<String>,
    language: &Language,
    bounds: &SubmissionBounds,
) -> Result<Vec<String>, Rejection> {
    if !compile_args.is_empty() && language.compile.is_none() {
        return Err(Rejection::new(
            "compile_args",
            format!(
                "{} is not compiled; it takes no compiler options",
                language.id
            ),
        ));
    }
    if compile_args.len() > bounds.max_args || compile_args.iter().any(|a| a.contains('\0')) {
        return Err(Rejection::new(
            "compile_args",
            format!(
                "compile_args: at most {} arguments, without NUL bytes",
                bounds.max_args
            ),
        ));
    }
    check_args_bytes("compile_args", &compile_args, bounds)?;
    if let Some(compile) = &language.compile {
        crate::compile_flags::check(compile, &compile_args)
            .map_err(|refused| Rejection::new("compile_args", refused.to_string()))?;
    }
    Ok(compile_args)
}

/// Refuses argument lists longer than `max_args_bytes` together.
fn check_args_bytes(
    field: &str,
    args: &[String],
    bounds: &SubmissionBounds,
) -> Result<(), Rejection> {
    let total: u64 = args.iter().map(|arg| arg.len() as u64).sum();
    if total > bounds.max_args_bytes {
        return Err(Rejection::new(
            field,
            format!(
                "{field}: {total} bytes together is over the maximum of {} bytes",
                bounds.max_args_bytes
            ),
        ));
    }
    Ok(())
}

/// A job's worst-case wall time: the compile stage (when the language has
/// one) plus the wall limit for each test case, or for the single run. The
/// worker's deadline is this plus its grace period.
pub fn total_wall_ms(limits: &Limits, compiled: bool, compile_wall_ms: u64, tests: usize) -> u64 {
    let compile = if compiled { compile_wall_ms } else { 0 };
    compile.saturating_add(limits.wall_ms.saturating_mul(tests.max(1) as u64))
}

/// Refuses a job whose worst-case wall time is over `max_total_wall_ms`.
fn check_total_wall(
    limits: &Limits,
    compiled: bool,
    tests: usize,
    bounds: &SubmissionBounds,
) -> Result<(), Rejection> {
    let total = total_wall_ms(limits, compiled, bounds.compile_wall_ms, tests);
    if total <= bounds.max_total_wall_ms {
        return Ok(());
    }
    let compile = if compiled {
        format!("compile {} ms + ", bounds.compile_wall_ms)
    } else {
        String::new()
    };
    Err(Rejection::new(
        "limits.total_wall_ms",
        format!(
            "the job's worst-case wall time ({compile}{} runs × wall_ms {} ms = {total} ms) is over the maximum of {} ms; lower limits.wall_ms or send fewer tests",
            tests.max(1),
            limits.wall_ms,
            bounds.max_total_wall_ms
        ),
    ))
}

fn files_of(
    request: &SubmissionRequest,
    language: &Language,
    bounds: &SubmissionBounds,
) -> Result<Vec<SourceFile>, Rejection> {
    let files = match (&request.source, &request.files) {
        (Some(_), Some(_)) => {
            return Err(Rejection::new(
                "source",
                "give either source or files, not both",
            ))
        }
        (None, None) => return Err(Rejection::new("source", "source is missing")),
        (Some(source), None) => vec![SourceFile {
            name: language.file.clone(),
            content: source.clone(),
        }],
        (None, Some(files)) => {
            if files.is_empty() {
                return Err(Rejection::new("files", "files is empty"));
            }
            if files.len() > MAX_FILES {
                return Err(Rejection::new(
                    "files",
                    format!(
                        "files: {} files is over the maximum of {MAX_FILES}",
                        files.len()
                    ),
                ));
            }
            let mut out: Vec<SourceFile> = Vec::with_capacity(files.len());
            for file in files {
                rce_protocol::check_file_name(&file.name)
                    .map_err(|reason| Rejection::new("files.name", reason))?;
                if out.iter().any(|seen| seen.name == file.name) {
                    return Err(Rejection::new(
                        "files.name",
                        format!("file {:?} appears twice", file.name),
                    ));
                }
                out.push(SourceFile {
                    name: file.name.clone(),
                    content: file.content.clone(),
                });
            }
            out
        }
    };
    if files.iter().all(|file| file.content.trim().is_empty()) {
        return Err(Rejection::new("source", "source is empty"));
    }
    let total: u64 = files.iter().map(|file| file.content.len() as u64).sum();
    if total > bounds.max_source_bytes {
        let what = if request.files.is_some() {
            "files"
        } else {
            "source"
        };
        return Err(Rejection::new(
            what,
            format!(
                "{what}: {total} bytes is over the maximum of {} bytes",
                bounds.max_source_bytes
            ),
        ));
    }
    Ok(files)
}

fn limits_of(request: LimitsRequest, bounds: &SubmissionBounds) -> Result<Limits, Rejection> {
    let (default, max) = (bounds.default_limits, bounds.max_limits);
    let pick = |name: &str, asked: Option<u64>, default: u64, max: u64| -> Result<u64, Rejection> {
        match asked {
            None => Ok(default),
            Some(0) => Err(Rejection::new(
                format!("limits.{name}"),
                format!("limits.{name} must be at least 1"),
            )),
            Some(value) if value > max => Err(Rejection::new(
                format!("limits.{name}"),
                format!("limits.{name} = {value} is over the maximum of {max}"),
            )),
            Some(value) => Ok(value),
        }
    };
    let time_ms = pick("time_ms", request.time_ms, default.time_ms, max.time_ms)?;
    // Unless asked otherwise, the wall limit grows with the CPU limit so a
    // program that waits a little (I/O, sleep) is not cut before its CPU limit.
    let default_wall = default
        .wall_ms
        .max(time_ms.saturating_mul(2))
        .min(max.wall_ms);
    Ok(Limits {
        time_ms,
        wall_ms: pick("wall_ms", request.wall_ms, default_wall, max.wall_ms)?,
        memory_mb: pick(
            "memory_mb",
            request.memory_mb,
            default.memory_mb,
            max.memory_mb,
        )?,
        pids: pick("pids", request.pids, default.pids, max.pids)?,
        output_kb: pick(
            "output_kb",
            request.output_kb,
            default.output_kb,
            max.output_kb,
        )?,
    })
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Completed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
        }
    }

    pub fn parse(text: &str) -> Option<JobStatus> {
        match text {
            "queued" => Some(JobStatus::Queued),
            "running" => Some(JobStatus::Running),
            "completed" => Some(JobStatus::Completed),
            _ => None,
        }
    }
}

/// The outcome of a job, as the user sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    WrongAnswer,
    CompileError,
    RuntimeError,
    TimeLimitExceeded,
    MemoryLimitExceeded,
    OutputLimitExceeded,
    InternalError,
}

/// One test case's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TestResult {
    pub verdict: Verdict,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub time_ms: u64,
    pub wall_ms: u64,
    pub memory_kb: u64,
}

/// A finished job's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobResult {
    pub verdict: Verdict,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub compile_output: Option<String>,
    /// CPU time of the program.
    pub time_ms: u64,
    pub wall_ms: u64,
    pub memory_kb: u64,
    pub truncated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tests: Option<Vec<TestResult>>,
    /// Why, for `internal_error` and limit verdicts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl JobResult {
    /// A result for a job the platform failed to run.
    pub fn internal_error(message: impl Into<String>) -> JobResult {
        JobResult {
            verdict: Verdict::InternalError,
            exit_code: None,
            signal: None,
            stdout: String::new(),
            stderr: String::new(),
            compile_output: None,
            time_ms: 0,
            wall_ms: 0,
            memory_kb: 0,
            truncated: false,
            tests: None,
            message: Some(message.into()),
        }
    }
}

/// A job as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Submission {
    pub id: JobId,
    pub status: JobStatus,
    pub language: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    pub result: Option<JobResult>,
    /// What was run (a single `source` is one file, named by the language),
    /// so a client can reopen it: the web editor's history.
    #[serde(default)]
    pub files: Vec<FileInput>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn languages() -> Languages {
        Languages::parse(
            "[[language]]\nid='python'\nname='Python'\nversion='3'\naliases=['py']\nimage='rce-python'\nfile='main.py'\nrun=['python3','main.py']\n",
        )
        .unwrap()
    }

    fn bounds() -> SubmissionBounds {
        let limits = Limits {
            time_ms: 1000,
            wall_ms: 3000,
            memory_mb: 128,
            pids: 32,
            output_kb: 64,
        };
        SubmissionBounds {
            default_limits: limits,
            max_limits: Limits {
                time_ms: 10_000,
                wall_ms: 20_000,
                memory_mb: 512,
                pids: 128,
                output_kb: 1024,
            },
            max_source_bytes: 1000,
            max_stdin_bytes: 100,
            max_args: 4,
            max_args_bytes: 20,
            max_tests: 2,
            compile_wall_ms: 5_000,
            max_total_wall_ms: 30_000,
        }
    }

    fn request(source: &str) -> SubmissionRequest {
        SubmissionRequest {
            language: "py".into(),
            source: Some(source.into()),
            ..Default::default()
        }
    }

    /// A plain source becomes the language's entry file, with default limits
    /// and the canonical language id.
    #[test]
    fn source_becomes_entry_file_with_defaults() {
        let job = Job::from_request(request("print(1)"), "u1", &languages(), &bounds()).unwrap();
        assert_eq!(job.language, "python");
        assert_eq!(
            job.files,
            vec![SourceFile {
                name: "main.py".into(),
                content: "print(1)".into()
            }]
        );
        assert_eq!(job.limits, bounds().default_limits);
    }

    /// Each kind of bad input is refused with a code naming the field, and a
    /// limit over the maximum names the maximum.
    #[test]
    fn bad_input_is_rejected_with_field_codes() {
        let (langs, b) = (languages(), bounds());
        let reject = |req: SubmissionRequest| Job::from_request(req, "u", &langs, &b).unwrap_err();
        assert_eq!(
            reject(SubmissionRequest {
                language: "cobol".into(),
                ..request("x")
            })
            .code,
            "language"
        );
        assert_eq!(reject(request("   ")).code, "source");
        assert_eq!(reject(request(&"x".repeat(1001))).code, "source");
        let over = reject(SubmissionRequest {
            limits: Some(LimitsRequest {
                memory_mb: Some(513),
                ..Default::default()
            }),
            ..request("x")
        });
        assert_eq!(over.code, "limits.memory_mb");
        assert!(over.message.contains("512"), "{}", over.message);
        let traversal = SubmissionRequest {
            source: None,
            files: Some(vec![FileInput {
                name: "../etc/passwd".into(),
                content: "x".into(),
            }]),
            ..request("x")
        };
        assert_eq!(reject(traversal).code, "files.name");
        assert_eq!(
            reject(SubmissionRequest {
                stdin: Some("x".repeat(101)),
                ..request("x")
            })
            .code,
            "stdin"
        );
    }

    /// Counts and sizes over a maximum are refused with both the count and
    /// the maximum in the message: files, arguments, test cases and the
    /// bytes of all test cases together.
    #[test]
    fn over_maximum_messages_name_count_and_maximum() {
        let (langs, b) = (languages(), bounds());
        let reject = |req: SubmissionRequest| Job::from_request(req, "u", &langs, &b).unwrap_err();
        let files = (0..=MAX_FILES)
            .map(|i| FileInput {
                name: format!("f{i}.py"),
                content: "x".into(),
            })
            .collect();
        let many = reject(SubmissionRequest {
            source: None,
            files: Some(files),
            ..request("x")
        });
        assert_eq!(many.code, "files");
        assert!(
            many.message.contains("65") && many.message.contains("64"),
            "{}",
            many.message
        );
        let args = reject(SubmissionRequest {
            args: Some(vec!["a".into(); 5]),
            ..request("x")
        });
        assert!(args.message.contains("maximum of 4"), "{}", args.message);
        let case = |stdin: &str| TestCaseInput {
            stdin: stdin.into(),
            expected_stdout: String::new(),
        };
        let tests = reject(SubmissionRequest {
            tests: Some(vec![case(""), case(""), case("")]),
            ..request("x")
        });
        assert!(tests.message.contains("maximum of 2"), "{}", tests.message);
        let big = reject(SubmissionRequest {
            tests: Some(vec![case(&"x".repeat(60)), case(&"y".repeat(60))]),
            ..request("x")
        });
        assert_eq!(big.code, "tests");
        assert!(
            big.message.contains("maximum of 100 bytes"),
            "{}",
            big.message
        );
        let unknown = reject(SubmissionRequest {
            language: "cobol".into(),
            ..request("x")
        });
        assert!(unknown.message.contains("python"), "{}", unknown.message);
    }

    /// Asking for more CPU time raises the default wall limit with it.
    #[test]
    fn wall_limit_follows_cpu_limit() {
        let req = SubmissionRequest {
            limits: Some(LimitsRequest {
                time_ms: Some(5000),
                ..Default::default()
            }),
            ..request("x")
        };
        let job = Job::from_request(req, "u", &languages(), &bounds()).unwrap();
        assert_eq!(job.limits.wall_ms, 10_000);
    }

    /// Arguments are bounded in bytes together, not only in number, and the
    /// refusal names the maximum.
    #[test]
    fn args_are_bounded_in_bytes() {
        let (langs, b) = (languages(), bounds());
        let with_args = |args: Vec<String>| SubmissionRequest {
            args: Some(args),
            ..request("x")
        };
        let fits = vec!["a".repeat(10), "b".repeat(10)];
        assert!(Job::from_request(with_args(fits), "u", &langs, &b).is_ok());
        let over = Job::from_request(with_args(vec!["a".repeat(21)]), "u", &langs, &b).unwrap_err();
        assert_eq!(over.code, "args");
        assert!(
            over.message.contains("maximum of 20 bytes"),
            "{}",
            over.message
        );
    }

    /// A job's worst-case wall time (wall limit × runs, plus compile for a
    /// compiled language) is bounded; the refusal names the bound and the
    /// sum, and each limit alone under its maximum does not get around it.
    #[test]
    fn total_wall_time_is_bounded() {
        let (langs, b) = (languages(), bounds());
        let case = || TestCaseInput {
            stdin: String::new(),
            expected_stdout: "1".into(),
        };
        let with = |wall_ms: u64, tests: usize| SubmissionRequest {
            limits: Some(LimitsRequest {
                wall_ms: Some(wall_ms),
                ..Default::default()
            }),
            tests: (tests > 0).then(|| (0..tests).map(|_| case()).collect()),
            ..request("x")
        };
        assert!(Job::from_request(with(20_000, 1), "u", &langs, &b).is_ok());
        assert!(Job::from_request(with(15_000, 2), "u", &langs, &b).is_ok());
        let over = Job::from_request(with(20_000, 2), "u", &langs, &b).unwrap_err();
        assert_eq!(over.code, "limits.total_wall_ms");
        assert!(
            over.message.contains("40000 ms") && over.message.contains("maximum of 30000 ms"),
            "{}",
            over.message
        );
        let limits = Limits {
            wall_ms: 1_000,
            ..b.default_limits
        };
        assert_eq!(total_wall_ms(&limits, true, 5_000, 3), 8_000);
        assert_eq!(total_wall_ms(&limits, false, 5_000, 0), 1_000);
    }

    /// Compiler flags go through the compiler's allow-list: tuning flags
    /// become the job's `compile_args`; a flag that runs another program
    /// is refused with the `compile_args` code and the flag in the message.
    #[test]
    fn compile_args_are_checked_against_the_allow_list() {
        let c = Languages::parse(
            "[[language]]\nid='c'\nname='C'\nversion='1'\nimage='rce-c'\nfile='main.c'\ncompile=['gcc','-o','main','main.c']\nrun=['./main']\n",
        )
        .unwrap();
        let submission = |flags: &[&str]| SubmissionRequest {
            language: "c".into(),
            source: Some("int main(){}".into()),
            compile_args: Some(flags.iter().map(|f| f.to_string()).collect()),
            ..Default::default()
        };
        let job = Job::from_request(submission(&["-O2", "-DX=1"]), "u", &c, &bounds()).unwrap();
        assert_eq!(job.compile_args, ["-O2", "-DX=1"]);
        let refused =
            Job::from_request(submission(&["-wrapper,/bin/sh"]), "u", &c, &bounds()).unwrap_err();
        assert_eq!(refused.code, "compile_args");
        assert!(
            refused.message.contains("\"-wrapper,/bin/sh\""),
            "{}",
            refused.message
        );
    }
}
