/**
 * A request's capture (`GET /api/captures/:id`, when `captureBuffer` is
 * on): the request and the response, headers and bodies. Bodies arrive in
 * base64; text is shown as text (JSON indented), anything else by its size.
 */
import { useEffect, useState } from "preact/hooks";
import { type Capture, getJson } from "../api.ts";
import { bytes } from "../lib/format.ts";
import { html } from "../lib/html.ts";
import { Dialog } from "./dialog.ts";

/** Characters of a body shown (the rest is cut with a note). */
const MAX_SHOWN = 200_000;

/** A body as the dialog shows it: text (JSON indented), or a note for binary data. */
export function bodyText(base64: string): string {
  const raw = atob(base64);
  const data = Uint8Array.from(raw, (c) => c.charCodeAt(0));
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch {
    return `(${bytes(data.length)} of binary data)`;
  }
  if (text === "") return "(empty)";
  try {
    text = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // Not one JSON document (an SSE stream, plain text): as it is.
  }
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}\n… (${(text.length - MAX_SHOWN).toLocaleString("en-US")} more characters)` : text;
}

function Headers({ headers }: { headers: Record<string, string> }) {
  const entries = Object.entries(headers);
  if (entries.length === 0) return html`<p class="muted">(none)</p>`;
  return html`<table class="data headers">${entries.map(([name, value]) => html`<tr><th>${name}</th><td>${value}</td></tr>`)}</table>`;
}

/** The capture of activity row `id`. */
export function CaptureDialog({ id, onClose }: { id: number; onClose(): void }) {
  const [capture, setCapture] = useState<(Capture & { req_body_truncated?: boolean; resp_body_truncated?: boolean }) | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    getJson<Capture>(`/api/captures/${id}`).then(setCapture, (e: Error) => setError(e.message));
  }, [id]);
  return html`
    <${Dialog} title=${`Request #${id}`} onClose=${onClose} wide>
      ${error ? html`<p class="error-text" role="alert">${error}</p>` : null}
      ${!capture && !error ? html`<p class="muted">Loading…</p>` : null}
      ${capture ? html`
        <div class="capture" id="capture">
          <h3>Request <code>${capture.req_path}</code></h3>
          <${Headers} headers=${capture.req_headers} />
          <pre class="code-block" id="capture-request">${bodyText(capture.req_body)}</pre>
          ${capture.req_body_truncated ? html`<p class="muted">The request body was longer than the capture keeps; the rest is not shown.</p>` : null}
          <h3>Response</h3>
          <${Headers} headers=${capture.resp_headers} />
          <pre class="code-block" id="capture-response">${bodyText(capture.resp_body)}</pre>
          ${capture.resp_body_truncated ? html`<p class="muted">The response was longer than the capture keeps; the rest is not shown.</p>` : null}
        </div>` : null}
    </${Dialog}>
  `;
}
