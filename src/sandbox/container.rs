//! The shape of every sandbox container: one function builds the Engine API
//! create body with all of the hardening in one place (no network, read-only
//! root, tmpfs work dir and /tmp, memory = memory+swap, CPU and pids limits,
//! all capabilities dropped but the two rce-runner needs to switch to the
//! sandbox uid, no-new-privileges, our pinned seccomp profile
//! ([`super::seccomp`]), ulimits, no host mounts, a fixed environment,
//! ownership labels).

use super::seccomp::seccomp_security_opt;
use super::settings::SandboxSettings;
use crate::job::Job;
use crate::languages::Language;
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig, ResourcesUlimits};
use std::collections::HashMap;

/// Label: the job a container runs.
pub const LABEL_JOB: &str = "rce.job";
/// Label: the worker (consumer name: host and pid) that owns the container.
pub const LABEL_WORKER: &str = "rce.worker";
/// Label: set on warm-pool containers (created before their job arrived).
pub const LABEL_WARM: &str = "rce.warm";
/// Label: the deployment's Redis prefix (several share one engine in tests).
pub const LABEL_PREFIX: &str = "rce.prefix";

/// Who owns a container.
#[derive(Debug, Clone)]
pub struct ContainerLabels {
    pub worker: String,
    pub prefix: String,
}

/// gVisor (runsc) runs its sandbox kernel's host threads (Sentry, Gofer,
/// ptrace stubs) in the container's pids cgroup: measured here (runsc
/// 20221219, ptrace platform) about 70 at rest plus 8–10 per sandboxed task,
/// and the Sentry dies (exit 2, no report) when the cgroup refuses it a
/// thread. Under gVisor the pids limit is therefore sized for the Sentry and
/// RLIMIT_NPROC, enforced inside the sandbox kernel, bounds the program.
const GVISOR_HOST_TASKS_BASE: u64 = 128;
/// See [`GVISOR_HOST_TASKS_BASE`].
const GVISOR_HOST_TASKS_PER_TASK: u64 = 12;

/// The container's pids limit: the larger stage limit plus the runner's
/// slack (the program's own limit per stage is RLIMIT_NPROC, see
/// [`SandboxSettings::uid_for`]); under gVisor, room for its kernel.
pub fn container_pids(job: &Job, language: &Language, settings: &SandboxSettings) -> u64 {
    let compile = if language.compile.is_some() {
        settings.max_limits.pids
    } else {
        0
    };
    let tasks = job.limits.pids.max(compile) + settings.runner_pids;
    if settings.is_gvisor() {
        GVISOR_HOST_TASKS_BASE + GVISOR_HOST_TASKS_PER_TASK * tasks
    } else {
        tasks
    }
}

/// Memory the container may use: the larger stage limit plus the runner's slack.
pub fn container_memory_mb(job: &Job, language: &Language, settings: &SandboxSettings) -> u64 {
    let compile = if language.compile.is_some() {
        settings.compile_memory_mb
    } else {
        0
    };
    job.limits.memory_mb.max(compile) + settings.runner_memory_mb
}

/// The create body for `job`'s container.
pub fn container_body(
    job: &Job,
    language: &Language,
    settings: &SandboxSettings,
    labels: &ContainerLabels,
) -> ContainerCreateBody {
    let memory = (container_memory_mb(job, language, settings) * 1024 * 1024) as i64;
    let (uid, uid_exclusive) = settings.uid_for(&job.id);
    let tmpfs = HashMap::from([
        (
            "/sandbox".to_string(),
            format!(
                "rw,exec,nosuid,nodev,size={}m,mode=1777",
                settings.workdir_mb
            ),
        ),
        (
            "/tmp".to_string(),
            format!("rw,exec,nosuid,nodev,size={}m,mode=1777", settings.tmp_mb),
        ),
    ]);
    let ulimit = |name: &str, value: i64| ResourcesUlimits {
        name: Some(name.into()),
        soft: Some(value),
        hard: Some(value),
    };
    ContainerCreateBody {
        image: Some(language.image_ref()),
        entrypoint: Some(vec!["/usr/local/bin/rce-runner".into()]),
        cmd: Some(vec![]),
        user: Some("0:0".into()),
        working_dir: Some("/sandbox".into()),
        env: Some(vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            "RCE_WORKDIR=/sandbox".into(),
            format!("RCE_SANDBOX_UID={uid}"),
            format!("RCE_UID_EXCLUSIVE={}", u8::from(uid_exclusive)),
        ]),
        hostname: Some("sandbox".into()),
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        open_stdin: Some(true),
        stdin_once: Some(true),
        tty: Some(false),
        // Same isolation as NetworkMode "none" (a namespace with only lo) but
        // without libnetwork's per-start work: ~100 ms faster starts.
        network_disabled: Some(true),
        labels: Some(HashMap::from([
            (LABEL_JOB.to_string(), job.id.to_string()),
            (LABEL_WORKER.to_string(), labels.worker.clone()),
            (LABEL_PREFIX.to_string(), labels.prefix.clone()),
        ])),
        host_config: Some(HostConfig {
            memory: Some(memory),
            memory_swap: Some(memory),
            nano_cpus: Some((settings.cpus * 1e9) as i64),
            pids_limit: Some(container_pids(job, language, settings) as i64),
            readonly_rootfs: Some(true),
            tmpfs: Some(tmpfs),
            // /dev/shm (POSIX shared memory) is the one other writable place;
            // sized like /tmp rather than left at Docker's default.
            shm_size: Some((settings.tmp_mb * 1024 * 1024) as i64),
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: Some(vec!["SETUID".into(), "SETGID".into()]),
            // Our own syscall filter, never the engine's default (which an
            // engine may lack or have turned off).
            security_opt: Some(vec!["no-new-privileges".into(), seccomp_security_opt()]),
            ulimits: Some(vec![ulimit("nofile", 1024), ulimit("core", 0)]),
            runtime: Some(settings.runtime.clone()),
            // Output travels over the attach stream; dockerd need not log it.
            log_config: Some(HostConfigLogConfig {
                typ: Some("none".into()),
                config: None,
            }),
            privileged: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{JobId, Limits};
    use time::OffsetDateTime;

    fn python() -> Language {
        Language::python_for_tests()
    }

    fn job(pids: u64) -> Job {
        Job {
            id: JobId::new(),
            user_id: "u".into(),
            language: "python".into(),
            files: vec![],
            stdin: String::new(),
            args: vec![],
            limits: Limits {
                time_ms: 1000,
                wall_ms: 2000,
                memory_mb: 100,
                pids,
                output_kb: 64,
            },
            tests: vec![],
            interactive: false,
            compile_args: vec![],
            created_at: OffsetDateTime::now_utc(),
        }
    }

    /// Each job runs as a uid of the configured range, never root, and is
    /// told the uid is its own (so the runner sets RLIMIT_NPROC); a range of
    /// one uid is shared, so it is not.
    #[test]
    fn each_job_gets_an_exclusive_uid_from_the_range() {
        let settings = SandboxSettings::default();
        let labels = ContainerLabels {
            worker: "w".into(),
            prefix: "p".into(),
        };
        let mut uids = std::collections::HashSet::new();
        for _ in 0..50 {
            let body = container_body(&job(8), &python(), &settings, &labels);
            let env = body.env.unwrap();
            let uid: u32 = env
                .iter()
                .find_map(|e| e.strip_prefix("RCE_SANDBOX_UID="))
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                uid >= settings.sandbox_uid && uid < settings.sandbox_uid + settings.sandbox_uids
            );
            assert!(env.contains(&"RCE_UID_EXCLUSIVE=1".to_string()), "{env:?}");
            uids.insert(uid);
        }
        assert!(uids.len() > 45, "uids repeat too often: {uids:?}");
        let shared = SandboxSettings {
            sandbox_uid: 5000,
            sandbox_uids: 1,
            ..SandboxSettings::default()
        };
        assert_eq!(shared.uid_for(&JobId::new()), (5000, false));
        let zero = SandboxSettings {
            sandbox_uid: 0,
            sandbox_uids: 1,
            ..SandboxSettings::default()
        };
        assert_ne!(zero.uid_for(&JobId::new()).0, 0);
    }

    /// The pids limit fits the larger stage plus the runner; under gVisor it
    /// also fits the sandbox kernel's host threads (hundreds, not tens).
    #[test]
    fn pids_limit_fits_the_runtime() {
        let settings = SandboxSettings::default();
        let runc = container_pids(&job(16), &python(), &settings);
        assert_eq!(runc, 16 + settings.runner_pids);
        let mut compiled = python();
        compiled.compile = Some(vec!["cc".into()]);
        assert_eq!(
            container_pids(&job(16), &compiled, &settings),
            settings.max_limits.pids + settings.runner_pids
        );
        let gvisor = SandboxSettings {
            runtime: "runsc".into(),
            ..SandboxSettings::default()
        };
        assert!(container_pids(&job(16), &python(), &gvisor) >= 128 + 8 * runc);
    }

    /// The hardening every container must carry is present, and the memory
    /// limit forbids swap.
    #[test]
    fn body_is_hardened() {
        let (language, job) = (python(), job(10));
        let settings = SandboxSettings::default();
        let labels = ContainerLabels {
            worker: "w".into(),
            prefix: "p".into(),
        };
        let body = container_body(&job, &language, &settings, &labels);
        let host = body.host_config.unwrap();
        assert_eq!(body.network_disabled, Some(true));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(
            host.security_opt,
            Some(vec![
                "no-new-privileges".to_string(),
                seccomp_security_opt()
            ])
        );
        assert!(seccomp_security_opt().starts_with("seccomp={"));
        assert_eq!(host.memory, host.memory_swap);
        assert_eq!(
            host.memory,
            Some(((100 + settings.runner_memory_mb) * 1024 * 1024) as i64)
        );
        assert!(host.binds.is_none() && host.mounts.is_none());
        assert_eq!(host.shm_size, Some((settings.tmp_mb * 1024 * 1024) as i64));
        assert_eq!(host.pids_limit, Some((10 + settings.runner_pids) as i64));
        assert_eq!(body.labels.unwrap()[LABEL_JOB], job.id.to_string());
        assert!(!body
            .env
            .unwrap()
            .iter()
            .any(|e| e.starts_with("HOME=") || e.contains("REDIS")));
    }
}
