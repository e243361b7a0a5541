/**
 * Reading a streamed OpenAI answer the way the playground shows it: the
 * Server-Sent Events of the body, and the reply split into its reasoning
 * and its answer. Reasoning arrives either as `reasoning_content` (or
 * `reasoning`) deltas, as llama-server sends it with a reasoning format,
 * or inline between `<think>` and `</think>`, possibly cut across chunks.
 */

/** One streamed chunk of `/v1/chat/completions` or `/v1/completions`. */
export interface StreamChunk {
  choices?: {
    delta?: { content?: string | null; reasoning_content?: string | null; reasoning?: string | null };
    text?: string | null;
  }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  timings?: { predicted_per_second?: number; prompt_per_second?: number; predicted_n?: number };
  error?: { message?: string } | string;
}

/**
 * Calls `onData` with the data of each event of an SSE body (multi-line
 * data joined by newlines) until the body ends or an event's data is `[DONE]`.
 */
export async function readSse(body: ReadableStream<Uint8Array>, onData: (data: string) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let data: string[] = [];
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      buffer += decoder.decode(read.value, { stream: true });
      for (let newline = buffer.indexOf("\n"); newline >= 0; newline = buffer.indexOf("\n")) {
        const line = buffer.slice(0, newline).replace(/\r$/, "");
        buffer = buffer.slice(newline + 1);
        if (line.startsWith("data:")) data.push(line.slice(line[5] === " " ? 6 : 5));
        else if (line === "" && data.length > 0) {
          const event = data.join("\n");
          data = [];
          if (event.trim() === "[DONE]") return;
          onData(event);
        }
      }
    }
    if (data.length > 0 && data.join("\n").trim() !== "[DONE]") onData(data.join("\n"));
  } finally {
    await reader.cancel().catch(() => {});
  }
}

const OPEN = "<think>";
const CLOSE = "</think>";

/** The reply so far: reasoning and answer apart, and when the reasoning ran (ms, the caller's clock). */
export class ReplyAssembler {
  reasoning = "";
  answer = "";
  /** When the first reasoning arrived, or null. */
  reasoningStartedAt: number | null = null;
  /** When the reasoning ended (the first answer text after it, or the end), or null. */
  reasoningEndedAt: number | null = null;
  #thinking = false;
  #pending = "";

  /** Add reasoning sent as its own field. */
  addReasoning(text: string, now: number): void {
    if (!text) return;
    this.reasoningStartedAt ??= now;
    this.reasoning += text;
  }

  /** Add answer text, which may carry `<think>…</think>` inline. */
  addContent(text: string, now: number): void {
    this.#pending += text;
    for (;;) {
      const tag = this.#thinking ? CLOSE : OPEN;
      const at = this.#pending.indexOf(tag);
      if (at >= 0) {
        this.#emit(this.#pending.slice(0, at), now);
        this.#pending = this.#pending.slice(at + tag.length);
        this.#thinking = !this.#thinking;
        if (this.#thinking) this.reasoningStartedAt ??= now;
        continue;
      }
      // Hold back what may be the start of a tag cut by the chunk boundary.
      const keep = partialTagLength(this.#pending, tag);
      this.#emit(this.#pending.slice(0, this.#pending.length - keep), now);
      this.#pending = this.#pending.slice(this.#pending.length - keep);
      return;
    }
  }

  /** The stream ended: whatever was held back is text after all. */
  finish(now: number): void {
    this.#emit(this.#pending, now);
    this.#pending = "";
    if (this.reasoningStartedAt !== null) this.reasoningEndedAt ??= now;
  }

  /** How long the model reasoned (ms), or null when it did not. */
  reasoningMs(now: number): number | null {
    if (this.reasoningStartedAt === null) return null;
    return (this.reasoningEndedAt ?? now) - this.reasoningStartedAt;
  }

  #emit(text: string, now: number): void {
    if (!text) return;
    if (this.#thinking) {
      this.reasoning += text;
      return;
    }
    // The answer starts once there is visible text: the newlines after </think> are not it.
    if (this.answer === "" && text.trim() === "") return;
    if (this.reasoningStartedAt !== null) this.reasoningEndedAt ??= now;
    this.answer += this.answer === "" ? text.replace(/^\s+/, "") : text;
  }
}

/** The length of the longest end of `text` that begins `tag` (0 when none). */
function partialTagLength(text: string, tag: string): number {
  for (let length = Math.min(tag.length - 1, text.length); length > 0; length--) {
    if (tag.startsWith(text.slice(text.length - length))) return length;
  }
  return 0;
}
