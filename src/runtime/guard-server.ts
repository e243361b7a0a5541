/**
 * Requests served where the connection guard accepted them: the guard's
 * hop to the runtime's HTTP server is replaced, for the common request, by
 * an HTTP/1.1 exchange in this process — the head parsed here, the app's
 * `fetch` called, its response framed back — so that a request costs one
 * loopback connection instead of two, and no copy of its bytes through the
 * kernel. The guard does not know the difference: this endpoint is the
 * {@link GuardSocket} its requests are written to, and it hands response
 * bytes back as the hop would (`serverData`, `serverGone`), so every bound,
 * deadline and the pipelining hold stay the guard's.
 *
 * What this file does not follow with certainty goes to the runtime's
 * server as before, on a hop opened then: a WebSocket upgrade (or any
 * `Upgrade`), `Expect`, a chunked request body, a body over the size limit,
 * HTTP/1.0, a request without `Host`, a target that is not a path, bytes
 * that are not ASCII. The switch happens between requests (the guard holds
 * a pipelined request until the response ahead of it is complete), and the
 * connection stays on the hop from then on.
 *
 * A response goes out as soon as its first bytes are there: with its own
 * `Content-Length` as it is, otherwise chunked, the head written at once
 * when its first chunk is not ready within a tick (an event stream whose
 * first event takes a while still gets its headers).
 */
import { concatBytes } from "../bytes.ts";
import type { GuardedConnection, GuardSocket, GuardTransport } from "./connection-guard.ts";
import { REASON_PHRASES } from "./http1-framing.ts";
import type { ServeInfo } from "./runtime.ts";

/** The app's handler, given the request and its client's address. */
export type GuardHandler = (request: Request, info: ServeInfo) => Response | Promise<Response>;

/** What {@link servedInGuard} needs besides the hop it falls back to. */
export interface GuardServeOptions {
  fetch: GuardHandler;
  /** `https` when the guard ended TLS. */
  scheme: "http" | "https";
  /** Larger request bodies are the runtime server's to refuse (413). */
  maxRequestBodySize?: number;
}

/**
 * A transport that serves requests in this process and opens a hop with
 * `fallback` only for what it leaves to the runtime's server.
 */
export function servedInGuard(fallback: GuardTransport, options: GuardServeOptions): GuardTransport {
  return { connect: (connection) => new InGuardEndpoint(connection, fallback, options) };
}

const CR = 13;
const LF = 10;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CRLF = encoder.encode("\r\n");
const LAST_CHUNK = encoder.encode("0\r\n\r\n");
/** The type of a text answer made here (a string body's type is not among a Response's headers on Bun). */
const TEXT = { "content-type": "text/plain; charset=utf-8" };
/** Response fields this file writes itself. */
const FRAMING_FIELDS = new Set(["content-length", "transfer-encoding", "connection", "keep-alive"]);

/** A Host this file takes as it is (a name or address, and a port); anything else is the runtime server's to judge. */
const HOST = /^[\w.\-]+(:\d{1,5})?$|^\[[\d:a-fA-F.]+\](:\d{1,5})?$/;
/** Answers of a known length up to this size are read whole rather than streamed. */
const SMALL_BODY_BYTES = 256 * 1024;
/** The most one write gathers from chunks that are already there. */
const MAX_BATCH_BYTES = 64 * 1024;
const NOT_READY = Symbol("not ready");
const notReady = (): typeof NOT_READY => NOT_READY;

/**
 * What `read` settles with if it does within a few microtask turns (a
 * chunk that was queued already: each runtime takes one or two), else
 * {@link NOT_READY}; the read stays pending for the caller.
 */
function ready<T>(read: Promise<T>): Promise<T | typeof NOT_READY> {
  return Promise.race([read, Promise.resolve().then().then().then().then(notReady)]);
}

/** `Date` for this second, made once a second. */
let dateSecond = -1;
let dateText = "";
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

/** Where the empty line ending a head is in `bytes` (the index after it), or -1. */
function headEnd(bytes: Uint8Array, from: number): number {
  for (let at = bytes.indexOf(LF, from); at !== -1; at = bytes.indexOf(LF, at + 1)) {
    if (bytes[at + 1] === LF) return at + 2;
    if (bytes[at + 1] === CR && bytes[at + 2] === LF) return at + 3;
  }
  return -1;
}

/** One request head as read here; null fields make it the runtime server's. */
interface RequestHead {
  method: string;
  url: string;
  headers: [string, string][];
  bodyLength: number;
  close: boolean;
}

/** Read a request head, or null when it is not one this file serves (see the file's comment). */
function parseHead(head: Uint8Array, options: GuardServeOptions): RequestHead | null {
  const text = decoder.decode(head);
  if (text.includes("\uFFFD")) return null;
  let lineEnd = text.indexOf("\n");
  const [method, target, version] = text.slice(0, text.charCodeAt(lineEnd - 1) === CR ? lineEnd - 1 : lineEnd).split(" ");
  if (version !== "HTTP/1.1" || !target || target.charCodeAt(0) !== 47) return null;
  const headers: [string, string][] = [];
  let host = "";
  let bodyLength = 0;
  let close = false;
  for (let at = lineEnd + 1; at < text.length; at = lineEnd + 1) {
    lineEnd = text.indexOf("\n", at);
    if (lineEnd === -1) lineEnd = text.length;
    const colon = text.indexOf(":", at);
    if (colon === -1 || colon > lineEnd) {
      if (text.slice(at, lineEnd).trim() === "") continue; // the empty line that ends the head
      return null;
    }
    if (colon === at) return null;
    const name = text.slice(at, colon).toLowerCase();
    const value = text.slice(colon + 1, lineEnd).trim();
    // Only the fields read here are compared (by length first: most are none of them).
    switch (name.length) {
      case 4:
        if (name === "host") host = value;
        break;
      case 14:
        if (name === "content-length") {
          if (!/^\d{1,15}$/.test(value)) return null;
          bodyLength = Number(value);
        }
        break;
      case 10:
        if (name === "connection") close = /(^|,)\s*close\s*(,|$)/i.test(value);
        break;
      case 17:
      case 7:
      case 6:
        if (name === "transfer-encoding" || name === "upgrade" || name === "expect") return null;
        break;
    }
    headers.push([name, value]);
  }
  if (!HOST.test(host)) return null;
  if (options.maxRequestBodySize !== undefined && bodyLength > options.maxRequestBodySize) return null;
  if (bodyLength > 0 && (method === "GET" || method === "HEAD")) return null;
  return { method, url: `${options.scheme}://${host}${target}`, headers, bodyLength, close };
}

/** A request being read: its head, and its body so far (copies). */
interface Incoming {
  head: RequestHead;
  parts: Uint8Array[];
  received: number;
}

/**
 * The guard's hop for one connection, served here; see the file's comment.
 * Requests arrive through {@link write}; responses leave through the
 * connection's `serverData`.
 */
class InGuardEndpoint implements GuardSocket {
  readonly #connection: GuardedConnection;
  readonly #fallback: GuardTransport;
  readonly #options: GuardServeOptions;
  /** The runtime server's hop, once this connection was handed to it. */
  #hop: GuardSocket | null = null;
  /** Head bytes not yet complete (copies). */
  #pending: Uint8Array[] = [];
  #incoming: Incoming | null = null;
  /** The exchange being answered: its client signal and the reader of its body. */
  #abort: AbortController | null = null;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #paused = false;
  #resume: (() => void) | null = null;
  /** The client left or the connection was closed: nothing more is answered. */
  #gone = false;

  constructor(connection: GuardedConnection, fallback: GuardTransport, options: GuardServeOptions) {
    this.#connection = connection;
    this.#fallback = fallback;
    this.#options = options;
  }

  write(bytes: Uint8Array): boolean {
    if (this.#hop) return this.#hop.write(bytes);
    if (this.#gone || bytes.length === 0) return true;
    const incoming = this.#incoming;
    if (incoming) return this.#body(incoming, bytes, 0);
    // What is kept is copied: the socket may reuse its buffer once this returns.
    const all = this.#pending.length === 0 ? bytes : concatBytes([...this.#pending, bytes]);
    const end = headEnd(all, 0);
    if (end === -1) {
      this.#pending = [all === bytes ? bytes.slice() : all];
      return true;
    }
    this.#pending = [];
    const head = parseHead(all.subarray(0, end), this.#options);
    if (head === null) return this.#handOver(all === bytes ? bytes.slice() : all);
    const next: Incoming = { head, parts: [], received: 0 };
    this.#incoming = next;
    return this.#body(next, all, end);
  }

  pause(): void {
    this.#paused = true;
    this.#hop?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#hop?.resume();
    const resume = this.#resume;
    this.#resume = null;
    resume?.();
  }

  /** The client sent FIN: as a server would, take it as a client that left. */
  end(close?: boolean): void {
    if (this.#hop) return this.#hop.end(close);
    if (this.#gone) return;
    this.#stop();
    queueMicrotask(() => this.#connection.serverGone());
  }

  destroy(): void {
    if (this.#hop) return this.#hop.destroy();
    this.#stop();
  }

  /** Take body bytes of `incoming` from `bytes` at `from`; the request is served once they are all there. */
  #body(incoming: Incoming, bytes: Uint8Array, from: number): boolean {
    const take = Math.min(bytes.length - from, incoming.head.bodyLength - incoming.received);
    if (take > 0) incoming.parts.push(bytes.slice(from, from + take));
    incoming.received += take;
    if (incoming.received < incoming.head.bodyLength) return true;
    this.#incoming = null;
    // More than this request: the guard holds pipelined requests back, so this is a framing it already refused.
    void this.#serve(incoming);
    return true;
  }

  /** Give the connection to the runtime's server from this request on. */
  #handOver(bytes: Uint8Array): boolean {
    const hop = this.#fallback.connect(this.#connection);
    this.#hop = hop;
    if (this.#paused) hop.pause();
    return hop.write(bytes);
  }

  #stop(): void {
    this.#gone = true;
    this.#abort?.abort();
    void this.#reader?.cancel().catch(() => {});
    this.#resume?.();
  }

  async #serve({ head, parts }: Incoming): Promise<void> {
    const abort = new AbortController();
    this.#abort = abort;
    const remoteAddress = this.#connection.remoteAddress;
    let request: Request;
    try {
      request = new Request(head.url, { method: head.method, headers: head.headers, body: parts.length > 0 ? concatBytes(parts) : null, signal: abort.signal });
    } catch (error) {
      // A method or header value the platform refuses: the client's mistake.
      const reason = error instanceof Error ? error.message : String(error);
      head.close = true;
      await this.#respond(new Response(`bad request: ${reason}`, { status: 400, headers: TEXT }), head).catch(() => {});
      if (!this.#gone) this.#connection.serverGone();
      return;
    }
    let response: Response;
    try {
      response = await this.#options.fetch(request, { remoteAddress, upgradeWebSocket: notAnUpgrade });
    } catch (error) {
      response = new Response(`internal error: ${error instanceof Error ? error.message : String(error)}`, { status: 500, headers: TEXT });
    }
    if (this.#gone) return void response.body?.cancel().catch(() => {});
    try {
      await this.#respond(response, head);
    } catch {
      // The body failed part-way: the client sees the connection close before the response's end.
      if (!this.#gone) this.#connection.serverGone();
      return;
    }
    // The next request may already be served (the last bytes released it): only this exchange's state is cleared.
    if (this.#abort === abort) this.#abort = null;
    if (head.close && !this.#gone) this.#connection.serverGone();
  }

  /** Frame `response` back to the client, chunk by chunk as its body yields them, waiting while the client is slow. */
  async #respond(response: Response, request: RequestHead): Promise<void> {
    const { status } = response;
    const bodiless = request.method === "HEAD" || status === 204 || status === 304 || status < 200;
    const declared = response.headers.get("content-length");
    const length = declared !== null && /^\d+$/.test(declared) ? Number(declared) : -1;
    let head = `HTTP/1.1 ${status} ${response.statusText || REASON_PHRASES[status] || ""}\r\n`;
    let dated = false;
    // forEach, not for…of: Deno's Headers iterator costs several µs per call.
    response.headers.forEach((value, name) => {
      if (FRAMING_FIELDS.has(name)) return;
      if (name === "date") dated = true;
      head += `${name}: ${value}\r\n`;
    });
    if (!dated) head += `date: ${httpDate()}\r\n`;
    if (request.close) head += "connection: close\r\n";
    const body = bodiless ? null : response.body;
    if (body === null) {
      if (!bodiless || length >= 0) head += `content-length: ${bodiless ? length : 0}\r\n`;
      void response.body?.cancel().catch(() => {});
      this.#send(encoder.encode(head + "\r\n"));
      return;
    }
    const chunked = length < 0;
    head += chunked ? "transfer-encoding: chunked\r\n\r\n" : `content-length: ${length}\r\n\r\n`;
    if (!chunked && length <= SMALL_BODY_BYTES) {
      // A small answer of known length (a JSON completion): read whole and sent with its head in one write.
      const bytes = new Uint8Array(await response.arrayBuffer());
      if (bytes.length !== length) throw new Error("the body does not match its Content-Length");
      return this.#send(concatBytes([encoder.encode(head), bytes]));
    }
    const reader = body.getReader();
    this.#reader = reader;
    let headBytes: Uint8Array | null = encoder.encode(head);
    const first = reader.read();
    if (chunked) {
      // The head goes with the first chunk when that is there within a tick; otherwise alone, at once.
      let tick: ReturnType<typeof setTimeout> | undefined;
      const ready = await Promise.race([first.then(() => true), new Promise<false>((resolve) => (tick = setTimeout(resolve, 0, false)))]);
      clearTimeout(tick);
      if (!ready) {
        this.#send(headBytes);
        headBytes = null;
      }
    }
    // Each write carries what has arrived: the chunk awaited, then every chunk (and the end) already there,
    // as one HTTP chunk (a client reads it at once).
    let sent = 0;
    let read = first;
    let done = false;
    while (!done) {
      const chunks: Uint8Array[] = [];
      let batch = 0;
      for (let next: Awaited<typeof read> | typeof NOT_READY = await read; next !== NOT_READY; next = await ready(read)) {
        if (this.#gone) return;
        if (next.done) {
          done = true;
          break;
        }
        read = reader.read();
        if (next.value.length === 0) continue;
        chunks.push(next.value);
        batch += next.value.length;
        if (batch >= MAX_BATCH_BYTES) break;
      }
      sent += batch;
      if (!chunked && sent > length) throw new Error("the body is longer than its Content-Length");
      if (done && !chunked && sent < length) throw new Error("the body is shorter than its Content-Length");
      const parts = headBytes ? [headBytes] : [];
      headBytes = null;
      if (batch > 0 && chunked) parts.push(encoder.encode(`${batch.toString(16)}\r\n`), ...chunks, CRLF);
      else parts.push(...chunks);
      if (done && chunked) parts.push(LAST_CHUNK);
      if (parts.length > 0) this.#send(concatBytes(parts));
      if (done) break;
      if (this.#paused) await new Promise<void>((resolve) => (this.#resume = resolve));
      if (this.#gone) return void reader.cancel().catch(() => {});
    }
    if (this.#reader === reader) this.#reader = null;
  }

  #send(bytes: Uint8Array): void {
    if (!this.#gone) this.#connection.serverData(bytes);
  }
}

/** `upgradeWebSocket` of a request served here: upgrades go to the runtime's server, so this one is not one. */
function notAnUpgrade(): never {
  throw new TypeError("not a WebSocket upgrade request (or already upgraded)");
}
