/**
 * The {@link Runtime} on Bun: `Bun.spawn` for processes, `Bun.serve` for
 * HTTP. Only `detect.ts` imports this file, and only when running on Bun.
 */
import { appendFile, mkdir, readdir, readFile, rename, rm, rmdir, stat, writeFile } from "node:fs/promises";
import process from "node:process";
import type { ChildProcess, ExitStatus, HttpServer, Runtime, ServeOptions, Signal, SpawnOptions } from "./runtime.ts";
import { isProcessAlive } from "./procfs.ts";
import { listenError, quietly } from "./shared.ts";

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
  requestIP(request: Request): { address: string } | null;
}
interface BunApi {
  readonly main: string;
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
    fetch(request: Request, server: BunServer): Response | Promise<Response>;
    error(error: Error): Response;
  }): BunServer;
}

const bun = (globalThis as unknown as { Bun: BunApi }).Bun;

const OUTPUT = { pipe: "pipe", inherit: "inherit", null: "ignore" } as const;

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

function serve(options: ServeOptions): Promise<HttpServer> {
  let server: BunServer;
  try {
    server = bun.serve({
      hostname: options.hostname,
      port: options.port,
      // 0 disables the idle timeout: SSE streams may be quiet for minutes.
      idleTimeout: 0,
      maxRequestBodySize: options.maxRequestBodySize,
      // The client address is looked up only when something asks for it.
      fetch: (request, srv) =>
        options.fetch(request, {
          get remoteAddress() {
            return srv.requestIP(request)?.address ?? "";
          },
        }),
      error: (error) => new Response(`internal error: ${error.message}`, { status: 500 }),
    });
  } catch (error) {
    return Promise.reject(listenError(options.hostname, options.port, error));
  }
  return Promise.resolve({
    hostname: server.hostname,
    port: server.port,
    stop: (force?: boolean) => server.stop(force ?? false),
  });
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
};
