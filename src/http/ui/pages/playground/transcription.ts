/** The transcription playground: an audio file to `/v1/audio/transcriptions` (multipart, as OpenAI clients send it), the text shown. */
import { useState } from "preact/hooks";
import { getJson } from "../../api.ts";
import { ModelSelect } from "../../components/model-select.ts";
import { duration } from "../../lib/format.ts";
import { html } from "../../lib/html.ts";
import { usePreference } from "../../lib/persist.ts";

/** The transcription tab. */
export function TranscriptionPlayground() {
  const [model, setModel] = usePreference("playgroundModel", "");
  const [file, setFile] = useState<File | null>(null);
  const [language, setLanguage] = useState("");
  const [result, setResult] = useState<{ text: string; ms: number } | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const transcribe = async (event: Event) => {
    event.preventDefault();
    if (!model || !file) return;
    setBusy(true);
    setError("");
    const form = new FormData();
    form.set("model", model);
    form.set("file", file, file.name);
    if (language.trim()) form.set("language", language.trim());
    const started = performance.now();
    try {
      const answer = await getJson<{ text?: string }>("/v1/audio/transcriptions", { method: "POST", body: form });
      setResult({ text: answer.text ?? JSON.stringify(answer), ms: performance.now() - started });
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <form class="form-grid" onSubmit=${transcribe}>
      <label class="field"><span>Model</span><${ModelSelect} id="transcription-model" label="Model" value=${model} onChange=${setModel} none=${model ? undefined : "Pick a model"} /></label>
      <label class="field"><span>Language (optional)</span><input id="transcription-language" placeholder="e.g. en" value=${language} onInput=${(e: Event) => setLanguage((e.currentTarget as HTMLInputElement).value)} /></label>
      <label class="field wide"><span>Audio file</span>
        <input id="transcription-file" type="file" accept="audio/*,video/*" onChange=${(e: Event) => setFile((e.currentTarget as HTMLInputElement).files?.[0] ?? null)} />
      </label>
      <div class="wide"><button id="transcription-run" class="btn btn-primary" type="submit" disabled=${busy || !model || !file}>${busy ? "Transcribing…" : "Transcribe"}</button></div>
    </form>
    ${error ? html`<p class="error-text" role="alert">${error}</p>` : null}
    ${result ? html`<p class="muted">Transcribed in ${duration(result.ms)}</p><blockquote class="transcript" id="transcription-text">${result.text}</blockquote>` : null}
  `;
}
