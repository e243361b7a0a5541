/**
 * Every request to a model route or to `/upstream/…` is recorded once in
 * `/metrics` and `/api/activity`, refusals included: a URL, body or JSON
 * over its limit, bad JSON, a missing or unknown model, a missing API key,
 * a crash. The route records what it knows (the model, tokens, timings);
 * whatever it did not record, the app records from the final response.
 */
import type { Context } from "hono";
import { toModelswapError } from "../errors.ts";
import type { Observer, RequestObservation } from "../observer.ts";
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
  readonly #observer: Observer;
  readonly #path: string;
  readonly #method: string;
  #observation: RequestObservation | null = null;
  #ended = false;
  #passthrough: string | null = null;

  /** `path` is the route's label (bounded: never a client's raw path). */
  constructor(observer: Observer, path: string, method: string) {
    this.#observer = observer;
    this.#path = path;
    this.#method = method;
  }

  /** Start recording the request for a resolved `model`; the route ends it when the response ends. */
  observe(model: string, stream: boolean): RequestObservation {
    const inner = this.#observer.request({ model, path: this.#path, method: this.#method, stream });
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
      if (thrown !== undefined) this.#observation.end({ status, bytes: 0, error: thrown });
      return;
    }
    if (this.#passthrough !== null && thrown === undefined) return;
    const error = thrown ?? (status >= 400 ? await errorMessage(c.res) : undefined);
    this.observe(this.#passthrough ?? NO_MODEL, false).end({ status, bytes: 0, error });
  }
}
