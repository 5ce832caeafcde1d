// The header's connection pill: the socket's state in words and colour,
// announced to screen readers as a status ("Connection: Connected").

import type { ConnectionState } from "../socket";
import "./ConnectionPill.css";

const CONNECTION_LABEL: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

export function ConnectionPill({ state }: { state: ConnectionState }) {
  return (
    <div className={`pill conn-${state}`} role="status" aria-label={`Connection: ${CONNECTION_LABEL[state]}`} data-state={state}>
      <span className="dot" aria-hidden="true" />
      {CONNECTION_LABEL[state]}
    </div>
  );
}
