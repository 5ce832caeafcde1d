// The browser editor end to end: Debian's Chromium against a real rce with
// real Redis, Docker and containers. Each test signs up a new user, drives
// the page by roles and labels, and saves a screenshot under
// artifacts/web-e2e/. Run with `node --test web/e2e/` (tests/web_e2e.rs does,
// inside `cargo test`, with the freshly built binary).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  Server,
  chooseLanguage,
  expectEditorText,
  launchBrowser,
  openPage,
  runAndWait,
  output,
  screenshot,
  setCode,
  signUp,
  waitFinished,
  waitForEditor,
} from "./harness.mjs";

let server;
let browser;
const opened = [];

async function page(size, device) {
  const session = await openPage(browser, server, size, device);
  opened.push(session.context);
  return session;
}

/**
 * The phone checks: no sideways scroll (the document is no wider than the
 * viewport) and each of `controls` visible and wholly inside the viewport.
 * Prints the measurements, so a run's log shows them.
 */
async function expectFitsPhone(p, controls, when) {
  const { scrollWidth, innerWidth, innerHeight } = await p.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    innerHeight: window.innerHeight,
  }));
  const boxes = [];
  for (const [name, locator] of Object.entries(controls)) {
    assert.ok(await locator.isVisible(), `${when}: ${name} is not visible`);
    const box = await locator.boundingBox();
    const inside = box && box.x >= 0 && box.y >= 0 && box.x + box.width <= innerWidth + 0.5 && box.y + box.height <= innerHeight + 0.5;
    assert.ok(inside, `${when}: ${name} is cut off: ${JSON.stringify(box)} in ${innerWidth}×${innerHeight}`);
    boxes.push(`${name} ${Math.round(box.x)},${Math.round(box.y)} ${Math.round(box.width)}×${Math.round(box.height)}`);
  }
  console.log(`phone, ${when}: scrollWidth ${scrollWidth} / innerWidth ${innerWidth}; ${boxes.join("; ")}`);
  assert.ok(scrollWidth <= innerWidth, `${when}: the page scrolls sideways (scrollWidth ${scrollWidth} > innerWidth ${innerWidth})`);
}

/** A test that, when it fails, leaves a screenshot of its page (FAILED-…)
 * and prints the tail of the server's log, so a failure in CI says more
 * than which locator timed out. */
function it(name, body) {
  test(name, async () => {
    const before = opened.length;
    try {
      await body();
    } catch (error) {
      const slug = name.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
      for (const context of opened.slice(before)) {
        for (const p of context.pages()) await screenshot(p, `FAILED-${slug}`).catch(() => {});
      }
      console.log(`--- the last lines of rce's log after "${name}" failed:\n${server.log()}`);
      throw error;
    }
  });
}

describe("rce web editor", { concurrency: false }, () => {
  before(async () => {
    server = await Server.start();
    browser = await launchBrowser();
  });

  after(async () => {
    for (const context of opened) await context.close().catch(() => {});
    await browser?.close();
    await server?.dispose();
  });

  /** Register, write Python, run: stdout and stderr stream into the console
   * (told apart), the badges show verdict, exit code, CPU, wall and memory,
   * and nothing was loaded from outside the server (Monaco is bundled). */
  it("register → write Python → run → see output", async () => {
    const { page: p, problems } = await page();
    await signUp(p);
    await setCode(p, 'import sys\nprint("hello from the browser")\nprint("to stderr", file=sys.stderr)\n');
    await p.getByRole("button", { name: "Run" }).click();
    assert.equal(await waitFinished(p), "OK");
    await output(p).getByText("hello from the browser").waitFor();
    const stderr = output(p).locator('[data-stream="stderr"]');
    assert.match(await stderr.textContent(), /to stderr/);
    for (const label of [/^Exit: 0$/, /^CPU: /, /^Wall: /, /^Memory: /]) {
      await p.getByLabel(label).waitFor();
    }
    await screenshot(p, "01-run-python");
    assert.deepEqual(problems.foreign, [], "requests left the server's origin");
    assert.deepEqual(problems.pageErrors, []);
    // Monaco's language support is live: Python keywords are tokenized.
    assert.ok((await p.locator(".monaco-editor .view-lines span[class*='mtk']").count()) > 3);
  });

  /** Ctrl+Enter runs; an interactive program is driven line by line from the
   * console's input line, each answer echoed, until it finishes. */
  it("interactive input", async () => {
    const { page: p } = await page();
    await signUp(p);
    await setCode(p, 'name = input("Name? ")\nprint(f"Hello, {name}!")\nage = int(input("Age? "))\nprint(f"Next year: {age + 1}")\n');
    await p.keyboard.press("ControlOrMeta+Enter");
    // It waits for input, so it stays running: the shortcut submitted it.
    await p.getByRole("status", { name: /Run status: (Queued|Running)/ }).waitFor();
    const input = p.getByRole("textbox", { name: "Program input" });
    await output(p).getByText("Name?").waitFor();
    await input.fill("Ada");
    await input.press("Enter");
    await output(p).getByText("Hello, Ada!").waitFor();
    await output(p).getByText("Age?").waitFor();
    await input.fill("36");
    await input.press("Enter");
    assert.equal(await waitFinished(p), "OK");
    await output(p).getByText("Next year: 37").waitFor();
    assert.match(await output(p).locator('[data-stream="stdin"]').first().textContent(), /Ada/);
    await screenshot(p, "02-interactive");
  });

  /** An infinite loop ends with the time-limit verdict badge. */
  it("an infinite loop shows the time-limit verdict", async () => {
    const { page: p } = await page();
    await signUp(p);
    await p.getByRole("checkbox", { name: "Interactive input" }).uncheck();
    await setCode(p, "while True:\n    pass\n");
    await p.getByRole("button", { name: "Run" }).click();
    await p.getByRole("status", { name: /Run status: (Queued|Running)/ }).waitFor();
    assert.equal(await waitFinished(p, 90_000), "Time limit exceeded");
    await screenshot(p, "03-time-limit");
  });

  /** Stop kills a running program: the verdict says it was stopped, with
   * the signal, and the output printed so far stays. */
  it("Stop ends a running program", async () => {
    const { page: p } = await page();
    await signUp(p);
    await setCode(p, 'import time\nprint("working", flush=True)\nwhile True:\n    time.sleep(0.1)\n');
    await p.getByRole("button", { name: "Run" }).click();
    await output(p).getByText("working").waitFor();
    await p.getByRole("button", { name: "Stop" }).click();
    assert.equal(await waitFinished(p, 30_000), "Stopped");
    await p.getByLabel("Signal: SIGKILL").waitFor();
    await output(p).getByText("working").waitFor();
    await screenshot(p, "03b-stopped");
  });

  /** A C program that does not compile shows the compiler's error output and
   * the compile-error verdict. */
  it("a C compile error is shown", async () => {
    const { page: p } = await page();
    await signUp(p);
    await chooseLanguage(p, "c");
    await setCode(p, "#include <stdio.h>\n\nint main(void) {\n    printf(\"%d\\n\", undefined_name);\n    return 0;\n}\n");
    await p.getByRole("button", { name: "Run" }).click();
    assert.equal(await waitFinished(p, 90_000), "Compile error");
    const block = p.getByRole("alert", { name: "Compilation failed" });
    await block.waitFor();
    assert.match(await block.textContent(), /undefined_name/);
    await screenshot(p, "04-compile-error");
  });

  /** Test-case mode: two cases, one right and one wrong, give a pass/fail table. */
  it("test cases give a pass/fail table", async () => {
    const { page: p } = await page();
    await signUp(p);
    await setCode(p, "a, b = map(int, input().split())\nprint(a + b)\n");
    await p.getByRole("tab", { name: /Tests/ }).click();
    await p.getByRole("button", { name: "+ Add case" }).click();
    await p.getByRole("button", { name: "+ Add case" }).click();
    await p.getByLabel("Input for case 1").fill("2 3");
    await p.getByLabel("Expected output for case 1").fill("5");
    await p.getByLabel("Input for case 2").fill("2 2");
    await p.getByLabel("Expected output for case 2").fill("5");
    await p.getByRole("button", { name: "Run tests" }).click();
    const table = p.getByRole("table", { name: "Test results" });
    await table.waitFor({ timeout: 90_000 });
    await p.getByText("1 / 2 passed").waitFor();
    const rows = table.locator("tbody tr");
    assert.match(await rows.nth(0).textContent(), /Passed/);
    assert.match(await rows.nth(1).textContent(), /Wrong answer/);
    await p.getByRole("button", { name: "Details of case 2" }).click();
    await screenshot(p, "05-test-cases");
  });

  /** Code is kept per language in local storage: a reload brings back the
   * language, both programs and the last result. */
  it("reload restores the code", async () => {
    const { page: p } = await page();
    await signUp(p);
    await setCode(p, 'print("kept across reloads")\n');
    await p.getByRole("button", { name: "Run" }).click();
    await waitFinished(p);
    await chooseLanguage(p, "ruby");
    await setCode(p, 'puts "ruby stays too"\n');
    await p.reload();
    await waitForEditor(p);
    assert.equal(await p.getByLabel("Language").inputValue(), "ruby");
    await expectEditorText(p, /puts "ruby stays too"/);
    await chooseLanguage(p, "python");
    await expectEditorText(p, /print\("kept across reloads"\)/);
    await output(p).getByText("kept across reloads").waitFor();
    await screenshot(p, "06-reload");
  });

  /** Accounts: a wrong password is refused with a message; signing out and
   * in again brings back the editor with the code kept in this browser. */
  it("sign out, wrong password, sign in again", async () => {
    const { page: p } = await page();
    const { username, password } = await signUp(p);
    await setCode(p, 'print("still here")\n');
    await p.getByRole("button", { name: "Sign out" }).click();
    await p.getByLabel("Username").fill(username);
    await p.getByLabel("Password").fill("not the password");
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.getByRole("alert").getByText("Wrong username or password.").waitFor();
    await screenshot(p, "07a-wrong-password");
    await p.getByLabel("Password").fill(password);
    await p.getByRole("button", { name: "Sign in" }).click();
    await waitForEditor(p);
    await expectEditorText(p, /print\("still here"\)/);
  });

  /** History lists the user's runs newest first; opening one reloads its
   * code and result. */
  it("history reopens a past submission", async () => {
    const { page: p } = await page();
    await signUp(p);
    for (const word of ["first", "second"]) {
      await setCode(p, `print("${word} run")\n`);
      assert.equal(await runAndWait(p), "OK");
    }
    await setCode(p, "# scratch\n");
    await p.getByRole("tab", { name: "History" }).click();
    const items = p.getByRole("list", { name: "Submissions" }).getByRole("button");
    await items.nth(1).waitFor();
    assert.equal(await items.count(), 2);
    await screenshot(p, "07-history");
    await items.nth(1).click();
    await output(p).getByText("first run").waitFor();
    await expectEditorText(p, /print\("first run"\)/);
  });

  /** A phone (390×844, touch, as an iPhone 12-14 reports it): the page never
   * scrolls sideways, the header's Run and Stop buttons, language picker,
   * connection pill and sign-out lie wholly inside the viewport, a real
   * click on Run runs the program and brings its output into view, and the
   * sticky header keeps Run and the pill on screen down there too. */
  it("usable on a phone", async () => {
    const { page: p } = await page({ width: 390, height: 844 }, { isMobile: true, hasTouch: true, deviceScaleFactor: 3 });
    await signUp(p);
    const header = {
      Run: p.getByRole("button", { name: "Run" }),
      Stop: p.getByRole("button", { name: "Stop" }),
      Language: p.getByLabel("Language"),
      "connection pill": p.getByRole("status", { name: /^Connection: / }),
      "Sign out": p.getByRole("button", { name: "Sign out" }),
    };
    await expectFitsPhone(p, header, "signed in");
    await setCode(p, 'print("small screen")\n');
    await header.Run.click();
    await waitFinished(p);
    await output(p).getByText("small screen").waitFor();
    // Run brought the console into view.
    assert.ok(await output(p).isVisible());
    assert.ok((await p.evaluate(() => window.scrollY)) > 0, "Run did not scroll the console into view");
    await expectFitsPhone(p, header, "after the run, scrolled to the console");
    await screenshot(p, "08-narrow-console");
    await p.evaluate(() => window.scrollTo(0, 0));
    await expectFitsPhone(p, header, "scrolled back up");
    await screenshot(p, "08-narrow-editor");
  });

  /** The server dies and restarts under an open page while a job runs: the
   * page shows it is reconnecting, reconnects by itself, resumes the job
   * (watch; the new process reruns it) and shows its result, and runs the
   * next program normally. */
  it("after the server restarts the page reconnects", async () => {
    const { page: p } = await page();
    await signUp(p);
    await p.getByRole("checkbox", { name: "Interactive input" }).uncheck();
    await setCode(p, "import time\nfor i in range(6):\n    print(f\"tick {i}\", flush=True)\n    time.sleep(0.5)\nprint(\"done ticking\")\n");
    await p.getByRole("button", { name: "Run" }).click();
    await output(p).getByText("tick 0").waitFor();
    const restarting = server.restart();
    await p.getByRole("status", { name: /Connection: (Reconnecting|Offline)/ }).waitFor();
    await restarting;
    await p.getByRole("status", { name: "Connection: Connected" }).waitFor({ timeout: 30_000 });
    assert.equal(await waitFinished(p, 60_000), "OK");
    await output(p).getByText("done ticking").waitFor();
    await output(p).getByText("Reconnected; following the job again.").waitFor();
    await screenshot(p, "09-resumed-after-restart");
    await setCode(p, 'print("after the restart")\n');
    assert.equal(await runAndWait(p), "OK");
    await output(p).getByText("after the restart").waitFor();
    await screenshot(p, "10-run-after-restart");
  });
});
