/**
 * The Logs page: the router's log and the models' output side by side
 * (stacked on a narrow screen), the models' pane showing all of them or one,
 * with one filter, wrap, font size and follow/pause for both.
 */
import { useState } from "preact/hooks";
import { LogPane } from "../components/log-pane.ts";
import { LogToolbar, useLogSettings } from "../components/log-controls.ts";
import { ModelSelect } from "../components/model-select.ts";
import { html } from "../lib/html.ts";

/** The Logs page. */
export function LogsPage() {
  const settings = useLogSettings();
  const [model, setModel] = useState("");
  const pane = (source: string, label: string) => html`
    <${LogPane} source=${source} label=${label} filter=${settings.filter} wrap=${settings.wrap} fontSize=${settings.fontSize}
      following=${settings.following} onFollowingChange=${settings.setFollowing} />`;
  return html`
    <section class="panel logs-page" aria-labelledby="logs-title">
      <div class="panel-head"><h1 id="logs-title">Logs</h1><span class="muted"><a href="/logs">plain text</a></span></div>
      <${LogToolbar} settings=${settings} />
      <div class="log-columns">
        <div class="log-column" id="router-log">
          <div class="log-column-head"><h2>Router</h2></div>
          ${pane("proxy", "Router log")}
        </div>
        <div class="log-column" id="upstream-log">
          <div class="log-column-head">
            <h2>Models</h2>
            <${ModelSelect} id="log-model" label="Model whose output is shown" none="All models" value=${model} onChange=${setModel} />
          </div>
          ${pane(model || "upstream", model ? `Output of ${model}` : "Output of all models")}
        </div>
      </div>
    </section>
  `;
}
