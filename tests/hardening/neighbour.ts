/**
 * The well-behaved neighbour of every hardening test: while an attack runs,
 * a second client keeps asking `/health` and a chat to another model, and
 * the router's memory and open files are sampled. The test then asserts
 * that the neighbour was answered quickly and the router stayed bounded.
 */
import { readdirSync, readFileSync } from "node:fs";
import { chat, postJson } from "../e2e/harness.ts";

/** What the neighbour saw and what the router held, while the attack ran. */
export interface NeighbourReport {
  /** Slowest `/health` answer (ms). */
  healthMaxMs: number;
  /** Slowest chat answer (ms). */
  chatMaxMs: number;
  /** Rounds completed (one health + one chat each). */
  rounds: number;
  /** Answers that were not 200 (or failed), with what happened. */
  failures: string[];
  /** Largest RSS of the router (MiB) and most open file descriptors seen. */
  rssMaxMiB: number;
  fdsMax: number;
}

/** A router's resident memory (MiB) and open file descriptors, from /proc. */
export function processFootprint(pid: number): { rssMiB: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKiB = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  return { rssMiB: rssKiB / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}

/**
 * Start the neighbour against `url`: rounds of `/health` then a small chat
 * to `model`, back to back (each waits for the previous answer), sampling
 * the router `pid`. `stop()` ends it and returns the report.
 */
export function startNeighbour(url: string, model: string, pid: number): { stop(): Promise<NeighbourReport> } {
  const report: NeighbourReport = { healthMaxMs: 0, chatMaxMs: 0, rounds: 0, failures: [], rssMaxMiB: 0, fdsMax: 0 };
  let running = true;
  const timed = async (what: string, call: () => Promise<Response>): Promise<number> => {
    const started = performance.now();
    try {
      const response = await call();
      await response.arrayBuffer();
      if (response.status !== 200) report.failures.push(`${what}: ${response.status}`);
    } catch (error) {
      report.failures.push(`${what}: ${error instanceof Error ? error.message : error}`);
    }
    return performance.now() - started;
  };
  const loop = (async () => {
    while (running) {
      report.healthMaxMs = Math.max(report.healthMaxMs, await timed("health", () => fetch(`${url}/health`, { signal: AbortSignal.timeout(30_000) })));
      report.chatMaxMs = Math.max(
        report.chatMaxMs,
        await timed("chat", () => postJson(`${url}/v1/chat/completions`, chat(model, { max_tokens: 4 }), { signal: AbortSignal.timeout(30_000) })),
      );
      const footprint = processFootprint(pid);
      report.rssMaxMiB = Math.max(report.rssMaxMiB, footprint.rssMiB);
      report.fdsMax = Math.max(report.fdsMax, footprint.fds);
      report.rounds++;
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return report;
    },
  };
}

/** A one-line summary for assertion messages. */
export function describeReport(report: NeighbourReport): string {
  return `health max ${report.healthMaxMs.toFixed(0)} ms, chat max ${report.chatMaxMs.toFixed(0)} ms over ${report.rounds} rounds; ` +
    `RSS max ${report.rssMaxMiB.toFixed(0)} MiB, fds max ${report.fdsMax}; failures: ${report.failures.slice(0, 5).join(", ") || "none"}`;
}
