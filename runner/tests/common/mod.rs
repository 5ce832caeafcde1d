//! Shared harness of the runner's integration tests: runs the real built
//! `rce-runner` on the host (as root, which it needs to switch uids), with a
//! fresh mode-1777 work dir and a sandbox uid of its own per test (so one
//! test's kill sweep never touches another's processes), feeds it frames on
//! stdin and decodes the frames it writes. Tests skip visibly when not root.
#![allow(dead_code)]

use rce_protocol::{Frame, FrameKind, JobSpec, RunReport, StageEvent, StageLimits};
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long a runner may take before a test gives up on it.
pub const RUNNER_TIMEOUT: Duration = Duration::from_secs(30);

pub const PYTHON: &str = "/usr/bin/python3";

/// A work dir and uid for one test; removed on drop.
pub struct Sandbox {
    pub workdir: PathBuf,
    pub uid: u32,
    /// `RCE_CGROUP_ROOT` for the runner; by default a path that does not
    /// exist, so the host's own cgroup counters never leak into results.
    pub cgroup_root: PathBuf,
    base: PathBuf,
}

/// A sandbox for the test `name` with `uid`, or `None` (after saying why on
/// stderr) when the tests do not run as root.
pub fn sandbox(name: &str, uid: u32) -> Option<Sandbox> {
    if real_uid_of("self") != Some(0) {
        eprintln!("SKIPPED {name}: the runner tests need root (to switch to the sandbox uid)");
        return None;
    }
    if !Path::new(PYTHON).exists() {
        eprintln!("SKIPPED {name}: the runner tests use {PYTHON} as a test program");
        return None;
    }
    let base = std::env::temp_dir().join(format!("rce-runner-it-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    let workdir = base.join("work");
    fs::create_dir_all(&workdir).unwrap();
    fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&workdir, fs::Permissions::from_mode(0o1777)).unwrap();
    Some(Sandbox {
        workdir,
        uid,
        cgroup_root: base.join("no-cgroup"),
        base,
    })
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.base);
    }
}

impl Sandbox {
    /// A scratch directory next to the work dir (outside it).
    pub fn outside(&self, name: &str) -> PathBuf {
        let path = self.base.join(name);
        fs::create_dir_all(&path).unwrap();
        path
    }

    /// Starts the runner and sends `job`; stdin stays open like docker's attach.
    pub fn start(&self, job: &JobSpec) -> Running {
        self.start_with(job, |_| {})
    }

    /// Like `start`, letting the test adjust the runner's command first.
    pub fn start_with(&self, job: &JobSpec, adjust: impl FnOnce(&mut Command)) -> Running {
        let mut running = self.spawn_with(adjust);
        running.send(&Frame::json(FrameKind::Job, job).unwrap());
        running
    }

    /// Starts the runner (its command adjusted) without sending anything:
    /// like a warm container waiting for its job.
    pub fn spawn_with(&self, adjust: impl FnOnce(&mut Command)) -> Running {
        let mut command = self.command();
        adjust(&mut command);
        Running::spawn(command)
    }

    /// Runs `job` to its Result frame (stdin closed after the job frame).
    pub fn run(&self, job: &JobSpec) -> Outcome {
        let mut running = self.start(job);
        running.close_stdin();
        running.finish()
    }

    /// Runs the runner with `bytes` as its whole stdin.
    pub fn run_raw(&self, bytes: &[u8]) -> Outcome {
        let mut running = Running::spawn(self.command());
        if let Some(stdin) = running.stdin.as_mut() {
            let _ = stdin.write_all(bytes);
        }
        running.close_stdin();
        running.finish()
    }

    /// The runner's command: the env a worker would set, plus a secret the
    /// program must never see.
    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rce-runner"));
        command
            .env("RCE_WORKDIR", &self.workdir)
            .env("RCE_SANDBOX_UID", self.uid.to_string())
            .env("RCE_CGROUP_ROOT", &self.cgroup_root)
            .env("RCE_TEST_SECRET", "hunter2")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }
}

/// A runner process the test talks to.
pub struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    frames: Receiver<Frame>,
    pub seen: Vec<Frame>,
    started: Instant,
}

impl Running {
    fn spawn(mut command: Command) -> Running {
        let mut child = command.spawn().expect("spawn rce-runner");
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().unwrap();
        let (tx, frames) = mpsc::channel();
        std::thread::spawn(move || {
            while let Ok(Some(frame)) = Frame::read_from(&mut stdout) {
                if tx.send(frame).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            stdin,
            frames,
            seen: vec![],
            started: Instant::now(),
        }
    }

    pub fn send(&mut self, frame: &Frame) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        stdin.write_all(&frame.encode()).unwrap();
        stdin.flush().unwrap();
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The next frame, within `timeout`.
    pub fn next_frame(&mut self, timeout: Duration) -> Option<Frame> {
        match self.frames.recv_timeout(timeout) {
            Ok(frame) => {
                self.seen.push(frame.clone());
                Some(frame)
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Waits for the next frame of `kind`, skipping others (kept in `seen`).
    pub fn wait_for(&mut self, kind: FrameKind) -> Frame {
        let deadline = self.started + RUNNER_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_frame(left) {
                Some(frame) if frame.kind == kind => return frame,
                Some(_) => {}
                None => {
                    self.kill();
                    panic!(
                        "no {kind:?} frame within {RUNNER_TIMEOUT:?}; frames so far: {:?}",
                        self.seen
                    );
                }
            }
        }
    }

    /// Waits until the Stdout frames since the last call add up to `expected`
    /// (a program's one line may come in several chunks).
    pub fn wait_for_stdout(&mut self, expected: &[u8]) {
        let mut got = Vec::new();
        while got.len() < expected.len() {
            got.extend(self.wait_for(FrameKind::Stdout).payload);
        }
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected)
        );
    }

    /// Reads to the Result frame, checks it is the last one and that the
    /// runner exits 0.
    pub fn finish(mut self) -> Outcome {
        let result = self.wait_for(FrameKind::Result);
        let report: RunReport = result.parse().expect("Result frame is a RunReport");
        let status = self.child.wait().unwrap();
        let elapsed = self.started.elapsed();
        // Anything after the Result frame would arrive before the pipe closes.
        if let Some(frame) = self.next_frame(Duration::from_millis(200)) {
            panic!("frame after Result: {frame:?}");
        }
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        assert!(
            status.success(),
            "runner exited {status:?}; stderr: {stderr}"
        );
        let frames = std::mem::take(&mut self.seen);
        assert_eq!(
            frames
                .iter()
                .filter(|f| f.kind == FrameKind::Result)
                .count(),
            1,
            "exactly one Result"
        );
        Outcome {
            frames,
            report,
            elapsed,
        }
    }

    /// The runner's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// Everything one runner said.
#[derive(Debug)]
pub struct Outcome {
    pub frames: Vec<Frame>,
    pub report: RunReport,
    pub elapsed: Duration,
}

impl Outcome {
    /// All bytes of the frames of `kind`, concatenated.
    pub fn streamed(&self, kind: FrameKind) -> Vec<u8> {
        self.frames
            .iter()
            .filter(|f| f.kind == kind)
            .flat_map(|f| f.payload.clone())
            .collect()
    }

    /// The Stage events in order.
    pub fn stages(&self) -> Vec<StageEvent> {
        self.frames
            .iter()
            .filter(|f| f.kind == FrameKind::Stage)
            .map(|f| f.parse().unwrap())
            .collect()
    }

    /// The run stage's report (panics with the whole report if absent).
    pub fn run(&self) -> &rce_protocol::StageReport {
        self.report
            .run
            .as_ref()
            .unwrap_or_else(|| panic!("no run report: {:?}", self.report))
    }
}

pub fn limits() -> StageLimits {
    StageLimits {
        cpu_time_ms: 5_000,
        wall_time_ms: 10_000,
        memory_kb: 512 * 1024,
        processes: 64,
        output_bytes: 64 * 1024,
        file_size_bytes: 1 << 20,
    }
}

/// A single-run job of `argv`, no files, default limits.
pub fn job(argv: &[&str]) -> JobSpec {
    JobSpec {
        files: vec![],
        compile: None,
        run: argv.iter().map(|s| s.to_string()).collect(),
        args: vec![],
        stdin: String::new(),
        interactive: false,
        compile_limits: limits(),
        run_limits: limits(),
        tests: vec![],
        prebuilt: false,
        collect_artifacts: false,
    }
}

/// A job running a Python snippet.
pub fn python(code: &str) -> JobSpec {
    job(&[PYTHON, "-c", code])
}

/// Real uid of `/proc/<pid>`, if the process exists.
pub fn real_uid_of(pid: &str) -> Option<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Pids of every process whose real uid is `uid`.
pub fn processes_of(uid: u32) -> Vec<u32> {
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| real_uid_of(&pid.to_string()) == Some(uid))
        .collect()
}

/// Owner uid of a path (not following a final symlink).
pub fn owner(path: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    fs::symlink_metadata(path).unwrap().uid()
}
