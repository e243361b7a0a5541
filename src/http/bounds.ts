/**
 * Bounds on the shape of a request, checked before any work is done on it,
 * and on how much of a client's input an error message echoes back. Each
 * refusal names its limit, so a client knows what to change.
 */
import { ModelswapError } from "../errors.ts";

/**
 * Longest request target (path and query, in characters). nginx refuses a
 * request line beyond its 8 KiB buffer by default too; llama-server's UI
 * and the OpenAI routes use paths a few dozen characters long.
 */
export const MAX_URL_CHARS = 8192;

/**
 * Deepest nesting of arrays and objects in a JSON request body. Chat
 * histories, tool calls and JSON schemas stay within a few dozen levels;
 * 256 is twice serde_json's default and far below where a runtime's (or an
 * upstream's) recursion gives out.
 */
export const MAX_JSON_DEPTH = 256;

/** Longest multipart boundary: RFC 2046 §5.1.1 allows 1 to 70 characters. */
export const MAX_BOUNDARY_CHARS = 70;

/** Longest piece of a client's input an error message shows. */
export const MAX_ECHO_CHARS = 200;

/** `text` cut to {@link MAX_ECHO_CHARS} (with an ellipsis when cut), for error messages and labels. */
export function clipped(text: string): string {
  return text.length > MAX_ECHO_CHARS ? `${text.slice(0, MAX_ECHO_CHARS)}…` : text;
}

/** A client's string as an error message shows it: quoted, and cut short when it is very long. */
export function echoed(text: string): string {
  return JSON.stringify(clipped(text));
}

/** The request target's length in characters: everything from the first `/` after the authority. */
export function targetLength(url: string): number {
  const scheme = url.indexOf("//");
  const path = url.indexOf("/", scheme < 0 ? 0 : scheme + 2);
  return path < 0 ? 0 : url.length - path;
}

/** The 414 for a request target longer than {@link MAX_URL_CHARS}. */
export function urlTooLong(length: number): ModelswapError {
  return new ModelswapError(
    414,
    "uri_too_long",
    `request URL is ${length} characters long; modelswap accepts at most ${MAX_URL_CHARS} (path and query)`,
  );
}
