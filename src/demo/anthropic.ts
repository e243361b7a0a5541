/**
 * The demo's Anthropic Messages API, as llama-server serves it:
 * `/v1/messages` (streamed or not) and `/v1/messages/count_tokens`.
 */
import type { Context, Hono } from "hono";
import type { Demo } from "./context.ts";
import { completionBody, emitTokens, generateQuietly, planGeneration } from "./generation.ts";
import { clientGone, type Json, readJson } from "./http.ts";
import { eventStream } from "./stream.ts";
import { countPromptTokens } from "./text.ts";

/** `POST /v1/messages`: one text block, or its `message_start` … `message_stop` event stream. */
async function messages(demo: Demo, c: Context): Promise<Response> {
  const body = await completionBody(demo, c);
  if (body instanceof Response) return body;
  const gen = planGeneration(demo, body, ["max_tokens"], [body.system, body.messages]);
  const stopReason = gen.finishReason === "length" ? "max_tokens" : "end_turn";
  const message = {
    id: demo.id("msg"),
    type: "message",
    role: "assistant",
    model: gen.model,
    stop_sequence: null,
  };
  if (body.stream === true) {
    return eventStream(demo, c, async (send, signal) => {
      const event = (type: string, data: Json) => send({ type, ...data }, type);
      await event("message_start", {
        message: {
          ...message,
          content: [],
          stop_reason: null,
          usage: { input_tokens: gen.promptTokens, output_tokens: 0 },
        },
      });
      await event("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
      const n = await emitTokens(
        demo,
        gen,
        signal,
        (token) => event("content_block_delta", { index: 0, delta: { type: "text_delta", text: token } }),
      );
      if (signal.aborted) return;
      await event("content_block_stop", { index: 0 });
      await event("message_delta", {
        delta: { stop_reason: stopReason, stop_sequence: null },
        usage: { output_tokens: n },
      });
      await event("message_stop", {});
    });
  }
  if (!(await generateQuietly(demo, c.req.raw, gen))) return clientGone();
  return c.json({
    ...message,
    content: [{ type: "text", text: gen.tokens.join("") }],
    stop_reason: stopReason,
    usage: { input_tokens: gen.promptTokens, output_tokens: gen.tokens.length },
  });
}

/** `POST /v1/messages/count_tokens`: the prompt's token count (answered even while loading). */
async function countTokens(demo: Demo, c: Context): Promise<Response> {
  const body = await readJson(c.req.raw);
  if (body instanceof Response) return body;
  return c.json({
    input_tokens: countPromptTokens([body.system, body.messages]),
    model: body.model ?? demo.options.model,
  });
}

/** Add the Anthropic Messages routes to `app`. */
export function anthropicRoutes(app: Hono, demo: Demo): void {
  app.post("/v1/messages", (c) => messages(demo, c));
  app.post("/v1/messages/count_tokens", (c) => countTokens(demo, c));
}
