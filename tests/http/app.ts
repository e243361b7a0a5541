/**
 * The whole HTTP app in-process: `buildApp` over a router on fake
 * processes, answering `app.request()` with no socket and no process.
 */
import type { Hono } from "hono";
import { buildApp } from "../../src/http/app.ts";
import { LogHub } from "../../src/logging/logger.ts";
import { Observability } from "../../src/observability/observer.ts";
import { RouterRig } from "../router/fakes.ts";

/** An app, the router rig behind it, and JSON helpers. */
export interface AppRig {
  app: Hono;
  rig: RouterRig;
  /** POST a JSON body (objects are encoded; strings are sent as they are). */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
}

/** The app for a config given as YAML. */
export function appFor(yaml: string): AppRig {
  const rig = new RouterRig(yaml);
  const logs = new LogHub("none", null);
  const observability = new Observability({ router: () => rig.router, logs, version: "test" });
  const app = buildApp({ router: () => rig.router, logs, observer: observability, observability, version: "test" });
  return {
    app,
    rig,
    post: (path, body, headers = {}) =>
      Promise.resolve(app.request(path, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      })),
  };
}
