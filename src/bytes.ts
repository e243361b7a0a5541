/**
 * Byte buffers joined: the one helper for every place that gathers chunks
 * (request bodies and response writes in the guard, captures, log lines,
 * the stdout queue, llama-swap's joined events, HTTP heads split across reads).
 */

/** `parts` as one buffer: the part itself when there is only one (and it owns a plain ArrayBuffer), else a copy. */
export function concatBytes(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  if (parts.length === 1 && parts[0].buffer instanceof ArrayBuffer) return parts[0] as Uint8Array<ArrayBuffer>;
  let length = 0;
  for (const part of parts) length += part.byteLength;
  const all = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.byteLength;
  }
  return all;
}
