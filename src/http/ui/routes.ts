/**
 * Serves the embedded dashboard: the page at `/ui` and `/ui/`, its script
 * and styles at `/ui/app.js` and `/ui/app.css`. The assets' URLs carry
 * their content hash, so they are cached for good; the page is revalidated
 * so a new build shows up at once.
 */
import { Hono } from "hono";
import { UI_CSS, UI_HASH, UI_HTML, UI_JS } from "./bundle.gen.ts";

const ETAG = `"${UI_HASH}"`;

/** A response for one embedded asset, or 304 when the browser has it. */
function asset(request: Request, body: string, contentType: string, cacheControl: string): Response {
  const headers = { "content-type": contentType, "cache-control": cacheControl, etag: ETAG };
  if (request.headers.get("if-none-match") === ETAG) return new Response(null, { status: 304, headers });
  return new Response(body, { headers });
}

/** The `/ui` routes. */
export function uiRoutes(): Hono {
  const app = new Hono();
  const page = (c: { req: { raw: Request } }) => asset(c.req.raw, UI_HTML, "text/html; charset=utf-8", "no-cache");
  app.get("/ui", page);
  app.get("/ui/", page);
  app.get("/ui/app.js", (c) => asset(c.req.raw, UI_JS, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"));
  app.get("/ui/app.css", (c) => asset(c.req.raw, UI_CSS, "text/css; charset=utf-8", "public, max-age=31536000, immutable"));
  return app;
}
