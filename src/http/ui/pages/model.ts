/**
 * A model's page: its state and actions, and three tabs. Details shows its
 * live status, memory and saved context, and its effective config (after
 * macros, `${PORT}` and defaults; secrets masked) from
 * `/api/config/effective`; Logs its output; Activity its requests.
 */
import { useEffect, useState } from "preact/hooks";
import { getJson, type ModelView } from "../api.ts";
import { ActivityTable } from "../components/activity-table.ts";
import { LogPane } from "../components/log-pane.ts";
import { LogToolbar, useLogSettings } from "../components/log-controls.ts";
import { ModelActions } from "../components/model-actions.ts";
import { MemoryFacts, SavedContextFact } from "../components/model-facts.ts";
import { StateBadge } from "../components/state-badge.ts";
import { Tabs } from "../components/tabs.ts";
import { YamlView } from "../components/yaml-view.ts";
import { html } from "../lib/html.ts";
import { href } from "../lib/route.ts";
import { useServices } from "../lib/services.ts";
import { useStore } from "../lib/store.ts";
import { useStatus } from "../lib/use-status.ts";
import { toYaml } from "../lib/yaml-dump.ts";
import { Uptime } from "./models.ts";

/** The model page, on tab `tab`. */
export function ModelPage({ id, tab }: { id: string; tab: string }) {
  const models = useStore(useServices().live.models);
  const view = models.find((m) => m.model === id);
  const tabs = [
    { id: "details", label: "Details", route: ["models", id] },
    { id: "logs", label: "Logs", route: ["models", id, "logs"] },
    { id: "activity", label: "Activity", route: ["models", id, "activity"] },
  ];
  return html`
    <p class="breadcrumb"><a href=${href("models")}>← Models</a></p>
    <section class="panel model-page" aria-labelledby="model-title" data-model=${id} data-state=${view?.state}>
      <div class="panel-head">
        <div>
          <h1 id="model-title">${id}</h1>
          ${view?.name ? html`<div class="model-name">${view.name}</div>` : null}
        </div>
        ${view ? html`<${StateBadge} state=${view.state} />` : null}
      </div>
      ${!view && models.length > 0 ? html`<p class="error-text" role="alert">No model named “${id}” is configured.</p>` : null}
      ${view ? html`<${ModelActions} view=${view} onPage=${true} />` : null}
      <${Tabs} label="Model" tabs=${tabs} current=${tab} />
      ${tab === "logs" ? html`<${ModelLogs} id=${id} />` : tab === "activity" ? html`<${ActivityTable} model=${id} />` : view ? html`<${ModelDetails} view=${view} />` : null}
    </section>
  `;
}

function ModelLogs({ id }: { id: string }) {
  const settings = useLogSettings();
  return html`
    <${LogToolbar} settings=${settings} />
    <${LogPane} source=${id} label=${`Output of ${id}`} filter=${settings.filter} wrap=${settings.wrap} fontSize=${settings.fontSize}
      following=${settings.following} onFollowingChange=${settings.setFollowing} />
  `;
}

function ModelDetails({ view }: { view: ModelView }) {
  const status = useStatus()?.models.find((m) => m.model === view.model);
  return html`
    <dl class="facts" id="model-facts">
      <dt>state</dt><dd>${view.state}</dd>
      <dt>pid</dt><dd>${view.pid ?? "–"}</dd>
      <dt>address</dt><dd>${view.baseUrl}</dd>
      <dt>uptime</dt><dd><${Uptime} view=${view} /></dd>
      <dt>in flight</dt><dd>${view.inFlight}</dd>
      <dt>queued</dt><dd>${view.queued}</dd>
      <dt>restarts</dt><dd>${view.restarts}</dd>
      <dt>last exit</dt><dd>${view.lastExit ?? "–"}</dd>
      ${view.aliases.length ? html`<dt>aliases</dt><dd>${view.aliases.join(", ")}</dd>` : null}
      ${view.description ? html`<dt>description</dt><dd>${view.description}</dd>` : null}
    </dl>
    ${status?.memory ? html`<h2>Memory</h2><${MemoryFacts} memory=${status.memory} />` : null}
    ${view.savedContext ? html`<h2>Saved context</h2><${SavedContextFact} model=${view.model} saved=${view.savedContext} />` : null}
    <${EffectiveConfig} id=${view.model} />
  `;
}

/** The model's config as modelswap runs it. */
function EffectiveConfig({ id }: { id: string }) {
  const models = useStore(useServices().live.models);
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState("");
  // Read again when what the config says about the models changes (a reload).
  const shape = models.map((m) => [m.model, m.name, m.description, ...m.aliases].join("\t")).join("\n");
  useEffect(() => {
    getJson<{ models: Record<string, unknown> }>("/api/config/effective").then(
      (config) => setText(config.models[id] === undefined ? null : toYaml(config.models[id])),
      (e: Error) => setError(e.message),
    );
  }, [id, shape]);
  return html`
    <h2>Effective config</h2>
    <p class="muted">After macros, <code>\${PORT}</code> and defaults, as modelswap runs it; secrets are masked.</p>
    ${error ? html`<p class="error-text" role="alert">${error}</p>` : text === null ? html`<p class="muted">Loading…</p>` : html`<${YamlView} id="effective-config" text=${text} label=${`Effective config of ${id}`} />`}
  `;
}
