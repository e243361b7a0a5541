/**
 * Proxy benchmark: requests/s and latency through the router versus a direct
 * connection to the same upstream, in one run; and swap overhead (a cold
 * request's time minus the upstream's own time to become healthy).
 *
 *   bun bench/proxy.ts [--requests N]      (also: deno run -A bench/proxy.ts)
 */
import { detectRuntime } from "../src/runtime/detect.ts";
import { startRouter } from "../tests/e2e/harness.ts";

const runtime = await detectRuntime();
const argIndex = runtime.args.indexOf("--requests");
const REQUESTS = argIndex >= 0 ? Number(runtime.args[argIndex + 1]) : 2000;
const BODY = JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }], max_tokens: 4 });

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

async function chatOnce(base: string, model: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: BODY.replace('"m"', JSON.stringify(model)),
  });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`status ${response.status}`);
  return performance.now() - started;
}

async function load(base: string, model: string, concurrency: number, total: number) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < total) latencies.push(await chatOnce(base, model));
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { rps: total / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/** Time from spawn to the first 200 on /health for the demo upstream itself. */
async function upstreamReadyMs(port: number): Promise<number> {
  const started = performance.now();
  const proc = runtime.spawn({ argv: [...runtime.selfArgv.slice(0, -1), new URL("../src/main.ts", import.meta.url).pathname, "demo-upstream", "--port", String(port)], output: "null", newProcessGroup: true });
  try {
    for (;;) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/health`);
        await response.arrayBuffer();
        if (response.status === 200) return performance.now() - started;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  } finally {
    runtime.killGroup(proc.pid, "SIGKILL");
    await proc.exited;
  }
}

const router = await startRouter(`
logLevel: warn
models:
  fast:
    cmd: \${SELF} demo-upstream --port \${PORT} --token-ms 0
    concurrencyLimit: 1000
  a:
    cmd: \${SELF} demo-upstream --port \${PORT} --token-ms 0
  b:
    cmd: \${SELF} demo-upstream --port \${PORT} --token-ms 0
`);

try {
  await chatOnce(router.url, "fast");
  const status = await (await fetch(`${router.url}/api/status`)).json() as { models: { model: string; baseUrl: string }[] };
  const direct = status.models.find((m) => m.model === "fast")!.baseUrl;
  console.log(`proxy benchmark (${runtime.name}, median of 3 alternating runs of ${REQUESTS} small chat requests; demo upstream with --token-ms 0)`);
  console.log("| concurrency | direct req/s | router req/s | ratio | direct p50/p99 ms | router p50/p99 ms |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  // Both paths get the same warm-up (the JIT, connection pools), then alternate three times;
  // the median run of each is reported, so one noisy moment on a shared machine does not decide.
  const medianRun = (runs: Awaited<ReturnType<typeof load>>[]) => [...runs].sort((a, b) => a.rps - b.rps)[1];
  for (const concurrency of [1, 32]) {
    await load(direct, "fast", concurrency, Math.min(1000, REQUESTS));
    await load(router.url, "fast", concurrency, Math.min(1000, REQUESTS));
    const directRuns = [];
    const routerRuns = [];
    for (let i = 0; i < 3; i++) {
      directRuns.push(await load(direct, "fast", concurrency, REQUESTS));
      routerRuns.push(await load(router.url, "fast", concurrency, REQUESTS));
    }
    const d = medianRun(directRuns);
    const r = medianRun(routerRuns);
    console.log(`| ${concurrency} | ${d.rps.toFixed(0)} | ${r.rps.toFixed(0)} | ${(r.rps / d.rps * 100).toFixed(0)}% | ${d.p50.toFixed(2)} / ${d.p99.toFixed(2)} | ${r.p50.toFixed(2)} / ${r.p99.toFixed(2)} |`);
  }

  const warm: number[] = [];
  for (let i = 0; i < 20; i++) warm.push(await chatOnce(router.url, "fast"));
  const ready: number[] = [];
  for (let i = 0; i < 10; i++) ready.push(await upstreamReadyMs(7900 + i));
  const swaps: number[] = [];
  for (let i = 0; i < 11; i++) {
    const ms = await chatOnce(router.url, i % 2 ? "a" : "b");
    if (i > 0) swaps.push(ms);
  }
  const overhead = median(swaps) - median(ready) - median(warm);
  console.log("");
  console.log("| swap (median of 10) | ms |");
  console.log("| --- | --- |");
  console.log(`| cold request through the router (stop one model, start the other, answer) | ${median(swaps).toFixed(1)} |`);
  console.log(`| upstream's own time from spawn to first healthy /health | ${median(ready).toFixed(1)} |`);
  console.log(`| warm request through the router | ${median(warm).toFixed(1)} |`);
  console.log(`| **swap overhead** = cold − own start − warm | **${overhead.toFixed(1)}** |`);
} finally {
  await router.stop();
}
