/**
 * Ollama's error shape, `{"error": "message"}` with the HTTP status, for
 * every answer on an Ollama route: modelswap's own refusals (auth, body
 * limit, unknown model, a model that failed to load) and the upstream's
 * error answers alike. It wraps the whole app, so the refusals of the
 * middlewares before the routes are reshaped too, after the app recorded
 * them in their usual shape.
 */
import type { MiddlewareHandler } from "hono";

/** The routes that answer in Ollama's shape (llama-swap's `/api/version` keeps its own). */
export const OLLAMA_PATHS: ReadonlySet<string> = new Set([
  "/api/tags",
  "/api/ps",
  "/api/show",
  "/api/chat",
  "/api/generate",
  "/api/embed",
  "/api/embeddings",
]);

/** Most of an error body read for its message; error bodies are a few hundred bytes. */
const MAX_ERROR_BYTES = 64 * 1024;

/** Up to `max` bytes of a body, as text; the rest is not read. */
async function head(body: ReadableStream<Uint8Array>, max: number): Promise<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  try {
    while (bytes < max) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      text += decoder.decode(value.subarray(0, Math.max(0, value.byteLength - (bytes - max))), { stream: true });
    }
  } finally {
    void reader.cancel().catch(() => {});
  }
  return text + decoder.decode();
}

/** The message in an error body: OpenAI's `error.message`, a plain `error` string, or the text itself. */
export function errorMessage(text: string, status: number): string {
  try {
    const body: unknown = JSON.parse(text);
    const error = body !== null && typeof body === "object" ? (body as Record<string, unknown>).error : undefined;
    if (typeof error === "string") return error;
    const message = error !== null && typeof error === "object" ? (error as Record<string, unknown>).message : undefined;
    if (typeof message === "string") return message;
  } catch {
    // Not JSON: the text is the message.
  }
  return text.trim() || `HTTP ${status}`;
}

/** An error response (any shape) as Ollama's `{"error": "message"}`, status and other headers kept. */
export async function ollamaError(response: Response): Promise<Response> {
  const text = response.body ? await head(response.body, MAX_ERROR_BYTES) : "";
  const headers = new Headers(response.headers);
  for (const name of ["content-length", "content-encoding", "transfer-encoding"]) headers.delete(name);
  headers.set("content-type", "application/json; charset=utf-8");
  return new Response(JSON.stringify({ error: errorMessage(text, response.status) }), { status: response.status, headers });
}

/** Middleware (first in the app): an error answer on an Ollama route leaves in Ollama's shape. */
export function ollamaErrors(): MiddlewareHandler {
  return async (c, next) => {
    if (!OLLAMA_PATHS.has(c.req.path)) return await next();
    await next();
    if (c.res.status < 400) return;
    const reshaped = await ollamaError(c.res);
    c.res = undefined; // a new response, not one merged with the old one's headers
    c.res = reshaped;
  };
}
