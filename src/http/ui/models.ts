/**
 * The models panel: one card per configured model with its state, uptime,
 * in-flight and queued counts, and load / unload / logs buttons. Cards are
 * updated in place so a click in progress is never lost to a re-render.
 */
import { loadModel, type ModelView, type SwapEvent, unloadModel } from "./api.ts";
import { h, setText } from "./dom.ts";
import { duration } from "./format.ts";

/** One model's card. */
class ModelCard {
  readonly element: HTMLElement;
  #view: ModelView;
  #receivedAt = Date.now();
  #busy = false;
  readonly #state = h("span", { class: "state" });
  readonly #name = h("div", { class: "model-name" });
  readonly #uptime = h("b");
  readonly #inFlight = h("b");
  readonly #queued = h("b");
  readonly #restarts = h("b");
  readonly #lastExit = h("div", { class: "last-exit" });
  readonly #load = h("button", { class: "btn btn-primary btn-small", type: "button" }, "Load");
  readonly #unload = h("button", { class: "btn btn-small", type: "button" }, "Unload");
  readonly #logs = h("button", { class: "btn btn-quiet btn-small", type: "button" }, "Logs");

  constructor(view: ModelView, showLogs: (id: string) => void) {
    this.#view = view;
    this.element = h(
      "article",
      { class: "model", "data-model": view.model },
      h("div", { class: "model-top" }, h("div", {}, h("div", { class: "model-id" }, view.model), this.#name), this.#state),
      h(
        "div",
        { class: "stats" },
        h("span", {}, "uptime", this.#uptime),
        h("span", {}, "in flight", this.#inFlight),
        h("span", {}, "queued", this.#queued),
        h("span", {}, "restarts", this.#restarts),
      ),
      this.#lastExit,
      h("div", { class: "actions" }, this.#load, this.#unload, this.#logs),
    );
    this.#load.addEventListener("click", () => this.#act("load", () => loadModel(this.#view.model)));
    this.#unload.addEventListener("click", () => this.#act("unload", () => unloadModel(this.#view.model)));
    this.#logs.addEventListener("click", () => showLogs(this.#view.model));
    this.update(view);
  }

  update(view: ModelView): void {
    this.#view = view;
    this.#receivedAt = Date.now();
    this.element.dataset.state = view.state;
    this.#state.dataset.state = view.state;
    setText(this.#state, view.state);
    const names = [view.name, view.aliases.length ? `aka ${view.aliases.join(", ")}` : "", view.unlisted ? "unlisted" : ""];
    setText(this.#name, names.filter(Boolean).join(" · "));
    setText(this.#inFlight, String(view.inFlight));
    setText(this.#queued, String(view.queued));
    setText(this.#restarts, String(view.restarts));
    if (!this.#lastExit.dataset.error) setText(this.#lastExit, view.lastExit && view.state !== "ready" ? `last exit: ${view.lastExit}` : "");
    this.tick();
    this.#syncButtons();
  }

  /** Refresh the uptime between server updates. */
  tick(): void {
    const { uptimeMs, state } = this.#view;
    setText(this.#uptime, state === "ready" && uptimeMs !== null ? duration(uptimeMs + Date.now() - this.#receivedAt) : "–");
  }

  async #act(what: "load" | "unload", action: () => Promise<void>): Promise<void> {
    this.#busy = true;
    delete this.#lastExit.dataset.error;
    setText(this.#lastExit, "");
    setText(what === "load" ? this.#load : this.#unload, what === "load" ? "Loading…" : "Unloading…");
    this.#syncButtons();
    try {
      await action();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#lastExit.dataset.error = "1";
      this.#lastExit.title = message;
      setText(this.#lastExit, `${what} failed: ${message.split("\n")[0]}`);
    } finally {
      this.#busy = false;
      setText(this.#load, "Load");
      setText(this.#unload, "Unload");
      this.#syncButtons();
    }
  }

  #syncButtons(): void {
    const { state } = this.#view;
    this.#load.disabled = this.#busy || state === "ready" || state === "starting";
    this.#unload.disabled = this.#busy || state === "stopped";
  }
}

/** The models panel. */
export class ModelsPanel {
  readonly #grid: HTMLElement;
  readonly #summary: HTMLElement;
  readonly #swapNote: HTMLElement;
  readonly #showLogs: (id: string) => void;
  readonly #cards = new Map<string, ModelCard>();

  constructor(grid: HTMLElement, summary: HTMLElement, swapNote: HTMLElement, showLogs: (id: string) => void) {
    this.#grid = grid;
    this.#summary = summary;
    this.#swapNote = swapNote;
    this.#showLogs = showLogs;
    setInterval(() => this.#cards.forEach((card) => card.tick()), 1000);
  }

  /** Show this list (the whole configured set, as the server sent it). */
  update(models: ModelView[]): void {
    const seen = new Set<string>();
    for (const view of models) {
      seen.add(view.model);
      const card = this.#cards.get(view.model);
      if (card) card.update(view);
      else this.#cards.set(view.model, new ModelCard(view, this.#showLogs));
    }
    for (const id of this.#cards.keys()) if (!seen.has(id)) this.#cards.delete(id);
    const elements = models.map((view) => this.#cards.get(view.model)!.element);
    const children = this.#grid.children;
    // Re-inserting cards would drop the focus of a button being used; only do it when the list changed.
    if (elements.length !== children.length || elements.some((element, i) => children[i] !== element)) {
      this.#grid.replaceChildren(...elements);
    }
    const ready = models.filter((m) => m.state === "ready").length;
    const busy = models.reduce((sum, m) => sum + m.inFlight + m.queued, 0);
    setText(this.#summary, `${models.length} configured · ${ready} ready${busy ? ` · ${busy} request${busy === 1 ? "" : "s"} active` : ""}`);
  }

  /** Describe the latest swap under the panel title. */
  swap(event: SwapEvent): void {
    const evicting = event.evict.length ? `, evicting ${event.evict.join(", ")}` : "";
    const why = event.reason ? ` (${event.reason})` : "";
    let text: string;
    if (event.phase === "started") text = `Swapping to ${event.target}${evicting}${why}…`;
    else if (event.error) text = `Swap to ${event.target} failed after ${duration(event.durationMs ?? 0)}: ${event.error.split("\n")[0]}`;
    else text = `Swapped to ${event.target}${evicting} in ${duration(event.durationMs ?? 0)}${why}`;
    this.#swapNote.hidden = false;
    setText(this.#swapNote, text);
  }
}
