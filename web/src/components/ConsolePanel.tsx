// The console: where the job is (queued, running with a live clock,
// finished), stdout and stderr as they stream (stderr in its own colour, the
// input you typed echoed), the input line of an interactive run, compile
// errors with the compiler's output, and the result badges.

import { useEffect, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { formatMs, verdictLabel } from "../format";
import { isActive, type RunState } from "../run";
import { ResultBadges } from "./Badges";
import "./panel.css";
import "./ConsolePanel.css";

interface Props {
  run: RunState;
  canSendInput: boolean;
  onInput(text: string): void;
  onEof(): void;
  onClear(): void;
}

export function ConsolePanel({ run, canSendInput, onInput, onEof, onClear }: Props) {
  const log = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const [line, setLine] = useState("");
  const active = isActive(run);
  const result = run.result;
  const showInput = active && run.interactive && !run.stdinClosed && run.id !== null;

  // Follow the output while the view is at the bottom.
  useLayoutEffect(() => {
    const el = log.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [run.chunks, run.result, run.error]);

  function onScroll() {
    const el = log.current;
    if (el) stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  }

  function send(event: FormEvent) {
    event.preventDefault();
    onInput(line + "\n");
    setLine("");
  }

  function onKeyDown(event: KeyboardEvent<HTMLInputElement>) {
    // Ctrl+D ends the input, as in a terminal (sending what is typed first).
    if (event.ctrlKey && (event.key === "d" || event.key === "D")) {
      event.preventDefault();
      if (line) onInput(line);
      setLine("");
      onEof();
    }
  }

  const compileFailed = result?.verdict === "compile_error";
  const compilerOutput = result?.compile_output?.trim() ? result.compile_output : null;

  return (
    <section className="console" aria-label="Console">
      <div className="panel-bar">
        <Status run={run} />
        <div className="spacer" />
        <button type="button" className="btn ghost small" onClick={onClear} disabled={run.phase === "idle"} aria-label="Clear console">
          Clear
        </button>
      </div>
      {result && (
        <div className="result-bar">
          <ResultBadges result={result} />
        </div>
      )}
      <div className="console-body" ref={log} onScroll={onScroll}>
        {run.phase === "idle" && (
          <div className="empty">
            <p>
              Press <kbd>Run</kbd> or <kbd>Ctrl</kbd>+<kbd>Enter</kbd> to execute your program.
            </p>
            <p className="muted small">Output streams here live; stderr is shown in red.</p>
          </div>
        )}
        {compileFailed && (
          <div className="compile-error" role="alert" aria-label="Compilation failed">
            <h3>Compilation failed</h3>
            <pre>{compilerOutput ?? "The compiler gave no output."}</pre>
          </div>
        )}
        {!compileFailed && compilerOutput && (
          <details className="compiler-output">
            <summary>Compiler output</summary>
            <pre>{compilerOutput}</pre>
          </details>
        )}
        <pre className="output" role="log" aria-label="Program output" aria-live="polite">
          {run.chunks.map((chunk, i) => (
            <span key={i} className={`chunk ${chunk.kind}`} data-stream={chunk.kind}>
              {chunk.kind === "info" ? `— ${chunk.text}\n` : chunk.text}
            </span>
          ))}
          {run.clipped && <span className="chunk info">— The console holds no more; the stored result keeps the rest.{"\n"}</span>}
        </pre>
        {run.phase === "finished" && result && !compileFailed && run.chunks.every((c) => c.kind === "info") && (
          <p className="muted small no-output">The program printed nothing.</p>
        )}
        {result?.message && result.message !== "stopped on request" && <p className="result-message">{result.message}</p>}
        {run.error && (
          <p className="error-text" role="alert">
            {run.error}
          </p>
        )}
      </div>
      {showInput && (
        <form className="stdin-line" onSubmit={send}>
          <span className="prompt" aria-hidden="true">
            ›
          </span>
          <input
            aria-label="Program input"
            placeholder={canSendInput ? "Type input for the program, Enter to send (Ctrl+D ends input)" : "Reconnecting…"}
            value={line}
            disabled={!canSendInput}
            onChange={(e) => setLine(e.target.value)}
            onKeyDown={onKeyDown}
            autoComplete="off"
            spellCheck={false}
          />
          <button type="submit" className="btn small" disabled={!canSendInput}>
            Send
          </button>
          <button type="button" className="btn ghost small" disabled={!canSendInput} onClick={onEof} aria-label="Send end of input">
            EOF
          </button>
        </form>
      )}
    </section>
  );
}

function Status({ run }: { run: RunState }) {
  const label = (() => {
    switch (run.phase) {
      case "idle":
        return "Ready";
      case "submitting":
        return "Submitting…";
      case "queued":
        return "Queued…";
      case "running":
        return run.stopping ? "Stopping…" : "Running";
      case "finished":
        if (!run.result) return "Finished";
        return run.result.message === "stopped on request" ? "Stopped" : `Finished · ${verdictLabel(run.result.verdict)}`;
      case "failed":
        return "Not run";
    }
  })();
  const stopped = run.result?.message === "stopped on request";
  return (
    <div className={`run-status phase-${run.phase}${stopped ? " stopped" : ""}`} role="status" aria-label={`Run status: ${label}`}>
      <span className="dot" aria-hidden="true" />
      <span>{label}</span>
      {isActive(run) && run.startedAt && <Elapsed since={run.startedAt} />}
      {run.restored && run.startedAt && !isActive(run) && (
        <span className="muted small">· from {new Date(run.startedAt).toLocaleString()}</span>
      )}
    </div>
  );
}

function Elapsed({ since }: { since: number }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 100);
    return () => clearInterval(timer);
  }, []);
  return <span className="elapsed">{formatMs(Math.max(0, now - since))}</span>;
}
