/**
 * Dashboard entry point: builds the shared parts (live feed, hardware
 * history, theme) and renders the app into the page.
 */
import { render } from "preact";
import { App } from "./app.ts";
import { HardwareHistory } from "./lib/hardware.ts";
import { html } from "./lib/html.ts";
import { LiveState } from "./lib/live.ts";
import { ServicesContext } from "./lib/services.ts";
import { Theme } from "./lib/theme.ts";

const services = { live: new LiveState(), hardware: new HardwareHistory(), theme: new Theme() };
services.theme.start();
services.live.connect();
services.hardware.start();
const root = document.getElementById("app")!;
root.replaceChildren(); // the "Loading…" note
render(html`<${ServicesContext.Provider} value=${services}><${App} /></${ServicesContext.Provider}>`, root);
