/**
 * Ollama's `keep_alive`: how long a model stays loaded once idle after a
 * request. Ollama reads a number as seconds and a string as a Go duration
 * ("5m", "1h30m", "300ms"); a negative value keeps the model loaded for
 * ever and 0 unloads it as soon as the request is done. The result is what
 * `Router.keepAlive` takes.
 */
import { parseGoDuration } from "../../config/duration.ts";
import { ModelswapError } from "../../errors.ts";
import { echoed } from "../bounds.ts";

/**
 * The longest idle time kept as a time: a JavaScript timer fires at once
 * beyond 2^31-1 ms (about 24.8 days), so a longer keep-alive means "for ever".
 */
export const MAX_KEEP_ALIVE_MS = 2 ** 31 - 1;

/** Longest `keep_alive` string read (a Go duration is a few characters long). */
const MAX_DURATION_CHARS = 64;

function invalid(value: unknown): ModelswapError {
  const shown = typeof value === "string" ? echoed(value) : typeof value;
  return new ModelswapError(
    400,
    "invalid_keep_alive",
    `keep_alive ${shown} is not a duration: send seconds as a number (300), a duration such as "5m" or "1h30m", 0 to unload after the request, or -1 to keep the model loaded`,
  );
}

/** A Go duration string in ms, or null when it is not one. A bare number is read as seconds, as Ollama's clients mean it. */
function durationMs(text: string): number | null {
  const sign = text.startsWith("-") ? -1 : 1;
  const body = text.replace(/^[-+]/, "");
  if (/^(\d+(\.\d*)?|\.\d+)$/.test(body)) return sign * Number(body) * 1000;
  return parseGoDuration(text);
}

/**
 * `keep_alive` as `Router.keepAlive` takes it: ms once idle, 0 to unload
 * when done, -1 for ever (a negative value, or one beyond
 * {@link MAX_KEEP_ALIVE_MS}); undefined when the request sets none (the
 * model's configured ttl applies). A value that is not a duration is a 400.
 */
export function keepAliveMs(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  let ms: number | null;
  if (typeof value === "number") ms = Number.isFinite(value) ? value * 1000 : null;
  else if (typeof value === "string" && value.length <= MAX_DURATION_CHARS) ms = durationMs(value.trim());
  else ms = null;
  if (ms === null || Number.isNaN(ms)) throw invalid(value);
  if (ms < 0 || ms > MAX_KEEP_ALIVE_MS) return -1;
  return Math.round(ms);
}
