/**
 * The playground: a small chat with a chosen model, streamed token by token
 * through the router (`POST /v1/chat/completions` with `stream: true`), as
 * any OpenAI client would. Shows the model's thinking (and modelswap's
 * loading progress, sent the same way) apart from the answer.
 */
import { responseError } from "./api.ts";
import { h, setText } from "./dom.ts";
import { speed } from "./format.ts";

interface ChatMessage {
  role: "user" | "assistant";
  content: string;
}

/** What one streamed chunk may carry. */
interface Chunk {
  choices?: { delta?: { content?: string | null; reasoning_content?: string | null } }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  timings?: { predicted_per_second?: number };
  error?: { message?: string };
}

/** The chat playground. */
export class Playground {
  readonly #log: HTMLElement;
  readonly #model: HTMLSelectElement;
  readonly #input: HTMLTextAreaElement;
  readonly #send: HTMLButtonElement;
  #history: ChatMessage[] = [];
  #abort: AbortController | null = null;

  constructor(form: HTMLFormElement, log: HTMLElement, model: HTMLSelectElement, input: HTMLTextAreaElement, send: HTMLButtonElement, clear: HTMLButtonElement) {
    this.#log = log;
    this.#model = model;
    this.#input = input;
    this.#send = send;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.#abort) this.#abort.abort();
      else void this.#ask();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    clear.addEventListener("click", () => {
      this.#abort?.abort();
      this.#history = [];
      this.#log.replaceChildren(h("p", { class: "muted empty" }, "Cleared. Say hello again."));
    });
  }

  /** Offer these models, keeping the current choice when it still exists. */
  setModels(models: string[]): void {
    const current = [...this.#model.options].map((option) => option.value);
    if (current.join("\n") === models.join("\n")) return;
    const selected = this.#model.value;
    this.#model.replaceChildren(...models.map((id) => h("option", { value: id }, id)));
    if (models.includes(selected)) this.#model.value = selected;
  }

  async #ask(): Promise<void> {
    const text = this.#input.value.trim();
    const model = this.#model.value;
    if (!text || !model) return;
    this.#log.querySelector(".empty")?.remove();
    this.#input.value = "";
    this.#history.push({ role: "user", content: text });
    this.#bubble("msg msg-user", text);
    const answer = h("span", { class: "answer" });
    const thinking = h("span", { class: "thinking" });
    const meta = h("span", { class: "meta" }, model);
    const bubble = this.#bubble("msg msg-assistant", "");
    bubble.append(thinking, answer, meta);
    const abort = new AbortController();
    this.#abort = abort;
    setText(this.#send, "Stop");
    const started = performance.now();
    let content = "";
    try {
      const response = await fetch("/v1/chat/completions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model, messages: this.#history, stream: true, stream_options: { include_usage: true } }),
        signal: abort.signal,
      });
      if (!response.ok || !response.body) throw await responseError(response);
      let tokens: number | null = null;
      let rate: number | null = null;
      await readEvents(response.body, (chunk) => {
        if (chunk.error) throw new Error(chunk.error.message ?? "the stream ended with an error");
        const delta = chunk.choices?.[0]?.delta;
        if (delta?.reasoning_content) thinking.textContent += delta.reasoning_content;
        if (delta?.content) {
          content += delta.content;
          answer.textContent = content;
        }
        tokens = chunk.usage?.completion_tokens ?? tokens;
        rate = chunk.timings?.predicted_per_second ?? rate;
        this.#scroll();
      });
      const seconds = (performance.now() - started) / 1000;
      const parts = [model, `${seconds.toFixed(1)} s`];
      if (tokens !== null) parts.push(`${tokens} tokens`);
      if (rate !== null) parts.push(`${speed(rate)} tok/s`);
      setText(meta, parts.join(" · "));
      this.#history.push({ role: "assistant", content });
    } catch (error) {
      if (abort.signal.aborted) {
        setText(meta, `${model} · stopped`);
        if (content) this.#history.push({ role: "assistant", content });
      } else {
        bubble.remove();
        this.#history.pop();
        this.#bubble("msg msg-error", error instanceof Error ? error.message : String(error));
      }
    } finally {
      this.#abort = null;
      setText(this.#send, "Send");
      this.#scroll();
    }
  }

  #bubble(className: string, text: string): HTMLElement {
    const bubble = h("div", { class: className }, text);
    this.#log.append(bubble);
    this.#scroll();
    return bubble;
  }

  #scroll(): void {
    this.#log.scrollTop = this.#log.scrollHeight;
  }
}

/** Read an SSE body and hand each JSON `data:` payload to `onChunk` (stops at `[DONE]`). */
async function readEvents(body: ReadableStream<Uint8Array>, onChunk: (chunk: Chunk) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    buffer += decoder.decode(read.value, { stream: true });
    let newline = buffer.indexOf("\n");
    while (newline >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf("\n");
      if (!line.startsWith("data:")) continue;
      const data = line.slice(5).trim();
      if (data === "[DONE]") {
        await reader.cancel();
        return;
      }
      onChunk(JSON.parse(data) as Chunk);
    }
  }
}
