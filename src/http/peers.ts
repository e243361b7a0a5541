/**
 * Peers (reference §5.1): remote OpenAI-compatible servers — another
 * modelswap, llama-swap, llama-server or a cloud API — whose models are
 * reachable here as `<peer>/<model>`, or by the bare model name when exactly
 * one peer lists it. Peer requests are streamed straight through: no
 * swapping, no queue, no concurrency limit. The client's credentials are
 * never forwarded; the peer's own `apiKey` is sent instead.
 */
import type { Config, PeerConfig } from "../config/schema.ts";
import { ModelswapError } from "../errors.ts";
import type { RequestObservation } from "../observer.ts";
import { clientHeaders, upstreamHeaders } from "./proxy.ts";

/** A peer model a request resolved to. */
export interface PeerTarget {
  peerId: string;
  peer: PeerConfig;
  /** The peer's own id for the model (what the peer receives in `model`). */
  model: string;
  /** `<peer>/<model>`, the name modelswap lists. */
  fqn: string;
}


/** Every name a peer model answers to, per config: FQNs plus unambiguous bare names. */
const indexes = new WeakMap<Config, Map<string, PeerTarget>>();

function peerIndex(config: Config): Map<string, PeerTarget> {
  let index = indexes.get(config);
  if (index) return index;
  index = new Map();
  const byModel = new Map<string, PeerTarget[]>();
  for (const peerId of Object.keys(config.peers).sort()) {
    const peer = config.peers[peerId];
    for (const model of new Set(peer.models)) {
      const target = { peerId, peer, model, fqn: `${peerId}/${model}` };
      index.set(target.fqn, target);
      byModel.set(model, [...byModel.get(model) ?? [], target]);
    }
  }
  // A bare name works when one peer lists it and it is not itself some peer model's full name.
  for (const [model, targets] of byModel) {
    if (targets.length === 1 && !index.has(model)) index.set(model, targets[0]);
  }
  indexes.set(config, index);
  return index;
}

/** The peer model `name` refers to (`peer/model` or an unambiguous bare name); local names are not checked here. */
export function resolvePeerModel(config: Config, name: string): PeerTarget | undefined {
  return peerIndex(config).get(name);
}

/** Every peer model as `<peer>/<model>`, sorted. */
export function peerModels(config: Config): PeerTarget[] {
  return [...new Set(peerIndex(config).values())].sort((a, b) => a.fqn.localeCompare(b.fqn));
}

/** Everything {@link forwardToPeer} needs. */
export interface PeerForward {
  target: PeerTarget;
  method: string;
  /** Path and query as the peer should receive them, appended to its `proxy` URL. */
  path: string;
  headers: Headers;
  body: Uint8Array<ArrayBuffer> | null;
  /** The client's request signal: its disconnect aborts the peer request. */
  signal: AbortSignal;
  observation: RequestObservation;
}

/** Send the request to the peer and stream its answer back. */
export async function forwardToPeer(options: PeerForward): Promise<Response> {
  const { target, signal, observation } = options;
  const abort = new AbortController();
  const onClientGone = () => abort.abort();
  signal.addEventListener("abort", onClientGone, { once: true });
  let finished = false;
  const finish = (status: number, bytes: number, error?: string) => {
    if (finished) return;
    finished = true;
    signal.removeEventListener("abort", onClientGone);
    observation.end({ status, bytes, error });
  };

  const headers = upstreamHeaders(options.headers);
  if (target.peer.apiKey) {
    headers.set("authorization", `Bearer ${target.peer.apiKey}`);
    headers.set("x-api-key", target.peer.apiKey);
  }
  const url = target.peer.proxy.replace(/\/+$/, "") + options.path;
  let timedOut = false;
  const headerTimeoutS = target.peer.timeouts.responseHeader;
  const headerTimer = headerTimeoutS > 0
    ? setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, headerTimeoutS * 1000)
    : undefined;
  let response: Response;
  try {
    response = await fetch(url, { method: options.method, headers, body: options.body, signal: abort.signal, redirect: "manual" });
  } catch (cause) {
    const error = signal.aborted
      ? new ModelswapError(499, "client_closed", "client closed the request")
      : timedOut
      ? new ModelswapError(504, "peer_timeout", `peer "${target.peerId}" at ${target.peer.proxy} sent no response within ${headerTimeoutS}s (peers.${target.peerId}.timeouts.responseHeader) for model "${target.fqn}"; check that the peer is healthy`, { model: target.fqn })
      : new ModelswapError(502, "peer_unreachable", `peer proxy error: peer "${target.peerId}" at ${target.peer.proxy} failed for model "${target.fqn}": ${cause instanceof Error ? cause.message : String(cause)}; check that the peer is running and that peers.${target.peerId}.proxy is right`, { model: target.fqn });
    finish(error.status, 0, error.message);
    throw error;
  } finally {
    clearTimeout(headerTimer);
  }
  observation.granted();

  const init = { status: response.status, statusText: response.statusText, headers: clientHeaders(response).headers };
  if (!response.body) {
    finish(response.status, 0);
    return new Response(null, init);
  }

  const reader = response.body.getReader();
  let bytes = 0;
  const body = new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      try {
        const chunk = await reader.read();
        if (chunk.done) {
          controller.close();
          finish(response.status, bytes);
          return;
        }
        bytes += chunk.value.byteLength;
        observation.chunk(chunk.value);
        controller.enqueue(chunk.value);
      } catch (cause) {
        const reason = signal.aborted ? "client closed the request" : `peer "${target.peerId}" broke off its answer: ${cause instanceof Error ? cause.message : String(cause)}`;
        finish(signal.aborted ? 499 : 502, bytes, reason);
        controller.error(new Error(reason));
      }
    },
    cancel: () => {
      abort.abort();
      void reader.cancel().catch(() => {});
      finish(499, bytes, "client closed the request");
    },
  });
  return new Response(body, init);
}
