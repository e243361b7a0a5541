/**
 * OpenAI answers in Ollama's shape: a chat `message` or a generate
 * `response` (with `thinking` and `tool_calls`), `done`/`done_reason`, and
 * the counts and durations (ns) Ollama reports, taken from llama-server's
 * `timings` (or OpenAI `usage`) and from when the request arrived and got
 * its model. Shared by whole answers and by the stream translation.
 */
import { ModelswapError } from "../../errors.ts";
import type { AnswerKind } from "./requests.ts";

/** A JSON object. */
export type Json = Record<string, unknown>;

/** When the request arrived and when it got its model (`performance.now()` ms), for Ollama's durations. */
export interface RequestTimes {
  started: number;
  granted: number | null;
}

/** How a generation ended, as the upstream's answer said. */
export interface Ending {
  finishReason: string | null;
  /** llama-server's `timings` (prompt_n, prompt_ms, predicted_n, predicted_ms, cache_n). */
  timings: Json | null;
  /** OpenAI `usage`. */
  usage: Json | null;
}

/** A tool call whose arguments are still the JSON text the model wrote. */
export interface ToolCallText {
  id?: string;
  name: string;
  arguments: string;
}

/** What one line of an answer carries. */
export interface AnswerPart {
  content?: string;
  thinking?: string;
  toolCalls?: ToolCallText[];
}

/** `value[key]` when `value` is an object whose `key` is an object. */
export function objectAt(value: unknown, key: string): Json | null {
  const inner = value !== null && typeof value === "object" ? (value as Json)[key] : undefined;
  return inner !== null && typeof inner === "object" && !Array.isArray(inner) ? (inner as Json) : null;
}

/** `value[key]` when it is a string. */
export function stringAt(value: Json | null, key: string): string | undefined {
  const inner = value?.[key];
  return typeof inner === "string" ? inner : undefined;
}

function numberAt(value: Json | null, key: string): number | undefined {
  const inner = value?.[key];
  return typeof inner === "number" && Number.isFinite(inner) ? inner : undefined;
}

/** The first choice of an OpenAI answer or chunk. */
export function firstChoice(json: Json): Json | null {
  const choices = json.choices;
  const first: unknown = Array.isArray(choices) ? choices[0] : undefined;
  return first !== null && typeof first === "object" && !Array.isArray(first) ? (first as Json) : null;
}

/** Ollama's tool calls: arguments as an object (the model's text when it is not a JSON object). */
export function ollamaToolCalls(calls: ToolCallText[]): Json[] {
  return calls.map((call, index) => {
    let args: unknown = call.arguments;
    try {
      const parsed: unknown = JSON.parse(call.arguments || "{}");
      if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) args = parsed;
    } catch {
      // Not JSON: the client gets the text the model wrote.
    }
    return { ...(call.id ? { id: call.id } : {}), function: { index, name: call.name, arguments: args } };
  });
}

/** One line of an answer (`done: false` unless the caller adds the ending). */
export function answerLine(kind: AnswerKind, model: string, part: AnswerPart): Json {
  const base = { model, created_at: new Date().toISOString() };
  const thinking = part.thinking ? { thinking: part.thinking } : {};
  if (kind === "chat") {
    const toolCalls = part.toolCalls?.length ? { tool_calls: ollamaToolCalls(part.toolCalls) } : {};
    return { ...base, message: { role: "assistant", content: part.content ?? "", ...thinking, ...toolCalls }, done: false };
  }
  return { ...base, response: part.content ?? "", ...thinking, done: false };
}

const ns = (ms: number) => Math.max(0, Math.round(ms * 1e6));

/**
 * Ollama's counts and durations: prompt and generated tokens and their
 * times from llama-server's `timings` (the prompt tokens it evaluated, as
 * Ollama counts them), else from `usage` with the time since the grant as
 * the generation time; `load_duration` is the wait for the model.
 */
export function metrics(ending: Ending, times: RequestTimes, now: number): Json {
  const { timings, usage } = ending;
  const granted = times.granted ?? times.started;
  return {
    total_duration: ns(now - times.started),
    load_duration: ns(granted - times.started),
    prompt_eval_count: numberAt(timings, "prompt_n") ?? numberAt(usage, "prompt_tokens") ?? 0,
    prompt_eval_duration: ns(numberAt(timings, "prompt_ms") ?? 0),
    eval_count: numberAt(timings, "predicted_n") ?? numberAt(usage, "completion_tokens") ?? 0,
    eval_duration: ns(numberAt(timings, "predicted_ms") ?? now - granted),
  };
}

/** The fields that end an answer: `done`, `done_reason` ("length" when cut at the token limit, else "stop") and the metrics. */
export function doneFields(ending: Ending, times: RequestTimes, now: number): Json {
  return { done: true, done_reason: ending.finishReason === "length" ? "length" : "stop", ...metrics(ending, times, now) };
}

/** Tool calls of a whole OpenAI message. */
function toolCallTexts(value: unknown): ToolCallText[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((call) => {
    const fn = objectAt(call, "function");
    const name = stringAt(fn, "name");
    if (name === undefined) return [];
    return [{ id: stringAt(call as Json, "id"), name, arguments: stringAt(fn, "arguments") ?? "{}" }];
  });
}

/** The 502 for an upstream answer that is not what its route answers. */
export function malformed(model: string, what: string): ModelswapError {
  return new ModelswapError(502, "upstream_malformed", `model "${model}" answered with something other than ${what}; modelswap cannot translate it for Ollama clients`, { model });
}

/** A whole OpenAI chat completion or text completion as Ollama's `/api/chat` or `/api/generate` answer. */
export function completionAnswer(kind: "chat" | "generate", model: string, json: Json, times: RequestTimes): Json {
  const choice = firstChoice(json);
  if (!choice) throw malformed(model, "a completion");
  const message = objectAt(choice, "message");
  const part = {
    content: stringAt(message, "content") ?? stringAt(choice, "text") ?? "",
    thinking: stringAt(message, "reasoning_content"),
    toolCalls: toolCallTexts(message?.tool_calls),
  };
  const ending = { finishReason: stringAt(choice, "finish_reason") ?? null, timings: objectAt(json, "timings"), usage: objectAt(json, "usage") };
  return { ...answerLine(kind, model, part), ...doneFields(ending, times, performance.now()) };
}

/** The vectors of an OpenAI embeddings answer, in input order. */
function vectors(model: string, json: Json): number[][] {
  const data = json.data;
  if (!Array.isArray(data)) throw malformed(model, "embeddings");
  const items = data.map((item, position) => {
    const embedding = (item as Json | null)?.embedding;
    if (!Array.isArray(embedding) || !embedding.every((x) => typeof x === "number")) throw malformed(model, "float embeddings");
    const index = (item as Json).index;
    return { index: typeof index === "number" ? index : position, embedding: embedding as number[] };
  });
  return items.sort((a, b) => a.index - b.index).map((item) => item.embedding);
}

/** An OpenAI embeddings answer as Ollama's `/api/embed` (`embeddings`) or legacy `/api/embeddings` (`embedding`) answer. */
export function embeddingAnswer(kind: "embed" | "embeddings", model: string, json: Json, times: RequestTimes): Json {
  const all = vectors(model, json);
  if (kind === "embeddings") return { embedding: all[0] ?? [] };
  const { total_duration, load_duration, prompt_eval_count } = metrics({ finishReason: null, timings: null, usage: objectAt(json, "usage") }, times, performance.now());
  return { model, embeddings: all, total_duration, load_duration, prompt_eval_count };
}
