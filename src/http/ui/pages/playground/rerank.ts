/** The rerank playground: a query and documents to `/v1/rerank`, the documents shown best first with their scores. */
import { useState } from "preact/hooks";
import { sendJson } from "../../api.ts";
import { ModelSelect } from "../../components/model-select.ts";
import { html } from "../../lib/html.ts";
import { usePreference } from "../../lib/persist.ts";

/** A rerank answer (llama-server's and Jina's shape). */
interface RerankAnswer {
  results: { index: number; relevance_score: number }[];
}

/** The rerank tab. */
export function RerankPlayground() {
  const [model, setModel] = usePreference("playgroundModel", "");
  const [query, setQuery] = useState("");
  const [documents, setDocuments] = useState("");
  const [ranked, setRanked] = useState<{ text: string; score: number; index: number }[] | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const run = async (event: Event) => {
    event.preventDefault();
    const docs = documents.split("\n").map((d) => d.trim()).filter(Boolean);
    if (!model || !query.trim() || docs.length === 0) return;
    setBusy(true);
    setError("");
    try {
      const answer = await sendJson<RerankAnswer>("POST", "/v1/rerank", { model, query, documents: docs });
      setRanked([...answer.results].sort((a, b) => b.relevance_score - a.relevance_score).map((r) => ({ text: docs[r.index] ?? `#${r.index}`, score: r.relevance_score, index: r.index })));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const top = Math.max(1e-9, ...(ranked ?? []).map((r) => Math.abs(r.score)));
  return html`
    <form class="form-grid" onSubmit=${run}>
      <label class="field"><span>Model</span><${ModelSelect} id="rerank-model" label="Model" value=${model} onChange=${setModel} none=${model ? undefined : "Pick a model"} /></label>
      <label class="field wide"><span>Query</span><input id="rerank-query" value=${query} onInput=${(e: Event) => setQuery((e.currentTarget as HTMLInputElement).value)} /></label>
      <label class="field wide"><span>Documents (one per line)</span>
        <textarea id="rerank-documents" rows="5" value=${documents} onInput=${(e: Event) => setDocuments((e.currentTarget as HTMLTextAreaElement).value)}></textarea>
      </label>
      <div class="wide"><button id="rerank-run" class="btn btn-primary" type="submit" disabled=${busy || !model}>${busy ? "Ranking…" : "Rank"}</button></div>
    </form>
    ${error ? html`<p class="error-text" role="alert">${error}</p>` : null}
    ${ranked ? html`
      <ol class="ranked" id="rerank-results">${ranked.map((r) => html`
        <li data-index=${r.index}>
          <div class="rank-bar" style=${`width:${Math.round((Math.abs(r.score) / top) * 100)}%`}></div>
          <span class="rank-text">${r.text}</span> <span class="rank-score">${r.score.toFixed(3)}</span>
        </li>`)}
      </ol>` : null}
  `;
}
