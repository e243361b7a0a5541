/**
 * Ollama's API for the clients that speak only it (Open WebUI's Ollama
 * connection, editors, scripts): `/api/chat`, `/api/generate`, `/api/embed`
 * and `/api/embeddings` are translated into the upstream's OpenAI routes
 * and sent through the same admission and forwarding as any model request
 * (`routeModelRequest`); the OpenAI answer is translated back as it streams.
 * `/api/tags`, `/api/ps` and `/api/show` answer from the config and the
 * router. `/api/version` is llama-swap's (admin routes), whose `version`
 * field is what Ollama clients read.
 */
import { type Context, Hono } from "hono";
import { ModelswapError, toModelswapError } from "../../errors.ts";
import type { RouteContext } from "../context.ts";
import { readModelRequest } from "../model.ts";
import { routeModelRequest } from "../model-route.ts";
import { completionAnswer, embeddingAnswer, type Json, malformed, type RequestTimes } from "./answers.ts";
import { ollamaName, running, show, tags } from "./models.ts";
import { chatRequest, embeddingsRequest, embedRequest, generateRequest, type Translated } from "./requests.ts";
import { ollamaStream } from "./stream.ts";

/** The Ollama routes that send a request to a model (recorded in metrics and activity like the OpenAI ones). */
export const OLLAMA_MODEL_ROUTES = ["/api/chat", "/api/generate", "/api/embed", "/api/embeddings"];

/**
 * Largest whole (non-streamed) upstream answer translated, in bytes. A long
 * completion is well under 1 MiB; a batch of embeddings is what comes near
 * it (1000 vectors of 1024 floats is about 12 MiB as JSON).
 */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

const encoder = new TextEncoder();

const NDJSON_HEADERS = { "content-type": "application/x-ndjson", "cache-control": "no-cache", "x-accel-buffering": "no" };

/** The JSON object a request sent (400 when it sent none). */
async function jsonBody(request: Request): Promise<Record<string, unknown>> {
  const { body } = await readModelRequest(request);
  if (body.kind === "json") return body.json;
  throw new ModelswapError(400, "invalid_request", body.bytes === null || body.bytes.byteLength === 0 ? "missing request body" : "request body must be a JSON object");
}

/** A whole upstream answer as JSON, read up to {@link MAX_ANSWER_BYTES}. */
async function wholeJson(response: Response, model: string): Promise<Json> {
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  const reader = response.body!.getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    bytes += chunk.value.byteLength;
    if (bytes > MAX_ANSWER_BYTES) {
      void reader.cancel().catch(() => {});
      throw new ModelswapError(502, "answer_too_large", `model "${model}" answered more than ${MAX_ANSWER_BYTES} bytes, more than modelswap translates for Ollama clients; send smaller batches or use the OpenAI route`, { model });
    }
    text += decoder.decode(chunk.value, { stream: true });
  }
  try {
    const json: unknown = JSON.parse(text + decoder.decode());
    if (json !== null && typeof json === "object" && !Array.isArray(json)) return json as Json;
  } catch {
    // Reported below.
  }
  throw malformed(model, "a JSON answer");
}

/** One Ollama JSON answer; streamed clients get it as the only NDJSON line. */
function jsonAnswer(answer: Json, stream: boolean): Response {
  if (!stream) return Response.json(answer);
  return new Response(`${JSON.stringify(answer)}\n`, { headers: NDJSON_HEADERS });
}

/** The upstream's successful answer in Ollama's shape. */
async function translateAnswer(request: Translated, response: Response, times: RequestTimes): Promise<Response> {
  const { kind, model } = request;
  if (kind === "embed" || kind === "embeddings") return Response.json(embeddingAnswer(kind, model, await wholeJson(response, model), times));
  if (/text\/event-stream/i.test(response.headers.get("content-type") ?? "")) {
    return new Response(ollamaStream(response.body!, kind, model, times), { headers: NDJSON_HEADERS });
  }
  return jsonAnswer(completionAnswer(kind, model, await wholeJson(response, model), times), request.stream);
}

/** Ollama's answer to a request with nothing to generate or embed: the model was loaded (or unloaded). */
function emptyAnswer(request: Translated, reason: "load" | "unload"): Json {
  const base = { model: request.model, created_at: new Date().toISOString() };
  switch (request.kind) {
    case "chat":
      return { ...base, message: { role: "assistant", content: "" }, done: true, done_reason: reason };
    case "generate":
      return { ...base, response: "", done: true, done_reason: reason };
    case "embed":
      return { model: request.model, embeddings: [] };
    case "embeddings":
      return { embedding: [] };
  }
}

/**
 * A request with nothing to generate (Ollama's way to load a model, or to
 * unload it with `keep_alive: 0`): load the local model and apply
 * `keep_alive`, or let it unload once idle. Recorded for the model; a
 * peer's model needs nothing.
 */
async function loadOrUnload(ctx: RouteContext, c: Context, name: string, request: Translated): Promise<Response> {
  const router = ctx.router();
  const target = ctx.names.forRequest(router.config, name, (id) => router.state(id));
  const reason = request.keepAliveMs === 0 ? "unload" : "load";
  try {
    if (target.kind === "local") {
      const { id } = target;
      const observation = c.get("outcome").observe(id, false);
      try {
        if (reason === "load") await router.load(id);
        const state = router.state(id);
        if (request.keepAliveMs !== undefined && (state === "ready" || state === "starting")) router.keepAlive(id, request.keepAliveMs);
      } catch (error) {
        const err = toModelswapError(error);
        observation.end({ status: err.status, bytes: 0, error: err.message });
        throw err;
      }
      observation.granted();
      observation.end({ status: 200, bytes: 0 });
    }
    return jsonAnswer(emptyAnswer(request, reason), request.stream);
  } finally {
    target.release();
  }
}

/** One Ollama model request: translate, route like an OpenAI request, translate the answer back. */
async function serve(ctx: RouteContext, c: Context, translate: (body: Record<string, unknown>) => Translated): Promise<Response> {
  const times: RequestTimes = { started: performance.now(), granted: null };
  const request = translate(await jsonBody(c.req.raw));
  const name = ollamaName(ctx, request.model);
  if (request.empty) return await loadOrUnload(ctx, c, name, request);
  const json = { ...request.body, model: name };
  const parsed = { model: name, stream: request.stream, body: { kind: "json" as const, json, bytes: encoder.encode(JSON.stringify(json)) } };
  const response = await routeModelRequest(ctx, c.req.raw, parsed, request.path, c.get("outcome"), (target) => {
    times.granted = performance.now();
    // Applied while this request holds the model, so it counts from the end of this request, as in Ollama.
    if (request.keepAliveMs !== undefined && target.kind === "local") ctx.router().keepAlive(target.id, request.keepAliveMs);
  });
  if (!response.ok || !response.body) return response;
  return await translateAnswer(request, response, times);
}

/** The Ollama routes. */
export function ollamaRoutes(ctx: RouteContext): Hono {
  const app = new Hono();
  // No model file is read, so "modified" is when this server started.
  const modifiedAt = new Date().toISOString();
  app.get("/api/tags", async (c) => c.json(await tags(ctx, modifiedAt)));
  app.get("/api/ps", async (c) => c.json(await running(ctx)));
  app.post("/api/show", async (c) => {
    const body = await jsonBody(c.req.raw);
    const name = body.model ?? body.name;
    if (typeof name !== "string" || name === "") throw new ModelswapError(400, "model_required", "model is required");
    return c.json(show(ctx, name, modifiedAt));
  });
  app.post("/api/chat", (c) => serve(ctx, c, chatRequest));
  app.post("/api/generate", (c) => serve(ctx, c, generateRequest));
  app.post("/api/embed", (c) => serve(ctx, c, embedRequest));
  app.post("/api/embeddings", (c) => serve(ctx, c, embeddingsRequest));
  return app;
}
