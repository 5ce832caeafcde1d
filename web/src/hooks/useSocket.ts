// The page's one WebSocket (socket.ts) for as long as the component using it
// is mounted: its connection state for the pill, `send`, and the handlers
// (kept in a ref, so the socket is opened once and never re-created).

import { useCallback, useEffect, useRef, useState } from "react";
import { listSubmissions, socketUrl } from "../api";
import { RceSocket, type ClientFrame, type ConnectionState, type ServerEvent } from "../socket";

export interface SocketCallbacks {
  onEvent(event: ServerEvent): void;
  /** A connection is open; `reconnected` is false only for the very first. */
  onOpen(reconnected: boolean): void;
  /** The server refused the token: the session is over. */
  onRefused(): void;
}

export function useSocket(callbacks: SocketCallbacks) {
  const [connection, setConnection] = useState<ConnectionState>("connecting");
  const callbacksRef = useRef(callbacks);
  callbacksRef.current = callbacks;
  const socketRef = useRef<RceSocket | null>(null);

  useEffect(() => {
    const socket = new RceSocket(socketUrl, {
      onEvent: (event) => callbacksRef.current.onEvent(event),
      onState: (state) => setConnection(state),
      onOpen: (reconnected) => callbacksRef.current.onOpen(reconnected),
      onRefused: (definite) => {
        if (definite) callbacksRef.current.onRefused();
        // An HTTP request says whether the token is still good (a 401
        // signs out through the API module's handler).
        else listSubmissions(null, 1).catch(() => {});
      },
    });
    socketRef.current = socket;
    socket.start();
    return () => {
      socket.stop();
      socketRef.current = null;
    };
  }, []);

  /** Sends a frame; false when there is no open connection. */
  const send = useCallback((frame: ClientFrame) => socketRef.current?.send(frame) ?? false, []);
  const isOpen = useCallback(() => socketRef.current?.isOpen ?? false, []);
  return { connection, send, isOpen };
}
