/**
 * `/upstream/<model>/<path>`: direct passthrough to a model's own server
 * (llama-server's web UI, `/props`, `/slots`, …). The model is loaded like
 * for any request; the path can never leave the model's base URL. Peer
 * models (`/upstream/<peer>/<model>/…`) pass through to the peer; the
 * active profile's pins apply.
 */
import { Hono } from "hono";
import { resolveModelId } from "../config/load.ts";
import { ModelswapError } from "../errors.ts";
import type { Lease } from "../router.ts";
import type { AppContext } from "./app.ts";
import { forwardToPeer, type PeerTarget, resolvePeerModel } from "./peers.ts";
import type { ProfileSwitch } from "./profiles.ts";
import { forward } from "./proxy.ts";

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
export function upstreamRoutes(ctx: AppContext, profiles: ProfileSwitch): Hono {
  const app = new Hono();
  app.get("/upstream", (c) => c.redirect("/ui/", 302));
  app.all("/upstream/*", async (c) => {
    const request = c.req.raw;
    const url = new URL(request.url);
    const config = ctx.router().config;
    type Found = { local: string } | { peer: PeerTarget };
    // The longest prefix naming a model wins; the active profile's pins apply to it first.
    const target = splitUpstreamPath<Found>(url.pathname, (requested) => {
      const name = profiles.rewrite(requested);
      const local = resolveModelId(config, name);
      if (local !== undefined) return { local };
      const peer = resolvePeerModel(config, name);
      return peer && { peer };
    });
    if (!target) {
      throw new ModelswapError(404, "model_not_found", `no configured model matches ${url.pathname}; GET /v1/models lists the available models`);
    }
    if (target.rest === "") {
      return c.redirect(url.pathname + "/" + url.search, request.method === "GET" || request.method === "HEAD" ? 301 : 308);
    }
    const rest = safeRestPath(target.rest);
    const body = request.body ? new Uint8Array(await request.arrayBuffer()) : null;
    if ("peer" in target.model) {
      // Peers never swap: the path goes straight to the peer's server.
      return forwardToPeer({
        target: target.model.peer,
        method: request.method,
        path: rest + url.search,
        headers: request.headers,
        body,
        signal: request.signal,
        observation: ctx.observer.request({ model: target.model.peer.fqn, path: url.pathname, method: request.method, stream: false }),
      });
    }
    const model = target.model.local;
    const router = ctx.router();
    const upstream = router.upstream(model)!;
    const isAsset = config.upstream.ignorePaths.some((pattern) => new RegExp(pattern).test(rest));
    let lease: Lease;
    if (isAsset) {
      // Static assets never load a model nor take a slot of its concurrencyLimit.
      if (upstream.state !== "ready") {
        throw new ModelswapError(409, "model_not_loaded", `model "${model}" is not loaded; ${rest} does not load it (upstream.ignorePaths)`, { model });
      }
      lease = { model, upstream, release: () => {} };
    } else {
      lease = await router.request(model, request.signal).lease;
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
