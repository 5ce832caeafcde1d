//! Integration tests of the runner's stages: streaming, stdin, exit facts,
//! each limit, process-tree cleanup, compile, test-case and interactive modes.
//! Each test has its own sandbox uid (610xx) so kill sweeps stay apart.

mod common;

use common::{job, limits, processes_of, python, sandbox, PYTHON};
use rce_protocol::{Frame, FrameKind, SourceFile, StageEvent, Termination, TestCase};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

fn stage(name: &str, index: Option<usize>) -> StageEvent {
    StageEvent {
        stage: name.into(),
        index,
    }
}

/// A program's stdout is streamed as Stdout frames after a `run` Stage frame,
/// the Result frame comes last, and the report has the facts of a clean exit.
#[test]
fn hello_world_streams_output_then_one_result() {
    let Some(sb) = sandbox("hello", 61001) else {
        return;
    };
    let outcome = sb.run(&job(&["/bin/echo", "hello", "world"]));
    assert_eq!(outcome.stages(), vec![stage("run", None)]);
    assert_eq!(outcome.frames[0].kind, FrameKind::Stage);
    assert_eq!(outcome.frames.last().unwrap().kind, FrameKind::Result);
    assert_eq!(outcome.streamed(FrameKind::Stdout), b"hello world\n");
    let run = outcome.run();
    assert_eq!(
        (run.termination, run.exit_code, run.signal),
        (Termination::Exited, Some(0), None)
    );
    assert_eq!(run.stdout, "hello world\n");
    assert!(run.memory_kb > 0, "{run:?}");
    assert_eq!(outcome.report.error, None);
}

/// The job's stdin reaches the program, then EOF; stderr is kept apart.
#[test]
fn stdin_is_fed_then_closed() {
    let Some(sb) = sandbox("stdin", 61002) else {
        return;
    };
    let mut spec = python("import sys; data = sys.stdin.read(); print(data.upper(), end=''); sys.stderr.write('n=%d' % len(data))");
    spec.stdin = "line one\nline two\n".into();
    let outcome = sb.run(&spec);
    let run = outcome.run();
    assert_eq!(run.stdout, "LINE ONE\nLINE TWO\n");
    assert_eq!(run.stderr, "n=18");
    assert_eq!(outcome.streamed(FrameKind::Stderr), b"n=18");
}

/// The program may reopen its stdio by name (`/dev/stdin`, `/dev/stderr`),
/// as sqlite's `.read /dev/stdin` and shell scripts' `>/dev/stderr` do,
/// although the runner created those pipes as root.
#[test]
fn stdio_reopens_by_name() {
    let Some(sb) = sandbox("stdio-by-name", 61060) else {
        return;
    };
    let mut spec = job(&["/bin/sh", "-c", "cat /dev/stdin; echo oops >/dev/stderr"]);
    spec.stdin = "through /dev/stdin\n".into();
    let outcome = sb.run(&spec);
    let run = outcome.run();
    assert_eq!(
        (run.stdout.as_str(), run.stderr.as_str(), run.exit_code),
        ("through /dev/stdin\n", "oops\n", Some(0)),
        "{run:?}"
    );
}

/// A program that never reads a large stdin does not stall the runner.
#[test]
fn unread_large_stdin_does_not_block() {
    let Some(sb) = sandbox("unread-stdin", 61003) else {
        return;
    };
    let mut spec = job(&["/bin/sleep", "0.2"]);
    spec.stdin = "x".repeat(8 * 1024 * 1024);
    let outcome = sb.run(&spec);
    let run = outcome.run();
    assert_eq!(
        (run.termination, run.exit_code),
        (Termination::Exited, Some(0))
    );
    assert!(
        outcome.elapsed < Duration::from_secs(10),
        "{:?}",
        outcome.elapsed
    );
}

/// A non-zero exit code is a fact, not an error.
#[test]
fn exit_code_is_reported() {
    let Some(sb) = sandbox("exit-code", 61004) else {
        return;
    };
    let outcome = sb.run(&python("import sys; sys.exit(3)"));
    let run = outcome.run();
    assert_eq!(
        (run.termination, run.exit_code, run.signal),
        (Termination::Exited, Some(3), None)
    );
    assert_eq!(outcome.report.error, None);
}

/// Death by a signal the runner did not send is reported with the signal.
#[test]
fn signal_is_reported() {
    let Some(sb) = sandbox("signal", 61005) else {
        return;
    };
    let outcome = sb.run(&python(
        "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)",
    ));
    let run = outcome.run();
    assert_eq!(
        (run.termination, run.exit_code, run.signal),
        (Termination::Signaled, None, Some(11))
    );
}

/// A sleeper is stopped at the wall-clock limit.
#[test]
fn wall_time_limit_stops_a_sleeper() {
    let Some(sb) = sandbox("wall", 61006) else {
        return;
    };
    let mut spec = job(&["/bin/sleep", "30"]);
    spec.run_limits.wall_time_ms = 500;
    let outcome = sb.run(&spec);
    let run = outcome.run();
    assert_eq!(run.termination, Termination::WallTimeLimit, "{run:?}");
    assert_eq!(run.signal, Some(9));
    assert!((500..5000).contains(&run.wall_time_ms), "{run:?}");
    assert!(
        outcome.elapsed < Duration::from_secs(10),
        "{:?}",
        outcome.elapsed
    );
}

/// A busy loop is stopped at its CPU limit by the runner's own measurement,
/// well before RLIMIT_CPU (rounded up to 1 s) would fire.
#[test]
fn cpu_limit_stops_a_busy_loop() {
    let Some(sb) = sandbox("cpu", 61007) else {
        return;
    };
    let mut spec = python("while True: pass");
    spec.run_limits.cpu_time_ms = 400;
    let outcome = sb.run(&spec);
    let run = outcome.run();
    assert_eq!(run.termination, Termination::CpuTimeLimit, "{run:?}");
    // RLIMIT_CPU would have sent SIGXCPU after a whole second of CPU; the
    // runner's measurement sends SIGKILL soon after 400 ms (load-independent).
    assert_eq!(
        run.signal,
        Some(libc::SIGKILL),
        "stopped by measurement: {run:?}"
    );
    assert!((400..900).contains(&run.cpu_time_ms), "{run:?}");
}

/// CPU burnt by a child counts against the stage even while the parent
/// only waits: the whole tree is measured.
#[test]
fn cpu_of_child_processes_counts() {
    let Some(sb) = sandbox("cpu-tree", 61008) else {
        return;
    };
    let mut spec = python(
        "import os\n\
         if os.fork() == 0:\n    while True: pass\n\
         os.wait()",
    );
    spec.run_limits.cpu_time_ms = 400;
    let outcome = sb.run(&spec);
    let run = outcome.run();
    assert_eq!(run.termination, Termination::CpuTimeLimit, "{run:?}");
    // Per-process RLIMIT_CPU would let the child run a whole second and the
    // parent exit normally; the tree measurement kills the parent at ~400 ms.
    assert_eq!(run.signal, Some(libc::SIGKILL), "{run:?}");
    assert!(
        (400..900).contains(&run.cpu_time_ms),
        "child's CPU is counted: {run:?}"
    );
    assert!(processes_of(sb.uid).is_empty());
}

/// CPU of an orphan (a child that detached and was never waited for by its
/// parent) still counts: the runner, as subreaper, reaps it and adds its
/// rusage.
#[test]
fn cpu_of_orphans_counts() {
    let Some(sb) = sandbox("cpu-orphan", 61023) else {
        return;
    };
    let spec = python(
        "import os, time\n\
         r, w = os.pipe()\n\
         if os.fork() == 0:\n    os.setsid()\n    t = time.process_time()\n    while time.process_time() - t < 0.3: pass\n    os.write(w, b'x')\n    os._exit(0)\n\
         os.close(w)\n\
         os.read(r, 1)",
    );
    let outcome = sb.run(&spec);
    let run = outcome.run();
    assert_eq!(run.termination, Termination::Exited, "{run:?}");
    assert!(
        run.cpu_time_ms >= 300,
        "the orphan's CPU is counted: {run:?}"
    );
}

/// Output beyond the cap is neither kept nor forwarded, the report says
/// truncated, and the program is stopped.
#[test]
fn output_cap_stops_yes() {
    let Some(sb) = sandbox("output-cap", 61009) else {
        return;
    };
    let mut spec = job(&["/usr/bin/yes"]);
    spec.run_limits.output_bytes = 10_000;
    let outcome = sb.run(&spec);
    let run = outcome.run();
    assert_eq!(run.termination, Termination::OutputLimit);
    assert!(run.truncated);
    assert_eq!(run.stdout.len(), 10_000);
    assert_eq!(outcome.streamed(FrameKind::Stdout).len(), 10_000);
    assert!(outcome.elapsed < Duration::from_secs(10));
}

/// Output of exactly the cap, split over stdout and stderr, is complete.
#[test]
fn output_exactly_at_the_cap_is_not_truncated() {
    let Some(sb) = sandbox("output-exact", 61010) else {
        return;
    };
    let mut spec = python(
        "import sys; sys.stdout.write('x' * 600); sys.stdout.flush(); sys.stderr.write('y' * 400)",
    );
    spec.run_limits.output_bytes = 1000;
    let outcome = sb.run(&spec);
    let run = outcome.run();
    assert_eq!(
        (run.termination, run.truncated),
        (Termination::Exited, false),
        "{run:?}"
    );
    assert_eq!((run.stdout.len(), run.stderr.len()), (600, 400));
}

/// A daemonised grandchild (new session, holding the output pipe open)
/// does not keep the runner waiting and does not outlive the job.
#[test]
fn daemonised_grandchild_is_killed_and_does_not_hang() {
    let Some(sb) = sandbox("daemon", 61011) else {
        return;
    };
    let spec = python(
        "import os, time\n\
         if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(60)\n    os._exit(0)\n\
         time.sleep(0.3)\n\
         print('parent done', flush=True)",
    );
    let outcome = sb.run(&spec);
    let run = outcome.run();
    assert_eq!(
        (run.termination, run.exit_code),
        (Termination::Exited, Some(0)),
        "{run:?}"
    );
    assert_eq!(run.stdout, "parent done\n");
    assert!(
        outcome.elapsed < Duration::from_secs(10),
        "{:?}",
        outcome.elapsed
    );
    assert_eq!(
        processes_of(sb.uid),
        Vec::<u32>::new(),
        "nothing of the sandbox uid survives"
    );
}

/// Programs that stop every process of their uid in a loop (SIGSTOP, which
/// also reaches the runner's kill helper, running as that uid) do not hang
/// the runner: it wakes or replaces its helper, the stage ends at a limit
/// well before the program's 30 s sleep, and nothing of the uid survives.
/// Which limit depends on the machine's load: the two stoppers spin, so on
/// a busy machine their CPU time can pass the CPU limit before the tree is
/// killed after the wall limit; both are the right verdict for this program.
#[test]
fn programs_stopping_the_kill_helper_do_not_hang_the_runner() {
    let Some(sb) = sandbox("stopper", 61026) else {
        return;
    };
    let mut spec = python(
        "import os, signal, time\n\
         for _ in range(2):\n    if os.fork() == 0:\n        os.setsid()\n        while True:\n            try: os.kill(-1, signal.SIGSTOP)\n            except OSError: pass\n\
         time.sleep(30)",
    );
    spec.run_limits.wall_time_ms = 1000;
    let outcome = sb.run(&spec);
    assert_eq!(outcome.report.error, None, "{:?}", outcome.report);
    let run = outcome.run();
    assert!(
        matches!(
            run.termination,
            Termination::WallTimeLimit | Termination::CpuTimeLimit
        ),
        "{run:?}"
    );
    assert!(
        outcome.elapsed < Duration::from_secs(20),
        "the runner hung: {:?}",
        outcome.elapsed
    );
    assert_eq!(
        processes_of(sb.uid),
        Vec::<u32>::new(),
        "nothing of the sandbox uid survives"
    );
}

/// Test mode: one run per case with its stdin, no streamed output, every
/// case run and compared leniently (trailing whitespace / final newlines).
#[test]
fn test_mode_runs_every_case_and_compares() {
    let Some(sb) = sandbox("tests", 61012) else {
        return;
    };
    let mut spec = python("print(int(input()) * 2)");
    spec.tests = vec![
        TestCase {
            stdin: "3\n".into(),
            expected_stdout: "7\n".into(),
        },
        TestCase {
            stdin: "2\n".into(),
            expected_stdout: "4   \n\n".into(),
        },
    ];
    let outcome = sb.run(&spec);
    assert_eq!(
        outcome.stages(),
        vec![stage("test", Some(0)), stage("test", Some(1))]
    );
    assert!(
        outcome.streamed(FrameKind::Stdout).is_empty(),
        "test mode streams nothing"
    );
    assert_eq!(outcome.report.run, None);
    let tests = &outcome.report.tests;
    assert_eq!(
        tests.iter().map(|t| t.passed).collect::<Vec<_>>(),
        vec![false, true]
    );
    assert_eq!(tests[0].run.stdout, "6\n");
    assert_eq!(tests[1].run.stdout, "4\n");
}

/// Interactive mode: `Stdin` frames reach the running program as they
/// arrive (its answer comes back before the next line is sent), and
/// `StdinEnd` closes its stdin.
#[test]
fn interactive_stdin_frames_are_forwarded_live() {
    let Some(sb) = sandbox("interactive", 61013) else {
        return;
    };
    let mut spec = job(&[
        PYTHON,
        "-u",
        "-c",
        "import sys\nfor line in sys.stdin: print(line.strip()[::-1])\nprint('eof')",
    ]);
    spec.interactive = true;
    spec.stdin = "abc\n".into();
    let mut running = sb.start(&spec);
    running.wait_for_stdout(b"cba\n");
    running.send(&Frame::new(FrameKind::Stdin, b"hello\n".to_vec()));
    running.wait_for_stdout(b"olleh\n");
    running.send(&Frame::new(FrameKind::StdinEnd, vec![]));
    let outcome = running.finish();
    let run = outcome.run();
    assert_eq!(
        (run.termination, run.exit_code),
        (Termination::Exited, Some(0))
    );
    assert_eq!(run.stdout, "cba\nolleh\neof\n");
}

/// A failed compile is reported with its output, and nothing runs.
#[test]
fn failed_compile_skips_the_run() {
    let Some(sb) = sandbox("compile-fail", 61014) else {
        return;
    };
    let mut spec = job(&["/bin/echo", "must not run"]);
    spec.compile = Some(vec![
        PYTHON.into(),
        "-c".into(),
        "import sys; sys.stderr.write('boom'); sys.exit(1)".into(),
    ]);
    let outcome = sb.run(&spec);
    assert_eq!(outcome.stages(), vec![stage("compile", None)]);
    let compile = outcome.report.compile.as_ref().unwrap();
    assert_eq!(
        (compile.termination, compile.exit_code),
        (Termination::Exited, Some(1))
    );
    assert_eq!(compile.stderr, "boom");
    assert!(
        outcome.streamed(FrameKind::Stderr).is_empty(),
        "compile output is not streamed"
    );
    assert_eq!(outcome.report.run, None);
}

/// Compile then run: the compile's output file lands in the work dir owned
/// by the sandbox uid, the run command finds it by a relative path, and
/// `args` are appended to the run argv.
#[test]
fn compile_then_run_with_args() {
    let Some(sb) = sandbox("compile-run", 61015) else {
        return;
    };
    let mut spec = job(&[PYTHON, "prog.py"]);
    spec.files = vec![SourceFile {
        name: "main.py".into(),
        content: "import sys; print(sys.argv[1:])\n".into(),
    }];
    spec.compile = Some(vec!["/bin/cp".into(), "main.py".into(), "prog.py".into()]);
    spec.args = vec!["a b".into(), "--c".into()];
    let outcome = sb.run(&spec);
    assert_eq!(
        outcome.stages(),
        vec![stage("compile", None), stage("run", None)]
    );
    assert_eq!(
        outcome.report.compile.as_ref().map(|c| c.exit_code),
        Some(Some(0))
    );
    assert_eq!(outcome.run().stdout, "['a b', '--c']\n");
    assert_eq!(common::owner(&sb.workdir.join("prog.py")), sb.uid);
}

/// A compile that collects its artifacts sends what it added (with modes)
/// before the program runs, so what the program then changes is not in
/// them; a prebuilt job gets them back and runs without a compile stage.
#[test]
fn compile_artifacts_are_sent_before_the_run_and_restored() {
    let Some(sb) = sandbox("artifacts", 61111) else {
        return;
    };
    let mut spec = job(&["./prog"]);
    spec.files = vec![SourceFile {
        name: "main.sh".into(),
        content: "#!/bin/sh\necho built; echo tampered > out/data\n".into(),
    }];
    spec.compile = Some(vec![
        "/bin/sh".into(),
        "-c".into(),
        "cp main.sh prog && chmod 755 prog && mkdir out && echo fresh > out/data".into(),
    ]);
    spec.collect_artifacts = true;
    let outcome = sb.run(&spec);
    assert_eq!(outcome.run().stdout, "built\n");
    let built: Vec<Frame> = outcome
        .frames
        .iter()
        .filter(|f| f.kind == FrameKind::Built)
        .cloned()
        .collect();
    assert_eq!(built.len(), 1, "one Built frame: {:?}", outcome.frames);
    let artifacts = rce_protocol::unpack_artifacts(&built[0].payload).unwrap();
    let summary: Vec<(&str, u32, &[u8])> = artifacts
        .iter()
        .map(|a| (a.name.as_str(), a.mode, a.content.as_slice()))
        .collect();
    let script = spec.files[0].content.as_bytes();
    assert_eq!(
        summary,
        vec![
            ("out/data", 0o644, &b"fresh\n"[..]),
            ("prog", 0o755, script)
        ],
        "the program's own change to out/data is not in the artifacts"
    );
    let stage_kinds: Vec<FrameKind> = outcome.frames.iter().map(|f| f.kind).collect();
    let built_at = stage_kinds.iter().position(|k| *k == FrameKind::Built);
    let run_at = outcome.frames.iter().position(|f| {
        f.kind == FrameKind::Stage && f.parse::<StageEvent>().unwrap().stage == "run"
    });
    assert!(built_at < run_at, "Built comes before the run stage");

    let Some(again) = sandbox("artifacts-prebuilt", 61112) else {
        return;
    };
    let mut prebuilt = spec.clone();
    prebuilt.collect_artifacts = false;
    prebuilt.prebuilt = true;
    prebuilt.compile = Some(vec!["/bin/false".into()]);
    let mut running = again.start(&prebuilt);
    running.send(&Frame::new(FrameKind::Prebuilt, built[0].payload.clone()));
    running.close_stdin();
    let outcome = running.finish();
    assert_eq!(
        outcome.stages(),
        vec![stage("run", None)],
        "no compile stage"
    );
    assert_eq!(outcome.report.compile, None);
    assert_eq!(outcome.run().stdout, "built\n");
    let prog = fs::metadata(again.workdir.join("prog")).unwrap();
    assert_eq!((prog.mode() & 0o777, prog.uid()), (0o755, again.uid));
    assert_eq!(
        fs::read_to_string(again.workdir.join("out/data")).unwrap(),
        "tampered\n"
    );
}

/// A prebuilt job whose artifacts name a path outside the work dir is
/// refused before anything runs.
#[test]
fn prebuilt_artifacts_cannot_escape_the_work_dir() {
    let Some(sb) = sandbox("artifacts-escape", 61113) else {
        return;
    };
    let mut spec = job(&["/bin/echo", "must not run"]);
    spec.prebuilt = true;
    let mut payload = rce_protocol::pack_artifacts(&[rce_protocol::Artifact {
        name: "xx/evil".into(),
        mode: 0o644,
        content: b"owned".to_vec(),
    }]);
    // "xx/evil" becomes "../evil" on the wire: pack does not check, unpack must
    payload[2..4].copy_from_slice(b"..");
    let mut running = sb.start(&spec);
    running.send(&Frame::new(FrameKind::Prebuilt, payload));
    running.close_stdin();
    let outcome = running.finish();
    let error = outcome.report.error.clone().unwrap_or_default();
    assert!(error.contains("prebuilt"), "{:?}", outcome.report);
    assert_eq!(outcome.report.run, None);
    assert!(!sb.workdir.parent().unwrap().join("evil").exists());
}

/// A compiler that cannot be executed is a runner error, not a verdict.
#[test]
fn missing_compiler_is_an_error() {
    let Some(sb) = sandbox("no-compiler", 61016) else {
        return;
    };
    let mut spec = job(&["/bin/true"]);
    spec.compile = Some(vec!["/nonexistent/cc".into(), "main.c".into()]);
    let outcome = sb.run(&spec);
    let error = outcome.report.error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("compile: cannot execute") && error.contains("/nonexistent/cc"),
        "{error}"
    );
    assert_eq!(
        (outcome.report.compile.as_ref(), outcome.report.run.as_ref()),
        (None, None)
    );
}

/// An OOM kill recorded by the container's memory cgroup during the stage
/// makes it a memory-limit stage (here the counter is a fake file the
/// program bumps itself).
#[test]
fn cgroup_oom_kill_is_memory_limit() {
    let Some(mut sb) = sandbox("cgroup-oom", 61017) else {
        return;
    };
    let root = sb.outside("cgroup");
    let events = root.join("memory.events");
    fs::write(&events, "oom 0\noom_kill 0\n").unwrap();
    fs::set_permissions(&events, fs::Permissions::from_mode(0o666)).unwrap();
    sb.cgroup_root = root;
    let code = format!(
        "open({:?}, 'w').write('oom 1\\noom_kill 1\\n')",
        events.to_str().unwrap()
    );
    let outcome = sb.run(&python(&code));
    assert_eq!(
        outcome.run().termination,
        Termination::MemoryLimit,
        "{:?}",
        outcome.run()
    );

    // The same program without the counter moving exits normally.
    fs::write(&events, "oom_kill 1\n").unwrap();
    let outcome = sb.run(&python("pass"));
    assert_eq!(outcome.run().termination, Termination::Exited);
}

/// CPU that only the container's cgroup counter saw (not in any rusage the
/// runner collected) still counts (again a fake counter file).
#[test]
fn cgroup_cpu_counter_is_added() {
    let Some(mut sb) = sandbox("cgroup-cpu", 61018) else {
        return;
    };
    let root = sb.outside("cgroup");
    let stat = root.join("cpu.stat");
    fs::write(&stat, "usage_usec 1000\n").unwrap();
    fs::set_permissions(&stat, fs::Permissions::from_mode(0o666)).unwrap();
    sb.cgroup_root = root;
    let code = format!(
        "open({:?}, 'w').write('usage_usec 9001000\\n')",
        stat.to_str().unwrap()
    );
    let outcome = sb.run(&python(&code));
    let run = outcome.run();
    // 9 s on the counter, less what the runner and python themselves used.
    assert!(run.cpu_time_ms >= 8900, "{run:?}");
    assert_eq!(run.termination, Termination::CpuTimeLimit);
}

/// A peak resident size over the memory limit is a memory-limit stage.
#[test]
fn peak_memory_over_limit_is_memory_limit() {
    let Some(sb) = sandbox("memory", 61019) else {
        return;
    };
    let mut spec =
        python("b = bytearray(100 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1");
    spec.run_limits.memory_kb = 50 * 1024;
    let outcome = sb.run(&spec);
    let run = outcome.run();
    assert_eq!(run.termination, Termination::MemoryLimit, "{run:?}");
    assert!(run.memory_kb > 50 * 1024, "{run:?}");
}

/// A process that stays over the memory limit is stopped by the runner's
/// sampling (SIGKILL), not left running until the cgroup's OOM killer acts.
#[test]
fn process_over_memory_limit_is_stopped() {
    let Some(sb) = sandbox("memory-stop", 61024) else {
        return;
    };
    let mut spec = python(
        "import time\nb = bytearray(100 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1\ntime.sleep(30)",
    );
    spec.run_limits.memory_kb = 50 * 1024;
    let outcome = sb.run(&spec);
    let run = outcome.run();
    assert_eq!(
        (run.termination, run.signal),
        (Termination::MemoryLimit, Some(9)),
        "{run:?}"
    );
    assert!(run.wall_time_ms < 9_000, "{run:?}");
}

/// The program starts with the stage's rlimits, in its own session.
#[test]
fn rlimits_and_session_are_set() {
    let Some(sb) = sandbox("rlimits", 61020) else {
        return;
    };
    let mut spec = python(
        "import os, resource as r\n\
         print([r.getrlimit(x) for x in (r.RLIMIT_CPU, r.RLIMIT_CORE, r.RLIMIT_FSIZE)])\n\
         print(r.getrlimit(r.RLIMIT_NOFILE)[0], r.getrlimit(r.RLIMIT_STACK)[0])\n\
         print(os.getsid(0) == os.getpid(), os.getpgid(0) == os.getpid())",
    );
    spec.run_limits.cpu_time_ms = 1500;
    spec.run_limits.file_size_bytes = 12345;
    let outcome = sb.run(&spec);
    assert_eq!(
        outcome.run().stdout,
        "[(2, 3), (0, 0), (12345, 12345)]\n256 67108864\nTrue True\n"
    );
}

/// A program may not write files over RLIMIT_FSIZE (it gets SIGXFSZ).
#[test]
fn file_size_limit_applies() {
    let Some(sb) = sandbox("fsize", 61021) else {
        return;
    };
    // (Not python: it ignores SIGXFSZ.)
    let mut spec = job(&[
        "/usr/bin/dd",
        "if=/dev/zero",
        "of=big",
        "bs=1000",
        "count=100",
    ]);
    spec.run_limits.file_size_bytes = 1000;
    let outcome = sb.run(&spec);
    let run = outcome.run();
    assert_eq!(
        (run.termination, run.signal),
        (Termination::Signaled, Some(libc::SIGXFSZ)),
        "{run:?}"
    );
    assert!(fs::metadata(sb.workdir.join("big")).unwrap().size() <= 1000);
}

/// Limits are per stage: the compile stage has its own wall clock.
#[test]
fn compile_stage_has_its_own_limits() {
    let Some(sb) = sandbox("compile-limits", 61022) else {
        return;
    };
    let mut spec = job(&["/bin/true"]);
    spec.compile = Some(vec!["/bin/sleep".into(), "30".into()]);
    spec.compile_limits = limits();
    spec.compile_limits.wall_time_ms = 300;
    let outcome = sb.run(&spec);
    let compile = outcome.report.compile.as_ref().unwrap();
    assert_eq!(compile.termination, Termination::WallTimeLimit);
    assert_eq!(outcome.report.run, None);
}

/// Absurd limits (u64::MAX everywhere) neither panic the runner nor get in
/// the way of a normal run.
#[test]
fn absurd_limits_do_not_break_the_runner() {
    let Some(sb) = sandbox("absurd-limits", 61025) else {
        return;
    };
    let mut spec = job(&["/bin/echo", "fine"]);
    spec.run_limits = rce_protocol::StageLimits {
        cpu_time_ms: u64::MAX,
        wall_time_ms: u64::MAX,
        memory_kb: u64::MAX,
        processes: u64::MAX,
        output_bytes: u64::MAX,
        file_size_bytes: u64::MAX,
    };
    let outcome = sb.run(&spec);
    let run = outcome.run();
    assert_eq!(
        (run.termination, run.stdout.as_str()),
        (Termination::Exited, "fine\n"),
        "{run:?}"
    );
}

/// With an exclusive uid (`RCE_UID_EXCLUSIVE=1`) the stage's process limit
/// is RLIMIT_NPROC: a thread bomb gets exactly `processes` tasks (the main
/// thread included), then creation fails; without it no such rlimit is set.
#[test]
fn exclusive_uid_caps_processes_and_threads() {
    let Some(sb) = sandbox("nproc", 61030) else {
        return;
    };
    let mut spec = python(
        "import threading, time, resource\n\
         print(resource.getrlimit(resource.RLIMIT_NPROC)[0])\n\
         n = 1\n\
         try:\n    \
             while n < 100:\n        \
                 threading.Thread(target=time.sleep, args=(5,), daemon=True).start()\n        \
                 n += 1\n\
         except RuntimeError:\n    \
             pass\n\
         print(n)",
    );
    spec.run_limits.processes = 7;
    let mut running = sb.start_with(&spec, |command| {
        command.env("RCE_UID_EXCLUSIVE", "1");
    });
    running.close_stdin();
    let outcome = running.finish();
    assert_eq!(outcome.run().stdout, "7\n7\n", "{:?}", outcome.run());
    let shared = sb.run(&python(
        "import resource\nprint(resource.getrlimit(resource.RLIMIT_NPROC)[0] == resource.RLIM_INFINITY or resource.getrlimit(resource.RLIMIT_NPROC)[0] > 1000)",
    ));
    assert_eq!(shared.run().stdout, "True\n", "{:?}", shared.run());
}
