/**
 * Serves the embedded dashboard: the page at `/ui` and `/ui/`, its script
 * and styles at `/ui/app.js` and `/ui/app.css`. The assets' URLs carry
 * their content hash, so they are cached for good; the page is revalidated
 * (`hono/etag`: 304 when the browser has this build) so a new build shows up at once.
 */
import { Hono } from "hono";
import { etag } from "hono/etag";
import { UI_CSS, UI_HASH, UI_HTML, UI_JS } from "./bundle.gen.ts";

const IMMUTABLE = "public, max-age=31536000, immutable";

/** A handler answering one embedded asset; its ETag is the build's content hash. */
function asset(body: string, contentType: string, cacheControl: string) {
  const headers = { "content-type": contentType, "cache-control": cacheControl, etag: `"${UI_HASH}"` };
  return () => new Response(body, { headers });
}

/** The `/ui` routes. */
export function uiRoutes(): Hono {
  const app = new Hono();
  app.use("/ui/*", etag());
  app.use("/ui", etag());
  const page = asset(UI_HTML, "text/html; charset=utf-8", "no-cache");
  app.get("/ui", page);
  app.get("/ui/", page);
  app.get("/ui/app.js", asset(UI_JS, "text/javascript; charset=utf-8", IMMUTABLE));
  app.get("/ui/app.css", asset(UI_CSS, "text/css; charset=utf-8", IMMUTABLE));
  return app;
}
