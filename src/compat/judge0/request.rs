//! A Judge0 submission body, checked the way Judge0 checks it (every field's
//! problems collected into `{"field": ["message", …]}` for a 422) and turned
//! into an rce [`SubmissionRequest`] plus the Judge0-only fields rce keeps
//! beside the job ([`Extras`]): what the client asked for, echoed back by
//! `fields=*`, and the few that change how a result is shown.

use super::format::{decode64, seconds_to_ms};
use super::tables::{language_by_id, Judge0Language};
use crate::compat::settings::Judge0Settings;
use crate::job::{LimitsRequest, SubmissionBounds, SubmissionRequest, TestCaseInput};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Judge0's default and largest `number_of_runs` (rce runs a program once
/// and reports that run, whatever the number).
pub const MAX_NUMBER_OF_RUNS: u64 = 20;
/// Judge0's default and largest `stack_limit` in KB (accepted and echoed;
/// the stack is bounded by the memory limit here).
pub const STACK_LIMIT_KB: u64 = 64_000;
pub const MAX_STACK_LIMIT_KB: u64 = 128_000;
/// Judge0's smallest memory limit, in KB.
pub const MIN_MEMORY_LIMIT_KB: f64 = 2048.0;
/// Judge0's default and largest `cpu_extra_time` (accepted and echoed; the
/// CPU limit is enforced without grace here).
pub const CPU_EXTRA_TIME: f64 = 1.0;
pub const MAX_CPU_EXTRA_TIME: f64 = 5.0;

/// The rce languages with a compile step (the ones `compiler_options`
/// applies to).
pub const COMPILED: &[&str] = &["c", "cpp", "java", "go", "rust"];

/// Longest `callback_url`, in bytes (it is kept beside the job in Redis).
pub const MAX_CALLBACK_URL_BYTES: usize = 2048;

/// Per-field validation messages, as Judge0's 422 body.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// What Judge0 clients may set that the rce job does not hold, kept beside
/// the job so results can be shown as Judge0 shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extras {
    pub language_id: u32,
    pub number_of_runs: u64,
    pub cpu_time_limit: f64,
    pub cpu_extra_time: f64,
    pub wall_time_limit: f64,
    pub memory_limit: u64,
    pub stack_limit: u64,
    pub max_processes_and_or_threads: u64,
    pub enable_per_process_and_thread_time_limit: bool,
    pub enable_per_process_and_thread_memory_limit: bool,
    pub max_file_size: u64,
    pub compiler_options: Option<String>,
    pub command_line_arguments: Option<String>,
    pub redirect_stderr_to_stdout: bool,
    pub callback_url: Option<String>,
    pub enable_network: bool,
    /// The request asked for Base64 (the callback answers the same way).
    pub base64_encoded: bool,
}

/// A checked submission.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub request: SubmissionRequest,
    pub extras: Extras,
}

/// Collects problems while reading the body.
struct Reader<'a> {
    body: &'a Map<String, Value>,
    errors: FieldErrors,
    base64: bool,
}

impl Reader<'_> {
    fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .entry(field.to_string())
            .or_default()
            .push(message.into());
    }

    fn present(&self, field: &str) -> Option<&Value> {
        self.body.get(field).filter(|v| !v.is_null())
    }

    /// A text field (Base64-decoded when asked), `None` when absent.
    fn text(&mut self, field: &str, encoded: bool) -> Option<String> {
        let value = self.present(field)?.clone();
        let Value::String(text) = value else {
            self.fail(field, "must be a string");
            return None;
        };
        if !(encoded && self.base64) {
            return Some(text);
        }
        let Some(bytes) = decode64(&text) else {
            self.fail(field, "is not valid Base64");
            return None;
        };
        match String::from_utf8(bytes) {
            Ok(text) => Some(text),
            Err(_) => {
                self.fail(field, "must be UTF-8 text once decoded");
                None
            }
        }
    }

    /// A number (JSON number or numeric string, as Rails accepts it).
    fn number(&mut self, field: &str) -> Option<f64> {
        let value = self.present(field)?.clone();
        let number = match &value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match number.filter(|n| n.is_finite()) {
            Some(n) => Some(n),
            None => {
                self.fail(field, "is not a number");
                None
            }
        }
    }

    /// A number within `min..=max`, else `default`.
    fn bounded(&mut self, field: &str, default: f64, min: f64, max: f64) -> f64 {
        let Some(value) = self.number(field) else {
            return default;
        };
        if value < min {
            self.fail(
                field,
                format!("must be greater than or equal to {}", show(min)),
            );
        } else if value > max {
            self.fail(
                field,
                format!("must be less than or equal to {}", show(max)),
            );
        }
        value
    }

    fn boolean(&mut self, field: &str) -> bool {
        match self.present(field) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s == "true" || s == "1" => true,
            Some(Value::String(s)) if s == "false" || s == "0" => false,
            Some(_) => {
                self.fail(field, "must be true or false");
                false
            }
        }
    }
}

/// A bound as Judge0 prints it (`15`, `0.5`).
fn show(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// Splits a command line the way a shell would split words (quotes and
/// backslashes), without running one. `None` for an unclosed quote.
pub fn split_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\' | '$' | '`') => word.push(c),
                            '\n' => {}
                            c => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    if c != '\n' {
                        word.push(c);
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

/// Judge0's resource limits as the client set them (or their defaults), in
/// Judge0's units: seconds, KB, counts.
struct Judge0Limits {
    number_of_runs: f64,
    cpu_time_limit: f64,
    cpu_extra_time: f64,
    wall_time_limit: f64,
    memory_limit: f64,
    stack_limit: f64,
    max_processes: f64,
    max_file_size: f64,
}

impl Judge0Limits {
    /// The same limits in rce's units, never below what rce accepts.
    fn to_rce(&self) -> LimitsRequest {
        let time_ms = seconds_to_ms(self.cpu_time_limit).max(1);
        let wall_ms = seconds_to_ms(self.wall_time_limit).max(1);
        LimitsRequest {
            time_ms: Some(time_ms),
            wall_ms: Some(wall_ms.max(time_ms)),
            memory_mb: Some(((self.memory_limit / 1024.0).ceil() as u64).max(1)),
            pids: Some(self.max_processes as u64),
            output_kb: Some(self.max_file_size as u64),
        }
    }
}

/// The two argument strings as the client sent them (echoed by
/// `fields=*`) and split into argv words.
struct Arguments {
    compiler_options: Option<String>,
    command_line_arguments: Option<String>,
    compile_args: Option<Vec<String>>,
    args: Option<Vec<String>>,
}

impl Reader<'_> {
    /// `source_code`, which must be there and not blank.
    fn source_code(&mut self) -> Option<String> {
        let source = self.text("source_code", true);
        if source.as_deref().is_none_or(|s| s.trim().is_empty())
            && !self.errors.contains_key("source_code")
        {
            self.fail("source_code", "can't be blank");
        }
        source
    }

    /// `language_id`, which must be there and name a language in the table.
    fn language(&mut self) -> Option<&'static Judge0Language> {
        match self.number("language_id") {
            None if !self.errors.contains_key("language_id") => {
                self.fail("language_id", "can't be blank");
                None
            }
            None => None,
            Some(id) => {
                let found = (id.fract() == 0.0 && id >= 0.0 && id <= f64::from(u32::MAX))
                    .then(|| language_by_id(id as u32))
                    .flatten();
                if found.is_none() {
                    self.fail(
                        "language_id",
                        format!("language with id {} doesn't exist", show(id)),
                    );
                }
                found
            }
        }
    }

    /// The limits, each within Judge0's range capped by this server's
    /// bounds, with this server's defaults.
    fn limits(&mut self, bounds: &SubmissionBounds) -> Judge0Limits {
        let (default, max) = (bounds.default_limits, bounds.max_limits);
        Judge0Limits {
            number_of_runs: self.bounded("number_of_runs", 1.0, 1.0, MAX_NUMBER_OF_RUNS as f64),
            cpu_time_limit: self.bounded(
                "cpu_time_limit",
                default.time_ms as f64 / 1000.0,
                0.0,
                max.time_ms as f64 / 1000.0,
            ),
            cpu_extra_time: self.bounded("cpu_extra_time", CPU_EXTRA_TIME, 0.0, MAX_CPU_EXTRA_TIME),
            wall_time_limit: self.bounded(
                "wall_time_limit",
                default.wall_ms.max(default.time_ms * 2) as f64 / 1000.0,
                0.0,
                max.wall_ms as f64 / 1000.0,
            ),
            memory_limit: self.bounded(
                "memory_limit",
                (default.memory_mb * 1024) as f64,
                MIN_MEMORY_LIMIT_KB,
                (max.memory_mb * 1024) as f64,
            ),
            stack_limit: self.bounded(
                "stack_limit",
                STACK_LIMIT_KB as f64,
                0.0,
                MAX_STACK_LIMIT_KB as f64,
            ),
            max_processes: self.bounded(
                "max_processes_and_or_threads",
                default.pids as f64,
                1.0,
                max.pids as f64,
            ),
            max_file_size: self.bounded(
                "max_file_size",
                default.output_kb as f64,
                1.0,
                max.output_kb as f64,
            ),
        }
    }

    /// Splits `text` (the value of `field`) into argv words as a shell
    /// would. The string itself is kept (echoed by `fields=*`) beside its
    /// words, so it is bounded like the words' total, `max_bytes`.
    fn words(&mut self, field: &str, text: Option<&str>, max_bytes: u64) -> Option<Vec<String>> {
        if let Some(text) = text.filter(|t| t.len() as u64 > max_bytes) {
            self.fail(
                field,
                format!(
                    "is {} bytes, over the maximum of {max_bytes} bytes",
                    text.len()
                ),
            );
        }
        match text.map(split_words) {
            None => None,
            Some(Some(words)) => Some(words),
            Some(None) => {
                self.fail(field, "has an unclosed quote");
                None
            }
        }
    }

    /// `compiler_options` (only for compiled languages) and
    /// `command_line_arguments`, as sent and as argv words.
    fn arguments(&mut self, language: Option<&Judge0Language>, max_bytes: u64) -> Arguments {
        let compiler_options = self
            .text("compiler_options", false)
            .filter(|s| !s.trim().is_empty());
        let command_line_arguments = self.text("command_line_arguments", false);
        let compile_args = self.words("compiler_options", compiler_options.as_deref(), max_bytes);
        if compile_args.is_some() && language.is_some_and(|l| !COMPILED.contains(&l.language)) {
            self.fail(
                "compiler_options",
                "setting compiler options is only allowed for compiled languages",
            );
        }
        let args = self.words(
            "command_line_arguments",
            command_line_arguments.as_deref(),
            max_bytes,
        );
        Arguments {
            compiler_options,
            command_line_arguments,
            compile_args,
            args,
        }
    }

    /// `callback_url`: bounded, allowed on this server and well-formed.
    fn callback_url(&mut self, settings: &Judge0Settings) -> Option<String> {
        let callback_url = self.text("callback_url", false).filter(|s| !s.is_empty());
        if let Some(url) = &callback_url {
            if url.len() > MAX_CALLBACK_URL_BYTES {
                self.fail(
                    "callback_url",
                    format!(
                        "is {} bytes, over the maximum of {MAX_CALLBACK_URL_BYTES} bytes",
                        url.len()
                    ),
                );
            } else if !settings.callbacks_enabled() {
                self.fail("callback_url", "callbacks are disabled on this server");
            } else if let Err(problem) = super::callbacks::check_url_syntax(url, settings) {
                self.fail("callback_url", problem);
            }
        }
        callback_url
    }
}

/// Reads and checks one submission body.
pub fn parse(
    body: &Value,
    base64: bool,
    bounds: &SubmissionBounds,
    settings: &Judge0Settings,
) -> Result<Parsed, FieldErrors> {
    let Some(object) = body.as_object() else {
        let mut errors = FieldErrors::new();
        errors.insert(
            "base".into(),
            vec!["the submission must be a JSON object".into()],
        );
        return Err(errors);
    };
    let mut reader = Reader {
        body: object,
        errors: FieldErrors::new(),
        base64,
    };
    let source = reader.source_code();
    let language = reader.language();
    let stdin = reader.text("stdin", true);
    let expected_output = reader.text("expected_output", true);
    if reader.present("additional_files").is_some() {
        reader.fail("additional_files", "additional files are not supported");
    }
    let limits = reader.limits(bounds);
    let per_process_time = reader.boolean("enable_per_process_and_thread_time_limit");
    let per_process_memory = reader.boolean("enable_per_process_and_thread_memory_limit");
    let redirect = reader.boolean("redirect_stderr_to_stdout");
    let enable_network = reader.boolean("enable_network");
    if enable_network {
        reader.fail("enable_network", "enabling network is not allowed");
    }
    let arguments = reader.arguments(language, bounds.max_args_bytes);
    let callback_url = reader.callback_url(settings);

    if !reader.errors.is_empty() {
        return Err(reader.errors);
    }
    // Unwraps below are avoided: the checks above leave these set.
    let (Some(language), Some(source)) = (language, source) else {
        return Err(reader.errors);
    };
    let tests = expected_output.clone().map(|expected| {
        vec![TestCaseInput {
            stdin: stdin.clone().unwrap_or_default(),
            expected_stdout: expected,
        }]
    });
    let request = SubmissionRequest {
        language: language.language.to_string(),
        source: Some(source),
        stdin: if tests.is_some() { None } else { stdin },
        args: arguments.args,
        limits: Some(limits.to_rce()),
        tests,
        compile_args: arguments.compile_args,
        ..Default::default()
    };
    let extras = Extras {
        language_id: language.id,
        number_of_runs: limits.number_of_runs as u64,
        cpu_time_limit: limits.cpu_time_limit,
        cpu_extra_time: limits.cpu_extra_time,
        wall_time_limit: limits.wall_time_limit,
        memory_limit: limits.memory_limit as u64,
        stack_limit: limits.stack_limit as u64,
        max_processes_and_or_threads: limits.max_processes as u64,
        enable_per_process_and_thread_time_limit: per_process_time,
        enable_per_process_and_thread_memory_limit: per_process_memory,
        max_file_size: limits.max_file_size as u64,
        compiler_options: arguments.compiler_options,
        command_line_arguments: arguments.command_line_arguments,
        redirect_stderr_to_stdout: redirect,
        callback_url,
        enable_network,
        base64_encoded: base64,
    };
    Ok(Parsed { request, extras })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The bounds a server with default settings applies.
    fn bounds() -> SubmissionBounds {
        crate::sandbox::SandboxSettings::default().bounds()
    }

    fn parse_plain(body: &Value) -> Result<Parsed, FieldErrors> {
        parse(body, false, &bounds(), &Judge0Settings::default())
    }

    /// A full body becomes the rce request: limits in rce units, arguments
    /// split like a shell would, expected output as one test case.
    #[test]
    fn body_maps_to_an_rce_request() {
        let parsed = parse_plain(&json!({
            "source_code": "print(input())", "language_id": 71, "stdin": "x",
            "expected_output": "x", "cpu_time_limit": "2.5", "memory_limit": 128000.0,
            "command_line_arguments": "a 'b c' \"d\\\"e\"", "max_file_size": 64,
        }))
        .unwrap();
        let request = parsed.request;
        assert_eq!(request.language, "python");
        assert_eq!(request.stdin, None);
        assert_eq!(request.tests.unwrap()[0].stdin, "x");
        assert_eq!(request.args.unwrap(), ["a", "b c", "d\"e"]);
        let limits = request.limits.unwrap();
        assert_eq!(limits.time_ms, Some(2500));
        assert_eq!(limits.memory_mb, Some(125));
        assert_eq!(limits.output_kb, Some(64));
        assert_eq!(parsed.extras.cpu_time_limit, 2.5);
    }

    /// Problems come back per field with Judge0's wording; an unknown
    /// language id is one of them.
    #[test]
    fn problems_are_listed_per_field() {
        let errors = parse_plain(&json!({
            "language_id": 9999, "cpu_time_limit": 99, "memory_limit": 10, "enable_network": true,
        }))
        .unwrap_err();
        assert_eq!(errors["source_code"], ["can't be blank"]);
        assert_eq!(
            errors["language_id"],
            ["language with id 9999 doesn't exist"]
        );
        assert_eq!(
            errors["cpu_time_limit"],
            ["must be less than or equal to 30"]
        );
        assert_eq!(
            errors["memory_limit"],
            ["must be greater than or equal to 2048"]
        );
        assert_eq!(
            errors["enable_network"],
            ["enabling network is not allowed"]
        );
        let no_callbacks = parse_plain(&json!({
            "source_code": "x", "language_id": 71, "callback_url": "http://example.com/cb",
        }))
        .unwrap_err();
        assert!(no_callbacks.contains_key("callback_url"));
    }

    /// Base64 fields are decoded (line breaks allowed); bad Base64 is a field error.
    #[test]
    fn base64_fields_are_decoded() {
        let body = json!({"source_code": "cHJp\nbnQoMSk=\n", "language_id": 71, "stdin": "!!"});
        let errors = parse(&body, true, &bounds(), &Judge0Settings::default()).unwrap_err();
        assert_eq!(errors["stdin"], ["is not valid Base64"]);
        let body = json!({"source_code": "cHJp\nbnQoMSk=\n", "language_id": 71});
        let parsed = parse(&body, true, &bounds(), &Judge0Settings::default()).unwrap();
        assert_eq!(parsed.request.source.as_deref(), Some("print(1)"));
    }

    /// `compiler_options` become argv words for compiled languages and are
    /// refused for interpreted ones.
    #[test]
    fn compiler_options_become_compile_args() {
        let parsed = parse_plain(&json!({
            "source_code": "int main(){}", "language_id": 50, "compiler_options": "-O0 -DNAME='\"x y\"'",
        }))
        .unwrap();
        assert_eq!(
            parsed.request.compile_args.unwrap(),
            ["-O0", "-DNAME=\"x y\""]
        );
        let errors = parse_plain(&json!({
            "source_code": "print(1)", "language_id": 71, "compiler_options": "-O2",
        }))
        .unwrap_err();
        assert_eq!(
            errors["compiler_options"],
            ["setting compiler options is only allowed for compiled languages"]
        );
    }

    /// Words split like a shell's, without one; an open quote is refused.
    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(
            split_words("  a  b\\ c 'd e' \"$f\"").unwrap(),
            ["a", "b c", "d e", "$f"]
        );
        assert_eq!(split_words("''").unwrap(), [""]);
        assert!(split_words("'open").is_none());
    }

    /// The Judge0 strings kept beside a job are bounded: compiler options
    /// and arguments by `sandbox.max_args_bytes`, the callback URL by
    /// [`MAX_CALLBACK_URL_BYTES`]; each refusal names its field and maximum.
    #[test]
    fn kept_strings_are_bounded() {
        let long = "x".repeat(64 * 1024 + 1);
        let errors = parse_plain(&json!({
            "source_code": "int main(){}", "language_id": 50,
            "compiler_options": long, "command_line_arguments": long,
        }))
        .unwrap_err();
        for field in ["compiler_options", "command_line_arguments"] {
            assert!(
                errors[field][0].contains("maximum of 65536 bytes"),
                "{errors:?}"
            );
        }
        let url = format!("http://example.com/{}", "c".repeat(MAX_CALLBACK_URL_BYTES));
        let errors = parse_plain(&json!({
            "source_code": "print(1)", "language_id": 71, "callback_url": url,
        }))
        .unwrap_err();
        assert!(errors["callback_url"][0].contains("2048"), "{errors:?}");
    }
}
