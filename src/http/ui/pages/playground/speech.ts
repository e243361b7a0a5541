/** The speech playground: text to `/v1/audio/speech`, the audio played back in the page. */
import { useEffect, useState } from "preact/hooks";
import { request } from "../../api.ts";
import { ModelSelect } from "../../components/model-select.ts";
import { bytes, duration } from "../../lib/format.ts";
import { html } from "../../lib/html.ts";
import { usePreference } from "../../lib/persist.ts";

/** The speech tab. */
export function SpeechPlayground() {
  const [model, setModel] = usePreference("playgroundModel", "");
  const [text, setText] = useState("");
  const [voice, setVoice] = useState("alloy");
  const [audio, setAudio] = useState<{ url: string; size: number; type: string; ms: number } | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => () => audio && URL.revokeObjectURL(audio.url), [audio]);
  const speak = async (event: Event) => {
    event.preventDefault();
    if (!model || !text.trim()) return;
    setBusy(true);
    setError("");
    const started = performance.now();
    try {
      const response = await request("/v1/audio/speech", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model, input: text, voice }),
      });
      const blob = await response.blob();
      setAudio({ url: URL.createObjectURL(blob), size: blob.size, type: blob.type || "audio", ms: performance.now() - started });
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <form class="form-grid" onSubmit=${speak}>
      <label class="field"><span>Model</span><${ModelSelect} id="speech-model" label="Model" value=${model} onChange=${setModel} none=${model ? undefined : "Pick a model"} /></label>
      <label class="field"><span>Voice</span><input id="speech-voice" value=${voice} onInput=${(e: Event) => setVoice((e.currentTarget as HTMLInputElement).value)} /></label>
      <label class="field wide"><span>Text</span>
        <textarea id="speech-text" rows="3" value=${text} onInput=${(e: Event) => setText((e.currentTarget as HTMLTextAreaElement).value)}></textarea>
      </label>
      <div class="wide"><button id="speech-speak" class="btn btn-primary" type="submit" disabled=${busy || !model}>${busy ? "Speaking…" : "Speak"}</button></div>
    </form>
    ${error ? html`<p class="error-text" role="alert">${error}</p>` : null}
    ${audio ? html`
      <p class="muted" id="speech-meta">${bytes(audio.size)} of ${audio.type} in ${duration(audio.ms)}</p>
      <audio id="speech-audio" controls src=${audio.url}></audio>
      <p><a href=${audio.url} download="speech">Download</a></p>` : null}
  `;
}
