/**
 * The one relay for local upstreams and peers: send the request, stream the
 * answer back as it arrives, and end every exchange exactly once with its
 * outcome. The client's disconnect aborts the upstream request; an answer
 * that breaks off or goes silent ends with an error that says why (a final
 * SSE error event on event streams). A signal aborted with a ModelswapError
 * as its reason (a cancel) aborts the upstream request the same way, and
 * the client gets that error.
 */
import { ModelswapError } from "../errors.ts";
import { errorEvent } from "./errors.ts";

/** Headers never passed on: hop-by-hop ones, and what the forwarding itself sets. */
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length", "accept-encoding"];
/** Credentials of the client are for modelswap, never for the servers behind it. */
const CLIENT_CREDENTIALS = ["authorization", "x-api-key", "cookie"];
const NOT_FORWARDED = new Set([...HOP_BY_HOP, ...CLIENT_CREDENTIALS]);
/** Response headers never passed back: hop-by-hop ones, and the encoding fetch has already undone. */
const NOT_RELAYED_BACK = new Set(["connection", "keep-alive", "transfer-encoding", "content-encoding"]);
/** Complete answers up to this size are read at once instead of streamed. */
const SMALL_BODY_BYTES = 256 * 1024;
/** The most a streamed answer's read takes at once where the reader brings its buffer. */
const READ_BYTES = 16 * 1024;

const encoder = new TextEncoder();
const CLIENT_GONE = "client closed the request";
/** The error of an exchange whose client left (made only then: an error's stack is not free). */
const clientGone = () => new ModelswapError(499, "client_closed", CLIENT_GONE);

/** Headers for the upstream request: hop-by-hop and client credentials removed. */
export function upstreamHeaders(incoming: Headers): Headers {
  const headers = new Headers();
  // forEach, not for…of: Deno's Headers iterator costs several µs per call.
  incoming.forEach((value, name) => NOT_FORWARDED.has(name) || headers.append(name, value));
  return headers;
}

/**
 * Headers of an upstream (or peer) response as the client should get them:
 * hop-by-hop ones removed, a length fetch's decompression made stale dropped,
 * and event streams marked unbuffered (and uncached) for reverse proxies such as nginx.
 */
export function clientHeaders(response: Response): { headers: Headers; isEventStream: boolean } {
  // Copied field by field with forEach: `new Headers(headers)` walks Deno's slow Headers iterator (~14 µs).
  const headers = new Headers();
  response.headers.forEach((value, name) => NOT_RELAYED_BACK.has(name) || headers.append(name, value));
  if (response.headers.has("content-encoding")) headers.delete("content-length");
  const isEventStream = /text\/event-stream/i.test(headers.get("content-type") ?? "");
  if (isEventStream) {
    headers.set("x-accel-buffering", "no");
    headers.set("cache-control", "no-cache");
    headers.delete("content-length");
  }
  return { headers, isEventStream };
}

/** How an exchange ended, for metrics and activity. */
export interface RelayOutcome {
  status: number;
  bytes: number;
  error?: string;
}

/**
 * How an exchange failed: no answer at all, an answer cut off, silence past
 * the stall timeout, or no response headers within the header timeout.
 */
export type RelayFailure = "before answering" | "while answering" | "stalled" | "no headers";

/** Everything {@link relay} needs. */
export interface RelayOptions {
  url: string;
  method: string;
  /** Headers to send as they are (see {@link upstreamHeaders}). */
  headers: Headers;
  body: Uint8Array<ArrayBuffer> | null;
  /** The client's request signal: its abort ends the exchange (with a ModelswapError reason: told to the client). */
  signal: AbortSignal;
  /** End an answer that sends nothing for this long while the client waits for more (0 = never). */
  stallTimeoutMs: number;
  /** Give up when no response headers arrive within this long (0 = never). */
  headerTimeoutMs: number;
  /** Response headers arrived. */
  onHeaders?(): void;
  /** Every response chunk as it passes (must not block). */
  onChunk(chunk: Uint8Array): void;
  /** The error the client gets for a failed exchange. */
  failure(how: RelayFailure, cause: unknown): ModelswapError | Promise<ModelswapError>;
  /** How the exchange ended; called exactly once. */
  onEnd(outcome: RelayOutcome): void;
}

/**
 * Watches one answer for silence: the clock runs only while a read is
 * pending, so a slow client (backpressure) never counts as a silent
 * upstream. One timer per answer, re-armed lazily.
 */
class StallWatch {
  /** Set once the stall timeout fired. */
  fired = false;
  #readingSince: number | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #ms: number;
  readonly #onStall: () => void;

  constructor(ms: number, onStall: () => void) {
    this.#ms = ms;
    this.#onStall = onStall;
    if (ms > 0) this.#timer = setTimeout(this.#check, ms);
  }

  /** A read started: silence counts from now. */
  reading(): void {
    this.#readingSince = Date.now();
  }

  /** A chunk arrived: no read is pending. */
  idle(): void {
    this.#readingSince = null;
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  readonly #check = (): void => {
    const silent = this.#readingSince === null ? 0 : Date.now() - this.#readingSince;
    if (silent >= this.#ms) {
      this.fired = true;
      this.#onStall();
      return;
    }
    this.#timer = setTimeout(this.#check, this.#ms - silent);
  };
}

/** Reads one streamed answer; every chunk it yields is the client's to keep. */
interface ChunkReader {
  read(): Promise<{ done: true; value?: Uint8Array } | { done: false; value: Uint8Array }>;
  cancel(): Promise<void>;
}

/** Set once a body refused a reader with its own buffer (Bun's fetch bodies): not tried again. */
let ownBuffersUnsupported = false;

/**
 * A reader of `body` whose chunks sit in buffers of their own size. Deno's
 * fetch hands out every chunk in a fresh 64 KiB buffer however small it is
 * (an SSE event is a few hundred bytes), which with hundreds of streams is
 * most of the router's memory; where a body takes the reader's buffer, each
 * read goes into one scratch buffer per answer and the bytes read are
 * copied out at their size. Elsewhere chunks are passed on as they come.
 */
function chunkReader(body: ReadableStream<Uint8Array>): ChunkReader {
  if (!ownBuffersUnsupported) {
    try {
      const reader = body.getReader({ mode: "byob" });
      let scratch = new Uint8Array(READ_BYTES);
      return {
        read: async () => {
          const result = await reader.read(scratch);
          if (result.done || !result.value) return { done: true, value: undefined };
          scratch = new Uint8Array(result.value.buffer);
          return { done: false, value: result.value.slice() };
        },
        cancel: () => reader.cancel(),
      };
    } catch {
      ownBuffersUnsupported = true;
    }
  }
  const reader = body.getReader();
  return { read: () => reader.read(), cancel: () => reader.cancel() };
}

/** Send the request and resolve with the response to give the client. */
export async function relay(options: RelayOptions): Promise<Response> {
  const { signal } = options;
  const abort = new AbortController();
  const onClientGone = () => abort.abort();
  signal.addEventListener("abort", onClientGone, { once: true });
  let ended = false;
  const end = (outcome: RelayOutcome) => {
    if (ended) return;
    ended = true;
    signal.removeEventListener("abort", onClientGone);
    options.onEnd(outcome);
  };
  /** The cancel's error when the signal aborted with one (the client is still there to be told), else null: the client left. */
  const cancelled = () => (signal.reason instanceof ModelswapError ? signal.reason : null);
  /** The error for a failed exchange; ends it. */
  const failed = async (how: RelayFailure, cause: unknown, bytes: number): Promise<ModelswapError> => {
    const error = signal.aborted ? cancelled() ?? clientGone() : await options.failure(how, cause);
    end({ status: error.status, bytes, error: error.message });
    return error;
  };

  let timedOut = false;
  const headerTimer = options.headerTimeoutMs > 0
    ? setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, options.headerTimeoutMs)
    : undefined;
  let response: Response;
  try {
    response = await fetch(options.url, { method: options.method, headers: options.headers, body: options.body, signal: abort.signal, redirect: "manual" });
  } catch (cause) {
    throw await failed(timedOut ? "no headers" : "before answering", cause, 0);
  } finally {
    clearTimeout(headerTimer);
  }
  options.onHeaders?.();

  const { headers, isEventStream } = clientHeaders(response);
  const init = { status: response.status, statusText: response.statusText, headers };
  if (!response.body) {
    end({ status: response.status, bytes: 0 });
    return new Response(null, init);
  }
  const stall = new StallWatch(options.stallTimeoutMs, () => abort.abort());
  const length = Number(response.headers.get("content-length") ?? NaN);
  if (!isEventStream && length <= SMALL_BODY_BYTES) {
    // A small complete answer (a JSON completion): read it at once, cheaper than streaming it.
    stall.reading();
    try {
      const bytes = new Uint8Array(await response.arrayBuffer());
      options.onChunk(bytes);
      end({ status: response.status, bytes: bytes.byteLength });
      return new Response(bytes, init);
    } catch (cause) {
      throw await failed(stall.fired ? "stalled" : "while answering", cause, 0);
    } finally {
      stall.stop();
    }
  }

  const reader = chunkReader(response.body);
  let bytes = 0;
  const body = new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      stall.reading();
      try {
        const chunk = await reader.read();
        stall.idle();
        // An event stream that ends before its first byte was cut off: no server sends an empty one. (Bun's fetch
        // reports a reset connection as a clean end when the body is delimited by the connection's close.)
        if (chunk.done && isEventStream && bytes === 0) throw new Error("the connection closed before the first event");
        if (chunk.done) {
          stall.stop();
          controller.close();
          end({ status: response.status, bytes });
          return;
        }
        bytes += chunk.value.byteLength;
        options.onChunk(chunk.value);
        controller.enqueue(chunk.value);
      } catch (cause) {
        stall.stop();
        if (signal.aborted && cancelled() === null) return end({ status: 499, bytes, error: CLIENT_GONE });
        const error = await failed(stall.fired ? "stalled" : "while answering", cause, bytes);
        if (isEventStream) {
          controller.enqueue(encoder.encode(errorEvent(error)));
          controller.close();
        } else {
          controller.error(error);
        }
      }
    },
    cancel: () => {
      stall.stop();
      abort.abort();
      void reader.cancel().catch(() => {});
      end({ status: 499, bytes, error: CLIENT_GONE });
    },
  });
  return new Response(body, init);
}
