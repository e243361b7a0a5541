/**
 * Forwards one request to the ready process a lease names and streams the
 * answer back. The lease is released exactly once however the exchange
 * ends; every chunk is proof of life for hang detection; a process that dies
 * or goes silent mid-answer ends the response with an error that says which
 * model and why.
 */
import { ModelswapError } from "../errors.ts";
import type { Lease } from "../lease.ts";
import { relay, type RelayOutcome, upstreamHeaders } from "./relay.ts";

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
  onDone?: (outcome: RelayOutcome) => void;
}

/** Proxy the request; resolves with the response to send to the client. */
export function forward(options: ForwardOptions): Promise<Response> {
  const { lease, stallTimeoutMs } = options;
  return relay({
    url: lease.baseUrl + options.path,
    method: options.method,
    headers: upstreamHeaders(options.headers),
    body: options.body,
    signal: options.signal,
    stallTimeoutMs,
    headerTimeoutMs: 0,
    onChunk: (chunk) => {
      lease.touch();
      options.tap?.(chunk);
    },
    failure: (how, cause) =>
      how === "stalled"
        ? new ModelswapError(504, "upstream_stalled", `model "${lease.model}" sent nothing for ${stallTimeoutMs / 1000}s (stallTimeout); the response was ended`, { model: lease.model })
        : lease.failure(cause, how),
    onEnd: (outcome) => {
      lease.release();
      options.onDone?.(outcome);
    },
  });
}
