/**
 * `/upstream/<model>/<path>`: direct passthrough to a model's own server
 * (llama-server's web UI, `/props`, `/slots`, …), WebSocket upgrades
 * included. The model is loaded like for any request; the path can never
 * leave the model's base URL. Peer models (`/upstream/<peer>/<model>/…`)
 * pass through to the peer; the active profile's pins apply.
 */
import { Hono } from "hono";
import { ModelswapError } from "../errors.ts";
import type { Lease } from "../lease.ts";
import type { ServeInfo } from "../runtime/runtime.ts";
import type { RouteContext } from "./context.ts";
import { modelNotFound, type Resolved } from "./names.ts";
import { forwardToPeer } from "./peers.ts";
import { forward } from "./proxy.ts";
import { isWebSocketUpgrade, relayWebSocket } from "./websocket.ts";

/** Split `/upstream/<model>/<rest>` taking the longest prefix that names a model (ids may contain `/`). */
export function splitUpstreamPath<T>(
  rawPath: string,
  resolve: (name: string) => T | undefined,
): { model: T; rest: string } | null {
  const segments = rawPath.slice("/upstream/".length).split("/");
  for (let n = segments.length; n >= 1; n--) {
    let name: string;
    try {
      name = segments.slice(0, n).map(decodeURIComponent).join("/");
    } catch {
      return null;
    }
    const model = resolve(name);
    if (model !== undefined) return { model, rest: n === segments.length ? "" : "/" + segments.slice(n).join("/") };
  }
  return null;
}

/** A rest path that stays inside the base URL: no dot segments (raw or encoded), no control characters. */
export function safeRestPath(rest: string): string {
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]|%[01][0-9a-f]|%7f/i.test(rest)) {
    throw new ModelswapError(400, "invalid_path", "upstream path contains control characters");
  }
  const decodedDots = rest.replace(/%2e/gi, ".");
  if (decodedDots.split(/\/|%2f|%5c|\\/i).some((segment) => segment === ".." || segment === ".")) {
    throw new ModelswapError(400, "invalid_path", "upstream path may not contain '.' or '..' segments");
  }
  return "/" + rest.replace(/^\/+/, "");
}

/** The `/upstream/*` routes. */
export function upstreamRoutes(ctx: RouteContext): Hono {
  const app = new Hono();
  app.get("/upstream", (c) => c.redirect("/ui/", 302));
  app.all("/upstream/*", async (c) => {
    const request = c.req.raw;
    const url = new URL(request.url);
    const config = ctx.router().config;
    // The longest prefix naming a model wins; the active profile's pins apply to it first.
    const target = splitUpstreamPath<Resolved>(url.pathname, (name) => ctx.names.forPath(config, name));
    if (!target) throw modelNotFound(decodeURIComponent(url.pathname.slice("/upstream/".length).split("/")[0]));
    if (target.rest === "") {
      return c.redirect(url.pathname + "/" + url.search, request.method === "GET" || request.method === "HEAD" ? 301 : 308);
    }
    const rest = safeRestPath(target.rest);
    const body = request.body ? new Uint8Array(await request.arrayBuffer()) : null;
    const found = target.model;
    if (found.kind === "peer") {
      // Peers never swap: the path goes straight to the peer's server.
      return forwardToPeer({
        target: found.peer,
        method: request.method,
        path: rest + url.search,
        headers: request.headers,
        body,
        signal: request.signal,
        observation: ctx.observer.request({ model: found.peer.fqn, path: url.pathname, method: request.method, stream: false }),
      });
    }
    const model = found.id;
    const router = ctx.router();
    const isAsset = config.upstream.ignorePaths.some((pattern) => new RegExp(pattern).test(rest));
    // Static assets never load a model nor take a slot of its concurrencyLimit.
    const lease: Lease = isAsset ? router.assetLease(model, rest) : await router.request(model, request.signal).lease;
    if (isWebSocketUpgrade(request)) {
      const upgrade = (c.env as ServeInfo | undefined)?.upgradeWebSocket;
      if (!upgrade) {
        lease.release();
        throw new ModelswapError(400, "websocket_unsupported", "this server cannot accept WebSocket upgrades");
      }
      return relayWebSocket({
        request,
        upgrade,
        target: lease.baseUrl + rest + url.search,
        onMessage: () => lease.touch(),
        onClose: () => lease.release(),
      });
    }
    return forward({
      lease,
      method: request.method,
      path: rest + url.search,
      headers: request.headers,
      body,
      signal: request.signal,
      stallTimeoutMs: config.models[model].stallTimeout * 1000,
    });
  });
  return app;
}
