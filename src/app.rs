//! Wires one rce process together for its role: `api` (HTTP, WebSocket,
//! PubSubBridge), `worker` (StreamConsumer, WorkerPool, SandboxActors,
//! JobControl, the Judge0 CallbackDispatcher when callbacks are configured,
//! and a small HTTP server with only `/healthz` and `/readyz`
//! for orchestrators' probes) or `all` (both; the default). Owns start-up
//! order (store, Redis, Docker, reaper, the confinement probe, actors, HTTP:
//! a worker whose sandboxes would run without seccomp or no-new-privileges
//! stops there with an error) and the shutdown
//! signal (SIGTERM/SIGINT: stop accepting, close WebSockets with 1001
//! going-away, finish open requests, stop reading the stream, let running
//! jobs finish, exit 0), all within `shutdown.drain_timeout_ms`: jobs still
//! running then are handed back to the stream and their containers removed,
//! and a thread of last resort exits the process a second later whatever
//! it waits on (Redis or Docker down). Every long-lived actor runs under
//! [`crate::actors::supervisor`]. Logging and tracing are set up by
//! [`crate::telemetry`].

use crate::actors::intake::Intake;
use crate::actors::store::StoreActor;
use crate::actors::stream_consumer::{ConsumerHandle, StreamConsumer};
use crate::actors::supervisor;
use crate::actors::worker_pool::{DrainWarm, Pipeline, RunningJobs, WorkerPool};
use crate::actors::{JobControl, PubSubBridge};
use crate::api_state::ApiState;
use crate::auth::Accounts;
use crate::config::Settings;
use crate::control::ControlClient;
use crate::fair::{self, FairQueue};
use crate::http::{configure, probe_routes, Readiness};
use crate::languages::Languages;
use crate::queue::{self, EventPublisher, Keys};
use crate::quota::Quota;
use crate::sandbox::{self, ContainerLabels};
use actix::{Addr, AsyncContext};
use actix_web::{web, App, HttpServer};
use serde::Deserialize;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Which half of rce this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    Api,
    Worker,
    All,
}

impl Role {
    fn runs_api(self) -> bool {
        matches!(self, Role::Api | Role::All)
    }

    fn runs_worker(self) -> bool {
        matches!(self, Role::Worker | Role::All)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error(transparent)]
    Languages(#[from] crate::languages::LanguagesError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("connecting to Redis at {url}: {source}")]
    Redis {
        url: String,
        source: redis::RedisError,
    },
    #[error(transparent)]
    Docker(#[from] sandbox::DockerError),
    #[error(transparent)]
    Images(#[from] sandbox::ImagesError),
    #[error("refusing to run jobs: {0}")]
    Confinement(#[from] sandbox::ConfinementError),
    #[error("binding {bind}: {source}")]
    Bind {
        bind: String,
        source: std::io::Error,
    },
    #[error("http server: {0}")]
    Server(std::io::Error),
}

/// How a process ends.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShutdownSettings {
    /// From SIGTERM to exit, at most: open requests finish, the stream
    /// consumer stops, running jobs finish and are acked. Jobs still running
    /// when it runs out are handed back (their entries stay pending and
    /// another worker claims them after `worker.claim_idle_ms`) and their
    /// containers removed. Past it plus a second, the process exits
    /// whatever it is waiting on (Redis or Docker down).
    pub drain_timeout_ms: u64,
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        // Within Kubernetes' default 30 s termination grace period.
        ShutdownSettings {
            drain_timeout_ms: 25_000,
        }
    }
}

impl ShutdownSettings {
    fn drain_timeout(&self) -> Duration {
        Duration::from_millis(self.drain_timeout_ms)
    }
}

/// Runs the service until SIGTERM or SIGINT.
pub fn serve(settings: Settings, role: Role) -> Result<(), AppError> {
    // Every WebSocket and every attached container holds descriptors; the
    // usual soft limit of 1024 would cap them long before memory does.
    if let Err(error) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(%error, "cannot raise the open-files limit");
    }
    let last_resort = settings.shutdown.drain_timeout() + Duration::from_secs(1);
    actix_rt::System::new().block_on(async move {
        let shutdown = shutdown_signal();
        exit_after(shutdown.clone(), last_resort);
        run(settings, role, shutdown).await
    })
}

/// Once `shutdown` is cancelled, ends the process after `limit` whatever it
/// is waiting on: a thread of its own, so even a blocked runtime cannot keep
/// it alive.
fn exit_after(shutdown: CancellationToken, limit: Duration) {
    actix_rt::spawn(async move {
        shutdown.cancelled().await;
        std::thread::spawn(move || {
            std::thread::sleep(limit);
            eprintln!("rce: shutdown did not finish within the drain timeout; exiting");
            std::process::exit(1);
        });
    });
}

/// A token cancelled on the first SIGTERM or SIGINT.
fn shutdown_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    actix_rt::spawn(async move {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGTERM");
                    return;
                }
            };
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        }
        cancel.cancel();
    });
    token
}

/// Starts the role's actors and server; returns after a graceful shutdown.
pub async fn run(
    settings: Settings,
    role: Role,
    shutdown: CancellationToken,
) -> Result<(), AppError> {
    if role.runs_api() {
        check_auth(&settings)?;
    }
    supervisor::configure(&settings.supervision);
    crate::fault::watch();
    let engine = if role.runs_worker() {
        Some(sandbox::connect().await?)
    } else {
        None
    };
    let shared = Shared::start(&settings, engine.as_ref()).await?;
    let worker = match engine {
        Some(engine) => Some(start_worker(&settings, &shared, engine, &shutdown).await?),
        None => None,
    };
    let docker = worker.as_ref().map(|worker| worker.docker.clone());
    // A worker-only process has no API server; orchestrators still need
    // probes. It keeps answering while the worker drains.
    let probes = if role == Role::Worker {
        Some(start_probes(&settings, &shared, docker.clone())?)
    } else {
        None
    };
    if role.runs_api() {
        serve_api(&settings, role, &shared, docker, &shutdown).await?;
    } else {
        shutdown.cancelled().await;
    }
    let deadline = tokio::time::Instant::now() + settings.shutdown.drain_timeout();
    if let Some(worker) = worker {
        worker
            .drain_or_hand_back(deadline, &settings.shutdown)
            .await;
    }
    if let Some(probes) = probes {
        probes.stop(true).await;
    }
    tracing::info!("rce stopped");
    Ok(())
}

/// Only a process that serves the API signs and checks login tokens; a
/// `--role worker` never reads the secret, so it needs none (the
/// Kubernetes and compose workers are not given it).
fn check_auth(settings: &Settings) -> Result<(), AppError> {
    settings.auth.check(&settings.env)?;
    if settings.auth.jwt_secret == crate::auth::DEV_SECRET {
        tracing::warn!(
            "auth.jwt_secret is the built-in development secret; set RCE_AUTH__JWT_SECRET"
        );
    }
    Ok(())
}

/// What both roles use: the language table, the store actor and the Redis
/// connection with its keys, event publisher and fair queue.
struct Shared {
    languages: Languages,
    store: Addr<StoreActor>,
    redis: redis::aio::ConnectionManager,
    keys: Keys,
    events: EventPublisher,
    fair_queue: FairQueue,
}

impl Shared {
    /// Loads the languages (on a worker, only those whose image is built,
    /// with the image's version), opens the store and connects to Redis, in
    /// that order.
    async fn start(
        settings: &Settings,
        engine: Option<&bollard::Docker>,
    ) -> Result<Shared, AppError> {
        let languages =
            Languages::load(&settings.sandbox.languages_file)?.only(&settings.sandbox.languages)?;
        let languages = match engine {
            Some(engine) => sandbox::served_languages(engine, &languages).await?,
            None => languages,
        };
        let store = crate::store::open(&settings.store).await?;
        let retention = settings.store.retention();
        let store = supervisor::start("store", move |_| {
            StoreActor::new(store).with_retention(retention)
        });
        let redis = queue::connect(&settings.redis)
            .await
            .map_err(|source| AppError::Redis {
                url: settings.redis.url.clone(),
                source,
            })?;
        let keys = Keys::new(&settings.redis.prefix);
        let events = EventPublisher::new(redis.clone(), keys.clone());
        let fair_queue =
            FairQueue::new(redis.clone(), keys.clone(), settings.quota.max_running_jobs);
        Ok(Shared {
            languages,
            store,
            redis,
            keys,
            events,
            fair_queue,
        })
    }
}

/// A started worker: what shutdown needs to drain it or hand its jobs back.
struct Worker {
    pool: Addr<WorkerPool>,
    pipeline: Pipeline,
    consumer: ConsumerHandle,
    docker: bollard::Docker,
    name: String,
}

impl Worker {
    /// Lets running jobs finish until shortly before `deadline`; past that,
    /// hands them back to the stream and removes their containers.
    async fn drain_or_hand_back(self, deadline: tokio::time::Instant, shutdown: &ShutdownSettings) {
        let drained = tokio::time::timeout_at(
            deadline - Duration::from_millis(500).min(shutdown.drain_timeout() / 4),
            drain(&self.pool, &self.consumer),
        )
        .await;
        if drained.is_err() {
            self.pipeline.hand_back();
            hand_back(Some(&self.docker), &self.name).await;
        }
    }
}

/// Reaps dead workers' containers, runs the confinement probe, then starts
/// WorkerPool (with JobControl), the StreamConsumer, the fair-queue
/// heartbeat and, when configured, the Judge0 callback dispatcher.
async fn start_worker(
    settings: &Settings,
    shared: &Shared,
    engine: bollard::Docker,
    shutdown: &CancellationToken,
) -> Result<Worker, AppError> {
    let name = sandbox::worker_name();
    reap_dead_workers(&engine, &name).await;
    let labels = ContainerLabels {
        worker: name.clone(),
        prefix: settings.redis.prefix.clone(),
    };
    check_confinement(&engine, &settings.sandbox, &shared.languages, &labels).await?;
    let pool = WorkerPool::new(
        settings.worker.clone(),
        Arc::new(settings.sandbox.clone()),
        shared.languages.clone(),
        engine.clone(),
        shared.store.clone(),
        shared.events.clone(),
        labels,
    );
    let (slot_freed, pipeline, live_slots) =
        (pool.slot_signal(), pool.pipeline(), pool.live_slots());
    let pool = start_pool(settings, shared, pool);
    let consumer = StreamConsumer::new(
        settings.redis.clone(),
        settings.worker.clone(),
        name.clone(),
        pool.clone(),
        pipeline.clone(),
        shared.redis.clone(),
        shared.fair_queue.clone(),
        slot_freed,
        shutdown.clone(),
    );
    fair::spawn_heartbeat(
        shared.fair_queue.clone(),
        name.clone(),
        settings.worker.concurrency,
        live_slots,
        shutdown.clone(),
    );
    let handle = consumer.handle();
    supervisor::start(StreamConsumer::NAME, move |_| consumer);
    if settings.compat.judge0.enabled && settings.compat.judge0.callbacks_enabled() {
        start_callback_dispatcher(settings, shared);
    }
    tracing::info!(worker = %name, concurrency = settings.worker.concurrency, "worker started");
    Ok(Worker {
        pool,
        pipeline,
        consumer: handle,
        docker: engine,
        name,
    })
}

/// Removes the containers left by workers that died without cleaning up.
async fn reap_dead_workers(engine: &bollard::Docker, worker: &str) {
    match sandbox::reap_orphans(engine, worker, &Default::default()).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "removed containers of dead workers"),
        Err(error) => tracing::warn!(%error, "listing containers for the reaper failed"),
    }
}

/// Starts WorkerPool and, from inside it, JobControl: they address each
/// other (jobs register with JobControl, and it routes stdin and kill back
/// to the pool).
fn start_pool(settings: &Settings, shared: &Shared, pool: WorkerPool) -> Addr<WorkerPool> {
    supervisor::start("worker_pool", |ctx| {
        let control = ControlClient::new(shared.redis.clone(), shared.keys.clone());
        let (redis_settings, pool_address) = (settings.redis.clone(), ctx.address());
        let job_control = supervisor::start("job_control", move |_| {
            JobControl::new(redis_settings, control, pool_address)
        });
        pool.with_control(job_control)
    })
}

/// Starts the Judge0 CallbackDispatcher, which delivers submissions'
/// `callback_url` notifications.
fn start_callback_dispatcher(settings: &Settings, shared: &Shared) {
    let dispatcher = crate::compat::judge0::CallbackDispatcher::new(
        shared.redis.clone(),
        shared.keys.clone(),
        shared.store.clone(),
        shared.languages.clone(),
        settings.compat.judge0.clone(),
    );
    supervisor::start("callback_dispatcher", move |_| dispatcher);
}

/// Starts the worker-only HTTP server with `/healthz`, `/readyz` (and
/// metrics) on `worker.health_bind`, in the background.
fn start_probes(
    settings: &Settings,
    shared: &Shared,
    docker: Option<bollard::Docker>,
) -> Result<actix_web::dev::ServerHandle, AppError> {
    let readiness = Readiness {
        redis: shared.redis.clone(),
        store: shared.store.clone(),
        docker,
    };
    let bind = &settings.worker.health_bind;
    let metrics_token = crate::http::MetricsToken::new(settings.http.metrics_token.as_deref());
    let server = HttpServer::new(move || {
        App::new().configure(probe_routes(readiness.clone(), metrics_token.clone()))
    })
    .workers(1)
    .disable_signals()
    .bind(bind)
    .map_err(|source| AppError::Bind {
        bind: bind.clone(),
        source,
    })?;
    for address in server.addrs() {
        println!("rce listening on http://{address}");
    }
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);
    Ok(handle)
}

/// Starts the PubSubBridge and serves the API until `shutdown` and the
/// graceful stop of open requests.
async fn serve_api(
    settings: &Settings,
    role: Role,
    shared: &Shared,
    docker: Option<bollard::Docker>,
    shutdown: &CancellationToken,
) -> Result<(), AppError> {
    let bridge = supervisor::start("pubsub_bridge", {
        let redis = settings.redis.clone();
        move |_| PubSubBridge::new(redis)
    });
    let state = web::Data::new(api_state(settings, shared, bridge, docker, shutdown)?);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(actix_web::middleware::from_fn(crate::http::track_request))
            // The request span records the path only: query strings carry
            // tokens (`/api/v1/ws?token=…`).
            .wrap(tracing_actix_web::TracingLogger::<crate::http::PathOnlySpan>::new())
            // `/judge0/submissions/` is `/judge0/submissions`, as in
            // Judge0 (Rails) and Piston: clients add the slash.
            .wrap(actix_web::middleware::NormalizePath::trim())
            .configure(configure(state.clone()))
    })
    .workers(settings.http.workers)
    .shutdown_signal(shutdown.clone().cancelled_owned())
    .shutdown_timeout(request_drain_secs(&settings.shutdown, role))
    .bind(&settings.http.bind)
    .map_err(|source| AppError::Bind {
        bind: settings.http.bind.clone(),
        source,
    })?;
    for address in server.addrs() {
        // Scripts and tests read the bound port from this line.
        println!("rce listening on http://{address}");
    }
    server.run().await.map_err(AppError::Server)
}

/// How long open requests get at shutdown, in seconds: the drain (less a
/// second to exit); half of it where jobs run here too, the rest is theirs.
fn request_drain_secs(shutdown: &ShutdownSettings, role: Role) -> u64 {
    if role.runs_worker() {
        (shutdown.drain_timeout_ms / 2000).max(1)
    } else {
        (shutdown.drain_timeout_ms / 1000).saturating_sub(1).max(1)
    }
}

/// The state every API handler shares.
fn api_state(
    settings: &Settings,
    shared: &Shared,
    bridge: Addr<PubSubBridge>,
    docker: Option<bollard::Docker>,
    shutdown: &CancellationToken,
) -> Result<ApiState, AppError> {
    let Shared {
        languages,
        store,
        redis,
        keys,
        fair_queue,
        ..
    } = shared;
    Ok(ApiState {
        intake: Intake {
            store: store.clone(),
            queue: fair_queue.clone(),
            languages: languages.clone(),
            bounds: settings.sandbox.bounds(),
            quota: Quota::new(
                redis.clone(),
                keys.clone(),
                store.clone(),
                settings.quota.clone(),
            ),
            max_user_stored_bytes: settings.store.max_user_stored_bytes,
        },
        accounts: Accounts::new(&settings.auth, store.clone())?,
        throttle: crate::auth::Throttle::new(
            redis.clone(),
            keys.clone(),
            settings.auth.throttle.clone(),
            &settings.http.trusted_proxies,
        ),
        bridge,
        redis: redis.clone(),
        keys: keys.clone(),
        docker,
        http: settings.http.clone(),
        control: ControlClient::new(redis.clone(), keys.clone()),
        ws: settings.ws.clone(),
        compat: settings.compat.clone(),
        shutdown: shutdown.clone(),
    })
}

/// Runs the confinement probe once the engine answered: a worker whose
/// sandbox containers would run without the pinned seccomp profile or
/// no-new-privileges takes no jobs (the process stops, like any other
/// failed start-up step).
async fn check_confinement(
    engine: &bollard::Docker,
    settings: &sandbox::SandboxSettings,
    languages: &Languages,
    labels: &ContainerLabels,
) -> Result<(), AppError> {
    let report = sandbox::check_confinement(engine, settings, languages, labels).await?;
    let took_ms = report.took.as_millis() as u64;
    if settings.is_gvisor() {
        tracing::info!(
            language = %report.language,
            took_ms,
            runtime = %settings.runtime,
            "sandbox confinement checked: no-new-privileges; gVisor's own syscall boundary stands in for the host seccomp filter, which its kernel does not show"
        );
    } else {
        tracing::info!(
            language = %report.language,
            took_ms,
            runtime = %settings.runtime,
            "sandbox confinement checked: seccomp filter and no-new-privileges in force"
        );
    }
    Ok(())
}

/// The drain ran out of time: the jobs still running are handed back (their
/// entries stay pending in the stream, unacked, and another worker claims
/// them after `claim_idle_ms`) and their containers are removed, as far as
/// the engine answers within a second.
async fn hand_back(docker: Option<&bollard::Docker>, worker: &str) {
    tracing::warn!("drain timeout: handing running jobs back to the stream and exiting");
    let Some(docker) = docker else {
        return;
    };
    let none_running = Default::default();
    let removal = sandbox::reap_orphans(docker, worker, &none_running);
    match tokio::time::timeout(Duration::from_secs(1), removal).await {
        Ok(Ok(removed)) => tracing::info!(removed, "removed the containers of handed-back jobs"),
        Ok(Err(error)) => tracing::warn!(%error, "removing containers at shutdown failed"),
        Err(_) => tracing::warn!("the Docker engine did not answer at shutdown"),
    }
}

/// Waits until the stream consumer has stopped dispatching, every job it
/// dispatched has finished (each is bounded by its own deadline) and every
/// ack has been answered, so nothing stays pending in this worker's name.
async fn drain(pool: &Addr<WorkerPool>, handle: &ConsumerHandle) {
    handle.stopped.cancelled().await;
    loop {
        let running = pool.send(RunningJobs).await.unwrap_or(0);
        if running == 0 && handle.pending_acks.load(Ordering::SeqCst) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = pool.send(DrainWarm).await;
    // Container removals run off the critical path; let them finish (a
    // container left by a stuck removal is reaped by the next worker).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while sandbox::pending_removals() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
