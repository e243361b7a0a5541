/**
 * The demo's deterministic stand-ins for what a model computes from text:
 * word tokens, prompt token counts and embedding vectors. Deterministic so
 * tests can assert exact counts and compare vectors across requests.
 */

/** Word tokens: "Hello there" → ["Hello", " there"]. */
export function tokenize(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [];
}

/** Keys of message objects that label rather than hold prompt text. */
const LABEL_KEYS = new Set(["role", "type", "name", "model", "id"]);

/** The word tokens of a JSON-ish prompt: its text, not its labels (role, type, …), in order. */
export function promptTokens(value: unknown): string[] {
  const tokens: string[] = [];
  const visit = (v: unknown): void => {
    if (typeof v === "string") tokens.push(...tokenize(v));
    else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === "object") {
      for (const [key, inner] of Object.entries(v)) if (!LABEL_KEYS.has(key)) visit(inner);
    }
  };
  visit(value);
  return tokens;
}

/** Number of word tokens in a JSON-ish prompt, at least 1, as the `prompt_tokens` / `input_tokens` a request reports. */
export function countPromptTokens(value: unknown): number {
  return Math.max(promptTokens(value).length, 1);
}

/** A deterministic, L2-normalised 8-dimensional vector for a text: equal texts embed equally. */
export function embed(text: string): number[] {
  const vector = Array.from({ length: 8 }, (_, dim) => {
    let hash = Math.imul(2166136261 ^ dim, 16777619);
    for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619);
    // murmur3's finaliser spreads small input differences over every bit
    hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
    hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
    hash ^= hash >>> 16;
    return ((hash >>> 0) / 0xffffffff) * 2 - 1;
  });
  const norm = Math.hypot(...vector) || 1;
  return vector.map((x) => x / norm);
}
