// The languages the server offers (GET /languages), starting from the
// built-in list so the picker works before, or without, the answer. When the
// list arrives, a chosen language it lacks gives way to its first one.

import { useEffect, useState } from "react";
import { ApiError, languages as fetchLanguages, type Language } from "../api";
import { FALLBACK_LANGUAGES } from "../starters";

export function useLanguages(setLanguage: (update: (chosen: string) => string) => void) {
  const [languages, setLanguages] = useState<Language[]>(FALLBACK_LANGUAGES);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    fetchLanguages()
      .then((list) => {
        if (list.length === 0) return;
        setLanguages(list);
        setError(null);
        setLanguage((chosen) => (list.some((l) => l.id === chosen) ? chosen : list[0].id));
      })
      .catch((caught) => setError(caught instanceof ApiError ? caught.message : "Could not load the languages."));
    // Once, on mount; setLanguage is a state setter.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return { languages, error };
}
