/**
 * Proxy benchmark: the router against a direct connection to the same
 * upstream, in one run — requests/s and latency of small chat requests at 1
 * and 32 connections, an event stream of 2000 chunks sent as fast as
 * possible, the delay added to events sent every 5 ms — and swap overhead
 * (a cold request's time minus the upstream's own time to become healthy).
 *
 *   bun bench/proxy.ts [--requests N] [--runs 3]      (also: deno run -A bench/proxy.ts)
 */
import { scriptArgv } from "../tests/helpers/process.ts";
import { startRouter } from "../tests/e2e/harness.ts";
import { alternate, CpuMeter, fixed, load, median, medianBy, option, percentile, pinApart, post, runtime, stream, type StreamRun } from "./measure.ts";

const REQUESTS = option("requests", 2000);
const RUNS = option("runs", 3);
const SSE_CHUNKS = 2000;
const chat = (model: string, extra = "") => `{"model":"${model}","messages":[{"role":"user","content":"hi"}],"max_tokens":4${extra}}`;
const ticker = scriptArgv(new URL("ticker-upstream.ts", import.meta.url).pathname).join(" ");

/** Time from spawn to the first 200 on /health for the demo upstream itself. */
async function upstreamReadyMs(port: number): Promise<number> {
  const started = performance.now();
  const proc = runtime.spawn({ argv: [...scriptArgv(new URL("../src/main.ts", import.meta.url).pathname), "demo-upstream", "--port", String(port)], output: "null", newProcessGroup: true });
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

/** Milliseconds from each event's writing (its `"t"`) to its arrival, ascending. */
function eventDelays(run: StreamRun): number[] {
  const delays: number[] = [];
  let pending = "";
  for (const { at, text } of run.arrivals) {
    const events = (pending + text).split("\n\n");
    pending = events.pop()!;
    for (const event of events) {
      const t = /"t":([\d.]+)/.exec(event);
      if (t) delays.push(at - Number(t[1]));
    }
  }
  return delays.sort((a, b) => a - b);
}

const router = await startRouter(`
logLevel: warn
models:
  fast:
    cmd: \${SELF} demo-upstream --port \${PORT} --token-ms 0
    concurrencyLimit: 1000
  sse:
    cmd: \${SELF} demo-upstream --port \${PORT} --token-ms 0 --reply "${Array.from({ length: SSE_CHUNKS }, (_, i) => `w${i}`).join(" ")}"
  ticker:
    cmd: ${ticker} --port \${PORT} --chunks 400 --every-ms 5
  a:
    cmd: \${SELF} demo-upstream --port \${PORT} --token-ms 0
  b:
    cmd: \${SELF} demo-upstream --port \${PORT} --token-ms 0
groups:
  measured: { swap: false, exclusive: false, members: [fast, sse, ticker] }
  swapped: { swap: true, exclusive: false, members: [a, b] }
`);

try {
  const setup = await pinApart(router.proc.pid);
  const base: Record<string, string> = {};
  for (const model of ["fast", "sse", "ticker"]) {
    await post(`${router.url}/v1/chat/completions`, chat(model));
    const status = await (await fetch(`${router.url}/api/status`)).json() as { models: { model: string; baseUrl: string }[] };
    base[model] = status.models.find((m) => m.model === model)!.baseUrl;
  }
  const both = (model: string) => ({ direct: `${base[model]}/v1/chat/completions`, router: `${router.url}/v1/chat/completions` });
  const rows: string[][] = [];
  const cpu = new CpuMeter(router.proc.pid);
  const cpuRow = (what: string) => rows.push([`router CPU per ${what}, µs (all router runs)`, "", fixed(cpu.take(), 0), ""]);

  for (const concurrency of [1, 32]) {
    const url = both("fast");
    const body = chat("fast");
    const runs = await alternate(RUNS, () => load(url.direct, body, concurrency, REQUESTS), () => cpu.during(REQUESTS, () => load(url.router, body, concurrency, REQUESTS)));
    const d = medianBy(runs.direct, (r) => r.rps);
    const r = medianBy(runs.router, (r) => r.rps);
    rows.push([`req/s, ${concurrency} connection${concurrency > 1 ? "s" : ""}`, fixed(d.rps, 0), fixed(r.rps, 0), fixed(r.rps / d.rps)]);
    rows.push([`p50 / p99 ms, ${concurrency} connection${concurrency > 1 ? "s" : ""}`, `${fixed(d.p50)} / ${fixed(d.p99)}`, `${fixed(r.p50)} / ${fixed(r.p99)}`, `${fixed(r.p50 / d.p50)} / ${fixed(r.p99 / d.p99)}`]);
    cpuRow(`request, ${concurrency} connection${concurrency > 1 ? "s" : ""}`);
  }

  {
    const url = both("sse");
    const body = chat("sse", `,"stream":true,"max_tokens":${SSE_CHUNKS}`);
    const runs = await alternate(RUNS, () => stream(url.direct, body), () => cpu.during(1, () => stream(url.router, body)));
    const d = medianBy(runs.direct, (r) => r.ms);
    const r = medianBy(runs.router, (r) => r.ms);
    rows.push([`${SSE_CHUNKS} SSE chunks as fast as possible: total ms (client reads)`, `${fixed(d.ms, 1)} (${d.reads})`, `${fixed(r.ms, 1)} (${r.reads})`, fixed(r.ms / d.ms)]);
    cpuRow(`${SSE_CHUNKS}-chunk stream`);
  }

  {
    const url = both("ticker");
    const body = chat("ticker", ',"stream":true');
    const runs = await alternate(RUNS, () => stream(url.direct, body), () => stream(url.router, body));
    // Added delay: the router's percentile minus the direct one over every event of the runs (the clocks' offset cancels).
    const pooled = (runs: StreamRun[]) => runs.flatMap(eventDelays).sort((a, b) => a - b);
    const [d, r] = [pooled(runs.direct), pooled(runs.router)];
    const at = (p: number) => percentile(r, p) - percentile(d, p);
    rows.push(["an event every 5 ms: added delay p50 / p99 ms", "0 / 0", `${fixed(at(50))} / ${fixed(at(99))}`, "–"]);
  }

  console.log(`proxy benchmark (${runtime.name}; ${setup}; median of ${RUNS} alternating runs after an equal warm-up; ${REQUESTS} requests per load run; demo upstream with --token-ms 0)`);
  console.log("| measure | direct | modelswap | modelswap ÷ direct |");
  console.log("| --- | --- | --- | --- |");
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);

  const fast = both("fast").router;
  const warm: number[] = [];
  for (let i = 0; i < 20; i++) warm.push(await post(fast, chat("fast")));
  const ready: number[] = [];
  for (let i = 0; i < 10; i++) ready.push(await upstreamReadyMs(7900 + i));
  const swaps: number[] = [];
  for (let i = 0; i < 11; i++) {
    const ms = await post(fast, chat(i % 2 ? "a" : "b"));
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
