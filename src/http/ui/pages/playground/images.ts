/** The images playground: a prompt to `/v1/images/generations`, the pictures shown as they come back. */
import { useState } from "preact/hooks";
import { sendJson } from "../../api.ts";
import { ModelSelect } from "../../components/model-select.ts";
import { duration } from "../../lib/format.ts";
import { html } from "../../lib/html.ts";
import { usePreference } from "../../lib/persist.ts";

/** An OpenAI images answer. */
interface ImagesAnswer {
  data: { b64_json?: string; url?: string; revised_prompt?: string }[];
}

/** The images tab. */
export function ImagesPlayground() {
  const [model, setModel] = usePreference("playgroundModel", "");
  const [prompt, setPrompt] = useState("");
  const [size, setSize] = useState("512x512");
  const [count, setCount] = useState(1);
  const [result, setResult] = useState<{ images: string[]; ms: number } | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const generate = async (event: Event) => {
    event.preventDefault();
    if (!model || !prompt.trim()) return;
    setBusy(true);
    setError("");
    const started = performance.now();
    try {
      const answer = await sendJson<ImagesAnswer>("POST", "/v1/images/generations", { model, prompt, n: count, size, response_format: "b64_json" });
      const images = answer.data.map((item) => item.url ?? `data:image/png;base64,${item.b64_json ?? ""}`);
      setResult({ images, ms: performance.now() - started });
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <form class="form-grid" onSubmit=${generate}>
      <label class="field"><span>Model</span><${ModelSelect} id="images-model" label="Model" value=${model} onChange=${setModel} none=${model ? undefined : "Pick a model"} /></label>
      <label class="field"><span>Size</span>
        <select id="images-size" value=${size} onChange=${(e: Event) => setSize((e.currentTarget as HTMLSelectElement).value)}>
          ${["256x256", "512x512", "768x768", "1024x1024"].map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </label>
      <label class="field"><span>Images</span>
        <input id="images-count" type="number" min="1" max="4" value=${count} onInput=${(e: Event) => setCount(Math.min(4, Math.max(1, Number((e.currentTarget as HTMLInputElement).value) || 1)))} />
      </label>
      <label class="field wide"><span>Prompt</span>
        <textarea id="images-prompt" rows="3" value=${prompt} onInput=${(e: Event) => setPrompt((e.currentTarget as HTMLTextAreaElement).value)}></textarea>
      </label>
      <div class="wide"><button id="images-generate" class="btn btn-primary" type="submit" disabled=${busy || !model}>${busy ? "Generating…" : "Generate"}</button></div>
    </form>
    ${error ? html`<p class="error-text" role="alert">${error}</p>` : null}
    ${result ? html`
      <p class="muted" id="images-meta">${result.images.length} image${result.images.length === 1 ? "" : "s"} in ${duration(result.ms)}</p>
      <div class="image-grid" id="images-result">${result.images.map((src, i) => html`
        <figure><img src=${src} alt=${`Generated image ${i + 1} for: ${prompt}`} /><figcaption><a href=${src} download=${`image-${i + 1}.png`}>Download</a></figcaption></figure>`)}
      </div>` : null}
  `;
}
