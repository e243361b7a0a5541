/**
 * Forwards one request to a ready upstream and streams the answer back as
 * it arrives. The client's disconnect aborts the upstream request; the
 * lease is released exactly once however the exchange ends; an upstream
 * that dies or stalls mid-answer ends the response with an error that says
 * which model and why.
 */
import { ModelswapError } from "../errors.ts";
import type { Lease } from "../router.ts";
import { errorEvent } from "./errors.ts";

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "host",
  "content-length",
  "accept-encoding",
];
/** Complete answers up to this size are read at once instead of streamed. */
const SMALL_BODY_BYTES = 256 * 1024;
/** Credentials of the client are for modelswap, never for local upstreams. */
const CLIENT_CREDENTIALS = ["authorization", "x-api-key", "cookie"];

/** How an exchange ended, for metrics and activity. */
export interface ForwardOutcome {
  status: number;
  bytes: number;
  error?: string;
}

/** Everything {@link forward} needs. */
export interface ForwardOptions {
  lease: Lease;
  method: string;
  /** Path and query on the upstream, e.g. `/v1/chat/completions`. */
  path: string;
  headers: Headers;
  body: Uint8Array<ArrayBuffer> | null;
  /** The client's request signal. */
  signal: AbortSignal;
  /** End a response that sends nothing for this long (0 = never). */
  stallTimeoutMs: number;
  /** Sees every response chunk as it passes (must not block). */
  tap?: (chunk: Uint8Array) => void;
  onDone?: (outcome: ForwardOutcome) => void;
}

const NOT_FORWARDED = new Set([...HOP_BY_HOP, ...CLIENT_CREDENTIALS]);

/** Headers for the upstream request: hop-by-hop and client credentials removed. */
export function upstreamHeaders(incoming: Headers): Headers {
  const headers = new Headers();
  for (const [name, value] of incoming) if (!NOT_FORWARDED.has(name)) headers.append(name, value);
  return headers;
}

/**
 * Headers of an upstream (or peer) response as the client should get them:
 * hop-by-hop ones removed, a length fetch's decompression made stale dropped,
 * and event streams marked unbuffered for reverse proxies such as nginx.
 */
export function clientHeaders(response: Response): { headers: Headers; isEventStream: boolean } {
  const headers = new Headers(response.headers);
  for (const name of ["connection", "keep-alive", "transfer-encoding", "content-encoding"]) headers.delete(name);
  if (response.headers.has("content-encoding")) headers.delete("content-length");
  const isEventStream = /text\/event-stream/i.test(headers.get("content-type") ?? "");
  if (isEventStream) {
    headers.set("x-accel-buffering", "no");
    headers.delete("content-length");
  }
  return { headers, isEventStream };
}

/** Proxy the request; resolves with the response to send to the client. */
export async function forward(options: ForwardOptions): Promise<Response> {
  const { lease, signal } = options;
  const upstream = lease.upstream;
  const pid = upstream.pid;
  const abort = new AbortController();
  const onClientGone = () => abort.abort();
  signal.addEventListener("abort", onClientGone, { once: true });
  let finished = false;
  const finish = (outcome: ForwardOutcome) => {
    if (finished) return;
    finished = true;
    signal.removeEventListener("abort", onClientGone);
    lease.release();
    options.onDone?.(outcome);
  };

  /** The error for an exchange that broke before a response was returned; ends the lease. */
  const failed = async (cause: unknown, when: string): Promise<ModelswapError> => {
    const error = signal.aborted
      ? new ModelswapError(499, "client_closed", "client closed the request")
      : await upstreamFailure(lease, pid, cause, when);
    finish({ status: error.status, bytes: 0, error: error.message });
    return error;
  };

  let response: Response;
  try {
    response = await fetch(upstream.spec.baseUrl + options.path, {
      method: options.method,
      headers: upstreamHeaders(options.headers),
      body: options.body,
      signal: abort.signal,
      redirect: "manual",
    });
  } catch (cause) {
    throw await failed(cause, "before answering");
  }

  const { headers, isEventStream } = clientHeaders(response);
  if (isEventStream) headers.set("cache-control", "no-cache");
  if (!response.body) {
    finish({ status: response.status, bytes: 0 });
    return new Response(null, { status: response.status, headers });
  }
  const length = Number(response.headers.get("content-length") ?? NaN);
  if (!isEventStream && length <= SMALL_BODY_BYTES) {
    // A small complete answer (a JSON completion): read it at once, cheaper than streaming it.
    const stall = options.stallTimeoutMs > 0 ? setTimeout(() => abort.abort(), options.stallTimeoutMs) : undefined;
    try {
      const bytes = new Uint8Array(await response.arrayBuffer());
      upstream.touch();
      options.tap?.(bytes);
      finish({ status: response.status, bytes: bytes.byteLength });
      return new Response(bytes, { status: response.status, statusText: response.statusText, headers });
    } catch (cause) {
      throw await failed(cause, "while answering");
    } finally {
      clearTimeout(stall);
    }
  }

  const reader = response.body.getReader();
  let bytes = 0;
  const body = new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      try {
        const chunk = await readWithin(reader, options.stallTimeoutMs);
        if (chunk === "stalled") {
          abort.abort();
          const error = new ModelswapError(504, "upstream_stalled", `model "${lease.model}" sent nothing for ${options.stallTimeoutMs / 1000}s (stallTimeout); the response was ended`, { model: lease.model });
          endWithError(controller, error);
          return;
        }
        if (chunk.done) {
          controller.close();
          finish({ status: response.status, bytes });
          return;
        }
        bytes += chunk.value.byteLength;
        upstream.touch();
        options.tap?.(chunk.value);
        controller.enqueue(chunk.value);
      } catch (cause) {
        if (signal.aborted) {
          finish({ status: 499, bytes, error: "client closed the request" });
          return;
        }
        endWithError(controller, await upstreamFailure(lease, pid, cause, "while answering"));
      }
    },
    cancel: () => {
      abort.abort();
      void reader.cancel().catch(() => {});
      finish({ status: 499, bytes, error: "client closed the request" });
    },
  });

  function endWithError(controller: ReadableStreamDefaultController<Uint8Array>, error: ModelswapError) {
    if (isEventStream) {
      controller.enqueue(new TextEncoder().encode(errorEvent(error)));
      controller.close();
    } else {
      controller.error(error);
    }
    finish({ status: error.status, bytes, error: error.message });
  }

  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

async function readWithin(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  timeoutMs: number,
): Promise<ReadableStreamReadResult<Uint8Array> | "stalled"> {
  type Read = ReadableStreamReadResult<Uint8Array>;
  if (timeoutMs <= 0) return reader.read() as Promise<Read>;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      reader.read() as Promise<Read>,
      new Promise<"stalled">((resolve) => (timer = setTimeout(() => resolve("stalled"), timeoutMs))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Explain a failed exchange: if the upstream process died, say how (exit
 * code or signal) and show its last output; otherwise report the transport
 * error. Waits briefly for the exit to be noticed, since the broken
 * connection usually arrives first.
 */
async function upstreamFailure(lease: Lease, pid: number | null, cause: unknown, when: string): Promise<ModelswapError> {
  const upstream = lease.upstream;
  for (let waited = 0; waited < 500 && upstream.pid === pid && pid !== null; waited += 25) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const model = lease.model;
  if (upstream.pid !== pid && upstream.lastExit) {
    const tail = upstream.tail();
    const output = tail.length ? ` Last output:\n${tail.join("\n")}` : "";
    return new ModelswapError(502, "upstream_crashed", `model "${model}" upstream ${upstream.lastExit} ${when}; the next request restarts it.${output}\n(full log: ${upstream.logHint})`, { model, exit_reason: upstream.lastExit, log_path: upstream.logHint });
  }
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new ModelswapError(502, "upstream_unreachable", `model "${model}" upstream at ${upstream.spec.baseUrl} failed ${when}: ${reason}`, { model });
}
