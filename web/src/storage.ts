// What the editor keeps in localStorage between visits: the code per
// language, the chosen language, the stdin panel, the arguments, the test
// cases and the last job (so a reload shows, or resumes, it). Reads never
// throw: a full or disabled storage only loses persistence.

import type { TestCase } from "./api";

const PREFIX = "rce.";

function read<T>(key: string, fallback: T): T {
  try {
    const raw = localStorage.getItem(PREFIX + key);
    return raw === null ? fallback : (JSON.parse(raw) as T);
  } catch {
    return fallback;
  }
}

function write(key: string, value: unknown) {
  try {
    if (value === null || value === undefined) localStorage.removeItem(PREFIX + key);
    else localStorage.setItem(PREFIX + key, JSON.stringify(value));
  } catch {
    // Storage full or disabled: the editor keeps working without it.
  }
}

export const stored = {
  code: (language: string): string | null => read<string | null>(`code.${language}`, null),
  setCode: (language: string, code: string) => write(`code.${language}`, code),
  language: (): string | null => read<string | null>("language", null),
  setLanguage: (language: string) => write("language", language),
  stdin: (): string => read("stdin", ""),
  setStdin: (stdin: string) => write("stdin", stdin),
  args: (): string => read("args", ""),
  setArgs: (args: string) => write("args", args),
  interactive: (): boolean => read("interactive", true),
  setInteractive: (on: boolean) => write("interactive", on),
  tests: (): TestCase[] => read<TestCase[]>("tests", []),
  setTests: (tests: TestCase[]) => write("tests", tests),
  lastJob: (): string | null => read<string | null>("lastJob", null),
  setLastJob: (id: string | null) => write("lastJob", id),
};
