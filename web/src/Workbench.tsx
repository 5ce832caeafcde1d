// The editor screen and its logic: language picker, Monaco, stdin and
// arguments, Run/Stop (Ctrl/Cmd+Enter), the console, test cases and history,
// all over one self-healing WebSocket. A job's life is a reducer (run.ts);
// this file turns user actions and server events into its actions.
//
// Submitting goes over the socket (`submit` with a `ref`, answered by
// `queued`); if the socket is down it falls back to `POST /submissions` and
// polls until the socket is back. A reopened socket `watch`es the job that
// was running, so output and the verdict keep coming after a reconnect.

import "./monaco";
import Editor from "@monaco-editor/react";
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import {
  ApiError,
  createSubmission,
  getSubmission,
  languages as fetchLanguages,
  listSubmissions,
  socketUrl,
  sourceOf,
  type Language,
  type Session,
  type SubmissionBody,
  type TestCase,
} from "./api";
import { ConsolePanel } from "./components/ConsolePanel";
import { HistoryPanel } from "./components/HistoryPanel";
import { Logo } from "./components/Logo";
import { TestsPanel } from "./components/TestsPanel";
import { joinArgs, splitArgs } from "./format";
import { initialRun, isActive, runReducer } from "./run";
import { RceSocket, type ConnectionState, type ServerEvent } from "./socket";
import { FALLBACK_LANGUAGES, languageInfo } from "./starters";
import { stored } from "./storage";

type Tab = "console" | "tests" | "history";

interface Props {
  session: Session;
  onSignOut(): void;
  onRefused(): void;
}

/** How often a job is polled over HTTP while the socket is down. */
const POLL_MS = 1500;

function newRef(): string {
  if (typeof crypto !== "undefined" && "randomUUID" in crypto) return crypto.randomUUID();
  return `r${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
}

export default function Workbench({ session, onSignOut, onRefused }: Props) {
  const [languages, setLanguages] = useState<Language[]>(FALLBACK_LANGUAGES);
  const [languagesError, setLanguagesError] = useState<string | null>(null);
  const [language, setLanguage] = useState<string>(() => stored.language() ?? "python");
  const [codes, setCodes] = useState<Record<string, string>>({});
  const [stdin, setStdin] = useState(stored.stdin);
  const [args, setArgs] = useState(stored.args);
  const [interactive, setInteractive] = useState(stored.interactive);
  const [tests, setTests] = useState<TestCase[]>(stored.tests);
  const [tab, setTab] = useState<Tab>("console");
  const [run, dispatch] = useReducer(runReducer, initialRun);
  const [connection, setConnection] = useState<ConnectionState>("connecting");
  const [historyKey, setHistoryKey] = useState(0);

  const info = languageInfo(language);
  const code = codes[language] ?? stored.code(language) ?? info.starter;
  const current = languages.find((l) => l.id === language);

  const runRef = useRef(run);
  runRef.current = run;
  const socketRef = useRef<RceSocket | null>(null);
  /** Monaco's editor: the source of truth for the code at Run time (a key
   * press can arrive before React has rendered the last edit). */
  const editorRef = useRef<{ getValue(): string } | null>(null);
  const resultsRef = useRef<HTMLElement>(null);
  /** How the job being submitted was sent (a socket submit can be lost in a drop). */
  const transport = useRef<"socket" | "http">("socket");
  const refusedRef = useRef(onRefused);
  refusedRef.current = onRefused;

  // ---- languages -----------------------------------------------------
  useEffect(() => {
    fetchLanguages()
      .then((list) => {
        if (list.length === 0) return;
        setLanguages(list);
        setLanguagesError(null);
        setLanguage((chosen) => (list.some((l) => l.id === chosen) ? chosen : list[0].id));
      })
      .catch((caught) => setLanguagesError(caught instanceof ApiError ? caught.message : "Could not load the languages."));
  }, []);

  useEffect(() => stored.setLanguage(language), [language]);
  useEffect(() => stored.setStdin(stdin), [stdin]);
  useEffect(() => stored.setArgs(args), [args]);
  useEffect(() => stored.setInteractive(interactive), [interactive]);
  useEffect(() => stored.setTests(tests), [tests]);

  const setCodeFor = useCallback((lang: string, value: string) => {
    setCodes((old) => ({ ...old, [lang]: value }));
    stored.setCode(lang, value);
  }, []);

  // ---- the socket ----------------------------------------------------
  const onEvent = useCallback((event: ServerEvent) => {
    switch (event.type) {
      case "queued":
        dispatch({ type: "queued", id: event.id, ref: event.ref });
        break;
      case "started":
        dispatch({ type: "started", id: event.id });
        break;
      case "output":
        dispatch({ type: "output", id: event.id, stream: event.stream, data: event.data });
        break;
      case "finished":
        dispatch({ type: "finished", id: event.id, result: event.result });
        setHistoryKey((k) => k + 1);
        break;
      case "lagged":
        if (event.id === runRef.current.id)
          dispatch({ type: "note", text: `${event.dropped} output chunks were skipped to keep up; the full output comes with the result.` });
        break;
      case "error": {
        const mine = runRef.current;
        if (event.ref && event.ref === mine.ref && !mine.id) dispatch({ type: "failed", ref: event.ref, message: event.message });
        else if (event.id && event.id === mine.id && event.code === "not_found")
          dispatch({ type: "failed", message: "The server no longer knows this job." });
        else if ((event.id && event.id === mine.id) || (event.ref && event.ref === mine.ref))
          dispatch({ type: "note", text: event.message });
        break;
      }
    }
  }, []);

  useEffect(() => {
    const socket = new RceSocket(socketUrl, {
      onEvent,
      onState: (state) => setConnection(state),
      onOpen: (reconnected) => {
        const mine = runRef.current;
        if (mine.id && isActive(mine)) {
          socket.send({ type: "watch", id: mine.id });
          if (reconnected) dispatch({ type: "note", text: "Reconnected; following the job again." });
        } else if (reconnected && mine.phase === "submitting" && transport.current === "socket") {
          dispatch({ type: "failed", message: "The connection dropped before the server accepted the job. Run it again." });
        }
      },
      onRefused: (definite) => {
        if (definite) refusedRef.current();
        // An HTTP request says whether the token is still good (a 401
        // signs out through the API module's handler).
        else listSubmissions(null, 1).catch(() => {});
      },
    });
    socketRef.current = socket;
    socket.start();
    return () => {
      socket.stop();
      socketRef.current = null;
    };
  }, [onEvent]);

  // While the socket is down, poll the job so it still finishes on screen.
  useEffect(() => {
    if (!run.id || !isActive(run) || connection === "open") return;
    const id = run.id;
    const timer = setInterval(() => {
      getSubmission(id)
        .then((submission) => {
          if (submission.status === "completed" && submission.result) {
            dispatch({ type: "finished", id, result: submission.result });
            setHistoryKey((k) => k + 1);
          }
        })
        .catch(() => {});
    }, POLL_MS);
    return () => clearInterval(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [run.id, run.phase, connection]);

  useEffect(() => {
    if (run.id) stored.setLastJob(run.id);
  }, [run.id]);

  // ---- opening a stored job (history, or the last one after a reload) --
  const openSubmission = useCallback(
    async (id: string, fromHistory: boolean) => {
      try {
        const submission = await getSubmission(id);
        if (fromHistory) {
          const source = sourceOf(submission);
          if (languages.some((l) => l.id === submission.language)) setLanguage(submission.language);
          if (source !== null) setCodeFor(submission.language, source);
          if (typeof submission.stdin === "string") setStdin(submission.stdin);
          if (Array.isArray(submission.args)) setArgs(joinArgs(submission.args));
          if (submission.tests && submission.tests.length > 0) setTests(submission.tests);
          dispatch({ type: "load", submission });
          if (source === null) dispatch({ type: "note", text: "The server did not return this submission's code; the editor keeps yours." });
          setTab(submission.tests?.length || submission.result?.tests?.length ? "tests" : "console");
        } else {
          dispatch({ type: "load", submission });
        }
        if (submission.status !== "completed") socketRef.current?.send({ type: "watch", id });
      } catch (caught) {
        if (caught instanceof ApiError && caught.status === 404) stored.setLastJob(null);
        else if (fromHistory) dispatch({ type: "note", text: caught instanceof Error ? caught.message : "Could not open it." });
      }
    },
    [languages, setCodeFor],
  );

  // After a reload, show (or keep following) the last job.
  useEffect(() => {
    const last = stored.lastJob();
    if (last) void openSubmission(last, false);
    // Only once, on mount.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // ---- actions -------------------------------------------------------
  const start = useCallback(
    (mode: "run" | "tests") => {
      if (isActive(runRef.current)) return;
      const ref = newRef();
      const socket = socketRef.current;
      const withTests = mode === "tests";
      const body: SubmissionBody = { language, source: editorRef.current?.getValue() ?? code };
      const argv = splitArgs(args);
      if (argv.length > 0) body.args = argv;
      if (withTests) body.tests = tests;
      else if (stdin) body.stdin = stdin;
      const live = !withTests && interactive && !!socket?.isOpen;
      if (live) body.interactive = true;
      dispatch({ type: "submit", ref, language, mode, interactive: live, tests: withTests ? tests : [] });
      setTab(withTests ? "tests" : "console");
      // Stacked layout: bring the console into view, where the output goes.
      if (window.matchMedia("(max-width: 900px)").matches) {
        requestAnimationFrame(() => resultsRef.current?.scrollIntoView({ behavior: "smooth", block: "start" }));
      }
      if (socket?.send({ type: "submit", ref, ...body })) {
        transport.current = "socket";
        return;
      }
      transport.current = "http";
      createSubmission(body)
        .then((reply) => {
          dispatch({ type: "queued", id: reply.id, ref });
          socketRef.current?.send({ type: "watch", id: reply.id });
        })
        .catch((caught) => dispatch({ type: "failed", ref, message: caught instanceof Error ? caught.message : String(caught) }));
    },
    [language, code, args, stdin, interactive, tests],
  );

  const stop = useCallback(() => {
    const mine = runRef.current;
    if (!mine.id || !isActive(mine)) return;
    if (socketRef.current?.send({ type: "kill", id: mine.id })) dispatch({ type: "stopping" });
    else dispatch({ type: "note", text: "Not connected: the job cannot be stopped until the connection is back." });
  }, []);

  const sendInput = useCallback((text: string) => {
    const mine = runRef.current;
    if (!mine.id) return;
    if (socketRef.current?.send({ type: "stdin", id: mine.id, data: text })) dispatch({ type: "stdin", text });
  }, []);

  const sendEof = useCallback(() => {
    const mine = runRef.current;
    if (!mine.id) return;
    if (socketRef.current?.send({ type: "stdin", id: mine.id, eof: true })) dispatch({ type: "stdinClosed" });
  }, []);

  // Ctrl/Cmd+Enter runs from anywhere, the editor included (captured before
  // Monaco sees it).
  const startRef = useRef(start);
  startRef.current = start;
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
        event.preventDefault();
        event.stopPropagation();
        startRef.current("run");
      }
    };
    window.addEventListener("keydown", onKey, true);
    return () => window.removeEventListener("keydown", onKey, true);
  }, []);

  const active = isActive(run);
  useEffect(() => {
    document.title = active ? "● Running — rce" : "rce — run code";
  }, [active]);
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
          <button type="button" className="btn danger stop" onClick={stop} disabled={!active || !run.id || run.stopping} aria-label="Stop" title="Stop the program">
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
                onInput={sendInput}
                onEof={sendEof}
                onClear={() => dispatch({ type: "clear" })}
              />
            )}
            {tab === "tests" && <TestsPanel cases={tests} onChange={setTests} onRun={() => start("tests")} run={run} busy={active} />}
            {tab === "history" && (
              <HistoryPanel
                languages={languages}
                refreshKey={historyKey}
                currentId={run.id}
                onOpen={(id) => void openSubmission(id, true)}
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

const CONNECTION_LABEL: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

function ConnectionPill({ state }: { state: ConnectionState }) {
  return (
    <div className={`pill conn-${state}`} role="status" aria-label={`Connection: ${CONNECTION_LABEL[state]}`} data-state={state}>
      <span className="dot" aria-hidden="true" />
      {CONNECTION_LABEL[state]}
    </div>
  );
}
