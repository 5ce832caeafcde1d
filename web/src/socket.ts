// One WebSocket to `/api/v1/ws`, kept open for as long as the editor is: it
// reconnects by itself with a capped, jittered backoff (at once when the
// browser comes back online), reports its state for the status pill, and
// tells the app when a connection (re)opens so it can `watch` a job that was
// running when the previous one dropped.

import type { JobResult } from "./api";

export type ConnectionState = "connecting" | "open" | "reconnecting" | "offline";

export type ServerEvent =
  | { type: "queued"; id: string; ref?: string }
  | { type: "started"; id: string }
  | { type: "output"; id: string; stream: "stdout" | "stderr"; data: string }
  | { type: "finished"; id: string; result: JobResult }
  | { type: "error"; id?: string; ref?: string; code?: string; message: string }
  /** Output the server dropped for a page that did not keep up. */
  | { type: "lagged"; id: string; dropped: number }
  /** The session is authenticated and subscribed. */
  | { type: "ready" };

export type ClientFrame =
  | ({ type: "submit"; ref: string } & Record<string, unknown>)
  | { type: "stdin"; id: string; data: string }
  | { type: "stdin"; id: string; eof: true }
  | { type: "kill"; id: string }
  | { type: "watch"; id: string };

export interface SocketHandlers {
  onEvent(event: ServerEvent): void;
  onState(state: ConnectionState, retryInMs: number | null): void;
  /** A connection is open; `reconnected` is false only for the very first. */
  onOpen(reconnected: boolean): void;
  /** The server refused the token (`definite`), or upgrades keep failing
   * before opening, which is what an expired token looks like from here. */
  onRefused(definite: boolean): void;
}

/** First retry delay; doubles per failed attempt up to MAX_DELAY_MS. */
const FIRST_DELAY_MS = 300;
const MAX_DELAY_MS = 5000;
/** A policy-violation close is how the server refuses a bad token. */
const CLOSE_POLICY_VIOLATION = 1008;

export class RceSocket {
  private socket: WebSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private attempts = 0;
  private everOpened = false;
  private stopped = false;
  private readonly online = () => this.reconnectNow();

  constructor(
    private readonly url: () => string,
    private readonly handlers: SocketHandlers,
  ) {}

  start() {
    this.stopped = false;
    window.addEventListener("online", this.online);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.online);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.close(1000, "bye");
    }
  }

  get isOpen(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /** Sends a frame; false when there is no open connection. */
  send(frame: ClientFrame): boolean {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Drops any pending wait and tries again now (the network came back). */
  reconnectNow() {
    if (this.stopped || this.isOpen) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.socket) this.connect();
  }

  private connect() {
    this.handlers.onState(this.everOpened ? "reconnecting" : "connecting", null);
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.url());
    } catch {
      this.scheduleRetry(false);
      return;
    }
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.attempts = 0;
      this.handlers.onState("open", null);
      this.handlers.onOpen(reconnected);
    };
    socket.onmessage = (message) => {
      if (typeof message.data !== "string") return;
      let event: ServerEvent;
      try {
        event = JSON.parse(message.data) as ServerEvent;
      } catch {
        return;
      }
      this.handlers.onEvent(event);
    };
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      if (close.code === CLOSE_POLICY_VIOLATION) {
        this.handlers.onState("offline", null);
        this.handlers.onRefused(true);
        return;
      }
      this.scheduleRetry(opened);
    };
  }

  private scheduleRetry(wasOpen: boolean) {
    if (this.stopped) return;
    if (wasOpen) this.attempts = 0;
    const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempts);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempts += 1;
    // An upgrade refused before opening (an expired token gets a 401, which
    // the browser reports only as a close) is checked over HTTP by the app.
    if (!wasOpen && this.attempts === 2) this.handlers.onRefused(false);
    this.handlers.onState(this.attempts > 4 ? "offline" : "reconnecting", delay);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }
}
