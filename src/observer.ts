/**
 * The seam between the request path and observability (metrics, events,
 * activity). The router and HTTP layer report what happens; an observer
 * turns it into counters and feeds. Every method must return quickly and
 * never throw: it runs on the request path.
 */
import type { SwapPlan } from "./scheduler/effects.ts";
import type { RestoreReport, SaveReport } from "./upstream/context.ts";
import type { ModelState } from "./upstream/state.ts";

/** Context kept across one swap: saved from each evicted model, restored into the target. */
export interface SwapContext {
  saved: Record<string, SaveReport>;
  restored: RestoreReport | null;
}

/** One model request as the HTTP layer saw it. */
export interface RequestInfo {
  /** Resolved model id. */
  model: string;
  /** Route path as the client called it, e.g. `/v1/chat/completions`. */
  path: string;
  method: string;
  stream: boolean;
}

/** How one request ended. */
export interface RequestEnd {
  status: number;
  /** Response bytes sent to the client. */
  bytes: number;
  error?: string;
}

/** Follows one request from admission to its end. */
export interface RequestObservation {
  /** The model was granted (queue wait is over). */
  granted(): void;
  /** A response chunk passed through (scan for usage/timings; must not block). */
  chunk(bytes: Uint8Array): void;
  /** The request ended; called exactly once. */
  end(result: RequestEnd): void;
}

/** Receives everything worth observing. */
export interface Observer {
  modelState(model: string, from: ModelState, to: ModelState): void;
  swapStarted(plan: SwapPlan): void;
  /** A swap ended; `context` says what context was saved from the evicted models and restored into the target. */
  swapFinished(plan: SwapPlan, durationMs: number, error: string | null, context?: SwapContext): void;
  /** A model's context was saved before a planned stop. */
  contextSaved(model: string, report: SaveReport): void;
  /** A model's saved context was restored after a start. */
  contextRestored(model: string, report: RestoreReport): void;
  /** An upstream process exited while ready. */
  crashed(model: string, reason: string): void;
  /** Queue or in-flight counts may have changed. */
  loadChanged(): void;
  request(info: RequestInfo): RequestObservation;
}

const IGNORE_REQUEST: RequestObservation = { granted() {}, chunk() {}, end() {} };

/** An observer that records nothing (tests, and the default). */
export const NO_OBSERVER: Observer = {
  modelState() {},
  swapStarted() {},
  swapFinished() {},
  contextSaved() {},
  contextRestored() {},
  crashed() {},
  loadChanged() {},
  request: () => IGNORE_REQUEST,
};
