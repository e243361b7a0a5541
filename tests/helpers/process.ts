/**
 * Generic helpers for tests that start real processes and servers: the
 * runtime under test, free ports, condition polling, program output, and
 * running a TypeScript file as its own program on the current runtime.
 */
import { detectRuntime } from "../../src/runtime/detect.ts";
import type { ChildProcess, Runtime } from "../../src/runtime/runtime.ts";

/** The runtime the tests run on. */
export const runtime: Runtime = await detectRuntime();

/** Absolute path of a file given relative to the `tests/` directory. */
export function testsPath(relative: string): string {
  return decodeURIComponent(new URL(`../${relative}`, import.meta.url).pathname);
}

/** argv that runs a TypeScript file as a program on the runtime running the tests. */
export function scriptArgv(script: string): string[] {
  const exe = runtime.selfArgv[0];
  return runtime.name === "deno" ? [exe, "run", "-A", script] : [exe, script];
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = await runtime.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const port = server.port;
  await server.stop(true);
  return port;
}

/** `T` without its falsy members. */
type Truthy<T> = Exclude<T, false | null | undefined | 0 | "">;

/**
 * Poll `check` until it returns a truthy value and return that value; for
 * conditions no event announces (a pid disappearing). Fails after `timeoutMs`.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 5000, intervalMs = 20, what = "condition" } = {},
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Truthy<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** True when the pid exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  return runtime.isAlive(pid);
}

/** Accumulates a stream's text and lets a test await the first match of a pattern in it. */
export class Output {
  /** Everything read so far. */
  text = "";
  /** True once the stream has ended. */
  ended = false;
  /** Resolves when the stream has ended. */
  readonly done: Promise<void>;
  #waiters = new Set<() => void>();

  constructor(stream: ReadableStream<Uint8Array> | null) {
    this.done = this.#consume(stream);
  }

  async #consume(stream: ReadableStream<Uint8Array> | null): Promise<void> {
    if (stream) {
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        this.text += decoder.decode(chunk, { stream: true });
        this.#notify();
      }
    }
    this.ended = true;
    this.#notify();
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Resolve with the first match of `pattern`; reject if the stream ends or `timeoutMs` passes first. */
  match(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`no ${pattern} in output within ${timeoutMs} ms:\n${this.text}`)),
        timeoutMs,
      );
      const finish = (error: Error | null, match?: RegExpMatchArray) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (error) reject(error);
        else resolve(match!);
      };
      const check = () => {
        const match = this.text.match(pattern);
        if (match) finish(null, match);
        else if (this.ended) finish(new Error(`output ended without ${pattern}:\n${this.text}`));
      };
      this.#waiters.add(check);
      check();
    });
  }
}

/** A process started by a test, with its output captured. */
export interface TestProcess {
  proc: ChildProcess;
  stdout: Output;
  stderr: Output;
  /** SIGKILL its whole group and wait until it is reaped. Safe to call twice. */
  kill(): Promise<void>;
}

/** Start a program in its own process group with captured output. */
export function startProcess(argv: string[], env?: Record<string, string>): TestProcess {
  const proc = runtime.spawn({ argv, env, newProcessGroup: true, output: "pipe" });
  return {
    proc,
    stdout: new Output(proc.stdout),
    stderr: new Output(proc.stderr),
    async kill() {
      runtime.killGroup(proc.pid, "SIGKILL");
      await proc.exited;
    },
  };
}

/** A running demo upstream. */
export interface Demo extends TestProcess {
  port: number;
  url: string;
}

/**
 * Start the demo upstream (via tests/helpers/demo-entry.ts) with `args`
 * plus a free `--port`, and wait until it announces itself.
 */
export async function startDemo(args: string[] = []): Promise<Demo> {
  const port = await freePort();
  const started = startProcess([...scriptArgv(testsPath("helpers/demo-entry.ts")), "--port", String(port), ...args]);
  try {
    await started.stdout.match(/demo-upstream pid=\d+ port=\d+/);
  } catch (error) {
    await started.kill();
    throw new Error(`${(error as Error).message}\nstderr:\n${started.stderr.text}`);
  }
  return { ...started, port, url: `http://127.0.0.1:${port}` };
}
