/** A model's state as a coloured badge (colour is not the only cue: the state is written). */
import type { ModelState } from "../api.ts";
import { html } from "../lib/html.ts";

/** The badge. */
export function StateBadge({ state }: { state: ModelState }) {
  return html`<span class="state" data-state=${state}>${state}</span>`;
}
