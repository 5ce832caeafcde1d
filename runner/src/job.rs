//! job: carries out one job from its spec to its `RunReport` — files, the
//! compile stage (if any), then either one run (single-run mode, output and
//! interactive input streamed) or one run per test case (test mode, output
//! only captured and compared). A failed compile ends the job with the
//! compile report; a runner-side failure ends it with `error`. Stage frames
//! are sent as each stage starts; the caller sends the final Result frame.
//! A prebuilt job gets an earlier identical compile's artifacts written next
//! to its files instead of a compile stage; a job that collects artifacts
//! sends them (a `Built` frame) after a successful compile, before the run.

use crate::artifacts;
use crate::compare;
use crate::config::Config;
use crate::files;
use crate::frames::{FrameIn, FrameOut};
use crate::preload::Preload;
use crate::stage::{self, StageSpec, StdinSource};
use rce_protocol::{pack_artifacts, Artifact, Frame, FrameKind, JobSpec, RunReport, TestReport};

/// Runs `job` (with `prebuilt`, the artifacts of its earlier compile, when
/// `job.prebuilt`) and returns its report. `preload`, a launcher started
/// before the job arrived, runs the (first) run if the job fits it and no
/// compile stage runs; otherwise it is ended before the first stage.
pub fn run(
    config: &Config,
    job: &JobSpec,
    prebuilt: &[Artifact],
    preload: Option<Preload>,
    input: &mut FrameIn,
    out: &mut FrameOut,
) -> RunReport {
    let mut report = RunReport::default();
    let compiles = job.compile.is_some() && !job.prebuilt;
    let mut preload = match preload {
        Some(p) if !compiles && p.fits(job) => Some(p),
        Some(p) => {
            p.discard(config);
            None
        }
        None => None,
    };
    if let Err(e) = files::write_all(&config.workdir, config.uid, config.gid, &job.files) {
        report.error = Some(e.to_string());
        return report;
    }

    if job.prebuilt {
        if let Err(e) = files::write_artifacts(&config.workdir, config.uid, config.gid, prebuilt) {
            report.error = Some(format!("prebuilt: {e}"));
            return report;
        }
    } else if let Some(compile) = &job.compile {
        out.stage("compile", None);
        let spec = StageSpec {
            argv: compile,
            limits: &job.compile_limits,
            stdin: StdinSource::Bytes(b""),
            forward: false,
            preload: None,
        };
        match stage::run(config, spec, out) {
            Ok(stage::Ran {
                report: compiled, ..
            }) => {
                let ok = compiled.exited_zero();
                report.compile = Some(compiled);
                if !ok {
                    return report;
                }
                if job.collect_artifacts {
                    send_artifacts(config, job, out);
                }
            }
            Err(e) => {
                report.error = Some(format!("compile: {e}"));
                return report;
            }
        }
    }

    let argv: Vec<String> = job.run.iter().chain(&job.args).cloned().collect();
    if job.tests.is_empty() {
        out.stage("run", None);
        let stdin = if job.interactive {
            StdinSource::Interactive {
                initial: job.stdin.as_bytes(),
                frames: input,
            }
        } else {
            StdinSource::Bytes(job.stdin.as_bytes())
        };
        let spec = StageSpec {
            argv: &argv,
            limits: &job.run_limits,
            stdin,
            forward: true,
            preload: preload.take(),
        };
        match stage::run(config, spec, out) {
            Ok(ran) => {
                report.preloaded = ran.preloaded;
                report.run = Some(ran.report);
            }
            Err(e) => report.error = Some(format!("run: {e}")),
        }
        return report;
    }

    // Every case runs, even after a failure: the server picks the verdict.
    for (index, case) in job.tests.iter().enumerate() {
        out.stage("test", Some(index));
        let spec = StageSpec {
            argv: &argv,
            limits: &job.run_limits,
            stdin: StdinSource::Bytes(case.stdin.as_bytes()),
            forward: false,
            preload: preload.take(),
        };
        match stage::run(config, spec, out) {
            Ok(ran) => {
                report.preloaded |= ran.preloaded;
                let run = ran.report;
                let passed = compare::outputs_match(&run.stdout, &case.expected_stdout);
                report.tests.push(TestReport { run, passed });
            }
            Err(e) => {
                report.error = Some(format!("test {index}: {e}"));
                break;
            }
        }
    }
    report
}

/// Sends what the compile left in the work dir, or says on stderr (the
/// worker's diagnostics) why it cannot be reused.
fn send_artifacts(config: &Config, job: &JobSpec, out: &mut FrameOut) {
    match artifacts::collect(&config.workdir, config.uid, &job.files) {
        Ok(artifacts) => out.send(&Frame::new(FrameKind::Built, pack_artifacts(&artifacts))),
        Err(reason) => eprintln!("rce-runner: the compile is not reusable: {reason}"),
    }
}
