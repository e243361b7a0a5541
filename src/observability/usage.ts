/**
 * Token counts and generation speed read from responses as they pass
 * through: OpenAI `usage` (also Anthropic's and the Responses API's
 * spellings, cached prompt tokens included) and llama-server's `timings`
 * (prompt cache and speculative draft counts included). Streams are scanned line by line
 * with a bounded line buffer, JSON bodies through a bounded tail window, so
 * a response is never held in memory whole (llama-swap keeps every full
 * response for this).
 */

/** What one response said about its tokens; null where it said nothing. */
export interface TokenUsage {
  promptTokens: number | null;
  completionTokens: number | null;
  /** Prompt processing speed (llama-server `timings.prompt_per_second`). */
  promptPerSecond: number | null;
  /** Generation speed (llama-server `timings.predicted_per_second`). */
  generationPerSecond: number | null;
  /**
   * Prompt tokens served from the cache: llama-server's `timings.cache_n`,
   * else `usage.prompt_tokens_details.cached_tokens` (or Anthropic's and the
   * Responses API's spellings). Present only when reported.
   */
  cacheTokens?: number;
  /** Tokens the draft model proposed (llama-server `timings.draft_n`); present only with {@link draftAcceptedTokens}. */
  draftTokens?: number;
  /** Of those, the tokens accepted (`timings.draft_n_accepted`). */
  draftAcceptedTokens?: number;
}

/** Longest SSE line inspected; longer lines (big content deltas) never carry usage and are skipped. */
const MAX_LINE_CHARS = 64 * 1024;
/** How much of the end of a JSON body is kept; usage and timings sit at its end. */
const TAIL_CHARS = 64 * 1024;

type Json = Record<string, unknown>;

function numberOr(value: unknown, fallback: number | null): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

function objectAt(value: unknown, key: string): Json | null {
  const inner = value && typeof value === "object" ? (value as Json)[key] : undefined;
  return inner && typeof inner === "object" && !Array.isArray(inner) ? (inner as Json) : null;
}

/**
 * The balanced JSON object that follows the last `"key":` in `text`, or
 * null. Used on the tail of a large body, where the whole cannot be parsed.
 */
export function lastObjectAfterKey(text: string, key: string): Json | null {
  const at = text.lastIndexOf(`"${key}"`);
  if (at < 0) return null;
  const start = text.indexOf("{", at);
  if (start < 0 || text.slice(at + key.length + 2, start).replace(/[\s:]/g, "") !== "") return null;
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) {
      try {
        return JSON.parse(text.slice(start, i + 1)) as Json;
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** Collects token facts from one response, fed chunk by chunk. */
export class UsageScanner {
  readonly #decoder = new TextDecoder();
  #mode: "unknown" | "sse" | "json" = "unknown";
  #line = "";
  #skippingLine = false;
  #tail = "";
  #truncated = false;
  #sawUsage = false;
  #sawCacheTimings = false;
  readonly #usage: TokenUsage = { promptTokens: null, completionTokens: null, promptPerSecond: null, generationPerSecond: null };

  /** Feed the next response bytes. Never throws. */
  push(bytes: Uint8Array): void {
    const text = this.#decoder.decode(bytes, { stream: true });
    if (text) this.#consume(text);
  }

  /** Everything found, once the response has ended. */
  finish(): TokenUsage {
    const rest = this.#decoder.decode();
    if (rest) this.#consume(rest);
    if (this.#mode === "sse" && !this.#skippingLine && this.#line) this.#sseLine(this.#line);
    if (this.#mode === "json") this.#jsonBody();
    return { ...this.#usage };
  }

  #consume(text: string): void {
    if (this.#mode === "unknown") {
      const start = text.trimStart();
      if (start === "") return;
      this.#mode = /^[{[]/.test(start) ? "json" : "sse";
    }
    if (this.#mode === "json") {
      this.#tail += text;
      if (this.#tail.length > TAIL_CHARS) {
        this.#tail = this.#tail.slice(-TAIL_CHARS);
        this.#truncated = true;
      }
      return;
    }
    let from = 0;
    for (let newline = text.indexOf("\n"); newline >= 0; newline = text.indexOf("\n", from)) {
      const piece = text.slice(from, newline);
      from = newline + 1;
      if (!this.#skippingLine) this.#sseLine(this.#line + piece);
      this.#line = "";
      this.#skippingLine = false;
    }
    if (this.#skippingLine) return;
    this.#line += text.slice(from);
    if (this.#line.length > MAX_LINE_CHARS) {
      this.#line = "";
      this.#skippingLine = true;
    }
  }

  #sseLine(line: string): void {
    // Most events carry neither: they are passed over before any slicing.
    if (!line.includes('"usage"') && !line.includes('"timings"')) return;
    if (!line.startsWith("data:")) return;
    const payload = line.slice(5).trim();
    try {
      this.#apply(JSON.parse(payload));
    } catch {
      // Not JSON: nothing to count.
    }
  }

  #jsonBody(): void {
    if (!this.#truncated) {
      try {
        const body: unknown = JSON.parse(this.#tail);
        // llama-server's /infill may answer an array; its last element carries the timings.
        this.#apply(Array.isArray(body) ? body.at(-1) : body);
        return;
      } catch {
        // Not JSON after all; fall back to the tail scan.
      }
    }
    const usage = lastObjectAfterKey(this.#tail, "usage");
    const timings = lastObjectAfterKey(this.#tail, "timings");
    this.#apply({ ...(usage ? { usage } : {}), ...(timings ? { timings } : {}) });
  }

  /** Merge what one JSON object (a body or an SSE event) says; later events override earlier ones. */
  #apply(value: unknown): void {
    const u = this.#usage;
    const usage = objectAt(value, "usage") ?? objectAt(objectAt(value, "response"), "usage") ??
      objectAt(objectAt(value, "message"), "usage");
    if (usage) {
      this.#sawUsage = true;
      u.promptTokens = numberOr(usage.prompt_tokens ?? usage.input_tokens, u.promptTokens);
      u.completionTokens = numberOr(usage.completion_tokens ?? usage.output_tokens, u.completionTokens);
      const cached = usage.cache_read_input_tokens ?? objectAt(usage, "prompt_tokens_details")?.cached_tokens ??
        objectAt(usage, "input_tokens_details")?.cached_tokens;
      // llama-server's own count (timings.cache_n) wins over the OpenAI field.
      if (!this.#sawCacheTimings) this.#set("cacheTokens", cached);
    }
    const timings = objectAt(value, "timings");
    if (timings) {
      // Counts from usage win: timings.prompt_n leaves out tokens served from the prompt cache.
      if (!this.#sawUsage) {
        u.promptTokens = numberOr(timings.prompt_n, u.promptTokens);
        u.completionTokens = numberOr(timings.predicted_n, u.completionTokens);
      }
      u.promptPerSecond = numberOr(timings.prompt_per_second, u.promptPerSecond);
      u.generationPerSecond = numberOr(timings.predicted_per_second, u.generationPerSecond);
      if (this.#set("cacheTokens", timings.cache_n)) this.#sawCacheTimings = true;
      // Both draft counts or neither: an acceptance rate is never made from half of them.
      if (isCount(timings.draft_n) && isCount(timings.draft_n_accepted)) {
        this.#set("draftTokens", timings.draft_n);
        this.#set("draftAcceptedTokens", timings.draft_n_accepted);
      }
    }
  }

  /** Set an optional count when `value` is one; true when it was. */
  #set(key: "cacheTokens" | "draftTokens" | "draftAcceptedTokens", value: unknown): boolean {
    if (!isCount(value)) return false;
    this.#usage[key] = value;
    return true;
  }
}
