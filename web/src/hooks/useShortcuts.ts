// Page-wide effects of the editor screen: Ctrl/Cmd+Enter runs from anywhere,
// the editor included (captured before Monaco sees it), and the tab's title
// says when a program is running.

import { useEffect, useRef } from "react";

export function useRunShortcut(run: () => void) {
  const runRef = useRef(run);
  runRef.current = run;
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
        event.preventDefault();
        event.stopPropagation();
        runRef.current();
      }
    };
    window.addEventListener("keydown", onKey, true);
    return () => window.removeEventListener("keydown", onKey, true);
  }, []);
}

export function useRunningTitle(active: boolean) {
  useEffect(() => {
    document.title = active ? "● Running — rce" : "rce — run code";
  }, [active]);
}
