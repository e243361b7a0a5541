/**
 * Hang detection for a ready upstream. Its health endpoint is probed on a
 * schedule, each probe with its own short timeout. Failed probes alone do
 * not condemn a model that is busy generating: bytes reaching any in-flight
 * request are proof of life. Only repeated failures during a silence count
 * as a hang.
 */
import { probeHealth } from "./health.ts";

/** Options for {@link watchLiveness}. */
export interface LivenessOptions {
  url: string;
  intervalMs: number;
  timeoutMs: number;
  /** Failed probes in a row before a silent model counts as hung. */
  hungAfter: number;
  /** Time (ms epoch) the upstream last sent a byte to any client. */
  lastProgress(): number;
  /** Called once with the reason when the model is judged hung. */
  onHung(reason: string): void;
}

/** Start probing; returns a function that stops it. */
export function watchLiveness(options: LivenessOptions): () => void {
  let failures = 0;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const schedule = () => {
    if (!stopped) timer = setTimeout(probe, options.intervalMs);
  };
  const probe = async () => {
    const healthy = await probeHealth(options.url, options.timeoutMs);
    if (stopped) return;
    failures = healthy ? 0 : failures + 1;
    const quietMs = Date.now() - options.lastProgress();
    const quietNeeded = options.hungAfter * options.intervalMs;
    if (failures >= options.hungAfter && quietMs >= quietNeeded) {
      stopped = true;
      options.onHung(
        `hung: ${options.url} failed ${failures} health probes in a row (${options.timeoutMs / 1000}s timeout each) and no response byte arrived for ${Math.round(quietMs / 1000)}s`,
      );
      return;
    }
    schedule();
  };
  schedule();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
