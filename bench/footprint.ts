/**
 * Footprint benchmark: size on disk, time from spawn to the first successful
 * `/health` (median of 5), idle RSS with a 2-model config, and peak RSS while
 * 200 clients stream at once; for the compiled binary, for the bundle on Bun
 * and on Deno, and the same figures for a direct llama-server when
 * LLAMA_SERVER and LLAMA_TINY_MODEL are set. Prints a Markdown table.
 *
 *   npm run build && bun bench/footprint.ts [--runs 5] [--clients 200]
 *   (also: deno run -A bench/footprint.ts)
 *
 * RSS is the process's own resident set (`VmRSS` in /proc): the router
 * alone, without its upstreams or its ~1 MB `/bin/sh` watchdog.
 */
import { readFileSync, readlinkSync, statSync } from "node:fs";
import { writeConfig } from "../tests/e2e/harness.ts";
import { BUN, BUNDLE, DENO, EXECUTABLE } from "../tests/build/dist.ts";
import { freePort } from "../tests/helpers/process.ts";
import { median, option, runtime } from "./measure.ts";

const RUNS = option("runs", 5);
const CLIENTS = option("clients", 200);
/** Deno's memory under many streams is measured again with this many clients. */
const DENO_CLIENTS = option("deno-clients", 500);
const LLAMA_SERVER = runtime.env("LLAMA_SERVER");
const LLAMA_MODEL = runtime.env("LLAMA_TINY_MODEL");
const REPLY = Array.from({ length: 100 }, (_, i) => `word${i}`).join(" ");

/** Two demo models (the idle figure) and a slow streaming one for the 200 clients. */
const CONFIG = writeConfig(`
logLevel: warn
startPort: ${await freePort()}
models:
  demo:
    cmd: \${SELF} demo-upstream --port \${PORT} --model demo
  demo-2:
    cmd: \${SELF} demo-upstream --port \${PORT} --model demo-2
  stream:
    cmd: \${SELF} demo-upstream --port \${PORT} --model stream --token-ms 30 --reply "${REPLY}"
    concurrencyLimit: 1000
`);

/** One program measured: how to start it on a port, and which model its streaming clients ask for. */
interface Subject {
  name: string;
  /** `loaded`: the run with CLIENTS streaming clients. */
  argv(port: number, loaded: boolean): string[];
  streamModel: string;
  /** max_tokens per streaming client. */
  streamTokens: number;
  /** Bytes on disk, described. */
  size(pid: number): string;
}

const mb = (bytes: number) => (bytes < 1e6 ? `${(bytes / 1e3).toFixed(0)} kB` : `${(bytes / 1e6).toFixed(1)} MB`);
const routerArgs = (port: number) => ["--config", CONFIG, "--listen", `127.0.0.1:${port}`];

/** Size of the executable a pid runs, plus the shared libraries it has mapped. */
function executableAndLibraries(pid: number): string {
  const exe = readlinkSync(`/proc/${pid}/exe`);
  const libraries = new Set(
    readFileSync(`/proc/${pid}/maps`, "utf8").split("\n")
      .map((line) => line.split(/\s+/)[5] ?? "")
      .filter((path) => /\.so(\.|$)/.test(path) && path !== exe),
  );
  const libraryBytes = [...libraries].reduce((sum, path) => sum + statSync(path).size, 0);
  return `${mb(statSync(exe).size)} + ${mb(libraryBytes)} of ${libraries.size} shared libraries`;
}

const SUBJECTS: Subject[] = [
  {
    name: "modelswap (compiled binary)",
    argv: (port) => [EXECUTABLE, ...routerArgs(port)],
    streamModel: "stream",
    streamTokens: 100,
    size: () => mb(statSync(EXECUTABLE).size),
  },
  {
    name: "bun modelswap.js",
    argv: (port) => [BUN, BUNDLE, ...routerArgs(port)],
    streamModel: "stream",
    streamTokens: 100,
    size: () => `${mb(statSync(BUNDLE).size)} + Bun`,
  },
  {
    name: "deno run modelswap.js",
    argv: (port) => [DENO, "run", "-A", BUNDLE, ...routerArgs(port)],
    streamModel: "stream",
    streamTokens: 100,
    size: () => `${mb(statSync(BUNDLE).size)} + Deno`,
  },
];
if (LLAMA_SERVER && LLAMA_MODEL) {
  SUBJECTS.push({
    name: "llama-server direct (1 MB model)",
    // Its default HTTP thread pool resets connections beyond a few dozen; under
    // load it gets one thread per client (its 4 default slots still generate).
    argv: (port, loaded) => [
      LLAMA_SERVER, "-m", LLAMA_MODEL, "--host", "127.0.0.1", "--port", String(port),
      ...(loaded ? ["--threads-http", String(CLIENTS + 8)] : []),
    ],
    streamModel: "tiny",
    streamTokens: 128,
    size: executableAndLibraries,
  });
}

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) * 1024 : 0;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A started subject, healthy; `startupMs` is spawn to first /health 200. */
async function start(subject: Subject, loaded = false) {
  const port = await freePort();
  const started = performance.now();
  const proc = runtime.spawn({ argv: subject.argv(port, loaded), newProcessGroup: true, output: "null" });
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    try {
      const response = await fetch(`${url}/health`);
      await response.arrayBuffer();
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (performance.now() - started > 30_000) throw new Error(`${subject.name} never became healthy`);
    await pause(5);
  }
  const startupMs = performance.now() - started;
  const stop = async () => {
    runtime.killGroup(proc.pid, "SIGTERM");
    const timer = setTimeout(() => runtime.killGroup(proc.pid, "SIGKILL"), 5000);
    await proc.exited;
    clearTimeout(timer);
  };
  return { pid: proc.pid, url, startupMs, stop };
}

/** Clients currently between their first body chunk and the end of their stream. */
interface Live {
  now: number;
  max: number;
  /** Why clients failed, for stderr. */
  failures: string[];
}

/** One streaming client: resolves true when it got `[DONE]`, false on any failure. */
async function streamingClient(url: string, subject: Subject, live: Live): Promise<boolean> {
  let streaming = false;
  try {
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: subject.streamModel,
        messages: [{ role: "user", content: "hi" }],
        stream: true,
        max_tokens: subject.streamTokens,
      }),
    });
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of response.body!) {
      if (!streaming) live.max = Math.max(live.max, ++live.now);
      streaming = true;
      text += decoder.decode(chunk, { stream: true });
    }
    if (response.status === 200 && text.includes("data: [DONE]")) return true;
    live.failures.push(`HTTP ${response.status}: ${text.slice(0, 200)}`);
    return false;
  } catch (error) {
    live.failures.push(String(error));
    return false;
  } finally {
    if (streaming) live.now--;
  }
}

/** Peak RSS of the subject sampled every 20 ms while `clients` clients stream at once. */
async function underLoad(subject: Subject, clients = CLIENTS) {
  const server = await start(subject, true);
  try {
    // Load the model first, so that the swap is not part of the figure.
    await streamingClient(server.url, { ...subject, streamTokens: 1 }, { now: 0, max: 0, failures: [] });
    const live: Live = { now: 0, max: 0, failures: [] };
    let peak = rssBytes(server.pid);
    let done = false;
    const streams = Promise.all(Array.from({ length: clients }, () => streamingClient(server.url, subject, live)))
      .finally(() => (done = true));
    while (!done) {
      peak = Math.max(peak, rssBytes(server.pid));
      await pause(20);
    }
    const ok = (await streams).filter(Boolean).length;
    for (const failure of new Set(live.failures)) console.error(`${subject.name}: a client failed: ${failure}`);
    return { peak, ok, maxLive: live.max };
  } finally {
    await server.stop();
  }
}

const rows: string[][] = [];
for (const subject of SUBJECTS) {
  const startups: number[] = [];
  const idle: number[] = [];
  let size = "";
  for (let run = 0; run < RUNS; run++) {
    const server = await start(subject);
    startups.push(server.startupMs);
    await pause(1000); // let start-up garbage settle before reading the idle figure
    idle.push(rssBytes(server.pid));
    if (run === 0) size = subject.size(server.pid);
    await server.stop();
  }
  const load = await underLoad(subject);
  rows.push([
    subject.name,
    size,
    `${median(startups).toFixed(0)} ms (${Math.min(...startups).toFixed(0)}-${Math.max(...startups).toFixed(0)})`,
    mb(median(idle)),
    `${mb(load.peak)} (${load.ok}/${CLIENTS} completed, up to ${load.maxLive} at once)`,
  ]);
  console.error(`measured ${subject.name}`);
}

const deno = SUBJECTS.find((subject) => subject.name.startsWith("deno"))!;
const denoLoad = await underLoad(deno, DENO_CLIENTS);
rows.push([`${deno.name}, ${DENO_CLIENTS} streaming clients`, "", "", "", `${mb(denoLoad.peak)} (${denoLoad.ok}/${DENO_CLIENTS} completed, up to ${denoLoad.maxLive} at once)`]);

console.log(`footprint (${runtime.name} driving; ${RUNS} starts each; ${CLIENTS} concurrent streaming clients)\n`);
console.log(`| | size on disk | start to first /health 200, median of ${RUNS} (min-max) | idle RSS | peak RSS, ${CLIENTS} streaming clients |`);
console.log("| --- | --- | --- | --- | --- |");
for (const row of rows) console.log(`| ${row.join(" | ")} |`);
