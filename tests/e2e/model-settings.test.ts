/**
 * Per-model settings from llama-swap's format, end to end: `env`, `cmdStop`
 * with `${PID}`, `checkEndpoint: none`, a fixed port with an explicit
 * `proxy`, and `healthCheckTimeout` for a server that never gets healthy.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { freePort } from "../helpers/process.ts";
import { chat, demoCmd, eventually, postJson, type RouterProcess, runtime, startRouter } from "./harness.ts";

describe("model settings", () => {
  let router: RouterProcess;
  let fixedPort: number;
  const stopLog = join(mkdtempSync(join(tmpdir(), "modelswap-stop-")), "stopped.log");

  before(async () => {
    fixedPort = await freePort();
    router = await startRouter(`
healthCheckTimeout: 2
models:
  withenv:
    cmd: ${demoCmd()}
    env: ["DEMO_GREETING=hello from env", "OTHER=1"]
  stoppable:
    cmd: ${demoCmd()}
    cmdStop: sh -c 'echo "stop \${PID}" >> ${stopLog}; kill \${PID}'
  unchecked:
    cmd: ${demoCmd("--startup-ms 60000")}
    checkEndpoint: none
  fixed:
    cmd: \${SELF} demo-upstream --port ${fixedPort}
    proxy: http://127.0.0.1:${fixedPort}
  neverhealthy:
    cmd: ${demoCmd("--hang-health")}
`);
  });

  after(async () => {
    assert.equal((await router.stop()).code, 0);
  });

  const pidOf = async (model: string) => {
    const status = await (await fetch(`${router.url}/api/status`)).json() as { models: { model: string; pid: number | null }[] };
    return status.models.find((m) => m.model === model)!.pid;
  };

  test("env entries reach the upstream process", async () => {
    const response = await fetch(`${router.url}/upstream/withenv/env?name=DEMO_GREETING`);
    assert.deepEqual(await response.json(), { name: "DEMO_GREETING", value: "hello from env" });
  });

  test("cmdStop runs with ${PID} set to the upstream's pid", async () => {
    const loaded = await postJson(`${router.url}/v1/chat/completions`, chat("stoppable"));
    await loaded.body?.cancel();
    const pid = await pidOf("stoppable");
    await fetch(`${router.url}/api/models/unload/stoppable`, { method: "POST" });
    assert.equal(readFileSync(stopLog, "utf8").trim(), `stop ${pid}`);
    await eventually(() => !runtime.isAlive(pid!), 5000, "stopped upstream gone");
  });

  test("checkEndpoint none: ready as soon as the process runs", async () => {
    await fetch(`${router.url}/api/models/load/unchecked`, { method: "POST" });
    const status = await (await fetch(`${router.url}/running`)).json() as { running: { model: string; state: string }[] };
    assert.deepEqual(status.running.map((r) => [r.model, r.state]), [["unchecked", "ready"]], "health (503 for a minute) was not polled");
  });

  test("a fixed port in cmd works with an explicit proxy", async () => {
    const response = await postJson(`${router.url}/v1/chat/completions`, chat("fixed"));
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });

  test("a server that never answers its health check fails after healthCheckTimeout with a clear error", async () => {
    const started = Date.now();
    const response = await postJson(`${router.url}/v1/chat/completions`, chat("neverhealthy"));
    const waited = Date.now() - started;
    assert.equal(response.status, 502);
    const body = await response.json();
    assert.match(body.error.message, /"neverhealthy" failed to start: did not answer \/health with 200 within 2s \(healthCheckTimeout\)/);
    assert.ok(waited >= 2000, `failed after ${waited} ms, before the timeout`);
    assert.ok(waited < 10_000, `hung for ${waited} ms: each probe has its own timeout`);
  });
});
