/**
 * Serves the embedded dashboard: the page at `/ui` and `/ui/`, its script
 * and styles at `/ui/app.js` and `/ui/app.css`. The assets' URLs carry
 * their content hash, so they are cached for good; the page is revalidated
 * (`hono/etag`: 304 when the browser has this build) so a new build shows up at once.
 */
import { Hono } from "hono";
import { etag } from "hono/etag";

const IMMUTABLE = "public, max-age=31536000, immutable";

type Bundle = typeof import("./bundle.gen.ts");
let bundle: Promise<Bundle> | undefined;
/** The embedded bundle, loaded on the first request for it: a router whose dashboard is never opened never holds it. */
const loadBundle = () => (bundle ??= import("./bundle.gen.ts"));

/** A handler answering one embedded asset; its ETag is the build's content hash. */
function asset(body: (bundle: Bundle) => string, contentType: string, cacheControl: string) {
  return async () => {
    const loaded = await loadBundle();
    return new Response(body(loaded), { headers: { "content-type": contentType, "cache-control": cacheControl, etag: `"${loaded.UI_HASH}"` } });
  };
}

/** The `/ui` routes. */
export function uiRoutes(): Hono {
  const app = new Hono();
  app.use("/ui/*", etag());
  app.use("/ui", etag());
  const page = asset((b) => b.UI_HTML, "text/html; charset=utf-8", "no-cache");
  app.get("/ui", page);
  app.get("/ui/", page);
  app.get("/ui/app.js", asset((b) => b.UI_JS, "text/javascript; charset=utf-8", IMMUTABLE));
  app.get("/ui/app.css", asset((b) => b.UI_CSS, "text/css; charset=utf-8", IMMUTABLE));
  return app;
}
