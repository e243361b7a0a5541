/**
 * Just enough multipart/form-data handling to read and rewrite one small
 * text field (the `model`) in an upload held once in memory, without
 * parsing or copying the file parts.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A text field's value and the byte range it occupies in the body. */
export interface FieldLocation {
  value: string;
  start: number;
  end: number;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  const last = haystack.length - needle.length;
  outer: for (let i = haystack.indexOf(first, from); i !== -1 && i <= last; i = haystack.indexOf(first, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Locate the text field `name` (not a file part); null when absent. */
export function multipartField(body: Uint8Array<ArrayBuffer>, boundary: string, name: string): FieldLocation | null {
  const delimiter = encoder.encode(`--${boundary}`);
  const headerEnd = encoder.encode("\r\n\r\n");
  const closing = encoder.encode(`\r\n--${boundary}`);
  let at = indexOf(body, delimiter, 0);
  while (at !== -1) {
    const headersStart = at + delimiter.length + 2;
    const headersStop = indexOf(body, headerEnd, headersStart);
    if (headersStop === -1) return null;
    const headers = decoder.decode(body.subarray(headersStart, headersStop));
    const start = headersStop + headerEnd.length;
    const end = indexOf(body, closing, start);
    if (end === -1) return null;
    const disposition = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? "";
    if (new RegExp(`\\bname="${name}"`).test(disposition) && !/filename=/i.test(disposition)) {
      return { value: decoder.decode(body.subarray(start, end)), start, end };
    }
    at = end + 2;
  }
  return null;
}

/** A copy of `body` with field `name` set to `value` (unchanged when absent). */
export function replaceMultipartField(body: Uint8Array<ArrayBuffer>, boundary: string, name: string, value: string): Uint8Array<ArrayBuffer> {
  const field = multipartField(body, boundary, name);
  if (!field) return body;
  const replacement = encoder.encode(value);
  const out = new Uint8Array(body.length - (field.end - field.start) + replacement.length);
  out.set(body.subarray(0, field.start), 0);
  out.set(replacement, field.start);
  out.set(body.subarray(field.end), field.start + replacement.length);
  return out;
}
