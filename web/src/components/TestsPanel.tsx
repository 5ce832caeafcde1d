// Test-case mode: cases of stdin + expected output, run together as one
// submission (`tests` in the body), and a pass/fail table from
// `result.tests[]` with each case's verdict, time and output.

import { Fragment, useState } from "react";
import type { TestCase, TestResult } from "../api";
import { formatMs, verdictLabel } from "../format";
import { isActive, type RunState } from "../run";
import { VerdictBadge } from "./Badges";
import "./panel.css";
import "./TestsPanel.css";

interface Props {
  cases: TestCase[];
  onChange(cases: TestCase[]): void;
  onRun(): void;
  run: RunState;
  busy: boolean;
}

export function TestsPanel({ cases, onChange, onRun, run, busy }: Props) {
  const update = (index: number, patch: Partial<TestCase>) =>
    onChange(cases.map((c, i) => (i === index ? { ...c, ...patch } : c)));
  const remove = (index: number) => onChange(cases.filter((_, i) => i !== index));
  const add = () => onChange([...cases, { stdin: "", expected_stdout: "" }]);

  const testRun = run.mode === "tests" && run.phase !== "idle" ? run : null;
  const results = testRun?.result?.tests ?? null;

  return (
    <section className="tests" aria-label="Test cases">
      <div className="panel-bar">
        <span className="panel-title">
          {cases.length} {cases.length === 1 ? "case" : "cases"}
        </span>
        <div className="spacer" />
        <button type="button" className="btn ghost small" onClick={add}>
          + Add case
        </button>
        <button type="button" className="btn primary small" onClick={onRun} disabled={busy || cases.length === 0}>
          Run tests
        </button>
      </div>
      <div className="tests-body">
        {testRun && <TestSummary run={testRun} results={results} />}
        {cases.length === 0 && (
          <div className="empty">
            <p>No test cases yet.</p>
            <p className="muted small">Add a case with its input and the output you expect; Run tests checks them all.</p>
            <button type="button" className="btn" onClick={add}>
              Add a test case
            </button>
          </div>
        )}
        {cases.map((testCase, index) => (
          <fieldset className="case" key={index}>
            <legend>
              Case {index + 1}
              {results?.[index] && <CaseMark result={results[index]} />}
            </legend>
            <button type="button" className="icon-btn remove" aria-label={`Remove case ${index + 1}`} onClick={() => remove(index)}>
              ×
            </button>
            <label className="field">
              <span>Input</span>
              <textarea
                aria-label={`Input for case ${index + 1}`}
                rows={3}
                spellCheck={false}
                value={testCase.stdin}
                onChange={(e) => update(index, { stdin: e.target.value })}
              />
            </label>
            <label className="field">
              <span>Expected output</span>
              <textarea
                aria-label={`Expected output for case ${index + 1}`}
                rows={3}
                spellCheck={false}
                value={testCase.expected_stdout}
                onChange={(e) => update(index, { expected_stdout: e.target.value })}
              />
            </label>
          </fieldset>
        ))}
      </div>
    </section>
  );
}

function CaseMark({ result }: { result: TestResult }) {
  const passed = result.verdict === "ok";
  return <span className={`case-mark ${passed ? "pass" : "fail"}`}>{passed ? "passed" : verdictLabel(result.verdict)}</span>;
}

function TestSummary({ run, results }: { run: RunState; results: TestResult[] | null }) {
  const [open, setOpen] = useState<number | null>(null);
  if (isActive(run)) return <p className="tests-status muted">Running {run.tests.length} test cases…</p>;
  if (run.error) return <p className="error-text">{run.error}</p>;
  if (!run.result) return null;
  if (!results) {
    return (
      <div className="tests-status">
        <VerdictBadge verdict={run.result.verdict} />
        <span className="muted small">
          {run.result.verdict === "compile_error" ? " The program did not compile; see the Console." : " No per-case results."}
        </span>
      </div>
    );
  }
  const passed = results.filter((r) => r.verdict === "ok").length;
  const all = passed === results.length;
  return (
    <div className="test-results">
      <p className={`tests-summary ${all ? "pass" : "fail"}`} role="status">
        {passed} / {results.length} passed
      </p>
      <table aria-label="Test results">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Result</th>
            <th scope="col">Time</th>
            <th scope="col">Output</th>
          </tr>
        </thead>
        <tbody>
          {results.map((result, index) => {
            const testCase = run.tests[index];
            const expanded = open === index;
            return (
              <Fragment key={index}>
                <tr className={result.verdict === "ok" ? "pass" : "fail"}>
                  <td>{index + 1}</td>
                  <td>
                    <VerdictBadge verdict={result.verdict} label={result.verdict === "ok" ? "Passed" : undefined} />
                  </td>
                  <td className="num">{formatMs(result.time_ms)}</td>
                  <td>
                    <button
                      type="button"
                      className="link"
                      aria-expanded={expanded}
                      aria-label={`Details of case ${index + 1}`}
                      onClick={() => setOpen(expanded ? null : index)}
                    >
                      <code className="preview">{preview(result.stdout)}</code>
                    </button>
                  </td>
                </tr>
                {expanded && (
                  <tr className="details">
                    <td colSpan={4}>
                      <div className="compare">
                        <div>
                          <h4>Input</h4>
                          <pre>{testCase?.stdin || "(empty)"}</pre>
                        </div>
                        <div>
                          <h4>Expected</h4>
                          <pre>{testCase?.expected_stdout ?? ""}</pre>
                        </div>
                        <div>
                          <h4>Actual</h4>
                          <pre>{result.stdout}</pre>
                        </div>
                        {result.stderr && (
                          <div>
                            <h4>stderr</h4>
                            <pre className="stderr">{result.stderr}</pre>
                          </div>
                        )}
                      </div>
                    </td>
                  </tr>
                )}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function preview(text: string): string {
  const flat = text.replace(/\n$/, "").replace(/\n/g, "⏎");
  if (!flat) return "(no output)";
  return flat.length > 40 ? `${flat.slice(0, 40)}…` : flat;
}
