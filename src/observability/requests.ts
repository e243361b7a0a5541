/**
 * One model request followed from its arrival to its last byte, for what
 * the `Observer` seam does not carry: its place in the in-flight list (and
 * a way to cancel it), its capture (request and answer, within a share of
 * `captureBuffer`), and the answer's headers. The HTTP layer creates one
 * per recorded request (http/outcomes.ts) and reports to it; it ends the
 * request's observation once both the answer's headers and its end are
 * known, so the activity row carries the content type and the capture.
 */
import { ModelswapError } from "../errors.ts";
import type { RequestEnd, RequestObservation } from "../observer.ts";
import { CaptureDraft, type DraftBudget, type KeptCapture } from "./captures.ts";
import type { InflightRequest, InflightRequests } from "./inflight.ts";

/** The error code of a request ended by `POST /api/inflight/:id/cancel` (status 499). */
export const CANCELLED = "request_cancelled";

/** What the HTTP layer knows when a request arrives. */
export interface TrackInit {
  /** The route label it is recorded under (bounded). */
  route: string;
  /** The path the client asked for (for captures and the in-flight list; at most 8 KiB: the URL bound). */
  path: string;
  method: string;
  headers: Headers;
  remoteAddress: string;
  /** The client's signal: its disconnect ends the request. */
  signal: AbortSignal;
}

/** What ends an observation beyond its {@link RequestEnd}. */
export interface EndDetails {
  /** The answer's content type ("" when none). */
  contentType: string;
  /** The request's capture, or null when captures are off. */
  capture: KeptCapture | null;
}

/** An observation whose end can carry the details. */
export interface DetailedObservation extends RequestObservation {
  end(result: RequestEnd, details?: EndDetails): void;
}

/** What a tracked request needs from observability. */
export interface TrackingDeps {
  inflight: InflightRequests;
  /** Bytes one capture may take now (0: captures are off). */
  captureShare(): number;
  /** What captures being collected may hold together. */
  drafts: DraftBudget;
  /** Masks `${env.X}` values. */
  redact(text: string): string;
  /** Start recording the request (activity, metrics, events). */
  observe(info: { model: string; path: string; method: string; stream: boolean; arrivedAt: number; arrivedPerf: number }): DetailedObservation;
}

/** One request as observability follows it. */
export class TrackedRequest {
  readonly #deps: TrackingDeps;
  readonly #init: TrackInit;
  readonly #arrivedAt = Date.now();
  readonly #arrivedPerf = performance.now();
  readonly #capture: CaptureDraft | null;
  #abort: AbortController | null = null;
  #signal: AbortSignal | null = null;
  #entry: InflightRequest | null = null;
  #headers: Headers | null = null;
  #pending: RequestEnd | null = null;
  #inner: DetailedObservation | null = null;
  #ended = false;

  constructor(deps: TrackingDeps, init: TrackInit) {
    this.#deps = deps;
    this.#init = init;
    const share = deps.captureShare();
    this.#capture = share > 0 ? new CaptureDraft(share, init.path, init.headers, deps.drafts) : null;
  }

  /**
   * The signal the request's work should follow: aborted when the client
   * goes away, or when the request is cancelled (its reason is then the
   * cancel's error). Asking for it makes the request cancellable.
   */
  get signal(): AbortSignal {
    if (this.#signal) return this.#signal;
    this.#abort = new AbortController();
    this.#signal = AbortSignal.any([this.#init.signal, this.#abort.signal]);
    return this.#signal;
  }

  /** The cancel's error once the request was cancelled, else null. */
  get cancelled(): ModelswapError | null {
    const reason = this.#abort?.signal.reason;
    return reason instanceof ModelswapError ? reason : null;
  }

  /**
   * Start recording the request for `model`. `listed` puts it in the
   * in-flight list (refusals are recorded without ever being listed).
   */
  observe(model: string, stream: boolean, listed: boolean): RequestObservation {
    const { route, method, path, headers, remoteAddress } = this.#init;
    this.#inner = this.#deps.observe({ model, path: route, method, stream, arrivedAt: this.#arrivedAt, arrivedPerf: this.#arrivedPerf });
    if (listed) {
      this.#entry = this.#deps.inflight.add({ model, path, method, headers, remoteAddress, startedAt: this.#arrivedAt, stream }, {
        cancellable: () => this.#abort !== null,
        cancel: () => this.#cancel(model),
      });
    }
    const inner = this.#inner;
    return {
      granted: () => {
        inner.granted();
        this.#entry?.granted();
      },
      chunk: (bytes) => {
        inner.chunk(bytes);
        this.#entry?.sent(bytes.byteLength);
        this.#capture?.responseChunk(bytes);
      },
      end: (result) => {
        if (this.#pending || this.#ended) return;
        this.#pending = result;
        if (this.#headers) this.#finish();
      },
    };
  }

  /** The body the upstream is sent (captured up to its share). */
  requestBody(bytes: Uint8Array | null): void {
    if (bytes) this.#capture?.requestBody(bytes);
  }

  /** The answer the client gets (its headers); a pending end completes now. */
  responded(response: Response): void {
    if (this.#headers) return;
    this.#headers = response.headers;
    this.#entry?.responded(response.headers);
    if (this.#pending) this.#finish();
  }

  #cancel(model: string): boolean {
    if (!this.#abort || this.#ended || this.#abort.signal.aborted || this.#init.signal.aborted) return false;
    const id = this.#entry?.id ?? "?";
    this.#abort.abort(new ModelswapError(
      499,
      CANCELLED,
      `request ${id} for model "${model}" was cancelled (POST /api/inflight/${id}/cancel); it was not completed`,
      { model },
    ));
    return true;
  }

  #finish(): void {
    if (this.#ended || !this.#pending || !this.#headers || !this.#inner) return;
    this.#ended = true;
    const capture = this.#capture?.finish(this.#headers, this.#deps.redact) ?? null;
    this.#inner.end(this.#pending, { contentType: this.#headers.get("content-type") ?? "", capture });
    this.#entry?.done();
  }
}
