/**
 * Relays one WebSocket connection between a client and an upstream server
 * (a model's own server behind `/upstream/<model>/…`), as llama-swap passes
 * upgrades through. Web-platform code only: the client side is accepted
 * through the runtime seam (`ServeInfo.upgradeWebSocket`), the upstream side
 * is the global `WebSocket` client.
 *
 * The upstream is connected first and the client's upgrade is accepted only
 * once it has answered, so the client is told the subprotocol the upstream
 * chose. An upstream that cannot be reached still gets the client's upgrade
 * accepted, and then closed with 1011 and a reason naming the target: a
 * failed handshake would tell a browser nothing.
 */
import type { ServeInfo, WebSocketUpgrade } from "../runtime/runtime.ts";

/** Bounds on what one relayed connection may hold in memory or wait for. */
export interface WebSocketRelayLimits {
  /** Size of the messages held for a client that is not open yet (text counted in UTF-16 units). */
  maxQueuedBytes: number;
  /** Number of messages held for a client that is not open yet. */
  maxQueuedMessages: number;
  /** What a slow reader may leave buffered on its socket before the pair is closed. */
  maxBufferedBytes: number;
  /** How long the upstream may take to accept the connection. */
  connectTimeoutMs: number;
  /** How long the other side may take to finish closing once one side has closed. */
  closeTimeoutMs: number;
}

/** The limits {@link relayWebSocket} uses for those it is not given. */
export const DEFAULT_WEBSOCKET_RELAY_LIMITS: Readonly<WebSocketRelayLimits> = {
  maxQueuedBytes: 1024 * 1024,
  maxQueuedMessages: 1000,
  maxBufferedBytes: 8 * 1024 * 1024,
  connectTimeoutMs: 10_000,
  closeTimeoutMs: 5_000,
};

/** Options for {@link relayWebSocket}. */
export interface WebSocketRelayOptions {
  /** The client's upgrade request, as the fetch handler received it. */
  request: Request;
  /** The seam's upgrade for this same request (`ServeInfo.upgradeWebSocket`). */
  upgrade: ServeInfo["upgradeWebSocket"];
  /** The upstream's URL with path and query; `http:`/`https:` become `ws:`/`wss:`. */
  target: string | URL;
  /** Subprotocols to offer upstream; default: those the client offered ({@link offeredProtocols}). */
  protocols?: string[];
  /**
   * Called exactly once when the relay is over, whatever happened (both
   * sides closed, the upstream was unreachable, the request was no upgrade,
   * the client left early), so that the caller can release what it holds.
   */
  onClose?: () => void;
  /** Called for every upstream → client message with its size: proof that the upstream is alive. */
  onMessage?: (size: number) => void;
  limits?: Partial<WebSocketRelayLimits>;
}

/** True when the request asks to switch to the WebSocket protocol. */
export function isWebSocketUpgrade(request: Request): boolean {
  return request.method === "GET" && /(^|,)\s*websocket\s*(,|$)/i.test(request.headers.get("upgrade") ?? "");
}

/** The subprotocols the client offered in `sec-websocket-protocol`, in its order of preference. */
export function offeredProtocols(request: Request): string[] {
  return (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim()).filter(Boolean);
}

/**
 * Accept the client's WebSocket upgrade and relay messages, text and
 * binary, both ways between it and `target` until either side closes; the
 * other side is then closed with the same code and reason where the
 * WebSocket API allows it. Resolves with the response the fetch handler
 * must return (a 101, or a 400 when the request is no upgrade).
 */
export function relayWebSocket(options: WebSocketRelayOptions): Promise<Response> {
  return new WebSocketRelay(options).start();
}

type Payload = string | ArrayBuffer | Blob;

/** A close code and reason to send, or neither ("no status"). */
type Close = [code?: number, reason?: string];

/** Close codes a server may send (RFC 6455 §7.4; 1004–1006 and 1015 are reserved). */
function serverMaySend(code: number): boolean {
  return (code >= 1000 && code <= 1014 && (code < 1004 || code > 1006)) || (code >= 3000 && code <= 4999);
}

/** Close codes the `WebSocket` client API accepts in `close()`. */
function clientMaySend(code: number): boolean {
  return code === 1000 || (code >= 3000 && code <= 4999);
}

/** `text` cut to the 123 bytes of UTF-8 a close reason may hold. */
function closeReason(text: string): string {
  const encoder = new TextEncoder();
  if (encoder.encode(text).byteLength <= 123) return text;
  let cut = "";
  for (const char of text) {
    if (encoder.encode(`${cut}${char}…`).byteLength > 123) break;
    cut += char;
  }
  return `${cut}…`;
}

function sizeOf(data: Payload): number {
  if (typeof data === "string") return data.length;
  return data instanceof Blob ? data.size : data.byteLength;
}

/** The message of an `error` event, when the runtime gives one. */
function errorDetail(event: Event): string {
  const message = (event as Partial<ErrorEvent>).message;
  return typeof message === "string" ? message : "";
}

/** The upstream URL with a WebSocket scheme. */
function websocketUrl(target: string | URL): string {
  const url = new URL(target);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  return url.href;
}

/** One client ⇄ upstream pair; see {@link relayWebSocket}. */
class WebSocketRelay {
  readonly #options: WebSocketRelayOptions;
  readonly #limits: WebSocketRelayLimits;
  #url = "";
  #upstream: WebSocket | null = null;
  #client: WebSocket | null = null;
  #upstreamClosed = false;
  #clientClosed = false;
  /** Upstream messages waiting for the client to open, and their total size. */
  #queue: Payload[] = [];
  #queued = 0;
  /** How to close the client once it opens, when the upstream ended first. */
  #closeOnOpen: Close | null = null;
  /** Settles the connect phase: null when the upstream opened, else why not. */
  #connected: ((failure: string | null) => void) | null = null;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #ended = false;

  constructor(options: WebSocketRelayOptions) {
    this.#options = options;
    this.#limits = { ...DEFAULT_WEBSOCKET_RELAY_LIMITS, ...options.limits };
  }

  async start(): Promise<Response> {
    const { request } = this.#options;
    if (!isWebSocketUpgrade(request)) {
      this.#end();
      return new Response("expected a WebSocket upgrade (GET with `upgrade: websocket`)", { status: 400, headers: { "content-type": "text/plain; charset=utf-8" } });
    }
    const failure = await this.#connect();
    if (request.signal.aborted) {
      // The client left while the upstream was being reached: nobody to answer.
      this.#closeUpstream([1000, "client went away"]);
      this.#end();
      return new Response(null, { status: 499 });
    }
    let accepted: WebSocketUpgrade;
    try {
      accepted = this.#options.upgrade(this.#upstream?.protocol ? { protocol: this.#upstream.protocol } : undefined);
    } catch (error) {
      this.#closeUpstream([1000, "client upgrade failed"]);
      this.#end();
      return new Response(`cannot accept the WebSocket upgrade: ${(error as Error).message}`, { status: 400, headers: { "content-type": "text/plain; charset=utf-8" } });
    }
    const client = accepted.socket;
    this.#client = client;
    client.binaryType = "arraybuffer";
    if (failure !== null) this.#closeOnOpen = [1011, closeReason(failure)];
    client.addEventListener("open", () => this.#clientOpened());
    client.addEventListener("message", (event) => this.#fromClient((event as MessageEvent<Payload>).data));
    client.addEventListener("close", (event) => this.#clientEnded(event as CloseEvent));
    return accepted.response;
  }

  /** Open the upstream connection; resolves with null once it is open, else with why it is not. */
  #connect(): Promise<string | null> {
    const { request } = this.#options;
    let upstream: WebSocket;
    try {
      this.#url = websocketUrl(this.#options.target);
      upstream = new WebSocket(this.#url, this.#options.protocols ?? offeredProtocols(request));
    } catch (error) {
      this.#upstreamClosed = true;
      const target = this.#url || String(this.#options.target);
      return Promise.resolve(`cannot reach upstream ${target}: ${(error as Error).message}`);
    }
    this.#upstream = upstream;
    upstream.binaryType = "arraybuffer";
    let detail = "";
    upstream.addEventListener("error", (event) => (detail ||= errorDetail(event)));
    upstream.addEventListener("message", (event) => this.#fromUpstream((event as MessageEvent<Payload>).data));
    upstream.addEventListener("close", (event) => {
      if (this.#connected) {
        const why = detail || `closed with ${(event as CloseEvent).code}`;
        this.#connected(`cannot reach upstream ${this.#url}: ${why}`);
      }
      this.#upstreamEnded(event as CloseEvent);
    });
    return new Promise((resolve) => {
      const timeoutMs = this.#limits.connectTimeoutMs;
      const timer = setTimeout(() => {
        this.#closeUpstream([1000, "connect timeout"]);
        settle(`upstream ${this.#url} did not accept the WebSocket within ${timeoutMs} ms`);
      }, timeoutMs);
      const clientLeft = () => settle("client went away");
      const settle = (failure: string | null) => {
        this.#connected = null;
        clearTimeout(timer);
        request.signal.removeEventListener("abort", clientLeft);
        resolve(failure);
      };
      this.#connected = settle;
      request.signal.addEventListener("abort", clientLeft, { once: true });
      upstream.addEventListener("open", () => this.#connected?.(null), { once: true });
    });
  }

  #clientOpened(): void {
    const client = this.#client!;
    const queue = this.#queue;
    this.#queue = [];
    this.#queued = 0;
    for (const data of queue) client.send(data);
    if (this.#closeOnOpen) client.close(...this.#closeOnOpen);
  }

  #fromClient(data: Payload): void {
    const upstream = this.#upstream;
    if (!upstream || upstream.readyState !== WebSocket.OPEN) return;
    if (upstream.bufferedAmount > this.#limits.maxBufferedBytes) {
      this.#abort(`upstream ${this.#url} is not reading: over ${this.#limits.maxBufferedBytes} bytes waiting for it`);
    } else upstream.send(data);
  }

  #fromUpstream(data: Payload): void {
    this.#options.onMessage?.(sizeOf(data));
    const client = this.#client;
    if (client?.readyState === WebSocket.OPEN) {
      if (client.bufferedAmount > this.#limits.maxBufferedBytes) {
        this.#abort(`client is not reading: over ${this.#limits.maxBufferedBytes} bytes waiting for it`);
      } else client.send(data);
      return;
    }
    // A client that will be closed as soon as it opens gets nothing more.
    if (this.#clientClosed || this.#closeOnOpen || (client && client.readyState !== WebSocket.CONNECTING)) return;
    this.#queue.push(data);
    this.#queued += sizeOf(data);
    const { maxQueuedBytes, maxQueuedMessages } = this.#limits;
    if (this.#queue.length > maxQueuedMessages || this.#queued > maxQueuedBytes) {
      this.#queue = [];
      this.#queued = 0;
      this.#abort(
        `over ${maxQueuedMessages} messages or ${maxQueuedBytes} bytes from upstream before the client opened`,
      );
    }
  }

  /** Close both sides with 1009: one of them sends more than the relay may hold. */
  #abort(reason: string): void {
    const close: Close = [1009, closeReason(reason)];
    this.#closeOnOpen = close;
    const client = this.#client;
    if (client && client.readyState === WebSocket.OPEN) client.close(...close);
    this.#closeUpstream([1000, close[1]]);
  }

  #upstreamEnded(event: CloseEvent): void {
    this.#upstreamClosed = true;
    const client = this.#client;
    if (client && !this.#clientClosed) {
      const close: Close = event.code === 1005
        ? []
        : serverMaySend(event.code)
        ? [event.code, event.reason]
        : [1011, closeReason(`upstream ${this.#url} went away without closing the WebSocket`)];
      this.#closeOnOpen ??= close;
      // A client still CONNECTING gets the queued messages first (see #clientOpened).
      if (client.readyState === WebSocket.OPEN) client.close(...this.#closeOnOpen);
    }
    this.#settle();
  }

  #clientEnded(event: CloseEvent): void {
    this.#clientClosed = true;
    this.#queue = [];
    this.#queued = 0;
    this.#closeUpstream(clientMaySend(event.code) ? [event.code, event.reason] : []);
    this.#settle();
  }

  #closeUpstream(close: Close): void {
    const upstream = this.#upstream;
    if (upstream && upstream.readyState < WebSocket.CLOSING) upstream.close(...close);
  }

  /**
   * End once both sides have closed, or `closeTimeoutMs` after the first did
   * (a peer may never answer a close). Paths where no client was accepted
   * call {@link #end} themselves.
   */
  #settle(): void {
    if (this.#upstreamClosed && this.#clientClosed) this.#end();
    else if (this.#closeTimer === undefined && (this.#upstreamClosed || this.#clientClosed)) {
      this.#closeTimer = setTimeout(() => this.#end(), this.#limits.closeTimeoutMs);
    }
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#closeTimer);
    this.#options.onClose?.();
  }
}
