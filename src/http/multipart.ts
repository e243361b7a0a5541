/**
 * Just enough multipart/form-data handling to read and rewrite small text
 * fields (the `model`, `stream`) in an upload held once in memory, without
 * parsing or copying the file parts. Every search is linear in the body
 * (Knuth–Morris–Pratt), whatever the body holds: megabytes of dashes before
 * a near-miss of the boundary cost one pass, not one pass per dash. The
 * boundary is bounded as RFC 2046 bounds it.
 */
import { ModelswapError } from "../errors.ts";
import { MAX_BOUNDARY_CHARS } from "./bounds.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A text field's value and the byte range it occupies in the body. */
export interface FieldLocation {
  value: string;
  start: number;
  end: number;
}

/**
 * The boundary of a `multipart/form-data` content type, or null for any
 * other type. A boundary longer than RFC 2046 allows is a 400.
 */
export function multipartBoundary(contentType: string): string | null {
  if (!/multipart\/form-data/i.test(contentType)) return null;
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (boundary === undefined) return null;
  if (boundary.length > MAX_BOUNDARY_CHARS) {
    throw new ModelswapError(
      400,
      "invalid_multipart",
      `multipart boundary is ${boundary.length} characters long; RFC 2046 allows at most ${MAX_BOUNDARY_CHARS}`,
    );
  }
  return boundary;
}

/** A byte string and its Knuth–Morris–Pratt failure table. */
interface Pattern {
  bytes: Uint8Array;
  /** fallback[k]: the longest proper prefix of bytes[0..k] that is also its suffix. */
  fallback: Int32Array;
}

function pattern(text: string): Pattern {
  const bytes = encoder.encode(text);
  const fallback = new Int32Array(bytes.length);
  for (let i = 1, k = 0; i < bytes.length; i++) {
    while (k > 0 && bytes[i] !== bytes[k]) k = fallback[k - 1];
    if (bytes[i] === bytes[k]) k++;
    fallback[i] = k;
  }
  return { bytes, fallback };
}

/** The blank line that ends a part's headers. */
const HEADER_END = pattern("\r\n\r\n");

/**
 * Where `needle` first occurs in `haystack` at or after `from`, or -1.
 * Linear time (Knuth–Morris–Pratt); between partial matches the engine's
 * native byte search jumps to the next possible start.
 */
export function indexOfBytes(haystack: Uint8Array, needle: Pattern | string, from = 0): number {
  const { bytes, fallback } = typeof needle === "string" ? pattern(needle) : needle;
  if (bytes.length === 0) return Math.min(from, haystack.length);
  let matched = 0;
  for (let i = from; i < haystack.length; i++) {
    if (matched === 0) {
      i = haystack.indexOf(bytes[0], i);
      if (i < 0) return -1;
    }
    while (matched > 0 && haystack[i] !== bytes[matched]) matched = fallback[matched - 1];
    if (haystack[i] === bytes[matched]) matched++;
    if (matched === bytes.length) return i - bytes.length + 1;
  }
  return -1;
}

/** The field name a part's headers give, when the part is a text field (not a file). */
function textFieldName(headers: string): string | null {
  const disposition = /content-disposition:([^\r\n]*)/i.exec(headers)?.[1] ?? "";
  if (/filename\*?=/i.test(disposition)) return null;
  return /\bname="([^"]*)"/i.exec(disposition)?.[1] ?? null;
}

/** True when `body` starts with `prefix`. */
function startsWith(body: Uint8Array, prefix: Uint8Array): boolean {
  if (body.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (body[i] !== prefix[i]) return false;
  return true;
}

/**
 * Locate the text fields `names` (file parts are skipped unread) in one pass
 * over the body; stops once all are found. A name that appears twice keeps
 * its first occurrence. Every delimiter is searched for with the CRLF that
 * precedes it (RFC 2046: only the first may instead open the body), so the
 * engine's byte search skips whatever lies between two line breaks.
 */
export function multipartFields(body: Uint8Array, boundary: string, names: readonly string[]): Map<string, FieldLocation> {
  const found = new Map<string, FieldLocation>();
  const delimiter = pattern(`\r\n--${boundary}`);
  const opening = delimiter.bytes.subarray(2);
  // `at` is where a delimiter's "--" starts; a preamble may come before the first one.
  const first = startsWith(body, opening) ? -2 : indexOfBytes(body, delimiter);
  let at = first === -1 ? -1 : first + 2;
  while (at !== -1 && found.size < names.length) {
    const headersStart = at + opening.length + 2;
    const headersStop = indexOfBytes(body, HEADER_END, headersStart);
    if (headersStop === -1) break;
    const start = headersStop + HEADER_END.bytes.length;
    const end = indexOfBytes(body, delimiter, start);
    if (end === -1) break;
    const name = textFieldName(decoder.decode(body.subarray(headersStart, headersStop)));
    if (name !== null && names.includes(name) && !found.has(name)) {
      found.set(name, { value: decoder.decode(body.subarray(start, end)), start, end });
    }
    at = end + 2;
  }
  return found;
}

/** A copy of `body` with the field at `field` set to `value`. */
export function replaceField(body: Uint8Array<ArrayBuffer>, field: FieldLocation, value: string): Uint8Array<ArrayBuffer> {
  const replacement = encoder.encode(value);
  const out = new Uint8Array(body.length - (field.end - field.start) + replacement.length);
  out.set(body.subarray(0, field.start), 0);
  out.set(replacement, field.start);
  out.set(body.subarray(field.end), field.start + replacement.length);
  return out;
}
