/**
 * Every request to a model route or to `/upstream/…` is recorded once in
 * `/metrics` and `/api/activity`, refusals included: a URL, body or JSON
 * over its limit, bad JSON, a missing or unknown model, a missing API key,
 * a crash. The route records what it knows (the model, tokens, timings);
 * whatever it did not record, the app records from the final response. A
 * request the route observes is also in the in-flight list until it ends
 * (and can be cancelled there when the route follows {@link RequestOutcome.signal}),
 * and is captured when `captureBuffer` is on.
 */
import type { Context } from "hono";
import { type ModelswapError, toModelswapError } from "../errors.ts";
import type { RequestObservation } from "../observer.ts";
import type { TrackedRequest } from "../observability/requests.ts";
import { clipped } from "./bounds.ts";

/**
 * The `model` label of a request refused before it named a configured
 * model: one series for all of them, whatever name was sent (the error
 * message quotes it, cut short).
 */
const NO_MODEL = "";

declare module "hono" {
  /** `c.get("outcome")` on a recorded route: set by the app's first middleware. */
  interface ContextVariableMap {
    outcome: RequestOutcome;
  }
}

/** The `message` of one of modelswap's own small JSON error bodies (either flavor), if it is one. */
async function errorMessage(response: Response): Promise<string | undefined> {
  if (!/json/.test(response.headers.get("content-type") ?? "")) return undefined;
  try {
    const body = await response.clone().json();
    const message = body?.error?.message;
    return typeof message === "string" ? clipped(message) : undefined;
  } catch {
    return undefined;
  }
}

/** The recording of one request: what the route observed, and the fallback for what it did not. */
export class RequestOutcome {
  readonly #tracked: TrackedRequest;
  #observation: RequestObservation | null = null;
  #ended = false;
  #passthrough: string | null = null;

  /** `tracked` follows the request from its arrival (observability's side; its route label is bounded). */
  constructor(tracked: TrackedRequest) {
    this.#tracked = tracked;
  }

  /**
   * The signal a route that can be cancelled follows instead of the
   * client's: it also aborts on `POST /api/inflight/:id/cancel`, with the
   * cancel's error as its reason.
   */
  get signal(): AbortSignal {
    return this.#tracked.signal;
  }

  /** The cancel's error once the request was cancelled, else null. */
  get cancelled(): ModelswapError | null {
    return this.#tracked.cancelled;
  }

  /** The body the upstream is sent (kept in the request's capture). */
  requestBody(bytes: Uint8Array | null): void {
    this.#tracked.requestBody(bytes);
  }

  /** Start recording the request for a resolved `model`; the route ends it when the response ends. */
  observe(model: string, stream: boolean): RequestObservation {
    return this.#record(model, stream, true);
  }

  #record(model: string, stream: boolean, listed: boolean): RequestObservation {
    const inner = this.#tracked.observe(model, stream, listed);
    const observation: RequestObservation = {
      granted: () => inner.granted(),
      chunk: (bytes) => inner.chunk(bytes),
      end: (result) => {
        if (this.#ended) return;
        this.#ended = true;
        inner.end(result);
      },
    };
    this.#observation = observation;
    return observation;
  }

  /**
   * The response will be `model`'s own (an `/upstream` pass-through, not
   * recorded request by request): only an error modelswap raises is.
   */
  passthrough(model: string): void {
    this.#passthrough = model;
  }

  /**
   * The response is final: record it unless the route did. An error thrown
   * past an observation the route left open ends it with the error's status.
   */
  async settle(c: Context): Promise<void> {
    const status = c.res.status;
    const thrown = c.error === undefined ? undefined : clipped(toModelswapError(c.error).message);
    if (this.#observation) {
      this.#tracked.responded(c.res);
      if (thrown !== undefined) this.#observation.end({ status, bytes: 0, error: thrown });
      return;
    }
    if (this.#passthrough !== null && thrown === undefined) return;
    const error = thrown ?? (status >= 400 ? await errorMessage(c.res) : undefined);
    // A refusal is recorded, never listed in flight: it was over before it began.
    this.#record(this.#passthrough ?? NO_MODEL, false, false).end({ status, bytes: 0, error });
    this.#tracked.responded(c.res);
  }
}
