/** YAML shown with its highlighting (read-only): the active config, the effective config of a model. */
import { useMemo } from "preact/hooks";
import { html } from "../lib/html.ts";
import { tokenizeYaml, type YamlToken } from "../lib/yaml-tokens.ts";

/** One highlighted line's pieces. */
export function yamlLine(tokens: YamlToken[]) {
  return tokens.map((token) => (token.kind === "space" ? token.text : html`<span class=${`y-${token.kind}`}>${token.text}</span>`));
}

/** Props of {@link YamlView}. */
export interface YamlViewProps {
  text: string;
  label: string;
  /** Show line numbers. */
  numbered?: boolean;
  id?: string;
}

/** Highlighted YAML in a scrollable block. */
export function YamlView({ text, label, numbered = false, id }: YamlViewProps) {
  const lines = useMemo(() => tokenizeYaml(text.replace(/\n$/, "")), [text]);
  return html`
    <pre class=${`yaml-view${numbered ? " numbered" : ""}`} id=${id} tabindex="0" aria-label=${label}>${
    lines.map((tokens, i) => html`<span class="y-line" data-line=${i + 1}>${numbered ? html`<span class="y-number" aria-hidden="true">${i + 1}</span>` : null}${yamlLine(tokens)}${"\n"}</span>`)
  }</pre>
  `;
}
