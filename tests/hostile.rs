//! The hostile suite: programs that attack the sandbox or the host, each run
//! through a real `rce serve` in a real container, under runc and (where it is
//! installed and registered with the engine) under gVisor's runsc. Every case
//! pins four things besides its own verdict and facts: the job ends within
//! its wall-clock limit plus a margin for container start and removal, the
//! server answers HTTP quickly while it runs, no container is left behind,
//! and a normal program run right after it succeeds. Limits are set low so
//! the bombs stay small on a shared two-core machine; run just one runtime
//! with `cargo test --test hostile runc` (or `runsc`).

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runtime {
    Runc,
    Runsc,
}

impl Runtime {
    fn name(self) -> &'static str {
        match self {
            Runtime::Runc => "runc",
            Runtime::Runsc => "runsc",
        }
    }

    /// Past a job's wall-clock limit: creating, starting and removing the
    /// container (and compiling, for C) on a loaded two-core machine. gVisor
    /// starts its sandbox kernel per container, several times slower.
    fn margin(self) -> Duration {
        match self {
            Runtime::Runc => Duration::from_secs(8),
            Runtime::Runsc => Duration::from_secs(15),
        }
    }
}

/// Slowest acceptable answer to `GET /healthz` while a bomb runs.
const RESPONSIVE: Duration = Duration::from_secs(2);

/// The process limit the bombs get.
const PIDS: u64 = 16;

/// An environment variable of the server that must never reach user code.
const CANARY: (&str, &str) = ("SECRET_CANARY", "hunter2-c4n4ry-value");

/// A server for one case, or `None` (after saying why) when the runtime is
/// not available here.
async fn start(runtime: Runtime, case: &str) -> Option<Rce> {
    if runtime == Runtime::Runsc {
        if let Some(why) = runsc_unavailable().await {
            eprintln!("SKIPPED {case} under runsc: {why}");
            return None;
        }
    }
    Some(start_rce_with(RceOptions {
        env: vec![
            ("RCE_SANDBOX__RUNTIME".into(), runtime.name().into()),
            (CANARY.0.into(), CANARY.1.into()),
        ],
        ..Default::default()
    }))
}

/// Submits `body` (whose `limits.wall_ms` must be set), watches the server's
/// health while it runs, and checks what every case must hold; returns the
/// result for the case's own assertions.
async fn run_hostile(rce: &Rce, runtime: Runtime, body: Value) -> Value {
    let wall_ms = body["limits"]["wall_ms"]
        .as_u64()
        .expect("cases set limits.wall_ms");
    let within = Duration::from_millis(wall_ms) + runtime.margin();
    let started = Instant::now();
    let id = submit(rce, body.clone()).await;
    let mut slowest = Duration::ZERO;
    let submission = loop {
        let asked = Instant::now();
        let (status, health) = get_json(&rce.url("/healthz")).await;
        slowest = slowest.max(asked.elapsed());
        assert_eq!(status, 200, "health during the job: {health}");
        let (_, submission) = get_submission(rce, &id).await;
        if submission["status"] == "completed" {
            break submission;
        }
        assert!(
            started.elapsed() < within * 2,
            "{runtime:?}: job not completed after {:?}: {submission}\n{}",
            started.elapsed(),
            rce.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let took = started.elapsed();
    let result = submission["result"].clone();
    assert!(
        took <= within,
        "{runtime:?}: took {took:?}, more than the wall limit of {wall_ms} ms + {:?}: {result}",
        runtime.margin()
    );
    assert!(
        slowest < RESPONSIVE,
        "{runtime:?}: the server took {slowest:?} to answer /healthz during the job"
    );
    assert_ne!(result["verdict"], "internal_error", "{runtime:?}: {result}");
    assert!(
        result["wall_ms"].as_u64().unwrap_or(0) <= wall_ms + 500,
        "{runtime:?}: the program ran past its wall limit: {result}"
    );
    let left = containers_left(&rce.prefix, Duration::from_secs(10)).await;
    assert!(left.is_empty(), "{runtime:?}: containers left: {left:?}");

    // A normal program right after; it also proves the runtime: gVisor's
    // kernel calls itself Linux 4.4.0.
    let normal = json!({
        "language": "python",
        "source": "import os\nprint('still fine', os.uname().release == '4.4.0')",
    });
    let id = submit(rce, normal).await;
    let after = wait_completed(rce, &id, runtime.margin() * 4).await;
    assert_eq!(after["result"]["verdict"], "ok", "{runtime:?}: {after}");
    let expected = format!(
        "still fine {}\n",
        if runtime == Runtime::Runsc {
            "True"
        } else {
            "False"
        }
    );
    assert_eq!(after["result"]["stdout"], expected.as_str(), "{runtime:?}");
    result
}

/// `{language, source, limits}` with `limits` as given.
fn job(language: &str, source: &str, limits: Value) -> Value {
    let mut body = json!({"language": language, "source": source});
    body["limits"] = limits;
    body
}

fn stdout(result: &Value) -> &str {
    result["stdout"].as_str().unwrap_or_default()
}

/// The JSON line a probe program printed.
fn printed_json(result: &Value) -> Value {
    serde_json::from_str(stdout(result).trim())
        .unwrap_or_else(|e| panic!("the probe printed no JSON ({e}): {result}"))
}

// ------------------------------------------------------------------ cases

async fn fork_bomb_c(runtime: Runtime) {
    let Some(rce) = start(runtime, "fork_bomb_c").await else {
        return;
    };
    let source = "#include <unistd.h>\nint main(void) { for (;;) fork(); }\n";
    let limits = json!({"pids": PIDS, "time_ms": 1000, "wall_ms": 3000});
    let result = run_hostile(&rce, runtime, job("c", source, limits)).await;
    assert_eq!(result["verdict"], "time_limit_exceeded", "{result}");
}

async fn fork_bomb_python(runtime: Runtime) {
    let Some(rce) = start(runtime, "fork_bomb_python").await else {
        return;
    };
    let source = "import os\nwhile True:\n    os.fork()\n";
    let limits = json!({"pids": PIDS, "time_ms": 1000, "wall_ms": 3000});
    let result = run_hostile(&rce, runtime, job("python", source, limits)).await;
    let stderr = result["stderr"].as_str().unwrap_or_default();
    match runtime {
        // fork() fails with EAGAIN at the limit; the uncaught error ends
        // the main process with exit code 1.
        Runtime::Runc => {
            assert_eq!(result["verdict"], "runtime_error", "{result}");
            assert_eq!(result["exit_code"], 1, "{result}");
            assert!(
                stderr.contains("Resource temporarily unavailable"),
                "{result}"
            );
        }
        // gVisor (ptrace platform) counts a task's time on its run queue as
        // CPU time, so the bomb's sixteen busy tasks can reach the CPU limit
        // before the main process gets its EAGAIN.
        Runtime::Runsc => assert!(
            result["verdict"] == "runtime_error" || result["verdict"] == "time_limit_exceeded",
            "{result}"
        ),
    }
}

async fn thread_bomb(runtime: Runtime) {
    let Some(rce) = start(runtime, "thread_bomb").await else {
        return;
    };
    let source = "import threading, time\n\
                  tasks = 1\n\
                  try:\n    \
                      while tasks < 10000:\n        \
                          threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n        \
                          tasks += 1\n\
                  except RuntimeError:\n    \
                      print(tasks, flush=True)\n    \
                      raise SystemExit(3)\n\
                  print('no limit at', tasks)\n";
    let limits = json!({"pids": PIDS, "time_ms": 2000, "wall_ms": 4000});
    let result = run_hostile(&rce, runtime, job("python", source, limits)).await;
    assert_eq!(result["verdict"], "runtime_error", "{result}");
    assert_eq!(result["exit_code"], 3, "{result}");
    let tasks: u64 = stdout(&result).trim().parse().expect("a count");
    // Exact under runc (RLIMIT_NPROC for the job's own uid counts threads);
    // gVisor's check lets one more through.
    let most = if runtime == Runtime::Runc {
        PIDS
    } else {
        PIDS + 1
    };
    assert!(
        tasks >= PIDS - 2 && tasks <= most,
        "{tasks} tasks with a limit of {PIDS}: {result}"
    );
}

async fn memory_bomb(runtime: Runtime) {
    let Some(rce) = start(runtime, "memory_bomb").await else {
        return;
    };
    let source = "chunks = []\nwhile True:\n    chunks.append(b'x' * 10_000_000)\n";
    let limits = json!({"memory_mb": 64, "time_ms": 5000, "wall_ms": 5000});
    let result = run_hostile(&rce, runtime, job("python", source, limits)).await;
    assert_eq!(result["verdict"], "memory_limit_exceeded", "{result}");
    assert!(
        result["memory_kb"].as_u64() > Some(64 * 1024),
        "the peak over the limit is reported: {result}"
    );
}

async fn container_oom(runtime: Runtime) {
    let Some(rce) = start(runtime, "container_oom").await else {
        return;
    };
    // tmpfs pages count against the container's memory but belong to no
    // process: only the cgroup's OOM killer stops this (under gVisor it
    // takes the whole sandbox, runner included, so Docker's OOMKilled flag,
    // or the SIGKILL exit without a report, decides the verdict).
    let source = "head -c 60000000 /dev/zero > /tmp/a\n\
                  head -c 60000000 /dev/zero > b\n\
                  head -c 60000000 /dev/zero > /dev/shm/c\n\
                  echo survived\n";
    let limits = json!({"memory_mb": 16, "time_ms": 5000, "wall_ms": 5000});
    let result = run_hostile(&rce, runtime, job("bash", source, limits)).await;
    assert_eq!(result["verdict"], "memory_limit_exceeded", "{result}");
    assert!(!stdout(&result).contains("survived"), "{result}");
    if runtime == Runtime::Runsc {
        // No report: the verdict came from Docker's OOMKilled flag or the
        // sandbox's SIGKILL exit (Docker does not always flag it).
        assert!(
            result["message"]
                .as_str()
                .unwrap_or_default()
                .contains("OOM-killed"),
            "{result}"
        );
    }
}

async fn infinite_loop(runtime: Runtime) {
    let Some(rce) = start(runtime, "infinite_loop").await else {
        return;
    };
    let limits = json!({"time_ms": 1000, "wall_ms": 3000});
    let result = run_hostile(
        &rce,
        runtime,
        job("python", "while True:\n    pass\n", limits),
    )
    .await;
    assert_eq!(result["verdict"], "time_limit_exceeded", "{result}");
}

async fn sleep_past_wall_limit(runtime: Runtime) {
    let Some(rce) = start(runtime, "sleep_past_wall_limit").await else {
        return;
    };
    let limits = json!({"time_ms": 1000, "wall_ms": 1500});
    let result = run_hostile(
        &rce,
        runtime,
        job("python", "import time\ntime.sleep(60)\n", limits),
    )
    .await;
    assert_eq!(result["verdict"], "time_limit_exceeded", "{result}");
    assert!(
        result["message"]
            .as_str()
            .unwrap_or_default()
            .contains("wall"),
        "{result}"
    );
    assert!(result["wall_ms"].as_u64() >= Some(1500), "{result}");
}

async fn daemon_outliving_its_parent(runtime: Runtime) {
    let Some(rce) = start(runtime, "daemon_outliving_its_parent").await else {
        return;
    };
    let source = "import os, time\n\
                  if os.fork() == 0:\n    \
                      os.setsid()\n    \
                      if os.fork() == 0:\n        \
                          time.sleep(1.5)\n        \
                          print('daemon still alive', flush=True)\n        \
                          time.sleep(60)\n    \
                      os._exit(0)\n\
                  print('parent done', flush=True)\n";
    let limits = json!({"time_ms": 1000, "wall_ms": 3000});
    let result = run_hostile(&rce, runtime, job("python", source, limits)).await;
    // The program is its main process: it exited 0, and the daemon it left
    // (holding stdout open) was killed instead of being waited for.
    assert_eq!(result["verdict"], "ok", "{result}");
    assert_eq!(result["stdout"], "parent done\n", "{result}");
    assert!(result["wall_ms"].as_u64() < Some(1500), "{result}");
}

async fn gigabyte_of_output(runtime: Runtime) {
    let Some(rce) = start(runtime, "gigabyte_of_output").await else {
        return;
    };
    // 1 GiB in 1 KiB lines, alternating between stdout and stderr (they
    // share one cap).
    let source = "import sys\n\
                  chunk = (b'y' * 1023 + b'\\n') * 1024\n\
                  for i in range(1024):\n    \
                      (sys.stdout if i % 2 else sys.stderr).buffer.write(chunk)\n";
    let limits = json!({"output_kb": 256, "time_ms": 5000, "wall_ms": 5000});
    let result = run_hostile(&rce, runtime, job("python", source, limits)).await;
    assert_eq!(result["verdict"], "output_limit_exceeded", "{result}");
    assert_eq!(result["truncated"], true, "{result}");
    let kept = stdout(&result).len() + result["stderr"].as_str().unwrap_or_default().len();
    assert_eq!(kept, 256 * 1024, "exactly the cap is kept");
}

async fn single_huge_line(runtime: Runtime) {
    let Some(rce) = start(runtime, "single_huge_line").await else {
        return;
    };
    let source = "import sys\n\
                  chunk = b'x' * (1 << 20)\n\
                  for _ in range(1024):\n    \
                      sys.stdout.buffer.write(chunk)\n";
    let limits = json!({"output_kb": 256, "time_ms": 5000, "wall_ms": 5000});
    let result = run_hostile(&rce, runtime, job("python", source, limits)).await;
    assert_eq!(result["verdict"], "output_limit_exceeded", "{result}");
    assert_eq!(result["truncated"], true, "{result}");
    assert_eq!(stdout(&result).len(), 256 * 1024, "exactly the cap is kept");
    assert!(!stdout(&result).contains('\n'));
}

/// Writes 1 MiB chunks to `argv[1]` until the file system or RLIMIT_FSIZE
/// says no; prints the error and the MiB written.
const FILL: &str = "import os, sys\n\
                    written = 0\n\
                    chunk = b'\\0' * (1 << 20)\n\
                    try:\n    \
                        with open(sys.argv[1], 'wb', buffering=0) as f:\n        \
                            while written < (1 << 30):\n            \
                                written += f.write(chunk)\n\
                    except OSError as e:\n    \
                        print(e.strerror)\n\
                    print(written >> 20)\n";

async fn fill(runtime: Runtime, case: &str, path: &str) {
    let Some(rce) = start(runtime, case).await else {
        return;
    };
    let body = json!({
        "language": "python",
        "source": FILL,
        "args": [path],
        "limits": {"time_ms": 5000, "wall_ms": 10000},
    });
    let result = run_hostile(&rce, runtime, body).await;
    // Python ignores SIGXFSZ, so RLIMIT_FSIZE (the work dir's size) shows
    // as EFBIG; a full tmpfs as ENOSPC. Either way it stops at 64 MiB.
    assert_eq!(result["verdict"], "ok", "{result}");
    let lines: Vec<&str> = stdout(&result).lines().collect();
    assert!(
        matches!(
            lines.first(),
            Some(&"No space left on device") | Some(&"File too large")
        ),
        "{result}"
    );
    let mib: u64 = lines.last().and_then(|l| l.parse().ok()).expect("MiB");
    assert!(mib <= 64, "{mib} MiB written: {result}");
}

async fn disk_fill_tmp(runtime: Runtime) {
    fill(runtime, "disk_fill_tmp", "/tmp/fill").await;
}

async fn disk_fill_workdir(runtime: Runtime) {
    fill(runtime, "disk_fill_workdir", "fill").await;
}

async fn writes_outside_the_work_dir(runtime: Runtime) {
    let Some(rce) = start(runtime, "writes_outside_the_work_dir").await else {
        return;
    };
    let source = "import json, os\n\
                  dirs = ['/', '/etc', '/usr', '/usr/local/bin', '/var', '/var/tmp', '/root',\n        \
                          '/home', '/run', '/opt', '/sys', '/proc', '/dev', '/sandbox/..',\n        \
                          '/tmp', '/sandbox', '/dev/shm']\n\
                  out = {}\n\
                  for d in dirs:\n    \
                      try:\n        \
                          with open(os.path.join(d, 'rce-probe'), 'w') as f:\n            \
                              f.write('x')\n        \
                          out[d] = 'written'\n    \
                      except OSError as e:\n        \
                          out[d] = e.strerror\n\
                  for name, attempt in [('runner', lambda: open('/usr/local/bin/rce-runner', 'ab')),\n                        \
                                        ('chmod', lambda: os.chmod('/usr/local/bin/rce-runner', 0o777)),\n                        \
                                        ('mkdir', lambda: os.mkdir('/opt/x'))]:\n    \
                      try:\n        \
                          attempt()\n        \
                          out[name] = 'written'\n    \
                      except OSError as e:\n        \
                          out[name] = e.strerror\n\
                  print(json.dumps(out))\n";
    let limits = json!({"time_ms": 5000, "wall_ms": 5000});
    let result = run_hostile(&rce, runtime, job("python", source, limits)).await;
    assert_eq!(result["verdict"], "ok", "{result}");
    let out = printed_json(&result);
    for (place, outcome) in out.as_object().expect("an object") {
        let writable = ["/tmp", "/sandbox", "/dev/shm"].contains(&place.as_str());
        assert_eq!(
            outcome == "written",
            writable,
            "{runtime:?}: writing to {place}: {outcome}"
        );
    }
}

async fn network_egress(runtime: Runtime) {
    let Some(rce) = start(runtime, "network_egress").await else {
        return;
    };
    let source = "import json, os, socket\n\
                  out = {}\n\
                  def attempt(name, fn):\n    \
                      try:\n        \
                          fn()\n        \
                          out[name] = 'succeeded'\n    \
                      except OSError as e:\n        \
                          out[name] = repr(e)\n\
                  def tcp(host, port):\n    \
                      socket.create_connection((host, port), timeout=2).close()\n\
                  def udp():\n    \
                      s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    \
                      s.settimeout(2)\n    \
                      s.sendto(b'\\0' * 12, ('8.8.8.8', 53))\n    \
                      s.recvfrom(512)\n\
                  attempt('tcp 1.1.1.1:80', lambda: tcp('1.1.1.1', 80))\n\
                  attempt('tcp docker0 172.17.0.1:80', lambda: tcp('172.17.0.1', 80))\n\
                  attempt('tcp6 2606:4700:4700::1111:80', lambda: tcp('2606:4700:4700::1111', 80))\n\
                  attempt('udp 8.8.8.8:53', udp)\n\
                  attempt('dns example.com', lambda: socket.getaddrinfo('example.com', 80))\n\
                  print(json.dumps(out))\n\
                  print(json.dumps(sorted(name for _, name in socket.if_nameindex())))\n";
    let limits = json!({"time_ms": 5000, "wall_ms": 15000});
    let result = run_hostile(&rce, runtime, job("python", source, limits)).await;
    assert_eq!(result["verdict"], "ok", "{result}");
    let mut lines = stdout(&result).lines();
    let attempts: Value = serde_json::from_str(lines.next().unwrap_or("")).expect("JSON");
    for (what, outcome) in attempts.as_object().expect("an object") {
        assert_ne!(outcome, "succeeded", "{runtime:?}: {what} went through");
    }
    assert_eq!(
        lines.next(),
        Some(r#"["lo"]"#),
        "{runtime:?}: only loopback: {result}"
    );
}

async fn host_environment(runtime: Runtime) {
    let Some(rce) = start(runtime, "host_environment").await else {
        return;
    };
    // The program's own environment, and every other process's environment
    // and command line it can read.
    let source = "env\n\
                  for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do\n  \
                      echo \"== $f\"\n  \
                      tr '\\0' '\\n' < \"$f\" 2>&1\n\
                  done\n";
    let limits = json!({"time_ms": 5000, "wall_ms": 5000});
    let result = run_hostile(&rce, runtime, job("bash", source, limits)).await;
    assert_eq!(result["verdict"], "ok", "{result}");
    let seen = format!("{}{}", stdout(&result), result["stderr"]);
    for secret in [
        CANARY.0,
        CANARY.1,
        "RCE_",
        "DOCKER_HOST",
        "docker.sock",
        "REDIS",
        "redis://",
    ] {
        assert!(
            !seen.contains(secret),
            "{runtime:?}: user code saw {secret:?}:\n{seen}"
        );
    }
    let names: Vec<&str> = stdout(&result)
        .lines()
        .take_while(|line| !line.starts_with("== "))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name))
        .collect();
    for name in &names {
        assert!(
            ["PATH", "HOME", "TMPDIR", "LANG", "PWD", "SHLVL", "_"].contains(name),
            "{runtime:?}: unexpected variable {name} in {names:?}"
        );
    }
}

// ------------------------------------------------------------------ tests

/// One test per case and runtime: `<case>::runc` and `<case>::runsc`.
macro_rules! hostile {
    ($($(#[doc = $doc:literal])* $case:ident;)*) => {
        $(
            mod $case {
                use super::Runtime;
                $(#[doc = $doc])*
                #[doc = ""]
                #[doc = "Under runc, the default runtime."]
                #[actix_rt::test]
                async fn runc() {
                    super::$case(Runtime::Runc).await;
                }
                $(#[doc = $doc])*
                #[doc = ""]
                #[doc = "Under gVisor (runsc); skipped visibly where it is not installed."]
                #[actix_rt::test]
                async fn runsc() {
                    super::$case(Runtime::Runsc).await;
                }
            }
        )*
    };
}

hostile! {
    /// A C fork bomb (`for (;;) fork();`, 16 pids) ends as
    /// time_limit_exceeded: forks fail at the limit and the bomb's
    /// processes burn the CPU limit together.
    fork_bomb_c;
    /// A Python fork bomb ends as runtime_error (the main process's fork
    /// fails with EAGAIN at the process limit), never internal_error.
    fork_bomb_python;
    /// A thread bomb gets exactly its process limit in tasks (threads count,
    /// RLIMIT_NPROC of the job's own uid), then thread creation fails and
    /// the program's own exit code is reported.
    thread_bomb;
    /// A memory bomb ends as memory_limit_exceeded, detected (sampled RSS or
    /// the cgroup's OOM kill), with the peak over the limit reported.
    memory_bomb;
    /// Filling tmpfs (memory no process holds) past the container's memory
    /// limit ends as memory_limit_exceeded from the OOM kill, also when
    /// gVisor's whole sandbox is killed without a report.
    container_oom;
    /// An infinite loop ends as time_limit_exceeded.
    infinite_loop;
    /// Sleeping past the wall-clock limit ends as time_limit_exceeded,
    /// saying wall clock, at the limit.
    sleep_past_wall_limit;
    /// A daemonised grandchild that outlives its parent neither delays the
    /// result nor survives the job.
    daemon_outliving_its_parent;
    /// 1 GiB of output split over stdout and stderr ends as
    /// output_limit_exceeded with truncated: true and exactly the cap kept.
    gigabyte_of_output;
    /// A single 1 GiB line (no newline) ends as output_limit_exceeded with
    /// exactly the cap kept.
    single_huge_line;
    /// Filling /tmp stops at its 64 MiB (ENOSPC or RLIMIT_FSIZE).
    disk_fill_tmp;
    /// Filling the work dir stops at its 64 MiB (ENOSPC or RLIMIT_FSIZE).
    disk_fill_workdir;
    /// Writes anywhere but the work dir, /tmp and /dev/shm fail: the root
    /// is read-only and the runner's binary cannot be touched.
    writes_outside_the_work_dir;
    /// No network: TCP (v4, v6, the Docker bridge), UDP and DNS all fail,
    /// and the only interface is loopback.
    network_egress;
    /// Nothing of the host's environment reaches user code: no RCE_*,
    /// DOCKER_HOST, Redis URL or other secret of the server, in the
    /// program's environment or any readable /proc/*/environ or cmdline.
    host_environment;
}
