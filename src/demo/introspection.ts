/**
 * Routes that let tests look at the demo itself rather than at a model:
 * `/` (a banner), `/env` (the environment it was started with) and `/echo`
 * (the request exactly as it arrived, after the router relayed it).
 */
import type { Context, Hono } from "hono";
import type { Demo } from "./context.ts";

/** The request's method, path, query, headers and body; `model` from the JSON body, the query, or `--model`. */
async function echo(demo: Demo, c: Context): Promise<Response> {
  const url = new URL(c.req.url);
  const body = await c.req.raw.text();
  let model: unknown = url.searchParams.get("model") ?? demo.options.model;
  try {
    const parsed = JSON.parse(body);
    if (typeof parsed?.model === "string") model = parsed.model;
  } catch {
    // Not JSON: the body is echoed as text, the model comes from the query or --model.
  }
  return c.json({
    method: c.req.method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: Object.fromEntries(c.req.raw.headers),
    body,
    model,
  });
}

/** Add `/`, `/env` and `/echo` to `app`. */
export function introspectionRoutes(app: Hono, demo: Demo): void {
  app.get("/", (c) => c.text("demo-upstream"));
  // Tests check the environment a model was started with (`models.<id>.env`).
  app.get("/env", (c) => {
    const name = c.req.query("name") ?? "";
    return c.json({ name, value: demo.runtime.env(name) ?? null });
  });
  // `/echo/<anything>` too, so a client pointed at base URL `.../echo` sees exactly what it sent.
  app.all("/echo", (c) => echo(demo, c));
  app.all("/echo/*", (c) => echo(demo, c));
}
