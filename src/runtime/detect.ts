/**
 * Picks the {@link Runtime} for the JavaScript engine this process runs on.
 * The implementation is imported dynamically so that the other runtime's
 * file, which touches globals that do not exist here, is never evaluated.
 */
import type { Runtime } from "./runtime.ts";

/** The runtime for this process; throws with a clear message on an unsupported engine. */
export async function detectRuntime(): Promise<Runtime> {
  const globals = globalThis as { Bun?: unknown; Deno?: unknown };
  if (globals.Bun !== undefined) return (await import("./bun.ts")).bunRuntime;
  if (globals.Deno !== undefined) return (await import("./deno.ts")).denoRuntime;
  throw new Error("modelswap runs on Bun or Deno; start it with `bun src/main.ts` or `deno run -A src/main.ts`");
}
