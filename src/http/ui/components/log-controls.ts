/**
 * How logs are shown (shared by the Logs page and a model's Logs tab):
 * a regular-expression filter, line wrapping, font size and follow/pause,
 * kept as preferences.
 */
import { useMemo, useState } from "preact/hooks";
import { html } from "../lib/html.ts";
import { usePreference } from "../lib/persist.ts";

/** Smallest and largest log font size, in px. */
const FONT_SIZES: [number, number] = [9, 22];

/** The settings and what the filter text compiles to. */
export interface LogSettings {
  filterText: string;
  setFilterText(text: string): void;
  /** The compiled filter, or null when empty or invalid. */
  filter: RegExp | null;
  /** Why the filter is invalid, or "". */
  filterError: string;
  wrap: boolean;
  setWrap(wrap: boolean): void;
  fontSize: number;
  setFontSize(size: number): void;
  following: boolean;
  setFollowing(following: boolean): void;
}

/** Log view settings (wrap and font size remembered by the browser). */
export function useLogSettings(): LogSettings {
  const [filterText, setFilterText] = useState("");
  const [wrap, setWrap] = usePreference("logWrap", true);
  const [fontSize, setFontSize] = usePreference("logFontSize", 12);
  const [following, setFollowing] = useState(true);
  const { filter, filterError } = useMemo(() => {
    if (!filterText) return { filter: null, filterError: "" };
    try {
      return { filter: new RegExp(filterText, "i"), filterError: "" };
    } catch (error) {
      return { filter: null, filterError: (error as Error).message };
    }
  }, [filterText]);
  return { filterText, setFilterText, filter, filterError, wrap, setWrap, fontSize, setFontSize, following, setFollowing };
}

/** The controls for {@link useLogSettings}. */
export function LogToolbar({ settings }: { settings: LogSettings }) {
  const s = settings;
  const size = (delta: number) => s.setFontSize(Math.min(FONT_SIZES[1], Math.max(FONT_SIZES[0], s.fontSize + delta)));
  return html`
    <div class="toolbar log-toolbar">
      <label class="field-inline grow">
        <span class="visually-hidden">Filter (regular expression)</span>
        <input id="log-filter" type="search" placeholder="Filter: regular expression" value=${s.filterText} aria-invalid=${s.filterError ? "true" : "false"}
          onInput=${(e: Event) => s.setFilterText((e.currentTarget as HTMLInputElement).value)} />
      </label>
      ${s.filterError ? html`<span class="error-text" role="alert" id="log-filter-error">${s.filterError}</span>` : null}
      <label class="check"><input id="log-wrap" type="checkbox" checked=${s.wrap} onChange=${(e: Event) => s.setWrap((e.currentTarget as HTMLInputElement).checked)} /> wrap</label>
      <span class="button-group" role="group" aria-label="Font size">
        <button type="button" class="btn btn-small" id="log-smaller" onClick=${() => size(-1)} aria-label="Smaller text">A−</button>
        <span class="muted" id="log-font-size">${s.fontSize}px</span>
        <button type="button" class="btn btn-small" id="log-larger" onClick=${() => size(1)} aria-label="Larger text">A+</button>
      </span>
      <button type="button" id="log-follow" class=${`btn btn-small${s.following ? "" : " btn-primary"}`} aria-pressed=${!s.following} onClick=${() => s.setFollowing(!s.following)}>
        ${s.following ? "Pause" : "Follow"}
      </button>
    </div>
  `;
}
