/**
 * The dashboard's frame: the header (connection, theme), the navigation,
 * and the page the URL's fragment names.
 */
import type { VNode } from "preact";
import { html } from "./lib/html.ts";
import { href, useRoute } from "./lib/route.ts";
import { useServices } from "./lib/services.ts";
import { useStore } from "./lib/store.ts";
import type { ThemeChoice } from "./lib/theme.ts";
import { ActivityPage } from "./pages/activity.ts";
import { ConfigPage } from "./pages/config.ts";
import { LogsPage } from "./pages/logs.ts";
import { ModelPage } from "./pages/model.ts";
import { ModelsPage } from "./pages/models.ts";
import { PerformancePage } from "./pages/performance.ts";
import { PlaygroundPage } from "./pages/playground.ts";

/** The pages of the navigation, by their first route segment. */
const PAGES: { id: string; label: string }[] = [
  { id: "models", label: "Models" },
  { id: "activity", label: "Activity" },
  { id: "logs", label: "Logs" },
  { id: "playground", label: "Playground" },
  { id: "performance", label: "Performance" },
  { id: "config", label: "Config" },
];

function page(route: string[]): VNode {
  const [first = "models", second, third] = route;
  switch (first) {
    case "activity":
      return html`<${ActivityPage} />`;
    case "logs":
      return html`<${LogsPage} />`;
    case "playground":
      return html`<${PlaygroundPage} tab=${second ?? "chat"} />`;
    case "performance":
      return html`<${PerformancePage} />`;
    case "config":
      return html`<${ConfigPage} />`;
    default:
      return second ? html`<${ModelPage} id=${second} tab=${third ?? "details"} />` : html`<${ModelsPage} />`;
  }
}

function Connection() {
  const state = useStore(useServices().live.connection);
  return html`<span id="connection" class="connection" data-state=${state} role="status"><span class="dot" aria-hidden="true"></span><span class="label">${state}</span></span>`;
}

function ThemeSwitch() {
  const { theme } = useServices();
  const choice = useStore(theme.choice);
  return html`
    <select id="theme" class="theme-select" aria-label="Theme" value=${choice} onChange=${(event: Event) => theme.choice.set((event.currentTarget as HTMLSelectElement).value as ThemeChoice)}>
      <option value="system">Auto</option>
      <option value="light">Light</option>
      <option value="dark">Dark</option>
    </select>
  `;
}

/** The whole dashboard. */
export function App() {
  const route = useRoute();
  const version = useStore(useServices().live.version);
  const current = route[0] ?? "models";
  return html`
    <header class="topbar">
      <a class="brand" href=${href("models")}><span class="logo" aria-hidden="true">⇄</span> modelswap <span id="version" class="muted">${version ? `v${version}` : ""}</span></a>
      <nav class="nav" aria-label="Pages">
        ${PAGES.map((p) => html`<a href=${href(p.id)} class="nav-link" data-page=${p.id} aria-current=${p.id === current ? "page" : undefined}>${p.label}</a>`)}
      </nav>
      <div class="topbar-right"><${Connection} /><${ThemeSwitch} /></div>
    </header>
    <main id="page" data-page=${current}>${page(route)}</main>
  `;
}
