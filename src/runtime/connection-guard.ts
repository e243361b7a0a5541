/**
 * The connection guard: bounds that neither runtime's HTTP server enforces
 * on client connections, enforced the same way on both. A bounded server
 * accepts each client connection itself and relays its bytes to the
 * runtime's HTTP server over loopback (`bun-listener.ts`, `deno-listener.ts`
 * carry the bytes); this file decides, from the HTTP/1.x framing of what
 * passes (`http1-framing.ts`), when a connection has waited too long:
 *
 * - for a request head (from the connection's start, or from a later
 *   request's first byte): 408 and close;
 * - for its next request after a response (idle keep-alive): close;
 * - for the next byte of a request body the server wants: 408 and close.
 *
 * While a response is being produced nothing is timed, however quiet it is
 * (a model loading, an SSE stream between events), and after a 101 the
 * connection is a plain tunnel (WebSockets). Connections over the cap, or
 * over what the open-file limit leaves room for, get a 503 at once. A
 * request pipelined behind one whose response is still coming is held back
 * until that response is complete (Bun's server drops both otherwise).
 *
 * For HTTPS the listeners end TLS before bytes reach the guard: it sees
 * plain HTTP/1.1, and a client's TLS handshake is timed as part of its
 * first request head.
 */
import { ModelswapError } from "../errors.ts";
import { FDS_PER_CONNECTION, FdBudget } from "./fd-budget.ts";
import { MessageFramer, REASON_PHRASES } from "./http1-framing.ts";
import type { ConnectionLimits } from "./runtime.ts";

/** One side of a relayed connection, as the runtime's sockets provide it. */
export interface GuardSocket {
  /**
   * Send `bytes` (kept until sent: the caller must not reuse them before
   * the socket has drained). False when not all of it went out at once;
   * the socket's owner calls `drained` on the connection later.
   */
  write(bytes: Uint8Array): boolean;
  /** Stop delivering data until {@link resume}; the peer feels TCP back-pressure. */
  pause(): void;
  resume(): void;
  /**
   * Send FIN once everything written has gone out; reading goes on until
   * the peer closes too, or (with `close`) the socket is closed right then.
   */
  end(close?: boolean): void;
  /** Close now, dropping what was not sent yet. */
  destroy(): void;
}

/** What the runtime's sockets provide to a {@link ConnectionGuard}. */
export interface GuardTransport {
  /** Open the hop to the runtime's HTTP server for `connection`; writes wait until it is open. */
  connect(connection: GuardedConnection): GuardSocket;
}

/** Bytes held back behind a response that is still coming, before the client is paused. */
const MAX_HELD_BYTES = 64 * 1024;
/** How long a connection being closed may take to read what it was sent and close its side. */
const LINGER_MS = 2000;
/** Refused connections lingering at once; more are closed without a word. */
const MAX_LINGERING_REFUSALS = 64;
/** The same when the open-file limit is what refused them (they come out of the margin kept for the process). */
const MAX_LINGERING_SHORT_OF_FDS = 4;
/** One warning line per kind at most this often. */
const WARNING_INTERVAL_MS = 10_000;


/** A complete `Connection: close` HTTP/1.1 response carrying an OpenAI-shaped error body. */
function closingResponse(error: ModelswapError): Uint8Array {
  const body = JSON.stringify(error.toJSON());
  const retry = error.retryAfter === undefined ? "" : `Retry-After: ${error.retryAfter}\r\n`;
  return new TextEncoder().encode(
    `HTTP/1.1 ${error.status} ${REASON_PHRASES[error.status] ?? "Error"}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${new TextEncoder().encode(body).length}\r\n${retry}Connection: close\r\n\r\n${body}`,
  );
}

/** Counts one kind of event and reports it at most once per interval. */
class RateLimitedWarning {
  #count = 0;
  #lastAt = -Infinity;
  #lastText = "";
  readonly #warn: (message: string) => void;

  constructor(warn: (message: string) => void) {
    this.#warn = warn;
  }

  /** Record one occurrence described by `text`; reported now or folded into the next report. */
  note(text: string, now: number): void {
    this.#count++;
    this.#lastText = text;
    if (now - this.#lastAt >= WARNING_INTERVAL_MS) this.flush(now);
  }

  /** Report what was folded since the last report, if anything. */
  flush(now: number): void {
    if (this.#count === 0 || now - this.#lastAt < WARNING_INTERVAL_MS) return;
    this.#warn(this.#count === 1 ? this.#lastText : `${this.#lastText} (${this.#count} times in the last ${WARNING_INTERVAL_MS / 1000} s)`);
    this.#count = 0;
    this.#lastAt = now;
  }
}

/** Every guarded connection of one server, their deadlines, and the cap. */
export class ConnectionGuard {
  readonly limits: ConnectionLimits;
  readonly #transport: GuardTransport;
  readonly #open = new Set<GuardedConnection>();
  readonly #lingering = new Set<GuardedConnection>();
  /** Connections by the local port of their hop to the runtime's server (how a request finds its client). */
  readonly #byServerPort = new Map<number, GuardedConnection>();
  readonly #budget: FdBudget | null;
  readonly #refusals: RateLimitedWarning;
  readonly #acceptErrors: RateLimitedWarning;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #refusal: Uint8Array;
  readonly #unavailable = closingResponse(
    new ModelswapError(503, "server_unavailable", "modelswap's HTTP server closed the connection without answering; send the request again", {}, 1),
  );
  readonly #responses: { header: Uint8Array; body: Uint8Array };
  #draining = false;

  constructor(
    limits: ConnectionLimits,
    transport: GuardTransport,
    options: { warn?: (message: string) => void; fdLimit?: number | null } = {},
  ) {
    this.limits = limits;
    this.#transport = transport;
    const warn = options.warn ?? (() => {});
    this.#budget = FdBudget.near(options.fdLimit ?? null, limits.maxConnections);
    if (this.#budget) {
      warn(`server: the open-file limit (ulimit -n) is ${this.#budget.limit}: room for about ${this.#budget.connections} client connections now (each holds ${FDS_PER_CONNECTION} descriptors), fewer than server.maxConnections (${limits.maxConnections}); more are refused — raise the limit to accept more`);
    }
    this.#refusals = new RateLimitedWarning(warn);
    this.#acceptErrors = new RateLimitedWarning(warn);
    this.#refusal = closingResponse(
      new ModelswapError(503, "too_many_connections", `modelswap has no room for another client connection (server.maxConnections is ${limits.maxConnections}); retry shortly, reuse connections, or raise the limit`, {}, 1),
    );
    const timeout = (what: string, key: string, seconds: number) =>
      closingResponse(new ModelswapError(408, "request_timeout", `${what} within ${seconds} s (server.${key}); the connection is closed, send the request again`));
    this.#responses = {
      header: timeout("the request head was not received", "headerTimeout", limits.headerTimeout),
      body: timeout("the request body stalled: no byte arrived", "bodyTimeout", limits.bodyTimeout),
    };
    const timeouts = [limits.headerTimeout, limits.idleTimeout, limits.bodyTimeout].filter((s) => s > 0);
    const interval = Math.min(1000, Math.max(100, (Math.min(...timeouts, 4) * 1000) / 4));
    this.#timer = setInterval(() => this.#sweep(), interval);
    unrefTimer(this.#timer);
  }

  /**
   * A client connected: guard it, or refuse it with a 503 when the cap or
   * the open-file limit leaves no room. Either way the returned connection
   * receives the socket's events.
   */
  accept(client: GuardSocket, remoteAddress: string): GuardedConnection {
    const connection = new GuardedConnection(this, client, remoteAddress);
    const full = this.#open.size >= this.limits.maxConnections;
    if (!this.#draining && !full && (this.#budget === null || this.#budget.take())) {
      this.#open.add(connection);
      return connection;
    }
    if (!this.#draining) {
      const why = full ? `${this.#open.size} client connections are open (server.maxConnections)` : "the open-file limit leaves no room (ulimit -n)";
      this.#refusals.note(`server: refused a connection from ${remoteAddress || "a client"} with 503: ${why}`, performance.now());
    }
    // A refused client may linger to read its 503 and close first; beyond a few, its socket closes once
    // the 503 is sent; when descriptors are short, at once (an accept beyond the limit can crash Deno).
    if (this.#lingering.size < (full ? MAX_LINGERING_REFUSALS : MAX_LINGERING_SHORT_OF_FDS)) {
      this.#lingering.add(connection);
      connection.refuse(this.#refusal, "linger");
    } else connection.refuse(this.#refusal, full ? "once-sent" : "at-once");
    return connection;
  }

  /** Accepting failed (EMFILE and the like): report it, at most once every few seconds; the server keeps accepting. */
  acceptFailed(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.#acceptErrors.note(`server: accepting a connection failed: ${message}; still serving (check the open-file limit, ulimit -n)`, performance.now());
  }

  /** The client address of the connection whose hop to the runtime's server has this local port. */
  remoteAddress(serverPort: number): string {
    return this.#byServerPort.get(serverPort)?.remoteAddress ?? "";
  }

  /** Stop taking new connections' requests: idle ones close now, busy ones after their response. */
  drain(): void {
    this.#draining = true;
    for (const connection of this.#open) connection.drain();
  }

  /** Close every connection now and stop the timer. */
  close(): void {
    this.#draining = true;
    clearInterval(this.#timer);
    for (const connection of [...this.#open, ...this.#lingering]) connection.destroy();
  }

  /** @internal Open the hop of `connection` to the runtime's server. */
  connect(connection: GuardedConnection): GuardSocket {
    return this.#transport.connect(connection);
  }

  /** @internal The hop of `connection` opened on `port`. */
  bound(connection: GuardedConnection, port: number): void {
    this.#byServerPort.set(port, connection);
  }

  /** @internal `connection` is fully closed. */
  released(connection: GuardedConnection, serverPort: number): void {
    if (this.#open.delete(connection)) this.#budget?.give();
    this.#lingering.delete(connection);
    if (this.#byServerPort.get(serverPort) === connection) this.#byServerPort.delete(serverPort);
  }

  /** @internal Whether new requests are still taken. */
  get draining(): boolean {
    return this.#draining;
  }

  /** @internal The 408 sent when a head or a body took too long. */
  timeoutResponse(kind: "header" | "body"): Uint8Array {
    return this.#responses[kind];
  }

  /** @internal The 503 sent when the runtime's server closed without answering. */
  get unavailableResponse(): Uint8Array {
    return this.#unavailable;
  }

  #sweep(): void {
    const now = performance.now();
    for (const connection of this.#open) connection.check(now);
    for (const connection of this.#lingering) connection.check(now);
    this.#budget?.sample();
    this.#refusals.flush(now);
    this.#acceptErrors.flush(now);
  }
}

/**
 * One client connection and its hop to the runtime's server. The runtime's
 * sockets call the `client…` and `server…` methods as events arrive.
 */
export class GuardedConnection {
  readonly remoteAddress: string;
  readonly #guard: ConnectionGuard;
  readonly #client: GuardSocket;
  /**
   * The hop to the runtime's server, opened once the first request head is
   * complete (so that the server never waits on a client's head, and a
   * connection that never sends one holds one descriptor, not three).
   */
  #server: GuardSocket | null = null;
  /** Bytes of the first request that came before its hop was open (copies; at most one head). */
  #early: Uint8Array[] = [];
  #serverPort = 0;
  readonly #requests: MessageFramer;
  readonly #responses: MessageFramer;
  /** Requests whose head arrived and whose final response has not ended. */
  #outstanding = 0;
  /** Whether any byte of the current exchange's response was relayed (a 408 is then too late). */
  #responding = false;
  /** Client bytes held behind a response that is still coming; null when not holding. */
  #held: Uint8Array[] | null = null;
  #heldBytes = 0;
  /** When the current head started (connection start for the first one); -1 between requests. */
  #headStart: number;
  /** When the connection last became idle (a response ended). */
  #idleSince: number;
  /** When the last client byte arrived. */
  #lastIn: number;
  /** Waiting for the server to take what was written to it / for the client to take what was written to it. */
  #serverBusy = false;
  #clientBusy = false;
  #tunnel = false;
  #closing = false;
  #closingSince = 0;
  #closed = false;
  #clientEnded = false;

  constructor(guard: ConnectionGuard, client: GuardSocket, remoteAddress: string) {
    this.#guard = guard;
    this.#client = client;
    this.remoteAddress = remoteAddress;
    this.#headStart = this.#idleSince = this.#lastIn = performance.now();
    this.#requests = new MessageFramer("request", { head: (_, isHead) => this.#requestHead(isHead), end: () => this.#requestEnd() });
    this.#responses = new MessageFramer("response", { head: (status) => this.#responseHead(status), end: () => this.#responseEnd() });
  }

  /**
   * @internal Answer with `response` and close: after the client has read it
   * and closed its side ("linger", bounded by the linger time), once it is
   * sent, or at once (the client may not see it).
   */
  refuse(response: Uint8Array, when: "linger" | "once-sent" | "at-once"): void {
    this.#close(response, when !== "linger");
    if (when === "at-once") this.destroy();
  }

  /** The hop to the runtime's server is open on local `port`. */
  serverOpened(port: number): void {
    this.#serverPort = port;
    this.#guard.bound(this, port);
  }

  /** Bytes from the client. */
  clientData(bytes: Uint8Array): void {
    if (this.#closing) return; // read and dropped: the client is being closed
    this.#lastIn = performance.now();
    if (this.#tunnel) return this.#toServer(bytes);
    if (this.#held !== null) return this.#hold(bytes, 0);
    let at = 0;
    while (at < bytes.length) {
      if (this.#headStart < 0 && this.#requests.phase === "head") this.#headStart = this.#lastIn;
      at = this.#requests.feed(bytes, at);
      if (this.#requests.phase === "error") return this.#badRequest(this.#requests.error);
      if (this.#held !== null) {
        this.#toServer(bytes.subarray(0, at));
        return this.#hold(bytes, at);
      }
    }
    this.#toServer(bytes);
  }

  /** Everything written to the client has gone out. */
  clientDrained(): void {
    this.#clientBusy = false;
    if (this.#closing) return;
    this.#idleSince = performance.now();
    this.#server?.resume();
  }

  /**
   * The client sent FIN: pass it on, so that the server sees a client that
   * left (it aborts the request); only behind held pipelined requests does
   * it wait until those are through.
   */
  clientEnded(): void {
    this.#clientEnded = true;
    if (this.#closing) return;
    if (this.#isIdle() || this.#server === null) return this.#close(null);
    if (this.#heldBytes === 0) this.#server.end();
  }

  /** The client's socket is closed. */
  clientClosed(): void {
    this.destroy();
  }

  /** Bytes from the runtime's server. */
  serverData(bytes: Uint8Array): void {
    if (this.#closing) return;
    if (!this.#tunnel) {
      let at = 0;
      while (at < bytes.length && !this.#tunnel) {
        at = this.#responses.feed(bytes, at);
        if (this.#responses.phase === "error") {
          // Not HTTP we can follow: relay the rest as it comes, then close with the server.
          this.#responses.stop();
          break;
        }
      }
    }
    this.#responding = true;
    if (!this.#client.write(bytes)) {
      this.#clientBusy = true;
      this.#server?.pause();
    }
    this.#afterResponse();
  }

  /** Everything written to the server has gone out. */
  serverDrained(): void {
    this.#serverBusy = false;
    this.#lastIn = performance.now();
    if (this.#heldBytes < MAX_HELD_BYTES && !this.#closing) this.#client.resume();
  }

  /**
   * The server sent FIN or its socket closed (after a `Connection: close`
   * response, when it gave up, or when the hop could not be opened): close
   * the client too, with a 503 if its request got no answer at all.
   */
  serverGone(): void {
    const unanswered = !this.#responding && (this.#outstanding > 0 || this.#requests.headBytes > 0);
    this.#close(unanswered ? this.#guard.unavailableResponse : null);
  }

  /** @internal Stop after the current exchange (the server is shutting down). */
  drain(): void {
    if (this.#isIdle()) this.#close(null);
  }

  /** Close both sides now. */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    this.#client.destroy();
    this.#server?.destroy();
    this.#guard.released(this, this.#serverPort);
  }

  /** @internal Act on a passed deadline (called by the guard's timer). */
  check(now: number): void {
    if (this.#closed) return;
    if (this.#closing) {
      if (now - this.#closingSince >= LINGER_MS) this.destroy();
      return;
    }
    const limits = this.#guard.limits;
    if (this.#tunnel || this.#serverBusy || this.#clientBusy) return;
    if (this.#requests.phase === "body") {
      if (limits.bodyTimeout > 0 && now - this.#lastIn >= limits.bodyTimeout * 1000) this.#timedOut("body");
      return;
    }
    if (this.#outstanding > 0) return; // a response is being produced: never timed
    if (this.#headStart >= 0) {
      if (limits.headerTimeout > 0 && now - this.#headStart >= limits.headerTimeout * 1000) this.#timedOut("header");
    } else if (limits.idleTimeout > 0 && now - this.#idleSince >= limits.idleTimeout * 1000) {
      this.#close(null);
    }
  }

  #requestHead(isHead: boolean): void {
    if (this.#server === null) this.#openHop();
    this.#outstanding++;
    this.#headStart = -1;
    this.#responding = false;
    this.#responses.answeringHead(isHead);
  }

  #requestEnd(): void {
    // Anything after this request waits until its response is complete.
    if (this.#outstanding > 0) this.#held = [];
    else this.#idleSince = performance.now(); // answered early (a 413, say): idle from now
  }

  #responseHead(status: number): void {
    if (status === 101) {
      // The connection is handed over (WebSocket): relay bytes as they come from now on.
      this.#tunnel = true;
      this.#responses.stop();
      this.#requests.stop();
    }
  }

  #responseEnd(): void {
    this.#outstanding = Math.max(0, this.#outstanding - 1);
    this.#idleSince = performance.now();
  }

  /** After relaying response bytes: once the exchange is complete, close when draining, else release what was held. */
  #afterResponse(): void {
    if (!this.#tunnel) {
      if (this.#outstanding > 0) return;
      if (this.#guard.draining && this.#requests.phase === "head") return this.#close(null);
    }
    const held = this.#held;
    if (held === null) return;
    this.#held = null;
    this.#heldBytes = 0;
    if (!this.#serverBusy) this.#client.resume();
    for (const bytes of held) {
      if (this.#closing) return;
      this.clientData(bytes);
    }
    if (this.#clientEnded && this.#heldBytes === 0) this.#server?.end();
  }

  #hold(bytes: Uint8Array, from: number): void {
    if (from >= bytes.length) return;
    this.#held!.push(bytes.slice(from)); // copied: the socket may reuse its buffer
    this.#heldBytes += bytes.length - from;
    if (this.#heldBytes >= MAX_HELD_BYTES) this.#client.pause();
  }

  #openHop(): void {
    this.#server = this.#guard.connect(this);
    const early = this.#early;
    this.#early = [];
    for (const bytes of early) this.#toServer(bytes);
  }

  #toServer(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.#server === null) return void this.#early.push(bytes.slice()); // copied: the socket may reuse its buffer
    if (!this.#server.write(bytes)) {
      this.#serverBusy = true;
      this.#client.pause();
    }
  }

  #isIdle(): boolean {
    return this.#outstanding === 0 && this.#requests.phase === "head" && this.#requests.headBytes === 0 && !this.#tunnel && this.#held === null;
  }

  /** A head or body took too long: 408, unless a response already started or nothing at all was sent (then just close). */
  #timedOut(kind: "header" | "body"): void {
    const silent = kind === "header" && this.#requests.headBytes === 0;
    this.#close(this.#responding || silent ? null : this.#guard.timeoutResponse(kind));
  }

  #badRequest(reason: string): void {
    const error = new ModelswapError(400, "bad_request", `cannot read the request's framing: ${reason}; the connection is closed`);
    this.#close(this.#responding ? null : closingResponse(error));
  }

  /**
   * Drop the server side, send `response` (if any) and FIN to the client,
   * and let it linger briefly to read them; `now`: close as soon as they are sent.
   */
  #close(response: Uint8Array | null, now = false): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#closingSince = performance.now();
    this.#server?.destroy();
    if (response) this.#client.write(response);
    this.#client.end(now); // else the socket closes once the client has closed its side too (or the linger is over)
  }
}

/** Let the process exit while only this timer is left (Node-style timers have `unref`, Deno's have `Deno.unrefTimer`). */
function unrefTimer(timer: ReturnType<typeof setInterval>): void {
  if (typeof timer === "object" && timer !== null && "unref" in timer) (timer as { unref(): void }).unref();
  else {
    const deno = (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno;
    deno?.unrefTimer(timer as unknown as number);
  }
}
