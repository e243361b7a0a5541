/// <reference lib="dom" />
/**
 * The Logs page in a real browser against a real router: the router's log
 * and the models' output side by side, one model's output picked, ANSI
 * colours rendered, the marker where data was lost, the regex filter (and
 * a bad one), wrap, font size, and pause/follow.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { demoCmd, type RouterProcess, startRouter } from "../e2e/harness.ts";
import { testsPath } from "../helpers/process.ts";
import { type Browser, chromiumMissing, openBrowser, screenshots } from "./browser.ts";

describe("dashboard: logs", { skip: chromiumMissing() }, () => {
  let router: RouterProcess;
  let browser: Browser;
  const routerPane = () => browser.page.locator('#router-log .log-view');
  const modelsPane = () => browser.page.locator('#upstream-log .log-view');
  const load = async (model: string) => {
    const response = await fetch(`${router.url}/api/models/load/${model}`, { method: "POST" });
    assert.equal(response.status, 200, await response.text());
  };

  before(async () => {
    router = await startRouter(`
groups:
  all: { swap: false, members: [alpha, beta, coloured] }
models:
  alpha:
    cmd: ${demoCmd("--model alpha")}
  beta:
    cmd: ${demoCmd("--model beta")}
  coloured:
    cmd: /bin/sh ${testsPath("ui/coloured-model.sh")} ${demoCmd("--model coloured")}
`);
    browser = await openBrowser();
  });

  after(async () => {
    await browser?.close();
    if (router) await router.stop();
  });

  test("the router's log and every model's output side by side, live", async () => {
    const { page } = browser;
    await page.goto(`${router.url}/ui/#/logs`);
    await routerPane().locator("span", { hasText: /listening on http/ }).first().waitFor();
    await load("alpha");
    await routerPane().locator("span", { hasText: /alpha: ready in \d+ ms/ }).waitFor();
    await modelsPane().locator("span", { hasText: /demo-upstream pid=\d+ port=\d+ model=alpha/ }).waitFor();
    const [left, right] = await Promise.all([routerPane().boundingBox(), modelsPane().boundingBox()]);
    assert.ok(left && right && right.x > left.x + left.width - 1 && Math.abs(right.y - left.y) < 40, "side by side at desktop width");
  });

  test("one model's output, with its ANSI colours and the marker where data was lost", async () => {
    const { page } = browser;
    await load("coloured");
    await page.selectOption("#log-model", "coloured");
    const red = modelsPane().locator("span.ansi-fg-1", { hasText: "ERROR red text" });
    await red.waitFor();
    assert.equal(await red.evaluate((element) => getComputedStyle(element).color), "rgb(244, 112, 103)");
    await modelsPane().locator("span.ansi-fg-2.ansi-bold", { hasText: "bold green" }).waitFor();
    assert.match(await modelsPane().locator("span", { hasText: "orange" }).last().getAttribute("style") ?? "", /color:\s*rgb\(255,\s*135,\s*0\)/);
    assert.ok(!(await modelsPane().innerText()).includes("\u001b["), "no escape sequence is shown raw");
    const gap = modelsPane().locator(".log-gap", { hasText: "4096 bytes dropped" });
    await gap.waitFor();
    assert.match(await gap.innerText(), /^⚠ --- 4096 bytes dropped ---/);
    assert.equal(await modelsPane().locator("span", { hasText: "model=alpha" }).count(), 0, "only the chosen model's output");
  });

  test("the filter keeps the lines that match its regular expression; a bad one is named", async () => {
    const { page } = browser;
    await page.fill("#log-filter", "ready in \\d+");
    await page.waitForFunction(() => !document.querySelector("#router-log .log-view")!.textContent!.includes("listening on"));
    const lines = (await routerPane().innerText()).trim().split("\n");
    assert.ok(lines.length >= 2 && lines.every((line) => /ready in \d+/.test(line)), lines.join("\n"));
    await page.fill("#log-filter", "ready (");
    await page.locator("#log-filter-error").waitFor();
    assert.equal(await page.locator("#log-filter").getAttribute("aria-invalid"), "true");
    await routerPane().locator("span", { hasText: /listening on http/ }).first().waitFor();
    await page.fill("#log-filter", "");
    await page.locator("#log-filter-error").waitFor({ state: "detached" });
  });

  test("wrap and font size", async () => {
    const { page } = browser;
    assert.match(await routerPane().getAttribute("class") ?? "", /\bwrap\b/);
    await page.uncheck("#log-wrap");
    assert.doesNotMatch(await routerPane().getAttribute("class") ?? "", /\bwrap\b/);
    assert.equal(await routerPane().evaluate((element) => getComputedStyle(element).whiteSpace), "pre");
    await page.check("#log-wrap");
    await page.click("#log-larger");
    await page.click("#log-larger");
    await page.locator("#log-font-size", { hasText: "14px" }).waitFor();
    assert.equal(await routerPane().evaluate((element) => getComputedStyle(element).fontSize), "14px");
    await page.click("#log-smaller");
    await page.click("#log-smaller");
  });

  test("Pause holds the view still and counts new lines; Follow shows them", async () => {
    const { page } = browser;
    await page.selectOption("#log-model", "");
    await page.click("#log-follow");
    await page.locator("#log-follow", { hasText: "Follow" }).waitFor();
    await load("beta");
    await page.locator("#router-log .log-waiting", { hasText: /Paused · \d+ new lines?/ }).waitFor();
    assert.ok(!(await routerPane().innerText()).includes("beta: ready in"), "new lines wait while paused");
    await page.click("#log-follow");
    await routerPane().locator("span", { hasText: /beta: ready in \d+ ms/ }).waitFor();
    await page.locator("#router-log .log-waiting").waitFor({ state: "detached" });
  });

  test("looks right at desktop and phone width, light and dark (tests/artifacts/)", async () => {
    await screenshots(browser.page, "logs");
    assert.deepEqual(browser.errors, [], "no errors in the page");
  });
});
