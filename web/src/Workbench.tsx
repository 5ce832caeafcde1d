// The editor screen: language picker, Monaco, stdin and arguments, Run/Stop
// (Ctrl/Cmd+Enter), the console, test cases and history. The logic lives in
// hooks (hooks/): the job and its socket (useJob, useSocket), the server's
// languages (useLanguages), what is kept between visits (useStoredState,
// useCodes) and the page-wide shortcut and title (useShortcuts); this file
// composes them and lays the screen out.

import "./monaco";
import Editor from "@monaco-editor/react";
import { useCallback, useMemo, useRef, useState } from "react";
import { sourceOf, type Session, type SubmissionBody, type TestCase } from "./api";
import { ConnectionPill } from "./components/ConnectionPill";
import { ConsolePanel } from "./components/ConsolePanel";
import { HistoryPanel } from "./components/HistoryPanel";
import { Logo } from "./components/Logo";
import { TestsPanel } from "./components/TestsPanel";
import { joinArgs, splitArgs } from "./format";
import { useJob } from "./hooks/useJob";
import { useLanguages } from "./hooks/useLanguages";
import { useRunningTitle, useRunShortcut } from "./hooks/useShortcuts";
import { useCodes, useStoredState } from "./hooks/useStoredState";
import { languageInfo } from "./starters";
import { stored } from "./storage";
import "./Workbench.css";

type Tab = "console" | "tests" | "history";

interface Props {
  session: Session;
  onSignOut(): void;
  onRefused(): void;
}

const readLanguage = () => stored.language() ?? "python";

export default function Workbench({ session, onSignOut, onRefused }: Props) {
  const [language, setLanguage] = useStoredState<string>(readLanguage, stored.setLanguage);
  const [stdin, setStdin] = useStoredState<string>(stored.stdin, stored.setStdin);
  const [args, setArgs] = useStoredState<string>(stored.args, stored.setArgs);
  const [interactive, setInteractive] = useStoredState<boolean>(stored.interactive, stored.setInteractive);
  const [tests, setTests] = useStoredState<TestCase[]>(stored.tests, stored.setTests);
  const { codeFor, setCodeFor } = useCodes();
  const { languages, error: languagesError } = useLanguages(setLanguage);
  const [tab, setTab] = useState<Tab>("console");
  const job = useJob({ onRefused });
  const { run, active, connection } = job;

  const info = languageInfo(language);
  const code = codeFor(language, info.starter);
  const current = languages.find((l) => l.id === language);

  /** Monaco's editor: the source of truth for the code at Run time (a key
   * press can arrive before React has rendered the last edit). */
  const editorRef = useRef<{ getValue(): string } | null>(null);
  const resultsRef = useRef<HTMLElement>(null);

  const start = (mode: "run" | "tests") => {
    const withTests = mode === "tests";
    const body: SubmissionBody = { language, source: editorRef.current?.getValue() ?? code };
    const argv = splitArgs(args);
    if (argv.length > 0) body.args = argv;
    if (withTests) body.tests = tests;
    else if (stdin) body.stdin = stdin;
    if (!job.submit({ mode, body, interactive, tests })) return;
    setTab(withTests ? "tests" : "console");
    // Stacked layout: bring the console into view, where the output goes.
    if (window.matchMedia("(max-width: 900px)").matches) {
      requestAnimationFrame(() => resultsRef.current?.scrollIntoView({ behavior: "smooth", block: "start" }));
    }
  };
  useRunShortcut(() => start("run"));
  useRunningTitle(active);

  /** Reopens a past submission: its code, inputs and result. */
  const openFromHistory = useCallback(
    async (id: string) => {
      const submission = await job.open(id, true);
      if (!submission) return;
      const source = sourceOf(submission);
      if (languages.some((l) => l.id === submission.language)) setLanguage(submission.language);
      if (source !== null) setCodeFor(submission.language, source);
      if (typeof submission.stdin === "string") setStdin(submission.stdin);
      if (Array.isArray(submission.args)) setArgs(joinArgs(submission.args));
      if (submission.tests && submission.tests.length > 0) setTests(submission.tests);
      if (source === null) job.note("The server did not return this submission's code; the editor keeps yours.");
      setTab(submission.tests?.length || submission.result?.tests?.length ? "tests" : "console");
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [job.open, job.note, languages, setCodeFor],
  );

  const resetCode = () => {
    if (code === info.starter || window.confirm("Replace your code with the starter program?")) setCodeFor(language, info.starter);
  };

  const editorOptions = useMemo(
    () => ({
      fontSize: 14,
      fontFamily: "'JetBrains Mono', 'Fira Code', 'Cascadia Code', ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace",
      minimap: { enabled: false },
      scrollBeyondLastLine: false,
      automaticLayout: true,
      padding: { top: 12, bottom: 12 },
      ariaLabel: "Code editor",
      renderLineHighlight: "all" as const,
      smoothScrolling: true,
      cursorBlinking: "smooth" as const,
      tabSize: 4,
      fixedOverflowWidgets: true,
    }),
    [],
  );

  return (
    <div className="workbench">
      <header className="topbar">
        <div className="brand">
          <Logo size={28} />
          <span className="brand-name">rce</span>
        </div>
        <label className="language-picker">
          <span className="sr-only">Language</span>
          <select aria-label="Language" value={language} onChange={(e) => setLanguage(e.target.value)}>
            {languages.map((l) => (
              <option key={l.id} value={l.id}>
                {l.name}
                {l.version ? ` ${l.version}` : ""}
              </option>
            ))}
          </select>
        </label>
        <div className="run-controls">
          <button
            type="button"
            className="btn primary run"
            onClick={() => start("run")}
            disabled={active}
            aria-label="Run"
            title="Run (Ctrl+Enter)"
            aria-keyshortcuts="Control+Enter Meta+Enter"
          >
            <span aria-hidden="true">▶</span> {active && run.mode === "run" ? "Running…" : "Run"}
            <kbd className="hint">Ctrl ↵</kbd>
          </button>
          <button type="button" className="btn danger stop" onClick={job.stop} disabled={!active || !run.id || run.stopping} aria-label="Stop" title="Stop the program">
            <span aria-hidden="true">■</span> Stop
          </button>
        </div>
        <div className="spacer" />
        <ConnectionPill state={connection} />
        <div className="user">
          <span className="avatar" aria-hidden="true">
            {session.username.slice(0, 1).toUpperCase()}
          </span>
          <span className="username" title={`Signed in as ${session.username}`}>
            {session.username}
          </span>
          <button type="button" className="btn ghost small signout" onClick={onSignOut} aria-label="Sign out" title="Sign out">
            <svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true">
              <path d="M6 2H3v12h3M10 5l3 3-3 3M13 8H6" fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" strokeLinejoin="round" />
            </svg>
            <span className="signout-text">Sign out</span>
          </button>
        </div>
      </header>

      <main className="panes">
        <section className="left" aria-label="Program">
          <div className="editor-bar">
            <span className="file-tab">
              <span className={`lang-dot lang-${language}`} aria-hidden="true" />
              main.{info.extension}
            </span>
            {current?.version && <span className="muted small">{current.name} {current.version}</span>}
            {languagesError && (
              <span className="error-text small" role="alert">
                {languagesError}
              </span>
            )}
            <div className="spacer" />
            <button type="button" className="btn ghost small" onClick={resetCode} aria-label="Reset to starter program">
              Reset
            </button>
          </div>
          <div className="editor" data-language={language}>
            <Editor
              path={`file:///${language}/main.${info.extension}`}
              language={info.monaco}
              value={code}
              theme="rce-dark"
              onChange={(value) => setCodeFor(language, value ?? "")}
              onMount={(editor) => {
                editorRef.current = editor;
                editor.focus();
              }}
              loading={<div className="editor-loading">Loading editor…</div>}
              options={editorOptions}
            />
          </div>
          <div className="inputs">
            <div className="inputs-row">
              <label className="field grow">
                <span>Arguments</span>
                <input
                  aria-label="Program arguments"
                  placeholder="e.g. --count 3 'two words'"
                  value={args}
                  onChange={(e) => setArgs(e.target.value)}
                  spellCheck={false}
                  autoComplete="off"
                />
              </label>
              <label className="switch" title="Keep stdin open and type into the running program from the console">
                <input type="checkbox" checked={interactive} onChange={(e) => setInteractive(e.target.checked)} aria-label="Interactive input" />
                <span className="switch-track" aria-hidden="true" />
                <span>Interactive</span>
              </label>
            </div>
            <label className="field stdin">
              <span>{interactive ? "Stdin (sent first, then type in the console)" : "Stdin"}</span>
              <textarea
                aria-label="Standard input"
                placeholder={interactive ? "Optional input given before you type…" : "Input for the program…"}
                value={stdin}
                onChange={(e) => setStdin(e.target.value)}
                spellCheck={false}
              />
            </label>
          </div>
        </section>

        <section className="right" aria-label="Results" ref={resultsRef}>
          <div className="tabs" role="tablist" aria-label="Panels">
            <TabButton id="console" tab={tab} setTab={setTab} label="Console" busy={active && run.mode === "run"} />
            <TabButton id="tests" tab={tab} setTab={setTab} label="Tests" count={tests.length} busy={active && run.mode === "tests"} />
            <TabButton id="history" tab={tab} setTab={setTab} label="History" />
          </div>
          <div className="tab-panel" role="tabpanel" aria-label={tab}>
            {tab === "console" && (
              <ConsolePanel
                run={run}
                canSendInput={connection === "open"}
                onInput={job.sendInput}
                onEof={job.sendEof}
                onClear={job.clear}
              />
            )}
            {tab === "tests" && <TestsPanel cases={tests} onChange={setTests} onRun={() => start("tests")} run={run} busy={active} />}
            {tab === "history" && (
              <HistoryPanel
                languages={languages}
                refreshKey={job.historyKey}
                currentId={run.id}
                onOpen={(id) => void openFromHistory(id)}
              />
            )}
          </div>
        </section>
      </main>
    </div>
  );
}

function TabButton(props: { id: Tab; tab: Tab; setTab(tab: Tab): void; label: string; count?: number; busy?: boolean }) {
  const selected = props.tab === props.id;
  return (
    <button type="button" role="tab" aria-selected={selected} className={`tab${selected ? " selected" : ""}`} onClick={() => props.setTab(props.id)}>
      {props.label}
      {props.count ? <span className="count">{props.count}</span> : null}
      {props.busy && <span className="busy-dot" aria-hidden="true" />}
    </button>
  );
}
