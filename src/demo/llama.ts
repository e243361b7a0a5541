/**
 * The demo's llama-server native API: `/health` (which the router polls to
 * see a model is ready), `/props`, `/tokenize`, `/detokenize`,
 * `/apply-template`, and the native completion endpoints `/completion`,
 * `/completions` and `/infill`.
 */
import type { Context, Hono } from "hono";
import { type Demo, SLOT_COUNT } from "./context.ts";
import { hangUntilClientLeaves, healthHangs } from "./faults.ts";
import { completionBody, emitTokens, generateQuietly, planGeneration, timings } from "./generation.ts";
import { clientGone, type Json, readJson } from "./http.ts";
import { eventStream } from "./stream.ts";

const CHAT_TEMPLATE = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}";

/** `GET /health`: 503 "loading" during `--startup-ms`, no answer at all when a hang fault says so. */
function health(demo: Demo, c: Context): Response | Promise<Response> {
  if (healthHangs(demo)) return hangUntilClientLeaves(c.req.raw);
  if (demo.loading()) return c.json({ status: "loading" }, 503);
  return c.json({ status: "ok" });
}

/** `POST /completion` and its aliases: llama-server's own completion shape, streamed or not. */
async function nativeCompletion(demo: Demo, c: Context): Promise<Response> {
  const body = await completionBody(demo, c);
  if (body instanceof Response) return body;
  const prompt = [body.prompt, body.input_prefix, body.input_suffix];
  const gen = planGeneration(demo, body, ["n_predict", "max_tokens"], prompt);
  const started = Date.now();
  const final = (n: number, content: string) => ({
    content,
    model: gen.model,
    stop: true,
    stop_type: gen.finishReason === "length" ? "limit" : "eos",
    tokens_predicted: n,
    tokens_evaluated: gen.promptTokens,
    timings: timings(gen, started, n),
  });
  if (body.stream === true) {
    return eventStream(demo, c, async (send, signal) => {
      const n = await emitTokens(demo, gen, signal, (token) => send({ content: token, stop: false, model: gen.model }));
      if (!signal.aborted) await send(final(n, ""));
    });
  }
  if (!(await generateQuietly(demo, c.req.raw, gen))) return clientGone();
  return c.json(final(gen.tokens.length, gen.tokens.join("")));
}

/** Add the llama-server native routes to `app`. */
export function llamaRoutes(app: Hono, demo: Demo): void {
  const { model } = demo.options;
  app.get("/health", (c) => health(demo, c));
  app.post("/completion", (c) => nativeCompletion(demo, c));
  app.post("/completions", (c) => nativeCompletion(demo, c));
  app.post("/infill", (c) => nativeCompletion(demo, c));
  app.get("/props", (c) =>
    c.json({
      model,
      model_path: `/models/${model}.gguf`,
      total_slots: SLOT_COUNT,
      chat_template: CHAT_TEMPLATE,
      build_info: "b0-demo",
      default_generation_settings: { n_ctx: 2048, params: { n_predict: -1 } },
    }));
  app.post("/tokenize", async (c) => {
    const body = await readJson(c.req.raw);
    if (body instanceof Response) return body;
    return c.json({ tokens: [...new TextEncoder().encode(String(body.content ?? ""))], model: body.model ?? model });
  });
  app.post("/detokenize", async (c) => {
    const body = await readJson(c.req.raw);
    if (body instanceof Response) return body;
    const tokens = Array.isArray(body.tokens) ? body.tokens.map(Number) : [];
    return c.json({ content: new TextDecoder().decode(new Uint8Array(tokens)), model: body.model ?? model });
  });
  app.post("/apply-template", async (c) => {
    const body = await readJson(c.req.raw);
    if (body instanceof Response) return body;
    const messages = Array.isArray(body.messages) ? (body.messages as Json[]) : [];
    const prompt = messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join("") +
      "<|im_start|>assistant\n";
    return c.json({ prompt, model: body.model ?? model });
  });
}
