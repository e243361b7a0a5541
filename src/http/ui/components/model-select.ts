/** A select of the configured models (unlisted ones included), kept up to date from the live feed. */
import { html } from "../lib/html.ts";
import { useServices } from "../lib/services.ts";
import { useStore } from "../lib/store.ts";

/** Props of {@link ModelSelect}. */
export interface ModelSelectProps {
  value: string;
  onChange(model: string): void;
  label: string;
  /** A first choice with this text and the value "" (e.g. "All models"), or none. */
  none?: string;
  id?: string;
}

/** The model picker. */
export function ModelSelect({ value, onChange, label, none, id }: ModelSelectProps) {
  const models = useStore(useServices().live.models);
  const ids = models.map((m) => m.model);
  // A stored choice that is no longer configured is still shown, so the select never lies about the value.
  if (value && !ids.includes(value)) ids.push(value);
  return html`
    <select id=${id} aria-label=${label} value=${value} onChange=${(event: Event) => onChange((event.currentTarget as HTMLSelectElement).value)}>
      ${none !== undefined ? html`<option value="">${none}</option>` : null}
      ${ids.map((model) => html`<option value=${model}>${model}</option>`)}
    </select>
  `;
}
