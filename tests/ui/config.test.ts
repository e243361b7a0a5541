/// <reference lib="dom" />
/**
 * The Config page in a real browser against a real router: read-only by
 * default; with `ui.configEditor: true` (turned on by a SIGHUP reload) an
 * edit is checked as it is typed, an invalid one shows its error at its key
 * and line and applies nothing, a valid one shows what it would restart and
 * restarts only the model it changed (the other keeps its pid), and a file
 * changed on disk since it was opened is refused without being overwritten.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { demoCmd, eventually, type RouterProcess, startRouter } from "../e2e/harness.ts";
import { type Browser, chromiumMissing, openBrowser, pidOf, screenshots } from "./browser.ts";

const SECRET = "token-from-the-environment";

describe("dashboard: config", { skip: chromiumMissing() }, () => {
  let router: RouterProcess;
  let browser: Browser;
  const editor = () => browser.page.locator("#config-editor");
  const file = () => readFileSync(router.configPath, "utf8");
  /** The editor's text once the server's check of it is in. */
  const checked = async () => {
    await browser.page.locator("#config-status", { hasText: /^(No changes|Valid|\d+ issues?)/ }).waitFor();
  };

  before(async () => {
    router = await startRouter(
      `
groups:
  all: { swap: false, members: [alpha, beta] }
models:
  alpha:
    cmd: ${demoCmd("--model alpha")}
  beta:
    cmd: ${demoCmd("--model beta")}
    env: ["API_TOKEN=\${env.UI_CONFIG_SECRET}"]
`,
      [],
      { UI_CONFIG_SECRET: SECRET },
    );
    browser = await openBrowser();
  });

  after(async () => {
    await browser?.close();
    if (router) await router.stop();
  });

  test("read-only by default: the file highlighted, and writes refused", async () => {
    const { page } = browser;
    await page.goto(`${router.url}/ui/#/config`);
    await page.locator("#config-read-only", { hasText: "set `ui: {configEditor: true}`" }).waitFor();
    await page.locator("#config-view .y-key", { hasText: "models" }).waitFor();
    assert.equal(await editor().count(), 0);
    const before = file();
    const { etag } = await (await fetch(`${router.url}/api/config`)).json();
    const refused = await fetch(`${router.url}/api/config`, { method: "PUT", headers: { "if-match": etag }, body: "models: {}\n" });
    assert.equal(refused.status, 403);
    assert.equal((await refused.json()).error.code, "config_editor_disabled");
    assert.equal(file(), before, "nothing was written");
  });

  test("ui.configEditor: true turns the editor on (after a SIGHUP reload); the effective config masks secrets", async () => {
    const { page } = browser;
    writeFileSync(router.configPath, `ui:\n  configEditor: true\n${file()}`);
    router.proc.kill("SIGHUP");
    await router.waitForOutput(/config reloaded; no model changed/);
    await page.reload();
    await editor().waitFor();
    assert.equal(await editor().inputValue(), file());
    await page.click('.tabs a[data-tab="effective"]');
    const effective = page.locator("#effective");
    await effective.locator(".y-line", { hasText: "API_TOKEN" }).waitFor();
    assert.match(await effective.innerText(), /API_TOKEN: "?\*\*\*"?/);
    assert.ok(!(await effective.innerText()).includes(SECRET));
    await page.click('.tabs a[data-tab="file"]');
    await editor().waitFor();
  });

  test("an invalid edit shows its error at its key and line, and applies nothing", async () => {
    const { page } = browser;
    for (const model of ["alpha", "beta"]) assert.equal((await fetch(`${router.url}/api/models/load/${model}`, { method: "POST" })).status, 200);
    const pids = { alpha: await pidOf(router.url, "alpha"), beta: await pidOf(router.url, "beta") };
    const before = file();
    // Typed at the end of the file: a setting of the last model, beta.
    await editor().focus();
    await page.keyboard.press("Control+End");
    await page.keyboard.type("    ttl: soon\n");
    const line = before.split("\n").length;
    const issue = page.locator(`#config-issues li[data-path="models.beta.ttl"][data-line="${line}"]`);
    await issue.waitFor();
    assert.match(await issue.innerText(), /must be an integer >= -1 \(got "soon"\)/);
    await page.locator(`.code-line-number.has-error[data-line="${line}"]`).waitFor();
    await page.locator(`.code-line.has-error[data-line="${line}"]`).waitFor();
    await page.locator("#config-status", { hasText: "1 issue" }).waitFor();
    assert.ok(await page.locator("#config-apply").isDisabled(), "Apply waits for a valid config");
    await issue.getByRole("button", { name: `line ${line}` }).click();
    const caretLine = await editor().evaluate((area) => {
      const textarea = area as HTMLTextAreaElement;
      return textarea.value.slice(0, textarea.selectionStart).split("\n").length;
    });
    assert.equal(caretLine, line, "the issue's button puts the caret on its line");
    // The server refuses it too, whoever sends it.
    const { etag } = await (await fetch(`${router.url}/api/config`)).json();
    const refused = await fetch(`${router.url}/api/config`, { method: "PUT", headers: { "if-match": etag }, body: await editor().inputValue() });
    assert.equal(refused.status, 422);
    const body = await refused.json();
    assert.equal(body.error.code, "config_invalid");
    assert.deepEqual(body.error.issues.map((i: { path: string; line: number }) => [i.path, i.line]), [["models.beta.ttl", line]]);
    assert.equal(file(), before, "nothing was written");
    assert.deepEqual({ alpha: await pidOf(router.url, "alpha"), beta: await pidOf(router.url, "beta") }, pids, "nothing restarted");
    await screenshots(page, "config-issue");
    await page.click("#config-revert");
    await checked();
  });

  test("a valid edit shows its diff and what it restarts; Apply restarts only the changed model", async () => {
    const { page } = browser;
    const before = file();
    const alphaPid = await pidOf(router.url, "alpha");
    const betaPid = await pidOf(router.url, "beta");
    const edited = before.replace("--model beta", "--model beta --token-ms 3");
    assert.notEqual(edited, before);
    await editor().fill(edited);
    await page.locator("#config-status", { hasText: "Valid" }).waitFor();
    assert.equal(await page.locator('#config-plan dd[data-plan="restarted"]').innerText(), "beta");
    assert.equal(await page.locator('#config-plan dd[data-plan="changed"]').count(), 0, "alpha is not touched");
    await page.check("#config-show-diff");
    await page.locator("#config-diff .diff-add", { hasText: "--model beta --token-ms 3" }).waitFor();
    await page.locator("#config-diff .diff-del", { hasText: /--model beta$/ }).waitFor();
    await screenshots(page, "config-diff");
    await page.click("#config-apply");
    await page.locator("#config-outcome", { hasText: "Applied: changed beta." }).waitFor();
    assert.equal(file(), edited, "the file holds the edit");
    assert.equal(readFileSync(`${router.configPath}.bak`, "utf8"), before, "the previous version is kept");
    await router.waitForOutput(/config reloaded; changed: beta;/);
    const restarted = await eventually(async () => {
      const pid = await pidOf(router.url, "beta");
      return pid !== null && pid !== betaPid && pid;
    }, 20_000, "beta restarted with a new pid");
    assert.ok(restarted);
    assert.equal(await pidOf(router.url, "alpha"), alphaPid, "the unchanged model kept its process");
    await page.locator("#config-status", { hasText: "No changes" }).waitFor();
  });

  test("a file changed on disk since it was opened is refused, not overwritten; the edit can then be compared and applied", async () => {
    const { page } = browser;
    const onDisk = `${file()}# written by someone else\n`;
    writeFileSync(router.configPath, onDisk);
    const edited = (await editor().inputValue()).replace("  alpha:\n", "  alpha:\n    name: Alpha the first\n");
    await editor().fill(edited);
    await page.locator("#config-status", { hasText: "Valid" }).waitFor();
    await page.click("#config-apply");
    await page.locator("#config-outcome", { hasText: "changed on disk since it was opened" }).waitFor();
    assert.equal(file(), onDisk, "the other writer's version stays");
    assert.equal(await editor().inputValue(), edited, "the edit stays in the editor");
    // The refused PUT is the one error chromium logs here (every 4xx is logged); the last test checks no other appears.
    const refusal = browser.errors.findIndex((e) => /status of 409 \(Conflict\)/.test(e));
    assert.ok(refusal >= 0, "chromium saw the 409");
    browser.errors.splice(refusal, 1);
    await page.click("#config-rebase");
    await page.check("#config-show-diff");
    await page.locator("#config-diff .diff-del", { hasText: "# written by someone else" }).waitFor();
    await page.locator("#config-diff .diff-add", { hasText: "name: Alpha the first" }).waitFor();
    await page.locator('#config-plan dd[data-plan="updated"]', { hasText: "alpha" }).waitFor();
    await page.click("#config-apply");
    await page.locator("#config-outcome", { hasText: "Applied: no model changed." }).waitFor();
    assert.equal(file(), edited);
    const models = await (await fetch(`${router.url}/v1/models`)).json();
    assert.equal(models.data.find((m: { id: string }) => m.id === "alpha").name, "Alpha the first");
  });

  test("looks right at desktop and phone width, light and dark (tests/artifacts/)", async () => {
    await screenshots(browser.page, "config");
    assert.deepEqual(browser.errors, [], "no errors in the page");
  });
});
