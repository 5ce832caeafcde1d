// The result of a run at a glance: verdict, exit code or signal, CPU time,
// wall time and peak memory, each a labelled badge.

import type { JobResult } from "../api";
import { formatKb, formatMs, signalName, verdictLabel, verdictTone } from "../format";
import "./Badges.css";

export function VerdictBadge({ verdict, label }: { verdict: string; label?: string }) {
  const text = label ?? verdictLabel(verdict);
  return (
    <span className={`badge verdict tone-${verdictTone(verdict)}`} data-verdict={verdict} title={verdict}>
      {text}
    </span>
  );
}

/** The server's message on a job the user stopped (verdict runtime_error, SIGKILL). */
const STOPPED = "stopped on request";

export function ResultBadges({ result }: { result: JobResult }) {
  const stopped = result.message === STOPPED;
  const exit =
    result.signal !== null && result.signal !== undefined
      ? { label: "Signal", value: signalName(result.signal) }
      : result.exit_code !== null && result.exit_code !== undefined
        ? { label: "Exit", value: String(result.exit_code) }
        : null;
  return (
    <div className="badges" role="group" aria-label="Result">
      {stopped ? <VerdictBadge verdict="stopped" /> : <VerdictBadge verdict={result.verdict} />}
      {exit && <Metric label={exit.label} value={exit.value} tone={exit.value === "0" ? "good" : "bad"} />}
      {/* A stopped job's measurements are cut short; they are not shown. */}
      {!stopped && <Metric label="CPU" value={formatMs(result.time_ms)} />}
      {!stopped && <Metric label="Wall" value={formatMs(result.wall_ms)} />}
      {!stopped && <Metric label="Memory" value={formatKb(result.memory_kb)} />}
      {result.truncated && <Metric label="Output" value="truncated" tone="warn" />}
    </div>
  );
}

function Metric({ label, value, tone = "info" }: { label: string; value: string; tone?: string }) {
  return (
    <span className={`badge metric tone-${tone}`} aria-label={`${label}: ${value}`}>
      <span className="metric-label">{label}</span>
      <span className="metric-value">{value}</span>
    </span>
  );
}
