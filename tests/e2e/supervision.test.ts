/**
 * Supervision end to end with the fault-injecting demo upstream: crashes
 * while serving, failed starts and crash loops, hangs, stalls, a taken port,
 * and that every counter returns to zero afterwards.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ModelStatus } from "../../src/router.ts";
import { chat, demoCmd, eventually, postJson, type RouterProcess, runtime, startRouter } from "./harness.ts";

async function statusOf(router: RouterProcess, model: string): Promise<ModelStatus> {
  const body = await (await fetch(`${router.url}/api/status`)).json() as { models: ModelStatus[] };
  return body.models.find((m) => m.model === model)!;
}

async function assertIdle(router: RouterProcess): Promise<void> {
  await eventually(async () => {
    const body = await (await fetch(`${router.url}/api/status`)).json() as { models: ModelStatus[] };
    return body.models.every((m) => m.inFlight === 0 && m.queued === 0);
  }, 5000, "in-flight and queued counters back to zero");
}

describe("supervision", () => {
  let router: RouterProcess;

  before(async () => {
    router = await startRouter(`
healthCheckTimeout: 20
supervision:
  maxFailures: 2
  failureWindow: 60
  probeInterval: 1
  probeTimeout: 1
  hungAfter: 2
models:
  crashy:
    cmd: ${demoCmd("--crash-after-ms 150 --token-ms 50 --log-lines 2")}
  broken:
    cmd: ${demoCmd("--exit-at-start 4 --log-lines 2")}
  staller:
    cmd: ${demoCmd("--stall-ms 20000 --token-ms 5")}
    stallTimeout: 1
    concurrencyLimit: 20
  hanger:
    cmd: ${demoCmd("--hang-health-after-ms 500")}
`);
  });

  after(async () => {
    const exit = await router.stop();
    assert.equal(exit.code, 0, router.output());
  });

  test("a crash during a non-streaming answer is a 502 naming the model, the exit and its output; the next request restarts it", async () => {
    const response = await postJson(`${router.url}/v1/chat/completions`, chat("crashy", { max_tokens: 50 }));
    assert.equal(response.status, 502);
    const body = await response.json();
    assert.match(body.error.message, /"crashy"/);
    assert.match(body.error.message, /exited with code 3/);
    assert.match(body.error.message, /log line/i);
    assert.equal(body.error.model, "crashy");
    assert.match(body.error.exit_reason, /exited with code 3/);
    const status = await statusOf(router, "crashy");
    assert.equal(status.state, "stopped");
    assert.match(status.lastExit ?? "", /exited with code 3/);
    const again = await postJson(`${router.url}/v1/chat/completions`, chat("crashy", { max_tokens: 1 }));
    assert.equal(again.status, 200, "the next request restarts the model");
    await again.body?.cancel();
    assert.ok((await statusOf(router, "crashy")).restarts >= 1);
    await router.waitForOutput(/crashy: upstream exited with code 3 unexpectedly/);
    await assertIdle(router);
    await fetch(`${router.url}/api/models/unload/crashy`, { method: "POST" });
  });

  test("a crash during a stream ends it with an SSE error event that says why", async () => {
    const response = await postJson(`${router.url}/v1/chat/completions`, chat("crashy", { max_tokens: 50, stream: true }));
    assert.equal(response.status, 200);
    const text = await response.text();
    const events = text.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => e.slice(6));
    const last = JSON.parse(events.at(-1)!);
    assert.match(last.error.message, /"crashy".*exited with code 3/s);
    assert.ok(events.length > 1, "tokens before the crash were delivered");
    await assertIdle(router);
    await fetch(`${router.url}/api/models/unload/crashy`, { method: "POST" });
  });

  test("repeated failed starts back off, then the model is disabled with a 503 that says why, until an unload", async () => {
    for (let i = 0; i < 3; i++) {
      const response = await postJson(`${router.url}/v1/chat/completions`, chat("broken"));
      assert.equal(response.status, 502, `attempt ${i + 1}`);
      assert.match((await response.json()).error.message, /exited with code 4 before becoming ready/);
    }
    const blocked = await postJson(`${router.url}/v1/chat/completions`, chat("broken"));
    assert.equal(blocked.status, 503);
    assert.ok(blocked.headers.get("retry-after"));
    const message = (await blocked.json()).error.message;
    assert.match(message, /failed 3 times in the last 60s/);
    assert.match(message, /exited with code 4/);
    assert.equal((await statusOf(router, "broken")).state, "failed");
    await router.waitForOutput(/waiting \d+ ms before starting it again/);

    await fetch(`${router.url}/api/models/unload/broken`, { method: "POST" });
    const retried = await postJson(`${router.url}/v1/chat/completions`, chat("broken"));
    assert.equal(retried.status, 502, "after an unload the model may be tried again");
    await assertIdle(router);
  });

  test("a stream that stalls is ended after stallTimeout without touching other requests", async () => {
    const stalled = postJson(`${router.url}/v1/chat/completions`, chat("staller", { stream: true }));
    const other = await postJson(`${router.url}/v1/embeddings`, { model: "staller", input: "x" });
    assert.equal(other.status, 200, "other requests to the same model still work");
    await other.body?.cancel();
    const text = await (await stalled).text();
    assert.match(text, /sent nothing for 1s \(stallTimeout\)/);
    await assertIdle(router);
    assert.equal((await statusOf(router, "staller")).state, "ready", "a stall does not kill the model");
  });

  test("a model whose health stops answering while idle is killed as hung", async () => {
    const response = await postJson(`${router.url}/v1/chat/completions`, chat("hanger"));
    assert.equal(response.status, 200);
    await response.body?.cancel();
    const pid = (await statusOf(router, "hanger")).pid!;
    await router.waitForOutput(/hanger: hung: .* failed 2 health probes in a row/, 15_000);
    await eventually(() => !runtime.isAlive(pid), 5000, "hung process killed");
    const status = await eventually(async () => {
      const s = await statusOf(router, "hanger");
      return s.state === "stopped" ? s : null;
    }, 5000, "hung model marked stopped");
    assert.match(status.lastExit ?? "", /hung/);
  });
});

describe("ports", () => {
  test("an upstream that loses its port as it binds is retried on another port; one that always does fails clearly", async () => {
    const marker = join(mkdtempSync(join(tmpdir(), "modelswap-port-")), "first-try");
    const router = await startRouter(`
models:
  racer:
    cmd: |
      sh -c 'if [ ! -e ${marker} ]; then touch ${marker}; echo "error: bind: address already in use" >&2; exit 1; fi; exec ${demoCmd()}'
  taken:
    cmd: ${demoCmd("--port-in-use")}
`);
    try {
      const response = await postJson(`${router.url}/v1/chat/completions`, chat("racer"));
      assert.equal(response.status, 200);
      await response.body?.cancel();
      await router.waitForOutput(/racer: port \d+ was taken as it started; retrying on another port/);
      const failing = await postJson(`${router.url}/v1/chat/completions`, chat("taken"));
      assert.equal(failing.status, 502);
      assert.match((await failing.json()).error.message, /"taken" failed to start: exited with code 1 before becoming ready: its port was taken each time/);
    } finally {
      await router.stop();
    }
  });

  test("when another process holds the assigned port, the model starts on a free one", async () => {
    const squatter = await runtime.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("not a model") });
    const router = await startRouter(`
startPort: ${squatter.port}
models:
  m:
    cmd: ${demoCmd()}
`);
    try {
      const response = await postJson(`${router.url}/v1/chat/completions`, chat("m"));
      assert.equal(response.status, 200);
      assert.equal((await response.json()).object, "chat.completion");
      const status = await statusOf(router, "m");
      assert.notEqual(new URL(status.baseUrl).port, String(squatter.port));
      await router.waitForOutput(new RegExp(`port ${squatter.port} is in use by another process`));
    } finally {
      await router.stop();
      await squatter.stop(true);
    }
  });
});
