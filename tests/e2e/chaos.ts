/**
 * A chaos workload shared by the chaos test and `bench/soak.ts`: several
 * models, clients sending random requests (streaming or not) that abort at
 * random, and a killer that SIGKILLs random upstreams during swaps and
 * streams. Every request must end with a success or a documented error.
 */
import { readFileSync } from "node:fs";
import { chat, demoCmd, postJson, type RouterProcess, runtime, startRouter } from "./harness.ts";

/** Knobs of one chaos run. */
export interface ChaosOptions {
  durationMs: number;
  clients: number;
  /** Mean ms between upstream kills (0 = no kills). */
  killEveryMs: number;
  /** Probability that a client aborts its request early. */
  abortRate: number;
  /** Called every second with the router's RSS in bytes (soak reporting). */
  onSample?: (elapsedMs: number, rssBytes: number | null) => void;
}

/** What happened during a run. */
export interface ChaosReport {
  requests: number;
  outcomes: Record<string, number>;
  /** Requests that ended in something not documented (should be empty). */
  surprises: string[];
  kills: number;
  /** Longest time any request took to end (ms). */
  slowestMs: number;
  router: RouterProcess;
}

/** The models of the chaos config (a exclusive pair plus a coexisting group). */
export const CHAOS_CONFIG = `
healthCheckTimeout: 15
supervision:
  maxFailures: 1000
  probeInterval: 0
routing:
  router:
    use: group
    settings:
      groups:
        duo: { swap: false, exclusive: true, members: [d1, d2] }
models:
  a: { cmd: "${demoCmd("--token-ms 10 --startup-ms 50")}", concurrencyLimit: 20 }
  b: { cmd: "${demoCmd("--token-ms 5")}", concurrencyLimit: 20 }
  d1: { cmd: "${demoCmd("--token-ms 8")}", concurrencyLimit: 20 }
  d2: { cmd: "${demoCmd("--token-ms 8")}", concurrencyLimit: 20 }
`;

const MODELS = ["a", "b", "d1", "d2"];
/** Statuses a client may legitimately get: success, admission limits, crashed or failed upstreams. */
const DOCUMENTED = new Set([200, 429, 502, 503, 504]);

function rssOf(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return Number.isFinite(kb) ? kb * 1024 : null;
  } catch {
    return null;
  }
}

/** Run the chaos workload against a fresh router; the caller stops the router. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const router = await startRouter(CHAOS_CONFIG);
  const outcomes: Record<string, number> = {};
  const surprises: string[] = [];
  let requests = 0;
  let kills = 0;
  let slowestMs = 0;
  const count = (key: string) => (outcomes[key] = (outcomes[key] ?? 0) + 1);
  const deadline = Date.now() + options.durationMs;

  const client = async () => {
    while (Date.now() < deadline) {
      const model = MODELS[Math.floor(Math.random() * MODELS.length)];
      const stream = Math.random() < 0.5;
      const controller = new AbortController();
      const abort = Math.random() < options.abortRate;
      if (abort) setTimeout(() => controller.abort(), Math.random() * 300);
      const started = Date.now();
      requests++;
      try {
        const response = await postJson(`${router.url}/v1/chat/completions`, chat(model, { stream, max_tokens: 3 + Math.floor(Math.random() * 20) }), { signal: controller.signal });
        const text = await response.text();
        if (!DOCUMENTED.has(response.status)) surprises.push(`${model}: status ${response.status}: ${text.slice(0, 200)}`);
        else if (response.status === 200 && stream && !/\[DONE\]|"error"/.test(text)) surprises.push(`${model}: stream ended without [DONE] or an error event`);
        else if (response.status === 200 && stream && /"error"/.test(text)) count("stream error event");
        else count(String(response.status));
      } catch (error) {
        if (controller.signal.aborted) count("client aborted");
        else surprises.push(`${model}: ${error instanceof Error ? error.message : error}`);
      }
      slowestMs = Math.max(slowestMs, Date.now() - started);
    }
  };

  const killer = async () => {
    while (options.killEveryMs > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 * options.killEveryMs));
      const status = await (await fetch(`${router.url}/api/status`)).json() as { models: { pid: number | null }[] };
      const pids = status.models.map((m) => m.pid).filter((pid): pid is number => pid !== null);
      if (pids.length === 0) continue;
      runtime.killGroup(pids[Math.floor(Math.random() * pids.length)], "SIGKILL");
      kills++;
    }
  };

  const sampler = async () => {
    const started = Date.now();
    while (options.onSample && Date.now() < deadline) {
      options.onSample(Date.now() - started, rssOf(router.proc.pid));
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  };

  await Promise.all([...Array.from({ length: options.clients }, client), killer(), sampler()]);
  return { requests, outcomes, surprises, kills, slowestMs, router };
}
