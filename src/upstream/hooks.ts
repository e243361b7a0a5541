/**
 * Lifecycle hooks (`hooks.before_unload`, `hooks.after_load`): a command
 * run beside the model (its macros, `${MODEL_ID}` and `${PORT}` already
 * expanded) or an HTTP request to the model's own server. Each is bounded by
 * a timeout, writes what it prints into the model's log, and reports a
 * failure instead of throwing: a hook never blocks or fails a swap.
 */
import type { LogBuffer } from "../logging/buffer.ts";
import type { Runtime } from "../runtime/runtime.ts";
import { pipeLines } from "./lines.ts";

/** One hook as the config gives it (after macro expansion). */
export type HookSpec =
  | { kind: "command"; argv: string[] }
  | { kind: "http"; method: string; path: string; body: string | null };

/** Where a hook runs and how long it may take. */
export interface HookContext {
  runtime: Runtime;
  /** The model's server, for HTTP hooks. */
  baseUrl: string;
  /** The model's `env`, for commands. */
  env: Record<string, string>;
  /** The model's log: a hook's output and outcome go there. */
  log: LogBuffer;
  timeoutMs: number;
}

/** How a hook went: null when it succeeded, else why not. */
export type HookOutcome = { ms: number; error: string | null };

/** Describe a hook in one line, for logs. */
export function describeHook(hook: HookSpec): string {
  return hook.kind === "command" ? hook.argv.join(" ") : `${hook.method} ${hook.path}`;
}

/** Run one hook within its timeout. */
export async function runHook(name: string, hook: HookSpec, context: HookContext): Promise<HookOutcome> {
  const started = Date.now();
  const signal = AbortSignal.timeout(context.timeoutMs);
  let error: string | null;
  try {
    error = hook.kind === "command" ? await runCommand(hook.argv, context, signal) : await sendRequest(hook, context, signal);
  } catch (cause) {
    error = signal.aborted ? `did not finish within ${context.timeoutMs / 1000}s` : cause instanceof Error ? cause.message : String(cause);
  }
  const ms = Date.now() - started;
  context.log.write(`[modelswap] hook ${name} (${describeHook(hook)}) ${error === null ? `done in ${ms} ms` : `failed: ${error}`}\n`);
  return { ms, error };
}

/** Run the command in its own process group; killed with its group when the timeout passes. */
async function runCommand(argv: string[], context: HookContext, signal: AbortSignal): Promise<string | null> {
  const child = context.runtime.spawn({ argv, env: context.env, newProcessGroup: true, output: "pipe" });
  const kill = () => context.runtime.killGroup(child.pid, "SIGKILL");
  signal.addEventListener("abort", kill, { once: true });
  const output = [child.stdout, child.stderr].map((stream) => stream && pipeLines(stream, (line) => context.log.write(line)));
  const status = await child.exited;
  signal.removeEventListener("abort", kill);
  await Promise.all(output);
  if (signal.aborted) throw new Error("timed out");
  if (status.code === 0) return null;
  return status.signal ? `killed by signal ${status.signal}` : `exited with code ${status.code}`;
}

/** Send the request to the model's own server; any status but 2xx is a failure. */
async function sendRequest(hook: Extract<HookSpec, { kind: "http" }>, context: HookContext, signal: AbortSignal): Promise<string | null> {
  const response = await fetch(context.baseUrl + hook.path, {
    method: hook.method,
    headers: hook.body === null ? undefined : { "content-type": "application/json" },
    body: hook.body,
    signal,
  });
  const text = await response.text();
  if (text) context.log.write(`${text.slice(0, 2000)}\n`);
  return response.ok ? null : `answered ${response.status}`;
}
