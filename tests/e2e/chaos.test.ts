/**
 * Chaos, bounded: clients abort at random and upstreams are SIGKILLed at
 * random during swaps and streams. Every request ends with a success or a
 * documented error within its bound, no counter leaks, and no process
 * survives shutdown.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runChaos } from "./chaos.ts";
import { eventually, runtime } from "./harness.ts";

test("random aborts and upstream kills: documented outcomes only, counters back to zero, nothing left running", async () => {
  const report = await runChaos({ durationMs: 12_000, clients: 6, killEveryMs: 700, abortRate: 0.2 });
  const { router } = report;
  try {
    assert.deepEqual(report.surprises, [], `undocumented outcomes:\n${report.surprises.join("\n")}`);
    assert.ok(report.requests > 50, `only ${report.requests} requests ran`);
    assert.ok(report.kills > 5, `only ${report.kills} kills happened`);
    assert.ok((report.outcomes["200"] ?? 0) > 0, "some requests succeeded");
    assert.ok(report.slowestMs < 30_000, `a request took ${report.slowestMs} ms`);
    await eventually(async () => {
      const status = await (await fetch(`${router.url}/api/status`)).json() as { models: { inFlight: number; queued: number }[] };
      return status.models.every((m) => m.inFlight === 0 && m.queued === 0);
    }, 10_000, "counters back to zero");
    const status = await (await fetch(`${router.url}/api/status`)).json() as { models: { pid: number | null }[] };
    const pids = status.models.map((m) => m.pid).filter((pid): pid is number => pid !== null);
    const exit = await router.stop();
    assert.equal(exit.code, 0, router.output().slice(-3000));
    for (const pid of pids) assert.equal(runtime.isAlive(pid), false, `upstream ${pid} survived shutdown`);
  } finally {
    if (router.proc.pid && runtime.isAlive(router.proc.pid)) await router.stop();
  }
});
