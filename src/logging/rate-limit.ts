/**
 * The rate at which one process's output may add lines to its log. A
 * process printing faster is flooding: what it floods is counted, not kept,
 * and reported by one marker per window, so a log (and stdout, the event
 * feed, every viewer) shows that lines are missing and how many.
 */

/**
 * Lines and bytes per window a process's output may add (stdout and stderr
 * together). Far above what llama-server prints even with `--verbose` (a
 * burst of a few hundred lines at load, a few per request or token); a
 * homelab meets it only when something floods.
 */
export const RATE_LIMIT = { lines: 5000, bytes: 4 * 1024 * 1024, windowMs: 1000 };

/** The marker standing for `lines` dropped lines. */
export function droppedMarker(lines: number): string {
  return `--- ${lines} line${lines === 1 ? "" : "s"} dropped (rate limit) ---\n`;
}

/** Line and byte counts over fixed windows; once a line is refused, the rest of its window is too (so no holes). */
export class LineRateLimit {
  #windowEnd = 0;
  #lines = 0;
  #bytes = 0;
  #full = false;
  /** Lines refused and not reported yet (the caller reports and resets it). */
  dropped = 0;

  /** True when the window that `now` falls in is already full. */
  full(now: number): boolean {
    this.#roll(now);
    return this.#full;
  }

  /** Count one line of `bytes`; false (and counted in {@link dropped}) when it is over the rate. */
  admit(bytes: number, now: number): boolean {
    this.#roll(now);
    if (!this.#full && (this.#lines >= RATE_LIMIT.lines || this.#bytes + bytes > RATE_LIMIT.bytes)) this.#full = true;
    if (this.#full) {
      this.dropped++;
      return false;
    }
    this.#lines++;
    this.#bytes += bytes;
    return true;
  }

  /** Milliseconds until the current window ends (0 once it has). */
  untilNextWindow(now: number): number {
    return Math.max(0, this.#windowEnd - now);
  }

  #roll(now: number): void {
    if (now < this.#windowEnd) return;
    this.#windowEnd = now + RATE_LIMIT.windowMs;
    this.#lines = 0;
    this.#bytes = 0;
    this.#full = false;
  }
}
