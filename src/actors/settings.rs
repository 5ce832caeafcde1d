//! The actors' configuration, each struct with its defaults: how a worker
//! consumes the queue ([`WorkerSettings`]: StreamConsumer, WorkerPool) and how
//! supervised actors are judged ([`SupervisionSettings`]). `config` composes
//! them under `worker` and `supervision`.

use serde::Deserialize;

/// How a worker process consumes the queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// Jobs run at once by this process (execution slots).
    pub concurrency: usize,
    /// A pending entry idle this long is taken over from its (presumably
    /// dead) consumer with XAUTOCLAIM.
    pub claim_idle_ms: u64,
    /// Deliveries after which a job is completed as internal_error and
    /// dead-lettered instead of run again.
    pub max_attempts: u64,
    /// How long one XREADGROUP blocks; bounds shutdown latency.
    pub read_block_ms: u64,
    /// How often acknowledged history is trimmed from the stream.
    pub trim_interval_ms: u64,
    /// How often the Docker engine is pinged; while it does not answer the
    /// worker takes no jobs and reports not ready.
    pub engine_check_ms: u64,
    /// How often containers left by dead workers on this host are removed.
    pub reap_interval_ms: u64,
    /// Where a worker-only process (`--role worker`) serves `/healthz` and
    /// `/readyz` for orchestrators' probes (port 0 picks one; the bound
    /// address is printed as `rce listening on …`). Unused by other roles,
    /// whose API server has the same routes.
    pub health_bind: String,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            claim_idle_ms: 30_000,
            max_attempts: 3,
            read_block_ms: 2_000,
            trim_interval_ms: 10_000,
            engine_check_ms: 2_000,
            reap_interval_ms: 30_000,
            health_bind: "127.0.0.1:8081".into(),
        }
    }
}

/// How supervised actors are judged.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupervisionSettings {
    /// An actor whose beat (or, for the stream consumer, its read loop) is
    /// older than this is `wedged`: `/healthz` fails so an orchestrator
    /// restarts the process.
    pub wedged_after_ms: u64,
}

impl Default for SupervisionSettings {
    fn default() -> Self {
        SupervisionSettings {
            // Well past the longest quiet turn of the read loop (a blocking
            // read, a reconnect and the longest back-off).
            wedged_after_ms: 30_000,
        }
    }
}
