//! A Piston `execute` (or WebSocket `init`) body: read from JSON whatever
//! the content type (npm `piston-client` sends `text/plain`), or from a
//! form (PyPI `pistonapi` posts `files=<code>` as a plain string, `args`
//! repeated), checked with Piston's messages, and turned into an rce
//! [`SubmissionRequest`]. The first file is the program (saved under the
//! language's entry file name); `-1` or `0` limits mean the default;
//! compile-stage limits are checked but the compile stage keeps the
//! server's own limits.

use super::runtimes::{self, Runtime};
use crate::job::{FileInput, LimitsRequest, SubmissionBounds, SubmissionRequest};
use crate::languages::Languages;
use base64::Engine;
use serde_json::{Map, Value};

/// A checked body.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub runtime: Runtime,
    pub request: SubmissionRequest,
}

/// The body as a JSON object: JSON first, then a form.
pub fn body_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    if let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(bytes) {
        return Ok(object);
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
        .map_err(|_| "the body must be JSON or a form".to_string())?;
    if pairs.is_empty() {
        return Err("the body must be JSON or a form".into());
    }
    let mut object = Map::new();
    let mut files = Vec::new();
    let mut args = Vec::new();
    for (key, value) in pairs {
        match key.trim_end_matches("[]") {
            "files" => files.push(Value::String(value)),
            "args" => args.push(Value::String(value)),
            key => {
                object.insert(key.to_string(), Value::String(value));
            }
        }
    }
    if !files.is_empty() {
        object.insert("files".into(), Value::Array(files));
    }
    object.insert("args".into(), Value::Array(args));
    Ok(object)
}

/// An optional limit: absent, `0` or `-1` is `None`; numbers may come as
/// strings (forms).
fn limit(body: &Map<String, Value>, name: &str, max: u64) -> Result<Option<u64>, String> {
    let value = match body.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    let value = value
        .filter(|v| v.is_finite())
        .ok_or(format!("If specified, {name} must be a number"))?;
    if value == 0.0 || value == -1.0 {
        return Ok(None);
    }
    if value < 0.0 {
        return Err(format!("{name} must be non-negative"));
    }
    if value > max as f64 {
        return Err(format!(
            "{name} cannot exceed the configured limit of {max}"
        ));
    }
    Ok(Some(value.ceil() as u64))
}

/// One file's text, decoded from its `encoding`.
fn file_text(index: usize, file: &Value) -> Result<(Option<String>, String), String> {
    let (name, content, encoding) = match file {
        Value::String(content) => (None, content.clone(), "utf8"),
        Value::Object(object) => {
            let content = object
                .get("content")
                .and_then(Value::as_str)
                .ok_or(format!("files[{index}].content is required as a string"))?
                .to_string();
            let name = object
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .map(str::to_string);
            (
                name,
                content,
                object
                    .get("encoding")
                    .and_then(Value::as_str)
                    .unwrap_or("utf8"),
            )
        }
        _ => return Err(format!("files[{index}].content is required as a string")),
    };
    let bytes = match encoding {
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(content.trim())
            .map_err(|_| format!("files[{index}] is not valid base64"))?,
        "hex" => (0..content.len())
            .step_by(2)
            .map(|i| {
                content
                    .get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or(format!("files[{index}] is not valid hex"))?,
        _ => return Ok((name, content)),
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("files[{index}] must be UTF-8 text once decoded"))?;
    Ok((name, text))
}

/// Reads and checks one body against the languages and the server's bounds.
pub fn parse(
    body: &Map<String, Value>,
    languages: &Languages,
    bounds: &SubmissionBounds,
) -> Result<Parsed, String> {
    let language = body
        .get("language")
        .and_then(Value::as_str)
        .filter(|l| !l.is_empty())
        .ok_or("language is required as a string")?;
    let version = match body.get("version") {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) if v.is_empty() => None,
        Some(Value::String(v)) => Some(v.as_str()),
        Some(_) => return Err("version is required as a string".into()),
    };
    let files = body
        .get("files")
        .and_then(Value::as_array)
        .ok_or("files is required as an array")?;
    let files: Vec<(Option<String>, String)> = files
        .iter()
        .enumerate()
        .map(|(i, f)| file_text(i, f))
        .collect::<Result<_, _>>()?;
    let runtime = runtimes::find(languages, language, version)
        .ok_or_else(|| format!("{language}-{} runtime is unknown", version.unwrap_or("*")))?;
    let entry = languages
        .get(&runtime.rce_id)
        .map(|l| l.file.clone())
        .ok_or("runtime is unknown")?;
    let (first, rest) = files
        .split_first()
        .ok_or("files must hold at least one file")?;
    let request_files = named_files(&entry, first, rest)?;
    let args = args_of(body)?;
    let stdin = match body.get("stdin") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("stdin must be a string".into()),
    };
    let max = bounds.max_limits;
    let wall_ms = limit(body, "run_timeout", max.wall_ms)?;
    let time_ms = limit(body, "run_cpu_time", max.time_ms)?;
    let memory = limit(body, "run_memory_limit", max.memory_mb * 1024 * 1024)?;
    // Checked as Piston checks them; the compile stage runs under the
    // server's own compile limits.
    limit(body, "compile_timeout", u64::MAX)?;
    limit(body, "compile_cpu_time", u64::MAX)?;
    limit(body, "compile_memory_limit", u64::MAX)?;
    let request = SubmissionRequest {
        language: runtime.rce_id.clone(),
        source: request_files.is_none().then(|| first.1.clone()),
        files: request_files,
        stdin,
        args: Some(args),
        limits: Some(LimitsRequest {
            time_ms,
            wall_ms,
            memory_mb: memory.map(|bytes| bytes.div_ceil(1024 * 1024)),
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok(Parsed { runtime, request })
}

/// The files as rce takes them: `None` for a lone file (it is the source);
/// otherwise the first under the language's entry name and the rest under
/// their own names (`file<n>.code` when unnamed), none of them taking the
/// entry's name.
fn named_files(
    entry: &str,
    first: &(Option<String>, String),
    rest: &[(Option<String>, String)],
) -> Result<Option<Vec<FileInput>>, String> {
    if rest.is_empty() {
        return Ok(None);
    }
    let mut out = vec![FileInput {
        name: entry.to_string(),
        content: first.1.clone(),
    }];
    for (index, (name, content)) in rest.iter().enumerate() {
        let name = name
            .clone()
            .unwrap_or_else(|| format!("file{}.code", index + 1));
        if name == entry {
            return Err(format!(
                "files[{}] is named {entry}, the name the first file runs as",
                index + 1
            ));
        }
        out.push(FileInput {
            name,
            content: content.clone(),
        });
    }
    Ok(Some(out))
}

/// `args`: absent or null for none, else an array of strings (numbers are
/// taken as their text, as Piston's Node server does).
fn args_of(body: &Map<String, Value>) -> Result<Vec<String>, String> {
    match body.get("args") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|a| match a {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err("args must be an array of strings".to_string()),
            })
            .collect(),
        Some(_) => Err("args must be an array of strings".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn languages() -> Languages {
        Languages::parse(
            "[[language]]\nid='python'\nname='Python'\nversion='3.11'\naliases=['py']\nimage='i'\nfile='main.py'\nrun=['python3','main.py']\n",
        )
        .unwrap()
    }

    /// The bounds a server with default settings applies.
    fn bounds() -> SubmissionBounds {
        crate::sandbox::SandboxSettings::default().bounds()
    }

    /// piston-client's body (JSON sent as text/plain, nameless file, -1
    /// memory limits) maps onto a plain source with default memory.
    #[test]
    fn piston_client_body() {
        let body = br#"{"language":"python","files":[{"content":"print(1)"}],"stdin":"","args":["1","2","3"],
            "compile_timeout":10000,"run_timeout":3000,"compile_memory_limit":-1,"run_memory_limit":-1}"#;
        let parsed = parse(&body_object(body).unwrap(), &languages(), &bounds()).unwrap();
        assert_eq!(parsed.runtime.version, "3.11.0");
        assert_eq!(parsed.request.source.as_deref(), Some("print(1)"));
        assert_eq!(parsed.request.args.unwrap(), ["1", "2", "3"]);
        let limits = parsed.request.limits.unwrap();
        assert_eq!((limits.wall_ms, limits.memory_mb), (Some(3000), None));
    }

    /// pistonapi's form (files as a plain string, args repeated, numbers as
    /// strings) is read too.
    #[test]
    fn pistonapi_form_body() {
        let body = b"language=py&version=3.11.0&files=print%28input%28%29%29&stdin=hi&args=a&args=b&timeout=10000";
        let parsed = parse(&body_object(body).unwrap(), &languages(), &bounds()).unwrap();
        assert_eq!(parsed.request.source.as_deref(), Some("print(input())"));
        assert_eq!(parsed.request.stdin.as_deref(), Some("hi"));
        assert_eq!(parsed.request.args.unwrap(), ["a", "b"]);
    }

    /// Piston's messages for bad bodies, and multi-file bodies keep the
    /// first file as the program.
    #[test]
    fn errors_and_files() {
        let check = |body: &str| {
            parse(
                &body_object(body.as_bytes()).unwrap(),
                &languages(),
                &bounds(),
            )
        };
        assert_eq!(
            check(r#"{"files":[]}"#).unwrap_err(),
            "language is required as a string"
        );
        assert_eq!(
            check(r#"{"language":"python"}"#).unwrap_err(),
            "files is required as an array"
        );
        assert_eq!(
            check(r#"{"language":"cobol","files":[{"content":"x"}]}"#).unwrap_err(),
            "cobol-* runtime is unknown"
        );
        assert_eq!(
            check(r#"{"language":"python","files":[{"content":"x"}],"run_timeout":999999}"#)
                .unwrap_err(),
            "run_timeout cannot exceed the configured limit of 60000"
        );
        assert_eq!(
            check(r#"{"language":"python","files":[{"content":"x"}],"run_timeout":"soon"}"#)
                .unwrap_err(),
            "If specified, run_timeout must be a number"
        );
        let multi = check(
            r#"{"language":"python","files":[{"name":"app.py","content":"import util"},{"name":"util.py","content":"x=1","encoding":"utf8"},{"content":"aGk=","encoding":"base64"}]}"#,
        )
        .unwrap();
        let files = multi.request.files.unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["main.py", "util.py", "file2.code"]);
        assert_eq!(files[2].content, "hi");
    }
}
