/**
 * Observability routes: `GET /metrics` (Prometheus text), `GET /api/activity`
 * (recent requests as JSON) and `GET /api/events` (the dashboard's live
 * Server-Sent Events feed).
 */
import { Hono } from "hono";
import { ModelswapError } from "../errors.ts";
import type { Observability } from "../observability/observer.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../observability/prometheus.ts";

/** Query values that turn a flag off. */
const OFF = new Set(["0", "false", "no", "off"]);

/** The `/metrics`, `/api/activity` and `/api/events` routes. */
export function observabilityRoutes(observability: Observability): Hono {
  const app = new Hono();

  app.get("/metrics", () => new Response(observability.renderMetrics(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } }));

  app.get("/api/activity", (c) => {
    const limitText = c.req.query("limit");
    const limit = limitText === undefined ? Infinity : Number(limitText);
    if (limit !== Infinity && !(Number.isInteger(limit) && limit >= 1)) {
      throw new ModelswapError(400, "invalid_limit", `limit must be a whole number >= 1 (got ${JSON.stringify(limitText)}); leave it out to get every kept request`);
    }
    return c.json({ data: observability.activity.recent(limit, c.req.query("model")) });
  });

  app.get("/api/events", (c) => {
    const logs = !OFF.has((c.req.query("logs") ?? "").toLowerCase());
    return new Response(observability.events.subscribe({ logs }), {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
      },
    });
  });

  return app;
}
