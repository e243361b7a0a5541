/**
 * The {@link Runtime} on Deno: `Deno.Command` for processes, `Deno.serve`
 * for HTTP. Only `detect.ts` imports this file, and only when running on Deno.
 */
import { fileURLToPath } from "node:url";
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
  WebSocketUpgrade,
  WebSocketUpgradeOptions,
} from "./runtime.ts";
import { ConnectionGuard } from "./connection-guard.ts";
import { servedInGuard } from "./guard-server.ts";
import { type DenoSocketApi, denoTransport, type GuardedListener, listenGuarded } from "./deno-listener.ts";
import { openFileLimit } from "./fd-budget.ts";
import { isProcessAlive } from "./procfs.ts";
import { listenError, quietly } from "./shared.ts";

// The slice of Deno's API used here, typed locally so that the Bun-typed
// TypeScript check (tsconfig.json) accepts this file too.
type Stdio = "piped" | "inherit" | "null";
interface DenoChild {
  readonly pid: number;
  readonly status: Promise<{ code: number; signal: string | null }>;
  readonly stdin: WritableStream<Uint8Array>;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  kill(signal?: string): void;
  unref(): void;
}
interface DenoServer {
  readonly addr: { hostname: string; port: number };
  shutdown(): Promise<void>;
}
interface DenoApi extends DenoSocketApi {
  readonly args: string[];
  readonly stdout: { write(bytes: Uint8Array): Promise<number> };
  readonly pid: number;
  readonly mainModule: string;
  readonly build: { standalone?: boolean };
  readonly env: { get(name: string): string | undefined; toObject(): Record<string, string> };
  execPath(): string;
  exit(code: number): never;
  kill(pid: number, signal: string): void;
  Command: new (
    program: string,
    options: {
      args: string[];
      env?: Record<string, string>;
      cwd?: string;
      detached: boolean;
      stdin: Stdio;
      stdout: Stdio;
      stderr: Stdio;
    },
  ) => { spawn(): DenoChild };
  serve(
    options: {
      hostname: string;
      port: number;
      cert?: string;
      key?: string;
      onListen(): void;
      onError(error: unknown): Response;
    },
    handler: (
      request: Request,
      info: { remoteAddr: { hostname?: string; port?: number } },
    ) => Response | Promise<Response>,
  ): DenoServer;
  upgradeWebSocket(request: Request, options: { protocol?: string }): WebSocketUpgrade;
  addSignalListener(signal: string, handler: () => void): void;
  removeSignalListener(signal: string, handler: () => void): void;
  readTextFile(path: string): Promise<string>;
  writeTextFile(path: string, text: string, options?: { append?: boolean }): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
  mkdir(path: string, options: { recursive: boolean }): Promise<void>;
  stat(path: string): Promise<{ size: number; mtime: Date | null }>;
  readDir(path: string): AsyncIterable<{ name: string }>;
  errors: { NotFound: new () => Error };
}

const deno = (globalThis as unknown as { Deno: DenoApi }).Deno;

const OUTPUT = { pipe: "piped", inherit: "inherit", null: "null" } as const;

function spawn(options: SpawnOptions): ChildProcess {
  const output = OUTPUT[options.output ?? "pipe"];
  const stdinPiped = options.stdin === "pipe";
  let child: DenoChild;
  try {
    child = new deno.Command(options.argv[0], {
      args: options.argv.slice(1),
      env: options.env,
      cwd: options.cwd,
      detached: options.newProcessGroup ?? false,
      stdin: stdinPiped ? "piped" : "null",
      stdout: output,
      stderr: output,
    }).spawn();
  } catch (error) {
    throw new Error(
      `cannot start ${JSON.stringify(options.argv[0])}: ${(error as Error).message}; ` +
        "check that the program exists and is executable",
      { cause: error },
    );
  }
  const exited: Promise<ExitStatus> = child.status.then((status) =>
    status.signal === null ? { code: status.code, signal: null } : { code: null, signal: status.signal }
  );
  const writer = stdinPiped ? child.stdin.getWriter() : null;
  const encoder = new TextEncoder();
  return {
    pid: child.pid,
    exited,
    stdout: output === "piped" ? child.stdout : null,
    stderr: output === "piped" ? child.stderr : null,
    stdin: writer && {
      write: (text: string) => void writer.write(encoder.encode(text)).catch(() => {}),
      close: () => void writer.close().catch(() => {}),
    },
    kill: (signal: Signal) => quietly(() => child.kill(signal)),
    unref: () => child.unref(),
  };
}

/**
 * Relays a response body so that the server knows when it has been fully
 * handed over (`onDone`), and so that a forced stop can end it: Deno's
 * `shutdown()` waits for every open response, and an SSE stream may never end.
 */
function relayBody(
  body: ReadableStream<Uint8Array>,
  open: Set<() => void>,
  onDone: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let end = () => {};
  return new ReadableStream<Uint8Array>({
    start(controller) {
      end = () => {
        open.delete(end);
        quietly(() => controller.close());
        reader.cancel().catch(() => {});
      };
      open.add(end);
    },
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          open.delete(end);
          onDone();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        open.delete(end);
        quietly(() => controller.error(error));
      }
    },
    cancel(reason) {
      open.delete(end);
      return reader.cancel(reason);
    },
  });
}

/**
 * `Deno.serve`, alone or (with `limits`) behind the connection guard: then
 * `Deno.serve` listens on a loopback port of its own and the guard's
 * `Deno.listen` takes the address asked for (and, for HTTPS, deno-tls.ts
 * ends TLS on each connection).
 */
function serve(options: ServeOptions): Promise<HttpServer> {
  const { limits } = options;
  const open = new Set<() => void>();
  let guard: ConnectionGuard | null = null;
  let server: DenoServer;
  try {
    server = deno.serve(
      {
        hostname: limits ? "127.0.0.1" : options.hostname,
        port: limits ? 0 : options.port,
        ...(limits ? {} : options.tls),
        onListen: () => {},
        onError: (error) => new Response(`internal error: ${(error as Error).message}`, { status: 500 }),
      },
      async (request, info) => {
        const length = Number(request.headers.get("content-length") ?? 0);
        if (options.maxRequestBodySize !== undefined && length > options.maxRequestBodySize) {
          return new Response("request body too large", { status: 413 });
        }
        // Deno's legacy mode also aborts `request.signal` after a successful
        // response; the handler gets a signal that aborts only when the client
        // leaves before its response has been handed over, as on Bun.
        const clientGone = new AbortController();
        let delivered = false;
        request.signal.addEventListener("abort", () => delivered || clientGone.abort(), { once: true });
        const ours = new Request(request, { signal: clientGone.signal });
        let upgraded = false;
        const response = await options.fetch(ours, {
          remoteAddress: guard ? guard.remoteAddress(info.remoteAddr.port ?? 0) : info.remoteAddr.hostname ?? "",
          // Deno upgrades only the request it handed us, not our copy of it.
          upgradeWebSocket(upgrade?: WebSocketUpgradeOptions) {
            const accepted = deno.upgradeWebSocket(request, upgrade?.protocol ? { protocol: upgrade.protocol } : {});
            upgraded = true;
            return accepted;
          },
        });
        // A 101 hands the connection to the socket: no body to relay, and
        // `shutdown()` closes open WebSockets itself.
        if (upgraded || response.status === 101 || !response.body) {
          delivered = true;
          return response;
        }
        return new Response(relayBody(response.body, open, () => (delivered = true)), response);
      },
    );
  } catch (error) {
    return Promise.reject(listenError(options.hostname, options.port, error));
  }
  const stopServer = async (force?: boolean) => {
    const done = server.shutdown();
    if (force) { for (const end of [...open]) end(); }
    await done;
  };
  if (!limits) return Promise.resolve({ hostname: server.addr.hostname, port: server.addr.port, stop: stopServer });
  const transport = servedInGuard(denoTransport(deno, server.addr.port), {
    fetch: options.fetch,
    scheme: options.tls ? "https" : "http",
    maxRequestBodySize: options.maxRequestBodySize,
  });
  const bounded = new ConnectionGuard(limits, transport, { warn: options.onWarning, fdLimit: openFileLimit() });
  let listener: GuardedListener;
  try {
    listener = listenGuarded(deno, options.hostname, options.port, bounded, options.tls);
  } catch (error) {
    bounded.close();
    void stopServer(true);
    return Promise.reject(listenError(options.hostname, options.port, error));
  }
  guard = bounded;
  return Promise.resolve({
    hostname: listener.hostname,
    port: listener.port,
    stop(force?: boolean) {
      listener.close();
      if (force) bounded.close();
      else bounded.drain();
      return stopServer(force);
    },
  });
}

/** The slice of `node:sqlite` used here. */
interface NodeSqlite {
  DatabaseSync: new (path: string) => {
    exec(sql: string): void;
    prepare(sql: string): {
      run(...params: SqlValue[]): { changes: number | bigint };
      all(...params: SqlValue[]): SqlRow[];
      get(...params: SqlValue[]): SqlRow | undefined;
    };
    close(): void;
  };
}

/** A variable, not a literal: the module is loaded only when a database is opened, and only on Deno. */
const NODE_SQLITE = "node:sqlite";

/** {@link Runtime.openDatabase} with `node:sqlite`. */
async function openDatabase(path: string): Promise<Database> {
  const { DatabaseSync } = (await import(NODE_SQLITE)) as NodeSqlite;
  const db = new DatabaseSync(path);
  return {
    exec: (sql) => db.exec(sql),
    prepare(sql) {
      const statement = db.prepare(sql);
      return {
        run: (...params) => ({ changes: Number(statement.run(...params).changes) }),
        all: (...params) => statement.all(...params),
        get: (...params) => statement.get(...params),
      };
    },
    close: () => db.close(),
  };
}

function selfArgv(): string[] {
  if (deno.build.standalone) return [deno.execPath()];
  const main = deno.mainModule.startsWith("file:") ? fileURLToPath(deno.mainModule) : deno.mainModule;
  return [deno.execPath(), "run", "-A", main];
}

/** The runtime for a process running on Deno (script or `deno compile` binary). */
export const denoRuntime: Runtime = {
  name: "deno",
  pid: deno.pid,
  args: deno.args,
  selfArgv: selfArgv(),
  spawn,
  async writeStdout(bytes) {
    for (let written = 0; written < bytes.length;) written += await deno.stdout.write(bytes.subarray(written));
  },
  killGroup: (pgid, signal) => quietly(() => deno.kill(-pgid, signal)),
  isAlive: isProcessAlive,
  serve,
  onSignal(signal, handler) {
    deno.addSignalListener(signal, handler);
    return () => quietly(() => deno.removeSignalListener(signal, handler));
  },
  env: (name) => deno.env.get(name),
  envAll: () => deno.env.toObject(),
  exit: (code) => deno.exit(code),
  readTextFile: (path) => deno.readTextFile(path),
  writeTextFile: (path, text) => deno.writeTextFile(path, text),
  appendTextFile: (path, text) => deno.writeTextFile(path, text, { append: true }),
  rename: (from, to) => deno.rename(from, to),
  async remove(path) {
    try {
      await deno.remove(path);
    } catch (error) {
      if (!(error instanceof deno.errors.NotFound)) throw error;
    }
  },
  mkdir: (path) => deno.mkdir(path, { recursive: true }),
  async stat(path) {
    try {
      const info = await deno.stat(path);
      return { size: info.size, mtimeMs: info.mtime?.getTime() ?? 0 };
    } catch (error) {
      if (error instanceof deno.errors.NotFound) return null;
      throw error;
    }
  },
  async readDir(path) {
    const names: string[] = [];
    for await (const entry of deno.readDir(path)) names.push(entry.name);
    return names;
  },
  openDatabase,
};
