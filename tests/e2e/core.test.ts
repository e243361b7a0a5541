/**
 * The core promise end to end: a real router process starts demo upstreams
 * on demand, swaps them, streams through, and never leaves a process behind.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { chat, demoCmd, eventually, postJson, type RouterProcess, runtime, startRouter } from "./harness.ts";

interface Status {
  models: { model: string; state: string; pid: number | null; inFlight: number; queued: number }[];
}

async function status(router: RouterProcess): Promise<Status> {
  return await (await fetch(`${router.url}/api/status`)).json();
}

async function pidOf(router: RouterProcess, model: string): Promise<number | null> {
  return (await status(router)).models.find((m) => m.model === model)?.pid ?? null;
}

describe("core routing", () => {
  let router: RouterProcess;
  const pids: number[] = [];

  before(async () => {
    router = await startRouter(`
healthCheckTimeout: 20
models:
  alpha:
    cmd: ${demoCmd("--model alpha --startup-ms 100 --token-ms 40")}
    aliases: [a]
  beta:
    cmd: ${demoCmd("--model beta")}
    useModelName: beta-upstream-name
  broken:
    cmd: ${demoCmd("--exit-at-start 7 --log-lines 3")}
`);
  });

  after(async () => {
    const exit = await router.stop();
    assert.equal(exit.code, 0, `router exit ${JSON.stringify(exit)}:\n${router.output()}`);
    for (const pid of pids) assert.equal(runtime.isAlive(pid), false, `upstream ${pid} survived shutdown`);
  });

  test("a cold request starts the model and streams the answer incrementally", async () => {
    const response = await postJson(`${router.url}/v1/chat/completions`, chat("alpha", { stream: true, max_tokens: 6 }));
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    const arrivals: number[] = [];
    let text = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      arrivals.push(Date.now());
      text += decoder.decode(value, { stream: true });
    }
    assert.match(text, /data: \[DONE\]/);
    assert.ok(arrivals.length >= 3, `expected several chunks, got ${arrivals.length}`);
    // With 40 ms between tokens, chunks that were held back would all arrive together.
    assert.ok(arrivals.at(-1)! - arrivals[0] >= 80, "chunks arrived all at once: the stream was buffered");
    const pid = await pidOf(router, "alpha");
    assert.ok(pid);
    pids.push(pid);
  });

  test("an alias reaches its model; asking for another model swaps the first out", async () => {
    const first = await postJson(`${router.url}/v1/chat/completions`, chat("a"));
    assert.equal(first.status, 200);
    const alphaPid = (await pidOf(router, "alpha"))!;
    const second = await postJson(`${router.url}/v1/chat/completions`, chat("beta"));
    assert.equal(second.status, 200);
    const body = await second.json();
    assert.equal(body.model, "beta-upstream-name", "useModelName rewrites the model sent upstream");
    const running = await (await fetch(`${router.url}/running`)).json();
    assert.deepEqual(running.running.map((r: { model: string }) => r.model), ["beta"]);
    assert.equal(runtime.isAlive(alphaPid), false, "the evicted upstream process is gone");
    pids.push((await pidOf(router, "beta"))!);
  });

  test("concurrent cold requests share one start", async () => {
    await fetch(`${router.url}/api/models/unload`, { method: "POST" });
    const before = router.output().match(/alpha: starting pid=/g)?.length ?? 0;
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => postJson(`${router.url}/v1/chat/completions`, chat("alpha"))),
    );
    assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 200, 200]);
    await Promise.all(responses.map((r) => r.body?.cancel()));
    const after = router.output().match(/alpha: starting pid=/g)?.length ?? 0;
    assert.equal(after - before, 1, "exactly one spawn");
    pids.push((await pidOf(router, "alpha"))!);
  });

  test("a client that disconnects mid-stream releases its slot", async () => {
    const controller = new AbortController();
    const response = await postJson(`${router.url}/v1/chat/completions`, chat("alpha", { stream: true, max_tokens: 200 }), {
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    await eventually(async () => (await status(router)).models.every((m) => m.inFlight === 0 && m.queued === 0), 5000, "in-flight back to 0");
    const next = await postJson(`${router.url}/v1/chat/completions`, chat("alpha"));
    assert.equal(next.status, 200);
    await next.body?.cancel();
  });

  test("bad requests get clear OpenAI-shaped errors", async () => {
    const unknown = await postJson(`${router.url}/v1/chat/completions`, chat("nope"));
    assert.equal(unknown.status, 404);
    const unknownBody = await unknown.json();
    assert.match(unknownBody.error.message, /"nope" is not configured.*\/v1\/models/);
    assert.equal(typeof unknownBody.error.type, "string");

    const missing = await postJson(`${router.url}/v1/chat/completions`, { messages: [] });
    assert.equal(missing.status, 400);
    assert.match((await missing.json()).error.message, /model/);

    const malformed = await fetch(`${router.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"model": "alpha",',
    });
    assert.equal(malformed.status, 400);
    assert.match((await malformed.json()).error.message, /not valid JSON/);

    const wrongMethod = await fetch(`${router.url}/v1/chat/completions`);
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get("allow"), "POST");
    assert.match((await wrongMethod.json()).error.message, /answers POST, not GET/);

    const noRoute = await fetch(`${router.url}/v1/nothing-here`);
    assert.equal(noRoute.status, 404);
    await noRoute.body?.cancel();
  });

  test("a model that exits while starting fails at once with its exit code and output", async () => {
    const started = Date.now();
    const response = await postJson(`${router.url}/v1/chat/completions`, chat("broken"));
    assert.equal(response.status, 502);
    const body = await response.json();
    assert.match(body.error.message, /"broken"/);
    assert.match(body.error.message, /exited with code 7/);
    assert.match(body.error.message, /log line/i, "the last lines of its output are in the error");
    assert.ok(Date.now() - started < 15_000, "failed long before healthCheckTimeout");
    const next = await postJson(`${router.url}/v1/chat/completions`, chat("alpha"));
    assert.equal(next.status, 200, "the router keeps serving other models");
    await next.body?.cancel();
  });

  test("unload stops the running model and its process", async () => {
    const response = await postJson(`${router.url}/v1/chat/completions`, chat("alpha"));
    await response.body?.cancel();
    const pid = (await pidOf(router, "alpha"))!;
    const unload = await fetch(`${router.url}/api/models/unload/alpha`, { method: "POST" });
    assert.equal(unload.status, 200);
    assert.equal(runtime.isAlive(pid), false);
    const running = await (await fetch(`${router.url}/running`)).json();
    assert.deepEqual(running.running, []);
  });
});

describe("idle unload", () => {
  test("a model with ttl is stopped after it has been idle that long", async () => {
    const router = await startRouter(`
models:
  sleepy:
    cmd: ${demoCmd()}
    ttl: 1
`);
    try {
      const response = await postJson(`${router.url}/v1/chat/completions`, chat("sleepy"));
      assert.equal(response.status, 200);
      await response.body?.cancel();
      const pid = (await pidOf(router, "sleepy"))!;
      await router.waitForOutput(/sleepy: unloaded after 1s idle/, 10_000);
      await eventually(() => !runtime.isAlive(pid), 5000, "process gone");
    } finally {
      await router.stop();
    }
  });
});
