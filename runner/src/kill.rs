//! kill: ends every process of the sandbox uid at the end of each stage —
//! the stage's main process, its process group, and any daemonised grandchild
//! that escaped with setsid. The runner is root but holds no CAP_KILL, so it
//! cannot signal another uid itself; instead it forks a helper that drops to
//! the sandbox uid and calls `kill(-1, SIGKILL)` (every process that uid may
//! signal, i.e. all of its own in the container's pid namespace, except the
//! helper itself and PID 1), reaps it, reaps what died, and repeats until
//! /proc shows no process of the uid. Everything reaped goes to a callback so
//! the stage can count its CPU and memory. The helper shares the program's
//! uid, so the program can stop it (SIGSTOP) before it kills: the runner
//! waits for each helper a bounded time, waking it with SIGCONT (allowed
//! within a session whatever the uid), then tries a fresh one, whose
//! SIGKILL also ends the stuck one.
#![allow(unsafe_code)]

use crate::procfs;
use crate::sys::{self, ExitStatus, Reaped};
use std::fmt;
use std::io;
use std::time::{Duration, Instant};

/// How long a sweep may take before the runner gives up and reports it.
/// Killed processes vanish in microseconds; only a runaway fork loop racing
/// the helper or a process stuck in the kernel (D state) takes longer.
pub const SWEEP_DEADLINE: Duration = Duration::from_secs(5);

/// How long the runner waits for one kill helper before trying another.
/// A helper that is not stopped exits in microseconds.
pub const HELPER_DEADLINE: Duration = Duration::from_millis(500);

/// Why the processes of the uid could not all be ended.
#[derive(Debug)]
pub enum KillError {
    ForkHelper(io::Error),
    Helper {
        status: ExitStatus,
    },
    /// The helper did not exit within [`HELPER_DEADLINE`].
    HelperStuck,
    Reap(io::Error),
    Scan(io::Error),
    Survivors {
        count: usize,
    },
}

impl fmt::Display for KillError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KillError::ForkHelper(e) => write!(f, "cannot fork the kill helper: {e}"),
            KillError::Helper { status } => {
                write!(f, "kill helper failed ({status:?}); is CAP_SETUID granted?")
            }
            KillError::HelperStuck => write!(
                f,
                "kill helper did not exit within {} ms (stopped by the program?)",
                HELPER_DEADLINE.as_millis()
            ),
            KillError::Reap(e) => write!(f, "cannot reap children: {e}"),
            KillError::Scan(e) => write!(f, "cannot read /proc: {e}"),
            KillError::Survivors { count } => {
                write!(
                    f,
                    "{count} sandbox processes still alive after {}s of killing",
                    SWEEP_DEADLINE.as_secs()
                )
            }
        }
    }
}

impl std::error::Error for KillError {}

/// Helper exit codes (the helper cannot report more than this).
const HELPER_DROP_FAILED: i32 = 2;
const HELPER_KILL_FAILED: i32 = 3;

/// Sends SIGKILL to every process of `uid`, from a forked helper running as
/// `uid`/`gid`. Returns once the helper has exited, or
/// [`KillError::HelperStuck`] after [`HELPER_DEADLINE`].
pub fn kill_all_as(uid: u32, gid: u32) -> Result<(), KillError> {
    // SAFETY: the runner is single-threaded, so the child is a full copy in a
    // consistent state; still, the child only makes raw syscalls and leaves
    // with _exit, never returning into Rust code or running destructors.
    let pid = unsafe { libc::fork() };
    if pid == -1 {
        return Err(KillError::ForkHelper(io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: raw syscalls only, see above. Not dumpable, so the
        // sandbox uid cannot ptrace this copy of the runner while it holds
        // the runner's memory and descriptors.
        unsafe {
            sys::set_not_dumpable();
            if sys::drop_privileges(uid, gid).is_err() {
                libc::_exit(HELPER_DROP_FAILED);
            }
            sys::set_not_dumpable();
            if libc::kill(-1, libc::SIGKILL) != 0
                && io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
            {
                libc::_exit(HELPER_KILL_FAILED);
            }
            libc::_exit(0);
        }
    }
    match wait_for_helper(pid)? {
        ExitStatus::Exited(0) => Ok(()),
        status => Err(KillError::Helper { status }),
    }
}

/// Waits for the helper `pid` at most [`HELPER_DEADLINE`], continuing it
/// whenever the program has stopped it.
fn wait_for_helper(pid: libc::pid_t) -> Result<ExitStatus, KillError> {
    let started = Instant::now();
    let mut pause = Duration::from_micros(50);
    loop {
        match sys::try_wait_pid(pid) {
            Ok(Some(reaped)) => return Ok(reaped.status),
            Ok(None) => {}
            Err(e) => return Err(KillError::Reap(e)),
        }
        if started.elapsed() > HELPER_DEADLINE {
            return Err(KillError::HelperStuck);
        }
        sys::continue_process(pid);
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// Reaps every child that has already exited, handing each to `on_reaped`.
pub fn reap_exited(on_reaped: &mut dyn FnMut(Reaped)) -> io::Result<()> {
    while let Some(reaped) = sys::reap_any()? {
        on_reaped(reaped);
    }
    Ok(())
}

/// Kills and reaps every process of `uid` until none is left in /proc.
pub fn sweep(uid: u32, gid: u32, on_reaped: &mut dyn FnMut(Reaped)) -> Result<(), KillError> {
    let started = Instant::now();
    let mut pause = Duration::from_micros(200);
    loop {
        reap_exited(on_reaped).map_err(KillError::Reap)?;
        let alive = procfs::processes_of(uid).map_err(KillError::Scan)?;
        if alive.is_empty() {
            return Ok(());
        }
        if started.elapsed() > SWEEP_DEADLINE {
            return Err(KillError::Survivors { count: alive.len() });
        }
        // Zombies alone need no signal, but a zombie thread-group leader can
        // front live threads, so kill whenever anything is listed: cheap.
        match kill_all_as(uid, gid) {
            // The next helper's SIGKILL ends the stuck one too.
            Ok(()) | Err(KillError::HelperStuck) => {}
            Err(e) => return Err(e),
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}
