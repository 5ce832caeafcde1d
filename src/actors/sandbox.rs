//! SandboxActor: owns exactly one container, from create to remove, for one
//! job. Handles Run (once), Stdin and Kill. Started by WorkerPool, one per job,
//! on the pool's arbiter. The container lifecycle runs in a spawned task, so
//! a panic in Docker or frame handling is caught as that task's error and
//! becomes an `internal_error` result instead of taking the arbiter down; the
//! task's drop guard force-removes the container on every exit path. The
//! actor stops itself when Run finishes; if it dies first (even by a panic:
//! `stopped()`, and dropping the actor in any case, cancel the run, so the
//! guard removes the container), WorkerPool sees a `MailboxError` and
//! completes the job as `internal_error`.

use crate::events::OutputStream;
use crate::job::{Job, JobResult};
use crate::languages::Language;
use crate::sandbox::{
    self, CompileCache, ContainerLabels, Prepared, RunControl, SandboxError, SandboxSettings,
};
use crate::stdin::StdinChunk;
use actix::prelude::*;
use bollard::Docker;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Stdin chunks buffered for a program that is not reading yet; a sender
/// with more waits for room (Stdin replies only once the chunk is taken).
const STDIN_BUFFER: usize = 64;

/// Receives a running program's output chunks as they arrive.
pub type OutputSink = Box<dyn FnMut(OutputStream, &[u8]) + Send>;

pub struct SandboxActor {
    docker: Docker,
    settings: Arc<SandboxSettings>,
    labels: ContainerLabels,
    compile_cache: Arc<CompileCache>,
    stdin: mpsc::Sender<StdinChunk>,
    /// Taken by Run; `None` once the job has started.
    control: Option<RunControl>,
    kill: CancellationToken,
}

impl SandboxActor {
    pub fn new(
        docker: Docker,
        settings: Arc<SandboxSettings>,
        labels: ContainerLabels,
        compile_cache: Arc<CompileCache>,
    ) -> SandboxActor {
        let (stdin, receiver) = mpsc::channel(STDIN_BUFFER);
        let kill = CancellationToken::new();
        SandboxActor {
            docker,
            settings,
            labels,
            compile_cache,
            stdin,
            control: Some(RunControl {
                stdin: receiver,
                kill: kill.clone(),
            }),
            kill,
        }
    }
}

impl Actor for SandboxActor {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Self::Context) {
        // Whatever stopped us, the container must not outlive the actor: the
        // run task sees the kill and its guard removes the container.
        self.kill.cancel();
    }
}

impl Drop for SandboxActor {
    fn drop(&mut self) {
        // However the actor ends (a panic inside `stopped()` skips the
        // rest of it), the container goes.
        self.kill.cancel();
    }
}

/// Run the job; replies with its result (the container's removal follows
/// off the critical path).
#[derive(Message)]
#[rtype(result = "Result<JobResult, SandboxError>")]
pub struct Run {
    pub job: Job,
    pub language: Language,
    /// A warm container from the pool, or `None` to start a fresh one.
    pub prepared: Option<Prepared>,
    /// Receives the program's output as it is produced.
    pub on_output: OutputSink,
}

/// Bytes for an interactive program's stdin, or its end.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Stdin {
    pub chunk: StdinChunk,
}

/// Stop the program now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Kill;

impl Handler<Run> for SandboxActor {
    type Result = ResponseActFuture<Self, Result<JobResult, SandboxError>>;

    fn handle(&mut self, msg: Run, ctx: &mut Context<Self>) -> Self::Result {
        if crate::fault::take("sandbox") {
            // Test builds only: the actor dies while its job runs.
            ctx.run_later(std::time::Duration::from_millis(300), |_, _| {
                panic!("injected fault: sandbox")
            });
        }
        let Some(control) = self.control.take() else {
            return Box::pin(fut::ready(Ok(JobResult::internal_error(
                "a sandbox runs one job only",
            ))));
        };
        let (docker, settings, labels, cache) = (
            self.docker.clone(),
            self.settings.clone(),
            self.labels.clone(),
            self.compile_cache.clone(),
        );
        let Run {
            job,
            language,
            prepared,
            on_output,
        } = msg;
        let task = tokio::spawn(async move {
            sandbox::run_job(
                &docker, &settings, &labels, &cache, &job, &language, prepared, control, on_output,
            )
            .await
        });
        Box::pin(
            async move {
                match task.await {
                    Ok(outcome) => outcome,
                    Err(join_error) => Ok(JobResult::internal_error(format!(
                        "the sandbox task failed: {join_error}"
                    ))),
                }
            }
            .into_actor(self)
            .map(|outcome, _, ctx| {
                ctx.stop();
                outcome
            }),
        )
    }
}

impl Handler<Stdin> for SandboxActor {
    type Result = ResponseFuture<bool>;

    fn handle(&mut self, msg: Stdin, _: &mut Context<Self>) -> Self::Result {
        // Waiting here keeps the chunks in order (the one sender, JobControl's
        // pump, sends the next only after this replies) and never blocks the
        // actor: Kill is still handled. False once the run has ended.
        let stdin = self.stdin.clone();
        Box::pin(async move { stdin.send(msg.chunk).await.is_ok() })
    }
}

impl Handler<Kill> for SandboxActor {
    type Result = ();

    fn handle(&mut self, _: Kill, _: &mut Context<Self>) {
        self.kill.cancel();
    }
}
