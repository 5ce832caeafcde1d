//! The syscall filter every sandbox container runs under: our own seccomp
//! profile (`seccomp.json` next to this file, compiled in), pinned in the
//! create body as `seccomp=<json>` so a container never depends on the
//! engine's default profile, or on whether the engine has one.
//!
//! Policy (x86_64 only; any other architecture's syscalls are refused):
//! - **default: refuse** with EPERM (`defaultAction: SCMP_ACT_ERRNO`,
//!   `defaultErrnoRet: 1`), so a program sees an ordinary permission error.
//!   Syscalls newer than the newest one the profile names get ENOSYS from
//!   runc instead, which lets libc fall back to an older call.
//! - **allowed**, what programs, compilers and language runtimes use: file
//!   and descriptor I/O (incl. `openat2`, `statx`, `faccessat2`,
//!   `close_range`, `sendfile`/`splice`/`copy_file_range`, `memfd_create`,
//!   xattrs, inotify), waiting on descriptors (poll/select/epoll, eventfd,
//!   timerfd, signalfd, legacy AIO), memory (`mmap` … `mremap`, `madvise`,
//!   the mlock family, `membarrier`, `rseq`, SysV and POSIX IPC, which live in
//!   the container's own IPC namespace), processes and threads (`fork`,
//!   `vfork`, `execve(at)`, `wait4`, `waitid`, `futex(_waitv)`, pidfds,
//!   `kill`/`tkill`/`tgkill`, `prctl`, `arch_prctl`, rlimits, scheduling:
//!   reads, `sched_yield`, `sched_setaffinity` and the policy setters
//!   `sched_setparam`/`sched_setscheduler`/`sched_setattr`, which without
//!   CAP_SYS_NICE can only lower a thread's priority; Mono sets its threads'
//!   and prints a warning into stdout when refused), identity (the setuid,
//!   setgid, setgroups and setres* family and `capget`/`capset`: rce-runner,
//!   PID 1 of the container, switches to the sandbox uid with them), signals,
//!   timers and clock reads, sockets (AF_UNIX and loopback only in practice:
//!   the container has no network but `lo`), and `uname`, `sysinfo`,
//!   `getrandom`, `getcpu`.
//! - **allowed with an argument rule**: `clone` only without namespace
//!   flags (`flags & 0x7E020000 == 0`: no CLONE_NEWNS, NEWCGROUP, NEWUTS,
//!   NEWIPC, NEWUSER, NEWPID, NEWNET); `personality` only to read (`0xffffffff`)
//!   or to set the default (`0`).
//! - **`clone3` answers ENOSYS**: its flags sit in memory, where seccomp
//!   cannot look, so it is refused in a way that makes glibc, Go and Rust
//!   fall back to `clone`.
//! - **refused** (the default catches them; [`tests`] pins that they stay
//!   out), everything that reconfigures the system or reaches past the
//!   program: `mount`, `umount2`, `pivot_root`, `chroot` and the new mount
//!   API; `unshare`, `setns`; `bpf`, `perf_event_open`; `ptrace`,
//!   `process_vm_readv/writev`, `kcmp`, `pidfd_getfd`; `kexec_*`, `*_module`;
//!   `keyctl`, `add_key`, `request_key` (the kernel keyring is not
//!   namespaced); `userfaultfd`; `io_uring_*` (a long record of kernel
//!   bugs; libuv and others fall back to threads); `open_by_handle_at`,
//!   `name_to_handle_at` (the classic container escape); `swapon/off`,
//!   `reboot`, `syslog`, `acct`, `settimeofday`, `clock_settime`,
//!   `adjtimex`, `clock_adjtime`; `iopl`, `ioperm`, `modify_ldt`, `vm86`;
//!   `quotactl`, `fanotify_init`, `lookup_dcookie`; `sethostname`,
//!   `setdomainname`; NUMA placement (`mbind`, `set_mempolicy`,
//!   `migrate_pages`, `move_pages`).
//!
//! The capability set (all dropped but SETUID and SETGID) and
//! no-new-privileges already deny much of the refused list; the filter
//! shrinks the kernel surface a program can reach even when a bug sits
//! behind a capability check. Under gVisor (`runsc`) the profile is handed
//! to the runtime like any other, but gVisor's own kernel is the boundary:
//! a program's syscalls never reach the host kernel directly.

use std::sync::LazyLock;

/// The profile as written (kept readable in the repository).
const PROFILE_SOURCE: &str = include_str!("seccomp.json");

/// The profile with its whitespace removed: it travels in every create
/// body, and the engine stores it with every container.
static PROFILE_COMPACT: LazyLock<String> = LazyLock::new(|| {
    // unwrap: the file is compiled in and parsed by the unit tests below.
    let value: serde_json::Value =
        serde_json::from_str(PROFILE_SOURCE).expect("src/sandbox/seccomp.json is valid JSON");
    value.to_string()
});

/// The `HostConfig.SecurityOpt` entry that pins the profile: the Engine API
/// takes the profile's JSON inline after `seccomp=`.
pub fn seccomp_security_opt() -> String {
    format!("seccomp={}", PROFILE_COMPACT.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::HashSet;

    fn profile() -> Value {
        serde_json::from_str(PROFILE_SOURCE).unwrap()
    }

    /// Names with an unconditional SCMP_ACT_ALLOW rule.
    fn allowed_unconditionally(profile: &Value) -> HashSet<String> {
        profile["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|rule| rule["action"] == "SCMP_ACT_ALLOW" && rule.get("args").is_none())
            .flat_map(|rule| rule["names"].as_array().unwrap().iter())
            .map(|name| name.as_str().unwrap().to_string())
            .collect()
    }

    /// Every name the profile mentions, with any action or condition.
    fn mentioned(profile: &Value) -> HashSet<String> {
        profile["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|rule| rule["names"].as_array().unwrap().iter())
            .map(|name| name.as_str().unwrap().to_string())
            .collect()
    }

    /// The default refuses with EPERM, and only x86_64 syscalls are known.
    #[test]
    fn refuses_by_default_with_eperm_on_x86_64_only() {
        let profile = profile();
        assert_eq!(profile["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(profile["defaultErrnoRet"], 1);
        assert_eq!(
            profile["architectures"],
            serde_json::json!(["SCMP_ARCH_X86_64"])
        );
    }

    /// Nothing that reconfigures the system or reaches past the program is
    /// named at all (so the EPERM default answers it).
    #[test]
    fn refused_syscalls_are_absent() {
        let mentioned = mentioned(&profile());
        let refused = [
            "mount",
            "umount2",
            "pivot_root",
            "chroot",
            "fsopen",
            "fsmount",
            "move_mount",
            "open_tree",
            "mount_setattr",
            "unshare",
            "setns",
            "bpf",
            "perf_event_open",
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            "process_madvise",
            "kcmp",
            "pidfd_getfd",
            "kexec_load",
            "kexec_file_load",
            "init_module",
            "finit_module",
            "delete_module",
            "create_module",
            "keyctl",
            "add_key",
            "request_key",
            "userfaultfd",
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
            "open_by_handle_at",
            "name_to_handle_at",
            "swapon",
            "swapoff",
            "reboot",
            "syslog",
            "acct",
            "settimeofday",
            "clock_settime",
            "adjtimex",
            "clock_adjtime",
            "iopl",
            "ioperm",
            "modify_ldt",
            "vm86",
            "vm86old",
            "quotactl",
            "quotactl_fd",
            "fanotify_init",
            "lookup_dcookie",
            "sethostname",
            "setdomainname",
            "mbind",
            "set_mempolicy",
            "migrate_pages",
            "move_pages",
            "nfsservctl",
            "uselib",
            "_sysctl",
        ];
        let present: Vec<_> = refused.iter().filter(|n| mentioned.contains(**n)).collect();
        assert!(
            present.is_empty(),
            "refused syscalls in the profile: {present:?}"
        );
    }

    /// What ordinary programs, compilers, runtimes and rce-runner need is
    /// allowed without conditions.
    #[test]
    fn core_syscalls_are_allowed() {
        let allowed = allowed_unconditionally(&profile());
        let core = [
            "read",
            "write",
            "openat",
            "openat2",
            "close",
            "close_range",
            "statx",
            "newfstatat",
            "faccessat2",
            "getdents64",
            "mmap",
            "mprotect",
            "munmap",
            "madvise",
            "mremap",
            "brk",
            "membarrier",
            "rseq",
            "execve",
            "execveat",
            "fork",
            "vfork",
            "wait4",
            "waitid",
            "exit_group",
            "futex",
            "futex_waitv",
            "rt_sigaction",
            "rt_sigreturn",
            "epoll_wait",
            "pipe2",
            "eventfd2",
            "socket",
            "connect",
            "accept4",
            "clock_gettime",
            "prctl",
            "arch_prctl",
            "prlimit64",
            "set_tid_address",
            "set_robust_list",
            "getrandom",
            "setuid",
            "setgid",
            "setgroups",
            "setresuid",
            "capset",
            "pidfd_open",
            "kill",
            "tgkill",
            "sched_setaffinity",
            "ioctl",
            "fcntl",
            "memfd_create",
            "copy_file_range",
        ];
        let missing: Vec<_> = core.iter().filter(|n| !allowed.contains(**n)).collect();
        assert!(missing.is_empty(), "core syscalls not allowed: {missing:?}");
    }

    /// `clone` is allowed only without namespace flags, `clone3` answers
    /// ENOSYS (so libc falls back to `clone`), and `personality` only takes
    /// the harmless values.
    #[test]
    fn argument_rules_close_the_namespace_doors() {
        let profile = profile();
        let rules = profile["syscalls"].as_array().unwrap();
        let rules_for = |name: &str| -> Vec<&Value> {
            rules
                .iter()
                .filter(|rule| rule["names"].as_array().unwrap().iter().any(|n| n == name))
                .collect()
        };
        let clone = rules_for("clone");
        assert_eq!(clone.len(), 1);
        assert_eq!(
            clone[0]["args"],
            serde_json::json!([{"index": 0, "value": 0x7E02_0000u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}])
        );
        let clone3 = rules_for("clone3");
        assert_eq!(clone3.len(), 1);
        assert_eq!(clone3[0]["action"], "SCMP_ACT_ERRNO");
        assert_eq!(clone3[0]["errnoRet"], 38);
        let personality: Vec<u64> = rules_for("personality")
            .iter()
            .map(|rule| {
                assert_eq!(rule["args"][0]["op"], "SCMP_CMP_EQ");
                rule["args"][0]["value"].as_u64().unwrap()
            })
            .collect();
        assert_eq!(personality, vec![0, 0xffff_ffff]);
    }

    /// No name is listed twice, and the engine gets the same profile as the
    /// file, without whitespace.
    #[test]
    fn security_opt_carries_the_compact_profile() {
        let profile = profile();
        let mut seen = HashSet::new();
        for rule in profile["syscalls"].as_array().unwrap() {
            if rule.get("args").is_some() {
                continue;
            }
            for name in rule["names"].as_array().unwrap() {
                assert!(seen.insert(name.as_str().unwrap()), "{name} listed twice");
            }
        }
        let opt = seccomp_security_opt();
        let json = opt.strip_prefix("seccomp=").unwrap();
        assert!(!json.contains('\n'));
        assert_eq!(serde_json::from_str::<Value>(json).unwrap(), profile);
    }
}
