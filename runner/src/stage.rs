//! stage: runs one process (a compile, a run, one test case) to the end and
//! reports the facts. The process starts in the work dir with a clean
//! environment ([`ENV`]), its own session, the stage's rlimits, no
//! supplementary groups and the sandbox uid/gid; no shell is involved. One
//! poll loop then feeds its stdin, reads (and forwards) its output, reaps
//! processes, and watches three limits: wall clock, CPU time of the whole
//! process tree, and the output cap. The stage ends when the main process
//! has exited or a limit is hit; then every process of the sandbox uid is
//! killed (kill.rs), the pipes are drained to EOF, and the report is built.
//!
//! Measurements:
//! - CPU: the runner is PID 1 of the container and also a child subreaper,
//!   so every process of the stage is reaped either by its own parent (which
//!   folds it into the parent's rusage) or by the runner. The sum of wait4
//!   rusage (user + system) over every process the runner reaps is the tree's
//!   CPU time. Children whose rusage is discarded (a parent ignoring SIGCHLD)
//!   are caught by the container's cgroup CPU counter: cgroup delta minus the
//!   runner's own CPU and everything it reaped is added on top when positive.
//!   While the stage runs, the same tree total is estimated every 50 ms from
//!   /proc (reaped so far + live processes' utime/stime/cutime/cstime) and the
//!   cgroup counter, and the tree is killed once either is over the limit.
//!   RLIMIT_CPU is the per-process backstop.
//! - Memory: the largest wait4 `ru_maxrss` among the stage's processes (and
//!   the largest VmRSS seen in the 50 ms samples, which stop the tree once a
//!   process is over the limit), plus the cgroup's OOM-kill counter; any of
//!   them over the limit → `MemoryLimit`.
//! - Wall: from spawn (or a preloaded launcher's go signal, preload.rs)
//!   until the main process is reaped.
#![allow(unsafe_code)]

use crate::cgroup::Snapshot;
use crate::config::Config;
use crate::frames::{FrameIn, FrameOut};
use crate::input::StdinFeed;
use crate::kill::{self, KillError};
use crate::limits;
use crate::output::{OutputPipes, Stream};
use crate::preload::{Preload, GO_FD};
use crate::procfs;
use crate::sys::{self, ExitStatus, Reaped};
use rce_protocol::{StageLimits, StageReport, Termination};
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The whole environment of user code; nothing of the runner's own.
/// `HOME` is added per stage (the work dir).
pub const ENV: [(&str, &str); 3] = [
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("TMPDIR", "/tmp"),
    ("LANG", "C.UTF-8"),
];

/// How often the tree's CPU time and resident sizes are sampled while a
/// stage runs. A program allocating faster than (memory slack / this tick)
/// still meets the cgroup limit first.
const CPU_TICK: Duration = Duration::from_millis(50);
/// Poll timeout when no pidfd tells us about the main process exiting
/// (kernels before 5.3, gVisor): exits are then noticed within this.
const FALLBACK_TICK: Duration = Duration::from_millis(10);
/// Stands in for a wall-clock limit too large to add to an `Instant`.
const FAR_FUTURE: Duration = Duration::from_secs(365 * 24 * 3600);
/// How long to wait for output pipes to reach EOF once every process is dead.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);

/// Where the program's stdin comes from.
pub enum StdinSource<'a> {
    /// These bytes, then EOF.
    Bytes(&'a [u8]),
    /// These bytes, then `Stdin` frames from the worker until `StdinEnd`/EOF.
    Interactive {
        initial: &'a [u8],
        frames: &'a mut FrameIn,
    },
}

/// One stage to run.
pub struct StageSpec<'a> {
    /// Program and arguments (no shell).
    pub argv: &'a [String],
    pub limits: &'a StageLimits,
    pub stdin: StdinSource<'a>,
    /// Forward output chunks as frames while running (single-run mode's run).
    pub forward: bool,
    /// A launcher started for this run (it was checked to fit): given the
    /// go signal instead of spawning `argv`.
    pub preload: Option<Preload>,
}

/// Why a stage could not be carried out (not: how the program ended).
#[derive(Debug)]
pub enum StageError {
    EmptyCommand,
    Spawn { program: String, source: io::Error },
    Pipes(io::Error),
    Poll(io::Error),
    Reap(io::Error),
    Kill(KillError),
}

impl fmt::Display for StageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StageError::EmptyCommand => write!(f, "empty command"),
            StageError::Spawn { program, source } => {
                write!(f, "cannot execute {program:?}: {source}")
            }
            StageError::Pipes(e) => write!(f, "cannot set up the program's pipes: {e}"),
            StageError::Poll(e) => write!(f, "poll failed: {e}"),
            StageError::Reap(e) => write!(f, "cannot reap the program: {e}"),
            StageError::Kill(e) => write!(f, "cannot end the program's processes: {e}"),
        }
    }
}

impl std::error::Error for StageError {}

/// Why the runner stopped the stage before the main process exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    WallTime,
    CpuTime,
    /// A live process's resident size went over the limit: stopped before
    /// the cgroup's OOM killer (which under gVisor takes the whole sandbox,
    /// runner included) has to act.
    Memory,
    Output,
}

/// Runs one stage to the end; every process of the sandbox uid is gone when
/// this returns `Ok` (and, as far as the runner could manage, on `Err`).
pub fn run(config: &Config, spec: StageSpec<'_>, out: &mut FrameOut) -> Result<Ran, StageError> {
    let limits = *spec.limits;
    let Launch {
        mut child,
        before,
        start,
        go,
    } = launch(config, spec.argv, &limits, spec.preload)?;
    let mut tree = Tree {
        main: child.id() as libc::pid_t,
        exit: None,
        cpu_us: 0,
        maxrss_kb: 0,
    };
    let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let (Some(stdin), Some(stdout), Some(stderr)) = pipes else {
        let error = StageError::Pipes(io::Error::other("stdio pipes missing"));
        return Err(abort(config, &mut tree, error));
    };

    let (initial, mut frames, ended) = match spec.stdin {
        StdinSource::Bytes(bytes) => (bytes, None, true),
        StdinSource::Interactive { initial, frames } => {
            let ended = frames.ended();
            (initial, Some(frames), ended)
        }
    };
    let mut feed = match StdinFeed::new(file(stdin), initial, ended) {
        Ok(feed) => feed,
        Err(e) => return Err(abort(config, &mut tree, StageError::Pipes(e))),
    };
    let mut output = OutputPipes::new(
        file(stdout),
        file(stderr),
        limits.output_bytes,
        spec.forward,
    );

    let watch = Watch {
        config,
        limits: &limits,
        // checked: an absurd limit must not panic the runner.
        deadline: start
            .checked_add(Duration::from_millis(limits.wall_time_ms))
            .unwrap_or(start + FAR_FUTURE),
        cgroup_before: before.cgroup,
        self_before: before.self_us,
        warm_up_us: before.warm_up_us,
        ticks_per_second: sys::clock_ticks_per_second(),
    };
    let stop = match watch.run(&mut tree, &mut feed, &mut frames, &mut output, out) {
        Ok(stop) => stop,
        Err(e) => return Err(abort(config, &mut tree, e)),
    };

    kill::sweep(config.uid, config.gid, &mut |r| tree.reaped(r)).map_err(StageError::Kill)?;
    if tree.exit.is_none() {
        // The sweep found no process of the uid, so the main one has exited;
        // a reaped status always lands in the tree, this is belt and braces.
        if let Some(r) = sys::wait_pid(tree.main).map_err(StageError::Reap)? {
            tree.reaped(r);
        }
    }
    output.drain(out, DRAIN_LIMIT);
    drop(feed);
    Ok(Ran {
        report: report(config, &limits, &before, start, stop, &tree, output),
        preloaded: go.is_some(),
    })
}

/// A finished stage: its report, and whether a preloaded launcher ran it.
pub struct Ran {
    pub report: StageReport,
    pub preloaded: bool,
}

/// The stage's main process, just started.
struct Launch {
    child: Child,
    before: Before,
    start: Instant,
    /// A preloaded launcher's go pipe: closed when the stage ends.
    go: Option<File>,
}

/// Starts the stage's main process: the preloaded launcher when there is
/// one and it takes the go signal, else a process spawned for it.
fn launch(
    config: &Config,
    argv: &[String],
    limits: &StageLimits,
    preload: Option<Preload>,
) -> Result<Launch, StageError> {
    if let Some(preload) = preload {
        let mut before = Before::read(config);
        match preload.go(config, argv) {
            Ok(launched) => {
                before.warm_up_us = launched.warm_up_us;
                return Ok(Launch {
                    child: launched.child,
                    before,
                    start: launched.started,
                    go: Some(launched.go),
                });
            }
            Err(reason) => {
                eprintln!("rce-runner: starting the program anew, not preloaded: {reason}");
                kill::sweep(config.uid, config.gid, &mut |_| {}).map_err(StageError::Kill)?;
            }
        }
    }
    let (program, args) = argv.split_first().ok_or(StageError::EmptyCommand)?;
    let mut command = command(config, program, args, limits, None);
    let before = Before::read(config);
    let start = Instant::now();
    let child = command.spawn().map_err(|source| StageError::Spawn {
        program: program.clone(),
        source,
    })?;
    Ok(Launch {
        child,
        before,
        start,
        go: None,
    })
}

/// The CPU counters read just before the stage's process was spawned (or
/// its preloaded launcher given the go signal).
struct Before {
    cgroup: Snapshot,
    self_us: u64,
    children_us: u64,
    /// What a preloaded launcher had used before the go signal: in its
    /// rusage when reaped, not the stage's.
    warm_up_us: u64,
}

impl Before {
    fn read(config: &Config) -> Self {
        Before {
            cgroup: config.cgroup.snapshot(),
            self_us: sys::self_cpu_us(),
            children_us: sys::children_cpu_us(),
            warm_up_us: 0,
        }
    }
}

/// The stage's report, once every process is reaped and the pipes drained:
/// the tree's CPU (adding what the cgroup saw that no one reaped), its peak
/// memory, the OOM kills, and the termination they add up to.
fn report(
    config: &Config,
    limits: &StageLimits,
    before: &Before,
    start: Instant,
    stop: Option<Stop>,
    tree: &Tree,
    output: OutputPipes,
) -> StageReport {
    let cgroup_after = config.cgroup.snapshot();
    let self_used = sys::self_cpu_us().saturating_sub(before.self_us);
    let children_used = sys::children_cpu_us()
        .saturating_sub(before.children_us)
        .saturating_sub(before.warm_up_us);
    // What the cgroup saw beyond the runner and everything it reaped:
    // processes whose rusage no one collected.
    let unreaped_us = before.cgroup.cpu_us_until(&cgroup_after).map_or(0, |cg| {
        cg.saturating_sub(self_used).saturating_sub(children_used)
    });
    let cpu_time_ms = (tree.cpu_us.saturating_sub(before.warm_up_us) + unreaped_us) / 1000;
    let (status, ended_at) = tree
        .exit
        .unwrap_or((ExitStatus::Signaled(libc::SIGKILL), Instant::now()));
    let facts = Facts {
        stop,
        status,
        cpu_time_ms,
        memory_kb: tree.maxrss_kb,
        oom_kills: before.cgroup.oom_kills_until(&cgroup_after),
    };
    let (stdout, stderr, truncated) = output.finish();
    StageReport {
        termination: facts.termination(limits),
        exit_code: match status {
            ExitStatus::Exited(code) => Some(code),
            ExitStatus::Signaled(_) => None,
        },
        signal: match status {
            ExitStatus::Signaled(signal) => Some(signal),
            ExitStatus::Exited(_) => None,
        },
        cpu_time_ms,
        wall_time_ms: ended_at.duration_since(start).as_millis() as u64,
        memory_kb: tree.maxrss_kb,
        stdout,
        stderr,
        truncated,
    }
}

/// The process, set up to start as described in the module doc; `go_fd`
/// (a preloaded launcher's go pipe) becomes its descriptor 3.
pub fn command(
    config: &Config,
    program: &str,
    args: &[String],
    limits: &StageLimits,
    go_fd: Option<RawFd>,
) -> Command {
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(ENV)
        .env("HOME", &config.workdir)
        .current_dir(&config.workdir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let rlimits = limits::for_stage(limits, config.uid_exclusive);
    let (uid, gid) = (config.uid, config.gid);
    // SAFETY: the hook runs in the forked child before exec. The runner is
    // single-threaded, and the hook only makes raw syscalls through
    // async-signal-safe wrappers (no allocation, no locks). Order matters:
    // rlimits, the OOM score and the stdio pipes' mode while still root,
    // then groups → gid → uid, then what a uid change resets (dumpable,
    // parent-death signal). Until
    // exec this is a copy of the runner under the sandbox uid: not dumpable,
    // so no process of that uid may ptrace it; exec makes the program
    // dumpable again (for its own uid only).
    unsafe {
        command.pre_exec(move || {
            sys::reset_signal_dispositions();
            sys::setsid()?;
            limits::apply(&rlimits)?;
            sys::prefer_oom_kill();
            sys::open_stdio_to_the_program();
            if let Some(fd) = go_fd {
                sys::install_fd(fd, GO_FD)?;
            }
            sys::set_not_dumpable();
            sys::drop_privileges(uid, gid)?;
            sys::set_not_dumpable();
            sys::set_parent_death_signal(libc::SIGKILL)?;
            Ok(())
        });
    }
    command
}

fn file(fd: impl Into<OwnedFd>) -> File {
    File::from(fd.into())
}

/// On a runner-side failure mid-stage: kill and reap everything, then hand
/// back the error (a kill failure takes precedence; it is the worse news).
fn abort(config: &Config, tree: &mut Tree, error: StageError) -> StageError {
    match kill::sweep(config.uid, config.gid, &mut |r| tree.reaped(r)) {
        Ok(()) => error,
        Err(e) => StageError::Kill(e),
    }
}

/// The stage's processes as they are reaped.
struct Tree {
    main: libc::pid_t,
    exit: Option<(ExitStatus, Instant)>,
    /// CPU of every stage process reaped so far (each including what it reaped).
    cpu_us: u64,
    maxrss_kb: u64,
}

impl Tree {
    fn reaped(&mut self, r: Reaped) {
        self.cpu_us += r.usage.cpu_us;
        self.maxrss_kb = self.maxrss_kb.max(r.usage.maxrss_kb);
        if r.pid == self.main {
            self.exit = Some((r.status, Instant::now()));
        }
    }
}

/// What one poll slot belongs to.
#[derive(Clone, Copy)]
enum Slot {
    MainExit,
    Output(Stream),
    Feed,
    Frames,
}

/// The running stage's limits and reference readings.
struct Watch<'a> {
    config: &'a Config,
    limits: &'a StageLimits,
    deadline: Instant,
    cgroup_before: Snapshot,
    self_before: u64,
    /// A preloaded launcher's CPU before the go signal (not the stage's).
    warm_up_us: u64,
    ticks_per_second: u64,
}

impl Watch<'_> {
    /// The poll loop: returns when the main process has been reaped
    /// (`None`) or a limit was hit (`Some(why)`).
    fn run(
        &self,
        tree: &mut Tree,
        feed: &mut StdinFeed,
        frames: &mut Option<&mut FrameIn>,
        output: &mut OutputPipes,
        out: &mut FrameOut,
    ) -> Result<Option<Stop>, StageError> {
        let pidfd = sys::pidfd_open(tree.main).ok();
        let tick = if pidfd.is_some() {
            CPU_TICK
        } else {
            FALLBACK_TICK
        };
        let mut next_cpu_check = Instant::now() + CPU_TICK;
        loop {
            kill::reap_exited(&mut |r| tree.reaped(r)).map_err(StageError::Reap)?;
            if tree.exit.is_some() {
                return Ok(None);
            }
            let now = Instant::now();
            if now >= self.deadline {
                return Ok(Some(Stop::WallTime));
            }
            if now >= next_cpu_check {
                let (cpu_us, rss_kb) = self.sample(tree);
                tree.maxrss_kb = tree.maxrss_kb.max(rss_kb);
                if rss_kb > self.limits.memory_kb {
                    return Ok(Some(Stop::Memory));
                }
                if cpu_us > self.limits.cpu_time_ms.saturating_mul(1000) {
                    return Ok(Some(Stop::CpuTime));
                }
                next_cpu_check = now + CPU_TICK;
            }

            let mut slots: Vec<(Slot, RawFd, libc::c_short)> = Vec::with_capacity(5);
            if let Some(fd) = &pidfd {
                slots.push((Slot::MainExit, fd.as_raw_fd(), libc::POLLIN));
            }
            for (stream, fd) in output.open_fds() {
                slots.push((Slot::Output(stream), fd.as_raw_fd(), libc::POLLIN));
            }
            if let Some(fd) = feed.writable_fd() {
                slots.push((Slot::Feed, fd.as_raw_fd(), libc::POLLOUT));
            }
            if let Some(input) = frames.as_deref() {
                if feed.wants_more() && !input.ended() {
                    slots.push((Slot::Frames, input.fd().as_fd().as_raw_fd(), libc::POLLIN));
                }
            }
            let mut fds: Vec<libc::pollfd> = slots
                .iter()
                .map(|&(_, fd, events)| libc::pollfd {
                    fd,
                    events,
                    revents: 0,
                })
                .collect();
            let timeout = tick
                .min(self.deadline - now)
                .min(next_cpu_check.saturating_duration_since(now));
            sys::poll(&mut fds, timeout).map_err(StageError::Poll)?;

            for (pfd, &(slot, _, _)) in fds.iter().zip(&slots) {
                if pfd.revents == 0 {
                    continue;
                }
                match slot {
                    // Reaped at the top of the loop.
                    Slot::MainExit => {}
                    Slot::Output(stream) => {
                        if output.read(stream, out) {
                            return Ok(Some(Stop::Output));
                        }
                    }
                    Slot::Feed => feed.write_ready(),
                    Slot::Frames => {
                        if let Some(input) = frames.as_deref_mut() {
                            input.read_available(&mut |i| feed.push(i));
                        }
                    }
                }
            }
        }
    }

    /// The stage's CPU so far — the larger of the /proc estimate (reaped
    /// processes + live ones) and the cgroup counter less the runner's own —
    /// and the largest resident size of a live process (the same per-process
    /// measure as ru_maxrss, so stopping on it never contradicts the final
    /// report; a sum over processes would count shared pages many times).
    fn sample(&self, tree: &Tree) -> (u64, u64) {
        let live = procfs::processes_of(self.config.uid).unwrap_or_default();
        let live_ticks: u64 = live.iter().map(|p| p.cpu_ticks).sum();
        let max_rss_kb = live.iter().map(|p| p.rss_kb).max().unwrap_or(0);
        let from_proc = (tree.cpu_us + live_ticks * 1_000_000 / self.ticks_per_second)
            .saturating_sub(self.warm_up_us);
        let now = self.config.cgroup.snapshot();
        let self_used = sys::self_cpu_us().saturating_sub(self.self_before);
        let from_cgroup = self
            .cgroup_before
            .cpu_us_until(&now)
            .map_or(0, |cg| cg.saturating_sub(self_used));
        (from_proc.max(from_cgroup), max_rss_kb)
    }
}

/// The facts a termination is decided from.
#[derive(Debug, Clone, Copy)]
struct Facts {
    stop: Option<Stop>,
    status: ExitStatus,
    cpu_time_ms: u64,
    memory_kb: u64,
    oom_kills: u64,
}

impl Facts {
    /// How the stage ended. The runner's own output stop comes first (the
    /// program was cut short for it, whatever else happened); then memory
    /// (an OOM kill often shows up as a plain SIGKILL or a hang); then CPU
    /// (including SIGXCPU from RLIMIT_CPU and CPU measured over the limit on
    /// a normal exit); then the wall clock; else how the process ended.
    fn termination(&self, limits: &StageLimits) -> Termination {
        if self.stop == Some(Stop::Output) {
            return Termination::OutputLimit;
        }
        if self.stop == Some(Stop::Memory)
            || self.oom_kills > 0
            || self.memory_kb > limits.memory_kb
        {
            return Termination::MemoryLimit;
        }
        if self.stop == Some(Stop::CpuTime)
            || self.cpu_time_ms > limits.cpu_time_ms
            || self.status == ExitStatus::Signaled(libc::SIGXCPU)
        {
            return Termination::CpuTimeLimit;
        }
        if self.stop == Some(Stop::WallTime) {
            return Termination::WallTimeLimit;
        }
        match self.status {
            ExitStatus::Exited(_) => Termination::Exited,
            ExitStatus::Signaled(_) => Termination::Signaled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> StageLimits {
        StageLimits {
            cpu_time_ms: 1000,
            wall_time_ms: 3000,
            memory_kb: 65_536,
            processes: 16,
            output_bytes: 1024,
            file_size_bytes: 1 << 20,
        }
    }

    fn facts(stop: Option<Stop>, status: ExitStatus) -> Facts {
        Facts {
            stop,
            status,
            cpu_time_ms: 10,
            memory_kb: 1000,
            oom_kills: 0,
        }
    }

    /// A clean exit and a crash are told apart; the exit code does not matter.
    #[test]
    fn plain_exits_and_signals() {
        assert_eq!(
            facts(None, ExitStatus::Exited(0)).termination(&limits()),
            Termination::Exited
        );
        assert_eq!(
            facts(None, ExitStatus::Exited(3)).termination(&limits()),
            Termination::Exited
        );
        assert_eq!(
            facts(None, ExitStatus::Signaled(libc::SIGSEGV)).termination(&limits()),
            Termination::Signaled
        );
    }

    /// Every limit maps to its termination, with or without the runner's stop.
    #[test]
    fn limits_map_to_terminations() {
        let killed = ExitStatus::Signaled(libc::SIGKILL);
        assert_eq!(
            facts(Some(Stop::WallTime), killed).termination(&limits()),
            Termination::WallTimeLimit
        );
        assert_eq!(
            facts(Some(Stop::CpuTime), killed).termination(&limits()),
            Termination::CpuTimeLimit
        );
        assert_eq!(
            facts(Some(Stop::Output), killed).termination(&limits()),
            Termination::OutputLimit
        );
        let xcpu = ExitStatus::Signaled(libc::SIGXCPU);
        assert_eq!(
            facts(None, xcpu).termination(&limits()),
            Termination::CpuTimeLimit
        );
        let over_cpu = Facts {
            cpu_time_ms: 1001,
            ..facts(None, ExitStatus::Exited(0))
        };
        assert_eq!(over_cpu.termination(&limits()), Termination::CpuTimeLimit);
        let oom = Facts {
            oom_kills: 1,
            ..facts(None, killed)
        };
        assert_eq!(oom.termination(&limits()), Termination::MemoryLimit);
        let sampled = facts(Some(Stop::Memory), killed);
        assert_eq!(sampled.termination(&limits()), Termination::MemoryLimit);
        let big = Facts {
            memory_kb: 65_537,
            ..facts(None, ExitStatus::Exited(0))
        };
        assert_eq!(big.termination(&limits()), Termination::MemoryLimit);
    }

    /// Precedence: output stop > memory > CPU > wall clock.
    #[test]
    fn precedence_between_limits() {
        let killed = ExitStatus::Signaled(libc::SIGKILL);
        let all = Facts {
            stop: Some(Stop::Output),
            status: killed,
            cpu_time_ms: 5000,
            memory_kb: 1 << 30,
            oom_kills: 1,
        };
        assert_eq!(all.termination(&limits()), Termination::OutputLimit);
        let wall_and_oom = Facts {
            stop: Some(Stop::WallTime),
            oom_kills: 1,
            ..all
        };
        assert_eq!(
            wall_and_oom.termination(&limits()),
            Termination::MemoryLimit
        );
        let wall_and_cpu = Facts {
            stop: Some(Stop::WallTime),
            oom_kills: 0,
            memory_kb: 1,
            ..all
        };
        assert_eq!(
            wall_and_cpu.termination(&limits()),
            Termination::CpuTimeLimit
        );
    }
}
