//! preload: the language runtime a warm container starts before its job
//! arrives (`PreloadSpec`, from the worker). The launcher is started at once,
//! as the sandbox uid, in the (still empty) work dir, with the run limits and
//! the pipes the program will use, plus descriptor 3: the read end of the go
//! pipe. It does the runtime's slow start (a JVM, node, RubyGems, NumPy) and
//! then blocks reading descriptor 3. When the job fits — its run command and
//! run limits are the ones the launcher was started for and no compile stage
//! runs — its first run takes the launcher: the go signal goes down the pipe
//! (a big-endian u32 length, then the argv with a NUL after each argument)
//! and the stage runs as if the launcher had just been spawned. The runner
//! keeps its end of the pipe open until the stage ends: a launcher that can
//! only reopen descriptor 3 by name (the JVM: /proc/self/fd/3) would
//! otherwise block in open(2), as for a FIFO without writers. Wall time
//! counts from the go signal; the CPU the launcher used before it is
//! subtracted from the stage's (measured in clock ticks, so up to one tick
//! is counted too much), and its RLIMIT_CPU, started with
//! [`WARM_UP_CPU_SECONDS`] to spare, is lowered to the job's limit on top of
//! what it has used. Any other job kills the launcher before its first
//! stage.

use crate::config::Config;
use crate::kill;
use crate::limits;
use crate::procfs;
use crate::stage;
use crate::sys;
use rce_protocol::{JobSpec, PreloadSpec, StageLimits};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::process::Child;
use std::time::Instant;

/// CPU seconds a launcher may spend starting its runtime, on top of the
/// run's own limit, until the go signal sets the exact limit.
pub const WARM_UP_CPU_SECONDS: u64 = 30;

/// Most bytes of argv the go signal carries: with its length, less than
/// a pipe holds without a reader, so writing it never waits on a launcher
/// still warming up.
const MAX_GO_BYTES: usize = 60 * 1024;

/// The descriptor the launcher reads its go signal from.
pub const GO_FD: i32 = 3;

/// A started launcher waiting for its go signal.
pub struct Preload {
    child: Child,
    go: File,
    spec: PreloadSpec,
}

/// A launcher that has been given its program: the stage's main process.
pub struct Launched {
    pub child: Child,
    /// When the go signal was sent: the stage's start.
    pub started: Instant,
    /// The runner's end of the go pipe, open until the stage ends.
    pub go: File,
    /// CPU time (µs) the launcher had used before the go signal.
    pub warm_up_us: u64,
}

impl Preload {
    /// Starts the launcher of `spec`.
    pub fn start(config: &Config, spec: &PreloadSpec) -> io::Result<Preload> {
        let (program, args) = spec
            .launcher
            .split_first()
            .ok_or_else(|| io::Error::other("empty launcher command"))?;
        let (read, write) = sys::pipe()?;
        // The pipe is the runner's (root, 0600): a launcher that reopens
        // descriptor 3 by name (the JVM) needs it readable to its uid. Only
        // a process that may ptrace the launcher can reach it by name (its
        // own program). Where that is refused (gVisor, for pipes) no
        // launcher starts: programs start anew.
        sys::fchmod(read.as_fd(), 0o644).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot make the go pipe readable to the sandbox uid: {e}"),
            )
        })?;
        let limits = StageLimits {
            cpu_time_ms: spec
                .limits
                .cpu_time_ms
                .saturating_add(WARM_UP_CPU_SECONDS * 1000),
            ..spec.limits
        };
        let mut command = stage::command(config, program, args, &limits, Some(read.as_raw_fd()));
        let child = command.spawn()?;
        drop(command);
        drop(read);
        Ok(Preload {
            child,
            go: File::from(write),
            spec: spec.clone(),
        })
    }

    /// Whether `job`'s run is what this launcher was started for
    /// ([`PreloadSpec::fits`]).
    pub fn fits(&self, job: &JobSpec) -> bool {
        self.spec.fits(job)
    }

    /// Gives the launcher `argv` (run command and arguments) to run, or
    /// hands back why it cannot (it has died, the argv is too long, the pipe
    /// broke); the caller then starts the program itself.
    pub fn go(mut self, config: &Config, argv: &[String]) -> Result<Launched, String> {
        let pid = self.child.id() as libc::pid_t;
        if let Some(ended) = sys::try_wait_pid(pid).map_err(|e| e.to_string())? {
            return Err(format!("the launcher has ended ({:?})", ended.status));
        }
        if argv.iter().any(|arg| arg.contains('\0')) {
            return Err("an argument holds a NUL byte".into());
        }
        let message = rce_protocol::go_signal(argv);
        if message.len() > MAX_GO_BYTES {
            return Err(format!("{} bytes of arguments", message.len()));
        }
        let warm_up_us = cpu_used_us(config.uid);
        let cpu =
            limits::cpu_seconds(self.spec.limits.cpu_time_ms) + warm_up_us.div_ceil(1_000_000);
        // Lowering another process's limit needs its real uid (no
        // CAP_SYS_RESOURCE): done from a child that has become it.
        sys::run_as(config.uid, config.gid, || {
            sys::set_process_rlimit(pid, libc::RLIMIT_CPU, cpu, cpu + 1)
                .map_err(|e| format!("cannot set the launcher's RLIMIT_CPU: {e}"))
        })?;
        let started = Instant::now();
        self.go
            .write_all(&message)
            .map_err(|e| format!("cannot send the go signal: {e}"))?;
        Ok(Launched {
            child: self.child,
            started,
            go: self.go,
            warm_up_us,
        })
    }

    /// Ends the launcher (and anything it started): the job does not fit.
    pub fn discard(self, config: &Config) {
        drop(self.go);
        drop(self.child);
        if let Err(e) = kill::sweep(config.uid, config.gid, &mut |_| {}) {
            eprintln!("rce-runner: cannot end the preloaded launcher: {e}");
        }
    }
}

/// CPU (µs) every live process of `uid` has used, itself and its reaped
/// children, from /proc.
fn cpu_used_us(uid: u32) -> u64 {
    let ticks: u64 = procfs::processes_of(uid)
        .unwrap_or_default()
        .iter()
        .map(|p| p.cpu_ticks)
        .sum();
    ticks * 1_000_000 / sys::clock_ticks_per_second()
}
