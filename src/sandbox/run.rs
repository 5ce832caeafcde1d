//! One job's container, from create to remove. [`prepare`] creates a
//! container with the hardened body, attaches before start (so no output is
//! missed) and starts it: rce-runner then waits for its job on stdin, which
//! is what lets the warm pool prepare containers ahead of time. [`run_job`]
//! takes a prepared container (warm) or prepares one (cold), sends the job
//! frame, forwards stdin frames for interactive jobs, streams output frames
//! to the caller as they arrive, enforces the hard wall-clock deadline and the
//! user's kill from outside, and turns the runner's report into a result. The
//! container is always force-removed, off the critical path, by a drop guard
//! that covers every exit (including a panic or a cancelled future);
//! [`pending_removals`] lets shutdown wait for those removals. A job whose
//! compile input matches a kept compile ([`super::compile_cache`]) is sent
//! prebuilt, with that compile's artifacts; any other compiled job asks the
//! runner for its artifacts and keeps them when the compile succeeds.

use super::compile_cache::{compile_key, CompileCache, CompileKey, Compiled};
use super::container::{container_body, ContainerLabels};
use super::settings::SandboxSettings;
use super::uids::{self, UidRange};
use crate::events::OutputStream;
use crate::job::{Job, JobResult, Verdict};
use crate::languages::Language;
use crate::stdin::StdinChunk;
use crate::verdict::{self, ContainerFacts};
use bollard::container::LogOutput;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder,
    WaitContainerOptions,
};
use bollard::Docker;
use futures_util::{Stream, StreamExt};
use rce_protocol::{Frame, FrameDecoder, FrameKind, JobSpec, PreloadSpec, RunReport};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
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
    #[error("the Docker engine stopped answering while the job ran")]
    EngineLost,
    /// Every uid tried was held by another live container (retriable: the
    /// range frees up as containers are removed).
    #[error("no free sandbox uid: every uid tried is held by another container")]
    NoFreeUid,
    /// A warm container that died while it waited (killed from outside):
    /// the job never reached it.
    #[error("the container had exited before its job was sent")]
    ExitedBeforeJob,
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

/// How the owner steers a running job.
pub struct RunControl {
    /// Stdin chunks for interactive jobs (ignored otherwise).
    pub stdin: mpsc::Receiver<StdinChunk>,
    /// Cancelled when the user asks to stop the job.
    pub kill: CancellationToken,
}

/// A compile command with the job's extra arguments placed just before the
/// source file (where Judge0 puts its `compiler_options`), or appended when
/// the command does not name the file.
fn with_compile_args(mut argv: Vec<String>, file: &str, extra: &[String]) -> Vec<String> {
    let at = argv.iter().position(|a| a == file).unwrap_or(argv.len());
    argv.splice(at..at, extra.iter().cloned());
    argv
}

/// The runner's job frame for `job`.
pub fn job_spec(job: &Job, language: &Language, settings: &SandboxSettings) -> JobSpec {
    JobSpec {
        files: job.files.clone(),
        compile: language
            .compile
            .clone()
            .map(|argv| with_compile_args(argv, &language.file, &job.compile_args)),
        run: language.run_command(job.limits.memory_mb),
        args: job.args.clone(),
        stdin: job.stdin.clone(),
        interactive: job.interactive,
        compile_limits: settings.compile_stage_limits(),
        run_limits: settings.run_stage_limits(&job.limits),
        tests: job.tests.clone(),
        prebuilt: false,
        collect_artifacts: false,
    }
}

/// The launcher a warm container for `job` (a stand-in with the default
/// limits) starts before its job, when its language has one and preloading
/// is on; it stands for exactly the run command and limits [`job_spec`]
/// gives such a job.
pub fn preload_spec(
    job: &Job,
    language: &Language,
    settings: &SandboxSettings,
) -> Option<PreloadSpec> {
    if !settings.preload {
        return None;
    }
    let launcher = language.preload_command(job.limits.memory_mb)?;
    // Taken from the job frame itself, so the two cannot drift apart.
    let spec = job_spec(job, language, settings);
    Some(PreloadSpec {
        launcher,
        run: spec.run,
        limits: spec.run_limits,
        cold_marker: language.preload_cold_marker.clone(),
        no_arguments: language.preload_no_arguments,
    })
}

/// The latest moment the container may still run: every stage's wall limit
/// plus the grace period.
pub fn deadline(job: &Job, language: &Language, settings: &SandboxSettings) -> Duration {
    let total = crate::job::total_wall_ms(
        &job.limits,
        language.compile.is_some(),
        settings.compile_wall_ms,
        job.tests.len(),
    );
    Duration::from_millis(total.saturating_add(settings.deadline_grace_ms))
}

/// Container removals started and not yet finished (shutdown waits for 0).
static PENDING_REMOVALS: AtomicUsize = AtomicUsize::new(0);

/// How many container removals are still under way.
pub fn pending_removals() -> usize {
    PENDING_REMOVALS.load(Ordering::SeqCst)
}

/// Force-removes the container when dropped, in a spawned task so the job's
/// result does not wait for it.
struct RemoveGuard {
    docker: Docker,
    id: String,
    /// The runner reported and is exiting by itself: let it (at most
    /// [`EXIT_WAIT`]) before removing, so the engine deletes a stopped
    /// container instead of killing a running one — one runtime call less
    /// per job, and the Docker stack's CPU is the bulk of a job's cost.
    exits_by_itself: bool,
}

impl Drop for RemoveGuard {
    fn drop(&mut self) {
        let (docker, id) = (self.docker.clone(), std::mem::take(&mut self.id));
        let exits_by_itself = self.exits_by_itself;
        // Without a runtime (the process is exiting) the start-up reaper of
        // the next worker removes it.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            PENDING_REMOVALS.fetch_add(1, Ordering::SeqCst);
            handle.spawn(async move {
                if exits_by_itself {
                    wait_for_exit(&docker, &id).await;
                }
                remove(&docker, &id).await;
                PENDING_REMOVALS.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }
}

pub(super) async fn remove(docker: &Docker, id: &str) {
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    match docker.remove_container(id, Some(options)).await {
        Ok(()) => {}
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(error) => {
            tracing::warn!(container = %id, %error, "removing a sandbox container failed")
        }
    }
}

/// The container's output, demultiplexed by Docker.
type OutputStreamOf = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

/// A created, attached and started container whose rce-runner waits for
/// its one job on stdin. Dropping it removes the container.
pub struct Prepared {
    output: OutputStreamOf,
    input: Pin<Box<dyn AsyncWrite + Send>>,
    guard: RemoveGuard,
}

impl Prepared {
    pub fn id(&self) -> &str {
        &self.guard.id
    }
}

/// Creates the container. With an exclusive uid range its name claims its
/// uid, and a name the engine already has (409) means another live
/// container holds that uid: the next one is tried.
async fn create(
    docker: &Docker,
    mut body: ContainerCreateBody,
    uids: UidRange,
) -> Result<String, SandboxError> {
    let claimed = uids::uid_of(&body).filter(|_| uids.is_exclusive());
    let Some(first) = claimed else {
        // A shared uid: a fresh name per container (a dead worker's
        // container for the same job may still exist when another worker
        // retries it).
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let job = body
            .labels
            .as_ref()
            .and_then(|l| l.get(super::container::LABEL_JOB))
            .cloned()
            .unwrap_or_default();
        let name = format!("rce-{job}-{}", &nonce[..8]);
        return create_named(docker, &name, body).await;
    };
    let mut attempt = 0;
    loop {
        let uid = uids.after(first, attempt);
        uids::assign(&mut body, uid);
        match create_named(docker, &uids::container_name(uid), body.clone()).await {
            Err(SandboxError::CreateContainer(
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 409, ..
                },
            )) => {
                tracing::debug!(
                    uid,
                    "sandbox uid held by another container; trying the next"
                );
                attempt += 1;
                if attempt >= uids::MAX_ATTEMPTS {
                    return Err(SandboxError::NoFreeUid);
                }
                if attempt >= uids.size() {
                    // Every uid is held (a small range): removals under way
                    // free them within moments.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            other => return other,
        }
    }
}

async fn create_named(
    docker: &Docker,
    name: &str,
    body: ContainerCreateBody,
) -> Result<String, SandboxError> {
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    Ok(docker
        .create_container(Some(options), body)
        .await
        .map_err(SandboxError::CreateContainer)?
        .id)
}

/// Creates, attaches and starts a container from `body`, running its
/// program as a uid of `uids` that no other live container on the engine's
/// host holds (see [`super::uids`]).
pub async fn prepare(
    docker: &Docker,
    body: ContainerCreateBody,
    uids: UidRange,
) -> Result<Prepared, SandboxError> {
    let id = create(docker, body, uids).await?;
    let guard = RemoveGuard {
        docker: docker.clone(),
        id,
        exits_by_itself: false,
    };
    let attach = AttachContainerOptionsBuilder::default()
        .stdin(true)
        .stdout(true)
        .stderr(true)
        .stream(true)
        .build();
    let attached = docker
        .attach_container(&guard.id, Some(attach))
        .await
        .map_err(SandboxError::Attach)?;
    docker
        .start_container(&guard.id, None)
        .await
        .map_err(SandboxError::StartContainer)?;
    Ok(Prepared {
        output: attached.output,
        input: attached.input,
        guard,
    })
}

/// Runs `job` in `prepared` (a warm container) or in a fresh one;
/// `on_output` receives the program's output as it is produced. A user program's failure is a verdict in the
/// `Ok` result; `Err` means the platform failed.
#[allow(clippy::too_many_arguments)]
pub async fn run_job<F>(
    docker: &Docker,
    settings: &SandboxSettings,
    labels: &ContainerLabels,
    cache: &CompileCache,
    job: &Job,
    language: &Language,
    prepared: Option<Prepared>,
    mut control: RunControl,
    mut on_output: F,
) -> Result<JobResult, SandboxError>
where
    F: FnMut(OutputStream, &[u8]),
{
    let mut spec = job_spec(job, language, settings);
    let compile = CompilePlan::for_job(cache, language, &mut spec);
    if let Some(warm) = prepared {
        let (id, ran) = (
            warm.id().to_string(),
            drive(
                docker,
                warm,
                settings,
                (job, &spec, &compile),
                language,
                &mut control,
                &mut on_output,
            )
            .await,
        );
        match ran {
            // The warm container did not take the job (its stdin died with
            // the engine connection it was attached over, or it died while
            // it waited): nothing ran, so the job gets a fresh container
            // within the same attempt.
            Err(error @ (SandboxError::SendJob(_) | SandboxError::ExitedBeforeJob)) => {
                tracing::warn!(job_id = %job.id, container = %id, %error, "a warm container did not take its job; starting a fresh one");
            }
            other => return other,
        }
    }
    let fresh = prepare(
        docker,
        container_body(job, language, settings, labels),
        settings.uid_range(),
    )
    .await?;
    drive(
        docker,
        fresh,
        settings,
        (job, &spec, &compile),
        language,
        &mut control,
        &mut on_output,
    )
    .await
}

/// What the compile cache does for one job.
enum CompilePlan<'a> {
    /// The language does not compile, or the cache is off.
    None,
    /// A kept compile: sent prebuilt, its report returned as the job's.
    Reuse(Compiled),
    /// Compiled here; kept under the key if it succeeds.
    Keep(CompileKey, &'a CompileCache),
}

impl<'a> CompilePlan<'a> {
    /// Looks `spec`'s compile up, and marks `spec` prebuilt or collecting.
    fn for_job(cache: &'a CompileCache, language: &Language, spec: &mut JobSpec) -> Self {
        if !cache.enabled() {
            return CompilePlan::None;
        }
        let Some(key) = compile_key(language, spec) else {
            return CompilePlan::None;
        };
        let kept = cache.get(&key);
        crate::metrics::compile_cache_lookup(&language.id, kept.is_some());
        match kept {
            Some(compiled) => {
                spec.prebuilt = true;
                CompilePlan::Reuse(compiled)
            }
            None => {
                spec.collect_artifacts = true;
                CompilePlan::Keep(key, cache)
            }
        }
    }

    /// The payload of the Prebuilt frame to send after the job frame, if any.
    fn prebuilt(&self) -> Option<&[u8]> {
        match self {
            CompilePlan::Reuse(compiled) => Some(&compiled.artifacts),
            _ => None,
        }
    }

    /// Completes the runner's report: a reused compile's report goes in;
    /// a successful compile whose artifacts arrived is kept.
    fn settle(&self, report: &mut RunReport, built: Option<Vec<u8>>, job: &Job) {
        match self {
            CompilePlan::None => {}
            CompilePlan::Reuse(compiled) => report.compile = Some(compiled.report.clone()),
            CompilePlan::Keep(key, cache) => {
                let succeeded = report.compile.as_ref().filter(|c| c.exited_zero());
                if let (Some(compile), Some(artifacts)) = (succeeded, built) {
                    tracing::debug!(job_id = %job.id, user_id = %job.user_id, bytes = artifacts.len(), "compile kept for reuse");
                    cache.insert(
                        *key,
                        Compiled {
                            artifacts: std::sync::Arc::new(artifacts),
                            report: compile.clone(),
                        },
                    );
                }
            }
        }
    }
}

/// What the output loop ended with.
enum Ending {
    Report(Box<RunReport>),
    Deadline,
    Killed,
    StreamEnded,
}

/// Sends the job to the runner and waits for how it ends: a report, the
/// deadline, a kill, or the output stream ending without a report. Stdin
/// chunks are forwarded as they come while the job is interactive.
async fn drive<F>(
    docker: &Docker,
    prepared: Prepared,
    settings: &SandboxSettings,
    (job, spec, compile): (&Job, &JobSpec, &CompilePlan<'_>),
    language: &Language,
    control: &mut RunControl,
    on_output: &mut F,
) -> Result<JobResult, SandboxError>
where
    F: FnMut(OutputStream, &[u8]),
{
    let Prepared {
        mut output,
        mut input,
        mut guard,
    } = prepared;
    let deadline = tokio::time::Instant::now() + deadline(job, language, settings);
    let sent_at = send_job(&mut input, spec, compile.prebuilt()).await?;
    let mut stdin_open = job.interactive;
    let mut heard = Heard::new(job);
    let ending = loop {
        tokio::select! {
            chunk = output.next() => match chunk {
                None => break Ending::StreamEnded,
                Some(Err(error)) => return Err(SandboxError::ReadOutput(error)),
                Some(Ok(LogOutput::StdOut { message })) => {
                    if let Some(mut report) = heard.runner_frames(&message, on_output)? {
                        compile.settle(&mut report, heard.built.take(), job);
                        if report.preloaded {
                            tracing::debug!(job_id = %job.id, user_id = %job.user_id, "ran in the preloaded launcher");
                            crate::metrics::preloaded_run(&job.language);
                        }
                        break Ending::Report(Box::new(report));
                    }
                }
                Some(Ok(other)) => heard.runner_stderr(&other.into_bytes()),
            },
            chunk = control.stdin.recv(), if stdin_open => {
                stdin_open = forward_stdin(&mut input, chunk).await;
            },
            _ = control.kill.cancelled() => break Ending::Killed,
            _ = tokio::time::sleep_until(deadline) => break Ending::Deadline,
        }
    };
    heard.log_runner_stderr(job);
    conclude(docker, &mut guard, ending, heard, sent_at).await
}

/// Writes the job frame (and the prebuilt frame, if any) to the runner
/// (and, unless the job is interactive, closes its input); returns when it
/// was sent, to tell a container that died before it from one that died
/// running it.
async fn send_job(
    input: &mut Pin<Box<dyn AsyncWrite + Send>>,
    spec: &JobSpec,
    prebuilt: Option<&[u8]>,
) -> Result<time::OffsetDateTime, SandboxError> {
    let mut bytes = Frame::json(FrameKind::Job, spec)
        .map_err(SandboxError::Frames)?
        .encode();
    if let Some(prebuilt) = prebuilt {
        Frame::encode_into(FrameKind::Prebuilt, prebuilt, &mut bytes);
    }
    let sent_at = time::OffsetDateTime::now_utc();
    input
        .write_all(&bytes)
        .await
        .map_err(SandboxError::SendJob)?;
    if !spec.interactive {
        input.shutdown().await.map_err(SandboxError::SendJob)?;
    }
    Ok(sent_at)
}

/// Forwards one stdin chunk (or its end) to the runner; returns whether
/// stdin stays open. A failed write closes it: the runner may already be
/// done with its input, and the output stream says how the job ended.
async fn forward_stdin(
    input: &mut Pin<Box<dyn AsyncWrite + Send>>,
    chunk: Option<StdinChunk>,
) -> bool {
    match chunk {
        Some(StdinChunk::Data(data)) => input
            .write_all(&Frame::new(FrameKind::Stdin, data).encode())
            .await
            .is_ok(),
        Some(StdinChunk::End) | None => {
            let end = Frame::new(FrameKind::StdinEnd, vec![]).encode();
            if input.write_all(&end).await.is_ok() {
                let _ = input.shutdown().await;
            }
            false
        }
    }
}

/// What the container has said so far: the runner's frames as decoded, the
/// program's output as streamed, the compile's artifacts, and (capped) the
/// runner's own stderr.
struct Heard {
    decoder: FrameDecoder,
    streamed: StreamedOutput,
    built: Option<Vec<u8>>,
    runner_stderr: Vec<u8>,
}

impl Heard {
    fn new(job: &Job) -> Heard {
        Heard {
            decoder: FrameDecoder::new(),
            streamed: StreamedOutput::new(job.limits.output_kb as usize * 1024),
            built: None,
            runner_stderr: Vec::new(),
        }
    }

    /// Decodes the runner's frames in `bytes`, passing the program's output
    /// to `on_output` as it comes; returns the run report once one arrived.
    fn runner_frames<F>(
        &mut self,
        bytes: &[u8],
        on_output: &mut F,
    ) -> Result<Option<RunReport>, SandboxError>
    where
        F: FnMut(OutputStream, &[u8]),
    {
        self.decoder.push(bytes);
        let mut report = None;
        while let Some(frame) = self.decoder.next_frame().map_err(SandboxError::Frames)? {
            match frame.kind {
                FrameKind::Stdout | FrameKind::Stderr => {
                    let stream = if frame.kind == FrameKind::Stdout {
                        OutputStream::Stdout
                    } else {
                        OutputStream::Stderr
                    };
                    self.streamed.push(stream, &frame.payload);
                    on_output(stream, &frame.payload);
                }
                FrameKind::Result => {
                    report = Some(frame.parse::<RunReport>().map_err(SandboxError::Frames)?)
                }
                FrameKind::Built => self.built = Some(frame.payload),
                _ => {}
            }
        }
        Ok(report)
    }

    /// Keeps the runner's own stderr, up to [`RUNNER_STDERR_CAP`].
    fn runner_stderr(&mut self, bytes: &[u8]) {
        let room = RUNNER_STDERR_CAP.saturating_sub(self.runner_stderr.len());
        self.runner_stderr
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn log_runner_stderr(&self, job: &Job) {
        if !self.runner_stderr.is_empty() {
            tracing::debug!(job_id = %job.id, stderr = %String::from_utf8_lossy(&self.runner_stderr), "rce-runner diagnostics");
        }
    }
}

/// Turns how the output loop ended into the job's result.
async fn conclude(
    docker: &Docker,
    guard: &mut RemoveGuard,
    ending: Ending,
    heard: Heard,
    sent_at: time::OffsetDateTime,
) -> Result<JobResult, SandboxError> {
    let id = guard.id.clone();
    let id = id.as_str();
    Ok(match ending {
        Ending::Report(report) => {
            guard.exits_by_itself = true;
            judge_report(docker, id, &report).await
        }
        Ending::Deadline => heard.streamed.into_result(verdict::without_report(
            ContainerFacts {
                // Still running (that is why the deadline hit): only an OOM
                // kill already recorded counts.
                oom_killed: inspect_end(docker, id).await.oom_killed,
                deadline_hit: true,
                sigkilled_without_report: false,
            },
            "deadline",
        )),
        Ending::Killed => heard.streamed.into_result(stopped_on_request(false)),
        Ending::StreamEnded => return ended_without_report(docker, id, heard, sent_at).await,
    })
}

/// The verdict on the runner's report.
async fn judge_report(docker: &Docker, id: &str, report: &RunReport) -> JobResult {
    let killed_by_signal = report.run.as_ref().is_some_and(|run| run.signal == Some(9));
    // The runner exits right after its report; wait for that so Docker's
    // OOM flag is final.
    let oom_killed = killed_by_signal && container_end(docker, id).await.oom_killed;
    let facts = ContainerFacts {
        oom_killed,
        ..ContainerFacts::default()
    };
    verdict::judge(report, facts)
}

/// The whole container died without a report: under gVisor a cgroup OOM
/// kill takes the sandbox kernel and the runner with it (exit 137), and so
/// does a Sentry that cannot get a thread.
async fn ended_without_report(
    docker: &Docker,
    id: &str,
    heard: Heard,
    sent_at: time::OffsetDateTime,
) -> Result<JobResult, SandboxError> {
    let end = container_end(docker, id).await;
    if !end.reachable {
        // Not the program's doing: the engine (or our connection to it)
        // went away. Retriable, so the job runs again.
        return Err(SandboxError::EngineLost);
    }
    if end.finished_at.is_some_and(|at| at < sent_at) {
        return Err(SandboxError::ExitedBeforeJob);
    }
    let facts = ContainerFacts {
        oom_killed: end.oom_killed,
        deadline_hit: false,
        sigkilled_without_report: end.exit_code == Some(137),
    };
    let exit = end
        .exit_code
        .map_or_else(|| "unknown".to_string(), |code| code.to_string());
    let reason = format!(
        "the sandbox ended without a report (exit code {exit}): {}",
        String::from_utf8_lossy(&heard.runner_stderr).trim()
    );
    Ok(heard.streamed.into_result(verdict::without_report(
        facts,
        reason.trim_end_matches(": "),
    )))
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

/// How long to wait for a container whose output has ended to be recorded
/// as exited.
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// What Docker recorded about a container's end.
#[derive(Debug, Clone, Copy, Default)]
struct ContainerEnd {
    oom_killed: bool,
    exit_code: Option<i64>,
    /// When it exited, if it has.
    finished_at: Option<time::OffsetDateTime>,
    /// The engine answered the inspection.
    reachable: bool,
}

/// The container's end once Docker has recorded it: the attach stream can
/// close a moment before the engine marks the container exited (and sets
/// its OOM flag), so this waits for the exit first (at most [`EXIT_WAIT`]).
async fn container_end(docker: &Docker, id: &str) -> ContainerEnd {
    wait_for_exit(docker, id).await;
    inspect_end(docker, id).await
}

/// Returns once the container has exited, or after [`EXIT_WAIT`].
async fn wait_for_exit(docker: &Docker, id: &str) {
    let mut wait = docker.wait_container(id, None::<WaitContainerOptions>);
    // A non-zero exit arrives as an error; either way it has ended.
    let _ = tokio::time::timeout(EXIT_WAIT, wait.next()).await;
}

/// Docker's OOM flag and exit code as they are now.
async fn inspect_end(docker: &Docker, id: &str) -> ContainerEnd {
    match docker.inspect_container(id, None).await {
        Ok(info) => {
            let state = info.state.unwrap_or_default();
            // A container that never exited reports year 1 here.
            let finished_at = state
                .finished_at
                .filter(|_| state.running == Some(false))
                .and_then(|at| {
                    time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .filter(|at| at.year() > 1970);
            ContainerEnd {
                oom_killed: state.oom_killed.unwrap_or(false),
                exit_code: state.exit_code,
                finished_at,
                reachable: true,
            }
        }
        Err(error) => {
            tracing::warn!(container = %id, %error, "inspecting a sandbox container failed");
            ContainerEnd::default()
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

#[cfg(test)]
mod compile_args_tests {
    use super::with_compile_args;

    /// Extra compiler arguments go just before the source file, or at the
    /// end when the command does not name it.
    #[test]
    fn compile_args_go_before_the_source_file() {
        let argv = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(
            with_compile_args(
                argv(&["gcc", "-o", "main", "main.c", "-lm"]),
                "main.c",
                &argv(&["-O0"])
            ),
            argv(&["gcc", "-o", "main", "-O0", "main.c", "-lm"])
        );
        assert_eq!(
            with_compile_args(argv(&["make"]), "main.c", &argv(&["-j1"])),
            argv(&["make", "-j1"])
        );
    }
}
