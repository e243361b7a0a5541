/**
 * Cancellation: a client that goes away — streaming, non-streaming, queued
 * or waiting on a cold start — has its upstream request aborted, its slot
 * released exactly once, and affects nobody else.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chat, demoCmd, eventually, postJson, type RouterProcess, startRouter } from "./harness.ts";

interface ModelStatus {
  model: string;
  state: string;
  inFlight: number;
  queued: number;
}

async function models(router: RouterProcess): Promise<ModelStatus[]> {
  return ((await (await fetch(`${router.url}/api/status`)).json()) as { models: ModelStatus[] }).models;
}

async function assertIdle(router: RouterProcess): Promise<void> {
  await eventually(async () => (await models(router)).every((m) => m.inFlight === 0 && m.queued === 0), 5000, "counters back to zero");
}

describe("cancellation", () => {
  let router: RouterProcess;
  const dir = mkdtempSync(join(tmpdir(), "modelswap-cancel-"));
  const disconnects = join(dir, "disconnects.log");

  before(async () => {
    router = await startRouter(`
models:
  slow:
    cmd: ${demoCmd(`--token-ms 100 --record-disconnect ${disconnects}`)}
  cold:
    cmd: ${demoCmd("--startup-ms 1500")}
  other:
    cmd: ${demoCmd()}
`);
  });

  after(async () => {
    await router.stop();
  });

  test("a non-streaming client that disconnects has its upstream request aborted within 1 s", async () => {
    const warm = await postJson(`${router.url}/v1/chat/completions`, chat("slow", { max_tokens: 1 }));
    await warm.body?.cancel();
    const controller = new AbortController();
    const request = postJson(`${router.url}/v1/chat/completions`, chat("slow", { max_tokens: 100 }), { signal: controller.signal });
    await eventually(async () => (await models(router)).find((m) => m.model === "slow")!.inFlight === 1, 5000, "request in flight");
    const abortedAt = Date.now();
    controller.abort();
    await assert.rejects(request);
    await eventually(() => existsSync(disconnects) && readFileSync(disconnects, "utf8").length > 0, 1000, "upstream saw the disconnect");
    assert.ok(Date.now() - abortedAt <= 1000);
    await assertIdle(router);
  });

  test("a client waiting on a cold start that leaves is not served, and others waiting still are", async () => {
    const leaving = new AbortController();
    const gone = postJson(`${router.url}/v1/chat/completions`, chat("cold"), { signal: leaving.signal });
    const staying = postJson(`${router.url}/v1/chat/completions`, chat("cold"));
    await eventually(async () => (await models(router)).find((m) => m.model === "cold")!.state === "starting", 5000, "cold start begun");
    leaving.abort();
    await assert.rejects(gone);
    const response = await staying;
    assert.equal(response.status, 200);
    await response.body?.cancel();
    await assertIdle(router);
  });

  test("a queued client that leaves never triggers the swap it was waiting for", async () => {
    const stream = await postJson(`${router.url}/v1/chat/completions`, chat("slow", { stream: true, max_tokens: 15 }));
    const reader = stream.body!.getReader();
    await reader.read();
    const before = router.output().match(/other: starting/g)?.length ?? 0;
    const queued = new AbortController();
    const waiting = postJson(`${router.url}/v1/chat/completions`, chat("other"), { signal: queued.signal });
    await eventually(async () => (await models(router)).find((m) => m.model === "other")!.queued === 1, 5000, "request queued");
    queued.abort();
    await assert.rejects(waiting);
    while (!(await reader.read()).done) { /* drain the slow stream */ }
    await assertIdle(router);
    assert.equal(router.output().match(/other: starting/g)?.length ?? 0, before, "the cancelled request never started its model");
    const running = await (await fetch(`${router.url}/running`)).json();
    assert.deepEqual(running.running.map((r: { model: string }) => r.model), ["slow"]);
  });
});
