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
import { relay, upstreamHeaders } from "./relay.ts";

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
export function forwardToPeer(options: PeerForward): Promise<Response> {
  const { target, observation } = options;
  const { peerId, peer, fqn } = target;
  const headers = upstreamHeaders(options.headers);
  if (peer.apiKey) {
    headers.set("authorization", `Bearer ${peer.apiKey}`);
    headers.set("x-api-key", peer.apiKey);
  }
  const headerTimeoutS = peer.timeouts.responseHeader;
  const reason = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause));
  return relay({
    url: peer.proxy.replace(/\/+$/, "") + options.path,
    method: options.method,
    headers,
    body: options.body,
    signal: options.signal,
    stallTimeoutMs: 0,
    headerTimeoutMs: headerTimeoutS * 1000,
    onHeaders: () => observation.granted(),
    onChunk: (chunk) => observation.chunk(chunk),
    failure: (how, cause) => {
      if (how === "no headers") {
        return new ModelswapError(504, "peer_timeout", `peer "${peerId}" at ${peer.proxy} sent no response within ${headerTimeoutS}s (peers.${peerId}.timeouts.responseHeader) for model "${fqn}"; check that the peer is healthy`, { model: fqn });
      }
      if (how === "before answering") {
        return new ModelswapError(502, "peer_unreachable", `peer proxy error: peer "${peerId}" at ${peer.proxy} failed for model "${fqn}": ${reason(cause)}; check that the peer is running and that peers.${peerId}.proxy is right`, { model: fqn });
      }
      return new ModelswapError(502, "peer_broken", `peer "${peerId}" broke off its answer for model "${fqn}": ${reason(cause)}`, { model: fqn });
    },
    onEnd: (outcome) => observation.end(outcome),
  });
}
