/**
 * Linear scans over the bytes of a JSON request body, never recursing on
 * the client's data: how deeply it nests (checked before it is parsed) and
 * where its top-level members lie (so a rewrite re-encodes only the members
 * it changes and copies the rest as the client sent them). Structural
 * characters are ASCII and never occur inside a UTF-8 multi-byte sequence,
 * so scanning bytes is exact.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

const decoder = new TextDecoder();

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/** The index just past the string whose opening quote is at `at` (the length when it never closes). */
function skipString(bytes: Uint8Array, at: number): number {
  let from = at + 1;
  for (;;) {
    // The engine's byte search skips the contents (base64 images, long prompts) at native speed.
    const quote = bytes.indexOf(QUOTE, from);
    if (quote < 0) return bytes.length;
    let backslashes = 0;
    while (bytes[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/**
 * How deeply arrays and objects nest in JSON text. Counting stops as soon as
 * the depth passes `limit` (the result is then `limit + 1`), so a hostile
 * body costs no more than its first `limit` levels.
 */
export function jsonDepth(bytes: Uint8Array, limit: number): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte === QUOTE) {
      i = skipString(bytes, i) - 1;
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth--;
    }
  }
  return deepest;
}

/**
 * A stretch of a JSON object's top-level members, as a byte range from a
 * key's opening quote to the end of a value: one member whose key was asked
 * for (`key`), or a run of consecutive other members (`key` null, the commas
 * between them included).
 */
export interface MemberSpan {
  key: string | null;
  start: number;
  end: number;
}

/** The index of the `,` or closing `}` that ends the value starting after `at`. */
function valueStop(bytes: Uint8Array, at: number): number {
  let depth = 0;
  for (let i = at; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte === QUOTE) i = skipString(bytes, i) - 1;
    else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth++;
    else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      if (depth === 0) return i;
      depth--;
    } else if (byte === COMMA && depth === 0) return i;
  }
  return bytes.length;
}

/** The key whose quoted text spans `start..end`, or null when it is too long to be one of those wanted. */
function keyAt(bytes: Uint8Array, start: number, end: number, longest: number): string | null {
  // An escape takes at most six bytes per character (\uXXXX), UTF-8 at most four.
  if (end - start - 2 > longest * 6) return null;
  const quoted = bytes.subarray(start, end);
  return quoted.includes(BACKSLASH) ? JSON.parse(decoder.decode(quoted)) : decoder.decode(quoted.subarray(1, -1));
}

/**
 * The top-level members of the text of a JSON object, which must already be
 * known to be valid (it was parsed): the members named in `wanted` one by
 * one, in order, every other stretch merged into one span. One pass, no
 * recursion; only keys short enough to be wanted are decoded.
 */
export function topLevelMembers(bytes: Uint8Array, wanted: ReadonlySet<string>): MemberSpan[] {
  const longest = [...wanted].reduce((most, key) => Math.max(most, key.length), 0);
  const spans: MemberSpan[] = [];
  let i = bytes.indexOf(OPEN_BRACE) + 1;
  while (i > 0 && i < bytes.length) {
    const byte = bytes[i];
    if (byte === CLOSE_BRACE) break;
    if (byte !== QUOTE) {
      i++; // whitespace or the comma between members
      continue;
    }
    const start = i;
    const keyEnd = skipString(bytes, i);
    const stop = valueStop(bytes, keyEnd);
    let end = stop;
    while (end > keyEnd && isSpace(bytes[end - 1])) end--;
    const key = keyAt(bytes, start, keyEnd, longest);
    const previous = spans.at(-1);
    if (key !== null && wanted.has(key)) spans.push({ key, start, end });
    else if (previous && previous.key === null) previous.end = end;
    else spans.push({ key: null, start, end });
    i = stop;
  }
  return spans;
}
