//! job: carries out one job from its spec to its `RunReport` — files, the
//! compile stage (if any), then either one run (single-run mode, output and
//! interactive input streamed) or one run per test case (test mode, output
//! only captured and compared). A failed compile ends the job with the
//! compile report; a runner-side failure ends it with `error`. Stage frames
//! are sent as each stage starts; the caller sends the final Result frame.

use crate::compare;
use crate::config::Config;
use crate::files;
use crate::frames::{FrameIn, FrameOut};
use crate::stage::{self, StageSpec, StdinSource};
use rce_protocol::{JobSpec, RunReport, StageReport, Termination, TestReport};

/// Runs `job` and returns its report.
pub fn run(config: &Config, job: &JobSpec, input: &mut FrameIn, out: &mut FrameOut) -> RunReport {
    let mut report = RunReport::default();
    if let Err(e) = files::write_all(&config.workdir, config.uid, config.gid, &job.files) {
        report.error = Some(e.to_string());
        return report;
    }

    if let Some(compile) = &job.compile {
        out.stage("compile", None);
        let spec = StageSpec {
            argv: compile,
            limits: &job.compile_limits,
            stdin: StdinSource::Bytes(b""),
            forward: false,
        };
        match stage::run(config, spec, out) {
            Ok(compiled) => {
                let ok = succeeded(&compiled);
                report.compile = Some(compiled);
                if !ok {
                    return report;
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
        };
        match stage::run(config, spec, out) {
            Ok(run) => report.run = Some(run),
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
        };
        match stage::run(config, spec, out) {
            Ok(run) => {
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

/// A compile that exited 0 on its own.
fn succeeded(stage: &StageReport) -> bool {
    stage.termination == Termination::Exited && stage.exit_code == Some(0)
}
