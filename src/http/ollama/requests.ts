/**
 * Ollama request bodies (`/api/chat`, `/api/generate`, `/api/embed`,
 * `/api/embeddings`) checked and rewritten as the OpenAI request the
 * upstream answers: messages with images become content parts, tool calls
 * get ids, `format` becomes `response_format`, `think` becomes llama-server's
 * `chat_template_kwargs`/`reasoning_effort`, `options` become sampling
 * parameters. A malformed body is a 400 that names the field.
 */
import { z } from "zod";
import { ModelswapError } from "../../errors.ts";
import { clipped } from "../bounds.ts";
import { keepAliveMs } from "./keep-alive.ts";
import { samplingParams } from "./options.ts";

/** Which Ollama route a request came from, and so the shape of its answer. */
export type AnswerKind = "chat" | "generate" | "embed" | "embeddings";

/** An Ollama request as the upstream gets it. */
export interface Translated {
  /** The model name as the client sent it. */
  model: string;
  /** Upstream path, e.g. `/v1/chat/completions`. */
  path: string;
  /** The OpenAI request body (its `model` is set by the route). */
  body: Record<string, unknown>;
  stream: boolean;
  /** `keep_alive` in ms (see `keepAliveMs`), undefined when not set. */
  keepAliveMs: number | undefined;
  kind: AnswerKind;
  /** Nothing to generate or embed: Ollama then loads the model (or unloads it with `keep_alive: 0`). */
  empty: boolean;
}

const optional = <T extends z.ZodType>(schema: T) => schema.nullish().transform((value) => value ?? undefined);
const text = z.string();
const options = optional(z.record(z.string(), z.unknown()));
const format = optional(z.union([z.literal(""), z.literal("json"), z.record(z.string(), z.unknown())]));
const think = optional(z.union([z.boolean(), z.enum(["high", "medium", "low"])]));
const keepAlive = optional(z.union([z.number(), z.string()]));
const images = optional(z.array(text));

const toolCall = z.object({
  id: optional(text),
  function: z.object({
    name: text,
    arguments: optional(z.union([z.record(z.string(), z.unknown()), text])),
  }),
});

const message = z.object({
  role: text,
  content: optional(text),
  thinking: optional(text),
  images,
  tool_calls: optional(z.array(toolCall)),
  tool_name: optional(text),
  tool_call_id: optional(text),
});

const chatSchema = z.object({
  model: text,
  messages: optional(z.array(message)),
  stream: optional(z.boolean()),
  format,
  keep_alive: keepAlive,
  tools: optional(z.array(z.record(z.string(), z.unknown()))),
  think,
  options,
});

const generateSchema = z.object({
  model: text,
  prompt: optional(text),
  suffix: optional(text),
  system: optional(text),
  stream: optional(z.boolean()),
  raw: optional(z.boolean()),
  format,
  images,
  keep_alive: keepAlive,
  think,
  options,
});

const embedSchema = z.object({
  model: text,
  input: optional(z.union([text, z.array(text)])),
  dimensions: optional(z.int().positive()),
  keep_alive: keepAlive,
  options,
});

const embeddingsSchema = z.object({
  model: text,
  prompt: optional(text),
  keep_alive: keepAlive,
  options,
});

type OllamaMessage = z.infer<typeof message>;

/** `body` checked against `schema`; the first problem is a 400 naming its field. */
function checked<T extends z.ZodType>(schema: T, body: Record<string, unknown>): z.infer<T> {
  if (typeof body.model !== "string" || body.model === "") throw new ModelswapError(400, "model_required", "model is required");
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue.path.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`)).join("").replace(/^\./, "");
  throw new ModelswapError(400, "invalid_request", `invalid field ${JSON.stringify(clipped(field))}: ${clipped(issue.message)}`);
}

/** Leading base64 characters of common image formats, for the data URL's media type. */
const IMAGE_SIGNATURES: Array<[string, string]> = [
  ["iVBORw0KGgo", "image/png"],
  ["/9j/", "image/jpeg"],
  ["R0lGOD", "image/gif"],
  ["UklGR", "image/webp"],
  ["Qk", "image/bmp"],
];

/** An Ollama image (bare base64) as an OpenAI `image_url` content part. */
export function imagePart(image: string): Record<string, unknown> {
  if (image.startsWith("data:")) return { type: "image_url", image_url: { url: image } };
  const type = IMAGE_SIGNATURES.find(([prefix]) => image.startsWith(prefix))?.[1] ?? "image/jpeg";
  return { type: "image_url", image_url: { url: `data:${type};base64,${image}` } };
}

/** Message text, with images as content parts after it. */
function content(text: string, images: string[] | undefined): unknown {
  if (!images?.length) return text;
  return [...(text ? [{ type: "text", text }] : []), ...images.map(imagePart)];
}

/**
 * Ollama messages as OpenAI messages. Tool calls get ids (Ollama's have
 * none); a `tool` message answers the earliest open call of its
 * `tool_name` (or the earliest open call), as OpenAI needs `tool_call_id`.
 */
export function openaiMessages(messages: OllamaMessage[]): Record<string, unknown>[] {
  let open: Array<{ id: string; name: string }> = [];
  return messages.map((m, i) => {
    const out: Record<string, unknown> = { role: m.role, content: content(m.content ?? "", m.images) };
    if (m.thinking) out.reasoning_content = m.thinking;
    if (m.tool_calls?.length) {
      open = [];
      out.tool_calls = m.tool_calls.map((call, j) => {
        const id = call.id ?? `call_${i}_${j}`;
        open.push({ id, name: call.function.name });
        const args = call.function.arguments ?? {};
        return { id, type: "function", function: { name: call.function.name, arguments: typeof args === "string" ? args : JSON.stringify(args) } };
      });
    }
    if (m.role === "tool") {
      const id = answeredCall(open, m);
      if (id !== undefined) out.tool_call_id = id;
    }
    return out;
  });
}

/** The id of the open call a tool message answers (removed from `open`): by id, else by name, else the earliest. */
function answeredCall(open: Array<{ id: string; name: string }>, m: OllamaMessage): string | undefined {
  const byId = open.findIndex((call) => call.id === m.tool_call_id);
  const byName = open.findIndex((call) => call.name === m.tool_name);
  const at = byId >= 0 ? byId : m.tool_call_id !== undefined ? -1 : Math.max(byName, 0);
  const [call] = at < 0 ? [] : open.splice(at, 1);
  return m.tool_call_id ?? call?.id;
}

/** `format` as `response_format`; `think` as llama-server's reasoning switches. */
function generationFields(request: { format?: unknown; think?: boolean | string; options?: Record<string, unknown> }): Record<string, unknown> {
  const fields: Record<string, unknown> = samplingParams(request.options);
  if (request.format === "json") fields.response_format = { type: "json_object" };
  else if (typeof request.format === "object" && request.format !== null) {
    fields.response_format = { type: "json_schema", json_schema: { name: "response", schema: request.format } };
  }
  if (request.think !== undefined) {
    fields.chat_template_kwargs = { enable_thinking: request.think !== false };
    if (typeof request.think === "string") fields.reasoning_effort = request.think;
  }
  return fields;
}

/** Streaming with a final usage chunk, or one JSON answer (Ollama streams unless told not to). */
function streamFields(stream: boolean): Record<string, unknown> {
  return stream ? { stream: true, stream_options: { include_usage: true } } : { stream: false };
}

/** `POST /api/chat` as `/v1/chat/completions`. */
export function chatRequest(body: Record<string, unknown>): Translated {
  const request = checked(chatSchema, body);
  const stream = request.stream ?? true;
  const messages = request.messages ?? [];
  return {
    model: request.model,
    path: "/v1/chat/completions",
    body: {
      model: request.model,
      messages: openaiMessages(messages),
      ...(request.tools ? { tools: request.tools } : {}),
      ...generationFields(request),
      ...streamFields(stream),
    },
    stream,
    keepAliveMs: keepAliveMs(request.keep_alive),
    kind: "chat",
    empty: messages.length === 0,
  };
}

/**
 * `POST /api/generate`: a templated prompt (with `system` and images) as
 * `/v1/chat/completions`, a `raw` one as `/v1/completions`. Fill-in-the-middle
 * (`suffix`) has no OpenAI route: a 400 points to llama-server's `/infill`.
 */
export function generateRequest(body: Record<string, unknown>): Translated {
  const request = checked(generateSchema, body);
  if (request.suffix) {
    throw new ModelswapError(400, "unsupported", "suffix (fill-in-the-middle) is not available through /api/generate; send it to the model's /infill route (POST /upstream/<model>/infill)");
  }
  if (request.raw && request.images?.length) {
    throw new ModelswapError(400, "unsupported", "raw prompts cannot carry images through /api/generate; leave raw unset to send images");
  }
  const stream = request.stream ?? true;
  const prompt = request.prompt ?? "";
  const base = { stream, keepAliveMs: keepAliveMs(request.keep_alive), kind: "generate" as const, model: request.model };
  const fields = { model: request.model, ...generationFields(request), ...streamFields(stream) };
  const empty = prompt === "" && !request.images?.length;
  if (request.raw) return { ...base, path: "/v1/completions", body: { ...fields, prompt }, empty };
  const messages = [
    ...(request.system ? [{ role: "system", content: request.system }] : []),
    { role: "user", content: content(prompt, request.images) },
  ];
  return { ...base, path: "/v1/chat/completions", body: { ...fields, messages }, empty };
}

/** `POST /api/embed` as `/v1/embeddings` (float vectors). */
export function embedRequest(body: Record<string, unknown>): Translated {
  const request = checked(embedSchema, body);
  const input = typeof request.input === "string" ? (request.input ? [request.input] : []) : request.input ?? [];
  return {
    model: request.model,
    path: "/v1/embeddings",
    body: { model: request.model, input, encoding_format: "float", ...(request.dimensions ? { dimensions: request.dimensions } : {}) },
    stream: false,
    keepAliveMs: keepAliveMs(request.keep_alive),
    kind: "embed",
    empty: input.length === 0,
  };
}

/** The legacy `POST /api/embeddings` (one `prompt`) as `/v1/embeddings`. */
export function embeddingsRequest(body: Record<string, unknown>): Translated {
  const request = checked(embeddingsSchema, body);
  const prompt = request.prompt ?? "";
  return {
    model: request.model,
    path: "/v1/embeddings",
    body: { model: request.model, input: [prompt], encoding_format: "float" },
    stream: false,
    keepAliveMs: keepAliveMs(request.keep_alive),
    kind: "embeddings",
    empty: prompt === "",
  };
}
