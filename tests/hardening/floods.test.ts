/**
 * Issue 15, items 4, 5 and part of 9, through the real router: an upstream
 * that floods its output (empty lines forever, one 100 MB line) and a
 * thousand log and event subscribers that never read must not freeze the
 * router. While each attack runs, a neighbour keeps asking /health and a
 * chat to another model (tests/hardening/neighbour.ts). The flooding
 * upstreams run from source on this runtime and from the compiled binary.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ExitStatus } from "../../src/runtime/runtime.ts";
import { MAX_SUBSCRIBERS } from "../../src/logging/subscribers.ts";
import { MAX_LINE_BYTES } from "../../src/upstream/lines.ts";
import { ensureDist, EXECUTABLE } from "../build/dist.ts";
import { chat, demoCmd, eventually, postJson, type RouterProcess, routerArgv, startRouter } from "../e2e/harness.ts";
import { RawGet } from "../observability/raw-http.ts";
import { describeReport, type NeighbourReport, startNeighbour } from "./neighbour.ts";

/** Generous bounds for a shared, noisy 2-core machine; before the fix these were tens of seconds and ~1 GB. */
const LATENCY_BOUND_MS = 2500;
/** The router's RSS while a flood runs (it idles at 55–80 MiB, 75–150 under a flood; the floods took it to 1.1–2.4 GB). */
const RSS_BOUND_MIB = 300;
/** The router's RSS with the most subscribers it serves stuck (160–250 MiB; a thousand of them took it to ~1.3 GB). */
const SUBSCRIBERS_RSS_BOUND_MIB = 400;
/** Open files while a flood runs (a few sockets, pipes and the runtime's own). */
const FDS_BOUND = 100;

const RATE_MARKER = /--- (\d+) lines? dropped \(rate limit\) ---\n/;
const CUT_HEAD = /x{16} \[… line longer than 16384 bytes: cut\]\n/;
const CUT_COUNT = /\[… (\d+) bytes cut from that line\]\n/;
/** One line of 100 MB on stderr: no newline until all of it is written. */
const LONG_LINE_BYTES = 100 * 1024 * 1024;

const dir = mkdtempSync(join(tmpdir(), "modelswap-floods-"));
/** Wrappers that run the demo upstream (`exec "$@"`) with a flooding process beside it in its process group. */
const WRAPPERS = {
  yes: `#!/bin/sh\nyes "" &\nexec "$@"\n`,
  long: `#!/bin/sh\n(head -c ${LONG_LINE_BYTES} /dev/zero | tr '\\0' x >&2; echo >&2) &\nexec "$@"\n`,
  // ~5,000 lines of 1 KB a second: a little over what the router keeps of one process (4 MiB/s, src/logging/rate-limit.ts).
  noisy: `#!/bin/sh\n(while :; do seq -f "noise line %g: ${"n".repeat(1000)}" 1 500; sleep 0.1; done) &\nexec "$@"\n`,
};
for (const [name, text] of Object.entries(WRAPPERS)) writeFileSync(join(dir, `${name}.sh`), text);

/** A config with `flood` wrapped by `wrapper` and a quiet neighbour model, both allowed to run at once. */
function config(wrapper: keyof typeof WRAPPERS, extra = ""): string {
  return `${extra}
models:
  flood:
    cmd: sh ${join(dir, `${wrapper}.sh`)} ${demoCmd("--model flood --token-ms 1")}
  quiet:
    cmd: ${demoCmd("--model quiet --token-ms 1")}
groups:
  all: { swap: false, members: [flood, quiet] }
`;
}

/** A chat that must succeed; resolves with its latency (ms). */
async function chatOk(url: string, model: string): Promise<number> {
  const started = performance.now();
  const response = await postJson(`${url}/v1/chat/completions`, chat(model, { max_tokens: 4 }), { signal: AbortSignal.timeout(30_000) });
  const body = await response.text();
  assert.equal(response.status, 200, `chat to ${model}: ${body}`);
  return performance.now() - started;
}

function assertNeighbourFine(report: NeighbourReport, { rssMiB = RSS_BOUND_MIB, fds = FDS_BOUND } = {}): void {
  const summary = describeReport(report);
  assert.deepEqual(report.failures, [], summary);
  assert.ok(report.rounds > 0, summary);
  assert.ok(report.healthMaxMs < LATENCY_BOUND_MS, `health was slow: ${summary}`);
  assert.ok(report.chatMaxMs < LATENCY_BOUND_MS, `the neighbour's chat was slow: ${summary}`);
  assert.ok(report.rssMaxMiB < rssMiB, `RSS grew: ${summary}`);
  assert.ok(report.fdsMax < fds, `open files grew: ${summary}`);
}

/** Pids of the processes in process group `pgid` (from /proc). */
function processGroup(pgid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const fields = readFileSync(`/proc/${name}/stat`, "utf8").split(") ")[1].split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** The pid of a model's process, from /api/status. */
async function modelPid(url: string, model: string): Promise<number> {
  const status = await (await fetch(`${url}/api/status`)).json() as { models: Array<{ model: string; pid: number | null }> };
  const pid = status.models.find((entry) => entry.model === model)?.pid;
  assert.ok(pid, `${model} has a process`);
  return pid;
}

/**
 * Requests to `model` counted in /metrics, by status (not /api/activity:
 * the neighbour's chats soon push a flooded model's rows out of its ring).
 */
async function requestCounts(url: string, model: string): Promise<Record<string, number>> {
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const [, labels, value] of metrics.matchAll(/^modelswap_requests_total\{([^}]*)\} (\d+)$/gm)) {
    if (!labels.includes(`model="${model}"`)) continue;
    const status = /status="(\d+)"/.exec(labels)![1];
    counts[status] = (counts[status] ?? 0) + Number(value);
  }
  return counts;
}

after(() => rmSync(dir, { recursive: true, force: true }));

for (const [name, program] of [["from source", null], ["compiled binary", [EXECUTABLE]]] as const) {
  describe(`a flooding upstream (${name})`, () => {
    const routers: RouterProcess[] = [];
    const readers: RawGet[] = [];
    const start = async (yaml: string) => {
      const router = await startRouter(yaml, [], {}, program ? [...program] : routerArgv());
      routers.push(router);
      return router;
    };

    before(async () => {
      if (program) await ensureDist();
    });

    after(async () => {
      for (const reader of readers) reader.close();
      for (const router of routers) await router.stop(); // at once for one that already exited
    });

    test("printing empty lines forever: neighbours stay fast, the model still answers, the log shows the rate limit, SIGTERM stops the router", async () => {
      const router = await start(config("yes", "logToStdout: both"));
      await chatOk(router.url, "quiet");
      await chatOk(router.url, "flood"); // the flood starts with the model
      const floodPid = await modelPid(router.url, "flood");
      const viewer = await RawGet.open(router.url, "/logs/stream/flood?no-history");
      readers.push(viewer);

      const neighbour = startNeighbour(router.url, "quiet", router.proc.pid);
      // The attack lasts three rate-limit windows (each reported by a marker); the flooding model is asked meanwhile.
      const dropped: number[] = [];
      const windows = (async () => {
        while (dropped.length < 3) {
          const [, count] = await viewer.waitFor(RATE_MARKER, 15_000);
          dropped.push(Number(count));
          viewer.text = ""; // the next marker, not this one again
        }
      })();
      let attacking = true;
      void windows.finally(() => (attacking = false));
      const floodChats: number[] = [];
      while (attacking) floodChats.push(await chatOk(router.url, "flood"));
      await windows;
      const report = await neighbour.stop();

      assertNeighbourFine(report);
      assert.ok(Math.max(...floodChats) < LATENCY_BOUND_MS, `the flooding model answered slowly: ${floodChats.map(Math.round)}`);
      // The flood is far beyond the rate: most of each window is dropped (counted, not kept).
      assert.ok(dropped.every((count) => count > 100_000), `dropped per window: ${dropped}`);
      assert.match(router.output(), RATE_MARKER, "stdout (combined) shows the bounded log with its markers");
      // Nothing was lost: every chat to the flooding model was answered and counted.
      assert.deepEqual(await requestCounts(router.url, "flood"), { 200: floodChats.length + 1 });

      const stopping = performance.now();
      router.proc.kill("SIGTERM");
      const status = await Promise.race([
        router.proc.exited,
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 10_000)),
      ]) as ExitStatus | null;
      const stopMs = performance.now() - stopping;
      assert.ok(status, "the router did not exit within 10 s of SIGTERM");
      assert.deepEqual(status, { code: 0, signal: null }, router.output().slice(-2000));
      assert.ok(stopMs < 5000, `SIGTERM took ${stopMs.toFixed(0)} ms`);
      await eventually(() => processGroup(floodPid).length === 0, 5000, "the flooding process group to be gone");
    });

    test("printing one 100 MB line: memory stays bounded, the first request answers at once, the line is cut with a marker", async () => {
      const router = await start(config("long", "logToStdout: both"));
      await chatOk(router.url, "quiet");
      const neighbour = startNeighbour(router.url, "quiet", router.proc.pid);
      const firstMs = await chatOk(router.url, "flood"); // loads it: the 100 MB line starts at spawn
      const viewer = await RawGet.open(router.url, "/logs/stream/flood");
      readers.push(viewer);
      await viewer.waitFor(CUT_HEAD, 15_000); // at once, long before the line ends
      const [, cut] = await viewer.waitFor(CUT_COUNT, 60_000); // when it ends: the rest is counted exactly
      const report = await neighbour.stop();

      assertNeighbourFine(report);
      assert.ok(firstMs < 5000, `the first request took ${firstMs.toFixed(0)} ms`);
      const history = await (await fetch(`${router.url}/logs`)).text();
      assert.match(history, CUT_HEAD);
      assert.ok(history.length < 300 * 1024, `/logs holds ${history.length} characters`);
      assert.equal(Number(cut), LONG_LINE_BYTES - MAX_LINE_BYTES);
      assert.deepEqual(await requestCounts(router.url, "flood"), { 200: 1 });
    });
  });
}

describe("a thousand log and event subscribers that never read", () => {
  let router: RouterProcess;
  const readers: RawGet[] = [];

  before(async () => {
    router = await startRouter(config("noisy"));
  });

  after(async () => {
    for (const reader of readers) reader.close();
    await router.stop();
  });

  test("beyond the cap they are refused with a 503 naming it; the rest stay bounded in total while tens of MB flow; neighbours stay fast", async () => {
    await chatOk(router.url, "quiet");
    const neighbour = startNeighbour(router.url, "quiet", router.proc.pid);
    // One reader that keeps up counts what flows; it holds one of the places.
    const counter = await RawGet.open(router.url, "/logs/stream/flood?no-history", { keepText: false });
    readers.push(counter);
    const paths = ["/api/events", "/logs/stream", "/logs/stream/flood", "/logs/stream/upstream"];
    const stuck: RawGet[] = [];
    const refusals = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const reader = await RawGet.open(router.url, paths[i % paths.length]);
      readers.push(reader);
      const [, status] = await reader.waitFor(/^HTTP\/1\.1 (\d+)/);
      if (status === "200") {
        reader.pause();
        stuck.push(reader);
        continue;
      }
      const [body] = await reader.waitFor(/\{"error".*\}/);
      const { code, message } = JSON.parse(body).error;
      const key = `${status} ${code}: ${message}`;
      refusals.set(key, (refusals.get(key) ?? 0) + 1);
      reader.close();
    }
    assert.equal(stuck.length, MAX_SUBSCRIBERS - 1, "every place but the counter's was taken");
    assert.equal(refusals.size, 1, [...refusals.keys()].join("\n"));
    const [[refusal, refused]] = refusals;
    assert.equal(refused, 1000 - stuck.length);
    assert.match(refusal, new RegExp(`^503 too_many_subscribers: .*at most ${MAX_SUBSCRIBERS} at once`));

    await chatOk(router.url, "flood"); // the noise starts
    await counter.waitForReceived(32 * 1024 * 1024, 60_000);
    const report = await neighbour.stop();
    // A held connection costs a few descriptors (up to 3 behind Bun's connection guard); a refused one none once closed.
    assertNeighbourFine(report, { rssMiB: SUBSCRIBERS_RSS_BOUND_MIB, fds: 4 * MAX_SUBSCRIBERS + FDS_BOUND });

    const metrics = await (await fetch(`${router.url}/metrics`)).text();
    assert.ok(Number(/^modelswap_events_dropped_total (\d+)/m.exec(metrics)?.[1] ?? 0) > 0, "stuck /api/events subscribers dropped messages");
    // A stuck log reader that reads again is told what it missed.
    const viewer = stuck[2];
    viewer.text = "";
    viewer.resume();
    const [marker, bytes] = await viewer.waitFor(/--- (\d+) bytes dropped ---/, 20_000);
    assert.ok(Number(bytes) > 0, marker);

    // Closed connections give their places back.
    for (const reader of stuck) reader.close();
    await eventually(async () => {
      const response = await fetch(`${router.url}/api/events`);
      await response.body?.cancel();
      return response.status === 200;
    }, 10_000, "a new subscriber to be accepted once the others closed");
  });

  test("a malformed escape (%ff) in a log or model name is a 400, not a 500", async () => {
    for (const [method, path] of [["GET", "/logs/stream/%ff"], ["POST", "/api/models/load/%ff"], ["POST", "/api/models/unload/a%ffb"]]) {
      const response = await fetch(`${router.url}${path}`, { method });
      const body = await response.json();
      assert.equal(response.status, 400, `${method} ${path}: ${JSON.stringify(body)}`);
      assert.equal(body.error.code, "invalid_path");
      assert.match(body.error.message, /not valid percent-encoding/);
    }
  });
});
