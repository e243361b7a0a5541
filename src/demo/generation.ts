/**
 * "Generating" a completion: which tokens a request gets (the `--reply`
 * text, cut at its token limit), emitting them one per `--token-ms`, and the
 * llama-server `timings` that describe it. Shared by every completion
 * endpoint, whatever its API's response shape.
 */
import type { Context } from "hono";
import type { Demo } from "./context.ts";
import { armCrash, recordDisconnect, stallMs } from "./faults.ts";
import { errorResponse, type Json, readJson } from "./http.ts";
import { promptTokens, tokenize } from "./text.ts";

/** Per-request facts shared by the generation endpoints. */
export interface Generation {
  model: string;
  tokens: string[];
  finishReason: "stop" | "length";
  promptTokens: number;
  /** Prompt tokens a slot's cache already held (llama-server's `cache_n`): not evaluated again. */
  cachedTokens: number;
}

/**
 * Run the prompt through the slot whose cache shares the longest prefix
 * with it (else an empty one, else slot 0), as llama-server picks slots;
 * returns how many tokens the cache saved. The slot then holds this prompt.
 */
function usePromptCache(demo: Demo, prompt: string[]): number {
  const shared = (cached: string[]) => {
    let n = 0;
    while (n < cached.length && n < prompt.length && cached[n] === prompt[n]) n++;
    return n === cached.length || n === prompt.length ? n : 0;
  };
  let best = demo.slots.findIndex((cached) => cached.length === 0);
  let bestShared = 0;
  demo.slots.forEach((cached, slot) => {
    const n = shared(cached);
    if (n > bestShared) [best, bestShared] = [slot, n];
  });
  demo.slots[Math.max(best, 0)] = prompt;
  // The last prompt token is always evaluated again, as llama-server does.
  return Math.min(bestShared, prompt.length - 1);
}

/** Resolve after `ms`, or at once when `signal` aborts. */
function delay(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * A completion request's body: 503 while loading (as llama-server answers
 * then), 400 for bad JSON; a good body arms `--crash-after-ms`.
 */
export async function completionBody(demo: Demo, c: Context): Promise<Json | Response> {
  if (demo.loading()) return errorResponse(503, "Loading model", "unavailable_error");
  const body = await readJson(c.req.raw);
  if (!(body instanceof Response)) armCrash(demo);
  return body;
}

/**
 * What a completion request will generate: the reply's tokens up to the
 * first of `maxKeys` the body sets, and the token count of `prompt`.
 */
export function planGeneration(demo: Demo, body: Json, maxKeys: string[], prompt: unknown): Generation {
  const all = tokenize(demo.options.reply);
  const limitKey = maxKeys.find((key) => typeof body[key] === "number" && (body[key] as number) >= 0);
  const limit = limitKey === undefined ? Infinity : (body[limitKey] as number);
  const tokens = promptTokens(prompt);
  return {
    model: typeof body.model === "string" ? body.model : demo.options.model,
    tokens: all.slice(0, limit),
    finishReason: limit < all.length ? "length" : "stop",
    promptTokens: Math.max(tokens.length, 1),
    cachedTokens: tokens.length > 0 ? usePromptCache(demo, tokens) : 0,
  };
}

/** llama-server's `timings` object for `emitted` tokens generated since `started` (ms epoch). */
export function timings(gen: Generation, started: number, emitted: number) {
  const predictedMs = Math.max(Date.now() - started, 0.001);
  return {
    cache_n: gen.cachedTokens,
    prompt_n: gen.promptTokens - gen.cachedTokens,
    prompt_ms: 0.5,
    prompt_per_second: gen.promptTokens / 0.0005,
    predicted_n: emitted,
    predicted_ms: predictedMs,
    predicted_per_second: (emitted / predictedMs) * 1000,
  };
}

/**
 * Emit each token after `--token-ms` (stalling where `--stall-ms` says),
 * stopping when `signal` aborts; returns how many tokens were emitted.
 */
export async function emitTokens(
  demo: Demo,
  gen: Generation,
  signal: AbortSignal,
  onToken: (token: string) => void | Promise<void>,
): Promise<number> {
  let emitted = 0;
  for (const token of gen.tokens) {
    await delay(demo.options.tokenMs, signal);
    const stall = stallMs(demo.options, emitted);
    if (stall > 0) await delay(stall, signal);
    if (signal.aborted) break;
    await onToken(token);
    emitted++;
  }
  return emitted;
}

/**
 * Take as long as generating would (abortable) before a non-streaming
 * answer; true when the client is still there, else records the disconnect.
 */
export async function generateQuietly(demo: Demo, request: Request, gen: Generation): Promise<boolean> {
  await emitTokens(demo, gen, request.signal, () => {});
  if (request.signal.aborted) recordDisconnect(demo, request);
  return !request.signal.aborted;
}
