//! The sandbox's settings: where the language manifest is, which OCI runtime
//! runs containers, the default and maximum limits a submission may ask for,
//! and the fixed container shape (tmpfs sizes, uid, slack for the runner).

use crate::job::{Limits, SubmissionBounds};
use rce_protocol::StageLimits;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxSettings {
    /// The language manifest (also read by `scripts/images.sh`).
    pub languages_file: PathBuf,
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
    pub max_tests: usize,
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
    /// uid (and gid) user code runs as inside the container.
    pub sandbox_uid: u32,
    /// Time past the sum of a job's stage limits after which the worker
    /// kills the container from outside.
    pub deadline_grace_ms: u64,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings {
            languages_file: PathBuf::from("images/languages.toml"),
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
            max_tests: 64,
            workdir_mb: 64,
            tmp_mb: 64,
            cpus: 1.0,
            runner_memory_mb: 64,
            runner_pids: 16,
            sandbox_uid: 1001,
            deadline_grace_ms: 3_000,
        }
    }
}

impl SandboxSettings {
    /// What the API accepts.
    pub fn bounds(&self) -> SubmissionBounds {
        SubmissionBounds {
            default_limits: self.default_limits,
            max_limits: self.max_limits,
            max_source_bytes: self.max_source_bytes,
            max_stdin_bytes: self.max_stdin_bytes,
            max_args: self.max_args,
            max_tests: self.max_tests,
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
