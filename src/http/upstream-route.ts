/**
 * `/upstream/<model>/<path>`: direct passthrough to a model's own server
 * (llama-server's web UI, `/props`, `/slots`, …), WebSocket upgrades
 * included. The model is loaded like for any request; the path can never
 * leave the model's base URL. Peer models (`/upstream/<peer>/<model>/…`)
 * pass through to the peer; the active profile's pins apply.
 */
import { Hono } from "hono";
import type { Config } from "../config/schema.ts";
import { ModelswapError } from "../errors.ts";
import type { Lease } from "../lease.ts";
import type { ServeInfo } from "../runtime/runtime.ts";
import type { RouteContext } from "./context.ts";
import { longestName, modelNotFound, type Resolved } from "./names.ts";
import type { RequestOutcome } from "./outcomes.ts";
import { forwardToPeer } from "./peers.ts";
import { forward } from "./proxy.ts";
import { isWebSocketUpgrade, relayWebSocket } from "./websocket.ts";

/** `decodeURIComponent`, or null for a malformed escape (`%ff`). */
function decoded(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/**
 * Split `/upstream/<model>/<rest>` taking the longest prefix that names a
 * model (ids may contain `/`). Only prefixes of at most `maxNameChars`
 * characters can name one, so only those are decoded and tried: the work is
 * bounded by the longest configured name, not by the path's length or its
 * number of segments.
 */
export function splitUpstreamPath<T>(
  rawPath: string,
  resolve: (name: string) => T | undefined,
  maxNameChars: number,
): { model: T; rest: string } | null {
  const tail = rawPath.slice("/upstream/".length);
  const candidates: { name: string; end: number }[] = [];
  for (let at = 0; at <= tail.length;) {
    const slash = tail.indexOf("/", at);
    const end = slash < 0 ? tail.length : slash;
    // A segment's escapes shrink it at most threefold when decoded.
    const segment = end - at > 3 * maxNameChars ? null : decoded(tail.slice(at, end));
    if (segment === null) break;
    const name = candidates.length === 0 ? segment : `${candidates.at(-1)!.name}/${segment}`;
    if (name.length > maxNameChars) break;
    candidates.push({ name, end });
    at = end + 1;
  }
  for (let n = candidates.length - 1; n >= 0; n--) {
    const model = resolve(candidates[n].name);
    if (model !== undefined) return { model, rest: tail.slice(candidates[n].end) };
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

/** True when `pattern` has a `|` outside every group (so anchoring its start would change what it matches). */
function alternatesAtTop(pattern: string): boolean {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === "\\") i++;
    else if (inClass) inClass = char !== "]";
    else if (char === "[") inClass = true;
    else if (char === "(") depth++;
    else if (char === ")") depth--;
    else if (char === "|" && depth === 0) return true;
  }
  return false;
}

/** The compiled `upstream.ignorePaths` of each config, built once per config object. */
const ignorePatterns = new WeakMap<Config, RegExp[]>();

/**
 * `upstream.ignorePaths` compiled. A pattern that starts with `.*` (the
 * default one does) is anchored at the start: it matches the same rest
 * paths, which hold no line breaks (safeRestPath refuses them), but in one
 * pass instead of one pass per starting position.
 */
function ignorePathsOf(config: Config): RegExp[] {
  let patterns = ignorePatterns.get(config);
  if (patterns) return patterns;
  patterns = config.upstream.ignorePaths.map((pattern) =>
    new RegExp(pattern.startsWith(".*") && !alternatesAtTop(pattern) ? `^(?:${pattern})` : pattern)
  );
  ignorePatterns.set(config, patterns);
  return patterns;
}

/** The `/upstream/*` routes. Their outcomes are recorded through the app's `outcome` (outcomes.ts). */
export function upstreamRoutes(ctx: RouteContext): Hono {
  const app = new Hono();
  app.get("/upstream", (c) => c.redirect("/ui/", 302));
  app.all("/upstream/*", async (c) => {
    const request = c.req.raw;
    const url = new URL(request.url);
    const config = ctx.router().config;
    const outcome: RequestOutcome = c.get("outcome");
    // The longest prefix naming a model wins; the active profile's pins apply to it first.
    const target = splitUpstreamPath<Resolved>(url.pathname, (name) => ctx.names.forPath(config, name), longestName(config));
    if (!target) {
      const first = url.pathname.slice("/upstream/".length).split("/", 1)[0];
      throw modelNotFound(decoded(first) ?? first);
    }
    const found = target.model;
    outcome.passthrough(found.kind === "peer" ? found.peer.fqn : found.id);
    if (target.rest === "") {
      return c.redirect(url.pathname + "/" + url.search, request.method === "GET" || request.method === "HEAD" ? 301 : 308);
    }
    const rest = safeRestPath(target.rest);
    const body = request.body ? new Uint8Array(await request.arrayBuffer()) : null;
    if (found.kind === "peer") {
      // Peers never swap: the path goes straight to the peer's server.
      return forwardToPeer({
        target: found.peer,
        method: request.method,
        path: rest + url.search,
        headers: request.headers,
        body,
        signal: request.signal,
        observation: outcome.observe(found.peer.fqn, false),
      });
    }
    const model = found.id;
    const router = ctx.router();
    const isAsset = ignorePathsOf(config).some((pattern) => pattern.test(rest));
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
