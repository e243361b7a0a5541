/**
 * The one place a requested model name is resolved: the active profile's
 * pins first, then a selector's pick, then a local model (id or alias) or a
 * peer's model — or the one 404 that says the name is unknown.
 */
import { localModelId } from "../config/aliases.ts";
import type { Config } from "../config/schema.ts";
import { ModelswapError } from "../errors.ts";
import { clipped, echoed } from "./bounds.ts";
import type { ModelState } from "../upstream/state.ts";
import { type PeerTarget, resolvePeerModel } from "./peers.ts";
import type { ProfileSwitch } from "./profiles.ts";
import { chooseSelectorTarget, type SelectorReservations } from "./selectors.ts";

/** What a name refers to. `name` is the name after profile and selector rewrites. */
export type Resolved =
  | { kind: "local"; id: string; name: string }
  | { kind: "peer"; peer: PeerTarget; name: string };

/** A resolution for one request; `release` ends its selector reservation (safe to call twice). */
export type RequestTarget = Resolved & { release(): void };

/** The 404 for a name that is neither a local model nor a peer's. `as` is what a profile or selector made of it. */
export function modelNotFound(requested: string, as?: string): ModelswapError {
  const what = as === undefined || as === requested ? echoed(requested) : `${echoed(requested)} (as ${echoed(as)})`;
  return new ModelswapError(
    404,
    "model_not_found",
    `model ${what} is not configured locally or on any peer; GET /v1/models lists the available models`,
    { model: clipped(requested) },
  );
}

/** A local model (id or alias) or else a peer model; undefined when the name means neither. */
export function lookupName(config: Config, name: string): Resolved | undefined {
  const id = localModelId(config, name);
  if (id !== undefined) return { kind: "local", id, name };
  const peer = resolvePeerModel(config, name);
  return peer && { kind: "peer", peer, name };
}

/** The local model id `name` refers to, or the 404. */
export function localModel(config: Config, name: string): string {
  const id = localModelId(config, name);
  if (id === undefined) throw modelNotFound(name);
  return id;
}

/** The longest name each config can resolve, built once per config object. */
const longestNames = new WeakMap<Config, number>();

/**
 * The length of the longest name a request could use for a model under
 * `config` (ids, aliases, peer names, profile pins): a longer candidate can
 * be rejected without resolving it.
 */
export function longestName(config: Config): number {
  let longest = longestNames.get(config);
  if (longest !== undefined) return longest;
  const names = [
    ...Object.values(config.models).flatMap((model) => [model.id, ...model.aliases]),
    ...Object.entries(config.peers).flatMap(([peerId, peer]) => peer.models.map((model) => `${peerId}/${model}`)),
    ...Object.values(config.profiles).flatMap((profile) => Object.keys(profile.pins)),
  ];
  longest = names.reduce((most, name) => Math.max(most, name.length), 0);
  longestNames.set(config, longest);
  return longest;
}

/** Resolves names the way the request in hand is routed; lives as long as the HTTP app. */
export class ModelNames {
  readonly profiles: ProfileSwitch;
  readonly #reservations: SelectorReservations;

  constructor(profiles: ProfileSwitch, reservations: SelectorReservations) {
    this.profiles = profiles;
    this.#reservations = reservations;
  }

  /**
   * A model-dispatched request: profile pins, then a selector's pick
   * (reserving its slot), then local or peer. Throws 404 for an unknown or
   * profile-disabled name, 503 when a selector has no usable target.
   */
  forRequest(config: Config, requested: string, stateOf: (id: string) => ModelState | undefined): RequestTarget {
    const pinned = this.profiles.rewrite(requested);
    const choice = chooseSelectorTarget(config, pinned, stateOf, this.#reservations);
    const name = choice?.target ?? pinned;
    const found = lookupName(config, name);
    if (!found) {
      choice?.release();
      throw modelNotFound(requested, name);
    }
    return { ...found, release: choice?.release ?? (() => {}) };
  }

  /** A name in an `/upstream/<name>/…` path: profile pins, then local or peer (no selectors). */
  forPath(config: Config, requested: string): Resolved | undefined {
    return lookupName(config, this.profiles.rewrite(requested));
  }
}
