/**
 * A log viewer or dashboard that stops reading must never slow the router
 * or an upstream (llama-swap #875: it once stalled the whole proxy). With an
 * upstream logging megabytes per second and three connections that never
 * read (a model log stream, the combined stream and /api/events), requests
 * are as fast as without them, and the stuck log reader, once it reads
 * again, is told how much it missed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chat, demoCmd, postJson, type RouterProcess, startRouter } from "../e2e/harness.ts";
import { RawGet } from "./raw-http.ts";

/**
 * Wraps the demo upstream: a background loop in its process group prints
 * ~5,000 lines of 1 KB (≈5 MB) per second, a little over what the router
 * keeps of a process's output (4 MiB/s, see src/logging/rate-limit.ts), so the
 * readers are fed as fast as the router ever feeds them.
 */
const NOISY = `#!/bin/sh
(while :; do seq -f "noise line %g: a chatty upstream writes a lot of output, ${"padding ".repeat(116)}" 1 500; sleep 0.1; done) &
exec "$@"
`;

/** Output logged while the readers are stuck: beyond any socket buffer (a few MB) plus the streams' limits. */
const STALL_CHARS = 24 * 1024 * 1024;

/** Latencies (ms) of `n` sequential chat requests; every one must succeed. */
async function latencies(url: string, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const response = await postJson(`${url}/v1/chat/completions`, chat("noisy", { max_tokens: 4 }));
    assert.equal(response.status, 200, await response.clone().text());
    await response.arrayBuffer();
    times.push(performance.now() - started);
  }
  return times;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

describe("a reader that never reads", () => {
  let dir: string;
  let router: RouterProcess;
  const stuck: RawGet[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "modelswap-noisy-"));
    writeFileSync(join(dir, "noisy.sh"), NOISY);
    router = await startRouter(`
logToStdout: both
models:
  noisy:
    cmd: sh ${join(dir, "noisy.sh")} ${demoCmd("--model noisy --token-ms 1")}
`);
  });

  after(async () => {
    for (const reader of stuck) reader.close();
    await router.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("does not delay requests while the upstream logs a lot, and later sees what it missed", async () => {
    await latencies(router.url, 3); // loads the model: the noise starts
    const baseline = await latencies(router.url, 30);

    const viewer = await RawGet.open(router.url, "/logs/stream/noisy");
    stuck.push(viewer);
    await viewer.waitFor(/noise line/);
    viewer.pause();
    for (const path of ["/logs/stream", "/api/events"]) {
      const reader = await RawGet.open(router.url, path);
      reader.pause();
      stuck.push(reader);
    }
    // Let far more be logged than kernel socket buffers and the streams' own limits can hold.
    const counter = await RawGet.open(router.url, "/logs/stream/noisy?no-history", { keepText: false });
    stuck.push(counter);
    await counter.waitForReceived(STALL_CHARS);
    counter.pause(); // from now on a fourth reader that never reads, not a firehose competing for the CPU
    const metrics = await (await fetch(`${router.url}/metrics`)).text();
    assert.ok(Number(/^modelswap_events_dropped_total (\d+)/m.exec(metrics)?.[1] ?? 0) > 0, "the stuck /api/events subscriber dropped messages");
    const stalled = await latencies(router.url, 30);

    const summary = `median ${median(baseline).toFixed(1)} ms -> ${median(stalled).toFixed(1)} ms, max ${Math.max(...baseline).toFixed(1)} -> ${Math.max(...stalled).toFixed(1)} ms`;
    assert.ok(median(stalled) <= Math.max(3 * median(baseline), median(baseline) + 50), `requests slowed down with stuck readers: ${summary}`);
    assert.ok(Math.max(...stalled) < 2000, `a request took too long with stuck readers: ${summary}`);

    viewer.resume();
    const [marker, bytes] = await viewer.waitFor(/--- (\d+) bytes dropped ---/, 20_000);
    assert.ok(Number(bytes) > 0, marker);
  });
});
