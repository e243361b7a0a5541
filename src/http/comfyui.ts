/**
 * `/comfyui/…`: llama-swap's passthrough to ComfyUI, the local model with
 * the fixed id `comfyui_auto` (reference §2.5). `/comfyui` redirects to
 * `/comfyui/` (301 for GET and HEAD, 308 otherwise, query kept). Only the
 * root `/comfyui/` may load the model: a browser tab left open on an
 * unloaded ComfyUI keeps asking for assets, its API and its WebSocket, and
 * those get 409 instead of loading it again. WebSockets never load it and
 * hold no slot of its concurrencyLimit (a ComfyUI page keeps one open).
 */
import { Hono } from "hono";
import { COMFYUI_MODEL } from "../config/compat.ts";
import { ModelswapError } from "../errors.ts";
import type { ServeInfo } from "../runtime/runtime.ts";
import type { RouteContext } from "./context.ts";
import type { RequestOutcome } from "./outcomes.ts";
import { forward } from "./proxy.ts";
import { safeRestPath } from "./upstream-route.ts";
import { isWebSocketUpgrade, relayWebSocket } from "./websocket.ts";

/** The `/comfyui` routes. Their outcomes are recorded through the app's `outcome`, as `/upstream`'s are. */
export function comfyuiRoutes(ctx: RouteContext): Hono {
  const app = new Hono();
  app.all("/comfyui", (c) => {
    const at = c.req.url.indexOf("?");
    const method = c.req.method;
    return c.redirect(`/comfyui/${at < 0 ? "" : c.req.url.slice(at)}`, method === "GET" || method === "HEAD" ? 301 : 308);
  });
  app.all("/comfyui/*", async (c) => {
    const request = c.req.raw;
    const url = new URL(request.url);
    const router = ctx.router();
    const model = COMFYUI_MODEL;
    if (!Object.hasOwn(router.config.models, model)) {
      throw new ModelswapError(404, "model_not_found", `no local model ${model} is configured; /comfyui/ serves the model with that id`);
    }
    (c.get("outcome") as RequestOutcome | undefined)?.passthrough(model);
    const rest = safeRestPath(url.pathname.slice("/comfyui".length));
    const ready = router.state(model) === "ready";
    if (rest !== "/" && !ready) {
      throw new ModelswapError(409, "model_not_loaded", `model ${model} is not loaded; only /comfyui/ can start it`, { model });
    }
    if (isWebSocketUpgrade(request)) {
      if (!ready) {
        throw new ModelswapError(409, "model_not_loaded", `model ${model} is not loaded; a WebSocket cannot start it (open /comfyui/ first)`, { model });
      }
      const upgrade = (c.env as ServeInfo | undefined)?.upgradeWebSocket;
      if (!upgrade) throw new ModelswapError(400, "websocket_unsupported", "this server cannot accept WebSocket upgrades");
      // Outside the scheduler, as llama-swap ignores comfyui_auto's WebSockets: no load, no slot, no hold on swaps.
      const lease = router.assetLease(model, rest);
      return relayWebSocket({
        request,
        upgrade,
        target: lease.baseUrl + rest + url.search,
        onMessage: () => lease.touch(),
        onClose: () => lease.release(),
      });
    }
    const body = request.body ? new Uint8Array(await request.arrayBuffer()) : null;
    const lease = await router.request(model, request.signal).lease;
    return forward({
      lease,
      method: request.method,
      path: rest + url.search,
      headers: request.headers,
      body,
      signal: request.signal,
      stallTimeoutMs: router.config.models[model].stallTimeout * 1000,
    });
  });
  return app;
}
