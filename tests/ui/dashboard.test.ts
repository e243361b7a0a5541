/// <reference lib="dom" />
/**
 * The dashboard in a real browser (Debian's chromium driven by
 * playwright-core) against a real router with demo upstreams and an API
 * key: the model list, load → ready, live log lines, a streamed playground
 * reply, the activity table, unload; screenshots at desktop and phone width
 * go to tests/artifacts/ for a human to look at. (The DOM library above
 * types the functions that run inside the page.)
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { demoCmd, type RouterProcess, runtime, startRouter } from "../e2e/harness.ts";
import { testsPath } from "../helpers/process.ts";

const CHROMIUM = "/usr/bin/chromium";
const API_KEY = "sk-dashboard-test";

/** Skip locally without chromium; in CI its absence is a failure (.ci/run installs it). */
function chromiumMissing(): string | false {
  if (existsSync(CHROMIUM)) return false;
  const hint = `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium), as .ci/run does`;
  if (runtime.env("CI")) throw new Error(hint);
  return hint;
}

describe("dashboard in a browser", { skip: chromiumMissing() }, () => {
  let router: RouterProcess;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  /** A model card's button, by its exact label. */
  const button = (model: string, name: string) => page.locator(`[data-model="${model}"]`).getByRole("button", { name, exact: true });

  before(async () => {
    router = await startRouter(`
apiKeys: [${API_KEY}]
models:
  alpha:
    cmd: ${demoCmd("--model alpha --token-ms 40 --startup-ms 300")}
    name: Alpha 7B
    aliases: [a]
  beta:
    cmd: ${demoCmd("--model beta")}
`);
    profile = mkdtempSync(join(tmpdir(), "modelswap-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1280, height: 900 },
      httpCredentials: { username: "modelswap", password: API_KEY },
    });
    page = context.pages()[0] ?? await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(message.text());
    });
  });

  after(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (router) await router.stop();
  });

  test("a browser without the key is asked for it (Basic); API clients get a Bearer challenge", async () => {
    const browserRequests: Record<string, string>[] = [{ accept: "text/html" }, { "sec-fetch-site": "same-origin", accept: "text/event-stream" }];
    for (const headers of browserRequests) {
      const denied = await fetch(`${router.url}/ui/`, { headers });
      assert.equal(denied.status, 401);
      assert.match(denied.headers.get("www-authenticate") ?? "", /^Basic realm="modelswap"/, JSON.stringify(headers));
    }
    const api = await fetch(`${router.url}/api/activity`);
    assert.equal(api.status, 401);
    assert.match(api.headers.get("www-authenticate") ?? "", /^Bearer/);
    const home = await fetch(`${router.url}/`, { headers: { authorization: `Basic ${btoa(`any:${API_KEY}`)}` }, redirect: "manual" });
    assert.equal(home.status, 302);
    assert.equal(home.headers.get("location"), "/ui");
  });

  test("opens (at /ui/, the hardest case for Basic auth) and lists every model, live", async () => {
    await page.goto(router.url + "/ui/");
    await page.locator('[data-model="alpha"][data-state="stopped"]').waitFor();
    await page.locator('[data-model="beta"][data-state="stopped"]').waitFor();
    assert.match(await page.locator('[data-model="alpha"] .model-name').innerText(), /Alpha 7B · aka a/);
    await page.locator('#connection[data-state="live"]').waitFor();
  });

  test("Load turns the model ready, and its log lines appear", async () => {
    await button("alpha", "Load").click();
    await page.locator('[data-model="alpha"] .state', { hasText: "starting" }).waitFor();
    await page.locator('[data-model="alpha"][data-state="ready"]').waitFor({ timeout: 20_000 });
    await page.locator("#models-summary", { hasText: "1 ready" }).waitFor();
    await button("alpha", "Logs").click();
    assert.equal(await page.locator("#log-source").inputValue(), "alpha");
    await page.locator("#log-view", { hasText: /\[modelswap\] alpha started .* pid \d+ port \d+/ }).waitFor();
    await page.locator("#log-view", { hasText: /demo-upstream pid=\d+ port=\d+ model=alpha/ }).waitFor();
    await page.selectOption("#log-source", "proxy");
    await page.locator("#log-view", { hasText: /alpha: ready in \d+ ms/ }).waitFor();
  });

  test("the playground streams a reply token by token, then the activity table shows its speed", async () => {
    await page.selectOption("#chat-model", "alpha");
    // Record every length the reply goes through, to see it arrive in pieces.
    await page.evaluate(() => {
      const lengths: number[] = [];
      (globalThis as unknown as { replyLengths: number[] }).replyLengths = lengths;
      new MutationObserver(() => {
        const answer = document.querySelector(".msg-assistant:last-of-type .answer");
        if (answer) lengths.push(answer.textContent?.length ?? 0);
      }).observe(document.getElementById("chat-log")!, { subtree: true, childList: true, characterData: true });
    });
    await page.fill("#chat-input", "Hello, who are you?");
    await page.press("#chat-input", "Enter");
    await page.locator(".msg-user", { hasText: "Hello, who are you?" }).waitFor();
    const meta = page.locator(".msg-assistant .meta", { hasText: /tok\/s/ });
    await meta.waitFor({ timeout: 20_000 });
    assert.equal(await page.locator(".msg-assistant .answer").innerText(), "Hello from the modelswap demo upstream, a stand-in for llama-server.");
    const lengths = await page.evaluate(() => (globalThis as unknown as { replyLengths: number[] }).replyLengths);
    assert.ok(new Set(lengths.filter((n) => n > 0)).size >= 5, `the reply should grow in steps, saw lengths ${lengths.join(",")}`);
    assert.match(await meta.innerText(), /alpha · [\d.]+ s · 10 tokens · [\d.]+ tok\/s/);
    const row = page.locator("#activity tr", { hasText: "alpha" }).first();
    await row.waitFor();
    const cells = await row.locator("td").allInnerTexts();
    assert.equal(cells[3], "200");
    assert.match(cells[6], /^\d+ → 10$/, "tokens in → out");
    assert.match(cells[7], /^[\d.]+$/, "tokens per second");
  });

  test("looks clean at desktop and phone width (screenshots in tests/artifacts/)", async () => {
    const artifacts = testsPath("artifacts");
    mkdirSync(artifacts, { recursive: true });
    await button("alpha", "Logs").click();
    await page.evaluate(() => scrollTo(0, 0));
    await page.screenshot({ path: join(artifacts, "dashboard.png"), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, "no sideways scrolling at phone width");
    await page.screenshot({ path: join(artifacts, "dashboard-phone.png"), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  test("Unload stops the model", async () => {
    await button("alpha", "Unload").click();
    await page.locator('[data-model="alpha"][data-state="stopped"]').waitFor({ timeout: 20_000 });
    await page.locator("#models-summary", { hasText: "0 ready" }).waitFor();
    const status = await (await fetch(`${router.url}/api/status`, { headers: { authorization: `Bearer ${API_KEY}` } })).json();
    assert.equal(status.models.find((m: { model: string }) => m.model === "alpha").state, "stopped");
    assert.deepEqual(pageErrors, [], "no errors in the page");
  });
});
