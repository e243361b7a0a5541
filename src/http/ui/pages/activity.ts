/**
 * The Activity page: totals and the generation-speed histogram
 * (`/api/metrics/stats`), the requests in flight with a Cancel button
 * (`/api/inflight`, read every second while the page is open), and the
 * stored requests (see components/activity-table.ts).
 */
import { useEffect, useState } from "preact/hooks";
import { type ActivityStats, cancelInflight, getJson, type Histogram, type InflightRequest } from "../api.ts";
import { ActivityTable } from "../components/activity-table.ts";
import { Chart } from "../components/chart.ts";
import { bytes, count, duration, speed } from "../lib/format.ts";
import { html } from "../lib/html.ts";
import { href } from "../lib/route.ts";
import { useServices } from "../lib/services.ts";
import { useStore } from "../lib/store.ts";

/** How often the in-flight list is read while the page is open. */
const INFLIGHT_INTERVAL_MS = 1000;

/** The Activity page. */
export function ActivityPage() {
  return html`
    <${ActivityStatsPanel} />
    <${InflightPanel} />
    <section class="panel" aria-labelledby="activity-title">
      <div class="panel-head">
        <h1 id="activity-title">Activity</h1>
        <span class="muted"><a href="/metrics">metrics</a> · <a href="/api/metrics/activity">json</a></span>
      </div>
      <${ActivityTable} />
    </section>
  `;
}

/** Totals and the tokens-per-second histogram, read again as requests finish. */
function ActivityStatsPanel() {
  const recent = useStore(useServices().live.activity);
  const [stats, setStats] = useState<ActivityStats | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const timer = setTimeout(() => getJson<ActivityStats>("/api/metrics/stats").then(setStats, (e: Error) => setError(e.message)), stats ? 500 : 0);
    return () => clearTimeout(timer);
  }, [recent]);
  if (error) return html`<section class="panel"><p class="error-text" role="alert">Statistics unavailable: ${error}</p></section>`;
  if (!stats) return null;
  return html`
    <section class="panel stats-panel" aria-label="Totals">
      <div class="totals" id="activity-totals">
        <div><span class="muted">requests</span><b data-total="requests">${count(stats.total_requests)}</b></div>
        <div><span class="muted">prompt tokens</span><b data-total="input">${count(stats.total_input_tokens)}</b></div>
        <div><span class="muted">generated tokens</span><b data-total="output">${count(stats.total_output_tokens)}</b></div>
        <div><span class="muted">cached tokens</span><b data-total="cached">${count(stats.total_cache_tokens)}</b></div>
      </div>
      ${stats.gen_histogram ? html`<${SpeedHistogram} histogram=${stats.gen_histogram} />` : html`<p class="muted">No generation speeds recorded yet.</p>`}
    </section>
  `;
}

/** How many requests generated at what speed, with the percentiles. */
function SpeedHistogram({ histogram }: { histogram: Histogram }) {
  const centres = histogram.bins.map((_, i) => histogram.min + (i + 0.5) * histogram.binSize);
  return html`
    <div class="histogram" id="speed-histogram">
      <div class="muted">Generation speed (tokens/s): p50 <b>${speed(histogram.p50)}</b> · p95 <b>${speed(histogram.p95)}</b> · p99 <b>${speed(histogram.p99)}</b></div>
      <${Chart} label="Histogram of generation speeds" time=${false} bars=${true} height=${140}
        data=${[centres, histogram.bins]} series=${[{ label: "requests", format: (v: number) => String(v) }]} />
    </div>
  `;
}

/** Requests running now, each with a Cancel button. */
function InflightPanel() {
  const [requests, setRequests] = useState<InflightRequest[] | null>(null);
  const [error, setError] = useState("");
  const [cancelling, setCancelling] = useState<Record<string, string>>({});
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const poll = async () => {
      try {
        const { requests } = await getJson<{ requests: InflightRequest[] }>("/api/inflight");
        if (!stopped) setRequests(requests);
        setError("");
      } catch (e) {
        if (!stopped) setError((e as Error).message);
      }
      if (!stopped) timer = setTimeout(poll, INFLIGHT_INTERVAL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);
  const cancel = async (id: string) => {
    setCancelling({ ...cancelling, [id]: "cancelling" });
    try {
      await cancelInflight(id);
    } catch (e) {
      setCancelling({ ...cancelling, [id]: (e as Error).message });
    }
  };
  return html`
    <section class="panel" aria-labelledby="inflight-title">
      <div class="panel-head"><h2 id="inflight-title">In flight</h2><span class="muted">${requests ? `${requests.length} running` : ""}</span></div>
      ${error ? html`<p class="error-text" role="alert">${error}</p>` : null}
      ${requests && requests.length === 0 ? html`<p class="muted empty" id="inflight-empty">Nothing is running.</p>` : null}
      ${requests && requests.length > 0 ? html`
        <div class="table-wrap"><table class="data" id="inflight">
          <thead><tr><th>#</th><th>Model</th><th>Path</th><th class="num">Running</th><th class="num">Sent</th><th></th></tr></thead>
          <tbody>${requests.map((r) => html`
            <tr data-id=${r.id}>
              <td>${r.id}</td>
              <td><a href=${href("models", r.model)}>${r.model}</a></td>
              <td>${r.req_path}${r.waiting ? html` <span class="muted">(waiting for the model)</span>` : null}</td>
              <td class="num">${duration(r.elapsed_ms)}</td>
              <td class="num">${bytes(r.resp_bytes)}</td>
              <td><button type="button" class="btn btn-small" disabled=${!r.cancellable || cancelling[r.id] === "cancelling"} title=${cancelling[r.id] && cancelling[r.id] !== "cancelling" ? cancelling[r.id] : r.cancellable ? "End this request now" : "This request passes through and cannot be cancelled here"}
                onClick=${() => cancel(r.id)}>${cancelling[r.id] === "cancelling" ? "Cancelling…" : "Cancel"}</button></td>
            </tr>`)}
          </tbody>
        </table></div>` : null}
    </section>
  `;
}
