/// <reference lib="dom" />
/**
 * The Performance page in a real browser against a real router with the
 * memory planner and a fake nvidia-smi: each device now (memory, use, the CPUs' use,
 * which model holds what, planned and measured), memory and utilisation
 * over time, and the swap timeline with the swap that evicted a model to
 * make room, what it evicted and why.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { demoCmd, type RouterProcess, runtime, startRouter } from "../e2e/harness.ts";
import { fakeNvidiaSmi } from "../helpers/fake-nvidia-smi.ts";
import { type Browser, chromiumMissing, openBrowser, screenshots } from "./browser.ts";

/** A unique tag per run, so the fake tool never mistakes another suite's demo upstream for ours. */
const tag = `ui${Math.floor(Math.random() * 1e9)}`;

describe("dashboard: performance", { skip: chromiumMissing() }, () => {
  let router: RouterProcess;
  let browser: Browser;
  const load = async (model: string) => {
    const response = await fetch(`${router.url}/api/models/load/${model}`, { method: "POST" });
    assert.equal(response.status, 200, await response.text());
  };

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), "modelswap-ui-gpu-"));
    const state = join(dir, "smi.json");
    writeFileSync(state, JSON.stringify({
      gpus: [{ index: 0, uuid: "GPU-zero", name: "Fake GPU", totalMiB: 12 * 1024, baseUsedMiB: 300, util: 37 }],
      apps: ["a", "b", "c"].map((model, i) => ({ match: `--model ${tag}-${model} `, gpu: 0, usedMiB: 3000 + i * 500 })),
    }));
    fakeNvidiaSmi(dir, state);
    router = await startRouter(
      `
routing:
  router:
    use: memory
    settings:
      memory:
        devices: { gpu0: 10GiB, ram: auto }
models:
  a: { cmd: "${demoCmd(`--model ${tag}-a`)} ", memory: { gpu0: 4GiB } }
  b: { cmd: "${demoCmd(`--model ${tag}-b`)} ", memory: { gpu0: 4GiB } }
  c: { cmd: "${demoCmd(`--model ${tag}-c`)} ", memory: { gpu0: 5GiB } }
`,
      [],
      { PATH: `${dir}:${runtime.env("PATH") ?? "/usr/bin:/bin"}`, XDG_STATE_HOME: join(dir, "state") },
    );
    browser = await openBrowser();
  });

  after(async () => {
    await browser?.close();
    if (router) await router.stop();
  });

  test("each device now: memory, use, and which model holds what", async () => {
    const { page } = browser;
    await page.goto(`${router.url}/ui/#/performance`);
    const gpu = page.locator('#devices [data-device="gpu0"]');
    await gpu.waitFor();
    assert.match(await gpu.innerText(), /Fake GPU/);
    assert.match(await gpu.innerText(), /of 12\.0 GiB in use/);
    await gpu.locator(".stats b", { hasText: "37%" }).waitFor();
    const ram = page.locator('#devices [data-device="ram"]');
    await ram.locator(".model-top", { hasText: "system memory and CPUs" }).waitFor();
    // The CPUs' use needs two readings: the page reads again every few seconds, and when a model starts.
    await load("a");
    await load("b");
    const holder = gpu.locator('.holders tr[data-model="b"]');
    await holder.waitFor({ timeout: 20_000 });
    assert.equal(await holder.locator("td").nth(1).innerText(), "4.0 GiB", "planned, as declared");
    await gpu.locator('.holders tr[data-model="a"] td', { hasText: "2.9 GiB" }).waitFor({ timeout: 20_000 });
    await ram.locator('[data-stat="util"]', { hasText: /^cpu\s*\d+(\.\d)?%$/ }).waitFor({ timeout: 20_000 });
  });

  test("memory and utilisation over time", async () => {
    const { page } = browser;
    assert.equal(await page.locator(".charts .chart canvas").count(), 2, "memory in use and utilisation");
    assert.match(await page.locator(".charts").innerText(), /Memory in use[\s\S]*gpu0[\s\S]*ram[\s\S]*Utilisation[\s\S]*gpu0[\s\S]*cpu/);
  });

  test("the swap timeline: lanes per model, and the swap that evicted one to make room", async () => {
    const { page } = browser;
    await load("c");
    const swap = page.locator('#swaps tr[data-target="c"]');
    await swap.waitFor({ timeout: 20_000 });
    const cells = await swap.locator("td").allInnerTexts();
    assert.equal(cells[2], "a", "the least recently used model was evicted");
    assert.match(cells[3], /memory/, `why: ${cells[3]}`);
    assert.match(cells[4], /^\d+ ms$|^[\d.]+ s$/);
    assert.equal(cells[6], "ok");
    for (const model of ["a", "b", "c"]) await page.locator(`#timeline .lane[data-model="${model}"] .lane-span[data-state="ready"]`).first().waitFor();
    await page.locator('#timeline .lane[data-model="a"] .lane-span[data-state="stopping"]').waitFor();
  });

  test("the Models page shows each model's declared, planned and measured memory", async () => {
    const { page } = browser;
    await page.click('.nav a[data-page="models"]');
    const facts = page.locator('[data-model="c"] .memory-facts');
    await facts.locator("dd", { hasText: "gpu0 5.0 GiB" }).first().waitFor();
    await facts.locator("dd", { hasText: /gpu0 3\.9 GiB/ }).waitFor({ timeout: 20_000 });
  });

  test("looks right at desktop and phone width, light and dark (tests/artifacts/)", async () => {
    const { page } = browser;
    await page.click('.nav a[data-page="performance"]');
    await page.locator("#swaps").waitFor();
    await screenshots(page, "performance");
    assert.deepEqual(browser.errors, [], "no errors in the page");
  });
});
