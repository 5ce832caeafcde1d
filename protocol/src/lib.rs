//! rce-protocol: the wire format between a worker (SandboxActor) and `rce-runner`
//! inside a sandbox container, shared by both sides so they cannot drift.
//!
//! The container's stdin carries frames *to* the runner (one `Job`, then any
//! number of `Stdin` chunks and at most one `StdinEnd`); the runner's stdout
//! carries frames *from* it (`Stage`, `Stdout`/`Stderr` chunks while the program
//! runs, then exactly one `Result`). A frame is a one-byte kind, a big-endian
//! u32 payload length and the payload: raw bytes for stdin/stdout/stderr,
//! JSON for everything else. User code runs under another uid and never holds
//! the runner's stdout, so it cannot forge a frame or its own result.

use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

/// Largest payload a frame may carry. A job frame holds every submitted file,
/// so this bounds the job size; output chunks are far smaller.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Bytes of the frame header: kind (1) + payload length (4).
pub const HEADER_BYTES: usize = 5;

/// What a frame carries; the byte value is the wire encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// Worker → runner: the JSON [`JobSpec`]. Always the first frame.
    Job = 1,
    /// Worker → runner: raw bytes for the program's stdin (interactive jobs).
    Stdin = 2,
    /// Worker → runner: end of the program's stdin (interactive jobs).
    StdinEnd = 3,
    /// Worker → runner: what an earlier, identical compile left in the work
    /// dir ([`pack_artifacts`]); right after the job frame when
    /// [`JobSpec::prebuilt`] is set.
    Prebuilt = 4,
    /// Runner → worker: JSON [`StageEvent`] when a stage starts.
    Stage = 16,
    /// Runner → worker: raw stdout bytes of the running program.
    Stdout = 17,
    /// Runner → worker: raw stderr bytes of the running program.
    Stderr = 18,
    /// Runner → worker: the JSON [`RunReport`]. Always the last frame.
    Result = 19,
    /// Runner → worker: what the compile left in the work dir
    /// ([`pack_artifacts`]), sent after a successful compile and before the
    /// program runs, when [`JobSpec::collect_artifacts`] is set and it fits.
    Built = 20,
}

impl FrameKind {
    pub fn from_byte(byte: u8) -> Option<FrameKind> {
        Some(match byte {
            1 => FrameKind::Job,
            2 => FrameKind::Stdin,
            3 => FrameKind::StdinEnd,
            4 => FrameKind::Prebuilt,
            16 => FrameKind::Stage,
            17 => FrameKind::Stdout,
            18 => FrameKind::Stderr,
            19 => FrameKind::Result,
            20 => FrameKind::Built,
            _ => return None,
        })
    }
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: FrameKind,
    pub payload: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    #[error("frame of {0} bytes is over the {MAX_FRAME_BYTES} byte maximum")]
    TooLarge(usize),
    #[error("frame payload is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("frame i/o: {0}")]
    Io(#[from] io::Error),
}

impl Frame {
    pub fn new(kind: FrameKind, payload: Vec<u8>) -> Frame {
        Frame { kind, payload }
    }

    /// A frame whose payload is `value` as JSON.
    pub fn json<T: Serialize>(kind: FrameKind, value: &T) -> Result<Frame, FrameError> {
        Ok(Frame::new(kind, serde_json::to_vec(value)?))
    }

    /// The payload parsed as JSON.
    pub fn parse<T: for<'de> Deserialize<'de>>(&self) -> Result<T, FrameError> {
        Ok(serde_json::from_slice(&self.payload)?)
    }

    /// Header and payload, ready to write.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        Frame::encode_into(self.kind, &self.payload, &mut bytes);
        bytes
    }

    /// Appends the encoding of a frame of `kind` carrying `payload` to
    /// `bytes`, for a payload the caller keeps (no copy into a `Frame`).
    pub fn encode_into(kind: FrameKind, payload: &[u8], bytes: &mut Vec<u8>) {
        bytes.reserve(HEADER_BYTES + payload.len());
        bytes.push(kind as u8);
        bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        bytes.extend_from_slice(payload);
    }

    /// Writes the frame with one `write_all` (a frame is never interleaved
    /// with another writer's bytes as long as writers share one lock).
    pub fn write_to<W: Write>(&self, writer: &mut W) -> io::Result<()> {
        writer.write_all(&self.encode())?;
        writer.flush()
    }

    /// Reads one frame; `Ok(None)` on a clean end of stream before a header.
    pub fn read_from<R: Read>(reader: &mut R) -> Result<Option<Frame>, FrameError> {
        let mut header = [0u8; HEADER_BYTES];
        match reader.read_exact(&mut header[..1]) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        reader.read_exact(&mut header[1..])?;
        let (kind, len) = parse_header(&header)?;
        let mut payload = vec![0u8; len];
        reader.read_exact(&mut payload)?;
        Ok(Some(Frame { kind, payload }))
    }
}

fn parse_header(header: &[u8; HEADER_BYTES]) -> Result<(FrameKind, usize), FrameError> {
    let kind = FrameKind::from_byte(header[0]).ok_or(FrameError::UnknownKind(header[0]))?;
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(len));
    }
    Ok((kind, len))
}

/// Incremental decoder for frames arriving in arbitrary chunks (the worker
/// reads the container's stdout as a stream of byte chunks). Holds at most one
/// partial frame.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
}

impl FrameDecoder {
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    /// Appends a chunk of the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buffer.extend_from_slice(chunk);
    }

    /// The next complete frame, if the buffer holds one.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.buffer.len() < HEADER_BYTES {
            return Ok(None);
        }
        let mut header = [0u8; HEADER_BYTES];
        header.copy_from_slice(&self.buffer[..HEADER_BYTES]);
        let (kind, len) = parse_header(&header)?;
        if self.buffer.len() < HEADER_BYTES + len {
            return Ok(None);
        }
        let payload = self.buffer[HEADER_BYTES..HEADER_BYTES + len].to_vec();
        self.buffer.drain(..HEADER_BYTES + len);
        Ok(Some(Frame { kind, payload }))
    }

    /// Bytes received that do not yet form a whole frame.
    pub fn pending_bytes(&self) -> usize {
        self.buffer.len()
    }
}

/// A file to write into the work directory before compiling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFile {
    /// Relative path inside the work dir (`main.py`, `src/lib.rs`).
    pub name: String,
    pub content: String,
}

/// Resource limits of one stage (compile, or one run of the program).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageLimits {
    /// CPU time of the stage's process tree.
    pub cpu_time_ms: u64,
    /// Wall-clock time from exec to exit.
    pub wall_time_ms: u64,
    /// Peak resident memory of the stage's process tree.
    pub memory_kb: u64,
    /// Processes and threads the program uid may hold at once.
    pub processes: u64,
    /// Bytes of stdout + stderr kept; beyond it the program is stopped.
    pub output_bytes: u64,
    /// Largest file the program may write (RLIMIT_FSIZE).
    pub file_size_bytes: u64,
}

/// The environment variable a warm container's runner reads its
/// [`PreloadSpec`] from (JSON).
pub const PRELOAD_ENV: &str = "RCE_PRELOAD";

/// A language runtime the runner of a warm container starts before any job
/// arrives (its launcher), so a job only pays for its own program: the
/// launcher does the runtime's slow start, then waits on descriptor 3. For a
/// job whose run command is `run` (plus the job's arguments) with exactly
/// these `limits`, and whose compile stage does not run, the runner writes
/// the work dir, then the go signal to descriptor 3: a big-endian u32
/// length, then the job's whole run argv (each argument followed by a NUL
/// byte); it keeps its end open until the run ends. From then on the
/// launcher behaves as `run` would (arguments, stdin, output, exit status);
/// wall time counts from the go signal and CPU time without the warm-up.
/// Any other job (or one a [`PreloadSpec::cold_marker`] rules out) has the
/// launcher killed before its first stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreloadSpec {
    /// The launcher's argv (no shell), started as the sandbox uid in the work dir.
    pub launcher: Vec<String>,
    /// The run command (without the job's arguments) the launcher stands for.
    pub run: Vec<String>,
    /// The run limits the launcher is started with; a job must have these.
    pub limits: StageLimits,
    /// A job with a file among whose first three lines one starts with this
    /// needs a fresh start (escript's `%%!` line: emulator flags, which only
    /// a new runtime can apply), so it does not take the launcher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_marker: Option<String>,
    /// The launcher was started with the run command's own command line
    /// and cannot take arguments (Octave's `argv()` is fixed at start), so
    /// a job with arguments does not take it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_arguments: bool,
}

impl PreloadSpec {
    /// Whether `job` is what the launcher was started for: its run command
    /// and run limits, no arguments where the launcher takes none, and no
    /// file asking for a fresh start.
    pub fn fits(&self, job: &JobSpec) -> bool {
        self.run == job.run
            && self.limits == job.run_limits
            && (job.args.is_empty() || !self.no_arguments)
            && !self.cold_marker.as_deref().is_some_and(|marker| {
                job.files.iter().any(|file| {
                    file.content
                        .lines()
                        .take(3)
                        .any(|line| line.starts_with(marker))
                })
            })
    }
}

/// The go signal's bytes ([`PreloadSpec`]): the length of the rest
/// (big-endian u32), then every argument of `argv` followed by a NUL.
pub fn go_signal(argv: &[String]) -> Vec<u8> {
    let length: usize = argv.iter().map(|a| a.len() + 1).sum();
    let mut message = Vec::with_capacity(4 + length);
    message.extend_from_slice(&(length as u32).to_be_bytes());
    for arg in argv {
        message.extend_from_slice(arg.as_bytes());
        message.push(0);
    }
    message
}

/// A test case: the program runs once per case with this stdin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCase {
    pub stdin: String,
    pub expected_stdout: String,
}

/// Everything the runner needs for one job; the first frame on its stdin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    pub files: Vec<SourceFile>,
    /// Compile command (argv, no shell), if the language compiles.
    pub compile: Option<Vec<String>>,
    /// Run command (argv, no shell); `args` are appended to it.
    pub run: Vec<String>,
    pub args: Vec<String>,
    /// The program's stdin when not interactive.
    pub stdin: String,
    /// When true the program's stdin is fed by `Stdin` frames until `StdinEnd`
    /// (after `stdin` above, if any).
    pub interactive: bool,
    pub compile_limits: StageLimits,
    pub run_limits: StageLimits,
    /// Test-case mode when non-empty: compile once, run once per case.
    #[serde(default)]
    pub tests: Vec<TestCase>,
    /// The compile already happened in an earlier job with identical input:
    /// its artifacts follow in a `Prebuilt` frame and the compile stage is
    /// skipped (`compile` is ignored).
    #[serde(default)]
    pub prebuilt: bool,
    /// After a successful compile, send what it left in the work dir in a
    /// `Built` frame (when it fits [`MAX_ARTIFACT_BYTES`]), before the
    /// program runs and could change it.
    #[serde(default)]
    pub collect_artifacts: bool,
}

/// Most bytes of artifact content one compile may hand back to be reused.
pub const MAX_ARTIFACT_BYTES: usize = 12 * 1024 * 1024;
/// Most files one compile may hand back to be reused.
pub const MAX_ARTIFACT_FILES: usize = 1024;

/// A file a compile left in the work dir (relative name, permission bits,
/// bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub name: String,
    /// Permission bits (`0o755` for an executable); nothing beyond `0o777`.
    pub mode: u32,
    pub content: Vec<u8>,
}

/// Artifacts as one frame payload: per file a big-endian u16 name length,
/// the name, a u32 mode, a u32 content length and the content.
pub fn pack_artifacts(artifacts: &[Artifact]) -> Vec<u8> {
    let size: usize = artifacts
        .iter()
        .map(|a| 10 + a.name.len() + a.content.len())
        .sum();
    let mut bytes = Vec::with_capacity(size);
    for artifact in artifacts {
        bytes.extend_from_slice(&(artifact.name.len() as u16).to_be_bytes());
        bytes.extend_from_slice(artifact.name.as_bytes());
        bytes.extend_from_slice(&(artifact.mode & 0o777).to_be_bytes());
        bytes.extend_from_slice(&(artifact.content.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&artifact.content);
    }
    bytes
}

/// The artifacts of a [`pack_artifacts`] payload; every name is checked with
/// [`check_file_name`] and the count and total size against the maximums,
/// so a payload from an untrusted side cannot name a path outside the work
/// dir.
pub fn unpack_artifacts(mut bytes: &[u8]) -> Result<Vec<Artifact>, String> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if bytes.len() < n {
            return Err("truncated artifacts".into());
        }
        let (head, rest) = bytes.split_at(n);
        *bytes = rest;
        Ok(head)
    }
    fn number(bytes: &mut &[u8], n: usize) -> Result<usize, String> {
        Ok(take(bytes, n)?
            .iter()
            .fold(0usize, |value, byte| (value << 8) | usize::from(*byte)))
    }
    let mut artifacts = Vec::new();
    let mut total = 0usize;
    while !bytes.is_empty() {
        if artifacts.len() == MAX_ARTIFACT_FILES {
            return Err(format!("more than {MAX_ARTIFACT_FILES} artifacts"));
        }
        let name_len = number(&mut bytes, 2)?;
        let name = std::str::from_utf8(take(&mut bytes, name_len)?)
            .map_err(|_| "an artifact name is not UTF-8".to_string())?
            .to_string();
        check_file_name(&name)?;
        let mode = number(&mut bytes, 4)? as u32;
        if mode > 0o777 {
            return Err(format!("artifact {name:?} has mode {mode:o}"));
        }
        let len = number(&mut bytes, 4)?;
        total += len;
        if total > MAX_ARTIFACT_BYTES {
            return Err(format!("artifacts over {MAX_ARTIFACT_BYTES} bytes"));
        }
        let content = take(&mut bytes, len)?.to_vec();
        artifacts.push(Artifact {
            name,
            mode,
            content,
        });
    }
    Ok(artifacts)
}

/// Which stage the runner entered; sent as it starts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageEvent {
    /// `compile`, `run`, or `test` (then `index` says which case).
    pub stage: String,
    #[serde(default)]
    pub index: Option<usize>,
}

/// How a stage ended, as the runner observed it. The server turns these facts
/// into a verdict; the runner never decides one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Termination {
    /// Exited on its own (see `exit_code`).
    Exited,
    /// Killed by a signal it did not get from the runner (see `signal`).
    Signaled,
    /// Stopped by the runner: CPU time limit.
    CpuTimeLimit,
    /// Stopped by the runner: wall-clock limit.
    WallTimeLimit,
    /// Killed by the kernel's OOM killer (observed in the memory cgroup).
    MemoryLimit,
    /// Stopped by the runner: output over the cap.
    OutputLimit,
}

/// Facts about one finished stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageReport {
    pub termination: Termination,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub cpu_time_ms: u64,
    pub wall_time_ms: u64,
    pub memory_kb: u64,
    /// Captured stdout, at most the output cap (lossy UTF-8).
    pub stdout: String,
    /// Captured stderr, at most the output cap (lossy UTF-8).
    pub stderr: String,
    /// Output was cut at the cap.
    pub truncated: bool,
}

impl StageReport {
    /// The stage's process exited 0 on its own (for a compile: it
    /// succeeded).
    pub fn exited_zero(&self) -> bool {
        self.termination == Termination::Exited && self.exit_code == Some(0)
    }
}

/// One test case's run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestReport {
    pub run: StageReport,
    /// stdout matched `expected_stdout` (trailing whitespace per line and the
    /// final newline ignored).
    pub passed: bool,
}

/// The runner's last frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RunReport {
    /// Present when the language compiles.
    pub compile: Option<StageReport>,
    /// The program's run (absent in test mode or after a failed compile).
    pub run: Option<StageReport>,
    /// One per test case, in order (test mode only).
    #[serde(default)]
    pub tests: Vec<TestReport>,
    /// The job could not be carried out (bad file name, runner failure):
    /// the reason. The server maps it to `internal_error` or a 4xx earlier.
    pub error: Option<String>,
    /// The program's (first) run was carried out by a preloaded runtime
    /// ([`PreloadSpec`]) rather than a process started for it.
    #[serde(default)]
    pub preloaded: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames written one after another decode back identically, whatever
    /// chunking the stream applies.
    #[test]
    fn decoder_reassembles_frames_split_across_chunks() {
        let frames = vec![
            Frame::new(FrameKind::Stdout, b"hello".to_vec()),
            Frame::new(FrameKind::Stderr, vec![]),
            Frame::json(
                FrameKind::Stage,
                &StageEvent {
                    stage: "run".into(),
                    index: None,
                },
            )
            .unwrap(),
        ];
        let bytes: Vec<u8> = frames.iter().flat_map(|f| f.encode()).collect();
        for chunk_size in [1, 2, 3, 7, bytes.len()] {
            let mut decoder = FrameDecoder::new();
            let mut decoded = vec![];
            for chunk in bytes.chunks(chunk_size) {
                decoder.push(chunk);
                while let Some(frame) = decoder.next_frame().unwrap() {
                    decoded.push(frame);
                }
            }
            assert_eq!(decoded, frames, "chunk size {chunk_size}");
            assert_eq!(decoder.pending_bytes(), 0);
        }
    }

    /// A header announcing more than the maximum is refused before any
    /// payload is buffered.
    #[test]
    fn oversized_frame_is_refused() {
        let mut decoder = FrameDecoder::new();
        let mut header = vec![FrameKind::Stdout as u8];
        header.extend_from_slice(&((MAX_FRAME_BYTES as u32) + 1).to_be_bytes());
        decoder.push(&header);
        assert!(matches!(decoder.next_frame(), Err(FrameError::TooLarge(_))));
    }

    /// Blocking reads see a clean end of stream as `None` and an unknown kind
    /// as an error.
    #[test]
    fn read_from_handles_eof_and_unknown_kind() {
        let mut empty: &[u8] = &[];
        assert!(Frame::read_from(&mut empty).unwrap().is_none());
        let mut bad: &[u8] = &[99, 0, 0, 0, 0];
        assert!(matches!(
            Frame::read_from(&mut bad),
            Err(FrameError::UnknownKind(99))
        ));
        let encoded = Frame::new(FrameKind::StdinEnd, vec![]).encode();
        let mut good: &[u8] = &encoded;
        assert_eq!(
            Frame::read_from(&mut good).unwrap().unwrap().kind,
            FrameKind::StdinEnd
        );
    }
}

/// Most files one job may carry.
pub const MAX_FILES: usize = 64;
/// Longest path component of a submitted file name, in bytes.
pub const MAX_NAME_COMPONENT_BYTES: usize = 255;
/// Longest submitted file path, in bytes.
pub const MAX_PATH_BYTES: usize = 4096;

/// Why a submitted file name is refused, or `Ok` when it is a plain relative
/// path that stays inside the work dir. Both the API (to answer 400 early) and
/// the runner (which must not trust the worker) check with this one function.
pub fn check_file_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("file name is empty".into());
    }
    if name.len() > MAX_PATH_BYTES {
        return Err(format!("file name is longer than {MAX_PATH_BYTES} bytes"));
    }
    if name.contains('\0') {
        return Err("file name contains a NUL byte".into());
    }
    if name.starts_with('/') {
        return Err(format!("file name {name:?} is absolute"));
    }
    for component in name.split('/') {
        match component {
            "" => return Err(format!("file name {name:?} has an empty path component")),
            "." | ".." => return Err(format!("file name {name:?} has a {component:?} component")),
            _ if component.len() > MAX_NAME_COMPONENT_BYTES => {
                return Err(format!(
                "file name {name:?} has a component longer than {MAX_NAME_COMPONENT_BYTES} bytes"
            ))
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod preload_tests {
    use super::*;

    /// The length comes first; each argument is followed by a NUL, so
    /// empty arguments and spaces survive.
    #[test]
    fn go_signal_is_length_then_nul_terminated_arguments() {
        let argv = [
            "node".to_string(),
            "main.js".into(),
            String::new(),
            "a b".into(),
        ];
        assert_eq!(go_signal(&argv), b"\0\0\0\x12node\0main.js\0\0a b\0");
        assert_eq!(go_signal(&[]), b"\0\0\0\0");
    }

    const LIMITS: StageLimits = StageLimits {
        cpu_time_ms: 1_000,
        wall_time_ms: 2_000,
        memory_kb: 65_536,
        processes: 16,
        output_bytes: 1_024,
        file_size_bytes: 1_024,
    };

    fn escript(source: &str) -> JobSpec {
        JobSpec {
            files: vec![SourceFile {
                name: "main.erl".into(),
                content: source.into(),
            }],
            compile: None,
            run: vec!["escript".into(), "main.erl".into()],
            args: vec![],
            stdin: String::new(),
            interactive: false,
            compile_limits: LIMITS,
            run_limits: LIMITS,
            tests: vec![],
            prebuilt: false,
            collect_artifacts: false,
        }
    }

    /// A job fits its launcher by run command and run limits; a cold marker
    /// at the start of one of a file's first three lines (whatever the line
    /// endings) rules it out, anywhere else it does not.
    #[test]
    fn fits_by_run_limits_and_cold_marker() {
        let spec = PreloadSpec {
            launcher: vec!["erl".into()],
            run: vec!["escript".into(), "main.erl".into()],
            limits: LIMITS,
            cold_marker: Some("%%!".into()),
            no_arguments: false,
        };
        assert!(spec.fits(&escript("main(_) -> ok.\n")));
        assert!(!spec.fits(&escript(
            "#!/usr/bin/env escript\r\n%%! +P 4096\r\nmain(_) -> ok.\r\n"
        )));
        assert!(!spec.fits(&escript(
            "#!/usr/bin/env escript\n%% -*- coding: utf-8 -*-\n%%! -smp\n"
        )));
        assert!(spec.fits(&escript("a\nb\nc\n%%! +P 4096\n")));
        assert!(spec.fits(&escript("main(_) -> io:format(\"%%! ~p\", [1]).\n")));
        let mut other_limits = escript("");
        other_limits.run_limits.memory_kb *= 2;
        assert!(!spec.fits(&other_limits));
        let mut other_run = escript("");
        other_run.run.push("extra".into());
        assert!(!spec.fits(&other_run));
        let unmarked = PreloadSpec {
            cold_marker: None,
            ..spec
        };
        assert!(unmarked.fits(&escript("#!/usr/bin/env escript\n%%! +P 4096\n")));
    }

    /// A launcher that takes no arguments fits only jobs without any; one
    /// that takes them fits either.
    #[test]
    fn fits_without_arguments_when_the_launcher_takes_none() {
        let spec = PreloadSpec {
            launcher: vec!["octave-cli".into()],
            run: vec!["escript".into(), "main.erl".into()],
            limits: LIMITS,
            cold_marker: None,
            no_arguments: true,
        };
        let mut with_arguments = escript("");
        with_arguments.args.push("x".into());
        assert!(spec.fits(&escript("")));
        assert!(!spec.fits(&with_arguments));
        let taking = PreloadSpec {
            no_arguments: false,
            ..spec
        };
        assert!(taking.fits(&with_arguments));
    }
}

#[cfg(test)]
mod file_name_tests {
    use super::*;

    /// Packed artifacts unpack to the same files; a payload naming a path
    /// outside the work dir, with set-id bits, or cut short is refused.
    #[test]
    fn artifacts_round_trip_and_bad_payloads_are_refused() {
        let artifacts = vec![
            Artifact {
                name: "main".into(),
                mode: 0o755,
                content: vec![0x7f, b'E', b'L', b'F', 0],
            },
            Artifact {
                name: "pkg/A.class".into(),
                mode: 0o644,
                content: vec![],
            },
        ];
        let packed = pack_artifacts(&artifacts);
        assert_eq!(unpack_artifacts(&packed), Ok(artifacts.clone()));
        assert_eq!(unpack_artifacts(&[]), Ok(vec![]));
        assert!(unpack_artifacts(&packed[..packed.len() - 1]).is_err());

        let mut escaping = artifacts[0].clone();
        escaping.name = "../etc/passwd".into();
        assert!(unpack_artifacts(&pack_artifacts(&[escaping])).is_err());
        let mut setuid = pack_artifacts(&artifacts[..1]);
        // mode sits after the 2-byte length and the 4-byte name "main"
        setuid[6..10].copy_from_slice(&0o4755u32.to_be_bytes());
        assert!(unpack_artifacts(&setuid).is_err());
    }

    /// Plain relative names pass; anything that could leave the work dir or
    /// confuse the file system is refused.
    #[test]
    fn refuses_escaping_and_malformed_names() {
        for good in ["main.py", "src/lib.rs", "a/b/c.txt", ".hidden", "x..y"] {
            assert!(check_file_name(good).is_ok(), "{good}");
        }
        let long_component = "a".repeat(256);
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "./a",
            "a/",
            "nul\0x",
            long_component.as_str(),
        ] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
    }
}
