/// <reference lib="dom" />
/**
 * The Activity page in a real browser against a real router: totals and
 * the speed histogram, the table (sorted, filtered by model and status,
 * columns chosen, paginated), a request's capture, the export as CSV and
 * Markdown, and a request in flight cancelled from the page.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { chat, demoCmd, postJson, type RouterProcess, startRouter } from "../e2e/harness.ts";
import { type Browser, chromiumMissing, openBrowser, screenshots } from "./browser.ts";

describe("dashboard: activity", { skip: chromiumMissing() }, () => {
  let router: RouterProcess;
  let browser: Browser;
  const rows = () => browser.page.locator("#activity-table tbody tr");
  /** The cells of a column, once the table shows the rows of its current query. */
  const column = async (id: string) => {
    await browser.page.locator('#activity-table[aria-busy="false"]').waitFor();
    return await browser.page.locator(`#activity-table tbody td[data-column="${id}"]`).allInnerTexts();
  };

  before(async () => {
    router = await startRouter(`
captureBuffer: 5
groups:
  all: { swap: false, members: [alpha, beta, slow] }
models:
  alpha:
    cmd: ${demoCmd("--model alpha")}
  beta:
    cmd: ${demoCmd("--model beta")}
  slow:
    cmd: ${demoCmd("--model slow --token-ms 300")}
`);
    // 7 requests to alpha, 3 to beta, 1 to a model that does not exist: 11 in all.
    for (const model of ["alpha", "alpha", "alpha", "beta", "alpha", "beta", "alpha", "alpha", "beta", "alpha", "nope"]) {
      const response = await postJson(`${router.url}/v1/chat/completions`, chat(model, { messages: [{ role: "user", content: `hello ${model}` }] }));
      assert.equal(response.status, model === "nope" ? 404 : 200);
      await response.body?.cancel();
    }
    browser = await openBrowser();
  });

  after(async () => {
    await browser?.close();
    if (router) await router.stop();
  });

  test("totals and the generation-speed histogram", async () => {
    const { page } = browser;
    await page.goto(`${router.url}/ui/#/activity`);
    await page.locator('#activity-totals [data-total="requests"]', { hasText: "11" }).waitFor();
    assert.match(await page.locator('#activity-totals [data-total="output"]').innerText(), /^[1-9][\d,]*$/);
    await page.locator("#speed-histogram canvas").waitFor();
    assert.match(await page.locator("#speed-histogram").innerText(), /p50 [\d.]+ · p95 [\d.]+ · p99 [\d.]+/);
  });

  test("the table pages, newest first; sorting by a column and back", async () => {
    const { page } = browser;
    await page.selectOption("#activity-limit", "10");
    await page.locator("#activity-page", { hasText: "page 1 of 2" }).waitFor();
    assert.equal(await rows().count(), 10);
    assert.equal((await column("resp_status_code"))[0], "404", "the newest request (to an unknown model) comes first");
    await page.click("#activity-next");
    await page.locator("#activity-page", { hasText: "page 2 of 2" }).waitFor();
    assert.equal(await rows().count(), 1);
    await page.click('th[data-column="model"] button');
    await page.locator('th[data-column="model"][aria-sort="descending"]').waitFor();
    await page.locator("#activity-page", { hasText: "page 1 of 2" }).waitFor();
    assert.deepEqual((await column("model")).slice(0, 3), ["beta", "beta", "beta"]);
    await page.click('th[data-column="model"] button');
    await page.locator('th[data-column="model"][aria-sort="ascending"]').waitFor();
    assert.deepEqual((await column("model")).slice(0, 2), ["", "alpha"], "the unknown model's request has no model, and sorts first");
  });

  test("filters by model and by status class", async () => {
    const { page } = browser;
    await page.selectOption("#activity-model", "alpha");
    await page.locator("#activity-count", { hasText: /^7 requests$/ }).waitFor();
    assert.deepEqual([...new Set(await column("model"))], ["alpha"]);
    await page.selectOption("#activity-model", "");
    await page.selectOption("#activity-status", "4xx");
    await page.locator("#activity-count", { hasText: /^1 request$/ }).waitFor();
    assert.deepEqual(await column("resp_status_code"), ["404"]);
    await page.selectOption("#activity-status", "");
    await page.locator("#activity-count", { hasText: /^11 requests$/ }).waitFor();
  });

  test("filters by time range: from keeps what came after, to what came before", async () => {
    const { page } = browser;
    await page.fill("#activity-from", "2000-01-01T00:00:00");
    await page.locator("#activity-count", { hasText: /^11 requests$/ }).waitFor();
    await page.fill("#activity-to", "2000-01-02T00:00:00");
    await page.locator("#activity-count", { hasText: /^0 requests$/ }).waitFor();
    await page.locator("#activity-empty", { hasText: "No requests match this filter." }).waitFor();
    await page.getByRole("button", { name: "Clear filters" }).click();
    await page.locator("#activity-count", { hasText: /^11 requests$/ }).waitFor();
    assert.equal(await page.inputValue("#activity-from"), "");
  });

  test("the column chooser hides and shows columns", async () => {
    const { page } = browser;
    await page.click("#column-chooser summary");
    await page.uncheck('#column-chooser input[data-column="req_path"]');
    await page.locator('th[data-column="req_path"]').waitFor({ state: "detached" });
    await page.check('#column-chooser input[data-column="cached"]');
    await page.locator('th[data-column="cached"]').waitFor();
    await page.click("#column-chooser summary");
  });

  test("a request's capture opens with its request and response bodies", async () => {
    const { page } = browser;
    await page.selectOption("#activity-model", "beta");
    await page.locator("#activity-count", { hasText: /^3 requests$/ }).waitFor();
    await rows().first().getByRole("button", { name: "View" }).click();
    const request = page.locator("#capture-request");
    await request.waitFor();
    assert.match(await request.innerText(), /"content": "hello beta"/, "the request body, JSON indented");
    assert.match(await page.locator("#capture-response").innerText(), /Hello from the modelswap demo upstream/);
    await page.keyboard.press("Escape");
    await page.locator("#capture").waitFor({ state: "detached" });
  });

  test("exports the filtered rows as CSV and Markdown", async () => {
    const { page } = browser;
    const [csv] = await Promise.all([page.waitForEvent("download"), page.click("#export-csv")]);
    const csvText = readFileSync(await csv.path(), "utf8");
    const lines = csvText.trim().split("\r\n");
    assert.equal(lines.length, 4, "a header and the 3 requests to beta");
    assert.match(lines[0], /^#,Time,Model,Path,Status,/);
    assert.ok(lines.slice(1).every((line) => line.includes(",beta,/v1/chat/completions,200,")), csvText);
    const [md] = await Promise.all([page.waitForEvent("download"), page.click("#export-md")]);
    const mdText = readFileSync(await md.path(), "utf8");
    assert.match(mdText, /^\| # \| Time \| Model \|/);
    assert.equal(mdText.trim().split("\n").filter((line) => line.includes("| beta |")).length, 3);
    await page.selectOption("#activity-model", "");
  });

  test("a request in flight shows up and the Cancel button ends it", async () => {
    const { page } = browser;
    const reply = postJson(`${router.url}/v1/chat/completions`, chat("slow", { stream: true, max_tokens: 200 })).then((response) => response.text().catch(() => ""));
    const row = page.locator("#inflight tbody tr", { hasText: "slow" });
    await row.waitFor({ timeout: 20_000 });
    await row.locator("td", { hasText: "/v1/chat/completions" }).waitFor();
    await row.getByRole("button", { name: "Cancel" }).click();
    const text = await reply;
    assert.ok(!text.includes("[DONE]"), "the stream was cut before its end");
    await page.locator("#inflight-empty").waitFor();
    await page.selectOption("#activity-model", "slow");
    await page.locator("#activity-count", { hasText: /^1 request$/ }).waitFor();
    assert.deepEqual(await column("resp_status_code"), ["499"], "recorded as cancelled (nginx's client-closed status)");
  });

  test("looks right at desktop and phone width, light and dark (tests/artifacts/)", async () => {
    await screenshots(browser.page, "activity");
    assert.deepEqual(browser.errors, [], "no errors in the page");
  });
});
