/**
 * Selectors (reference §5.3): virtual model names that pick one of their
 * targets per request, after the profile rewrite and before aliases,
 * filters and routing.
 * - `pin`: always the first target.
 * - `warm`: the first ready target, else the first starting one, else the
 *   first target (a cold start).
 * - `spillover`: fill targets in order, each up to `settings.spillover`
 *   requests at once, counting a reservation from the choice until the
 *   request ends.
 */
import type { Config } from "../config/schema.ts";
import { localModelId } from "../config/aliases.ts";
import { ModelswapError } from "../errors.ts";
import type { ModelState } from "../upstream/state.ts";
import { resolvePeerModel } from "./peers.ts";

/** A selector's pick for one request. */
export interface SelectorChoice {
  /** The selector the client named. */
  selector: string;
  /** The target name (model id, alias or peer model) the request continues with. */
  target: string;
  /** Ends the request's spillover reservation; safe to call more than once. */
  release(): void;
}

/** State of a local model by id; undefined for names that are not local models. */
export type StateOf = (modelId: string) => ModelState | undefined;

const NOTHING_TO_RELEASE = () => {};

/** A selector target with the key its reservations are counted under. */
interface Candidate {
  target: string;
  /** Local model id, or the peer model's `<peer>/<model>`. */
  key: string;
  local: boolean;
}

/**
 * Spillover reservation counters of every selector. One instance lives as
 * long as the HTTP app; counts survive config reloads because each release
 * undoes exactly the reservation it was given.
 */
export class SelectorReservations {
  readonly #counts = new Map<string, Map<string, number>>();
  readonly #roundRobin = new Map<string, number>();

  /** Reservations currently held on `key` by `selector`. */
  count(selector: string, key: string): number {
    return this.#counts.get(selector)?.get(key) ?? 0;
  }

  /** Count one more request on `key`; the returned function gives it back (once). */
  reserve(selector: string, key: string): () => void {
    const counts = this.#counts.get(selector) ?? new Map<string, number>();
    this.#counts.set(selector, counts);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (counts.get(key) ?? 1) - 1;
      if (left > 0) counts.set(key, left);
      else counts.delete(key);
    };
  }

  /** The next round-robin turn of `selector`. */
  nextTurn(selector: string): number {
    const turn = this.#roundRobin.get(selector) ?? 0;
    this.#roundRobin.set(selector, turn + 1);
    return turn;
  }
}

/** Resolve `name` if it is a selector; null when it is not one. Throws 503 when no target is usable. */
export function chooseSelectorTarget(
  config: Config,
  name: string,
  stateOf: StateOf,
  reservations: SelectorReservations,
): SelectorChoice | null {
  if (!Object.hasOwn(config.selectors, name)) return null;
  const selector = config.selectors[name];
  const candidates = selector.targets.map((target): Candidate => {
    const id = localModelId(config, target);
    return id !== undefined
      ? { target, key: id, local: true }
      : { target, key: resolvePeerModel(config, target)?.fqn ?? target, local: false };
  });
  const pick = (candidate: Candidate, release = NOTHING_TO_RELEASE): SelectorChoice => ({ selector: name, target: candidate.target, release });

  switch (selector.strategy) {
    case "pin":
      return pick(candidates[0]);
    case "warm": {
      const inState = (state: ModelState) => candidates.find((c) => c.local && stateOf(c.key) === state);
      return pick(inState("ready") ?? inState("starting") ?? candidates[0]);
    }
    case "spillover": {
      const active: Candidate[] = [];
      const cold: Candidate[] = [];
      for (const candidate of candidates) {
        const reserved = reservations.count(name, candidate.key) > 0;
        if (!candidate.local) {
          (reserved ? active : cold).push(candidate);
          continue;
        }
        const state = stateOf(candidate.key);
        // A stopping model is on its way out; a failed one answers 503 until its failure window passes.
        if (state === "stopping" || state === "failed") continue;
        (state === "ready" || state === "starting" || reserved ? active : cold).push(candidate);
      }
      const reserve = (candidate: Candidate) => pick(candidate, reservations.reserve(name, candidate.key));
      if (active.length === 0) {
        if (cold.length === 0) {
          throw new ModelswapError(
            503,
            "selector_unavailable",
            `selector "${name}" has no available spillover targets: ${selector.targets.join(", ")} are stopping or failed; retry shortly`,
            { model: name },
            1,
          );
        }
        return reserve(cold[0]);
      }
      const least = Math.min(...active.map((c) => reservations.count(name, c.key)));
      if (least >= selector.settings.spillover && cold.length > 0) return reserve(cold[0]);
      // The least busy active target, taking turns among ties.
      const tied = active.filter((c) => reservations.count(name, c.key) === least);
      return reserve(tied[reservations.nextTurn(name) % tied.length]);
    }
  }
}
