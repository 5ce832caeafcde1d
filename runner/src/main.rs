//! rce-runner: the entrypoint of every sandbox container. Reads one job
//! frame on stdin, writes the files, compiles and runs the program as the
//! unprivileged sandbox uid, streams `Stage`/`Stdout`/`Stderr` frames on
//! stdout and ends with exactly one `Result` frame, then exits 0 — also when
//! the job could not be carried out (the reason is in `RunReport.error`).
//! The wire format is `rce-protocol`; the sandbox the worker must provide
//! (caps SETUID+SETGID, env vars, cgroup) is described in runner/README.md.
//!
//! # Layout
//! - `config`: settings from the environment and their defaults.
//! - `frames`: reading worker frames from stdin, writing frames to stdout.
//! - `job`: one job from spec to report (files, compile, run or tests).
//! - `preload`: a warm container's runtime, started before its job.
//! - `files`: validating names and writing files into the work dir.
//! - `artifacts`: reading back what a compile left, for reuse.
//! - `stage`: one process with limits, the poll loop, and its report.
//! - `input` / `output`: the program's stdin feed / stdout+stderr capture.
//! - `limits`: rlimits of a stage.
//! - `kill`: killing every process of the sandbox uid.
//! - `procfs`, `cgroup`: readings from /proc and the container's cgroup.
//! - `compare`: test-case output comparison.
//! - `sys`: safe wrappers around the libc calls std lacks.

mod artifacts;
mod cgroup;
mod compare;
mod config;
mod files;
mod frames;
mod input;
mod job;
mod kill;
mod limits;
mod output;
mod preload;
mod procfs;
mod stage;
mod sys;

use config::Config;
use frames::{FrameIn, FrameOut};
use rce_protocol::RunReport;

fn main() {
    prepare_process();
    let mut out = match FrameOut::stdout() {
        Ok(out) => out,
        Err(e) => {
            // No way to send a Result frame at all.
            eprintln!("rce-runner: cannot use stdout: {e}");
            std::process::exit(0);
        }
    };
    let report = run(&mut out).unwrap_or_else(|error| RunReport {
        error: Some(error),
        ..RunReport::default()
    });
    out.result(&report);
    std::process::exit(0);
}

/// Reads the job and carries it out; `Err` when it cannot even start.
fn run(out: &mut FrameOut) -> Result<RunReport, String> {
    let config = Config::from_env();
    sys::scrub_environment();
    let config = config?;
    // Started before the job is read: its warm-up overlaps the wait.
    let preload = config.preload.as_ref().and_then(|spec| {
        preload::Preload::start(&config, spec)
            .map_err(|e| eprintln!("rce-runner: cannot start the preloaded launcher: {e}"))
            .ok()
    });
    let mut input = FrameIn::stdin().map_err(|e| format!("cannot use stdin: {e}"))?;
    let job = input.read_job()?;
    let prebuilt = if job.prebuilt {
        input.read_prebuilt()?
    } else {
        Vec::new()
    };
    Ok(job::run(&config, &job, &prebuilt, preload, &mut input, out))
}

/// Process-wide setup (the runner is and stays single-threaded): nothing
/// inherited leaks into user code (descriptors, ignored signals), orphans are
/// ours to reap, SIGPIPE cannot kill us, files default to 0644/0755, and
/// the runner is not dumpable: runc already denies another uid its /proc
/// files, but gVisor lets the sandbox uid read the environ and fd links of a
/// dumpable root process.
fn prepare_process() {
    sys::set_not_dumpable();
    sys::reset_signal_dispositions();
    sys::ignore_sigpipe();
    let _ = sys::cloexec_from(3);
    let _ = sys::set_child_subreaper();
    sys::set_umask(0o022);
}
