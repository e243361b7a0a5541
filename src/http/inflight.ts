/**
 * The in-flight list: `GET /api/inflight` (modelswap's: every model request
 * being served or waiting, with its model, path, start, bytes so far and
 * elapsed time) and llama-swap's `POST /api/inflight/:id/cancel`, which ends
 * one: the client is told (a 499 JSON error, or a final SSE error event once
 * the answer has started), the upstream request is aborted and the model's
 * slot is released once, as when a client leaves.
 */
import { Hono } from "hono";
import { ModelswapError } from "../errors.ts";
import type { InflightRequests } from "../observability/inflight.ts";
import { echoed } from "./bounds.ts";

/** The in-flight routes. */
export function inflightRoutes(inflight: InflightRequests): Hono {
  const app = new Hono();

  app.get("/api/inflight", (c) => c.json({ requests: inflight.list() }));

  app.post("/api/inflight/:id/cancel", (c) => {
    const id = c.req.param("id");
    const request = inflight.get(id);
    if (!request) {
      throw new ModelswapError(404, "inflight_not_found", `no request in flight with id ${echoed(id)}; GET /api/inflight lists them (it may have ended already)`);
    }
    if (!request.cancellable) {
      throw new ModelswapError(409, "not_cancellable", `request ${request.id} is a pass-through (/upstream, /comfyui) and cannot be cancelled here; it ends when its client disconnects`);
    }
    if (!request.cancel()) {
      throw new ModelswapError(409, "not_cancellable", `request ${request.id} is already ending`);
    }
    return c.json({ msg: "ok" });
  });

  return app;
}
