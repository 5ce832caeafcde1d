// Shared helpers of the browser tests: a real `rce serve` (real Redis, real
// Docker engine, real containers) on a fixed free port so it can be
// restarted under an open page, Debian's Chromium driven by playwright-core,
// and the steps every test repeats (sign up, type code, run, wait).
//
// Environment: RCE_BIN (the rce binary; default target/debug/rce),
// CHROMIUM (default /usr/bin/chromium), DOCKER_HOST and RCE_REDIS__URL (else
// read from .rce/env, as tests/common/mod.rs does). Screenshots go to
// artifacts/web-e2e/ at the repository root (git-ignored).

import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const artifacts = path.join(repo, "artifacts", "web-e2e");

/** Variables from .rce/env (written by scripts/setup.sh), overridden by the environment. */
function serviceEnv() {
  const vars = {};
  try {
    for (const raw of fs.readFileSync(path.join(repo, ".rce/env"), "utf8").split("\n")) {
      const line = raw.trim().replace(/^export /, "");
      const at = line.indexOf("=");
      if (at > 0) vars[line.slice(0, at)] = line.slice(at + 1).replace(/^["']|["']$/g, "");
    }
  } catch {
    // No .rce/env: the defaults (local Docker socket, Redis on 6379) apply.
  }
  for (const key of ["DOCKER_HOST", "RCE_REDIS__URL"]) if (process.env[key]) vars[key] = process.env[key];
  return vars;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * A running rce with its own Redis prefix and SQLite file. `restart()` kills
 * it and starts it again on the same port and state, so an open page can
 * reconnect to it.
 */
export class Server {
  static async start() {
    const server = new Server(await freePort());
    await server.launch();
    return server;
  }

  constructor(port) {
    this.port = port;
    this.base = `http://127.0.0.1:${port}`;
    this.prefix = `e2e-${randomUUID().replace(/-/g, "")}`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "rce-web-e2e-"));
    this.child = null;
  }

  get logPath() {
    return path.join(this.dir, "rce.log");
  }

  log() {
    try {
      return fs.readFileSync(this.logPath, "utf8").split("\n").slice(-60).join("\n");
    } catch {
      return "";
    }
  }

  async launch() {
    const bin = process.env.RCE_BIN ?? path.join(repo, "target/debug/rce");
    if (!fs.existsSync(bin)) throw new Error(`no rce binary at ${bin}: build it (cargo build) or set RCE_BIN`);
    const logFd = fs.openSync(this.logPath, "a");
    // RCE_BIN is the harness's, not a setting: rce would refuse it as an unknown key.
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => key !== "RCE_BIN"),
    );
    const child = spawn(bin, ["serve", "--role", "all"], {
      cwd: repo,
      env: {
        ...inherited,
        ...serviceEnv(),
        RCE_CONFIG: path.join(this.dir, "none.toml"),
        RCE_HTTP__BIND: `127.0.0.1:${this.port}`,
        RCE_HTTP__WEB_DIR: path.join(repo, "web/dist"),
        RCE_REDIS__PREFIX: this.prefix,
        RCE_STORE__SQLITE_PATH: path.join(this.dir, "rce.db"),
        RCE_WORKER__CONCURRENCY: "2",
        // A job left by a killed server is taken over soon after the restart.
        RCE_WORKER__CLAIM_IDLE_MS: "3000",
        // Every test signs up from 127.0.0.1; the per-address login throttle
        // is not what these tests are about.
        RCE_AUTH__THROTTLE__ATTEMPTS_PER_MINUTE: "600",
        RCE_LOG__LEVEL: "info,rce=debug",
      },
      stdio: ["ignore", "pipe", logFd],
    });
    fs.closeSync(logFd);
    this.child = child;
    const lines = readline.createInterface({ input: child.stdout });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`rce did not start within 60 s\n${this.log()}`)), 60_000);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`rce exited (${code}) before listening; is Redis/Docker set up (make setup)?\n${this.log()}`));
      });
      lines.on("line", (line) => {
        if (line.startsWith("rce listening on ")) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.removeAllListeners("exit");
  }

  /** SIGTERM (or `signal`), and wait for the exit (SIGKILL after `graceMs`). */
  async stop(signal = "SIGTERM", graceMs = 45_000) {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
    this.child = null;
  }

  /** Stops the server and removes its temporary directory (database, log),
   * unless WEB_E2E_KEEP is set (to read rce.log after a failure). */
  async dispose() {
    await this.stop();
    if (process.env.WEB_E2E_KEEP) console.log(`rce's files are kept in ${this.dir}`);
    else fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * A crash and a restart: SIGKILL drops every connection at once (a
   * graceful SIGTERM keeps WebSockets open for actix's shutdown timeout),
   * and the new process takes over the job the old one was running.
   */
  async restart() {
    await this.stop("SIGKILL");
    await this.launch();
  }
}

/** Debian's Chromium, headless; playwright gives it a fresh, empty profile. */
export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
  if (!fs.existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath}: apt-get install -y chromium`);
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}

/**
 * A fresh context (its own storage) and page at `size`, recording page
 * errors and every request that leaves the server's origin. `device` adds
 * playwright context options (isMobile, hasTouch, deviceScaleFactor) to
 * emulate a phone rather than a narrow desktop window.
 */
export async function openPage(browser, server, size = { width: 1280, height: 800 }, device = {}) {
  const context = await browser.newContext({ viewport: size, ...device });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const problems = { pageErrors: [], foreign: [], consoleErrors: [] };
  page.on("pageerror", (error) => problems.pageErrors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") problems.consoleErrors.push(message.text());
  });
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(server.base) && !url.startsWith("data:") && !url.startsWith("blob:")) problems.foreign.push(url);
  });
  await page.goto(server.base);
  return { context, page, problems };
}

export async function screenshot(page, name) {
  fs.mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, `${name}.png`) });
}

export function uniqueUser() {
  return `e2e_${randomUUID().slice(0, 8)}`;
}

/** Registers a new account through the form and waits for the editor. */
export async function signUp(page, username = uniqueUser(), password = "correct horse battery") {
  await page.getByRole("tab", { name: "Register" }).click();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await waitForEditor(page);
  return { username, password };
}

export async function waitForEditor(page) {
  await page.locator(".monaco-editor .view-lines").waitFor();
  await page.getByRole("status", { name: "Connection: Connected" }).waitFor();
}

export async function chooseLanguage(page, id) {
  await page.getByLabel("Language").selectOption(id);
  await page.locator(`.editor[data-language="${id}"] .monaco-editor .view-lines`).waitFor();
}

/**
 * Replaces the editor's text the way a user pasting it would: select all,
 * delete, then a paste event on Monaco's focused input (a paste is inserted
 * verbatim, where typed newlines would be auto-indented).
 */
export async function setCode(page, code) {
  await page.locator(".monaco-editor .view-lines").click();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Delete");
  await page.evaluate((text) => {
    const data = new DataTransfer();
    data.setData("text/plain", text);
    const event = new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true });
    document.activeElement?.dispatchEvent(event);
  }, code);
  // Monaco applies a paste asynchronously: a Run pressed before it lands
  // would submit the emptied editor (seen once as "source is empty").
  const want = code.trimEnd();
  await expectEditorText(page, { test: (text) => text.trimEnd() === want, toString: () => JSON.stringify(want) });
}

/** The editor's text, from Monaco's rendered lines (non-breaking spaces normalised). */
export async function editorText(page) {
  return page.evaluate(() => {
    const lines = [...document.querySelectorAll(".monaco-editor .view-lines .view-line")];
    return lines
      .map((line) => ({ top: parseFloat(line.style.top), text: line.textContent.replace(/\u00a0/g, " ") }))
      .sort((a, b) => a.top - b.top)
      .map((line) => line.text)
      .join("\n");
  });
}

/** Waits until the editor shows text matching `pattern` (Monaco renders asynchronously). */
export async function expectEditorText(page, pattern, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  let text = "";
  while (Date.now() < deadline) {
    text = await editorText(page);
    if (pattern.test(text)) return text;
    await page.waitForTimeout(100);
  }
  throw new Error(`the editor shows ${JSON.stringify(text)}, not ${pattern}`);
}

export function output(page) {
  return page.getByRole("log", { name: "Program output" });
}

/**
 * Runs the editor's program and waits for its result (the console is cleared
 * first, so an earlier result cannot be mistaken for this one).
 */
export async function runAndWait(page, timeout = 60_000) {
  const clear = page.getByRole("button", { name: "Clear console" });
  if (await clear.isEnabled()) await clear.click();
  await page.locator(".run-status.phase-idle").waitFor();
  await page.getByRole("button", { name: "Run" }).click();
  return waitFinished(page, timeout);
}

/** Waits until the run status says the job finished; returns the verdict badge text. */
export async function waitFinished(page, timeout = 60_000) {
  await page.locator(".run-status.phase-finished").waitFor({ timeout });
  return (await page.locator(".result-bar .badge.verdict").textContent())?.trim();
}
