/**
 * The Performance page: the machine's devices now (memory, utilisation —
 * the CPUs' use on the ram card —
 * temperature, power, and which model holds what), their memory and
 * utilisation over time (read every few seconds while the dashboard is
 * open), and the swaps seen since the page opened: a lane per model showing
 * when it was starting, ready or stopping, and each swap with what it
 * evicted, why, how long it took and what context it kept.
 */
import { useEffect, useState } from "preact/hooks";
import type { HardwareDevice } from "../api.ts";
import { Chart } from "../components/chart.ts";
import { bytes, clock, duration, percent, plural } from "../lib/format.ts";
import type { HardwareSample } from "../lib/hardware.ts";
import { html } from "../lib/html.ts";
import type { SwapRecord, Transition } from "../lib/live.ts";
import { href } from "../lib/route.ts";
import { useServices } from "../lib/services.ts";
import { useStore } from "../lib/store.ts";

/** The Performance page. */
export function PerformancePage() {
  return html`
    <${Hardware} />
    <${SwapTimeline} />
  `;
}

function Hardware() {
  const { hardware, live } = useServices();
  const samples = useStore(hardware.samples);
  const states = useStore(live.models).map((m) => `${m.model}:${m.state}`).join(" ");
  // A model that started or stopped changes which model holds what: read the devices again soon.
  useEffect(() => hardware.refreshSoon(), [states]);
  const availability = useStore(hardware.availability);
  const latest = samples.at(-1)?.info;
  return html`
    <section class="panel" aria-labelledby="hardware-title">
      <div class="panel-head">
        <h1 id="hardware-title">Hardware</h1>
        <span class="muted">${latest ? `${latest.vendor ? `GPUs via ${latest.vendor === "nvidia" ? "nvidia-smi" : "rocm-smi"}` : "no GPU tool found: RAM only"} · read ${clock(latest.sampledAt)}` : ""}</span>
      </div>
      ${availability === "no" ? html`<p class="muted">This modelswap has no hardware monitor.</p>` : null}
      ${!latest && availability !== "no" ? html`<p class="muted">Reading the hardware…</p>` : null}
      ${latest ? html`<div class="device-grid" id="devices">${latest.devices.map((device) => html`<${DeviceCard} device=${device} />`)}</div>` : null}
      ${samples.length > 0 ? html`<${HardwareCharts} samples=${samples} />` : null}
    </section>
  `;
}

/** One device now, and the models it holds. */
function DeviceCard({ device }: { device: HardwareDevice }) {
  const used = device.usedBytes !== null && device.totalBytes ? (device.usedBytes / device.totalBytes) * 100 : null;
  return html`
    <article class="card device" data-device=${device.name}>
      <div class="model-top"><b>${device.name}</b><span class="muted">${device.product ?? (device.kind === "ram" ? "system memory and CPUs" : "")}</span></div>
      <div class="meter" role="meter" aria-label=${`${device.name} memory in use`} aria-valuemin="0" aria-valuemax="100" aria-valuenow=${used ?? undefined}>
        <div class="meter-fill" style=${`width:${Math.min(100, used ?? 0)}%`}></div>
      </div>
      <div class="muted">${bytes(device.usedBytes)} of ${bytes(device.totalBytes)} in use${device.freeBytes !== null ? ` · ${bytes(device.freeBytes)} free` : ""}</div>
      <div class="stats">
        <span data-stat="util">${device.kind === "ram" ? "cpu" : "util"}<b>${percent(device.utilPercent)}</b></span>
        <span>temp<b>${device.temperatureCelsius === null ? "–" : `${device.temperatureCelsius} °C`}</b></span>
        <span>power<b>${device.powerWatts === null ? "–" : `${Math.round(device.powerWatts)} W`}</b></span>
        <span>budget<b>${device.budgetBytes === null ? "–" : bytes(device.budgetBytes)}</b></span>
      </div>
      ${device.models.length ? html`
        <table class="data holders">
          <thead><tr><th>model</th><th class="num">planned</th><th class="num">measured</th></tr></thead>
          <tbody>${device.models.map((m) => html`<tr data-model=${m.model}><td><a href=${href("models", m.model)}>${m.model}</a></td><td class="num">${bytes(m.plannedBytes)}</td><td class="num">${bytes(m.measuredBytes)}</td></tr>`)}</tbody>
        </table>` : html`<p class="muted">No running model counted here.</p>`}
    </article>
  `;
}

/** Memory in use (% of each device) and utilisation (GPUs', and the CPUs' beside ram) over time. */
function HardwareCharts({ samples }: { samples: HardwareSample[] }) {
  const names = [...new Set(samples.flatMap((s) => s.info.devices.map((d) => d.name)))];
  const x = samples.map((s) => s.at / 1000);
  const series = (value: (device: HardwareDevice) => number | null) =>
    names.map((name) =>
      samples.map((s) => {
        const device = s.info.devices.find((d) => d.name === name);
        return device ? value(device) : null;
      })
    );
  const memory = series((d) => (d.usedBytes !== null && d.totalBytes ? Math.round((d.usedBytes / d.totalBytes) * 1000) / 10 : null));
  const utilised = names.filter((_, i) => samples.some((s) => s.info.devices.find((d) => d.name === names[i])?.utilPercent != null));
  const util = series((d) => d.utilPercent).filter((_, i) => utilised.includes(names[i]));
  const pct = (v: number) => `${v}%`;
  return html`
    <div class="charts">
      <div><h2>Memory in use</h2>
        <${Chart} label="Memory in use per device over time, percent" yRange=${[0, 100]} data=${[x, ...memory]} series=${names.map((label) => ({ label, format: pct }))} /></div>
      ${utilised.length ? html`<div><h2>Utilisation</h2>
        <${Chart} label="Utilisation per device (the CPUs for ram) over time, percent" yRange=${[0, 100]} data=${[x, ...util]}
          series=${utilised.map((name) => ({ label: name === "ram" ? "cpu" : name, format: pct }))} /></div>` : null}
    </div>
    <p class="muted">Read every few seconds while the dashboard is open (${plural(samples.length, "reading")} so far).</p>
  `;
}

/** States drawn in a lane, with their legend names. */
const LANE_STATES = ["starting", "ready", "stopping", "failed"] as const;

/** The spans of time each model spent in each state, from the state changes seen. */
export function laneSpans(transitions: Transition[], now: number): Map<string, { state: string; from: number; to: number }[]> {
  const lanes = new Map<string, { state: string; from: number; to: number }[]>();
  const open = new Map<string, Transition>();
  for (const change of transitions) {
    const previous = open.get(change.model);
    if (previous) lanes.get(change.model)!.push({ state: previous.state, from: previous.at, to: change.at });
    if (!lanes.has(change.model)) lanes.set(change.model, []);
    open.set(change.model, change);
  }
  for (const [model, last] of open) lanes.get(model)!.push({ state: last.state, from: last.at, to: now });
  return lanes;
}

function SwapTimeline() {
  const { live } = useServices();
  const transitions = useStore(live.transitions);
  const swaps = useStore(live.swaps);
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 2000);
    return () => clearInterval(timer);
  }, []);
  const lanes = [...laneSpans(transitions, now)].sort(([a], [b]) => a.localeCompare(b));
  const start = Math.min(live.since, ...transitions.map((t) => t.at));
  const span = Math.max(1, now - start);
  const x = (t: number) => ((t - start) / span) * 100;
  return html`
    <section class="panel" aria-labelledby="swaps-title">
      <div class="panel-head">
        <h2 id="swaps-title">Swap timeline</h2>
        <span class="muted">since ${clock(live.since)} (when this page opened)</span>
      </div>
      <div class="timeline" id="timeline" role="img" aria-label="When each model was starting, ready or stopping">
        ${lanes.map(([model, spans]) => html`
          <div class="lane" data-model=${model}>
            <a class="lane-label" href=${href("models", model)}>${model}</a>
            <div class="lane-track">${spans.filter((s) => (LANE_STATES as readonly string[]).includes(s.state)).map((s) => html`
              <span class="lane-span" data-state=${s.state} style=${`left:${x(s.from)}%;width:${Math.max(0.4, x(s.to) - x(s.from))}%`}
                title=${`${s.state} ${clock(s.from)}–${clock(s.to)} (${duration(s.to - s.from)})`}></span>`)}
            </div>
          </div>`)}
        <div class="timeline-legend muted">${LANE_STATES.map((s) => html`<span><i class="lane-key" data-state=${s}></i>${s}</span>`)}</div>
      </div>
      ${swaps.length === 0 ? html`<p class="muted empty" id="swaps-empty">No swap since this page opened.</p>` : html`
        <div class="table-wrap"><table class="data" id="swaps">
          <thead><tr><th>Time</th><th>Loaded</th><th>Evicted</th><th>Why</th><th class="num">Took</th><th>Context</th><th>Result</th></tr></thead>
          <tbody>${[...swaps].reverse().map((swap) => html`<${SwapRow} swap=${swap} />`)}</tbody>
        </table></div>`}
    </section>
  `;
}

function SwapRow({ swap }: { swap: SwapRecord }) {
  const saved = Object.entries(swap.context?.saved ?? {}).map(([model, report]) => `${model}: ${plural(report.tokens, "token")} saved`);
  const restored = swap.context?.restored ? [`${plural(swap.context.restored.tokens, "token")} restored`] : [];
  return html`
    <tr data-target=${swap.target} class=${swap.error ? "failed" : ""}>
      <td>${clock(swap.startedAt)}</td>
      <td><a href=${href("models", swap.target)}>${swap.target}</a></td>
      <td>${swap.evict.join(", ") || "–"}</td>
      <td>${swap.reason || "–"}</td>
      <td class="num">${swap.durationMs === null ? "…" : duration(swap.durationMs)}</td>
      <td>${[...saved, ...restored].join("; ") || "–"}</td>
      <td title=${swap.error ?? ""}>${swap.finishedAt === null ? "swapping" : swap.error ? `failed: ${swap.error.split("\n")[0]}` : "ok"}</td>
    </tr>
  `;
}
