/**
 * Requests in flight, for `GET /api/inflight`, `POST /api/inflight/:id/cancel`
 * and llama-swap's `inflight` events: each model request from its arrival to
 * its last byte, with its model, path, headers (credentials redacted) and the
 * bytes sent so far. Updates are coalesced (at most one per request every
 * 250 ms, as llama-swap) and built only while someone listens.
 */
import { maskHeaders } from "./captures.ts";

/** llama-swap's `InflightRequestEntry`, plus what modelswap adds (`stream`, `waiting`, `cancellable`). */
export interface InflightEntry {
  /** Unique among this run's requests ("1", "2", …). */
  id: string;
  /** When the request arrived (ISO 8601). */
  timestamp: string;
  model: string;
  req_path: string;
  method: string;
  req_headers: Record<string, string>;
  remote_ip: string;
  /** The answer's headers once it started ({} until then). */
  resp_headers: Record<string, string>;
  /** Bytes of the answer sent so far. */
  resp_bytes: number;
  elapsed_ms: number;
  stream: boolean;
  /** True while it waits for its model (queue and load). */
  waiting: boolean;
  /** False for requests `POST /api/inflight/:id/cancel` cannot end (pass-throughs). */
  cancellable: boolean;
}

/** llama-swap's `InFlightRequestsEvent`: the whole list, one request added or changed, or one removed. */
export type InflightUpdate =
  | { operation: "snapshot"; requests: InflightEntry[] }
  | { operation: "upsert"; request: InflightEntry }
  | { operation: "remove"; id: string };

/** What is known of a request when it starts being tracked. */
export interface InflightStart {
  model: string;
  path: string;
  method: string;
  headers: Headers;
  remoteAddress: string;
  /** Arrival, ms since the epoch. */
  startedAt: number;
  stream: boolean;
}

/** How a tracked request can be ended from outside. */
export interface CancelControl {
  /** False for a request whose route cannot be interrupted (a pass-through). */
  cancellable(): boolean;
  /** End the request; false when it could not be (already ending, or not cancellable). */
  cancel(): boolean;
}

/** Least time between two updates of one request (llama-swap's). */
const UPDATE_INTERVAL_MS = 250;

/** One tracked request, as the request path reports on it. */
export class InflightRequest {
  readonly id: string;
  readonly #start: InflightStart;
  readonly #owner: InflightRequests;
  readonly #control: CancelControl;
  #requestHeaders: Record<string, string> | null = null;
  /** The answer's headers as received; masked when the entry is first shown. */
  #responseHeaders: Headers | null = null;
  #maskedResponseHeaders: Record<string, string> | null = null;
  #bytes = 0;
  #waiting = true;
  /** When this request's last update went out (ms), and whether a newer one is due. */
  lastSent = 0;
  due = false;

  constructor(owner: InflightRequests, id: string, start: InflightStart, control: CancelControl) {
    this.#owner = owner;
    this.id = id;
    this.#start = start;
    this.#control = control;
  }

  /** The model was granted: the request is being answered. */
  granted(): void {
    this.#waiting = false;
    this.#owner.changed(this, true);
  }

  /** The answer's headers (what the client gets). */
  responded(headers: Headers): void {
    this.#responseHeaders = headers;
    this.#owner.changed(this, true);
  }

  /** More answer bytes went to the client. */
  sent(bytes: number): void {
    this.#bytes += bytes;
    this.#owner.changed(this, false);
  }

  /** The request ended: it leaves the list. */
  done(): void {
    this.#owner.remove(this);
  }

  /** End the request from outside; false when it cannot be. */
  cancel(): boolean {
    return this.#control.cancel();
  }

  /** Whether {@link cancel} can end it. */
  get cancellable(): boolean {
    return this.#control.cancellable();
  }

  /** The entry as the API shows it now. */
  entry(now: number): InflightEntry {
    const start = this.#start;
    this.#requestHeaders ??= maskHeaders(start.headers, this.#owner.redact);
    if (this.#responseHeaders) this.#maskedResponseHeaders ??= maskHeaders(this.#responseHeaders, this.#owner.redact);
    return {
      id: this.id,
      timestamp: new Date(start.startedAt).toISOString(),
      model: start.model,
      req_path: start.path,
      method: start.method,
      req_headers: this.#requestHeaders,
      remote_ip: start.remoteAddress,
      resp_headers: this.#maskedResponseHeaders ?? {},
      resp_bytes: this.#bytes,
      elapsed_ms: Math.max(0, Math.round(now - start.startedAt)),
      stream: start.stream,
      waiting: this.#waiting,
      cancellable: this.cancellable,
    };
  }
}

/** The in-flight list of one router. */
export class InflightRequests {
  readonly #requests = new Map<string, InflightRequest>();
  readonly #publish: (update: InflightUpdate) => void;
  readonly #listening: () => boolean;
  /** Masks `${env.X}` values in headers. */
  readonly redact: (text: string) => string;
  #nextId = 1;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param publish sends an update to the event feed
   * @param listening whether anyone reads updates (no work is done for them otherwise)
   */
  constructor(publish: (update: InflightUpdate) => void, listening: () => boolean, redact: (text: string) => string) {
    this.#publish = publish;
    this.#listening = listening;
    this.redact = redact;
  }

  /** Requests in flight now. */
  get size(): number {
    return this.#requests.size;
  }

  /** Track a request; `control` ends it from outside. */
  add(start: InflightStart, control: CancelControl): InflightRequest {
    const request = new InflightRequest(this, String(this.#nextId++), start, control);
    this.#requests.set(request.id, request);
    this.changed(request, true);
    return request;
  }

  /** The request with this id, if it is in flight. */
  get(id: string): InflightRequest | undefined {
    return this.#requests.get(id);
  }

  /** Every request in flight, oldest first. */
  list(): InflightEntry[] {
    const now = Date.now();
    return [...this.#requests.values()].map((request) => request.entry(now));
  }

  /** The whole list as one update (a new subscriber's start). */
  snapshot(): InflightUpdate {
    return { operation: "snapshot", requests: this.list() };
  }

  /** A request changed: send it now if it may (`now`: a change that should not wait), else within 250 ms. */
  changed(request: InflightRequest, now: boolean): void {
    if (!this.#listening()) return;
    const at = Date.now();
    if (now || at - request.lastSent >= UPDATE_INTERVAL_MS) {
      request.due = false;
      request.lastSent = at;
      this.#publish({ operation: "upsert", request: request.entry(at) });
      return;
    }
    request.due = true;
    this.#timer ??= setTimeout(() => this.#sendDue(), UPDATE_INTERVAL_MS);
  }

  /** A request ended. */
  remove(request: InflightRequest): void {
    if (!this.#requests.delete(request.id)) return;
    if (this.#listening()) this.#publish({ operation: "remove", id: request.id });
  }

  /** Stop the update timer (shutdown). */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #sendDue(): void {
    this.#timer = undefined;
    if (!this.#listening()) return;
    const at = Date.now();
    for (const request of this.#requests.values()) {
      if (!request.due) continue;
      request.due = false;
      request.lastSent = at;
      this.#publish({ operation: "upsert", request: request.entry(at) });
    }
  }
}
