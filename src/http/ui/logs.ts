/**
 * The log viewer: the router's log, all models' output, or one model's,
 * read from `/logs/stream/<source>` (history first, then live). Text is
 * appended once per frame and the view keeps only the most recent part, so
 * a chatty upstream cannot make the page sluggish.
 */
import { modelPath } from "./api.ts";
import { h } from "./dom.ts";

/** Characters kept in the view. */
const MAX_CHARS = 300_000;
/** Wait before reconnecting a log stream that ended. */
const RETRY_MS = 2000;

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** A live log viewer with a source picker and a follow toggle. */
export class LogViewer {
  readonly #view: HTMLElement;
  readonly #select: HTMLSelectElement;
  readonly #follow: HTMLInputElement;
  #abort = new AbortController();
  #pending = "";
  #frame = 0;
  #chars = 0;

  constructor(view: HTMLElement, select: HTMLSelectElement, follow: HTMLInputElement) {
    this.#view = view;
    this.#select = select;
    this.#follow = follow;
    select.append(h("option", { value: "proxy" }, "Router"), h("option", { value: "upstream" }, "All models"));
    select.addEventListener("change", () => this.show(select.value));
    follow.addEventListener("change", () => this.#scroll());
    addEventListener("resize", () => this.#scroll());
    view.addEventListener("scroll", () => {
      const atBottom = view.scrollHeight - view.scrollTop - view.clientHeight < 8;
      if (follow.checked !== atBottom) follow.checked = atBottom;
    });
  }

  /** Offer these models as sources (the router and "all models" stay first). */
  setModels(models: string[]): void {
    const current = [...this.#select.options].slice(2).map((option) => option.value);
    if (current.join("\n") === models.join("\n")) return;
    const selected = this.#select.value;
    for (const option of [...this.#select.options].slice(2)) option.remove();
    for (const model of models) this.#select.append(h("option", { value: model }, model));
    if ([...this.#select.options].some((option) => option.value === selected)) this.#select.value = selected;
  }

  /** Show one source: `proxy`, `upstream` or a model id. */
  show(source: string): void {
    this.#select.value = source;
    this.#abort.abort();
    this.#abort = new AbortController();
    void this.#read(source, this.#abort.signal);
  }

  async #read(source: string, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      this.#clear();
      try {
        const response = await fetch(`/logs/stream/${modelPath(source)}`, { signal });
        if (!response.ok || !response.body) {
          this.#append(`[dashboard] cannot read this log: ${response.status} ${await response.text()}\n`);
        } else {
          const reader = response.body.getReader();
          const decoder = new TextDecoder();
          for (let read = await reader.read(); !read.done; read = await reader.read()) {
            this.#append(decoder.decode(read.value, { stream: true }));
          }
        }
      } catch {
        // Aborted (another source was picked) or the connection broke: retried below.
      }
      if (signal.aborted) return;
      this.#append("[dashboard] log stream ended; reconnecting…\n");
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }

  #clear(): void {
    this.#pending = "";
    this.#chars = 0;
    this.#view.replaceChildren();
  }

  #append(text: string): void {
    this.#pending += text.replace(ANSI, "");
    this.#frame ||= requestAnimationFrame(() => this.#flush());
  }

  #flush(): void {
    this.#frame = 0;
    if (!this.#pending) return;
    this.#view.append(this.#pending);
    this.#chars += this.#pending.length;
    this.#pending = "";
    while (this.#chars > MAX_CHARS && this.#view.firstChild) {
      this.#chars -= this.#view.firstChild.textContent?.length ?? 0;
      this.#view.firstChild.remove();
    }
    this.#scroll();
  }

  #scroll(): void {
    if (this.#follow.checked) this.#view.scrollTop = this.#view.scrollHeight;
  }
}
