//! sys: the runner's thin, safe wrappers around the libc calls std does not
//! offer (poll, wait4 with rusage, pidfd, setfsuid, openat/mkdirat, rlimits,
//! privilege drops). Every `unsafe` block of the runner outside the forked
//! kill helper (kill.rs) and the `pre_exec` hook (stage.rs) lives here, each
//! with its `// SAFETY:` reason. Functions marked "async-signal-safe" only
//! make raw syscalls and do not allocate, so they may run in a forked child.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// `-1` → the current errno as an `io::Error`, anything else → `Ok`.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Makes the runner the reaper of every orphan among its descendants, so a
/// daemonised grandchild is re-parented to us (as it would be to PID 1) and
/// its rusage reaches us when we reap it.
pub fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only; no memory is shared.
    check(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }).map(drop)
}

/// Sets FD_CLOEXEC on every descriptor from `first` up, so nothing the runner
/// inherited (from docker, a test harness) can leak into user code.
pub fn cloexec_from(first: RawFd) -> io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes descriptor flags of this process.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if ret == 0 {
        return Ok(());
    }
    // Older kernels (< 5.11) or gVisor: walk the open descriptors instead.
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd >= first)
        .collect();
    for fd in fds {
        // SAFETY: fcntl on a descriptor number; a stale number (the one
        // read_dir used) only yields EBADF, which we ignore.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
    Ok(())
}

/// Gives every catchable signal its default disposition, so nothing ignored
/// by whoever started the runner (SIG_IGN survives exec) reaches user code,
/// and a SIGCHLD ignored by our own parent cannot make the kernel discard the
/// exit status and rusage of our children. Async-signal-safe. The caller
/// re-ignores SIGPIPE for the runner itself.
pub fn reset_signal_dispositions() {
    for signal in 1..32 {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // SAFETY: installing SIG_DFL involves no handler code; failures
        // (invalid numbers) are harmless and ignored.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
    }
}

/// Ignores SIGPIPE: a closed pipe must be an EPIPE error, never death.
pub fn ignore_sigpipe() {
    // SAFETY: SIG_IGN involves no handler code.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// Marks the process non-dumpable: processes of another uid cannot ptrace it
/// or read its /proc files. Async-signal-safe.
pub fn set_not_dumpable() {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
}

extern "C" {
    /// The C runtime's environment (glibc and musl both define it).
    static mut environ: *mut *mut libc::c_char;
}

/// Overwrites every environment string with zeros, so the runner's
/// environment (the worker's settings) cannot be read back from
/// `/proc/<runner>/environ` — which gVisor, unlike runc, lets another uid
/// read. Call once the configuration has been read; `getenv` finds nothing
/// afterwards.
pub fn scrub_environment() {
    // SAFETY: the runner is single-threaded, so nothing reads or changes
    // the environment concurrently. `environ` is a NULL-terminated array of
    // pointers to NUL-terminated strings in writable memory (the initial
    // stack, or the heap after setenv); each string is zeroed within its own
    // length, so no byte outside it is touched and every entry stays a valid
    // (empty) C string.
    unsafe {
        let mut entry = environ;
        if entry.is_null() {
            return;
        }
        while !(*entry).is_null() {
            let text = *entry;
            std::ptr::write_bytes(text, 0, libc::strlen(text));
            entry = entry.add(1);
        }
    }
}

/// Sets the file mode creation mask (inherited by user code).
pub fn set_umask(mask: libc::mode_t) {
    // SAFETY: umask cannot fail and touches no memory.
    unsafe { libc::umask(mask) };
}

/// Puts a descriptor in non-blocking mode.
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we borrow for the duration of the call.
    unsafe {
        let flags = check(libc::fcntl(fd.as_raw_fd(), libc::F_GETFL))?;
        check(libc::fcntl(
            fd.as_raw_fd(),
            libc::F_SETFL,
            flags | libc::O_NONBLOCK,
        ))?;
    }
    Ok(())
}

/// poll(2) over `fds` for at most `timeout`; EINTR counts as "nothing ready".
pub fn poll(fds: &mut [libc::pollfd], timeout: Duration) -> io::Result<usize> {
    // Rounded up: a sub-millisecond wait must not become a busy spin.
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
    // SAFETY: the pointer and length describe the caller's live slice.
    let ret = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    match check(ret) {
        Ok(n) => Ok(n as usize),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
        Err(e) => Err(e),
    }
}

/// A pidfd for `pid` (Linux ≥ 5.3): readable once the process has exited.
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes integers and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this descriptor; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Resource usage of one reaped process (and everything it reaped itself).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// User + system CPU time, microseconds.
    pub cpu_us: u64,
    /// Peak resident set size, KiB (Linux reports ru_maxrss in KiB).
    pub maxrss_kb: u64,
}

impl Usage {
    fn from_rusage(ru: &libc::rusage) -> Usage {
        let us =
            |tv: libc::timeval| (tv.tv_sec.max(0) as u64) * 1_000_000 + tv.tv_usec.max(0) as u64;
        Usage {
            cpu_us: us(ru.ru_utime) + us(ru.ru_stime),
            maxrss_kb: ru.ru_maxrss.max(0) as u64,
        }
    }
}

/// How a reaped process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32),
}

/// One process collected by wait4.
#[derive(Debug, Clone, Copy)]
pub struct Reaped {
    pub pid: libc::pid_t,
    pub status: ExitStatus,
    pub usage: Usage,
}

fn wait4(pid: libc::pid_t, options: libc::c_int) -> io::Result<Option<Reaped>> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is plain old data; an all-zero value is valid.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers point at live locals for the call's duration.
        let ret = unsafe { libc::wait4(pid, &mut status, options, &mut ru) };
        if ret == -1 {
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ECHILD) => return Ok(None),
                _ => return Err(err),
            }
        }
        if ret == 0 {
            return Ok(None);
        }
        let status = if libc::WIFSIGNALED(status) {
            ExitStatus::Signaled(libc::WTERMSIG(status))
        } else {
            ExitStatus::Exited(libc::WEXITSTATUS(status))
        };
        return Ok(Some(Reaped {
            pid: ret,
            status,
            usage: Usage::from_rusage(&ru),
        }));
    }
}

/// Reaps any one exited child without blocking; `None` when there is none.
pub fn reap_any() -> io::Result<Option<Reaped>> {
    wait4(-1, libc::WNOHANG)
}

/// Waits for the child `pid` to exit; `None` if it is not our child.
pub fn wait_pid(pid: libc::pid_t) -> io::Result<Option<Reaped>> {
    wait4(pid, 0)
}

/// Reaps the child `pid` if it has exited; `None` while it runs (or if it is
/// not our child).
pub fn try_wait_pid(pid: libc::pid_t) -> io::Result<Option<Reaped>> {
    wait4(pid, libc::WNOHANG)
}

/// Sends SIGCONT to `pid` (a stopped child of ours; permitted within the
/// session whatever its uid). Failures are ignored: it may just have exited.
pub fn continue_process(pid: libc::pid_t) {
    // SAFETY: kill has no memory effects.
    unsafe {
        libc::kill(pid, libc::SIGCONT);
    }
}

fn rusage_cpu_us(who: libc::c_int) -> u64 {
    // SAFETY: rusage is plain old data; an all-zero value is valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer points at a live local.
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return 0;
    }
    Usage::from_rusage(&ru).cpu_us
}

/// CPU time (user + system, microseconds) the runner itself has used so far.
pub fn self_cpu_us() -> u64 {
    rusage_cpu_us(libc::RUSAGE_SELF)
}

/// CPU time (microseconds) of every child the runner has reaped so far.
pub fn children_cpu_us() -> u64 {
    rusage_cpu_us(libc::RUSAGE_CHILDREN)
}

/// Clock ticks per second, the unit of /proc/<pid>/stat times.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf takes an integer and touches no memory.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

/// A pipe, both ends CLOEXEC.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: the pointer points at a live local array of two descriptors.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: the kernel just gave us both descriptors; nobody else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Runs `work` in a forked child that has dropped to `uid`/`gid` (no
/// supplementary groups, not dumpable) and returns its outcome: `Ok` when
/// `work` returned `Ok`, else its message (at most 64 KiB). The child runs
/// ordinary Rust code, allocation included, which is sound only because the
/// runner is single-threaded: no other thread can hold a lock at fork time.
/// Unlike setfsuid (which gVisor lacks) this works on every runtime.
pub fn run_as(uid: u32, gid: u32, work: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let (read, write) = pipe().map_err(|e| format!("cannot create a pipe: {e}"))?;
    // SAFETY: single-threaded process (see above); the child never returns
    // from this function: it leaves through _exit, running no destructors
    // of the parent's state and flushing no shared buffers.
    let pid = unsafe { libc::fork() };
    if pid == -1 {
        return Err(format!("cannot fork: {}", io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(read);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            set_not_dumpable();
            drop_privileges(uid, gid).map_err(|e| format!("cannot switch to uid {uid}: {e}"))?;
            set_not_dumpable();
            work()
        }));
        let message = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(message)) => Some(message),
            Err(_) => Some("the writer panicked".to_string()),
        };
        let code = match message {
            None => 0,
            Some(message) => {
                let _ = std::fs::File::from(write).write_all(message.as_bytes());
                1
            }
        };
        // SAFETY: _exit ends the child at once; nothing of it must run on.
        unsafe { libc::_exit(code) };
    }
    drop(write);
    let mut message = Vec::new();
    let _ = std::fs::File::from(read)
        .take(64 * 1024)
        .read_to_end(&mut message);
    let status = wait_pid(pid).map_err(|e| format!("cannot reap the writer: {e}"))?;
    match status.map(|r| r.status) {
        Some(ExitStatus::Exited(0)) if message.is_empty() => Ok(()),
        _ if !message.is_empty() => Err(String::from_utf8_lossy(&message).into_owned()),
        other => Err(format!("the writer ended with {other:?}")),
    }
}

/// openat(2) relative to `dir`; the returned descriptor is always CLOEXEC.
pub fn openat(
    dir: BorrowedFd<'_>,
    name: &CStr,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    // SAFETY: `name` is a valid NUL-terminated string for the call.
    let fd = check(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            flags | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    })?;
    // SAFETY: the kernel just gave us this descriptor; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// mkdirat(2) relative to `dir`.
pub fn mkdirat(dir: BorrowedFd<'_>, name: &CStr, mode: libc::mode_t) -> io::Result<()> {
    // SAFETY: `name` is a valid NUL-terminated string for the call.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) }).map(drop)
}

/// The integer type glibc and musl use for rlimit resource numbers.
#[cfg(target_env = "musl")]
pub type Resource = libc::c_int;
/// The integer type glibc and musl use for rlimit resource numbers.
#[cfg(not(target_env = "musl"))]
pub type Resource = libc::__rlimit_resource_t;

/// Current (soft, hard) value of a resource limit. Async-signal-safe.
pub fn getrlimit(resource: Resource) -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: the pointer points at a live local.
    check(unsafe { libc::getrlimit(resource, &mut lim) })?;
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// Sets a resource limit. Async-signal-safe.
pub fn setrlimit(resource: Resource, soft: u64, hard: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: the pointer points at a live local.
    check(unsafe { libc::setrlimit(resource, &lim) }).map(drop)
}

/// Starts a new session (and process group) led by the caller. Async-signal-safe.
pub fn setsid() -> io::Result<()> {
    // SAFETY: setsid takes no arguments.
    check(unsafe { libc::setsid() }).map(drop)
}

/// Drops every supplementary group, then the gid, then the uid, and checks
/// that root cannot be regained. Async-signal-safe.
pub fn drop_privileges(uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: integer arguments and a null list of length 0.
    unsafe {
        check(libc::setgroups(0, std::ptr::null()))?;
        check(libc::setgid(gid))?;
        check(libc::setuid(uid))?;
        if libc::getuid() != uid || libc::geteuid() != uid || libc::getegid() != gid {
            return Err(io::Error::from_raw_os_error(libc::EPERM));
        }
        if uid != 0 && libc::setuid(0) == 0 {
            return Err(io::Error::from_raw_os_error(libc::EPERM));
        }
    }
    Ok(())
}

/// Asks for `signal` when the parent (the runner) dies. Async-signal-safe.
pub fn set_parent_death_signal(signal: libc::c_int) -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) })
        .map(drop)
}

/// Opens the calling process's stdin, stdout and stderr pipes to every uid
/// (mode 0666), so that the program may reopen them by name (`/dev/stdin`,
/// `/dev/stderr`; sqlite's `.read /dev/stdin`, a shell's `> /dev/stderr`).
/// The runner created the pipes as root with mode 0600, which the sandbox uid
/// could not open again. Nothing else can reach them: a `/proc/<pid>/fd`
/// link opens only for a process allowed to ptrace the holder. Call while
/// still root (the pipes' owner). Best effort: gVisor refuses fchmod on a
/// pipe, and a program that never reopens its stdio must still run.
/// Async-signal-safe.
pub fn open_stdio_to_the_program() {
    for fd in 0..3 {
        // SAFETY: fchmod on a descriptor number; no memory is passed.
        unsafe { libc::fchmod(fd, 0o666) };
    }
}

/// Makes the calling process the OOM killer's first choice, so that under
/// memory pressure in the container user code dies before the runner.
/// Best effort (raising one's own score needs no privilege). Async-signal-safe.
pub fn prefer_oom_kill() {
    const PATH: &CStr = c"/proc/self/oom_score_adj";
    const VALUE: &[u8] = b"1000";
    // SAFETY: a static NUL-terminated path and a static buffer; the
    // descriptor is closed before returning.
    unsafe {
        let fd = libc::open(PATH.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd >= 0 {
            libc::write(fd, VALUE.as_ptr().cast(), VALUE.len());
            libc::close(fd);
        }
    }
}

/// Makes `fd` also descriptor `target` of the calling process, kept across
/// exec (dup2 clears FD_CLOEXEC on the copy; when `fd` already is `target`
/// the flag is cleared by hand). Async-signal-safe.
pub fn install_fd(fd: RawFd, target: RawFd) -> io::Result<()> {
    // SAFETY: dup2 and fcntl on descriptor numbers; no memory is passed.
    unsafe {
        if fd != target {
            check(libc::dup2(fd, target))?;
        }
        check(libc::fcntl(target, libc::F_SETFD, 0)).map(drop)
    }
}

/// Sets a resource limit of another process (prlimit(2)). Without
/// CAP_SYS_RESOURCE the caller's real ids must be the target's, and a hard
/// limit can only be lowered.
pub fn set_process_rlimit(
    pid: libc::pid_t,
    resource: Resource,
    soft: u64,
    hard: u64,
) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: the pointer points at a live local; a null old-limit pointer
    // is allowed.
    check(unsafe { libc::prlimit(pid, resource, &lim, std::ptr::null_mut()) }).map(drop)
}

/// Sets the permission bits of the file behind `fd` (fchmod(2)).
pub fn fchmod(fd: BorrowedFd<'_>, mode: libc::mode_t) -> io::Result<()> {
    // SAFETY: fchmod on a descriptor we hold; no memory is passed.
    check(unsafe { libc::fchmod(fd.as_raw_fd(), mode) }).map(drop)
}
