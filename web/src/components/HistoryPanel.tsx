// History: the signed-in user's submissions, newest first, a page at a time
// (`next` → `before`). Opening one reloads its code and result.

import { useCallback, useEffect, useState } from "react";
import { ApiError, listSubmissions, sourceOf, type Language, type Submission } from "../api";
import { relativeTime } from "../format";
import { VerdictBadge } from "./Badges";
import "./panel.css";
import "./HistoryPanel.css";

interface Props {
  languages: Language[];
  /** Changes whenever a job finishes, to refresh the list. */
  refreshKey: number;
  currentId: string | null;
  onOpen(id: string): void;
}

export function HistoryPanel({ languages, refreshKey, currentId, onOpen }: Props) {
  const [items, setItems] = useState<Submission[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async (before: string | null) => {
    setLoading(true);
    setError(null);
    try {
      const page = await listSubmissions(before);
      setItems((old) => (before ? [...old, ...page.submissions] : page.submissions));
      setNext(page.next);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : "Could not load the history.");
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void load(null);
  }, [load, refreshKey]);

  const nameOf = (id: string) => languages.find((l) => l.id === id)?.name ?? id;

  return (
    <section className="history" aria-label="History">
      <div className="panel-bar">
        <span className="panel-title">Your submissions</span>
        <div className="spacer" />
        <button type="button" className="btn ghost small" onClick={() => void load(null)} disabled={loading}>
          Refresh
        </button>
      </div>
      <div className="history-body">
        {error && (
          <p className="error-text" role="alert">
            {error}
          </p>
        )}
        {!error && items.length === 0 && !loading && (
          <div className="empty">
            <p>Nothing here yet.</p>
            <p className="muted small">Every program you run is kept here.</p>
          </div>
        )}
        <ul className="history-list" aria-label="Submissions">
          {items.map((item) => (
            <li key={item.id}>
              <button
                type="button"
                className={`history-item${item.id === currentId ? " current" : ""}`}
                onClick={() => onOpen(item.id)}
                aria-label={`Open ${nameOf(item.language)} submission from ${relativeTime(item.created_at)}`}
              >
                <span className="history-what">
                  <span className="history-lang">{nameOf(item.language)}</span>
                  <code className="history-snippet">{snippet(item)}</code>
                </span>
                {item.status === "completed" && item.result ? (
                  <VerdictBadge verdict={item.result.verdict} />
                ) : (
                  <span className="badge tone-info">{item.status}</span>
                )}
                <span className="history-meta">
                  <time dateTime={item.created_at} title={new Date(item.created_at).toLocaleString()}>
                    {relativeTime(item.created_at)}
                  </time>
                  <code>{item.id.slice(-8)}</code>
                </span>
              </button>
            </li>
          ))}
        </ul>
        {next && (
          <button type="button" className="btn ghost wide" onClick={() => void load(next)} disabled={loading}>
            {loading ? "Loading…" : "Load older"}
          </button>
        )}
      </div>
    </section>
  );
}

/** The first meaningful line of the program, for recognising it in the list. */
function snippet(item: Submission): string {
  const source = sourceOf(item);
  if (!source) return "";
  const lines = source.split("\n").map((line) => line.trim());
  const line = lines.find((l) => l && !/^(#|\/\/|\/\*|\*|import |#include|package |using |use )/.test(l)) ?? lines.find(Boolean) ?? "";
  return line.length > 60 ? `${line.slice(0, 60)}…` : line;
}
