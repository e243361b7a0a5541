/**
 * Hostile neighbours: one router, measured twice in the same process — a
 * quiet run, then a run with every attack of issue 15 going at once (an
 * upstream flooding its output, idle connections close to the cap, log and
 * event subscribers that never read, deep JSON bodies) — while a
 * well-behaved client asks `/health` and a small chat over and over.
 * Reports that client's health and chat p99, the router's RSS and open
 * file descriptors, for both runs. Run through `bench/soak.ts --hostile`.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { chat, demoCmd, postJson, type RouterProcess, startRouter } from "../tests/e2e/harness.ts";

/** What the well-behaved client saw and the router held during one run. */
export interface RunFigures {
  healthP99Ms: number;
  chatP99Ms: number;
  failures: number;
  rssMaxMiB: number;
  fdsMax: number;
  rounds: number;
}

const IDLE_CONNECTIONS = 400;
const STUCK_SUBSCRIBERS = 200;
const DEEP_JSON_EVERY_MS = 20;

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
}

function footprint(pid: number): { rssMiB: number; fds: number } {
  const rss = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  return { rssMiB: rss / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}

/** The well-behaved client for `ms`: health then chat, back to back. */
async function measure(router: RouterProcess, ms: number): Promise<RunFigures> {
  const health: number[] = [];
  const chats: number[] = [];
  let failures = 0;
  let rssMaxMiB = 0;
  let fdsMax = 0;
  const until = performance.now() + ms;
  while (performance.now() < until) {
    for (const [times, call] of [
      [health, () => fetch(`${router.url}/health`, { signal: AbortSignal.timeout(30_000) })],
      [chats, () => postJson(`${router.url}/v1/chat/completions`, chat("quiet", { max_tokens: 4 }), { signal: AbortSignal.timeout(30_000) })],
    ] as const) {
      const started = performance.now();
      try {
        const response = await call();
        await response.arrayBuffer();
        if (response.status !== 200) failures++;
      } catch {
        failures++;
      }
      times.push(performance.now() - started);
    }
    const now = footprint(router.proc.pid);
    rssMaxMiB = Math.max(rssMaxMiB, now.rssMiB);
    fdsMax = Math.max(fdsMax, now.fds);
  }
  return { healthP99Ms: p99(health), chatP99Ms: p99(chats), failures, rssMaxMiB, fdsMax, rounds: chats.length };
}

/** Start every attack; returns a function that stops them all. */
async function attack(router: RouterProcess): Promise<() => void> {
  const url = new URL(router.url);
  const stops: Array<() => void> = [];
  // The flooding upstream: loading it is enough, its output never stops.
  await fetch(`${router.url}/api/models/load/flood`, { method: "POST" });
  // Idle keep-alive connections close to the cap (they are reopened as the idle timeout closes them).
  const sockets = new Set<Socket>();
  const open = () => {
    const socket = connect(Number(url.port), url.hostname);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    sockets.add(socket);
  };
  const refill = setInterval(() => {
    while (sockets.size < IDLE_CONNECTIONS) open();
  }, 200);
  stops.push(() => {
    clearInterval(refill);
    for (const socket of sockets) socket.destroy();
  });
  // Subscribers that never read: half the event feed, half the flooding model's log.
  for (let i = 0; i < STUCK_SUBSCRIBERS; i++) {
    const path = i % 2 ? "/api/events" : "/logs/stream/flood";
    const socket = connect(Number(url.port), url.hostname, () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
    socket.on("error", () => {});
    socket.pause();
    stops.push(() => socket.destroy());
  }
  // Deep JSON bodies, refused at once, in a loop.
  const deep = `{"model":"quiet","x":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
  const deepTimer = setInterval(() => {
    const request = fetch(`${router.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: deep });
    void request.then((response) => response.body?.cancel(), () => {});
  }, DEEP_JSON_EVERY_MS);
  stops.push(() => clearInterval(deepTimer));
  return () => stops.forEach((stop) => stop());
}

/** Both runs, `seconds` each. */
export async function runHostile(dir: string, seconds: number): Promise<{ quiet: RunFigures; hostile: RunFigures }> {
  writeFileSync(join(dir, "yes.sh"), `#!/bin/sh\nyes "" &\nexec "$@"\n`);
  const router = await startRouter(`
server: { maxConnections: ${IDLE_CONNECTIONS + STUCK_SUBSCRIBERS + 100}, idleTimeout: 10 }
logToStdout: both
models:
  flood: { cmd: "sh ${join(dir, "yes.sh")} ${demoCmd("--model flood --token-ms 0")}" }
  quiet: { cmd: "${demoCmd("--model quiet --token-ms 0")}" }
groups:
  all: { swap: false, members: [flood, quiet] }
`);
  try {
    await (await postJson(`${router.url}/v1/chat/completions`, chat("quiet", { max_tokens: 1 }))).arrayBuffer();
    const quiet = await measure(router, seconds * 1000);
    const stop = await attack(router);
    const hostile = await measure(router, seconds * 1000);
    stop();
    return { quiet, hostile };
  } finally {
    await router.stop();
  }
}
