// The HTTP side of rce's API v1 (see ARCHITECTURE.md): accounts, languages
// and submissions. Every request goes to the page's own origin; the token of
// the signed-in user rides along as `Authorization: Bearer`.

export interface Language {
  id: string;
  name: string;
  version: string;
  aliases?: string[];
  compiled?: boolean;
}

export interface TestResult {
  verdict: string;
  exit_code: number | null;
  signal: number | null;
  stdout: string;
  stderr: string;
  time_ms: number;
  wall_ms?: number;
  memory_kb?: number;
}

export interface JobResult {
  verdict: string;
  exit_code: number | null;
  signal: number | null;
  stdout: string;
  stderr: string;
  compile_output: string | null;
  time_ms: number;
  wall_ms: number;
  memory_kb: number;
  truncated: boolean;
  tests?: TestResult[];
  message?: string;
}

export interface SourceFile {
  name: string;
  content: string;
}

export interface TestCase {
  stdin: string;
  expected_stdout: string;
}

export type JobStatus = "queued" | "running" | "completed";

export interface Submission {
  id: string;
  status: JobStatus;
  language: string;
  created_at: string;
  finished_at: string | null;
  result: JobResult | null;
  // What was submitted, where the server includes it.
  source?: string;
  files?: SourceFile[];
  stdin?: string;
  args?: string[];
  tests?: TestCase[];
}

export interface SubmissionBody {
  language: string;
  source: string;
  stdin?: string;
  args?: string[];
  tests?: TestCase[];
  interactive?: boolean;
}

export interface SubmissionPage {
  submissions: Submission[];
  next: string | null;
}

/** Who is signed in. `token: null` is a server without accounts. */
export interface Session {
  username: string;
  token: string | null;
  /** Milliseconds since the epoch, or null when the token does not expire. */
  expiresAt: number | null;
}

/** An API error, carrying the server's stable code (`limits.memory_mb`, …). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const SESSION_KEY = "rce.session";

export function loadSession(): Session | null {
  try {
    const session = JSON.parse(localStorage.getItem(SESSION_KEY) ?? "null") as Session | null;
    if (!session || typeof session.username !== "string") return null;
    if (session.expiresAt !== null && session.expiresAt <= Date.now()) return null;
    return session;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null) {
  if (session) localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else localStorage.removeItem(SESSION_KEY);
}

let currentToken: string | null = null;
let onUnauthorized: () => void = () => {};

/** Sets the token sent with every request, and what to do when it is refused. */
export function configureAuth(token: string | null, unauthorized: () => void) {
  currentToken = token;
  onUnauthorized = unauthorized;
}

async function request<T>(method: string, path: string, body?: unknown, auth = true): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (auth && currentToken) headers.authorization = `Bearer ${currentToken}`;
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "network", "The server cannot be reached.");
  }
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data as { error?: { code?: string; message?: string } } | null)?.error;
    if (response.status === 401 && auth) onUnauthorized();
    throw new ApiError(
      response.status,
      error?.code ?? `http.${response.status}`,
      error?.message ?? (text.slice(0, 200) || `${response.status} ${response.statusText}`),
    );
  }
  return data as T;
}

/** Creates an account. */
export function register(username: string, password: string) {
  return request<{ id: string; username: string }>("POST", "/api/v1/auth/register", { username, password }, false);
}

/** Signs in; the token and its lifetime become a [`Session`]. */
export async function login(username: string, password: string): Promise<Session> {
  const reply = await request<{ token: string; expires_in?: number }>(
    "POST",
    "/api/v1/auth/login",
    { username, password },
    false,
  );
  const expiresAt = typeof reply.expires_in === "number" ? Date.now() + reply.expires_in * 1000 : null;
  return { username, token: reply.token, expiresAt };
}

export function languages() {
  return request<Language[]>("GET", "/api/v1/languages");
}

export function createSubmission(body: SubmissionBody) {
  return request<{ id: string; status: JobStatus }>("POST", "/api/v1/submissions", body);
}

export function getSubmission(id: string) {
  return request<Submission>("GET", `/api/v1/submissions/${encodeURIComponent(id)}`);
}

export function listSubmissions(before: string | null, limit = 20) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (before) query.set("before", before);
  return request<SubmissionPage>("GET", `/api/v1/submissions?${query}`);
}

/** The WebSocket address for the current page and token. */
export function socketUrl(): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = currentToken ? `?token=${encodeURIComponent(currentToken)}` : "";
  return `${scheme}//${location.host}/api/v1/ws${query}`;
}

/** The program text of a stored submission, whichever way the server gives it. */
export function sourceOf(submission: Submission): string | null {
  if (typeof submission.source === "string") return submission.source;
  if (submission.files && submission.files.length > 0) return submission.files[0].content;
  return null;
}
