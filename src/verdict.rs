//! Turns what the runner observed (a [`RunReport`]) and what Docker observed
//! (OOM kill, our hard deadline) into the user's [`JobResult`]. Pure logic:
//! the only place a verdict is decided.

use crate::job::{JobResult, TestResult, Verdict};
use rce_protocol::{RunReport, StageReport, Termination};

/// What the worker saw from outside the container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContainerFacts {
    /// Docker reports the container's memory cgroup OOM-killed a process.
    pub oom_killed: bool,
    /// The worker killed the container at the hard wall-clock deadline.
    pub deadline_hit: bool,
    /// The container ended with SIGKILL (exit 137) before the runner could
    /// report, and nobody here killed it. Under gVisor a cgroup OOM kill
    /// takes the whole sandbox kernel down this way, and Docker does not
    /// always record it as an OOM kill.
    pub sigkilled_without_report: bool,
}

/// The verdict of one stage run on its own (no expected output to compare).
pub fn stage_verdict(stage: &StageReport) -> Verdict {
    match stage.termination {
        Termination::Exited if stage.exit_code == Some(0) => Verdict::Ok,
        Termination::Exited | Termination::Signaled => Verdict::RuntimeError,
        Termination::CpuTimeLimit | Termination::WallTimeLimit => Verdict::TimeLimitExceeded,
        Termination::MemoryLimit => Verdict::MemoryLimitExceeded,
        Termination::OutputLimit => Verdict::OutputLimitExceeded,
    }
}

fn limit_message(stage: &StageReport) -> Option<String> {
    match stage.termination {
        Termination::CpuTimeLimit => Some("CPU time limit exceeded".into()),
        Termination::WallTimeLimit => Some("wall-clock time limit exceeded".into()),
        Termination::MemoryLimit => Some("memory limit exceeded".into()),
        Termination::OutputLimit => Some("output limit exceeded".into()),
        Termination::Signaled => stage
            .signal
            .map(|signal| format!("killed by signal {signal}")),
        Termination::Exited => None,
    }
}

/// The result when the runner never delivered its report.
pub fn without_report(facts: ContainerFacts, reason: &str) -> JobResult {
    let mut result = JobResult::internal_error(reason);
    if facts.oom_killed || facts.sigkilled_without_report {
        result.verdict = Verdict::MemoryLimitExceeded;
        result.message = Some("memory limit exceeded (container OOM-killed)".into());
    } else if facts.deadline_hit {
        result.verdict = Verdict::TimeLimitExceeded;
        result.message = Some("wall-clock deadline exceeded; the container was killed".into());
    }
    result
}

/// The user's result from the runner's report and the container facts.
pub fn judge(report: &RunReport, facts: ContainerFacts) -> JobResult {
    if let Some(error) = &report.error {
        return JobResult::internal_error(error.clone());
    }
    let compile_output = report
        .compile
        .as_ref()
        .map(|c| format!("{}{}", c.stdout, c.stderr));
    if let Some(compile) = &report.compile {
        if stage_verdict(compile) != Verdict::Ok {
            let mut result = from_stage(compile, Verdict::CompileError);
            result.stdout.clear();
            result.stderr.clear();
            result.compile_output = compile_output;
            result.message = limit_message(compile).map(|m| format!("compilation: {m}"));
            return result;
        }
    }
    if !report.tests.is_empty() {
        let tests: Vec<TestResult> = report
            .tests
            .iter()
            .map(|test| {
                let verdict = match stage_verdict(&test.run) {
                    Verdict::Ok if !test.passed => Verdict::WrongAnswer,
                    verdict => verdict,
                };
                TestResult {
                    verdict,
                    exit_code: test.run.exit_code,
                    signal: test.run.signal,
                    stdout: test.run.stdout.clone(),
                    stderr: test.run.stderr.clone(),
                    time_ms: test.run.cpu_time_ms,
                    wall_ms: test.run.wall_time_ms,
                    memory_kb: test.run.memory_kb,
                }
            })
            .collect();
        let deciding = tests
            .iter()
            .position(|t| t.verdict != Verdict::Ok)
            .unwrap_or(tests.len() - 1);
        let stage = &report.tests[deciding].run;
        let mut result = from_stage(stage, tests[deciding].verdict);
        result.time_ms = tests.iter().map(|t| t.time_ms).max().unwrap_or(0);
        result.wall_ms = tests.iter().map(|t| t.wall_ms).max().unwrap_or(0);
        result.memory_kb = tests.iter().map(|t| t.memory_kb).max().unwrap_or(0);
        result.truncated = report.tests.iter().any(|t| t.run.truncated);
        result.compile_output = compile_output;
        result.message = limit_message(stage);
        result.tests = Some(tests);
        return result;
    }
    match &report.run {
        Some(run) => {
            let mut verdict = stage_verdict(run);
            // The kernel killed the program for memory but the runner saw
            // only the SIGKILL: Docker's OOM flag settles it.
            if facts.oom_killed && verdict == Verdict::RuntimeError && run.signal == Some(9) {
                verdict = Verdict::MemoryLimitExceeded;
            }
            let mut result = from_stage(run, verdict);
            result.compile_output = compile_output;
            result.message = match verdict {
                Verdict::MemoryLimitExceeded => Some("memory limit exceeded".into()),
                _ => limit_message(run),
            };
            result
        }
        None => without_report(facts, "the runner reported no run"),
    }
}

fn from_stage(stage: &StageReport, verdict: Verdict) -> JobResult {
    JobResult {
        verdict,
        exit_code: stage.exit_code,
        signal: stage.signal,
        stdout: stage.stdout.clone(),
        stderr: stage.stderr.clone(),
        compile_output: None,
        time_ms: stage.cpu_time_ms,
        wall_ms: stage.wall_time_ms,
        memory_kb: stage.memory_kb,
        truncated: stage.truncated,
        tests: None,
        message: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rce_protocol::TestReport;

    fn stage(termination: Termination, exit_code: Option<i32>) -> StageReport {
        StageReport {
            termination,
            exit_code,
            signal: None,
            cpu_time_ms: 5,
            wall_time_ms: 7,
            memory_kb: 1000,
            stdout: "out".into(),
            stderr: String::new(),
            truncated: false,
        }
    }

    /// Each termination maps to its verdict.
    #[test]
    fn terminations_map_to_verdicts() {
        let cases = [
            (Termination::Exited, Some(0), Verdict::Ok),
            (Termination::Exited, Some(3), Verdict::RuntimeError),
            (Termination::Signaled, None, Verdict::RuntimeError),
            (Termination::CpuTimeLimit, None, Verdict::TimeLimitExceeded),
            (Termination::WallTimeLimit, None, Verdict::TimeLimitExceeded),
            (Termination::MemoryLimit, None, Verdict::MemoryLimitExceeded),
            (Termination::OutputLimit, None, Verdict::OutputLimitExceeded),
        ];
        for (termination, code, verdict) in cases {
            let report = RunReport {
                run: Some(stage(termination, code)),
                ..Default::default()
            };
            assert_eq!(
                judge(&report, ContainerFacts::default()).verdict,
                verdict,
                "{termination:?}"
            );
        }
    }

    /// A failed compile is a compile error carrying the compiler's output,
    /// whatever the run would have done.
    #[test]
    fn failed_compile_is_compile_error() {
        let mut compile = stage(Termination::Exited, Some(1));
        compile.stderr = "main.c:1: error".into();
        let report = RunReport {
            compile: Some(compile),
            ..Default::default()
        };
        let result = judge(&report, ContainerFacts::default());
        assert_eq!(result.verdict, Verdict::CompileError);
        assert_eq!(result.compile_output.as_deref(), Some("outmain.c:1: error"));
    }

    /// In test mode the first failing case decides; a mismatch is a wrong answer.
    #[test]
    fn first_failing_test_decides() {
        let report = RunReport {
            tests: vec![
                TestReport {
                    run: stage(Termination::Exited, Some(0)),
                    passed: true,
                },
                TestReport {
                    run: stage(Termination::Exited, Some(0)),
                    passed: false,
                },
                TestReport {
                    run: stage(Termination::CpuTimeLimit, None),
                    passed: false,
                },
            ],
            ..Default::default()
        };
        let result = judge(&report, ContainerFacts::default());
        assert_eq!(result.verdict, Verdict::WrongAnswer);
        let verdicts: Vec<Verdict> = result.tests.unwrap().iter().map(|t| t.verdict).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Ok,
                Verdict::WrongAnswer,
                Verdict::TimeLimitExceeded
            ]
        );
    }

    /// A SIGKILL that Docker attributes to the OOM killer is a memory verdict;
    /// without a report the container facts decide.
    #[test]
    fn container_facts_refine_verdicts() {
        let mut killed = stage(Termination::Signaled, None);
        killed.signal = Some(9);
        let report = RunReport {
            run: Some(killed),
            ..Default::default()
        };
        let oom = ContainerFacts {
            oom_killed: true,
            ..ContainerFacts::default()
        };
        assert_eq!(judge(&report, oom).verdict, Verdict::MemoryLimitExceeded);
        let deadline = ContainerFacts {
            deadline_hit: true,
            ..ContainerFacts::default()
        };
        assert_eq!(
            without_report(deadline, "x").verdict,
            Verdict::TimeLimitExceeded
        );
        assert_eq!(
            without_report(ContainerFacts::default(), "x").verdict,
            Verdict::InternalError
        );
    }

    #[test]
    fn a_sandbox_sigkilled_before_its_report_exceeded_its_memory() {
        let killed = ContainerFacts {
            sigkilled_without_report: true,
            ..ContainerFacts::default()
        };
        let result = without_report(killed, "the sandbox ended without a report");
        assert_eq!(result.verdict, Verdict::MemoryLimitExceeded);
        assert!(result.message.unwrap().contains("OOM"));
    }
}
