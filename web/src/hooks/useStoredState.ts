// State that outlives the page: a `useState` whose value is read from the
// browser's storage (storage.ts) on mount and written back on every change,
// and the per-language code, kept in memory once edited and in storage.

import { useCallback, useEffect, useState } from "react";
import { stored } from "../storage";

/** `useState` backed by storage: `read` gives the first value, `write` keeps each next one. */
export function useStoredState<T>(read: () => T, write: (value: T) => void) {
  const [value, setValue] = useState<T>(read);
  useEffect(() => write(value), [value, write]);
  return [value, setValue] as const;
}

/** The code per language: what was typed in this page, else what storage
 * kept, else the language's starter program. */
export function useCodes() {
  const [codes, setCodes] = useState<Record<string, string>>({});
  const codeFor = useCallback((language: string, starter: string) => codes[language] ?? stored.code(language) ?? starter, [codes]);
  const setCodeFor = useCallback((language: string, value: string) => {
    setCodes((old) => ({ ...old, [language]: value }));
    stored.setCode(language, value);
  }, []);
  return { codeFor, setCodeFor };
}
