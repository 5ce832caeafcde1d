// Small pure helpers: how verdicts, durations, memory, signals and dates are
// shown, and how the arguments field is split into argv.

export type Tone = "good" | "bad" | "warn" | "info" | "muted";

const VERDICTS: Record<string, { label: string; tone: Tone }> = {
  ok: { label: "OK", tone: "good" },
  wrong_answer: { label: "Wrong answer", tone: "bad" },
  compile_error: { label: "Compile error", tone: "bad" },
  runtime_error: { label: "Runtime error", tone: "bad" },
  time_limit_exceeded: { label: "Time limit exceeded", tone: "warn" },
  memory_limit_exceeded: { label: "Memory limit exceeded", tone: "warn" },
  output_limit_exceeded: { label: "Output limit exceeded", tone: "warn" },
  internal_error: { label: "Internal error", tone: "muted" },
  killed: { label: "Stopped", tone: "muted" },
  stopped: { label: "Stopped", tone: "muted" },
};

export function verdictLabel(verdict: string): string {
  return VERDICTS[verdict]?.label ?? humanize(verdict);
}

export function verdictTone(verdict: string): Tone {
  return VERDICTS[verdict]?.tone ?? "muted";
}

function humanize(code: string): string {
  const text = code.replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function formatKb(kb: number): string {
  if (kb < 1024) return `${kb} KB`;
  const mb = kb / 1024;
  return `${mb.toFixed(mb < 10 ? 1 : 0)} MB`;
}

const SIGNALS: Record<number, string> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  4: "SIGILL",
  5: "SIGTRAP",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  9: "SIGKILL",
  11: "SIGSEGV",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
  24: "SIGXCPU",
  25: "SIGXFSZ",
};

export function signalName(signal: number): string {
  return SIGNALS[signal] ?? `signal ${signal}`;
}

export function relativeTime(iso: string, now = Date.now()): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const seconds = Math.round((now - then) / 1000);
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  if (days < 7) return `${days} d ago`;
  return new Date(then).toLocaleDateString();
}

/**
 * Splits the arguments field the way a shell would for plain words: spaces
 * separate, single and double quotes group, a backslash escapes the next
 * character (outside single quotes).
 */
export function splitArgs(text: string): string[] {
  const args: string[] = [];
  let current = "";
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote === "'") {
      if (ch === "'") quote = null;
      else current += ch;
    } else if (ch === "\\" && i + 1 < text.length) {
      current += text[++i];
      inWord = true;
    } else if (quote === '"') {
      if (ch === '"') quote = null;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) args.push(current);
      current = "";
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (inWord) args.push(current);
  return args;
}

/** Joins argv back into the arguments field (for a reloaded submission). */
export function joinArgs(args: string[]): string {
  return args.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(" ");
}

/** Compares program output to an expected output the way a judge usually does. */
export function sameOutput(actual: string, expected: string): boolean {
  const norm = (s: string) =>
    s
      .replace(/\r\n/g, "\n")
      .split("\n")
      .map((line) => line.trimEnd())
      .join("\n")
      .trimEnd();
  return norm(actual) === norm(expected);
}
