// The state of the job shown in the console, as a reducer: what was sent,
// where it is (submitting → queued → running → finished), the console's
// chunks in arrival order (stdout, stderr, echoed input, notes) and the
// result. Events for other jobs of the same user (another tab) are ignored.

import type { JobResult, Submission, TestCase } from "./api";

export type Phase = "idle" | "submitting" | "queued" | "running" | "finished" | "failed";

export type ChunkKind = "stdout" | "stderr" | "stdin" | "info";

export interface Chunk {
  kind: ChunkKind;
  text: string;
}

export interface RunState {
  /** Client reference of the submit frame, matched against `queued.ref`. */
  ref: string | null;
  id: string | null;
  language: string | null;
  mode: "run" | "tests";
  phase: Phase;
  chunks: Chunk[];
  /** Everything streamed, to compare with the final result. */
  streamed: { stdout: string; stderr: string };
  /** The console stopped growing at CONSOLE_CAP characters. */
  clipped: boolean;
  result: JobResult | null;
  error: string | null;
  interactive: boolean;
  stdinClosed: boolean;
  stopping: boolean;
  tests: TestCase[];
  startedAt: number | null;
  finishedAt: number | null;
  /** Loaded from history or a reload rather than run in this page. */
  restored: boolean;
}

/** Most console text kept in the page; the stored result keeps the rest. */
const CONSOLE_CAP = 2_000_000;

export const initialRun: RunState = {
  ref: null,
  id: null,
  language: null,
  mode: "run",
  phase: "idle",
  chunks: [],
  streamed: { stdout: "", stderr: "" },
  clipped: false,
  result: null,
  error: null,
  interactive: false,
  stdinClosed: false,
  stopping: false,
  tests: [],
  startedAt: null,
  finishedAt: null,
  restored: false,
};

export type RunAction =
  | { type: "submit"; ref: string; language: string; mode: "run" | "tests"; interactive: boolean; tests: TestCase[] }
  | { type: "queued"; id: string; ref?: string }
  | { type: "started"; id: string }
  | { type: "output"; id: string; stream: "stdout" | "stderr"; data: string }
  | { type: "finished"; id: string; result: JobResult }
  | { type: "failed"; message: string; ref?: string }
  | { type: "stdin"; text: string }
  | { type: "stdinClosed" }
  | { type: "stopping" }
  | { type: "note"; text: string }
  | { type: "load"; submission: Submission }
  | { type: "clear" };

export function isActive(run: RunState): boolean {
  return run.phase === "submitting" || run.phase === "queued" || run.phase === "running";
}

function append(state: RunState, kind: ChunkKind, text: string): RunState {
  if (!text) return state;
  const size = state.chunks.reduce((total, chunk) => total + chunk.text.length, 0);
  if (size >= CONSOLE_CAP) return state.clipped ? state : { ...state, clipped: true };
  const room = CONSOLE_CAP - size;
  const piece = text.length > room ? text.slice(0, room) : text;
  const chunks = state.chunks.slice();
  const last = chunks[chunks.length - 1];
  // Neighbouring chunks of one kind are merged: fewer DOM nodes.
  if (last && last.kind === kind && kind !== "info") chunks[chunks.length - 1] = { kind, text: last.text + piece };
  else chunks.push({ kind, text: piece });
  return { ...state, chunks, clipped: state.clipped || piece.length < text.length };
}

/** The console as the stored result has it: stdout, then stderr. */
function chunksOf(result: JobResult): Chunk[] {
  const chunks: Chunk[] = [];
  if (result.stdout) chunks.push({ kind: "stdout", text: result.stdout });
  if (result.stderr) chunks.push({ kind: "stderr", text: result.stderr });
  return chunks;
}

export function runReducer(state: RunState, action: RunAction): RunState {
  switch (action.type) {
    case "submit":
      return {
        ...initialRun,
        ref: action.ref,
        language: action.language,
        mode: action.mode,
        phase: "submitting",
        interactive: action.interactive,
        tests: action.tests,
        startedAt: Date.now(),
      };
    case "queued": {
      const mine = (action.ref !== undefined && action.ref === state.ref) || action.id === state.id;
      if (!mine) return state;
      if (state.phase !== "submitting" && state.phase !== "idle") return { ...state, id: action.id };
      return { ...state, id: action.id, phase: "queued" };
    }
    case "started":
      if (action.id !== state.id || state.phase === "finished") return state;
      return { ...state, phase: "running" };
    case "output": {
      if (action.id !== state.id || state.phase === "finished") return state;
      const streamed = { ...state.streamed, [action.stream]: state.streamed[action.stream] + action.data };
      const next = append({ ...state, streamed }, action.stream, action.data);
      return next.phase === "queued" ? { ...next, phase: "running" } : next;
    }
    case "finished": {
      if (action.id !== state.id || state.phase === "finished") return state;
      const { result } = action;
      let next: RunState = { ...state, phase: "finished", result, finishedAt: Date.now(), stopping: false };
      // Output streamed while the socket was down (or dropped for a slow
      // page) is missing from the chunks; the stored result has all of it.
      const complete = state.streamed.stdout === result.stdout && state.streamed.stderr === result.stderr;
      if (!complete && !state.clipped) {
        const notes = state.chunks.filter((chunk) => chunk.kind === "info");
        const noted = state.chunks.length > 0 ? [{ kind: "info" as const, text: "Output below is the stored result." }] : [];
        next = { ...next, chunks: [...notes, ...noted, ...chunksOf(result)] };
      }
      return next;
    }
    case "failed":
      if (action.ref !== undefined && action.ref !== state.ref) return state;
      if (!isActive(state)) return state;
      return { ...state, phase: "failed", error: action.message, finishedAt: Date.now(), stopping: false };
    case "stdin":
      return append(state, "stdin", action.text);
    case "stdinClosed":
      return { ...append(state, "info", "End of input sent."), stdinClosed: true };
    case "stopping":
      return { ...state, stopping: true };
    case "note":
      return append(state, "info", action.text);
    case "load": {
      const { submission } = action;
      const result = submission.status === "completed" ? submission.result : null;
      return {
        ...initialRun,
        id: submission.id,
        language: submission.language,
        mode: submission.tests?.length || result?.tests?.length ? "tests" : "run",
        phase: result ? "finished" : submission.status === "running" ? "running" : "queued",
        chunks: result ? chunksOf(result) : [],
        streamed: result ? { stdout: result.stdout, stderr: result.stderr } : { stdout: "", stderr: "" },
        result,
        tests: submission.tests ?? [],
        startedAt: Date.parse(submission.created_at) || null,
        finishedAt: submission.finished_at ? Date.parse(submission.finished_at) : null,
        restored: true,
        stdinClosed: true,
      };
    }
    case "clear":
      return isActive(state) ? { ...state, chunks: [], clipped: false } : { ...initialRun };
  }
}
