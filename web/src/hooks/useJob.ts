// The job shown in the console: its state (the run.ts reducer) fed by the
// socket's events, and the actions on it (submit, stop, stdin, EOF, open a
// stored one). Owns the page's socket (useSocket), since every event is about
// a job.
//
// Submitting goes over the socket (`submit` with a `ref`, answered by
// `queued`); if the socket is down it falls back to `POST /submissions` and
// polls until the socket is back. A reopened socket `watch`es the job that
// was running, so output and the verdict keep coming after a reconnect. The
// last job's id is kept in storage, and reopened (shown, or followed) on mount.

import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import { ApiError, createSubmission, getSubmission, type Submission, type SubmissionBody, type TestCase } from "../api";
import { initialRun, isActive, runReducer } from "../run";
import type { ServerEvent } from "../socket";
import { stored } from "../storage";
import { useSocket } from "./useSocket";

/** How often a job is polled over HTTP while the socket is down. */
const POLL_MS = 1500;

function newRef(): string {
  if (typeof crypto !== "undefined" && "randomUUID" in crypto) return crypto.randomUUID();
  return `r${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
}

export interface SubmitRequest {
  mode: "run" | "tests";
  body: SubmissionBody;
  /** Interactive stdin wanted: granted for a run while the socket is open. */
  interactive: boolean;
  tests: TestCase[];
}

export function useJob({ onRefused }: { onRefused(): void }) {
  const [run, dispatch] = useReducer(runReducer, initialRun);
  /** Bumped when a job finishes, so the history list refreshes. */
  const [historyKey, setHistoryKey] = useState(0);
  const runRef = useRef(run);
  runRef.current = run;
  /** How the job being submitted was sent (a socket submit can be lost in a drop). */
  const transport = useRef<"socket" | "http">("socket");

  const onEvent = (event: ServerEvent) => {
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
  };

  const { connection, send, isOpen } = useSocket({
    onEvent,
    onOpen: (reconnected) => {
      const mine = runRef.current;
      if (mine.id && isActive(mine)) {
        send({ type: "watch", id: mine.id });
        if (reconnected) dispatch({ type: "note", text: "Reconnected; following the job again." });
      } else if (reconnected && mine.phase === "submitting" && transport.current === "socket") {
        dispatch({ type: "failed", message: "The connection dropped before the server accepted the job. Run it again." });
      }
    },
    onRefused,
  });

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

  /** Shows a stored job (and follows it while it runs); the submission, or
   * null when it cannot be had (noted in the console if `fromHistory`). */
  const open = useCallback(
    async (id: string, fromHistory: boolean): Promise<Submission | null> => {
      try {
        const submission = await getSubmission(id);
        dispatch({ type: "load", submission });
        if (submission.status !== "completed") send({ type: "watch", id });
        return submission;
      } catch (caught) {
        if (caught instanceof ApiError && caught.status === 404) stored.setLastJob(null);
        else if (fromHistory) dispatch({ type: "note", text: caught instanceof Error ? caught.message : "Could not open it." });
        return null;
      }
    },
    [send],
  );

  // After a reload, show (or keep following) the last job.
  useEffect(() => {
    const last = stored.lastJob();
    if (last) void open(last, false);
    // Only once, on mount.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  /** Sends a job; false (and nothing sent) while one is still active. */
  const submit = useCallback(
    ({ mode, body, interactive, tests }: SubmitRequest): boolean => {
      if (isActive(runRef.current)) return false;
      const ref = newRef();
      const withTests = mode === "tests";
      const live = !withTests && interactive && isOpen();
      const sent: SubmissionBody = live ? { ...body, interactive: true } : body;
      dispatch({ type: "submit", ref, language: body.language, mode, interactive: live, tests: withTests ? tests : [] });
      if (send({ type: "submit", ref, ...sent })) {
        transport.current = "socket";
        return true;
      }
      transport.current = "http";
      createSubmission(sent)
        .then((reply) => {
          dispatch({ type: "queued", id: reply.id, ref });
          send({ type: "watch", id: reply.id });
        })
        .catch((caught) => dispatch({ type: "failed", ref, message: caught instanceof Error ? caught.message : String(caught) }));
      return true;
    },
    [send, isOpen],
  );

  const stop = useCallback(() => {
    const mine = runRef.current;
    if (!mine.id || !isActive(mine)) return;
    if (send({ type: "kill", id: mine.id })) dispatch({ type: "stopping" });
    else dispatch({ type: "note", text: "Not connected: the job cannot be stopped until the connection is back." });
  }, [send]);

  const sendInput = useCallback(
    (text: string) => {
      const mine = runRef.current;
      if (!mine.id) return;
      if (send({ type: "stdin", id: mine.id, data: text })) dispatch({ type: "stdin", text });
    },
    [send],
  );

  const sendEof = useCallback(() => {
    const mine = runRef.current;
    if (!mine.id) return;
    if (send({ type: "stdin", id: mine.id, eof: true })) dispatch({ type: "stdinClosed" });
  }, [send]);

  const note = useCallback((text: string) => dispatch({ type: "note", text }), []);
  const clear = useCallback(() => dispatch({ type: "clear" }), []);

  return { run, active: isActive(run), connection, historyKey, submit, stop, sendInput, sendEof, open, note, clear };
}
