//! One job's container, from create to remove: create it with the hardened
//! body, attach before start (so no output is missed), send the job frame to
//! rce-runner, forward stdin frames for interactive jobs, stream output frames
//! to the caller as they arrive, enforce the hard wall-clock deadline and the
//! user's kill from outside, turn the runner's report into a result, and
//! always force-remove the container (a drop guard covers every early exit,
//! including a panic or a cancelled future).

use super::container::{container_body, ContainerLabels};
use super::settings::SandboxSettings;
use crate::events::OutputStream;
use crate::job::{Job, JobResult, Verdict};
use crate::languages::Language;
use crate::verdict::{self, ContainerFacts};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use rce_protocol::{Frame, FrameDecoder, FrameKind, JobSpec, RunReport};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Bytes of the runner's own stderr kept for diagnostics.
const RUNNER_STDERR_CAP: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("creating the container: {0}")]
    CreateContainer(bollard::errors::Error),
    #[error("attaching to the container: {0}")]
    Attach(bollard::errors::Error),
    #[error("starting the container: {0}")]
    StartContainer(bollard::errors::Error),
    #[error("sending the job to rce-runner: {0}")]
    SendJob(std::io::Error),
    #[error("reading the container's output: {0}")]
    ReadOutput(bollard::errors::Error),
    #[error("decoding rce-runner's frames: {0}")]
    Frames(rce_protocol::FrameError),
}

impl SandboxError {
    /// Whether running the job again may succeed (the engine was unreachable
    /// or failed), as opposed to a fault that would repeat (a missing image).
    pub fn is_retriable(&self) -> bool {
        match self {
            SandboxError::CreateContainer(bollard::errors::Error::DockerResponseServerError {
                status_code,
                ..
            }) => *status_code >= 500,
            SandboxError::Frames(_) => false,
            _ => true,
        }
    }
}

/// Input for an interactive job's stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StdinChunk {
    Data(Vec<u8>),
    End,
}

/// How the owner steers a running job.
pub struct RunControl {
    /// Stdin chunks for interactive jobs (ignored otherwise).
    pub stdin: mpsc::Receiver<StdinChunk>,
    /// Cancelled when the user asks to stop the job.
    pub kill: CancellationToken,
}

/// The runner's job frame for `job`.
pub fn job_spec(job: &Job, language: &Language, settings: &SandboxSettings) -> JobSpec {
    JobSpec {
        files: job.files.clone(),
        compile: language.compile.clone(),
        run: language.run.clone(),
        args: job.args.clone(),
        stdin: job.stdin.clone(),
        interactive: job.interactive,
        compile_limits: settings.compile_stage_limits(),
        run_limits: settings.run_stage_limits(&job.limits),
        tests: job.tests.clone(),
    }
}

/// The latest moment the container may still run: every stage's wall limit
/// plus the grace period.
pub fn deadline(job: &Job, language: &Language, settings: &SandboxSettings) -> Duration {
    let compile = if language.compile.is_some() {
        settings.compile_wall_ms
    } else {
        0
    };
    let runs = job.tests.len().max(1) as u64;
    Duration::from_millis(compile + job.limits.wall_ms * runs + settings.deadline_grace_ms)
}

/// Force-removes the container when dropped, unless disarmed after an
/// orderly removal.
struct RemoveGuard {
    docker: Docker,
    id: String,
    armed: bool,
}

impl Drop for RemoveGuard {
    fn drop(&mut self) {
        if self.armed {
            let (docker, id) = (self.docker.clone(), std::mem::take(&mut self.id));
            // A guard only fires on an abnormal exit; the runtime may be
            // shutting down, so a failure here is left to the start-up reaper.
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move { remove(&docker, &id).await });
            }
        }
    }
}

async fn remove(docker: &Docker, id: &str) {
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    if let Err(error) = docker.remove_container(id, Some(options)).await {
        tracing::warn!(container = %id, %error, "removing a sandbox container failed");
    }
}

/// Runs `job` in a fresh container; `on_output` receives the program's
/// output as it is produced. A user program's failure is a verdict in the
/// `Ok` result; `Err` means the platform failed.
pub async fn run_job<F>(
    docker: &Docker,
    settings: &SandboxSettings,
    labels: &ContainerLabels,
    job: &Job,
    language: &Language,
    control: RunControl,
    on_output: F,
) -> Result<JobResult, SandboxError>
where
    F: FnMut(OutputStream, &[u8]),
{
    let body = container_body(job, language, settings, labels);
    let options = CreateContainerOptionsBuilder::default()
        .name(&format!("rce-{}", job.id))
        .build();
    let id = docker
        .create_container(Some(options), body)
        .await
        .map_err(SandboxError::CreateContainer)?
        .id;
    let mut guard = RemoveGuard {
        docker: docker.clone(),
        id: id.clone(),
        armed: true,
    };
    let outcome = drive(docker, &id, settings, job, language, control, on_output).await;
    remove(docker, &id).await;
    guard.armed = false;
    outcome
}

/// What the output loop ended with.
enum Ending {
    Report(Box<RunReport>),
    Deadline,
    Killed,
    StreamEnded,
}

async fn drive<F>(
    docker: &Docker,
    id: &str,
    settings: &SandboxSettings,
    job: &Job,
    language: &Language,
    mut control: RunControl,
    mut on_output: F,
) -> Result<JobResult, SandboxError>
where
    F: FnMut(OutputStream, &[u8]),
{
    let attach = AttachContainerOptionsBuilder::default()
        .stdin(true)
        .stdout(true)
        .stderr(true)
        .stream(true)
        .build();
    let bollard::container::AttachContainerResults {
        mut output,
        mut input,
    } = docker
        .attach_container(id, Some(attach))
        .await
        .map_err(SandboxError::Attach)?;
    docker
        .start_container(id, None)
        .await
        .map_err(SandboxError::StartContainer)?;
    let deadline = tokio::time::Instant::now() + deadline(job, language, settings);

    let spec = job_spec(job, language, settings);
    let frame = Frame::json(FrameKind::Job, &spec).map_err(SandboxError::Frames)?;
    input
        .write_all(&frame.encode())
        .await
        .map_err(SandboxError::SendJob)?;
    let mut stdin_open = job.interactive;
    if !stdin_open {
        input.shutdown().await.map_err(SandboxError::SendJob)?;
    }

    let mut decoder = FrameDecoder::new();
    let mut runner_stderr = Vec::new();
    let mut streamed = StreamedOutput::new(job.limits.output_kb as usize * 1024);
    let ending = loop {
        tokio::select! {
            chunk = output.next() => match chunk {
                None => break Ending::StreamEnded,
                Some(Err(error)) => return Err(SandboxError::ReadOutput(error)),
                Some(Ok(bollard::container::LogOutput::StdOut { message })) => {
                    decoder.push(&message);
                    let mut report = None;
                    while let Some(frame) = decoder.next_frame().map_err(SandboxError::Frames)? {
                        match frame.kind {
                            FrameKind::Stdout | FrameKind::Stderr => {
                                let stream = if frame.kind == FrameKind::Stdout { OutputStream::Stdout } else { OutputStream::Stderr };
                                streamed.push(stream, &frame.payload);
                                on_output(stream, &frame.payload);
                            }
                            FrameKind::Result => report = Some(frame.parse::<RunReport>().map_err(SandboxError::Frames)?),
                            _ => {}
                        }
                    }
                    if let Some(report) = report {
                        break Ending::Report(Box::new(report));
                    }
                }
                Some(Ok(other)) => {
                    let bytes = other.into_bytes();
                    let room = RUNNER_STDERR_CAP.saturating_sub(runner_stderr.len());
                    runner_stderr.extend_from_slice(&bytes[..bytes.len().min(room)]);
                }
            },
            chunk = control.stdin.recv(), if stdin_open => {
                let written = match chunk {
                    Some(StdinChunk::Data(data)) => input.write_all(&Frame::new(FrameKind::Stdin, data).encode()).await,
                    Some(StdinChunk::End) | None => {
                        stdin_open = false;
                        match input.write_all(&Frame::new(FrameKind::StdinEnd, vec![]).encode()).await {
                            Ok(()) => input.shutdown().await,
                            Err(error) => Err(error),
                        }
                    }
                };
                // The runner may already be done with its input; the output
                // stream says how the job ended.
                if written.is_err() {
                    stdin_open = false;
                }
            },
            _ = control.kill.cancelled() => break Ending::Killed,
            _ = tokio::time::sleep_until(deadline) => break Ending::Deadline,
        }
    };
    if !runner_stderr.is_empty() {
        tracing::debug!(job_id = %job.id, stderr = %String::from_utf8_lossy(&runner_stderr), "rce-runner diagnostics");
    }
    Ok(match ending {
        Ending::Report(report) => {
            let killed_by_signal = report.run.as_ref().is_some_and(|run| run.signal == Some(9));
            let facts = ContainerFacts {
                oom_killed: killed_by_signal && oom_killed(docker, id).await,
                deadline_hit: false,
            };
            verdict::judge(&report, facts)
        }
        Ending::Deadline => streamed.into_result(verdict::without_report(
            ContainerFacts {
                oom_killed: oom_killed(docker, id).await,
                deadline_hit: true,
            },
            "deadline",
        )),
        Ending::Killed => streamed.into_result(stopped_on_request(false)),
        Ending::StreamEnded => {
            let facts = ContainerFacts {
                oom_killed: oom_killed(docker, id).await,
                deadline_hit: false,
            };
            let reason = format!(
                "rce-runner ended without a report: {}",
                String::from_utf8_lossy(&runner_stderr).trim()
            );
            streamed.into_result(verdict::without_report(facts, &reason))
        }
    })
}

/// The result of a job its owner stopped: `runtime_error`, killed by signal
/// 9, with a message saying it was on request (and whether the program ever
/// ran). The output seen until then is added by the caller.
pub fn stopped_on_request(before_start: bool) -> JobResult {
    let message = if before_start {
        "stopped on request before it started"
    } else {
        "stopped on request"
    };
    let mut result = JobResult::internal_error(message);
    result.verdict = Verdict::RuntimeError;
    result.signal = Some(9);
    result
}

async fn oom_killed(docker: &Docker, id: &str) -> bool {
    match docker.inspect_container(id, None).await {
        Ok(info) => info
            .state
            .and_then(|state| state.oom_killed)
            .unwrap_or(false),
        Err(error) => {
            tracing::warn!(container = %id, %error, "inspecting a sandbox container failed");
            false
        }
    }
}

/// Output seen on the stream, kept (up to the job's cap) for results the
/// runner never reported (kill, deadline).
struct StreamedOutput {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    room: usize,
    truncated: bool,
}

impl StreamedOutput {
    fn new(cap: usize) -> StreamedOutput {
        StreamedOutput {
            stdout: Vec::new(),
            stderr: Vec::new(),
            room: cap,
            truncated: false,
        }
    }

    fn push(&mut self, stream: OutputStream, bytes: &[u8]) {
        let take = bytes.len().min(self.room);
        self.truncated |= take < bytes.len();
        self.room -= take;
        let target = match stream {
            OutputStream::Stdout => &mut self.stdout,
            OutputStream::Stderr => &mut self.stderr,
        };
        target.extend_from_slice(&bytes[..take]);
    }

    fn into_result(self, mut result: JobResult) -> JobResult {
        result.stdout = String::from_utf8_lossy(&self.stdout).into_owned();
        result.stderr = String::from_utf8_lossy(&self.stderr).into_owned();
        result.truncated = self.truncated;
        result
    }
}
