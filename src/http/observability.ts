/**
 * Observability routes: `GET /metrics` (Prometheus text), `GET /api/activity`
 * (recent requests, modelswap's shape), llama-swap's `GET
 * /api/metrics/activity` (paginated, filtered, sorted) and `GET
 * /api/metrics/stats`, `GET /api/captures/:id`, and `GET /api/events` (the
 * live Server-Sent Events feed: llama-swap's format by default,
 * `?format=modelswap` for modelswap's richer one, which the dashboard reads).
 */
import { Hono } from "hono";
import { ModelswapError } from "../errors.ts";
import { parseActivityQuery } from "../observability/activity-query.ts";
import { captureJson } from "../observability/captures.ts";
import { LLAMA_SWAP_FORMAT } from "../observability/llama-events.ts";
import type { Observability } from "../observability/observer.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../observability/prometheus.ts";
import { echoed } from "./bounds.ts";

/** Query values that turn a flag off. */
const OFF = new Set(["0", "false", "no", "off"]);

/** The `/metrics`, activity, captures and `/api/events` routes. */
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

  app.get("/api/metrics/activity", (c) => {
    const query = parseActivityQuery(new URL(c.req.url).searchParams);
    const page = observability.activity.query(query);
    return c.json({
      data: page.records.map((record) => observability.row(record)),
      page: query.page,
      limit: query.limit,
      total: page.total,
      total_pages: Math.ceil(page.total / query.limit),
    });
  });

  app.get("/api/metrics/stats", (c) => c.json(observability.activity.stats(c.req.query("model")?.trim() || null)));

  app.get("/api/captures/:id", (c) => {
    const text = c.req.param("id");
    const id = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(id)) throw new ModelswapError(400, "invalid_capture_id", `invalid capture ID ${echoed(text)}: use an activity row's id`);
    const capture = observability.captures.get(id);
    if (!capture) {
      throw new ModelswapError(404, "capture_not_found", `no capture for request ${id}: captures are kept for recent requests while captureBuffer (MB) has room, and not at all with captureBuffer: 0`);
    }
    return c.json(captureJson(id, capture));
  });

  app.get("/api/events", (c) => {
    const logs = !OFF.has((c.req.query("logs") ?? "").toLowerCase());
    const format = c.req.query("format") ?? LLAMA_SWAP_FORMAT;
    if (!observability.events.hasFormat(format)) {
      throw new ModelswapError(400, "invalid_format", `unknown event format ${echoed(format)}: use llama-swap (the default) or modelswap`);
    }
    return new Response(observability.events.subscribe({ logs, format }), {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
      },
    });
  });

  return app;
}
