//! limits: the rlimits a stage's process starts with, computed from its
//! `StageLimits` before the fork and applied in the child between fork and
//! exec. Deliberately absent: RLIMIT_AS (it breaks the JVM and Go, which
//! reserve far more address space than they use; memory is the container
//! cgroup's job). RLIMIT_NPROC (the stage's `processes`) is set only when the
//! sandbox uid is exclusive to this container: the kernel counts it per uid
//! across the whole host. It is what makes the process limit exact per stage
//! (the container's pids limit must also fit the compiler, and under gVisor
//! it counts the sandbox kernel's own host threads, not the program's).

use crate::sys;
use rce_protocol::StageLimits;
use std::io;

/// Open descriptors a program may hold. Generous for JVMs and Node, small
/// enough that descriptor tables stay cheap.
pub const NOFILE: u64 = 256;

/// Stack size soft limit. Large enough for deep recursion in competitive
/// programming solutions; Go and the JVM size their own thread stacks.
pub const STACK_BYTES: u64 = 64 * 1024 * 1024;

/// One rlimit to set: resource, soft, hard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: sys::Resource,
    pub soft: u64,
    pub hard: u64,
}

/// Whole seconds of RLIMIT_CPU for a CPU limit in milliseconds: rounded up,
/// at least one. The runner's own measurement stops the tree at the exact
/// limit; RLIMIT_CPU is the per-process backstop.
pub fn cpu_seconds(cpu_time_ms: u64) -> u64 {
    cpu_time_ms.div_ceil(1000).max(1)
}

/// The rlimits of a stage, in the order they are applied; `nproc` adds
/// RLIMIT_NPROC = `limits.processes` (only for an exclusive uid).
pub fn for_stage(limits: &StageLimits, nproc: bool) -> Vec<Rlimit> {
    let cpu = cpu_seconds(limits.cpu_time_ms);
    let mut all = vec![
        // SIGXCPU at the soft limit, SIGKILL one second later if caught.
        Rlimit {
            resource: libc::RLIMIT_CPU,
            soft: cpu,
            hard: cpu + 1,
        },
        Rlimit {
            resource: libc::RLIMIT_FSIZE,
            soft: limits.file_size_bytes,
            hard: limits.file_size_bytes,
        },
        Rlimit {
            resource: libc::RLIMIT_CORE,
            soft: 0,
            hard: 0,
        },
        Rlimit {
            resource: libc::RLIMIT_NOFILE,
            soft: NOFILE,
            hard: NOFILE,
        },
        // Hard left unlimited (clamped below): a program may raise its own stack.
        Rlimit {
            resource: libc::RLIMIT_STACK,
            soft: STACK_BYTES,
            hard: libc::RLIM_INFINITY,
        },
    ];
    if nproc {
        // Counts threads too, like the pids cgroup. Applied while still
        // root (not checked for root), enforced once the uid has changed.
        all.push(Rlimit {
            resource: libc::RLIMIT_NPROC,
            soft: limits.processes,
            hard: limits.processes,
        });
    }
    all
}

/// Applies `limits` to the calling process, each clamped to the hard limit
/// already in force (raising a hard limit needs CAP_SYS_RESOURCE, which the
/// container does not grant). Async-signal-safe: runs between fork and exec.
pub fn apply(limits: &[Rlimit]) -> io::Result<()> {
    for limit in limits {
        let (_, current_hard) = sys::getrlimit(limit.resource)?;
        let hard = limit.hard.min(current_hard);
        let soft = limit.soft.min(hard);
        sys::setrlimit(limit.resource, soft, hard)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(cpu_time_ms: u64) -> StageLimits {
        StageLimits {
            cpu_time_ms,
            wall_time_ms: 10_000,
            memory_kb: 65_536,
            processes: 16,
            output_bytes: 1024,
            file_size_bytes: 4096,
        }
    }

    /// RLIMIT_CPU is whole seconds rounded up (never zero, which would mean
    /// "no time at all"), and the hard limit leaves one second for SIGXCPU.
    #[test]
    fn cpu_limit_rounds_up_with_one_second_grace() {
        assert_eq!(cpu_seconds(0), 1);
        assert_eq!(cpu_seconds(1), 1);
        assert_eq!(cpu_seconds(1000), 1);
        assert_eq!(cpu_seconds(1001), 2);
        let cpu = for_stage(&limits(2500), false)[0];
        assert_eq!((cpu.resource, cpu.soft, cpu.hard), (libc::RLIMIT_CPU, 3, 4));
    }

    /// Core dumps are off, file size follows the stage, RLIMIT_AS is never
    /// set, and RLIMIT_NPROC only for an exclusive uid, at the stage's
    /// process limit.
    #[test]
    fn stage_limits_cover_fsize_core_and_nproc_only_when_exclusive() {
        let all = for_stage(&limits(1000), false);
        let find = |r| all.iter().find(|l| l.resource == r).copied();
        assert_eq!(
            find(libc::RLIMIT_FSIZE).map(|l| (l.soft, l.hard)),
            Some((4096, 4096))
        );
        assert_eq!(
            find(libc::RLIMIT_CORE).map(|l| (l.soft, l.hard)),
            Some((0, 0))
        );
        assert_eq!(find(libc::RLIMIT_NOFILE).map(|l| l.soft), Some(NOFILE));
        assert!(find(libc::RLIMIT_AS).is_none());
        assert!(find(libc::RLIMIT_NPROC).is_none());
        let exclusive = for_stage(&limits(1000), true);
        let nproc = exclusive.iter().find(|l| l.resource == libc::RLIMIT_NPROC);
        assert_eq!(nproc.map(|l| (l.soft, l.hard)), Some((16, 16)));
        assert!(exclusive.iter().all(|l| l.resource != libc::RLIMIT_AS));
    }
}
