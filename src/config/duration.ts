/**
 * Go's duration text, as llama-swap's keys take it (`performance.every:
 * 5s`): a sequence of numbers with units, e.g. `5s`, `1m30s`, `250ms`,
 * `1.5h`; `0` alone is zero.
 */

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, "μs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
/** Longer texts are not durations anyone writes; bounded before any work. */
const MAX_CHARS = 64;

/** Milliseconds, or null when `text` is not a Go duration. */
export function parseGoDuration(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed.length > MAX_CHARS) return null;
  if (trimmed === "0") return 0;
  const sign = trimmed.startsWith("-") ? -1 : 1;
  const body = trimmed.replace(/^[-+]/, "");
  if (body === "") return null;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < body.length) {
    const match = PART.exec(body);
    if (!match) return null;
    total += Number(match[1]) * UNIT_MS[match[2]];
  }
  return sign * total;
}
