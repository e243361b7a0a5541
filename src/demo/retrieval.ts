/**
 * The demo's retrieval endpoints: `/v1/embeddings` (float or base64
 * vectors, like llama-server with `--embeddings`) and reranking under all
 * three paths llama-server answers it on.
 */
import type { Context, Hono } from "hono";
import type { Demo } from "./context.ts";
import { errorResponse, readJson } from "./http.ts";
import { countPromptTokens, embed, tokenize } from "./text.ts";

/** `POST /v1/embeddings`: one vector per input text; 503 while loading. */
async function embeddings(demo: Demo, c: Context): Promise<Response> {
  if (demo.loading()) return errorResponse(503, "Loading model", "unavailable_error");
  const body = await readJson(c.req.raw);
  if (body instanceof Response) return body;
  const input = body.input ?? body.content;
  const inputs = Array.isArray(input) && !input.every((x) => typeof x === "number") ? input : [input];
  if (input === undefined || inputs.length === 0) return errorResponse(400, '"input" is required');
  const texts = inputs.map((x) => (typeof x === "string" ? x : JSON.stringify(x)));
  const tokens = countPromptTokens(texts);
  // llama-server honours encoding_format "base64" (little-endian float32), the OpenAI SDK's default.
  const encode = (vector: number[]) =>
    body.encoding_format === "base64"
      ? btoa(String.fromCharCode(...new Uint8Array(new Float32Array(vector).buffer)))
      : vector;
  return c.json({
    model: body.model ?? demo.options.model,
    object: "list",
    usage: { prompt_tokens: tokens, total_tokens: tokens },
    data: texts.map((text, index) => ({ embedding: encode(embed(text)), index, object: "embedding" })),
  });
}

/** `POST /v1/rerank`: documents scored by the share of their words found in the query, best first. */
async function rerank(demo: Demo, c: Context): Promise<Response> {
  const body = await readJson(c.req.raw);
  if (body instanceof Response) return body;
  const query = new Set(tokenize(String(body.query ?? "").toLowerCase()).map((w) => w.trim()));
  const documents = Array.isArray(body.documents) ? body.documents.map(String) : [];
  const results = documents
    .map((document, index) => {
      const words = tokenize(document.toLowerCase()).map((w) => w.trim());
      const hits = words.filter((w) => query.has(w)).length;
      return { index, relevance_score: words.length ? hits / words.length : 0 };
    })
    .sort((a, b) => b.relevance_score - a.relevance_score || a.index - b.index)
    .slice(0, typeof body.top_n === "number" ? body.top_n : undefined);
  const tokens = countPromptTokens([body.query, documents]);
  return c.json({
    model: body.model ?? demo.options.model,
    object: "list",
    usage: { prompt_tokens: tokens, total_tokens: tokens },
    results,
  });
}

/** Add the embedding and reranking routes to `app`. */
export function retrievalRoutes(app: Hono, demo: Demo): void {
  app.post("/v1/embeddings", (c) => embeddings(demo, c));
  for (const path of ["/v1/rerank", "/rerank", "/v1/reranking"]) app.post(path, (c) => rerank(demo, c));
}
