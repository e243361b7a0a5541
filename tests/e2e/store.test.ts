/**
 * `store.path` on a real router: activity and captures survive a restart
 * (on this runtime, and once through the compiled binary), a file that is
 * not a database stops the start with one line naming it (exit code 1),
 * and a file that cannot be written — held locked by another process —
 * never slows a request: the neighbour stays fast, the rows wait in memory
 * (counted in /metrics) and are written once the file is free.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ensureDist, EXECUTABLE } from "../build/dist.ts";
import { describeReport, startNeighbour } from "../hardening/neighbour.ts";
import { runtime } from "../helpers/process.ts";
import { parseExposition, sampleValue } from "../observability/exposition.ts";
import { chat, demoCmd, eventually, postJson, routerArgv, type RouterProcess, startRouter, writeConfig } from "./harness.ts";

const dir = mkdtempSync(join(tmpdir(), "modelswap-store-e2e-"));
const routers: RouterProcess[] = [];
after(async () => {
  for (const router of routers) await router.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A neighbour slower than this failed (a shared, noisy 2-core machine: generous). */
const LATENCY_BOUND_MS = 3000;

function config(storePath: string, models: string[] = ["alpha"]): string {
  return `
store:
  path: ${storePath}
captureBuffer: 1
models:
${models.map((id) => `  ${id}:\n    concurrencyLimit: 50\n    cmd: ${demoCmd(`--model ${id} --token-ms 0`)}`).join("\n")}
`;
}

async function start(yaml: string, program?: string[]): Promise<RouterProcess> {
  const router = await startRouter(yaml, [], {}, program);
  routers.push(router);
  return router;
}

async function stop(router: RouterProcess): Promise<void> {
  routers.splice(routers.indexOf(router), 1);
  const exit = await router.stop();
  assert.equal(exit.code, 0, router.output());
}

// deno-lint-ignore no-explicit-any
async function getJson(router: RouterProcess, path: string): Promise<any> {
  const response = await fetch(router.url + path);
  assert.equal(response.status, 200, await response.clone().text());
  return await response.json();
}

async function chatOk(router: RouterProcess, model: string, extra: Record<string, unknown> = {}): Promise<void> {
  const response = await postJson(`${router.url}/v1/chat/completions`, chat(model, { max_tokens: 3, ...extra }));
  assert.equal(response.status, 200);
  await response.arrayBuffer();
}

/** Two routers in turn on one store file: the second sees what the first recorded and goes on from there. */
async function survivesRestart(program?: string[]): Promise<void> {
  const storePath = join(dir, `restart-${program ? "binary" : runtime.name}.db`);
  const first = await start(config(storePath), program);
  await chatOk(first, "alpha");
  await chatOk(first, "alpha", { stream: true });
  const refused = await postJson(`${first.url}/v1/chat/completions`, chat("nope"));
  assert.equal(refused.status, 404);
  await refused.arrayBuffer();
  const before = await getJson(first, "/api/metrics/activity?limit=10");
  assert.equal(before.total, 3);
  const captured = before.data.find((row: { has_capture: boolean; resp_status_code: number }) => row.has_capture && row.resp_status_code === 200);
  assert.ok(captured, "a capture was kept");
  const capture = await getJson(first, `/api/captures/${captured.id}`);
  await stop(first);

  const second = await start(config(storePath), program);
  const after = await getJson(second, "/api/metrics/activity?limit=10");
  assert.deepEqual(after.data, before.data, "every row, as it was");
  assert.deepEqual(await getJson(second, `/api/captures/${captured.id}`), capture);
  assert.equal((await getJson(second, "/api/activity")).data.length, 3, "/api/activity reads the store too");
  assert.equal((await getJson(second, "/api/metrics/stats")).total_requests, 3);
  if (program) {
    const version = await getJson(second, "/api/version");
    assert.match(version.build_date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, "a build is stamped with its date");
    assert.notEqual(version.commit, "source");
  }
  await chatOk(second, "alpha");
  const [newest] = (await getJson(second, "/api/metrics/activity?limit=1")).data;
  assert.equal(newest.id, Math.max(...before.data.map((row: { id: number }) => row.id)) + 1, "ids go on");
  await stop(second);
}

/** Run the router on `yaml` until it exits; resolves with its exit code and output. */
async function runUntilExit(yaml: string): Promise<{ code: number | null; output: string }> {
  const proc = runtime.spawn({ argv: [...routerArgv(), "--config", writeConfig(yaml), "--listen", "127.0.0.1:0"], output: "pipe" });
  const read = async (stream: ReadableStream<Uint8Array> | null) => (stream ? await new Response(stream).text() : "");
  const [output, errors, status] = await Promise.all([read(proc.stdout), read(proc.stderr), proc.exited]);
  return { code: status.code, output: output + errors };
}

describe("store.path", () => {
  test(`activity and captures survive a restart (${runtime.name})`, async () => {
    await survivesRestart();
  });

  test("…and through the compiled binary (bun:sqlite inside `bun build --compile`; /api/version has the build's date)", async () => {
    await ensureDist();
    await survivesRestart([EXECUTABLE]);
  });

  test("a file that is not a database stops the start: exit code 1, one line naming the file", async () => {
    const storePath = join(dir, "garbage.db");
    writeFileSync(storePath, "not a database\n".repeat(500));
    const { code, output } = await runUntilExit(config(storePath));
    assert.equal(code, 1, output);
    const line = output.trim().split("\n").at(-1)!;
    assert.equal(line, `modelswap: store.path ${storePath} is not a usable SQLite database (damaged, or another program's file): move it away or point store.path at another file (file is not a database)`);
    assert.doesNotMatch(output, /listening on/);
  });

  test("a file that cannot be written never slows a request: the neighbour stays fast; the rows wait and are written later", async () => {
    const storePath = join(dir, "locked.db");
    const router = await start(config(storePath, ["alpha", "beta"]));
    await chatOk(router, "alpha");
    await chatOk(router, "beta");
    const holder = await runtime.openDatabase(storePath);
    holder.exec("BEGIN IMMEDIATE"); // another process holds the write lock (as a stuck backup, or a slow disk would)
    let locked = true;
    try {
      const neighbour = startNeighbour(router.url, "beta", router.proc.pid);
      const latencies: number[] = [];
      for (let round = 0; round < 20; round++) {
        const started = performance.now();
        // Bursts of 20: every one is a row for the store, 400 in all, so full batches are tried at once.
        await Promise.all(Array.from({ length: 20 }, () => chatOk(router, "alpha")));
        latencies.push(performance.now() - started);
      }
      const report = await neighbour.stop();
      const summary = `${describeReport(report)}; bursts of 20 took up to ${Math.max(...latencies).toFixed(0)} ms`;
      assert.deepEqual(report.failures, [], summary);
      assert.ok(report.rounds > 0, summary);
      assert.ok(report.healthMaxMs < LATENCY_BOUND_MS && report.chatMaxMs < LATENCY_BOUND_MS, `the neighbour was slow: ${summary}`);
      assert.ok(Math.max(...latencies) < LATENCY_BOUND_MS, `requests were slow: ${summary}`);

      const samples = parseExposition(await (await fetch(`${router.url}/metrics`)).text());
      const pending = sampleValue(samples, "modelswap_store_pending", {})!;
      assert.ok(pending >= 400, `rows wait in memory: ${pending}`);
      assert.ok(sampleValue(samples, "modelswap_store_write_errors_total", {})! >= 1);
      assert.equal(sampleValue(samples, "modelswap_store_dropped_total", {}), 0, "within the queue's bound nothing is lost");
      await router.waitForOutput(/store\.path .*locked\.db: cannot write \(database is locked\); \d+ waiting, 0 dropped so far; trying again/);
      holder.exec("ROLLBACK");
      locked = false;
      // Nothing was lost: every request is in the file once it is free.
      await eventually(async () => (await getJson(router, "/api/metrics/activity?limit=1")).total === 2 + 400 + report.rounds, 10_000, "every row written");
      await router.waitForOutput(/store\.path .*locked\.db: writing again after \d+ failed tries/);
    } finally {
      if (locked) holder.exec("ROLLBACK");
      holder.close();
    }
  });
});
