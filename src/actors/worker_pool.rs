//! WorkerPool: owns this worker's N execution slots and the jobs running in
//! them, one SandboxActor each. Handles Execute (from StreamConsumer, which
//! only sends when FreeSlots says a slot is free: back-pressure), FreeSlots,
//! SendStdin and KillJob. For each job it skips work already completed (a
//! redelivery), registers the job with JobControl (when one is attached:
//! stdin and kill from other processes; a job killed before it started is
//! completed as stopped without a container), marks the job running,
//! publishes `started`, runs the
//! SandboxActor, stores the result, publishes the live output and then
//! `finished`, and only then tells StreamConsumer to XACK (`JobDone`). A
//! SandboxActor that dies without replying yields an `internal_error` result;
//! an infrastructure failure worth retrying leaves the entry unacked for
//! another delivery. It pings the Docker engine every `engine_check_ms` and
//! offers no slots while the engine is away, and removes containers left by
//! dead workers every `reap_interval_ms`. Started by `app` under [`super::supervisor`]:
//! a panic in a handler or a stop restarts it on the same mailbox, keeping
//! its running set. Each job runs as its own task (the [`Pipeline`]'s
//! `execute` then `finish`), not as a future of the pool, so a restart
//! interrupts no job; the task reports back with JobEnded, and a panic
//! inside it leaves the entry pending for another delivery and still frees
//! the slot. Warm containers are prepared in tasks of their own too and
//! come back as WarmReady.

use super::job_control::{JobControl, Track, Untrack};
use super::sandbox::{Kill, Run, SandboxActor, Stdin};
use super::settings::WorkerSettings;
use super::store::{CompleteJob, GetJob, MarkRunning, StoreActor};
use crate::events::ServerEvent;
use crate::job::{Job, JobId, JobResult, JobStatus};
use crate::languages::{Language, Languages};
use crate::output::LiveOutput;
use crate::queue::EventPublisher;
use crate::sandbox::{
    self, prepare, CompileCache, ContainerLabels, Prepared, Refill, SandboxSettings, Sizing,
    WarmPool,
};
use crate::stdin::StdinChunk;
use actix::prelude::*;
use bollard::Docker;
use futures_util::FutureExt;
use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tracing::Instrument;

/// Sent to StreamConsumer when this worker is done with an entry: `ack` when
/// the result is stored, otherwise it stays pending for another delivery.
#[derive(Message)]
#[rtype(result = "()")]
pub struct JobDone {
    pub entry_id: String,
    pub job_id: JobId,
    pub ack: bool,
}

/// Run a job taken from the stream.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Execute {
    pub entry_id: String,
    pub job: Job,
    /// Where to report that the entry can be acked.
    pub done: Recipient<JobDone>,
    /// The job's span on this worker (continuing the API's trace); the run,
    /// the container and the result are recorded inside it.
    pub span: tracing::Span,
}

/// How many more jobs this worker can start now (0 while the Docker engine
/// does not answer).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct FreeSlots;

/// Stdin for a running interactive job; replies once the sandbox has taken
/// the chunk (waiting while its buffer is full), false if the job is not
/// running here.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct SendStdin {
    pub job_id: JobId,
    pub chunk: StdinChunk,
}

/// Stop a running job; false if it is not running here.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct KillJob {
    pub job_id: JobId,
}

/// Whether a finished job's entry may be acked.
pub(crate) enum Outcome {
    /// Result stored (or was already): ack.
    Done,
    /// An infrastructure failure: leave the entry pending for a retry.
    Retry,
}

/// The job pipeline's parts: everything one job needs from delivery to
/// stored result, cloned into each job's task.
#[derive(Clone)]
pub struct Pipeline {
    languages: Languages,
    store: Addr<StoreActor>,
    events: EventPublisher,
    control: Option<Addr<JobControl>>,
    /// Set when shutdown runs out of time: results are no longer stored,
    /// the entries stay pending for another worker (see [`Pipeline::hand_back`]).
    handed_back: Arc<AtomicBool>,
}

/// How often the warm pool's targets are re-planned from demand (also at
/// every arrival): idle languages shrink, decayed seeds let go.
const WARM_PLAN_INTERVAL: Duration = Duration::from_secs(1);

pub struct WorkerPool {
    settings: WorkerSettings,
    sandbox: Arc<SandboxSettings>,
    docker: Docker,
    pipeline: Pipeline,
    labels: ContainerLabels,
    running: HashMap<JobId, Addr<SandboxActor>>,
    /// The Docker engine answered the last check; shared with readiness.
    engine_ok: Arc<AtomicBool>,
    /// Notified whenever a slot frees up (StreamConsumer waits on it).
    slot_freed: Arc<Notify>,
    /// Containers started ahead of time for default-limit jobs.
    warm: WarmPool,
    /// Recent compiles' artifacts, shared by this worker's sandboxes.
    compile_cache: Arc<CompileCache>,
    /// The live deployment's worker slots (this worker's included), kept
    /// by the slot heartbeat: the warm pool's share of its budget.
    live_slots: Arc<AtomicUsize>,
}

impl WorkerPool {
    pub fn new(
        settings: WorkerSettings,
        sandbox: Arc<SandboxSettings>,
        languages: Languages,
        docker: Docker,
        store: Addr<StoreActor>,
        events: EventPublisher,
        labels: ContainerLabels,
    ) -> WorkerPool {
        let settings_concurrency = settings.concurrency;
        let sandbox_compile_cache_mb = sandbox.compile_cache_mb;
        let warm = WarmPool::charging_preloads(languages.all(), &sandbox);
        WorkerPool {
            settings,
            sandbox,
            docker,
            pipeline: Pipeline::new(languages, store, events),
            labels,
            running: HashMap::new(),
            engine_ok: Arc::new(AtomicBool::new(true)),
            slot_freed: Arc::new(Notify::new()),
            warm,
            compile_cache: Arc::new(CompileCache::new(sandbox_compile_cache_mb)),
            live_slots: Arc::new(AtomicUsize::new(settings_concurrency)),
        }
    }

    /// Registers every job with `control`, so owners can send it stdin and
    /// stop it from any API process.
    pub fn with_control(mut self, control: Addr<JobControl>) -> WorkerPool {
        self.pipeline.control = Some(control);
        self
    }

    /// Where the slot heartbeat keeps the live deployment's slots.
    pub fn live_slots(&self) -> Arc<AtomicUsize> {
        self.live_slots.clone()
    }

    /// What sizes the warm pool now.
    fn warm_sizing(&self) -> Sizing {
        self.sandbox.warm_sizing(
            self.settings.concurrency,
            self.live_slots.load(Ordering::Relaxed),
        )
    }

    /// Re-plans every language's warm target from its demand: the idle
    /// surplus is removed (in the background) and short languages refill.
    fn rebalance(&mut self, ctx: &mut Context<Self>) {
        let sizing = self.warm_sizing();
        let surplus = self.warm.plan(Instant::now(), &sizing);
        if !surplus.is_empty() {
            tracing::debug!(
                removed = surplus.len(),
                "removing idle warm containers beyond demand"
            );
        }
        drop(surplus);
        self.refill_all(ctx);
        for language in self.pipeline.languages.all() {
            crate::metrics::set_warm_idle(&language.id, self.warm.idle_count(&language.id));
        }
    }

    /// Starts preparing warm containers until `language`'s pool is full.
    fn refill(&mut self, ctx: &mut Context<Self>, language: &str) {
        let Some(language) = self.pipeline.languages.get(language).cloned() else {
            return;
        };
        if !self.engine_ok.load(Ordering::SeqCst) {
            return;
        }
        for refill in self.warm.refills(&language, &self.sandbox, &self.labels) {
            let (docker, pool, uids) =
                (self.docker.clone(), ctx.address(), self.sandbox.uid_range());
            let Refill {
                language,
                token,
                body,
                epoch,
            } = refill;
            // Its own task, so a restart of the pool cannot drop a container
            // half made: the result always comes back as WarmReady.
            actix_rt::spawn(async move {
                let started = Instant::now();
                let prepared = prepare(&docker, body, uids)
                    .await
                    .map_err(|error| tracing::warn!(language, %error, "preparing a warm container failed"))
                    .ok();
                pool.do_send(WarmReady {
                    language,
                    token,
                    epoch,
                    took: started.elapsed(),
                    prepared,
                });
            });
        }
    }

    /// Starts preparing warm containers for every language whose pool is
    /// short of its target.
    fn refill_all(&mut self, ctx: &mut Context<Self>) {
        let languages: Vec<String> = self.warm.wanted().cloned().collect();
        for language in &languages {
            self.refill(ctx, language);
        }
    }

    /// The job pipeline (StreamConsumer completes dead-lettered jobs
    /// through it).
    pub fn pipeline(&self) -> Pipeline {
        self.pipeline.clone()
    }

    /// Notified whenever a slot frees up.
    pub fn slot_signal(&self) -> Arc<Notify> {
        self.slot_freed.clone()
    }
}

impl Actor for WorkerPool {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        crate::metrics::set_docker_engine_up(self.engine_ok.load(Ordering::SeqCst));
        let sizing = self.warm_sizing();
        self.warm
            .seed(&self.sandbox.warm_languages, Instant::now(), &sizing);
        self.rebalance(ctx);
        ctx.run_interval(WARM_PLAN_INTERVAL, |pool, ctx| pool.rebalance(ctx));
        ctx.run_interval(
            Duration::from_millis(self.settings.engine_check_ms.max(100)),
            |pool, ctx| {
                let (docker, engine_ok) = (pool.docker.clone(), pool.engine_ok.clone());
                ctx.spawn(
                    async move {
                        let answered = tokio::time::timeout(Duration::from_secs(2), docker.ping())
                            .await
                            .is_ok_and(|r| r.is_ok());
                        let changed = answered != engine_ok.swap(answered, Ordering::SeqCst);
                        crate::metrics::set_docker_engine_up(answered);
                        (answered, changed)
                    }
                    .into_actor(pool)
                    .map(|(answered, changed), pool, ctx| {
                        if !changed {
                            return;
                        }
                        if answered {
                            tracing::info!("the Docker engine answers again; taking jobs");
                            pool.refill_all(ctx);
                        } else {
                            tracing::error!(
                                "the Docker engine does not answer; taking no jobs until it does"
                            );
                            // Their attach streams went with the connection.
                            drop(pool.warm.discard_all());
                        }
                    }),
                );
            },
        );
        ctx.run_interval(
            Duration::from_millis(self.settings.reap_interval_ms.max(1000)),
            |pool, ctx| {
                let docker = pool.docker.clone();
                let own = pool.labels.worker.clone();
                // Containers of running jobs and of the warm pool are alive.
                let running: HashSet<String> = pool
                    .running
                    .keys()
                    .map(JobId::to_string)
                    .chain(pool.warm.tokens().cloned())
                    .collect();
                ctx.spawn(
                    async move {
                        match crate::sandbox::reap_orphans(&docker, &own, &running).await {
                            Ok(0) => {}
                            Ok(removed) => {
                                tracing::info!(removed, "removed orphaned sandbox containers")
                            }
                            Err(error) => {
                                tracing::debug!(%error, "reaping orphaned containers failed")
                            }
                        }
                    }
                    .into_actor(pool),
                );
            },
        );
    }
}

impl actix::Supervised for WorkerPool {
    fn restarting(&mut self, _: &mut Context<Self>) {
        // Running jobs are tasks of their own and report back through
        // JobEnded; the interval checks start again in `started`.
        tracing::warn!(running = self.running.len(), "restarting the worker pool");
    }
}

impl Handler<FreeSlots> for WorkerPool {
    type Result = usize;

    fn handle(&mut self, _: FreeSlots, _: &mut Context<Self>) -> usize {
        if !self.engine_ok.load(Ordering::SeqCst) {
            return 0;
        }
        self.settings.concurrency.saturating_sub(self.running.len())
    }
}

/// Removes every idle warm container (shutdown), and those still being
/// prepared once they are; the removals run in the background and
/// `sandbox::pending_removals` counts them.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DrainWarm;

impl Handler<DrainWarm> for WorkerPool {
    type Result = ();

    fn handle(&mut self, _: DrainWarm, _: &mut Context<Self>) {
        // Stop refilling: a pool of size 0 asks for nothing.
        Arc::make_mut(&mut self.sandbox).warm_pool_size = 0;
        drop(self.warm.discard_all());
    }
}

/// How many jobs run here now (shutdown waits for zero).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct RunningJobs;

impl Handler<RunningJobs> for WorkerPool {
    type Result = usize;

    fn handle(&mut self, _: RunningJobs, _: &mut Context<Self>) -> usize {
        self.running.len()
    }
}

impl Handler<SendStdin> for WorkerPool {
    type Result = ResponseFuture<bool>;

    fn handle(&mut self, msg: SendStdin, _: &mut Context<Self>) -> Self::Result {
        let sandbox = self.running.get(&msg.job_id).cloned();
        Box::pin(async move {
            match sandbox {
                Some(sandbox) => sandbox
                    .send(Stdin { chunk: msg.chunk })
                    .await
                    .unwrap_or(false),
                None => false,
            }
        })
    }
}

impl Handler<KillJob> for WorkerPool {
    type Result = bool;

    fn handle(&mut self, msg: KillJob, _: &mut Context<Self>) -> bool {
        match self.running.get(&msg.job_id) {
            Some(sandbox) => {
                sandbox.do_send(Kill);
                true
            }
            None => false,
        }
    }
}

impl Handler<Execute> for WorkerPool {
    type Result = ();

    fn handle(&mut self, msg: Execute, ctx: &mut Context<Self>) {
        let Execute {
            entry_id,
            job,
            done,
            span,
        } = msg;
        let job_id = job.id;
        if self.running.contains_key(&job_id) {
            // The same job redelivered to us while it still runs here: the
            // running execution acks the entry when it is done.
            tracing::debug!(job_id = %job_id, entry = %entry_id, "job already running here");
            return;
        }
        let warm = if WarmPool::fits(&job, &self.sandbox) {
            let sizing = self.warm_sizing();
            self.warm.arrived(&job.language, Instant::now(), &sizing);
            let taken = self.warm.take(&job.language);
            // Re-plan with this arrival counted: a language's first job
            // starts its pool, a burst grows it.
            self.rebalance(ctx);
            taken
        } else {
            None
        };
        let (warm_token, prepared) = match warm {
            Some((token, prepared)) => (Some(token), Some(prepared)),
            None => (None, None),
        };
        tracing::debug!(job_id = %job_id, warm = prepared.is_some(), "starting a sandbox");
        let sandbox = SandboxActor::new(
            self.docker.clone(),
            self.sandbox.clone(),
            self.labels.clone(),
            self.compile_cache.clone(),
        )
        .start();
        self.running.insert(job_id, sandbox.clone());
        crate::metrics::set_running_containers(self.running.len());
        let pipeline = self.pipeline.clone();
        let pool = ctx.address();
        let work = async move {
            let control = pipeline.control.clone();
            // A panic in the job's own code path must still free the slot
            // and leave the entry for another delivery.
            let outcome = AssertUnwindSafe(pipeline.execute(job, prepared, sandbox))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    tracing::error!(job_id = %job_id, "the job's task panicked");
                    Outcome::Retry
                });
            if let Some(control) = control {
                control.do_send(Untrack { job_id });
            }
            let ack = matches!(outcome, Outcome::Done);
            if !ack {
                tracing::warn!(job_id = %job_id, "job left pending for another delivery");
            }
            // Awaited, so an ack is registered with StreamConsumer before the
            // slot counts as free (shutdown relies on that order).
            if done
                .send(JobDone {
                    entry_id,
                    job_id,
                    ack,
                })
                .await
                .is_err()
            {
                tracing::warn!(job_id = %job_id, "stream consumer gone; the entry will be redelivered");
            }
            pool.do_send(JobEnded { job_id, warm_token });
        };
        // Its own task, not the pool's future: a restart of the pool does
        // not interrupt running jobs.
        actix_rt::spawn(work.instrument(span));
    }
}

/// A job's task has ended (its entry is acked or left pending).
#[derive(Message)]
#[rtype(result = "()")]
struct JobEnded {
    job_id: JobId,
    warm_token: Option<String>,
}

impl Handler<JobEnded> for WorkerPool {
    type Result = ();

    fn handle(&mut self, msg: JobEnded, _: &mut Context<Self>) {
        self.running.remove(&msg.job_id);
        crate::metrics::set_running_containers(self.running.len());
        if let Some(token) = msg.warm_token {
            self.warm.retire(&token);
        }
        self.slot_freed.notify_one();
    }
}

/// A warm container's preparation has ended (`None`: it failed).
#[derive(Message)]
#[rtype(result = "()")]
struct WarmReady {
    language: String,
    token: String,
    epoch: u64,
    took: Duration,
    prepared: Option<Prepared>,
}

impl Handler<WarmReady> for WorkerPool {
    type Result = ();

    fn handle(&mut self, msg: WarmReady, _: &mut Context<Self>) {
        if msg.prepared.is_some() {
            self.warm.prepare_took(msg.took);
        }
        self.warm
            .prepared(&msg.language, msg.token, msg.epoch, msg.prepared);
    }
}

impl Pipeline {
    fn new(languages: Languages, store: Addr<StoreActor>, events: EventPublisher) -> Pipeline {
        Pipeline {
            languages,
            store,
            events,
            control: None,
            handed_back: Arc::default(),
        }
    }

    /// From now on no result is stored or acked: every job still running
    /// (and any finishing later) stays pending in the stream for another
    /// worker, so removing their containers at shutdown completes nothing
    /// with a wrong verdict.
    pub fn hand_back(&self) {
        self.handed_back.store(true, Ordering::SeqCst);
    }

    /// One job from delivery to stored result.
    async fn execute(
        self,
        job: Job,
        prepared: Option<Prepared>,
        sandbox: Addr<SandboxActor>,
    ) -> Outcome {
        let (job_id, user_id) = (job.id, job.user_id.clone());
        if let Some(outcome) = self.not_to_run(job_id, &user_id).await {
            return outcome;
        }
        if self.stopped_before_start(&job).await {
            tracing::info!(job_id = %job_id, user_id, "stopped on request before it started");
            return self
                .finish(job_id, &user_id, sandbox::stopped_on_request(true))
                .await;
        }
        self.announce_start(&job).await;
        let language_id = job.language.clone();
        let result = match self.languages.get(&job.language).cloned() {
            None => JobResult::internal_error(format!(
                "language {:?} is not installed on this worker",
                job.language
            )),
            Some(language) => match self.run_in_sandbox(job, language, prepared, sandbox).await {
                Ok(result) => result,
                Err(outcome) => return outcome,
            },
        };
        count_finished(&language_id, &result);
        self.finish(job_id, &user_id, result).await
    }

    /// What to do instead of running the job, if anything: ack a
    /// redelivered job that is already completed, drop one the store does
    /// not hold, leave it pending while the store is unavailable.
    async fn not_to_run(&self, job_id: JobId, user_id: &str) -> Option<Outcome> {
        match self.store.send(GetJob { id: job_id }).await {
            Ok(Ok(Some(stored))) if stored.status == JobStatus::Completed => {
                tracing::info!(job_id = %job_id, user_id, "redelivered job is already completed; acking");
                Some(Outcome::Done)
            }
            Ok(Ok(Some(_))) => None,
            Ok(Ok(None)) => {
                // Accepted by an API whose store we do not share: nothing to
                // complete, so running it would only waste a container.
                tracing::error!(job_id = %job_id, user_id, "job is not in the store; dropping it");
                Some(Outcome::Done)
            }
            Ok(Err(error)) => {
                tracing::error!(job_id = %job_id, %error, "store unavailable; job stays pending");
                Some(Outcome::Retry)
            }
            Err(error) => {
                tracing::error!(job_id = %job_id, %error, "store actor unavailable; job stays pending");
                Some(Outcome::Retry)
            }
        }
    }

    /// Registers the job with JobControl; true when its owner had already
    /// asked to stop it.
    async fn stopped_before_start(&self, job: &Job) -> bool {
        let Some(control) = &self.control else {
            return false;
        };
        control
            .send(Track {
                job_id: job.id,
                interactive: job.interactive,
            })
            .await
            .unwrap_or(false)
    }

    /// Marks the job running in the store and tells its owner it started.
    async fn announce_start(&self, job: &Job) {
        let (job_id, user_id) = (job.id, job.user_id.as_str());
        if let Ok(Err(error)) = self.store.send(MarkRunning { id: job_id }).await {
            tracing::warn!(job_id = %job_id, %error, "marking the job running failed");
        }
        publish(&self.events, user_id, ServerEvent::Started { id: job_id }).await;
        tracing::info!(job_id = %job_id, user_id, language = %job.language, "job started");
    }

    /// Runs the job in its SandboxActor, streaming its output to the owner
    /// as it comes; `Err(Retry)` when the sandbox failed in a way another
    /// attempt may not.
    async fn run_in_sandbox(
        &self,
        job: Job,
        language: Language,
        prepared: Option<Prepared>,
        sandbox: Addr<SandboxActor>,
    ) -> Result<JobResult, Outcome> {
        let (job_id, user_id) = (job.id, job.user_id.clone());
        let budget = job.limits.output_kb as usize * 1024;
        let live = Arc::new(LiveOutput::start(
            self.events.clone(),
            user_id,
            job_id,
            budget,
        ));
        let sink = live.clone();
        let on_output = Box::new(move |stream, bytes: &[u8]| sink.push(stream, bytes));
        let container = tracing::info_span!("container", job_id = %job_id, language = %language.id);
        let outcome = sandbox
            .send(Run {
                job,
                language,
                prepared,
                on_output,
            })
            .instrument(container)
            .await;
        // Every output event is out before `finished` (even if a sandbox
        // task still held the sink, later chunks are dropped).
        live.finish().await;
        match outcome {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(error)) if error.is_retriable() => {
                tracing::error!(job_id = %job_id, %error, "sandbox failed; job stays pending for a retry");
                Err(Outcome::Retry)
            }
            Ok(Err(error)) => Ok(JobResult::internal_error(error.to_string())),
            Err(mailbox) => Ok(JobResult::internal_error(format!(
                "the sandbox actor died: {mailbox}"
            ))),
        }
    }

    /// Stores the result and publishes `finished` once; `Retry` if the result
    /// could not be stored (the entry stays pending, nothing is lost).
    pub(crate) async fn finish(&self, job_id: JobId, user_id: &str, result: JobResult) -> Outcome {
        if self.handed_back.load(Ordering::SeqCst) {
            tracing::warn!(job_id = %job_id, user_id, "handed back at shutdown; its result is not stored");
            return Outcome::Retry;
        }
        let (store, events) = (&self.store, &self.events);
        let verdict = result.verdict;
        match store
            .send(CompleteJob {
                id: job_id,
                result: result.clone(),
            })
            .await
        {
            Ok(Ok(true)) => {
                tracing::info!(job_id = %job_id, user_id, ?verdict, "job finished");
                publish(
                    events,
                    user_id,
                    ServerEvent::Finished { id: job_id, result },
                )
                .await;
                Outcome::Done
            }
            Ok(Ok(false)) => Outcome::Done,
            Ok(Err(error)) => {
                tracing::error!(job_id = %job_id, %error, "storing the result failed; job stays pending");
                Outcome::Retry
            }
            Err(error) => {
                tracing::error!(job_id = %job_id, %error, "store actor unavailable; job stays pending");
                Outcome::Retry
            }
        }
    }
}

/// Counts a finished job in the metrics, by language and verdict.
fn count_finished(language_id: &str, result: &JobResult) {
    let verdict = serde_json::to_value(result.verdict)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    crate::metrics::job_finished(
        language_id,
        &verdict,
        std::time::Duration::from_millis(result.wall_ms),
    );
}

async fn publish(events: &EventPublisher, user_id: &str, event: ServerEvent) {
    if let Err(error) = events.publish(user_id, &event).await {
        tracing::warn!(user_id, %error, "publishing an event failed");
    }
}
