/**
 * The demo's OpenAI text generation API, shaped like llama-server's:
 * `/v1/models`, `/v1/chat/completions`, `/v1/completions` and
 * `/v1/responses`, each streamed or not.
 */
import type { Context, Hono } from "hono";
import type { Demo } from "./context.ts";
import { completionBody, emitTokens, generateQuietly, planGeneration, timings } from "./generation.ts";
import { clientGone, type Json } from "./http.ts";
import { eventStream } from "./stream.ts";

/** OpenAI `usage` for a prompt of `prompt` tokens and `completion` generated ones. */
function usageOf(prompt: number, completion: number) {
  return { completion_tokens: completion, prompt_tokens: prompt, total_tokens: prompt + completion };
}

/** True when a streaming request asked for a final usage chunk. */
function includeUsage(body: Json): boolean {
  return (body.stream_options as Json | undefined)?.include_usage === true;
}

/** `POST /v1/chat/completions`: one message, or `chat.completion.chunk` events ending in `[DONE]`. */
async function chatCompletions(demo: Demo, c: Context): Promise<Response> {
  const body = await completionBody(demo, c);
  if (body instanceof Response) return body;
  const gen = planGeneration(demo, body, ["max_completion_tokens", "max_tokens", "n_predict"], body.messages);
  const started = Date.now();
  const base = { id: demo.id("chatcmpl"), created: demo.now(), model: gen.model, system_fingerprint: "b0-demo" };
  if (body.stream === true) {
    const withUsage = includeUsage(body);
    return eventStream(demo, c, async (send, signal) => {
      const chunk = (choices: unknown[], extra: Json = {}) =>
        send({ choices, ...base, object: "chat.completion.chunk", ...extra });
      await chunk([{ finish_reason: null, index: 0, delta: { role: "assistant", content: null } }]);
      const n = await emitTokens(
        demo,
        gen,
        signal,
        (token) => chunk([{ finish_reason: null, index: 0, delta: { content: token } }]),
      );
      if (signal.aborted) return;
      await chunk([{ finish_reason: gen.finishReason, index: 0, delta: {} }], { timings: timings(gen, started, n) });
      if (withUsage) await chunk([], { usage: usageOf(gen.promptTokens, n) });
      await send("[DONE]");
    });
  }
  if (!(await generateQuietly(demo, c.req.raw, gen))) return clientGone();
  return c.json({
    choices: [{
      finish_reason: gen.finishReason,
      index: 0,
      message: { role: "assistant", content: gen.tokens.join("") },
    }],
    ...base,
    object: "chat.completion",
    usage: usageOf(gen.promptTokens, gen.tokens.length),
    timings: timings(gen, started, gen.tokens.length),
  });
}

/** `POST /v1/completions`: one text choice, or `text_completion` events ending in `[DONE]`. */
async function completions(demo: Demo, c: Context): Promise<Response> {
  const body = await completionBody(demo, c);
  if (body instanceof Response) return body;
  const gen = planGeneration(demo, body, ["max_tokens", "n_predict"], body.prompt);
  const started = Date.now();
  const base = { id: demo.id("cmpl"), created: demo.now(), model: gen.model, system_fingerprint: "b0-demo" };
  if (body.stream === true) {
    const withUsage = includeUsage(body);
    return eventStream(demo, c, async (send, signal) => {
      const chunk = (choices: unknown[], extra: Json = {}) =>
        send({ choices, ...base, object: "text_completion", ...extra });
      const n = await emitTokens(
        demo,
        gen,
        signal,
        (token) => chunk([{ text: token, index: 0, logprobs: null, finish_reason: null }]),
      );
      if (signal.aborted) return;
      await chunk([{ text: "", index: 0, logprobs: null, finish_reason: gen.finishReason }], {
        timings: timings(gen, started, n),
      });
      if (withUsage) await chunk([], { usage: usageOf(gen.promptTokens, n) });
      await send("[DONE]");
    });
  }
  if (!(await generateQuietly(demo, c.req.raw, gen))) return clientGone();
  return c.json({
    choices: [{ text: gen.tokens.join(""), index: 0, logprobs: null, finish_reason: gen.finishReason }],
    ...base,
    object: "text_completion",
    usage: usageOf(gen.promptTokens, gen.tokens.length),
    timings: timings(gen, started, gen.tokens.length),
  });
}

/** `POST /v1/responses`: one response object, or `response.created` … `response.completed` events. */
async function responses(demo: Demo, c: Context): Promise<Response> {
  const body = await completionBody(demo, c);
  if (body instanceof Response) return body;
  const gen = planGeneration(demo, body, ["max_output_tokens"], [body.instructions, body.input]);
  const response = (status: string, text: string, n: number) => ({
    id: demo.id("resp"),
    object: "response",
    created_at: demo.now(),
    model: gen.model,
    status,
    output: text === "" ? [] : [{
      type: "message",
      id: demo.id("msg"),
      status,
      role: "assistant",
      content: [{ type: "output_text", text, annotations: [] }],
    }],
    usage: { input_tokens: gen.promptTokens, output_tokens: n, total_tokens: gen.promptTokens + n },
  });
  if (body.stream === true) {
    return eventStream(demo, c, async (send, signal) => {
      const event = (type: string, data: Json) => send({ type, ...data }, type);
      await event("response.created", { response: response("in_progress", "", 0) });
      let text = "";
      const n = await emitTokens(demo, gen, signal, (token) => {
        text += token;
        return event("response.output_text.delta", { output_index: 0, content_index: 0, delta: token });
      });
      if (signal.aborted) return;
      await event("response.completed", { response: response("completed", text, n) });
    });
  }
  if (!(await generateQuietly(demo, c.req.raw, gen))) return clientGone();
  return c.json(response("completed", gen.tokens.join(""), gen.tokens.length));
}

/** Add the OpenAI text generation routes to `app`. */
export function openaiRoutes(app: Hono, demo: Demo): void {
  app.get("/v1/models", (c) =>
    c.json({
      object: "list",
      model: demo.options.model,
      data: [{ id: demo.options.model, object: "model", created: demo.now(), owned_by: "demo-upstream", meta: {} }],
    }));
  app.post("/v1/chat/completions", (c) => chatCompletions(demo, c));
  app.post("/v1/completions", (c) => completions(demo, c));
  app.post("/v1/responses", (c) => responses(demo, c));
}
