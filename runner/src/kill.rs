//! kill: ends every process of the sandbox uid at the end of each stage —
//! the stage's main process, its process group, and any daemonised grandchild
//! that escaped with setsid. The runner is root but holds no CAP_KILL, so it
//! cannot signal another uid itself; instead it forks a helper that drops to
//! the sandbox uid and calls `kill(-1, SIGKILL)` (every process that uid may
//! signal, i.e. all of its own in the container's pid namespace, except the
//! helper itself and PID 1), reaps it, reaps what died, and repeats until
//! /proc shows no process of the uid. Everything reaped goes to a callback so
//! the stage can count its CPU and memory.
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

/// Why the processes of the uid could not all be ended.
#[derive(Debug)]
pub enum KillError {
    ForkHelper(io::Error),
    Helper { status: ExitStatus },
    Reap(io::Error),
    Scan(io::Error),
    Survivors { count: usize },
}

impl fmt::Display for KillError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KillError::ForkHelper(e) => write!(f, "cannot fork the kill helper: {e}"),
            KillError::Helper { status } => {
                write!(f, "kill helper failed ({status:?}); is CAP_SETUID granted?")
            }
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
/// `uid`/`gid`. Returns once the helper has exited.
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
    match sys::wait_pid(pid) {
        Ok(Some(Reaped {
            status: ExitStatus::Exited(0),
            ..
        })) => Ok(()),
        Ok(Some(Reaped { status, .. })) => Err(KillError::Helper { status }),
        Ok(None) => Err(KillError::Reap(io::Error::from_raw_os_error(libc::ECHILD))),
        Err(e) => Err(KillError::Reap(e)),
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
        kill_all_as(uid, gid)?;
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}
