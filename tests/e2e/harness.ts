/**
 * Starts the real router (`src/main.ts`) as a child process on the same
 * runtime as the test, with a config written to a temp file, and reads the
 * address it prints. Every router started here is killed by `stop()`.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess, ExitStatus } from "../../src/runtime/runtime.ts";
import { runtime, scriptArgv, waitFor } from "../helpers/process.ts";

export { runtime };

const MAIN = join(new URL("../../", import.meta.url).pathname, "src/main.ts");

/** The argv prefix that runs `src/main.ts` on this test's runtime. */
export function routerArgv(): string[] {
  return scriptArgv(MAIN);
}

/** A router process under test. */
export interface RouterProcess {
  url: string;
  /** The config file it was started with (tests rewrite it to exercise reloads). */
  configPath: string;
  proc: ChildProcess;
  /** Everything the router printed so far (stdout and stderr). */
  output(): string;
  /** Resolves when `pattern` appears in the output (or rejects after `timeoutMs`). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM and wait for exit (SIGKILL after 15 s). */
  stop(): Promise<ExitStatus>;
}

/** Write a config file into a fresh temp dir and return its path. */
export function writeConfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "modelswap-test-"));
  const path = join(dir, "config.yaml");
  writeFileSync(path, yaml);
  return path;
}

/** The `cmd:` for a demo upstream model in a test config. */
export function demoCmd(extra = ""): string {
  return `\${SELF} demo-upstream --port \${PORT} ${extra}`.trim();
}

/**
 * Start a router on a free port with this config text. `program` replaces
 * the argv that runs it (default: `src/main.ts` on this runtime), e.g. the
 * compiled binary.
 */
export async function startRouter(
  yaml: string,
  extraArgs: string[] = [],
  env: Record<string, string> = {},
  program: string[] = routerArgv(),
): Promise<RouterProcess> {
  // A random port range per router keeps suites that run at the same time from meeting on 5800.
  const ports = /^startPort:/m.test(yaml) ? "" : `startPort: ${20000 + Math.floor(Math.random() * 400) * 100}\n`;
  const configPath = writeConfig(ports + yaml);
  const proc = runtime.spawn({
    argv: [...program, "--config", configPath, "--listen", "127.0.0.1:0", ...extraArgs],
    env,
    output: "pipe",
  });
  let text = "";
  const waiters = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array> | null) => {
    if (!stream) return;
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      for (const wake of waiters) wake();
    }
  };
  void pump(proc.stdout);
  void pump(proc.stderr);
  let exited: ExitStatus | null = null;
  void proc.exited.then((status) => {
    exited = status;
    for (const wake of waiters) wake();
  });

  const waitForOutput = (pattern: RegExp, timeoutMs = 20_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${pattern} in router output:\n${text}`));
      }, timeoutMs);
      function check() {
        const match = text.match(pattern);
        if (match) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(match);
        } else if (exited) {
          clearTimeout(timer);
          waiters.delete(check);
          reject(new Error(`router exited (${JSON.stringify(exited)}) before printing ${pattern}:\n${text}`));
        }
      }
      waiters.add(check);
      check();
    });

  const stop = async () => {
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
    const status = await proc.exited;
    clearTimeout(timer);
    return status;
  };

  try {
    const match = await waitForOutput(/listening on (https?:\/\/[\d.:]+)/);
    return { url: match[1], configPath, proc, output: () => text, waitForOutput, stop };
  } catch (error) {
    proc.kill("SIGKILL");
    throw error;
  }
}

/** Poll `fn` until it returns a truthy value (for state only observable by polling, e.g. /proc). */
export function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 10_000, what = "condition") {
  return waitFor(fn, { timeoutMs, what });
}

/** POST JSON and return the response. */
export function postJson(url: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(url, {
    method: "POST",
    ...init,
    headers: { "content-type": "application/json", ...(init.headers ?? {}) },
    body: JSON.stringify(body),
  });
}

/** A chat request body. */
export function chat(model: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model, messages: [{ role: "user", content: "hi" }], ...extra };
}
