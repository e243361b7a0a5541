/// <reference lib="dom" />
/**
 * The dashboard's Models page and a model's page in a real browser against
 * a real router with demo upstreams and an API key: the Basic prompt, the
 * live model list, unlisted models, the profile switcher, load → ready,
 * the link to the model's own server, its page (details with the effective
 * config and its secret masked, its log, its requests), unload (with the
 * context it saved, and Forget) and unload all. Screenshots of both pages go to tests/artifacts/.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { demoCmd, eventually, postJson, type RouterProcess, startRouter } from "../e2e/harness.ts";
import { api, type Browser, chromiumMissing, keyed, openBrowser, pidOf, screenshots } from "./browser.ts";

const API_KEY = "sk-dashboard-test";
const SECRET = "s3cret-token-value";

describe("dashboard: models", { skip: chromiumMissing() }, () => {
  let router: RouterProcess;
  let browser: Browser;
  /** A model card's button, by its exact label. */
  const button = (model: string, name: string) => browser.page.locator(`[data-model="${model}"]`).getByRole("button", { name, exact: true });

  before(async () => {
    router = await startRouter(
      `
apiKeys: [${API_KEY}]
contextCache: { dir: ${mkdtempSync(join(tmpdir(), "modelswap-ui-context-"))} }
profiles:
  quick:
    description: chat goes to beta
    pins: { chat: beta }
models:
  alpha:
    cmd: ${demoCmd("--model alpha --token-ms 40 --startup-ms 300")}
    name: Alpha 7B
    aliases: [a]
    keepContext: true
    env: ["HF_TOKEN=\${env.UI_TEST_SECRET}"]
  beta:
    cmd: ${demoCmd("--model beta")}
  hidden:
    cmd: ${demoCmd("--model hidden")}
    unlisted: true
`,
      [],
      { UI_TEST_SECRET: SECRET },
    );
    browser = await openBrowser(API_KEY);
  });

  after(async () => {
    await browser?.close();
    if (router) await router.stop();
  });

  test("a browser without the key is asked for it (Basic); API clients get a Bearer challenge", async () => {
    const browserRequests: Record<string, string>[] = [{ accept: "text/html" }, { "sec-fetch-site": "same-origin", accept: "text/event-stream" }];
    for (const headers of browserRequests) {
      const denied = await fetch(`${router.url}/ui/`, { headers });
      assert.equal(denied.status, 401);
      assert.match(denied.headers.get("www-authenticate") ?? "", /^Basic realm="modelswap"/, JSON.stringify(headers));
    }
    const apiDenied = await fetch(`${router.url}/api/config`);
    assert.equal(apiDenied.status, 401, "the config editor's routes are guarded like every admin route");
    assert.match(apiDenied.headers.get("www-authenticate") ?? "", /^Bearer/);
    const home = await fetch(`${router.url}/`, { headers: { authorization: `Basic ${btoa(`any:${API_KEY}`)}` }, redirect: "manual" });
    assert.equal(home.status, 302);
    assert.equal(home.headers.get("location"), "/ui");
  });

  test("opens (at /ui/, the hardest case for Basic auth) and lists the listed models, live; unlisted ones on request", async () => {
    const { page } = browser;
    await page.goto(router.url + "/ui/");
    await page.locator('[data-model="alpha"][data-state="stopped"]').waitFor();
    await page.locator('[data-model="beta"][data-state="stopped"]').waitFor();
    assert.match(await page.locator('[data-model="alpha"] .model-name').innerText(), /Alpha 7B · aka a/);
    await page.locator('#connection[data-state="live"]').waitFor();
    assert.equal(await page.locator('[data-model="hidden"]').count(), 0, "unlisted models are hidden by default");
    await page.locator("#models-summary", { hasText: "3 configured · 0 ready · 1 unlisted hidden" }).waitFor();
    await page.check("#show-unlisted");
    await page.locator('[data-model="hidden"] .model-name', { hasText: "unlisted" }).waitFor();
    await page.uncheck("#show-unlisted");
    await page.locator('[data-model="hidden"]').waitFor({ state: "detached" });
  });

  test("the profile switcher activates a profile and back to none", async () => {
    const { page } = browser;
    await page.selectOption("#profile", "quick");
    await eventually(async () => (await api<{ active: string | null }>(`${router.url}/api/profiles`, API_KEY)).active === "quick", 10_000, "profile quick active");
    await page.selectOption("#profile", "");
    await eventually(async () => (await api<{ active: string | null }>(`${router.url}/api/profiles`, API_KEY)).active === null, 10_000, "no profile active");
  });

  test("Load turns the model ready; its card links to its own server and its log", async () => {
    const { page } = browser;
    await button("alpha", "Load").click();
    await page.locator('[data-model="alpha"] .state', { hasText: "starting" }).waitFor();
    await page.locator('[data-model="alpha"][data-state="ready"]').waitFor({ timeout: 20_000 });
    await page.locator("#models-summary", { hasText: "1 ready" }).waitFor();
    assert.equal(await page.locator('[data-model="alpha"] a', { hasText: "Server UI" }).getAttribute("href"), "/upstream/alpha/");
    const upstream = await fetch(`${router.url}/upstream/alpha/`, { headers: keyed(API_KEY) });
    assert.equal(await upstream.text(), "demo-upstream", "the link reaches the model's own server");
    await page.locator('[data-model="alpha"] a', { hasText: "Logs" }).click();
    await page.waitForURL(/#\/models\/alpha\/logs$/);
    await page.locator(".log-view", { hasText: /\[modelswap\] alpha started .* pid \d+ port \d+/ }).waitFor();
    await page.locator(".log-view", { hasText: /demo-upstream pid=\d+ port=\d+ model=alpha/ }).waitFor();
  });

  test("the model page shows its live status and its effective config with the secret masked", async () => {
    const { page } = browser;
    await page.locator('.tabs a[data-tab="details"]').click();
    const pid = await pidOf(router.url, "alpha", API_KEY);
    await page.locator("#model-facts dd", { hasText: String(pid) }).waitFor();
    const config = page.locator("#effective-config");
    await config.waitFor();
    const text = await config.innerText();
    assert.match(text, /name: Alpha 7B/);
    assert.match(text, /HF_TOKEN: "?\*\*\*"?/, "the env value from ${env.X} is masked");
    assert.ok(!text.includes(SECRET), "the secret itself is not on the page");
    assert.match(text, /cmd: .*demo-upstream --port \d+ --model alpha/, "macros and ${PORT} are expanded");
  });

  test("the model's Activity tab lists its requests as they finish", async () => {
    const { page } = browser;
    await page.locator('.tabs a[data-tab="activity"]').click();
    const response = await postJson(`${router.url}/v1/chat/completions`, { model: "a", messages: [{ role: "user", content: "hi" }] }, { headers: keyed(API_KEY) });
    assert.equal(response.status, 200);
    await response.body?.cancel();
    const row = page.locator("#activity-table tbody tr").first();
    await row.locator('td[data-column="model"]', { hasText: "alpha" }).waitFor();
    assert.equal(await row.locator('td[data-column="resp_status_code"]').innerText(), "200");
    assert.match(await row.locator('td[data-column="generated"]').innerText(), /^\d+$/);
    await page.locator("#activity-count", { hasText: /^1 request$/ }).waitFor();
  });

  test("looks right at desktop and phone width, light and dark (tests/artifacts/)", async () => {
    const { page } = browser;
    await page.locator('.tabs a[data-tab="details"]').click();
    await page.locator("#effective-config").waitFor();
    await screenshots(page, "model");
    await page.goto(`${router.url}/ui/#/models`);
    await page.locator('[data-model="alpha"][data-state="ready"]').waitFor();
    await screenshots(page, "models");
  });

  test("Unload stops the model; Unload all stops every model", async () => {
    const { page } = browser;
    await button("alpha", "Unload").click();
    await page.locator('[data-model="alpha"][data-state="stopped"]').waitFor({ timeout: 20_000 });
    await page.locator("#models-summary", { hasText: "0 ready" }).waitFor();
    // keepContext: the unload saved alpha's conversation; the card shows it, and Forget deletes it.
    const saved = page.locator('[data-model="alpha"] .saved-context');
    await saved.locator("b", { hasText: /^[1-9]\d* tokens?$/ }).waitFor();
    await saved.getByRole("button", { name: "Forget" }).click();
    await saved.waitFor({ state: "detached" });
    const forgotten = await api<{ models: { model: string; savedContext: unknown }[] }>(`${router.url}/api/status`, API_KEY);
    assert.equal(forgotten.models.find((m) => m.model === "alpha")?.savedContext, null);
    const loaded = await fetch(`${router.url}/api/models/load/beta`, { method: "POST", headers: keyed(API_KEY) });
    assert.equal(loaded.status, 200);
    await page.locator('[data-model="beta"][data-state="ready"]').waitFor();
    await page.click("#unload-all");
    await page.locator('[data-model="beta"][data-state="stopped"]').waitFor({ timeout: 20_000 });
    const status = await api<{ models: { model: string; state: string }[] }>(`${router.url}/api/status`, API_KEY);
    assert.deepEqual(status.models.map((m) => m.state), ["stopped", "stopped", "stopped"]);
    assert.deepEqual(browser.errors, [], "no errors in the page");
  });
});
