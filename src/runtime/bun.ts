/**
 * The {@link Runtime} on Bun: `Bun.spawn` for processes, `Bun.serve` for
 * HTTP. Only `detect.ts` imports this file, and only when running on Bun.
 */
import { appendFile, mkdir, readdir, readFile, rename, rm, rmdir, stat, writeFile } from "node:fs/promises";
import process from "node:process";
import type {
  ChildProcess,
  Database,
  ExitStatus,
  HttpServer,
  Runtime,
  ServeOptions,
  Signal,
  SpawnOptions,
  SqlRow,
  SqlValue,
  TlsCertificate,
  WebSocketUpgrade,
  WebSocketUpgradeOptions,
} from "./runtime.ts";
import { type BunSocketApi, bunTransport, listenGuarded } from "./bun-listener.ts";
import { ConnectionGuard } from "./connection-guard.ts";
import { servedInGuard } from "./guard-server.ts";
import { openFileLimit } from "./fd-budget.ts";
import { isProcessAlive } from "./procfs.ts";
import { absoluteUrl, formatHost, listenError, quietly } from "./shared.ts";

// The slice of Bun's API used here, typed locally so that Deno can
// type-check this file (it follows the dynamic import in detect.ts).
interface BunFileSink {
  write(chunk: string): number;
  flush(): number | Promise<number>;
  end(): number | Promise<number>;
}
interface BunSubprocess {
  readonly pid: number;
  readonly exited: Promise<number>;
  readonly exitCode: number | null;
  readonly signalCode: string | number | null;
  readonly stdout: ReadableStream<Uint8Array> | number | undefined;
  readonly stderr: ReadableStream<Uint8Array> | number | undefined;
  readonly stdin: BunFileSink | number | undefined;
  kill(signal?: string): void;
  unref(): void;
}
interface BunServer {
  readonly hostname: string;
  readonly port: number;
  stop(closeActiveConnections?: boolean): Promise<void>;
  requestIP(request: Request): { address: string; port: number } | null;
  upgrade(request: Request, options: { data: BunWebSocket; headers?: Record<string, string> }): boolean;
}
/** Bun's server-side socket; `data` is the adapter it feeds. */
interface BunServerWebSocket {
  readonly data: BunWebSocket;
  binaryType?: "nodebuffer" | "arraybuffer" | "uint8array" | "blob";
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): number;
  close(code?: number, reason?: string): void;
  getBufferedAmount(): number;
}
interface BunWebSocketHandler {
  /** Close rather than silently drop a message once the send buffer is full. */
  closeOnBackpressureLimit: boolean;
  open(ws: BunServerWebSocket): void;
  message(ws: BunServerWebSocket, message: string | ArrayBuffer): void;
  close(ws: BunServerWebSocket, code: number, reason: string): void;
}
interface BunApi extends BunSocketApi {
  readonly main: string;
  readonly stdout: { writer(): { write(chunk: Uint8Array): number; flush(): number | Promise<number> } };
  spawn(options: {
    cmd: string[];
    env: Record<string, string | undefined>;
    cwd?: string;
    detached: boolean;
    stdin: "pipe" | "ignore";
    stdout: "pipe" | "inherit" | "ignore";
    stderr: "pipe" | "inherit" | "ignore";
  }): BunSubprocess;
  serve(options: {
    hostname: string;
    port: number;
    idleTimeout: number;
    maxRequestBodySize?: number;
    tls?: TlsCertificate;
    fetch(request: Request, server: BunServer): Response | undefined | Promise<Response | undefined>;
    error(error: Error): Response;
    websocket: BunWebSocketHandler;
  }): BunServer;
}

const bun = (globalThis as unknown as { Bun: BunApi }).Bun;

const OUTPUT = { pipe: "pipe", inherit: "inherit", null: "ignore" } as const;

let stdoutSink: ReturnType<BunApi["stdout"]["writer"]> | null = null;

/** Standard output through Bun's file sink: `flush` waits, asynchronously, until the pipe takes the bytes. */
async function writeStdout(bytes: Uint8Array): Promise<void> {
  stdoutSink ??= bun.stdout.writer();
  stdoutSink.write(bytes);
  await stdoutSink.flush();
}

function spawn(options: SpawnOptions): ChildProcess {
  const output = OUTPUT[options.output ?? "pipe"];
  let proc: BunSubprocess;
  try {
    proc = bun.spawn({
      cmd: options.argv,
      env: { ...process.env, ...options.env },
      cwd: options.cwd,
      detached: options.newProcessGroup ?? false,
      stdin: options.stdin === "pipe" ? "pipe" : "ignore",
      stdout: output,
      stderr: output,
    });
  } catch (error) {
    throw new Error(
      `cannot start ${JSON.stringify(options.argv[0])}: ${(error as Error).message}; ` +
        "check that the program exists and is executable",
      { cause: error },
    );
  }
  const exited: Promise<ExitStatus> = proc.exited.then(() => {
    const signal = proc.signalCode;
    if (signal === null) return { code: proc.exitCode ?? 0, signal: null };
    return { code: null, signal: String(signal) };
  });
  const sink = typeof proc.stdin === "object" ? proc.stdin : null;
  return {
    pid: proc.pid,
    exited,
    stdout: typeof proc.stdout === "object" ? proc.stdout : null,
    stderr: typeof proc.stderr === "object" ? proc.stderr : null,
    stdin: sink && {
      write(text: string) {
        quietly(() => {
          sink.write(text);
          void Promise.resolve(sink.flush()).catch(() => {});
        });
      },
      close() {
        quietly(() => void Promise.resolve(sink.end()).catch(() => {}));
      },
    },
    kill: (signal: Signal) => quietly(() => proc.kill(signal)),
    unref: () => proc.unref(),
  };
}

/** Close codes a server may send (RFC 6455 §7.4; 1004–1006 and 1015 are reserved). */
function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && (code < 1004 || code > 1006)) || (code >= 3000 && code <= 4999);
}

/**
 * The standard `WebSocket` API over Bun's callback-style server socket, so
 * that callers get the same object as from `Deno.upgradeWebSocket`. Bun's
 * `websocket` callbacks feed it through `ws.data`; events are held back
 * until the fetch handler has returned (`activate`), because Bun opens the
 * socket inside `server.upgrade()`, before the caller could listen.
 */
class BunWebSocket extends EventTarget implements WebSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readonly url: string;
  readonly protocol: string;
  readonly extensions = "";
  binaryType: BinaryType = "arraybuffer";
  #readyState: WebSocket["readyState"] = BunWebSocket.CONNECTING;
  #ws: BunServerWebSocket | null = null;
  /** Deliveries waiting for `activate()`; null once active. */
  #pending: (() => void)[] | null = [];
  #handlers = new Map<string, ((event: Event) => void) | null>();

  constructor(url: string, protocol: string) {
    super();
    this.url = url;
    this.protocol = protocol;
  }

  get readyState(): WebSocket["readyState"] {
    return this.#readyState;
  }

  get bufferedAmount(): number {
    return this.#ws?.getBufferedAmount() ?? 0;
  }

  get onopen(): WebSocket["onopen"] {
    return this.#handler("open") as WebSocket["onopen"];
  }
  set onopen(handler: WebSocket["onopen"]) {
    this.#setHandler("open", handler);
  }
  get onmessage(): WebSocket["onmessage"] {
    return this.#handler("message") as WebSocket["onmessage"];
  }
  set onmessage(handler: WebSocket["onmessage"]) {
    this.#setHandler("message", handler as ((event: Event) => void) | null);
  }
  get onclose(): WebSocket["onclose"] {
    return this.#handler("close") as WebSocket["onclose"];
  }
  set onclose(handler: WebSocket["onclose"]) {
    this.#setHandler("close", handler as ((event: Event) => void) | null);
  }
  get onerror(): WebSocket["onerror"] {
    return this.#handler("error") as WebSocket["onerror"];
  }
  set onerror(handler: WebSocket["onerror"]) {
    this.#setHandler("error", handler);
  }

  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    if (this.#readyState === BunWebSocket.CONNECTING) {
      throw new DOMException("WebSocket is not open yet: wait for its open event", "InvalidStateError");
    }
    // Like a browser, a socket that is closing or closed discards what it is given.
    if (this.#readyState === BunWebSocket.OPEN) this.#ws?.send(data);
  }

  close(code?: number, reason?: string): void {
    if (code !== undefined && !isSendableCloseCode(code)) {
      const message = `close code ${code} cannot be sent; use 1000, 1001–1003, 1007–1014 or 3000–4999`;
      throw new DOMException(message, "InvalidAccessError");
    }
    if (reason !== undefined && new TextEncoder().encode(reason).byteLength > 123) {
      throw new DOMException("close reason is longer than 123 bytes", "SyntaxError");
    }
    if (this.#readyState === BunWebSocket.CLOSING || this.#readyState === BunWebSocket.CLOSED) return;
    this.#readyState = BunWebSocket.CLOSING;
    this.#ws?.close(code, reason);
  }

  /** Bun opened the connection (called from `websocket.open`, inside `server.upgrade`). */
  opened(ws: BunServerWebSocket): void {
    ws.binaryType = "arraybuffer";
    this.#ws = ws;
    this.#deliver(() => {
      if (this.#readyState !== BunWebSocket.CONNECTING) return; // closed before the handler returned
      this.#readyState = BunWebSocket.OPEN;
      this.dispatchEvent(new Event("open"));
    });
  }

  /** A message arrived (`websocket.message`). */
  received(message: string | ArrayBuffer): void {
    this.#deliver(() => {
      if (this.#readyState !== BunWebSocket.OPEN) return;
      const data = typeof message === "string" || this.binaryType !== "blob" ? message : new Blob([message]);
      this.dispatchEvent(new MessageEvent("message", { data }));
    });
  }

  /** The connection ended (`websocket.close`). Dispatched a microtask later, as `close()` may be on the stack. */
  closed(code: number, reason: string): void {
    this.#ws = null;
    this.#deliver(() =>
      queueMicrotask(() => {
        if (this.#readyState === BunWebSocket.CLOSED) return;
        this.#readyState = BunWebSocket.CLOSED;
        if (code === 1006) this.dispatchEvent(new Event("error"));
        this.dispatchEvent(new CloseEvent("close", { code, reason, wasClean: code !== 1006 }));
      })
    );
  }

  /** The fetch handler has returned: deliver what was held back, then everything as it comes. */
  activate(): void {
    const pending = this.#pending ?? [];
    this.#pending = null;
    for (const delivery of pending) delivery();
  }

  #deliver(delivery: () => void): void {
    if (this.#pending) this.#pending.push(delivery);
    else delivery();
  }

  #handler(type: string): ((event: Event) => void) | null {
    return this.#handlers.get(type) ?? null;
  }

  /** Like an `on…` attribute: one listener, registered on first set, calling the current handler. */
  #setHandler(type: string, handler: ((event: Event) => void) | null): void {
    if (!this.#handlers.has(type)) {
      this.addEventListener(type, (event) => this.#handlers.get(type)?.call(this, event as Event));
    }
    this.#handlers.set(type, typeof handler === "function" ? handler : null);
  }
}

/** The client's offered subprotocols (`sec-websocket-protocol`, comma-separated). */
function offeredProtocols(request: Request): string[] {
  return (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim()).filter(Boolean);
}

/** Feeds Bun's socket callbacks into the {@link BunWebSocket} adapter held in `ws.data`. */
const websocketHandler: BunWebSocketHandler = {
  closeOnBackpressureLimit: true,
  open: (ws) => ws.data.opened(ws),
  message: (ws, message) => ws.data.received(message),
  close: (ws, code, reason) => ws.data.closed(code, reason),
};

/** `ServeInfo.upgradeWebSocket` on Bun: `server.upgrade` plus the adapter; `accepted` records the socket. */
function upgrader(
  request: Request,
  srv: BunServer,
  accepted: (socket: BunWebSocket) => void,
): (options?: WebSocketUpgradeOptions) => WebSocketUpgrade {
  return (options) => {
    const protocol = options?.protocol ?? "";
    if (protocol && !offeredProtocols(request).includes(protocol)) {
      throw new TypeError(`protocol ${JSON.stringify(protocol)} was not offered by the client`);
    }
    const socket = new BunWebSocket(request.url, protocol);
    const headers = protocol ? { "sec-websocket-protocol": protocol } : undefined;
    if (!srv.upgrade(request, { data: socket, headers })) {
      throw new TypeError("not a WebSocket upgrade request (or already upgraded)");
    }
    accepted(socket);
    // Bun ignores it (the handler returns nothing once upgraded); callers return it as on Deno.
    return { socket, response: new Response(null, { status: 101 }) };
  };
}

/**
 * `Bun.serve`, alone or (with `limits`) behind the connection guard: then
 * `Bun.serve` listens on a loopback port of its own and the guard's
 * `Bun.listen` takes the address asked for (and ends TLS, if any).
 */
function serve(options: ServeOptions): Promise<HttpServer> {
  const { limits } = options;
  const scheme = options.tls ? "https" : "http";
  let guard: ConnectionGuard | null = null;
  // Where clients connect, for requests that arrive without a Host (HTTP/1.0).
  let origin = "";
  let server: BunServer;
  try {
    server = bun.serve({
      hostname: limits ? "127.0.0.1" : options.hostname,
      port: limits ? 0 : options.port,
      // 0 disables the idle timeout: SSE streams may be quiet for minutes (the guard bounds idle connections).
      idleTimeout: 0,
      maxRequestBodySize: options.maxRequestBodySize,
      tls: limits ? undefined : options.tls,
      async fetch(received, srv) {
        // Bun gives an HTTP/1.0 request without Host a relative URL, which would lose its first path segment.
        const request = received.url.charCodeAt(0) === 47 ? absoluteUrl(received, origin) : received;
        // Set from inside the handler (`as`: not narrowed to null across the await).
        let upgraded = null as BunWebSocket | null;
        try {
          const response = await options.fetch(request, {
            // The client address is looked up only when something asks for it.
            get remoteAddress() {
              const peer = srv.requestIP(received);
              return guard ? guard.remoteAddress(peer?.port ?? 0) : peer?.address ?? "";
            },
            upgradeWebSocket: upgrader(received, srv, (socket) => (upgraded = socket)),
          });
          if (!upgraded) return response;
        } catch (error) {
          if (!upgraded) throw error;
          upgraded.close(1011, "internal error");
        }
        // Once upgraded, Bun wants no response; the socket may now deliver its events.
        upgraded.activate();
        return undefined;
      },
      error: (error) => new Response(`internal error: ${error.message}`, { status: 500 }),
      websocket: websocketHandler,
    });
  } catch (error) {
    return Promise.reject(listenError(options.hostname, options.port, error));
  }
  if (!limits) {
    origin = `${scheme}://${formatHost(server.hostname)}:${server.port}`;
    return Promise.resolve({
      hostname: server.hostname,
      port: server.port,
      stop: (force?: boolean) => server.stop(force ?? false),
    });
  }
  const transport = servedInGuard(bunTransport(bun, server.port), { fetch: options.fetch, scheme, maxRequestBodySize: options.maxRequestBodySize });
  const bounded = new ConnectionGuard(limits, transport, { warn: options.onWarning, fdLimit: openFileLimit() });
  let listener: ReturnType<typeof listenGuarded>;
  try {
    listener = listenGuarded(bun, options.hostname, options.port, bounded, options.tls);
  } catch (error) {
    bounded.close();
    void server.stop(true);
    return Promise.reject(listenError(options.hostname, options.port, error));
  }
  guard = bounded;
  origin = `${scheme}://${formatHost(listener.hostname)}:${listener.port}`;
  return Promise.resolve({
    hostname: listener.hostname,
    port: listener.port,
    stop(force?: boolean) {
      listener.stop(false);
      if (force) bounded.close();
      else bounded.drain();
      return server.stop(force ?? false);
    },
  });
}

/** The slice of `bun:sqlite` used here. */
interface BunSqlite {
  Database: new (path: string, options: { create: boolean }) => {
    exec(sql: string): void;
    prepare(sql: string): {
      run(...params: SqlValue[]): { changes: number };
      all(...params: SqlValue[]): SqlRow[];
      get(...params: SqlValue[]): SqlRow | null;
    };
    close(): void;
  };
}

/** A variable, not a literal, so that Deno and the esbuild bundle never try to resolve Bun's module. */
const BUN_SQLITE = "bun:sqlite";

/** {@link Runtime.openDatabase} with `bun:sqlite`. */
async function openDatabase(path: string): Promise<Database> {
  const { Database } = (await import(BUN_SQLITE)) as BunSqlite;
  const db = new Database(path, { create: true });
  return {
    exec: (sql) => db.exec(sql),
    prepare(sql) {
      const statement = db.prepare(sql);
      return {
        run: (...params) => ({ changes: statement.run(...params).changes }),
        all: (...params) => statement.all(...params),
        get: (...params) => statement.get(...params) ?? undefined,
      };
    },
    close: () => db.close(),
  };
}

function isBunCompiled(): boolean {
  const name = process.execPath.split("/").pop() ?? "";
  return bun.main.startsWith("/$bunfs/") || !/^bun(\.exe)?$/.test(name);
}

/** The runtime for a process running on Bun (script or `bun build --compile` binary). */
export const bunRuntime: Runtime = {
  name: "bun",
  pid: process.pid,
  args: process.argv.slice(2),
  selfArgv: isBunCompiled() ? [process.execPath] : [process.execPath, bun.main],
  spawn,
  writeStdout,
  killGroup: (pgid, signal) => quietly(() => process.kill(-pgid, signal)),
  isAlive: isProcessAlive,
  serve,
  onSignal(signal, handler) {
    process.on(signal, handler);
    return () => void process.off(signal, handler);
  },
  env: (name) => process.env[name],
  envAll: () =>
    Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >,
  exit: (code) => process.exit(code),
  readTextFile: (path) => readFile(path, "utf8"),
  writeTextFile: (path, text) => writeFile(path, text),
  appendTextFile: (path, text) => appendFile(path, text),
  rename: (from, to) => rename(from, to),
  async remove(path) {
    try {
      await rm(path);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "ENOENT") return;
      if (code === "EISDIR" || code === "ERR_FS_EISDIR") await rmdir(path); // like Deno.remove: empty directories too
      else throw error;
    }
  },
  mkdir: async (path) => void (await mkdir(path, { recursive: true })),
  async stat(path) {
    try {
      const info = await stat(path);
      return { size: info.size, mtimeMs: info.mtimeMs };
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return null;
      throw error;
    }
  },
  readDir: (path) => readdir(path),
  openDatabase,
};
