/**
 * What the memory planner and keepContext know about a model: declared,
 * planned and measured memory per device, and the context saved at its
 * last planned stop (with a way to forget it).
 */
import { useState } from "preact/hooks";
import { forgetContext, type ModelMemoryInfo } from "../api.ts";
import { bytes, dateTime, plural } from "../lib/format.ts";
import { html } from "../lib/html.ts";

/** `gpu0 18 GiB · ram 2 GiB`, or a word for the special cases. */
function perDevice(figures: Record<string, number> | "auto" | null): string {
  if (figures === null) return "–";
  if (figures === "auto") return "auto (measured)";
  const entries = Object.entries(figures);
  return entries.length ? entries.map(([device, value]) => `${device} ${bytes(value)}`).join(" · ") : "–";
}

/** Declared, planned and measured memory. */
export function MemoryFacts({ memory }: { memory: ModelMemoryInfo }) {
  return html`
    <dl class="facts memory-facts">
      <dt>declared</dt><dd>${memory.declared === null ? "none (runs alone)" : perDevice(memory.declared)}</dd>
      <dt>planned</dt><dd>${perDevice(memory.planned)}${memory.gpus?.length ? ` on ${memory.gpus.join(", ")}` : ""}</dd>
      <dt>measured</dt><dd title=${memory.measuredAt ? `measured ${dateTime(memory.measuredAt)}` : ""}>${perDevice(memory.measured)}</dd>
    </dl>
  `;
}

/** The saved context and a Forget button. */
export function SavedContextFact({ model, saved }: { model: string; saved: { tokens: number; bytes: number; savedAt: number } }) {
  const [state, setState] = useState<"idle" | "busy" | "failed">("idle");
  const forget = async () => {
    setState("busy");
    try {
      await forgetContext(model);
      setState("idle");
    } catch {
      setState("failed");
    }
  };
  return html`
    <div class="saved-context">
      <span>saved context: <b>${plural(saved.tokens, "token")}</b> (${bytes(saved.bytes)}), ${dateTime(saved.savedAt)}</span>
      <button type="button" class="btn btn-quiet btn-small" disabled=${state === "busy"} onClick=${forget} title="Delete the saved context: the next start begins empty">${state === "failed" ? "Forget failed; retry" : "Forget"}</button>
    </div>
  `;
}
