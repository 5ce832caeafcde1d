//! Integration tests of preloaded launchers (`RCE_PRELOAD`): the real runner
//! on the host with a test launcher that burns CPU like a runtime's start,
//! reads the go signal and execs the argv it was given. A fitting job runs
//! in it with the warm-up neither in its CPU time nor in its wall time and
//! its limits enforced; any other job has it killed and runs as usual.
//! Each test has its own sandbox uid (612xx).

mod common;

use common::{limits, processes_of, python, sandbox, Sandbox, PYTHON};
use rce_protocol::{
    Frame, FrameKind, JobSpec, PreloadSpec, SourceFile, Termination, TestCase, PRELOAD_ENV,
};
use std::fs;
use std::time::Duration;

/// CPU the test launcher spends before it waits, like a runtime starting.
const WARM_UP_CPU_S: f64 = 0.6;

/// The test launcher: warm up, read the go signal (length, then
/// NUL-terminated arguments) and become the program.
const LAUNCHER: &str = r#"
import os, sys, time
end = time.process_time() + float(sys.argv[1])
while time.process_time() < end:
    pass
with os.fdopen(3, "rb") as go:
    header = go.read(4)
    argv = go.read(int.from_bytes(header, "big")).split(b"\0")[:-1] if len(header) == 4 else []
if argv:
    os.execv(argv[0], argv)
"#;

/// What the test launcher's spec says needs a fresh start.
const COLD_MARKER: &str = "%%!";

/// A warm container's runner with a launcher that stands for `spec`'s run
/// under its limits, given the time to finish warming up, then `job`.
fn run_preloaded(sb: &Sandbox, spec: &JobSpec, job: &JobSpec) -> common::Outcome {
    let launcher = sb.outside("launcher").join("launcher.py");
    fs::write(&launcher, LAUNCHER).unwrap();
    let preload = PreloadSpec {
        launcher: vec![
            PYTHON.into(),
            launcher.display().to_string(),
            WARM_UP_CPU_S.to_string(),
        ],
        run: spec.run.clone(),
        limits: spec.run_limits,
        cold_marker: Some(COLD_MARKER.into()),
        no_arguments: false,
    };
    let json = serde_json::to_string(&preload).unwrap();
    let mut running = sb.spawn_with(|command| {
        command.env(PRELOAD_ENV, json);
    });
    std::thread::sleep(Duration::from_secs_f64(WARM_UP_CPU_S * 2.5));
    running.send(&Frame::json(FrameKind::Job, job).unwrap());
    running.close_stdin();
    running.finish()
}

/// The program runs in the launcher with its arguments (spaces, empty ones)
/// and stdin; the warm-up's CPU is not the program's, and wall time counts
/// from the go signal.
#[test]
fn a_fitting_job_runs_in_the_launcher_without_its_warm_up() {
    let Some(sb) = sandbox("preload-fits", 61201) else {
        return;
    };
    let mut job = python(
        "import resource, sys\n\
         print(sys.argv[1:], sys.stdin.read(), resource.getrlimit(resource.RLIMIT_CPU))",
    );
    job.args = vec!["a b".into(), String::new()];
    job.stdin = "fed".into();
    let outcome = run_preloaded(&sb, &job, &job);
    assert!(outcome.report.preloaded, "{:?}", outcome.report);
    let run = outcome.run();
    assert_eq!(run.termination, Termination::Exited, "{run:?}");
    // RLIMIT_CPU: the job's 5 s plus the warm-up's 0.6 s rounded up, and
    // one second to the hard limit; not the 30 s spare of the warm-up.
    assert_eq!(run.stdout, "['a b', ''] fed (6, 7)\n");
    assert!(
        run.cpu_time_ms < 400,
        "the launcher's {WARM_UP_CPU_S} s warm-up is not counted: {run:?}"
    );
    assert!(
        run.wall_time_ms < 1000,
        "wall time starts at the go signal, not {} s earlier: {run:?}",
        WARM_UP_CPU_S * 2.5
    );
    assert!(processes_of(sb.uid).is_empty());
}

/// CPU and wall limits hold in a launcher as in a fresh process: its
/// RLIMIT_CPU was lowered to the job's on top of the warm-up, and the
/// runner's own measurement stops the tree at the limit.
#[test]
fn limits_hold_in_the_launcher() {
    let Some(sb) = sandbox("preload-limits", 61202) else {
        return;
    };
    let mut busy = python("while True: pass");
    busy.run_limits.cpu_time_ms = 400;
    let outcome = run_preloaded(&sb, &busy, &busy);
    assert!(outcome.report.preloaded);
    let run = outcome.run();
    assert_eq!(run.termination, Termination::CpuTimeLimit, "{run:?}");
    assert!((400..900).contains(&run.cpu_time_ms), "{run:?}");

    let mut sleeper = python("import time; time.sleep(30)");
    sleeper.run_limits.wall_time_ms = 500;
    let outcome = run_preloaded(&sb, &sleeper, &sleeper);
    assert!(outcome.report.preloaded);
    let run = outcome.run();
    assert_eq!(run.termination, Termination::WallTimeLimit, "{run:?}");
    assert!((500..1500).contains(&run.wall_time_ms), "{run:?}");
    assert!(processes_of(sb.uid).is_empty());
}

/// A job with other limits, another run command, a compile stage or a file
/// with the spec's cold marker near its top does not fit: the launcher is
/// killed first and the program starts as usual.
#[test]
fn other_jobs_end_the_launcher_and_run_as_usual() {
    let Some(sb) = sandbox("preload-misfits", 61203) else {
        return;
    };
    let standing_for = python("print('launcher')");
    let mut other_limits = python("print('plain')");
    other_limits.run_limits.memory_kb /= 2;
    let mut other_run = python("print('plain')");
    other_run.run_limits = standing_for.run_limits;
    let mut compiles = python("print('plain')");
    compiles.compile = Some(vec!["/bin/true".into()]);
    for job in [other_limits, other_run, compiles] {
        let outcome = run_preloaded(&sb, &standing_for, &job);
        assert!(!outcome.report.preloaded, "{:?}", outcome.report);
        assert_eq!(outcome.run().stdout, "plain\n");
        assert!(processes_of(sb.uid).is_empty());
    }
    let mut marked = standing_for.clone();
    marked.files = vec![SourceFile {
        name: "flags.erl".into(),
        content: format!("#!/usr/bin/env escript\n{COLD_MARKER} +P 1024\n"),
    }];
    let outcome = run_preloaded(&sb, &standing_for, &marked);
    assert!(!outcome.report.preloaded, "{:?}", outcome.report);
    assert_eq!(outcome.run().stdout, "launcher\n");
    assert!(processes_of(sb.uid).is_empty());
    // The marker further down is the program's own business.
    marked.files[0] = SourceFile {
        name: "later.erl".into(),
        content: format!("a\nb\nc\n{COLD_MARKER}\n"),
    };
    let outcome = run_preloaded(&sb, &standing_for, &marked);
    assert!(outcome.report.preloaded, "{:?}", outcome.report);
}

/// In test-case mode the first case runs in the launcher, the others in
/// processes of their own; every case is judged alike.
#[test]
fn only_the_first_test_case_takes_the_launcher() {
    let Some(sb) = sandbox("preload-tests", 61204) else {
        return;
    };
    let mut job = python("print(int(input()) * 2)");
    job.tests = ["1", "2", "3"]
        .iter()
        .map(|n| TestCase {
            stdin: format!("{n}\n"),
            expected_stdout: format!("{}\n", n.parse::<u32>().unwrap() * 2),
        })
        .collect();
    job.run_limits = limits();
    let outcome = run_preloaded(&sb, &job, &job);
    assert!(outcome.report.preloaded);
    assert_eq!(outcome.report.tests.len(), 3);
    assert!(
        outcome.report.tests.iter().all(|t| t.passed),
        "{:?}",
        outcome.report
    );
    assert!(processes_of(sb.uid).is_empty());
}
