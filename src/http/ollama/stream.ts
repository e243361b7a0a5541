/**
 * An OpenAI event stream translated into Ollama's NDJSON as it passes: one
 * line per content or thinking delta, tool calls (whose arguments arrive in
 * pieces) in one line once complete, then the `done` line with the counts
 * and durations. An error event, or a stream that breaks off, ends it with
 * Ollama's `{"error": …}` line. Nothing but the current event and the
 * pending tool calls is held.
 */
import {
  answerLine,
  doneFields,
  type Ending,
  firstChoice,
  type Json,
  objectAt,
  type RequestTimes,
  stringAt,
  type ToolCallText,
} from "./answers.ts";
import { SseReader } from "./sse-reader.ts";

/**
 * Longest upstream event read (characters). A llama-server chunk carries
 * one token, or the final timings and usage: a few hundred bytes.
 */
export const MAX_EVENT_CHARS = 1024 * 1024;

/** Most tool-call text (names and arguments) gathered from one stream before it is refused. */
export const MAX_TOOL_CALL_CHARS = 1024 * 1024;

/** Most tool calls gathered from one stream. */
export const MAX_TOOL_CALLS = 256;

/** The message of an OpenAI (or llama-server) error value. */
function errorText(error: unknown): string {
  if (typeof error === "string") return error;
  const message = error !== null && typeof error === "object" ? (error as Json).message : undefined;
  return typeof message === "string" ? message : JSON.stringify(error);
}

/** The state of one stream's translation. */
export class StreamTranslator {
  /** True once the done line or an error line was produced: later input is ignored. */
  finished = false;
  /** True when the upstream's stream could not be translated (the rest of it is not worth reading). */
  broken = false;
  readonly #kind: "chat" | "generate";
  readonly #model: string;
  readonly #times: RequestTimes;
  readonly #sse = new SseReader(MAX_EVENT_CHARS);
  readonly #ending: Ending = { finishReason: null, timings: null, usage: null };
  readonly #calls = new Map<number, ToolCallText>();
  #callChars = 0;

  constructor(kind: "chat" | "generate", model: string, times: RequestTimes) {
    this.#kind = kind;
    this.#model = model;
    this.#times = times;
  }

  /** The Ollama lines for the next text of the upstream stream. */
  push(text: string): Json[] {
    if (this.finished) return [];
    try {
      return this.#events(this.#sse.push(text));
    } catch (error) {
      return this.#fail(this.#untranslatable(error));
    }
  }

  /** The upstream stream ended (`rest` is its last text): the final lines. */
  end(rest: string): Json[] {
    if (this.finished) return [];
    let lines: Json[];
    try {
      lines = this.#events([...this.#sse.push(rest), ...this.#sse.end()]);
    } catch (error) {
      return this.#fail(this.#untranslatable(error));
    }
    if (this.finished) return lines;
    if (this.#ending.finishReason === null) {
      return [...lines, ...this.#fail(`model "${this.#model}" ended its stream before the answer was complete`)];
    }
    return [...lines, ...this.#finish()];
  }

  #untranslatable(error: unknown): string {
    this.broken = true;
    const reason = error instanceof Error ? error.message : String(error);
    return `model "${this.#model}" sent a stream modelswap cannot translate for Ollama clients: ${reason}`;
  }

  #events(events: string[]): Json[] {
    const lines: Json[] = [];
    for (const data of events) {
      if (this.finished) break;
      if (data === "[DONE]") {
        lines.push(...this.#finish());
        continue;
      }
      let json: unknown;
      try {
        json = JSON.parse(data);
      } catch {
        throw new Error("an event is not JSON");
      }
      if (json === null || typeof json !== "object" || Array.isArray(json)) throw new Error("an event is not a JSON object");
      const error = (json as Json).error;
      if (error !== undefined && error !== null) {
        lines.push(...this.#fail(errorText(error)));
        break;
      }
      const line = this.#chunk(json as Json);
      if (line) lines.push(line);
    }
    return lines;
  }

  /** One OpenAI chunk: its content or thinking as a line; its ending, usage and tool-call pieces remembered. */
  #chunk(json: Json): Json | null {
    this.#ending.timings = objectAt(json, "timings") ?? this.#ending.timings;
    this.#ending.usage = objectAt(json, "usage") ?? this.#ending.usage;
    const choice = firstChoice(json);
    if (!choice) return null;
    this.#ending.finishReason = stringAt(choice, "finish_reason") ?? this.#ending.finishReason;
    const delta = objectAt(choice, "delta");
    this.#gather(delta?.tool_calls);
    const content = stringAt(delta, "content") ?? stringAt(choice, "text") ?? "";
    const thinking = stringAt(delta, "reasoning_content") ?? "";
    if (!content && !thinking) return null;
    return answerLine(this.#kind, this.#model, { content, thinking });
  }

  /** Add streamed tool-call pieces (`index`, then `id`, name and argument text in parts). */
  #gather(pieces: unknown): void {
    if (!Array.isArray(pieces)) return;
    pieces.forEach((piece: unknown, position) => {
      if (piece === null || typeof piece !== "object") return;
      const index = typeof (piece as Json).index === "number" ? (piece as Json).index as number : position;
      let call = this.#calls.get(index);
      if (!call) {
        if (this.#calls.size >= MAX_TOOL_CALLS) throw new Error(`more than ${MAX_TOOL_CALLS} tool calls`);
        call = { name: "", arguments: "" };
        this.#calls.set(index, call);
      }
      const fn = objectAt(piece, "function");
      const id = stringAt(piece as Json, "id");
      const name = stringAt(fn, "name") ?? "";
      const args = stringAt(fn, "arguments") ?? "";
      if (id) call.id = id;
      call.name += name;
      call.arguments += args;
      this.#callChars += name.length + args.length;
      if (this.#callChars > MAX_TOOL_CALL_CHARS) throw new Error(`tool calls longer than ${MAX_TOOL_CALL_CHARS} characters`);
    });
  }

  /** The last lines: complete tool calls, then `done` with the metrics. */
  #finish(): Json[] {
    this.finished = true;
    const calls = [...this.#calls.entries()].sort(([a], [b]) => a - b).map(([, call]) => call).filter((call) => call.name);
    const lines = calls.length && this.#kind === "chat" ? [answerLine("chat", this.#model, { toolCalls: calls })] : [];
    lines.push({ ...answerLine(this.#kind, this.#model, {}), ...doneFields(this.#ending, this.#times, performance.now()) });
    return lines;
  }

  #fail(message: string): Json[] {
    this.finished = true;
    return [{ error: message }];
  }
}

const encoder = new TextEncoder();

/**
 * An OpenAI event stream (bytes) as Ollama NDJSON (bytes), pulled as the
 * client reads (backpressure reaches the upstream); the client leaving
 * cancels the upstream stream. It ends early only when the upstream's
 * stream cannot be translated; an upstream that keeps sending after its
 * `[DONE]` is read to its end and ignored.
 */
export function ollamaStream(upstream: ReadableStream<Uint8Array>, kind: "chat" | "generate", model: string, times: RequestTimes): ReadableStream<Uint8Array> {
  const translator = new StreamTranslator(kind, model, times);
  const decoder = new TextDecoder();
  const reader = upstream.getReader();
  const encode = (lines: Json[]) => encoder.encode(lines.map((line) => `${JSON.stringify(line)}\n`).join(""));
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      // Read until there is a line to give (an upstream chunk may hold no complete event).
      for (;;) {
        const chunk = await reader.read();
        const lines = chunk.done ? translator.end(decoder.decode()) : translator.push(decoder.decode(chunk.value, { stream: true }));
        if (lines.length > 0) controller.enqueue(encode(lines));
        if (chunk.done || translator.broken) {
          if (!chunk.done) void reader.cancel().catch(() => {});
          controller.close();
          return;
        }
        if (lines.length > 0) return;
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
