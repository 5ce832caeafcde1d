//! The sandbox's settings: where the language manifest is, which OCI runtime
//! runs containers, the default and maximum limits a submission may ask for,
//! and the fixed container shape (tmpfs sizes, uid, slack for the runner).

use super::demand::Sizing;
use super::uids::UidRange;
use crate::job::{JobId, Limits, SubmissionBounds};
use rce_protocol::StageLimits;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxSettings {
    /// The language manifest (also read by `scripts/images.sh`).
    pub languages_file: PathBuf,
    /// Language ids (or aliases) to serve; empty serves every language of
    /// the manifest. A worker leaves out those whose image is not built.
    pub languages: Vec<String>,
    /// OCI runtime: `runc` (default) or `runsc` (gVisor) where registered.
    pub runtime: String,
    /// Limits of a submission that asks for none.
    pub default_limits: Limits,
    /// The most a submission may ask for; more is a 400 naming the maximum.
    pub max_limits: Limits,
    /// Compile stage limits (not user-selectable).
    pub compile_time_ms: u64,
    pub compile_wall_ms: u64,
    pub compile_memory_mb: u64,
    /// All files of a submission together.
    pub max_source_bytes: u64,
    pub max_stdin_bytes: u64,
    pub max_args: usize,
    /// All program arguments together, in bytes (also all compiler
    /// arguments, and the Judge0 strings they come from).
    pub max_args_bytes: u64,
    pub max_tests: usize,
    /// A job's worst-case wall time at most (compile wall + wall limit ×
    /// test cases); bounds how long one job holds a worker slot.
    pub max_total_wall_ms: u64,
    /// Size of the tmpfs work dir (/sandbox), which also caps file writes.
    pub workdir_mb: u64,
    /// Size of the tmpfs /tmp.
    pub tmp_mb: u64,
    /// CPUs a container may use (fractions allowed).
    pub cpus: f64,
    /// Memory added to the program's limit for rce-runner itself, so the
    /// runner survives a program that hits its limit.
    pub runner_memory_mb: u64,
    /// Processes added to the program's pids limit for rce-runner's threads.
    pub runner_pids: u64,
    /// First uid of the range user code runs as (gid = uid). Each container
    /// gets a uid of the range that no other live container on the host
    /// holds (see [`super::uids`]), so RLIMIT_NPROC (which the kernel counts
    /// per uid across the host) bounds exactly that job's processes. Far
    /// above any uid a host or a user namespace hands out, and never 0.
    pub sandbox_uid: u32,
    /// How many uids the range holds. 1 makes every job share `sandbox_uid`;
    /// the process limit is then only the container's pids limit (which
    /// also has to fit the compiler, and under gVisor counts its own host
    /// threads).
    pub sandbox_uids: u32,
    /// Time past the sum of a job's stage limits after which the worker
    /// kills the container from outside.
    pub deadline_grace_ms: u64,
    /// Most warm containers kept ready per language (0 turns the pool off);
    /// how many a language has follows its demand (see `super::demand`).
    pub warm_pool_size: usize,
    /// Languages (ids) that start warm, as if they had just asked for the
    /// full size; their seed decays like any demand.
    pub warm_languages: Vec<String>,
    /// Half-life of a language's lasting demand: after one job a language
    /// keeps a warm container for about this long.
    pub warm_half_life_ms: u64,
    /// Memory budget for idle warm containers across the deployment; each
    /// worker takes the share of its slots among the live ones.
    pub warm_memory_mb: u64,
    /// What one idle warm container is charged against the budget (its
    /// runner, the container's kernel state and the engine's shim); a
    /// language's preloaded launcher adds its `preload_mb`.
    pub warm_container_mb: u64,
    /// Warm containers of languages with a `preload` launcher start it
    /// before their job arrives, so a job skips the runtime's start (JVM,
    /// node, RubyGems, NumPy); false starts every program anew.
    pub preload: bool,
    /// Memory each worker keeps for recent compiles' artifacts, so a job
    /// with identical compile input skips its compile (see
    /// `super::compile_cache`); 0 turns the cache off.
    pub compile_cache_mb: u64,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings {
            languages_file: PathBuf::from("images/languages.toml"),
            languages: Vec::new(),
            runtime: "runc".into(),
            default_limits: Limits {
                time_ms: 5_000,
                wall_ms: 10_000,
                memory_mb: 256,
                pids: 64,
                output_kb: 1024,
            },
            max_limits: Limits {
                time_ms: 30_000,
                wall_ms: 60_000,
                memory_mb: 2048,
                pids: 256,
                output_kb: 16_384,
            },
            compile_time_ms: 30_000,
            compile_wall_ms: 60_000,
            compile_memory_mb: 1024,
            max_source_bytes: 1024 * 1024,
            max_stdin_bytes: 4 * 1024 * 1024,
            max_args: 64,
            max_args_bytes: 64 * 1024,
            max_tests: 64,
            max_total_wall_ms: 900_000,
            workdir_mb: 64,
            tmp_mb: 64,
            cpus: 1.0,
            runner_memory_mb: 64,
            runner_pids: 16,
            sandbox_uid: 1_100_000_000,
            sandbox_uids: 1_000_000,
            deadline_grace_ms: 3_000,
            warm_pool_size: 2,
            warm_languages: vec!["python".into()],
            warm_half_life_ms: 300_000,
            warm_memory_mb: 512,
            warm_container_mb: 16,
            preload: true,
            compile_cache_mb: 256,
        }
    }
}

impl SandboxSettings {
    /// What sizes the warm pool of a worker with `own_slots` slots in a
    /// deployment with `live_slots` live ones.
    pub fn warm_sizing(&self, own_slots: usize, live_slots: usize) -> Sizing {
        Sizing {
            half_life: Duration::from_millis(self.warm_half_life_ms.max(1)),
            max_per_language: self.warm_pool_size,
            budget_mb: self.warm_memory_mb,
            container_mb: self.warm_container_mb,
            own_slots,
            live_slots,
        }
    }

    /// The uid `job` runs as, and whether no other job can hold it (then the
    /// runner may set RLIMIT_NPROC).
    /// (Only the first candidate: creating the container settles it, see
    /// [`super::uids`].)
    pub fn uid_for(&self, job: &JobId) -> (u32, bool) {
        let range = self.uid_range();
        (range.first_for(job), range.is_exclusive())
    }

    /// The uids sandboxed programs run as.
    pub fn uid_range(&self) -> UidRange {
        UidRange::new(self.sandbox_uid, self.sandbox_uids)
    }

    /// Whether containers run under gVisor, whose sandbox kernel needs room
    /// of its own in the container's pids cgroup.
    pub fn is_gvisor(&self) -> bool {
        self.runtime.contains("runsc") || self.runtime.contains("gvisor")
    }

    /// What the API accepts.
    pub fn bounds(&self) -> SubmissionBounds {
        SubmissionBounds {
            default_limits: self.default_limits,
            max_limits: self.max_limits,
            max_source_bytes: self.max_source_bytes,
            max_stdin_bytes: self.max_stdin_bytes,
            max_args: self.max_args,
            max_args_bytes: self.max_args_bytes,
            max_tests: self.max_tests,
            compile_wall_ms: self.compile_wall_ms,
            max_total_wall_ms: self.max_total_wall_ms,
        }
    }

    /// The runner's limits for the program's run stage.
    pub fn run_stage_limits(&self, limits: &Limits) -> StageLimits {
        StageLimits {
            cpu_time_ms: limits.time_ms,
            wall_time_ms: limits.wall_ms,
            memory_kb: limits.memory_mb * 1024,
            processes: limits.pids,
            output_bytes: limits.output_kb * 1024,
            file_size_bytes: self.workdir_mb * 1024 * 1024,
        }
    }

    /// The runner's limits for the compile stage.
    pub fn compile_stage_limits(&self) -> StageLimits {
        StageLimits {
            cpu_time_ms: self.compile_time_ms,
            wall_time_ms: self.compile_wall_ms,
            memory_kb: self.compile_memory_mb * 1024,
            processes: self.max_limits.pids,
            output_bytes: 64 * 1024,
            file_size_bytes: self.workdir_mb * 1024 * 1024,
        }
    }
}
