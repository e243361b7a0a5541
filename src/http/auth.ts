/**
 * API-key protection for every route but `/health`: the key may come as
 * `Authorization: Bearer`, `Authorization: Basic` (the password part, so a
 * browser prompt works for the UI) or `x-api-key`. Keys are compared in
 * constant time.
 */
import type { MiddlewareHandler } from "hono";
import { timingSafeEqual } from "hono/utils/buffer";
import { ModelswapError } from "../errors.ts";
import { errorResponse } from "./errors.ts";

/** The API key a request carries, if any. */
export function presentedKey(headers: Headers): string | null {
  const auth = headers.get("authorization") ?? "";
  const bearer = /^Bearer\s+(.+)$/i.exec(auth);
  if (bearer) return bearer[1].trim();
  const basic = /^Basic\s+(.+)$/i.exec(auth);
  if (basic) {
    try {
      const decoded = atob(basic[1].trim());
      return decoded.slice(decoded.indexOf(":") + 1);
    } catch {
      return null;
    }
  }
  return headers.get("x-api-key");
}

/** Middleware: 401 unless the request carries one of `keys()` (no keys = open). */
export function requireApiKey(keys: () => string[]): MiddlewareHandler {
  return async (c, next) => {
    const allowed = keys();
    if (allowed.length === 0 || c.req.method === "OPTIONS") return await next();
    const key = presentedKey(c.req.raw.headers);
    // Every key is compared, so the time taken does not tell which one matched.
    const matches = key === null ? [] : await Promise.all(allowed.map((candidate) => timingSafeEqual(key, candidate)));
    const ok = matches.includes(true);
    if (ok) return await next();
    const flavor = c.req.path.startsWith("/v1/messages") ? "anthropic" : "openai";
    const denied = errorResponse(
      new ModelswapError(401, "invalid_api_key", "missing or invalid API key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'"),
      flavor,
    );
    // A browser opening a page, or the dashboard's own requests (same origin), get a Basic challenge: the browser
    // prompts for the key as a password once, then answers later challenges itself. Other clients keep Bearer.
    const site = c.req.header("sec-fetch-site");
    if (/text\/html/.test(c.req.header("accept") ?? "") || site === "same-origin" || site === "none") {
      denied.headers.set("www-authenticate", 'Basic realm="modelswap", charset="UTF-8"');
    }
    return denied;
  };
}
