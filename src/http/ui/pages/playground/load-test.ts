/**
 * A small load test: N streamed chat requests to one model at once, as N
 * clients would send them, each timed (first token, whole answer, tokens
 * and tokens per second), then the latency percentiles and the combined
 * throughput. It shows how the model and the router's queue behave under
 * load (`concurrencyLimit`, collation); it is no benchmark of the machine.
 */
import { useRef, useState } from "preact/hooks";
import { responseError } from "../../api.ts";
import { ModelSelect } from "../../components/model-select.ts";
import { readSse, type StreamChunk } from "../../lib/chat-stream.ts";
import { duration, speed } from "../../lib/format.ts";
import { html } from "../../lib/html.ts";
import { usePreference } from "../../lib/persist.ts";

/** Most requests one run sends. */
const MAX_REQUESTS = 64;

/** One request's outcome. */
interface Run {
  index: number;
  state: "waiting" | "streaming" | "done" | "failed" | "stopped";
  firstTokenMs: number | null;
  totalMs: number | null;
  tokens: number | null;
  tokensPerSecond: number | null;
  error: string;
}

/** The `p`th percentile of `values` (nearest rank), or null for none. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Send one streamed request, reporting its progress to `update`. */
async function runOne(model: string, prompt: string, maxTokens: number, signal: AbortSignal, update: (patch: Partial<Run>) => void): Promise<void> {
  const started = performance.now();
  let first: number | null = null;
  let tokens = 0;
  let reported: number | null = null;
  let rate: number | null = null;
  try {
    const response = await fetch("/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: prompt }], max_tokens: maxTokens, stream: true, stream_options: { include_usage: true } }),
      signal,
    });
    if (!response.ok || !response.body) throw await responseError(response);
    update({ state: "streaming" });
    await readSse(response.body, (data) => {
      const chunk = JSON.parse(data) as StreamChunk;
      const delta = chunk.choices?.[0]?.delta;
      if (delta?.content || delta?.reasoning_content) {
        first ??= performance.now() - started;
        tokens++;
      }
      reported = chunk.usage?.completion_tokens ?? reported;
      rate = chunk.timings?.predicted_per_second ?? rate;
    });
    const total = performance.now() - started;
    const count = reported ?? tokens;
    const generating = first === null ? total : total - first;
    update({ state: "done", firstTokenMs: first, totalMs: total, tokens: count, tokensPerSecond: rate ?? (generating > 0 ? count / (generating / 1000) : null) });
  } catch (error) {
    update({ state: signal.aborted ? "stopped" : "failed", totalMs: performance.now() - started, error: (error as Error).message });
  }
}

/** The load test tab. */
export function LoadTestPlayground() {
  const [model, setModel] = usePreference("playgroundModel", "");
  const [count, setCount] = usePreference("loadTestRequests", 8);
  const [maxTokens, setMaxTokens] = usePreference("loadTestMaxTokens", 64);
  const [prompt, setPrompt] = usePreference("loadTestPrompt", "Write a haiku about routers.");
  const [runs, setRuns] = useState<Run[]>([]);
  const [wallMs, setWallMs] = useState<number | null>(null);
  const abort = useRef<AbortController | null>(null);
  const busy = runs.some((r) => r.state === "waiting" || r.state === "streaming");

  const start = async (event: Event) => {
    event.preventDefault();
    if (busy) {
      abort.current?.abort();
      return;
    }
    if (!model) return;
    const n = Math.min(MAX_REQUESTS, Math.max(1, count));
    const controller = new AbortController();
    abort.current = controller;
    const current: Run[] = Array.from({ length: n }, (_, index) => ({ index, state: "waiting", firstTokenMs: null, totalMs: null, tokens: null, tokensPerSecond: null, error: "" }));
    setRuns(current);
    setWallMs(null);
    const started = performance.now();
    await Promise.all(current.map((_, i) =>
      runOne(model, prompt, maxTokens, controller.signal, (patch) => {
        current[i] = { ...current[i], ...patch };
        setRuns([...current]);
      })
    ));
    setWallMs(performance.now() - started);
  };

  const done = runs.filter((r) => r.state === "done");
  const latencies = done.map((r) => r.totalMs!);
  const firsts = done.flatMap((r) => (r.firstTokenMs === null ? [] : [r.firstTokenMs]));
  const tokens = done.reduce((sum, r) => sum + (r.tokens ?? 0), 0);
  return html`
    <form class="form-grid" onSubmit=${start}>
      <label class="field"><span>Model</span><${ModelSelect} id="load-model" label="Model" value=${model} onChange=${setModel} none=${model ? undefined : "Pick a model"} /></label>
      <label class="field"><span>Parallel requests (1–${MAX_REQUESTS})</span>
        <input id="load-count" type="number" min="1" max=${MAX_REQUESTS} value=${count} onInput=${(e: Event) => setCount(Number((e.currentTarget as HTMLInputElement).value) || 1)} />
      </label>
      <label class="field"><span>Max tokens each</span>
        <input id="load-max-tokens" type="number" min="1" value=${maxTokens} onInput=${(e: Event) => setMaxTokens(Number((e.currentTarget as HTMLInputElement).value) || 1)} />
      </label>
      <label class="field wide"><span>Prompt</span><input id="load-prompt" value=${prompt} onInput=${(e: Event) => setPrompt((e.currentTarget as HTMLInputElement).value)} /></label>
      <div class="wide"><button id="load-start" class=${`btn ${busy ? "" : "btn-primary"}`} type="submit" disabled=${!model}>${busy ? "Stop" : "Start"}</button></div>
    </form>
    ${runs.length ? html`
      <div class="totals" id="load-summary">
        <div><span class="muted">done</span><b data-total="done">${done.length}/${runs.length}</b></div>
        <div><span class="muted">failed</span><b data-total="failed">${runs.filter((r) => r.state === "failed").length}</b></div>
        <div><span class="muted">latency p50 / p95</span><b>${fmt(percentile(latencies, 50))} / ${fmt(percentile(latencies, 95))}</b></div>
        <div><span class="muted">first token p50</span><b>${fmt(percentile(firsts, 50))}</b></div>
        <div><span class="muted">tokens</span><b data-total="tokens">${tokens}</b></div>
        <div><span class="muted">throughput</span><b data-total="throughput">${wallMs ? `${speed(tokens / (wallMs / 1000))} tok/s` : "–"}</b></div>
      </div>
      <div class="table-wrap"><table class="data" id="load-runs">
        <thead><tr><th>#</th><th>State</th><th class="num">First token</th><th class="num">Total</th><th class="num">Tokens</th><th class="num">tok/s</th></tr></thead>
        <tbody>${runs.map((r) => html`
          <tr data-state=${r.state} class=${r.state === "failed" ? "failed" : ""}>
            <td>${r.index + 1}</td><td title=${r.error}>${r.state}${r.error ? `: ${r.error.slice(0, 80)}` : ""}</td>
            <td class="num">${fmt(r.firstTokenMs)}</td><td class="num">${fmt(r.totalMs)}</td>
            <td class="num">${r.tokens ?? "–"}</td><td class="num">${speed(r.tokensPerSecond)}</td>
          </tr>`)}
        </tbody>
      </table></div>` : null}
  `;
}

function fmt(ms: number | null): string {
  return ms === null ? "–" : duration(ms);
}
