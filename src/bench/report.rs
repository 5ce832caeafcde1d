//! The benchmark's results: one serialisable report (written as JSON) and
//! the rows of the printed table.

use super::stats::Summary;
use std::path::Path;

#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub floor: Summary,
    pub floor_docker_cpu_ms: f64,
    /// The whole machine's CPU per bare container (run one at a time).
    pub floor_machine_cpu_ms: f64,
    /// Bare containers per second with 8 in flight (the engine alone).
    pub floor_throughput_8: f64,
    /// Submit→finished, one job at a time, paced (see `LATENCY_PACE`).
    pub latency: Vec<(String, Summary)>,
    /// Python hello world back to back, unpaced.
    pub back_to_back: Summary,
    /// Each language's `images/<id>/hello.json`, paced like `latency`.
    pub hello: Vec<Hello>,
    /// What the compile cache holds after the hello phase (every compiled
    /// language's hello kept), and rce's resident size then.
    pub compile_cache_bytes: u64,
    pub hello_rss_kb: u64,
    /// The idle warm containers right after the hello phase.
    pub warm_idle: WarmIdle,
    pub throughput: Vec<(usize, f64)>,
    pub rce_cpu_per_job_ms: f64,
    pub docker_cpu_per_job_ms: f64,
    /// The whole machine's CPU per job through rce at concurrency 8.
    pub machine_cpu_per_job_ms: f64,
    pub ingest_per_second: f64,
    pub ingest_latency: Summary,
    pub ingest_rejected: usize,
    pub idle_rss_kb: u64,
    pub websockets: usize,
    pub websockets_rss_kb: u64,
    /// Fairness on a 2-slot worker: one of user A's ten sleeping jobs,
    /// created→finished, and user B's `print(1)` submit→finished behind them.
    pub fair_a_job_s: f64,
    pub fair_b_s: f64,
}

/// One language's hello world.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Hello {
    pub language: String,
    /// The first job, submit→finished in ms, apart from the samples: a cold
    /// container (the pool is not started yet) and, for a compiled
    /// language, the compile the samples reuse.
    pub first_ms: f64,
    /// How many of the samples ran in a preloaded launcher.
    pub preloaded: usize,
    /// The jobs after it.
    pub samples: Summary,
}

/// What the idle warm containers hold in memory.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct WarmIdle {
    pub containers: usize,
    /// Their cgroups' memory usage (Docker's stats), all together.
    pub cgroup_kb: u64,
    /// Resident size of their containerd shims, all together.
    pub shim_kb: u64,
}

impl Report {
    /// Jobs per second the machine's cores allow if every job cost what a
    /// bare container costs in CPU (the yardstick: floor CPU per job
    /// against the cores; 0 when unmeasured).
    pub fn cpu_bound_rate(&self) -> f64 {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        if self.floor_machine_cpu_ms > 0.0 {
            cores * 1000.0 / self.floor_machine_cpu_ms
        } else {
            0.0
        }
    }

    /// rce's throughput with 8 jobs in flight.
    pub fn throughput_8(&self) -> f64 {
        self.throughput
            .iter()
            .find(|(c, _)| *c == 8)
            .map_or(0.0, |(_, r)| *r)
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(
            path,
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )
    }
}

/// One table row.
pub struct Figure {
    pub name: String,
    pub value: String,
    /// The figure divided by the floor's, where that comparison means something.
    pub ratio: Option<f64>,
}

impl Figure {
    pub fn new(name: &str, value: String, ratio: Option<f64>) -> Figure {
        Figure {
            name: name.to_string(),
            value,
            ratio,
        }
    }
}

/// The table as text.
pub fn render(rows: &[Figure]) -> String {
    let width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0);
    let value_width = rows
        .iter()
        .map(|r| r.value.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!(
        "{:<width$}  {:>value_width$}  {:>8}\n",
        "figure", "value", "× floor"
    );
    for row in rows {
        let ratio = row
            .ratio
            .map(|r| format!("{r:.2}"))
            .unwrap_or_else(|| "-".into());
        out += &format!(
            "{:<width$}  {:>value_width$}  {:>8}\n",
            row.name, row.value, ratio
        );
    }
    out
}
