/**
 * The router in front of a real llama-server against a direct connection to
 * it, in one run: requests/s of short chat completions at 1 connection, p99
 * latency at 32 connections (every run reported: the tail is what varies),
 * and the total time of a 1000-token stream.
 *
 *   source /tmp/llama-prefix/env.sh && bun bench/llama.ts [--requests N] [--runs 3]
 */
import { startRouter } from "../tests/e2e/harness.ts";
import { alternate, CpuMeter, fixed, load, medianBy, option, pinApart, post, runtime, stream } from "./measure.ts";

const LLAMA_SERVER = runtime.env("LLAMA_SERVER");
const MODEL = runtime.env("LLAMA_TINY_MODEL");
if (!LLAMA_SERVER || !MODEL) {
  console.log("bench/llama.ts: LLAMA_SERVER and LLAMA_TINY_MODEL are not set (source /tmp/llama-prefix/env.sh); skipped");
  runtime.exit(0);
}
const REQUESTS = option("requests", 300);
const RUNS = option("runs", 3);
const STREAM_TOKENS = 1000;
const chat = (extra = "") => `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"temperature":0${extra}}`;

const router = await startRouter(`
logLevel: warn
models:
  tiny:
    cmd: ${LLAMA_SERVER} -m ${MODEL} --host 127.0.0.1 --port \${PORT}
    concurrencyLimit: 1000
`);
try {
  const setup = await pinApart(router.proc.pid);
  const url = { direct: "", router: `${router.url}/v1/chat/completions` };
  await post(url.router, chat());
  const status = await (await fetch(`${router.url}/api/status`)).json() as { models: { model: string; baseUrl: string }[] };
  url.direct = `${status.models.find((m) => m.model === "tiny")!.baseUrl}/v1/chat/completions`;
  const rows: string[][] = [];
  const cpu = new CpuMeter(router.proc.pid);

  for (const concurrency of [1, 32]) {
    const runs = await alternate(RUNS, () => load(url.direct, chat(), concurrency, REQUESTS), () => cpu.during(REQUESTS, () => load(url.router, chat(), concurrency, REQUESTS)));
    const d = medianBy(runs.direct, (r) => r.rps);
    const r = medianBy(runs.router, (r) => r.rps);
    rows.push([`req/s, ${concurrency} connection${concurrency > 1 ? "s" : ""}`, fixed(d.rps, 0), fixed(r.rps, 0), fixed(r.rps / d.rps)]);
    const p99s = runs.router.map((run, i) => fixed(run.p99 / runs.direct[i].p99));
    rows.push([`p50 / p99 ms, ${concurrency} connection${concurrency > 1 ? "s" : ""} (p99 ratio of each run)`, `${fixed(d.p50)} / ${fixed(d.p99)}`, `${fixed(r.p50)} / ${fixed(r.p99)}`, `${fixed(r.p50 / d.p50)} / ${p99s.join(", ")}`]);
    rows.push([`router CPU per request, ${concurrency} connection${concurrency > 1 ? "s" : ""}, µs`, "", fixed(cpu.take(), 0), ""]);
  }
  {
    const body = chat(`,"stream":true,"max_tokens":${STREAM_TOKENS},"ignore_eos":true`);
    const runs = await alternate(RUNS, () => stream(url.direct, body), () => stream(url.router, body));
    const d = medianBy(runs.direct, (r) => r.ms);
    const r = medianBy(runs.router, (r) => r.ms);
    rows.push([`${STREAM_TOKENS}-token stream: total ms (client reads)`, `${fixed(d.ms, 1)} (${d.reads})`, `${fixed(r.ms, 1)} (${r.reads})`, fixed(r.ms / d.ms)]);
  }

  console.log(`real llama-server (${runtime.name}; ${setup}; 1 MB test model on CPU, default slots and HTTP threads; median of ${RUNS} alternating runs, ${REQUESTS} requests per load run)`);
  console.log("| measure | direct | modelswap | modelswap ÷ direct |");
  console.log("| --- | --- | --- | --- |");
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
} finally {
  await router.stop();
}
