/**
 * Captures (llama-swap's `captureBuffer`): the headers and bodies of recent
 * requests and their answers, for `GET /api/captures/:id`. No secret
 * leaves a capture: credential headers become `[REDACTED]` and every
 * `${env.X}` value is masked in headers and bodies, when the capture is
 * first read or written to the store (off the request path). Each capture may take a
 * share of the buffer; a response is teed into it only up to that share
 * (then marked truncated), so capturing never holds a whole stream nor
 * slows it. The buffer keeps the newest captures within its byte budget.
 */
import { concatBytes } from "../bytes.ts";

/** One captured exchange, bodies as raw bytes. */
export interface Capture {
  reqPath: string;
  reqHeaders: Record<string, string>;
  reqBody: Uint8Array;
  respHeaders: Record<string, string>;
  respBody: Uint8Array;
  /** The body was longer than its share of the buffer; the rest was not kept. */
  reqTruncated: boolean;
  respTruncated: boolean;
}

/** llama-swap's `ReqRespCapture` as JSON (bodies base64), plus whether a body was cut. */
export interface CaptureJson {
  id: number;
  req_path: string;
  req_headers: Record<string, string>;
  req_body: string;
  resp_headers: Record<string, string>;
  resp_body: string;
  req_body_truncated: boolean;
  resp_body_truncated: boolean;
}

/**
 * A capture as the stores keep it: its size known at once, its secrets
 * masked the first time it is read (served or written to the store), so
 * that masking is no work on the request path.
 */
export interface KeptCapture {
  /** Bytes it takes in the buffer (see {@link captureSize}). */
  readonly size: number;
  /** The capture with every secret masked (made once). */
  masked(): Capture;
}

/** A capture that is masked already (one read back from the store, or built by hand). */
export function keptCapture(capture: Capture): KeptCapture {
  return { size: captureSize(capture), masked: () => capture };
}

/** Where captures are kept by activity id: the in-memory buffer or the SQLite store. */
export interface CaptureStore {
  /** Keep `capture` as activity `id`'s; false when it is not kept (captures off, or larger than the budget). */
  add(id: number, capture: KeptCapture): boolean;
  get(id: number): Capture | null;
  has(id: number): boolean;
}

/** Headers whose values are credentials (llama-swap's list). */
const SENSITIVE = new Set(["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"]);
/** How much of the buffer one capture may take: a quarter, so at least four recent ones fit. */
const SHARE_DIVISOR = 4;

/** Bytes one capture may take of a buffer of `budgetBytes`. */
export function captureShare(budgetBytes: number): number {
  return Math.floor(budgetBytes / SHARE_DIVISOR);
}

/** What a capture costs in the buffer: its bodies, path and header text. */
export function captureSize(capture: Capture): number {
  let size = capture.reqBody.byteLength + capture.respBody.byteLength + capture.reqPath.length;
  for (const headers of [capture.reqHeaders, capture.respHeaders]) {
    for (const [name, value] of Object.entries(headers)) size += name.length + value.length;
  }
  return size;
}

/** Each byte as one character (code 0–255), built in slices so no call gets too many arguments. */
function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return text;
}

function base64(bytes: Uint8Array): string {
  return btoa(latin1(bytes));
}

/** A capture as `/api/captures/:id` answers it. */
export function captureJson(id: number, capture: Capture): CaptureJson {
  return {
    id,
    req_path: capture.reqPath,
    req_headers: capture.reqHeaders,
    req_body: base64(capture.reqBody),
    resp_headers: capture.respHeaders,
    resp_body: base64(capture.respBody),
    req_body_truncated: capture.reqTruncated,
    resp_body_truncated: capture.respTruncated,
  };
}

/** The header text of `headers`, as {@link captureSize} counts it. */
function headersSize(headers: Headers): number {
  let size = 0;
  headers.forEach((value, name) => (size += name.length + value.length)); // forEach: cheaper than Deno's Headers iterator
  return size;
}

/** Headers as one value per name, credentials redacted and secrets masked in the rest. */
export function maskHeaders(headers: Headers, redact: (text: string) => string): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => (out[name] = SENSITIVE.has(name) ? "[REDACTED]" : redact(value)));
  return out;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * `bytes` with every secret masked. Text is masked as text; anything that
 * is not UTF-8 (an upload, audio, a body cut mid-character) byte for byte,
 * which finds every ASCII secret (API keys and tokens are).
 */
export function maskBody(bytes: Uint8Array, redact: (text: string) => string): Uint8Array {
  let text: string;
  let binary = false;
  try {
    text = utf8.decode(bytes);
  } catch {
    binary = true;
    text = latin1(bytes);
  }
  const masked = redact(text);
  if (masked === text) return bytes;
  return binary ? Uint8Array.from(masked, (char) => char.charCodeAt(0)) : encoder.encode(masked);
}

/**
 * Bytes kept past a body's share until the secrets are masked: a secret
 * that straddles the cut is masked whole, then the body is cut to its share.
 */
const MASK_MARGIN = 4096;

/**
 * The response bytes that captures still being collected may hold
 * together: the buffer's size again, so that many long streams at once do
 * not each hold a full share. Room a draft took comes back when it is
 * finished (its bytes are then the buffer's to count), or when a draft that
 * was never finished is collected.
 */
export class DraftBudget {
  #used = 0;
  readonly #limit: () => number;
  readonly #abandoned = new FinalizationRegistry<{ bytes: number }>((held) => this.give(held.bytes));

  /** @param limit the bytes drafts may hold together (read at every take, so a reload applies) */
  constructor(limit: () => number) {
    this.#limit = limit;
  }

  /** Bytes held by drafts now. */
  get used(): number {
    return this.#used;
  }

  /** Take up to `bytes` for a draft; returns how many it may keep. */
  take(bytes: number): number {
    const granted = Math.max(0, Math.min(bytes, this.#limit() - this.#used));
    this.#used += granted;
    return granted;
  }

  give(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }

  /** @internal Give `held.bytes` back if `draft` is collected before it gave them back itself. */
  watch(draft: object, held: { bytes: number }): void {
    this.#abandoned.register(draft, held, held);
  }

  /** @internal `held` was given back by its draft. */
  unwatch(held: { bytes: number }): void {
    this.#abandoned.unregister(held);
  }
}

/** Collects one exchange while it runs, within its share of the buffer and the drafts' common budget. */
export class CaptureDraft {
  readonly #share: number;
  readonly #path: string;
  readonly #headers: Headers;
  readonly #budget: DraftBudget;
  /** Response bytes taken from the budget (given back at finish). */
  readonly #held = { bytes: 0 };
  #request: Uint8Array = new Uint8Array();
  #requestTruncated = false;
  readonly #chunks: Uint8Array[] = [];
  #responseBytes = 0;
  #responseTruncated = false;

  /** @param share bytes this capture may hold in all; the request body gets at most half */
  constructor(share: number, path: string, headers: Headers, budget: DraftBudget) {
    this.#share = share;
    this.#path = path;
    this.#headers = headers;
    this.#budget = budget;
  }

  /** The request body as the upstream receives it (its start only; never changed once sent, so not copied). */
  requestBody(bytes: Uint8Array): void {
    const room = this.#requestRoom();
    this.#requestTruncated = bytes.byteLength > room;
    this.#request = bytes.subarray(0, room + MASK_MARGIN);
  }

  /** A response chunk on its way to the client: kept while its share has room (chunks are never reused), then only marked truncated. */
  responseChunk(chunk: Uint8Array): void {
    const room = this.#responseRoom() + MASK_MARGIN - this.#responseBytes;
    if (room <= 0) {
      this.#responseTruncated = true;
      return;
    }
    const wanted = Math.min(chunk.byteLength, room);
    const granted = this.#budget.take(wanted);
    if (granted === 0) {
      this.#responseTruncated = true;
      return;
    }
    if (this.#held.bytes === 0) this.#budget.watch(this, this.#held);
    this.#held.bytes += granted;
    this.#chunks.push(granted === chunk.byteLength ? chunk : chunk.subarray(0, granted)); // a view only when cut: it is not free per chunk
    this.#responseBytes += granted;
    if (granted < wanted || this.#responseBytes > this.#responseRoom()) this.#responseTruncated = true;
  }

  /** The finished capture, masked when first read: secrets masked, then each body cut to its share. */
  finish(responseHeaders: Headers, redact: (text: string) => string): KeptCapture {
    // From here the buffer counts these bytes (or drops them): the drafts' budget has them back.
    this.#budget.give(this.#held.bytes);
    this.#budget.unwatch(this.#held);
    this.#held.bytes = 0;
    const path = this.#path;
    const requestHeaders = this.#headers;
    const request = this.#request;
    const chunks = this.#chunks;
    const requestRoom = this.#requestRoom();
    const responseRoom = this.#responseRoom();
    const flags = { reqTruncated: this.#requestTruncated, respTruncated: this.#responseTruncated };
    let masked: Capture | null = null;
    return {
      size: path.length + headersSize(requestHeaders) + headersSize(responseHeaders) + Math.min(request.byteLength, requestRoom) +
        Math.min(this.#responseBytes, responseRoom),
      masked() {
        masked ??= {
          reqPath: path,
          reqHeaders: maskHeaders(requestHeaders, redact),
          reqBody: maskBody(request, redact).subarray(0, requestRoom),
          respHeaders: maskHeaders(responseHeaders, redact),
          respBody: maskBody(concatBytes(chunks), redact).subarray(0, responseRoom),
          ...flags,
        };
        return masked;
      },
    };
  }

  #requestRoom(): number {
    return Math.floor(this.#share / 2);
  }

  #responseRoom(): number {
    return this.#share - Math.min(this.#request.byteLength, this.#requestRoom());
  }
}

/** The in-memory captures: newest kept, oldest dropped first, within a byte budget read at every add. */
export class CaptureBuffer implements CaptureStore {
  readonly #captures = new Map<number, KeptCapture>();
  readonly #budget: () => number;
  #bytes = 0;

  /** @param budgetBytes the buffer's size (`captureBuffer` MB), read at every add so a reload applies */
  constructor(budgetBytes: () => number) {
    this.#budget = budgetBytes;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  add(id: number, capture: KeptCapture): boolean {
    const budget = this.#budget();
    const { size } = capture;
    if (size > budget) {
      if (budget === 0) this.#evictTo(0);
      return false;
    }
    this.#evictTo(budget - size);
    this.#captures.set(id, capture);
    this.#bytes += size;
    return true;
  }

  get(id: number): Capture | null {
    return this.#captures.get(id)?.masked() ?? null;
  }

  has(id: number): boolean {
    return this.#captures.has(id);
  }

  #evictTo(bytes: number): void {
    for (const [id, { size }] of this.#captures) {
      if (this.#bytes <= bytes) return;
      this.#captures.delete(id);
      this.#bytes -= size;
    }
  }
}
