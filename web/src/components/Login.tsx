// Sign in or create an account. Registering signs in right away. A server
// without accounts (no /auth routes: 404) is entered without a token, so a
// development build of rce stays usable.

import { useState, type FormEvent } from "react";
import { ApiError, login, register, type Session } from "../api";
import { Logo } from "./Logo";
import "./Login.css";

type Mode = "signin" | "register";

export function Login({ notice, onSignedIn }: { notice: string | null; onSignedIn: (session: Session) => void }) {
  const [mode, setMode] = useState<Mode>("signin");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === "register") await register(username, password);
      onSignedIn(await login(username, password));
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 404 && caught.code.startsWith("not_found")) {
        onSignedIn({ username: username || "anonymous", token: null, expiresAt: null });
        return;
      }
      setError(describe(caught, mode));
    } finally {
      setBusy(false);
    }
  }

  const registering = mode === "register";
  return (
    <main className="login">
      <form className="login-card" onSubmit={submit} aria-labelledby="login-title">
        <div className="login-brand">
          <Logo />
          <div>
            <h1 id="login-title">{registering ? "Create your account" : "Sign in to rce"}</h1>
            <p className="muted">Run code in nine languages, in a fresh sandbox every time.</p>
          </div>
        </div>
        <div className="segmented" role="tablist" aria-label="Sign in or register">
          <button type="button" role="tab" aria-selected={!registering} onClick={() => setMode("signin")}>
            Sign in
          </button>
          <button type="button" role="tab" aria-selected={registering} onClick={() => setMode("register")}>
            Register
          </button>
        </div>
        {notice && !error && (
          <p className="note" role="status">
            {notice}
          </p>
        )}
        <label className="field">
          <span>Username</span>
          <input
            name="username"
            autoComplete="username"
            autoFocus
            required
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </label>
        <label className="field">
          <span>Password</span>
          <input
            name="password"
            type="password"
            autoComplete={registering ? "new-password" : "current-password"}
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {error && (
          <p className="error-text" role="alert">
            {error}
          </p>
        )}
        <button className="btn primary wide" type="submit" disabled={busy}>
          {busy ? "Please wait…" : registering ? "Create account" : "Sign in"}
        </button>
        <p className="muted small center">
          {registering ? "Already have an account? " : "New here? "}
          <button type="button" className="link" onClick={() => setMode(registering ? "signin" : "register")}>
            {registering ? "Sign in" : "Create an account"}
          </button>
        </p>
      </form>
    </main>
  );
}

function describe(caught: unknown, mode: Mode): string {
  if (!(caught instanceof ApiError)) return "Something went wrong. Please try again.";
  if (caught.status === 0) return "The server cannot be reached. Is rce running?";
  if (caught.status === 401) return "Wrong username or password.";
  if (caught.status === 409) return "That username is taken. Choose another one, or sign in.";
  if (caught.status === 429) return "Too many attempts. Wait a moment and try again.";
  if (mode === "register" && caught.status === 400) return caught.message;
  return caught.message;
}
