/**
 * Health probing of an upstream server. Every probe has its own short
 * timeout, so an endpoint that never answers cannot stall a start beyond
 * its deadline (llama-swap's probes had none).
 */

/** One GET of `url`; true only for HTTP 200 within `timeoutMs`. */
export async function probeHealth(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

/** Why {@link waitHealthy} stopped waiting. */
export type HealthWait = "healthy" | "timeout" | "aborted";

/**
 * Poll `url` until it answers 200. The interval starts at 10 ms and grows
 * slowly with the time already spent (to at most 100 ms), so a swap adds
 * only a few ms on top of the upstream's own start time, and a model that
 * takes minutes to load is not polled hot.
 * Returns early when `signal` aborts (process exited, stop requested).
 */
export async function waitHealthy(
  url: string,
  deadline: number,
  signal: AbortSignal,
): Promise<HealthWait> {
  const started = Date.now();
  while (!signal.aborted) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return "timeout";
    if (await probeHealth(url, Math.min(2000, Math.max(50, remaining)))) return "healthy";
    if (signal.aborted) break;
    const interval = Math.min(100, 10 + (Date.now() - started) / 50);
    await sleep(Math.min(interval, Math.max(0, deadline - Date.now())), signal);
  }
  return "aborted";
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
