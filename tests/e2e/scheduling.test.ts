/**
 * Scheduling end to end: matrix coexistence and cost-based eviction,
 * starvation with real overlapping clients, admission limits, loading
 * feedback in the stream, preload, and unload of queued requests.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { chat, demoCmd, eventually, postJson, type RouterProcess, startRouter } from "./harness.ts";

async function running(router: RouterProcess): Promise<string[]> {
  const body = await (await fetch(`${router.url}/running`)).json() as { running: { model: string }[] };
  return body.running.map((r) => r.model).sort();
}

async function ask(router: RouterProcess, model: string, extra: Record<string, unknown> = {}): Promise<Response> {
  const response = await postJson(`${router.url}/v1/chat/completions`, chat(model, extra));
  return response;
}

describe("matrix routing", () => {
  test("models in one set run side by side; a model outside it evicts by cost", async () => {
    const router = await startRouter(`
routing:
  router:
    use: matrix
    settings:
      matrix:
        vars: { g: gemma, v: voxtral, L: llama }
        evict_costs: { v: 50, L: 30 }
        sets:
          standard: "g & v"
          full: "L"
models:
  gemma: { cmd: "${demoCmd()}" }
  voxtral: { cmd: "${demoCmd()}" }
  llama: { cmd: "${demoCmd()}" }
`);
    try {
      for (const model of ["voxtral", "gemma"]) {
        const response = await ask(router, model);
        assert.equal(response.status, 200);
        await response.body?.cancel();
      }
      assert.deepEqual(await running(router), ["gemma", "voxtral"], "gemma and voxtral coexist in set standard");
      const big = await ask(router, "llama");
      assert.equal(big.status, 200);
      await big.body?.cancel();
      assert.deepEqual(await running(router), ["llama"]);
      await router.waitForOutput(/llama: loading, stopping gemma, voxtral \(.*set=full.*cost=51/);
    } finally {
      await router.stop();
    }
  });
});

describe("starvation timeout", () => {
  test("a request waiting behind a continuously busy model is served within the bound", async () => {
    const router = await startRouter(`
routing:
  scheduler:
    settings:
      fifo:
        starvationTimeout: 1
models:
  busy: { cmd: "${demoCmd("--token-ms 50")}", concurrencyLimit: 50 }
  waiting: { cmd: "${demoCmd()}" }
`);
    try {
      const first = await ask(router, "busy", { max_tokens: 1 });
      await first.body?.cancel();
      // Keep "busy" serving: overlapping 400 ms requests, a new one every 150 ms, for 6 s.
      let hammering = true;
      const hammer = (async () => {
        const inflight: Promise<void>[] = [];
        while (hammering) {
          inflight.push(ask(router, "busy", { max_tokens: 8 }).then((r) => r.body?.cancel()).catch(() => {}));
          await new Promise((resolve) => setTimeout(resolve, 150));
        }
        await Promise.all(inflight);
      })();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const started = Date.now();
      const starved = await ask(router, "waiting");
      const waited = Date.now() - started;
      hammering = false;
      await hammer;
      assert.equal(starved.status, 200);
      await starved.body?.cancel();
      // starvationTimeout (1 s) + the longest in-flight request to outwait (~0.5 s) + the swap, with slack for a busy machine.
      assert.ok(waited < 5000, `waited ${waited} ms`);
    } finally {
      await router.stop();
    }
  });
});

describe("admission and loading feedback", () => {
  test("over concurrencyLimit a request gets 429 with Retry-After, even when loading state is on", async () => {
    const router = await startRouter(`
sendLoadingState: true
models:
  one: { cmd: "${demoCmd("--token-ms 100 --startup-ms 300")}", concurrencyLimit: 1 }
`);
    try {
      const first = ask(router, "one", { stream: true, max_tokens: 5 });
      await eventually(async () => {
        const status = await (await fetch(`${router.url}/api/status`)).json() as { models: { inFlight: number; queued: number }[] };
        return status.models[0].inFlight + status.models[0].queued === 1;
      }, 5000, "first request admitted");
      const second = await ask(router, "one", { stream: true });
      assert.equal(second.status, 429);
      assert.ok(second.headers.get("retry-after"));
      assert.match(second.headers.get("content-type") ?? "", /application\/json/);
      const body = await second.json();
      assert.equal(body.error.type, "rate_limit_error");
      assert.match(body.error.message, /"one"/);
      await (await first).text();
    } finally {
      await router.stop();
    }
  });

  test("a streaming client that must wait sees loading progress, then the real answer in the same stream", async () => {
    const router = await startRouter(`
sendLoadingState: true
models:
  slowstart: { cmd: "${demoCmd("--startup-ms 1500")}" }
  broken: { cmd: "${demoCmd("--exit-at-start 9 --startup-ms 1500")}" }
`);
    try {
      const response = await ask(router, "slowstart", { stream: true });
      assert.equal(response.status, 200);
      const text = await response.text();
      const chunks = text.split("\n\n").filter((c) => c.startsWith("data: {")).map((c) => JSON.parse(c.slice(6)));
      const reasoning = chunks.map((c) => c.choices?.[0]?.delta?.reasoning_content ?? "").join("");
      assert.match(reasoning, /loading model slowstart/);
      assert.match(reasoning, /Done!/);
      const content = chunks.map((c) => c.choices?.[0]?.delta?.content ?? "").join("");
      assert.match(content, /Hello/);
      assert.match(text, /data: \[DONE\]/);

      const failing = await ask(router, "broken", { stream: true });
      assert.equal(failing.status, 200);
      const failed = await failing.text();
      const last = JSON.parse(failed.trim().split("\n\n").at(-1)!.slice(6));
      assert.match(last.error.message, /"broken" failed to start: exited with code 9/);
    } finally {
      await router.stop();
    }
  });
});

describe("preload and unload", () => {
  test("hooks.on_startup.preload loads a model with no request", async () => {
    const router = await startRouter(`
hooks:
  on_startup:
    preload: [warm]
models:
  warm: { cmd: "${demoCmd()}" }
  cold: { cmd: "${demoCmd()}" }
`);
    try {
      await router.waitForOutput(/preload: warm ready/);
      assert.deepEqual(await running(router), ["warm"]);
    } finally {
      await router.stop();
    }
  });

  test("unloading a model fails the requests queued for it with a clear message", async () => {
    const router = await startRouter(`
models:
  a: { cmd: "${demoCmd("--token-ms 50")}" }
  b: { cmd: "${demoCmd()}" }
`);
    try {
      const stream = await ask(router, "a", { stream: true, max_tokens: 20 });
      const queued = ask(router, "b");
      await eventually(async () => {
        const status = await (await fetch(`${router.url}/api/status`)).json() as { models: { model: string; queued: number }[] };
        return status.models.find((m) => m.model === "b")!.queued === 1;
      }, 5000, "b queued");
      const unload = await fetch(`${router.url}/api/models/unload/b`, { method: "POST" });
      assert.equal(unload.status, 200);
      const response = await queued;
      assert.equal(response.status, 503);
      assert.match((await response.json()).error.message, /"b".*unloaded/);
      await stream.body?.cancel();
    } finally {
      await router.stop();
    }
  });
});
