/**
 * The demo upstream's HTTP app: every route file's endpoints on one Hono
 * app, with llama-server's error body for unknown paths and failures.
 */
import { Hono } from "hono";
import type { Runtime } from "../runtime/runtime.ts";
import { anthropicRoutes } from "./anthropic.ts";
import { createDemo } from "./context.ts";
import type { DemoOptions } from "./flags.ts";
import { errorResponse } from "./http.ts";
import { introspectionRoutes } from "./introspection.ts";
import { llamaRoutes } from "./llama.ts";
import { mediaRoutes } from "./media.ts";
import { openaiRoutes } from "./openai.ts";
import { retrievalRoutes } from "./retrieval.ts";
import { slotRoutes } from "./slots.ts";

/** The Hono app serving every demo endpoint; its startup clock starts now. */
export function demoApp(options: DemoOptions, runtime: Runtime): Hono {
  const demo = createDemo(options, runtime);
  const app = new Hono();
  introspectionRoutes(app, demo);
  llamaRoutes(app, demo);
  slotRoutes(app, demo);
  openaiRoutes(app, demo);
  anthropicRoutes(app, demo);
  retrievalRoutes(app, demo);
  mediaRoutes(app, demo);
  app.notFound((c) =>
    errorResponse(404, `demo-upstream has no endpoint ${c.req.method} ${c.req.path}`, "not_found_error")
  );
  app.onError((error) => errorResponse(500, `demo-upstream failed: ${error.message}`, "server_error"));
  return app;
}
