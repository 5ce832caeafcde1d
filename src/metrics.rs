//! The process's one Prometheus registry and every metric in it. Other
//! modules record through the small functions here (WorkerPool: verdicts,
//! execution time, running containers; the actor supervisor: restarts, and which actors are up at scrape time;
//! StreamConsumer: dead letters; the HTTP middleware: latency by
//! route; the API: submissions and quota refusals); `/metrics` renders the
//! registry in the text exposition format, after reading the queue's state
//! (XINFO GROUPS on the job stream) at scrape time, so those gauges are
//! never stale. A process-wide static, like any Prometheus registry: metrics
//! are recorded from actors, handlers and middleware alike, and none of them
//! is a core flow that should pass it around. In a split deployment each
//! process exposes what it records; the worker-side series appear on a
//! process that also serves HTTP (`--role all`).

use prometheus::{
    exponential_buckets, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::sync::LazyLock;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("registering metric: {0}")]
    Register(#[from] prometheus::Error),
    #[error("encoding metrics: {0}")]
    Encode(String),
}

/// Prefix of every metric name.
const NAMESPACE: &str = "rce";

/// Registers `collector` and notes its full name (with the namespace).
fn register<C>(
    registry: &Registry,
    names: &mut Vec<String>,
    collector: &C,
) -> Result<(), MetricsError>
where
    C: prometheus::core::Collector + Clone + 'static,
{
    names.extend(
        collector
            .desc()
            .iter()
            .map(|desc| format!("{NAMESPACE}_{}", desc.fq_name)),
    );
    registry.register(Box::new(collector.clone()))?;
    Ok(())
}

struct Metrics {
    registry: Registry,
    /// Every family's full name, recorded or not yet.
    names: Vec<String>,
    jobs_submitted: IntCounterVec,
    jobs_finished: IntCounterVec,
    job_execution_seconds: HistogramVec,
    running_containers: IntGauge,
    http_request_seconds: HistogramVec,
    quota_refusals: IntCounterVec,
    queue: IntGaugeVec,
    actor_restarts: IntCounterVec,
    actor_up: IntGaugeVec,
    jobs_dead_lettered: IntCounter,
    docker_engine_up: IntGauge,
    fair_backlog_users: IntGauge,
    fair_held_jobs: IntGauge,
    warm_idle: IntGaugeVec,
    compile_cache_lookups: IntCounterVec,
    compile_cache_bytes: IntGauge,
    preloaded_runs: IntCounterVec,
}

impl Metrics {
    fn new() -> Result<Metrics, MetricsError> {
        let registry = Registry::new_custom(Some(NAMESPACE.into()), None)?;
        let mut names = Vec::new();
        let jobs_submitted = IntCounterVec::new(
            Opts::new("jobs_submitted_total", "Submissions accepted, by language"),
            &["language"],
        )?;
        let jobs_finished = IntCounterVec::new(
            Opts::new(
                "jobs_finished_total",
                "Jobs finished on this worker, by language and verdict",
            ),
            &["language", "verdict"],
        )?;
        let job_execution_seconds = HistogramVec::new(
            HistogramOpts::new(
                "job_execution_seconds",
                "Wall time of the user program, by language",
            )
            .buckets(exponential_buckets(0.01, 2.0, 14)?),
            &["language"],
        )?;
        let running_containers = IntGauge::new(
            "running_containers",
            "Sandbox containers running on this worker",
        )?;
        let http_request_seconds = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency, by route pattern",
            )
            .buckets(exponential_buckets(0.001, 2.5, 12)?),
            &["method", "route", "status"],
        )?;
        let quota_refusals = IntCounterVec::new(
            Opts::new(
                "quota_refusals_total",
                "Requests refused with 429, by reason",
            ),
            &["reason"],
        )?;
        let queue = IntGaugeVec::new(
            Opts::new("queue_entries", "Job stream state at scrape time: length, pending (delivered, unacked), lag (not yet delivered)"),
            &["state"],
        )?;
        register(&registry, &mut names, &jobs_submitted)?;
        register(&registry, &mut names, &jobs_finished)?;
        register(&registry, &mut names, &job_execution_seconds)?;
        register(&registry, &mut names, &running_containers)?;
        register(&registry, &mut names, &http_request_seconds)?;
        register(&registry, &mut names, &quota_refusals)?;
        let actor_restarts = IntCounterVec::new(
            Opts::new(
                "actor_restarts_total",
                "Restarts of a supervised actor after a panic or a stop, by actor",
            ),
            &["actor"],
        )?;
        register(&registry, &mut names, &queue)?;
        let actor_up = IntGaugeVec::new(
            Opts::new(
                "actor_up",
                "1 while a supervised actor is running, 0 while it restarts, is dead or wedged (at scrape time)",
            ),
            &["actor"],
        )?;
        let jobs_dead_lettered = IntCounter::new(
            "jobs_dead_lettered_total",
            "Entries moved to the dead-letter stream after max_attempts deliveries",
        )?;
        let docker_engine_up = IntGauge::new(
            "docker_engine_up",
            "1 while this worker's Docker engine answers its checks",
        )?;
        register(&registry, &mut names, &actor_restarts)?;
        register(&registry, &mut names, &actor_up)?;
        register(&registry, &mut names, &jobs_dead_lettered)?;
        register(&registry, &mut names, &docker_engine_up)?;
        // Totals only: how much one user has queued is their business.
        let fair_backlog_users = IntGauge::new(
            "fair_backlog_users",
            "Users with jobs held for fair dispatch, at scrape time",
        )?;
        let fair_held_jobs = IntGauge::new(
            "fair_held_jobs",
            "Jobs held for fair dispatch (not yet in the stream), at scrape time",
        )?;
        register(&registry, &mut names, &fair_backlog_users)?;
        register(&registry, &mut names, &fair_held_jobs)?;
        let warm_idle = IntGaugeVec::new(
            Opts::new(
                "warm_idle_containers",
                "Idle warm containers on this worker, by language (at the last plan)",
            ),
            &["language"],
        )?;
        register(&registry, &mut names, &warm_idle)?;
        let compile_cache_lookups = IntCounterVec::new(
            Opts::new(
                "compile_cache_lookups_total",
                "Compiles looked up in this worker's compile cache, by language and outcome (hit, miss)",
            ),
            &["language", "outcome"],
        )?;
        let compile_cache_bytes = IntGauge::new(
            "compile_cache_bytes",
            "Bytes of compile artifacts this worker keeps for reuse",
        )?;
        register(&registry, &mut names, &compile_cache_lookups)?;
        register(&registry, &mut names, &compile_cache_bytes)?;
        let preloaded_runs = IntCounterVec::new(
            Opts::new(
                "preloaded_runs_total",
                "Programs run by a warm container's preloaded launcher (runtime already started), by language",
            ),
            &["language"],
        )?;
        register(&registry, &mut names, &preloaded_runs)?;
        Ok(Metrics {
            registry,
            names,
            jobs_submitted,
            jobs_finished,
            job_execution_seconds,
            running_containers,
            http_request_seconds,
            quota_refusals,
            queue,
            actor_restarts,
            actor_up,
            jobs_dead_lettered,
            docker_engine_up,
            fair_backlog_users,
            fair_held_jobs,
            warm_idle,
            compile_cache_lookups,
            compile_cache_bytes,
            preloaded_runs,
        })
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    // unwrap: the metric names and buckets above are constants; registering
    // them fails only on a duplicate name, which the unit test below pins.
    Metrics::new().expect("metrics register")
});

/// The name of every metric this process can export (`rce_…`; histograms
/// add `_bucket`, `_sum` and `_count`), whether or not it has samples yet:
/// alert rules and dashboards are checked against it.
pub fn names() -> Vec<String> {
    METRICS.names.clone()
}

/// What the fair dispatcher holds (read at scrape time).
pub fn set_fair_backlog(users: u64, jobs: u64) {
    let gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    METRICS.fair_backlog_users.set(gauge(users));
    METRICS.fair_held_jobs.set(gauge(jobs));
}

/// A submission was accepted.
pub fn job_submitted(language: &str) {
    METRICS.jobs_submitted.with_label_values(&[language]).inc();
}

/// A job finished with `verdict` (snake_case, as in the API) after `wall`.
pub fn job_finished(language: &str, verdict: &str, wall: Duration) {
    METRICS
        .jobs_finished
        .with_label_values(&[language, verdict])
        .inc();
    METRICS
        .job_execution_seconds
        .with_label_values(&[language])
        .observe(wall.as_secs_f64());
}

/// The number of containers this worker runs now.
pub fn set_running_containers(count: usize) {
    METRICS
        .running_containers
        .set(i64::try_from(count).unwrap_or(i64::MAX));
}

/// The idle warm containers of `language` on this worker.
pub fn set_warm_idle(language: &str, count: usize) {
    METRICS
        .warm_idle
        .with_label_values(&[language])
        .set(i64::try_from(count).unwrap_or(i64::MAX));
}

/// A compile of `language` was looked up in the compile cache.
pub fn compile_cache_lookup(language: &str, hit: bool) {
    let outcome = if hit { "hit" } else { "miss" };
    METRICS
        .compile_cache_lookups
        .with_label_values(&[language, outcome])
        .inc();
}

/// A program of `language` ran in a preloaded launcher.
pub fn preloaded_run(language: &str) {
    METRICS.preloaded_runs.with_label_values(&[language]).inc();
}

/// The bytes the compile cache holds now.
pub fn set_compile_cache_bytes(bytes: usize) {
    METRICS
        .compile_cache_bytes
        .set(i64::try_from(bytes).unwrap_or(i64::MAX));
}

/// One HTTP request: `route` is the matched pattern (`/api/v1/submissions/{id}`),
/// never the raw path, so the label set stays bounded.
pub fn http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    METRICS
        .http_request_seconds
        .with_label_values(&[method, route, &status.to_string()])
        .observe(elapsed.as_secs_f64());
}

/// A request was refused by a quota (`reason` is its error code).
pub fn quota_refused(reason: &str) {
    METRICS.quota_refusals.with_label_values(&[reason]).inc();
}

/// A supervised actor was restarted (after a panic or a stop).
pub fn actor_restarted(actor: &str) {
    METRICS.actor_restarts.with_label_values(&[actor]).inc();
}

/// Whether `actor` is running now (set at scrape time).
pub fn set_actor_up(actor: &str, up: bool) {
    METRICS
        .actor_up
        .with_label_values(&[actor])
        .set(i64::from(up));
}

/// An entry was dead-lettered.
pub fn job_dead_lettered() {
    METRICS.jobs_dead_lettered.inc();
}

/// Whether this worker's Docker engine answered its last check.
pub fn set_docker_engine_up(up: bool) {
    METRICS.docker_engine_up.set(i64::from(up));
}

/// The job stream's state, read at scrape time.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueState {
    pub length: u64,
    pub pending: u64,
    pub lag: u64,
}

/// The registry in Prometheus' text format, with the queue gauges set to
/// `queue` first (left out when Redis could not be read).
pub fn render(queue: Option<QueueState>) -> Result<String, MetricsError> {
    match queue {
        Some(state) => {
            for (label, value) in [
                ("length", state.length),
                ("pending", state.pending),
                ("lag", state.lag),
            ] {
                METRICS
                    .queue
                    .with_label_values(&[label])
                    .set(i64::try_from(value).unwrap_or(i64::MAX));
            }
        }
        None => METRICS.queue.reset(),
    }
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&METRICS.registry.gather(), &mut out)
        .map_err(|e| MetricsError::Encode(e.to_string()))?;
    String::from_utf8(out).map_err(|e| MetricsError::Encode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every metric registers (no duplicate names) and recorded values show
    /// up in the text format with the `rce_` namespace.
    #[test]
    fn records_render_as_text() {
        job_submitted("python");
        job_finished("python", "ok", Duration::from_millis(20));
        http_request("GET", "/api/v1/languages", 200, Duration::from_millis(3));
        set_running_containers(2);
        actor_restarted("stream_consumer");
        set_actor_up("store", true);
        job_dead_lettered();
        set_docker_engine_up(true);
        let text = render(Some(QueueState {
            length: 5,
            pending: 1,
            lag: 4,
        }))
        .unwrap();
        assert!(
            text.contains(r#"rce_jobs_finished_total{language="python",verdict="ok"}"#),
            "{text}"
        );
        assert!(text.contains("rce_job_execution_seconds_bucket"), "{text}");
        assert!(
            text.contains(r#"rce_queue_entries{state="lag"} 4"#),
            "{text}"
        );
        assert!(text.contains("rce_running_containers 2"), "{text}");
        assert!(
            text.contains(r#"rce_actor_restarts_total{actor="stream_consumer"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"rce_actor_up{actor="store"} 1"#), "{text}");
        assert!(text.contains("rce_jobs_dead_lettered_total 1"), "{text}");
        assert!(text.contains("rce_docker_engine_up 1"), "{text}");
        assert!(names().contains(&"rce_actor_restarts_total".to_string()));
        assert!(text.contains(r#"route="/api/v1/languages""#), "{text}");
    }
}
