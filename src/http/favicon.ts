/**
 * `/favicon.ico`, answered without an API key (as llama-swap does) so that
 * browsers and the dashboard show the icon before anyone logs in: the
 * dashboard's two swap arrows on its blue square, 32×32, as an ICO holding
 * one PNG (321 bytes, embedded in the binary).
 */
import { Hono } from "hono";

/** The icon file, base64 (made once from the dashboard's SVG icon). */
const ICON_BASE64 =
  "AAABAAEAICAAAAEAIAArAQAAFgAAAIlQTkcNChoKAAAADUlIRFIAAAAgAAAAIAgGAAAAc3p69AAAAPJJREFUeNpj8M9+y4CGDYB4PhDfB+L/VML3oWYaoNuHzBEA4n4qWooL90PtQnEASOA8HSyH4fMwR8Ac0E9Hy5FDggEW5/8HCBswQBPHQDlgPgOlqT2q5N3/OWu+gjGITWruYKDUFyCLYeDe4z8kO4KqDiDHERQ7AGQZyFJyHcFAKG6Xb/1GEG/a9/0/OiDWEQzEBi05AGTG0HUAKVGADRObLRkGsBAadcAQcQCtEyMDqUUttbPj4HcAtrIeBEDFL12igBoVDlVyATZHEFPUUjUbojuCWg64T8cmGNYm2YA3Sge8WT7gHZNB0TUb8M7pgHXPASIOEcS8BNwcAAAAAElFTkSuQmCC";

const ICON = Uint8Array.from(atob(ICON_BASE64), (char) => char.charCodeAt(0));

/** The favicon route; mount it before the API-key check. */
export function faviconRoutes(): Hono {
  const app = new Hono();
  app.get("/favicon.ico", () =>
    new Response(ICON, {
      headers: { "content-type": "image/x-icon", "cache-control": "public, max-age=86400" },
    }));
  return app;
}
