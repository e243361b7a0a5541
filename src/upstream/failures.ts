/**
 * Crash-loop protection: failed starts and crashes are counted in a sliding
 * window. Repeated failures back off before the next start, and more than
 * `maxFailures` within the window disable the model until the window passes
 * (or an unload or a config reload resets it).
 */

/** Limits for {@link FailureWindow}. */
export interface FailurePolicy {
  maxFailures: number;
  windowMs: number;
}

/** Sliding window of recent failures of one model. */
export class FailureWindow {
  readonly #policy: FailurePolicy;
  #times: number[] = [];
  #consecutive = 0;
  #lastError = "";

  constructor(policy: FailurePolicy) {
    this.#policy = policy;
  }

  /** Count a failed start or a crash. */
  record(error: string, now = Date.now()): void {
    this.#times.push(now);
    this.#consecutive++;
    this.#lastError = error;
  }

  /** The model became ready: the backoff starts over (the window keeps counting). */
  succeeded(): void {
    this.#consecutive = 0;
  }

  /** Forget everything (unload, config reload). */
  reset(): void {
    this.#times = [];
    this.#consecutive = 0;
  }

  /** Delay before the next start: 0 after a success, then 0.5 s, 1 s, 2 s … up to 10 s. */
  backoffMs(): number {
    return this.#consecutive === 0 ? 0 : Math.min(10_000, 500 * 2 ** (this.#consecutive - 1));
  }

  /**
   * Null while starts are allowed; otherwise why the model is disabled and
   * until when (ms epoch).
   */
  blocked(now = Date.now()): { message: string; until: number } | null {
    const { maxFailures, windowMs } = this.#policy;
    this.#times = this.#times.filter((time) => now - time < windowMs);
    if (this.#times.length <= maxFailures) return null;
    const until = this.#times[this.#times.length - maxFailures - 1] + windowMs;
    return {
      message: `failed ${this.#times.length} times in the last ${windowMs / 1000}s (more than ${maxFailures}); last error: ${this.#lastError}`,
      until,
    };
  }
}
