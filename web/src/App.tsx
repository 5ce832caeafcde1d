// The page: the sign-in screen until there is a session, then the editor.
// The editor (and with it Monaco) is loaded lazily, so signing in is quick.

import { lazy, Suspense, useCallback, useEffect, useState } from "react";
import { configureAuth, loadSession, saveSession, type Session } from "./api";
import { Login } from "./components/Login";

const Workbench = lazy(() => import("./Workbench"));

export function App() {
  const [session, setSession] = useState<Session | null>(() => loadSession());
  const [notice, setNotice] = useState<string | null>(null);

  const signOut = useCallback((why: string | null) => {
    saveSession(null);
    configureAuth(null, () => {});
    setNotice(why);
    setSession(null);
  }, []);

  // Set synchronously so the first requests of the editor carry the token.
  configureAuth(session?.token ?? null, () => signOut("Your session has expired. Please sign in again."));

  // Drop the session when its token expires while the page is open.
  useEffect(() => {
    if (!session?.expiresAt) return;
    const left = session.expiresAt - Date.now();
    const timer = setTimeout(() => signOut("Your session has expired. Please sign in again."), Math.max(0, left));
    return () => clearTimeout(timer);
  }, [session, signOut]);

  if (!session) {
    return (
      <Login
        notice={notice}
        onSignedIn={(next) => {
          saveSession(next);
          setNotice(null);
          setSession(next);
        }}
      />
    );
  }
  return (
    <Suspense fallback={<div className="splash">Loading the editor…</div>}>
      <Workbench session={session} onSignOut={() => signOut(null)} onRefused={() => signOut("Your session has expired. Please sign in again.")} />
    </Suspense>
  );
}
