/**
 * Tabs as links (each tab is a route, so it can be bookmarked and the
 * browser's back button works), marked up as a navigation with the current
 * one flagged for assistive technology.
 */
import { html } from "../lib/html.ts";
import { href } from "../lib/route.ts";

/** One tab: its label and the route segments it opens. */
export interface TabLink {
  id: string;
  label: string;
  route: string[];
}

/** A row of tabs; `current` is the id of the open one. */
export function Tabs({ tabs, current, label }: { tabs: TabLink[]; current: string; label: string }) {
  return html`
    <nav class="tabs" aria-label=${label}>
      ${tabs.map((tab) => html`<a href=${href(...tab.route)} class="tab" aria-current=${tab.id === current ? "page" : undefined} data-tab=${tab.id}>${tab.label}</a>`)}
    </nav>
  `;
}
