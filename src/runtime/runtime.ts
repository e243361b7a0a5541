/**
 * The one seam between modelswap and its JavaScript runtime. Everything
 * outside `src/runtime/` is web-platform code that talks to the OS only
 * through this interface, so the same sources run on Bun and on Deno.
 */

/** How a child process ended: exactly one of `code` / `signal` is set. */
export interface ExitStatus {
  code: number | null;
  signal: string | null;
}

/** Options for {@link Runtime.spawn}. */
export interface SpawnOptions {
  /** Program and arguments; executed directly, never through a shell. */
  argv: string[];
  /** Variables added to (and overriding) the router's own environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** Put the child in a new process group (its pgid equals its pid). */
  newProcessGroup?: boolean;
  /** "pipe": `ChildProcess.stdin` is writable; "null": /dev/null. Default "null". */
  stdin?: "pipe" | "null";
  /** "pipe": read via `stdout`/`stderr` streams; "inherit"; "null". Default "pipe". */
  output?: "pipe" | "inherit" | "null";
}

/** A spawned OS process. */
export interface ChildProcess {
  readonly pid: number;
  /** Resolves once the process has exited and been reaped. */
  readonly exited: Promise<ExitStatus>;
  readonly stdout: ReadableStream<Uint8Array> | null;
  readonly stderr: ReadableStream<Uint8Array> | null;
  /** Present when spawned with `stdin: "pipe"`. */
  readonly stdin: { write(text: string): void; close(): void } | null;
  /** Send a signal to the process itself. Never throws (a gone process is ignored). */
  kill(signal: Signal): void;
  /** Let the router exit even while this child runs (the child is not awaited). */
  unref(): void;
}

export type Signal = "SIGTERM" | "SIGKILL" | "SIGINT" | "SIGHUP";

/** Options for {@link ServeInfo.upgradeWebSocket}. */
export interface WebSocketUpgradeOptions {
  /**
   * The subprotocol to agree to; it must be one the client offered in
   * `sec-websocket-protocol`. Omitted: the handshake names none.
   */
  protocol?: string;
}

/** A WebSocket upgrade accepted by {@link ServeInfo.upgradeWebSocket}. */
export interface WebSocketUpgrade {
  /**
   * The server side of the connection, with the standard `WebSocket` API
   * (`binaryType` starts as "arraybuffer"). It is CONNECTING until the
   * handler has returned `response`; wait for its `open` event before sending.
   */
  socket: WebSocket;
  /** What the fetch handler must return for the upgrade to complete. */
  response: Response;
}

/** What the HTTP server hands the fetch handler besides the request. */
export interface ServeInfo {
  remoteAddress: string;
  /**
   * Accept the current request as a WebSocket connection, so that code
   * outside `src/runtime/` can serve WebSockets the same way on every
   * runtime. Call it at most once, before the handler returns. Throws a
   * TypeError when the request is not a WebSocket upgrade or `protocol`
   * was not offered.
   */
  upgradeWebSocket(options?: WebSocketUpgradeOptions): WebSocketUpgrade;
}

/** A listening HTTP server. */
export interface HttpServer {
  readonly hostname: string;
  readonly port: number;
  /** Stop listening; with `force`, also close open connections. */
  stop(force?: boolean): Promise<void>;
}

/**
 * Bounds on client connections (the config's `server:` block). Neither
 * runtime's HTTP server enforces them all, so a server given them accepts
 * connections itself, in front of the runtime's server, and enforces every
 * bound the same way on both runtimes. Timeouts never cut a response that
 * is being produced, however quiet it is (SSE, a model still loading).
 */
export interface ConnectionLimits {
  /** Seconds from a connection's start, or from a later request's first byte, to the end of its head; 0 = none. */
  headerTimeout: number;
  /** Seconds a connection may wait for its next request after a response; 0 = none. */
  idleTimeout: number;
  /** Seconds a request body may go without a byte while the server waits for more; 0 = none. */
  bodyTimeout: number;
  /** Client connections open at once (fewer when the open-file limit leaves no room); more get a 503. */
  maxConnections: number;
}

/** A certificate and its private key, as PEM text, for serving HTTPS. */
export interface TlsCertificate {
  /** The certificate, followed by any intermediate certificates it needs. */
  cert: string;
  /** The certificate's private key (unencrypted). */
  key: string;
}

/** Options for {@link Runtime.serve}. */
export interface ServeOptions {
  hostname: string;
  /** 0 picks a free port (read it back from `HttpServer.port`). */
  port: number;
  fetch: (request: Request, info: ServeInfo) => Response | Promise<Response>;
  /** Largest request body accepted by the server layer, in bytes. */
  maxRequestBodySize?: number;
  /** Bound client connections; absent: the runtime's server alone, as for internal listeners. */
  limits?: ConnectionLimits;
  /** Where a bounded server reports what it refused or survived (at most one line per kind every few seconds). */
  onWarning?: (message: string) => void;
  /**
   * Serve HTTPS (HTTP/1.1) with this certificate. A bounded server ends TLS
   * where it accepts connections, so every bound applies to HTTPS clients
   * too, handshake included; its hop to the runtime's server stays plain.
   */
  tls?: TlsCertificate;
}

/** A value SQLite stores or returns (INTEGER, REAL, TEXT, BLOB, NULL). */
export type SqlValue = string | number | bigint | Uint8Array | null;

/** One row of a query, by column name. */
export type SqlRow = Record<string, SqlValue>;

/** A prepared statement; `?` placeholders take the values in order. */
export interface SqlStatement {
  /** Run it for its effect. */
  run(...params: SqlValue[]): { changes: number };
  /** Every row it returns. */
  all(...params: SqlValue[]): SqlRow[];
  /** Its first row, or undefined. */
  get(...params: SqlValue[]): SqlRow | undefined;
}

/**
 * A SQLite database opened with the runtime's built-in driver (`bun:sqlite`
 * on Bun, `node:sqlite` on Deno). Calls are synchronous: callers keep them
 * short and off the request path. Errors carry SQLite's message (e.g.
 * "database is locked", "file is not a database").
 */
export interface Database {
  /** Run one or more statements that return nothing. */
  exec(sql: string): void;
  prepare(sql: string): SqlStatement;
  close(): void;
}

/** The runtime abstraction: process spawning, HTTP serving, signals, files. */
export interface Runtime {
  readonly name: "bun" | "deno";
  /** The router's own pid. */
  readonly pid: number;
  /** Command-line arguments after the program (and script) name. */
  readonly args: string[];
  /**
   * The argv prefix that runs this same program again: the compiled binary
   * alone, or the runtime plus its flags plus the entry script.
   */
  readonly selfArgv: string[];
  spawn(options: SpawnOptions): ChildProcess;
  /** Send a signal to a whole process group. Never throws. */
  killGroup(pgid: number, signal: Signal): void;
  /** True when a process with this pid exists (zombies count as gone). */
  isAlive(pid: number): boolean;
  serve(options: ServeOptions): Promise<HttpServer>;
  /** Subscribe to an OS signal; returns an unsubscribe function. */
  onSignal(signal: "SIGINT" | "SIGTERM" | "SIGHUP", handler: () => void): () => void;
  env(name: string): string | undefined;
  envAll(): Record<string, string>;
  exit(code: number): never;
  /**
   * Write to standard output without blocking the event loop: resolves once
   * the bytes are handed to the OS, so a reader that stops reading shows up
   * as a write that takes long (the caller bounds what it queues meanwhile).
   */
  writeStdout(bytes: Uint8Array): Promise<void>;
  readTextFile(path: string): Promise<string>;
  writeTextFile(path: string, text: string): Promise<void>;
  appendTextFile(path: string, text: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
  mkdir(path: string): Promise<void>;
  /** Size and modification time in ms, or null when the file does not exist. */
  stat(path: string): Promise<{ size: number; mtimeMs: number } | null>;
  readDir(path: string): Promise<string[]>;
  /** Open (creating it when missing) the SQLite database file at `path`. */
  openDatabase(path: string): Promise<Database>;
}
