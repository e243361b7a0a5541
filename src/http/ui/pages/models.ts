/**
 * The Models page: one card per configured model (state, uptime, load,
 * memory, saved context, the model's own server UI), load/unload, unload
 * all, the active profile, and whether unlisted models are shown.
 */
import { useEffect, useState } from "preact/hooks";
import { type ApiError, getJson, type ModelView, type Profiles, sendJson, type StatusModel, unloadAll } from "../api.ts";
import { ModelActions } from "../components/model-actions.ts";
import { MemoryFacts, SavedContextFact } from "../components/model-facts.ts";
import { StateBadge } from "../components/state-badge.ts";
import { SwapNote } from "../components/swap-note.ts";
import { duration } from "../lib/format.ts";
import { html } from "../lib/html.ts";
import { usePreference } from "../lib/persist.ts";
import { href } from "../lib/route.ts";
import { useServices } from "../lib/services.ts";
import { useStore } from "../lib/store.ts";
import { useStatus } from "../lib/use-status.ts";

/** The Models page. */
export function ModelsPage() {
  const { live } = useServices();
  const models = useStore(live.models);
  const status = useStatus();
  const [showUnlisted, setShowUnlisted] = usePreference("showUnlisted", false);
  const shown = models.filter((m) => showUnlisted || !m.unlisted);
  const hidden = models.length - shown.length;
  const ready = models.filter((m) => m.state === "ready").length;
  const busy = models.reduce((sum, m) => sum + m.inFlight + m.queued, 0);

  return html`
    <section class="panel" aria-labelledby="models-title">
      <div class="panel-head">
        <div>
          <h1 id="models-title">Models</h1>
          <span id="models-summary" class="muted">${models.length} configured · ${ready} ready${busy ? ` · ${busy} request${busy === 1 ? "" : "s"} active` : ""}${hidden ? ` · ${hidden} unlisted hidden` : ""}</span>
        </div>
        <div class="toolbar">
          <${ProfileSwitch} />
          <label class="check"><input id="show-unlisted" type="checkbox" checked=${showUnlisted} onChange=${(e: Event) => setShowUnlisted((e.currentTarget as HTMLInputElement).checked)} /> show unlisted</label>
          <${UnloadAllButton} />
        </div>
      </div>
      <${SwapNote} />
      <div id="models" class="model-grid">
        ${shown.map((view) => html`<${ModelCard} key=${view.model} view=${view} status=${status?.models.find((m) => m.model === view.model)} />`)}
      </div>
      ${models.length === 0 ? html`<p class="muted empty">No models are configured.</p>` : null}
    </section>
  `;
}

function UnloadAllButton() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const click = async () => {
    setBusy(true);
    setError("");
    try {
      await unloadAll();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <button id="unload-all" type="button" class="btn" disabled=${busy} onClick=${click} title=${error || "Stop every running model"}>${busy ? "Unloading…" : "Unload all"}</button>
  `;
}

/** The active profile: none, or one of the configured ones (`GET /api/profiles`, `PUT /api/profiles/active`). */
function ProfileSwitch() {
  const models = useStore(useServices().live.models);
  const [profiles, setProfiles] = useState<Profiles | null>(null);
  const [error, setError] = useState("");
  // A reload resets the profile and may change the list: read it again when the model list changes.
  const shape = models.map((m) => m.model).join("\n");
  useEffect(() => {
    getJson<Profiles>("/api/profiles").then(setProfiles, (e: ApiError) => setError(e.message));
  }, [shape]);
  if (!profiles || profiles.profiles.length === 0) return null;
  const change = async (event: Event) => {
    const name = (event.currentTarget as HTMLSelectElement).value;
    setError("");
    try {
      const { active } = await sendJson<{ active: string | null }>("PUT", "/api/profiles/active", { name: name || null });
      setProfiles({ ...profiles, active });
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const active = profiles.profiles.find((p) => p.id === profiles.active);
  return html`
    <label class="field-inline" title=${active?.description || error || "Profiles pin requested names to other models"}>
      <span class="muted">Profile</span>
      <select id="profile" aria-label="Active profile" value=${profiles.active ?? ""} onChange=${change}>
        <option value="">none</option>
        ${profiles.profiles.map((p) => html`<option value=${p.id}>${p.id}</option>`)}
      </select>
      ${error ? html`<span class="error-text" role="alert">${error}</span>` : null}
    </label>
  `;
}

/** One model's card. */
function ModelCard({ view, status }: { view: ModelView; status: StatusModel | undefined }) {
  const names = [view.name, view.aliases.length ? `aka ${view.aliases.join(", ")}` : "", view.unlisted ? "unlisted" : ""].filter(Boolean).join(" · ");
  return html`
    <article class="model card" data-model=${view.model} data-state=${view.state}>
      <div class="model-top">
        <div>
          <a class="model-id" href=${href("models", view.model)}>${view.model}</a>
          ${names ? html`<div class="model-name">${names}</div>` : null}
        </div>
        <${StateBadge} state=${view.state} />
      </div>
      ${view.description ? html`<p class="model-description">${view.description}</p>` : null}
      <div class="stats">
        <span>uptime<b><${Uptime} view=${view} /></b></span>
        <span>in flight<b>${view.inFlight}</b></span>
        <span>queued<b>${view.queued}</b></span>
        <span>restarts<b>${view.restarts}</b></span>
      </div>
      ${status?.memory ? html`<${MemoryFacts} memory=${status.memory} />` : null}
      ${view.savedContext ? html`<${SavedContextFact} model=${view.model} saved=${view.savedContext} />` : null}
      ${view.lastExit && view.state !== "ready" ? html`<div class="last-exit">last exit: ${view.lastExit}</div>` : null}
      <${ModelActions} view=${view} />
    </article>
  `;
}

/** Time since the model became ready, ticking between server updates. */
export function Uptime({ view }: { view: ModelView }) {
  const [receivedAt, setReceivedAt] = useState(Date.now());
  const [, tick] = useState(0);
  useEffect(() => setReceivedAt(Date.now()), [view]);
  useEffect(() => {
    if (view.state !== "ready") return;
    const timer = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(timer);
  }, [view.state]);
  return html`${view.state === "ready" && view.uptimeMs !== null ? duration(view.uptimeMs + Date.now() - receivedAt) : "–"}`;
}
