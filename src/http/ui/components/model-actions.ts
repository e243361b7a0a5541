/**
 * A model's actions: load, unload, its page, its log, and its own server's
 * UI (llama-server's web page, reached through `/upstream/<model>/`, which
 * loads the model if needed).
 */
import { useState } from "preact/hooks";
import { loadModel, modelPath, type ModelView, unloadModel } from "../api.ts";
import { html } from "../lib/html.ts";
import { href } from "../lib/route.ts";

/** Props of {@link ModelActions}. */
export interface ModelActionsProps {
  view: ModelView;
  /** Leave out the links to the model's own page (on that page). */
  onPage?: boolean;
}

/** The action buttons and links of one model. */
export function ModelActions({ view, onPage = false }: ModelActionsProps) {
  const [busy, setBusy] = useState<"load" | "unload" | null>(null);
  const [error, setError] = useState("");
  const act = async (what: "load" | "unload") => {
    setBusy(what);
    setError("");
    try {
      await (what === "load" ? loadModel(view.model) : unloadModel(view.model));
    } catch (e) {
      setError(`${what} failed: ${(e as Error).message.split("\n")[0]}`);
    } finally {
      setBusy(null);
    }
  };
  const { state } = view;
  return html`
    ${error ? html`<div class="last-exit error-text" role="alert" title=${error}>${error}</div>` : null}
    <div class="actions">
      <button type="button" class="btn btn-primary btn-small" disabled=${busy !== null || state === "ready" || state === "starting"} onClick=${() => act("load")}>${busy === "load" ? "Loading…" : "Load"}</button>
      <button type="button" class="btn btn-small" disabled=${busy !== null || state === "stopped"} onClick=${() => act("unload")}>${busy === "unload" ? "Unloading…" : "Unload"}</button>
      ${onPage ? null : html`<a class="btn btn-quiet btn-small" href=${href("models", view.model)}>Details</a>`}
      ${onPage ? null : html`<a class="btn btn-quiet btn-small" href=${href("models", view.model, "logs")}>Logs</a>`}
      <a class="btn btn-quiet btn-small" href=${`/upstream/${modelPath(view.model)}/`} target="_blank" rel="noopener" title="The model's own server UI (loads the model if needed)">Server UI ↗</a>
    </div>
  `;
}
