/**
 * The chat playground: a conversation with any model, streamed token by
 * token as an OpenAI client would see it (`/v1/chat/completions`, or a
 * plain prompt to `/v1/completions`), with a system prompt, temperature and
 * token limit, images for vision models, the model's reasoning shown apart
 * with how long it took, and the answer rendered as Markdown.
 */
import { useRef, useState } from "preact/hooks";
import { responseError } from "../../api.ts";
import { ModelSelect } from "../../components/model-select.ts";
import { ReplyAssembler, readSse, type StreamChunk } from "../../lib/chat-stream.ts";
import { duration, speed } from "../../lib/format.ts";
import { html } from "../../lib/html.ts";
import { renderMarkdown } from "../../lib/markdown.ts";
import { usePreference } from "../../lib/persist.ts";

/** Images attached to one message at most, and the size of each. */
const MAX_IMAGES = 8;
const MAX_IMAGE_BYTES = 10 * 1024 * 1024;

type Endpoint = "chat" | "completions";

/** An image attached to a message, as a data URL. */
interface Attachment {
  name: string;
  url: string;
}

/** One message of the conversation as shown. */
interface Message {
  role: "user" | "assistant" | "error";
  text: string;
  images?: Attachment[];
  reasoning?: string;
  reasoningMs?: number | null;
  /** The reasoning is still arriving. */
  thinking?: boolean;
  meta?: string;
}

/** The settings of a request. */
interface ChatSettings {
  system: string;
  temperature: number | null;
  maxTokens: number | null;
  endpoint: Endpoint;
}

/** The OpenAI messages of the conversation so far (errors left out), the system prompt first. */
function openAiMessages(history: Message[], system: string): unknown[] {
  const messages: unknown[] = system.trim() ? [{ role: "system", content: system }] : [];
  for (const message of history) {
    if (message.role === "error") continue;
    if (message.images?.length) {
      messages.push({
        role: message.role,
        content: [{ type: "text", text: message.text }, ...message.images.map((image) => ({ type: "image_url", image_url: { url: image.url } }))],
      });
    } else {
      messages.push({ role: message.role, content: message.text });
    }
  }
  return messages;
}

/** The request body for the endpoint. */
function requestBody(model: string, settings: ChatSettings, history: Message[]): Record<string, unknown> {
  const common: Record<string, unknown> = { model, stream: true, stream_options: { include_usage: true } };
  if (settings.temperature !== null) common.temperature = settings.temperature;
  if (settings.maxTokens !== null) common.max_tokens = settings.maxTokens;
  if (settings.endpoint === "completions") {
    const prompt = history.at(-1)!.text;
    return { ...common, prompt: settings.system.trim() ? `${settings.system}\n\n${prompt}` : prompt };
  }
  return { ...common, messages: openAiMessages(history, settings.system) };
}

/** Read files as data URLs, refusing what is not an image or too large. */
async function attach(files: FileList, current: Attachment[]): Promise<{ images: Attachment[]; error: string }> {
  const images = [...current];
  for (const file of [...files]) {
    if (images.length >= MAX_IMAGES) return { images, error: `at most ${MAX_IMAGES} images per message` };
    if (!file.type.startsWith("image/")) return { images, error: `${file.name} is not an image` };
    if (file.size > MAX_IMAGE_BYTES) return { images, error: `${file.name} is larger than ${MAX_IMAGE_BYTES / 1024 / 1024} MiB` };
    const url = await new Promise<string>((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result));
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
    images.push({ name: file.name, url });
  }
  return { images, error: "" };
}

/** The chat tab. */
export function ChatPlayground() {
  const [model, setModel] = usePreference("playgroundModel", "");
  const [settings, setSettings] = usePreference<ChatSettings>("chatSettings", { system: "", temperature: null, maxTokens: null, endpoint: "chat" });
  const [history, setHistory] = useState<Message[]>([]);
  const [input, setInput] = useState("");
  const [images, setImages] = useState<Attachment[]>([]);
  const [notice, setNotice] = useState("");
  const abort = useRef<AbortController | null>(null);
  const log = useRef<HTMLDivElement>(null);
  const [busy, setBusy] = useState(false);
  const scroll = () => requestAnimationFrame(() => log.current && (log.current.scrollTop = log.current.scrollHeight));

  const send = async () => {
    const text = input.trim();
    if (!text || !model || busy) return;
    const user: Message = { role: "user", text, images: settings.endpoint === "chat" && images.length ? images : undefined };
    const sent = [...history, user];
    setHistory([...sent, { role: "assistant", text: "", meta: model }]);
    setInput("");
    setImages([]);
    setBusy(true);
    scroll();
    const controller = new AbortController();
    abort.current = controller;
    const reply = new ReplyAssembler();
    const started = performance.now();
    let tokens: number | null = null;
    let rate: number | null = null;
    const show = (meta: string, done = false) => {
      setHistory([...sent, {
        role: "assistant",
        text: reply.answer,
        reasoning: reply.reasoning,
        reasoningMs: reply.reasoningMs(performance.now()),
        thinking: !done && reply.reasoning !== "" && reply.reasoningEndedAt === null,
        meta,
      }]);
      scroll();
    };
    try {
      const path = settings.endpoint === "completions" ? "/v1/completions" : "/v1/chat/completions";
      const response = await fetch(path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(requestBody(model, settings, sent)),
        signal: controller.signal,
      });
      if (!response.ok || !response.body) throw await responseError(response);
      await readSse(response.body, (data) => {
        const chunk = JSON.parse(data) as StreamChunk;
        if (chunk.error) throw new Error(typeof chunk.error === "string" ? chunk.error : chunk.error.message ?? "the stream ended with an error");
        const choice = chunk.choices?.[0];
        const now = performance.now();
        reply.addReasoning(choice?.delta?.reasoning_content ?? choice?.delta?.reasoning ?? "", now);
        reply.addContent(choice?.delta?.content ?? choice?.text ?? "", now);
        tokens = chunk.usage?.completion_tokens ?? chunk.timings?.predicted_n ?? tokens;
        rate = chunk.timings?.predicted_per_second ?? rate;
        show(model);
      });
      reply.finish(performance.now());
      const parts = [model, `${((performance.now() - started) / 1000).toFixed(1)} s`];
      if (tokens !== null) parts.push(`${tokens} tokens`);
      if (rate !== null) parts.push(`${speed(rate)} tok/s`);
      show(parts.join(" · "), true);
    } catch (error) {
      reply.finish(performance.now());
      if (controller.signal.aborted) show(`${model} · stopped`, true);
      else setHistory([...sent, { role: "error", text: (error as Error).message }]);
    } finally {
      abort.current = null;
      setBusy(false);
      scroll();
    }
  };

  const onKey = (event: KeyboardEvent) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      void send();
    }
  };
  const number = (value: string) => (value.trim() === "" ? null : Number(value));

  return html`
    <div class="chat">
      <details class="settings" id="chat-settings">
        <summary>Settings${settings.system.trim() ? " · system prompt set" : ""}${settings.endpoint === "completions" ? " · /v1/completions" : ""}</summary>
        <div class="settings-grid">
          <label class="field wide"><span>System prompt</span>
            <textarea id="chat-system" rows="2" value=${settings.system} onInput=${(e: Event) => setSettings({ ...settings, system: (e.currentTarget as HTMLTextAreaElement).value })}></textarea>
          </label>
          <label class="field"><span>Temperature</span>
            <input id="chat-temperature" type="number" min="0" max="2" step="0.1" placeholder="model default" value=${settings.temperature ?? ""}
              onInput=${(e: Event) => setSettings({ ...settings, temperature: number((e.currentTarget as HTMLInputElement).value) })} />
          </label>
          <label class="field"><span>Max tokens</span>
            <input id="chat-max-tokens" type="number" min="1" step="1" placeholder="model default" value=${settings.maxTokens ?? ""}
              onInput=${(e: Event) => setSettings({ ...settings, maxTokens: number((e.currentTarget as HTMLInputElement).value) })} />
          </label>
          <label class="field"><span>Endpoint</span>
            <select id="chat-endpoint" value=${settings.endpoint} onChange=${(e: Event) => setSettings({ ...settings, endpoint: (e.currentTarget as HTMLSelectElement).value as Endpoint })}>
              <option value="chat">/v1/chat/completions</option>
              <option value="completions">/v1/completions (plain prompt)</option>
            </select>
          </label>
        </div>
      </details>
      <div id="chat-log" class="chat-log" ref=${log} aria-live="polite">
        ${history.length === 0 ? html`<p class="muted empty">Pick a model and say hello. Replies stream in as they are generated.</p>` : null}
        ${history.map((message) => html`<${Bubble} message=${message} />`)}
      </div>
      ${images.length ? html`<div class="attachments" id="chat-attachments">${images.map((image, i) => html`
        <figure class="attachment"><img src=${image.url} alt=${image.name} /><button type="button" class="btn btn-quiet btn-small" aria-label=${`Remove ${image.name}`}
          onClick=${() => setImages(images.filter((_, j) => j !== i))}>✕</button></figure>`)}</div>` : null}
      ${notice ? html`<p class="error-text" role="alert">${notice}</p>` : null}
      <form class="chat-form" onSubmit=${(e: Event) => {
    e.preventDefault();
    if (busy) abort.current?.abort();
    else void send();
  }}>
        <div class="chat-form-top">
          <${ModelSelect} id="chat-model" label="Model" value=${model} onChange=${setModel} none=${model ? undefined : "Pick a model"} />
          <label class="btn btn-small file-button" title="Attach images (vision models)">
            Attach image<input id="chat-image" type="file" accept="image/*" multiple class="visually-hidden" disabled=${settings.endpoint !== "chat"}
              onChange=${async (e: Event) => {
    const files = (e.currentTarget as HTMLInputElement).files;
    if (!files) return;
    const { images: next, error } = await attach(files, images);
    setImages(next);
    setNotice(error);
    (e.target as HTMLInputElement).value = "";
  }} />
          </label>
          <button type="button" id="chat-clear" class="btn btn-quiet btn-small" onClick=${() => {
    abort.current?.abort();
    setHistory([]);
  }}>Clear</button>
        </div>
        <textarea id="chat-input" rows="2" placeholder="Message (Enter to send, Shift+Enter for a new line)" aria-label="Message" value=${input}
          onInput=${(e: Event) => setInput((e.currentTarget as HTMLTextAreaElement).value)} onKeyDown=${onKey}></textarea>
        <button id="chat-send" class="btn btn-primary" type="submit">${busy ? "Stop" : "Send"}</button>
      </form>
    </div>
  `;
}

/** One message. */
function Bubble({ message }: { message: Message }) {
  if (message.role === "user") {
    return html`<div class="msg msg-user">${message.text}${message.images?.length ? html`<div class="msg-images">${message.images.map((image) => html`<img src=${image.url} alt=${image.name} />`)}</div>` : null}</div>`;
  }
  if (message.role === "error") return html`<div class="msg msg-error" role="alert">${message.text}</div>`;
  return html`
    <div class="msg msg-assistant">
      ${message.reasoning ? html`
        <details class="reasoning" open=${message.thinking}>
          <summary>${message.thinking ? "Thinking…" : `Thought for ${duration(message.reasoningMs ?? 0)}`}</summary>
          <div class="reasoning-text">${message.reasoning}</div>
        </details>` : null}
      <div class="answer markdown">${renderMarkdown(message.text)}</div>
      <span class="meta">${message.meta}</span>
    </div>
  `;
}
