/**
 * Routes about the router itself: running/status views, version, unload,
 * and log history/streams (the model list is in model-list.ts).
 */
import { Hono } from "hono";
import { localModelId } from "../config/aliases.ts";
import { ModelswapError } from "../errors.ts";
import type { AppContext } from "./context.ts";
import { type HardwareContext, memoryStatus } from "./hardware.ts";
import { localModel } from "./names.ts";
import { BUILD_DATE, COMMIT } from "../version.ts";

/** The admin and listing routes. */
export function adminRoutes(ctx: AppContext & HardwareContext): Hono {
  const app = new Hono();

  app.get("/running", (c) => {
    const router = ctx.router();
    const memory = memoryStatus(ctx);
    const running = router.status().filter((s) => s.state !== "stopped").map((s) => {
      const model = router.config.models[s.model];
      return {
        model: s.model,
        state: s.state,
        cmd: ctx.logs.redactor.apply(model.cmd),
        proxy: model.proxy,
        ttl: model.ttl,
        name: model.name,
        description: model.description,
        pid: s.pid,
        inFlight: s.inFlight,
        savedContext: s.savedContext ?? null,
        ...memory.model(s.model),
      };
    });
    return c.json({ running, ...memory.devices });
  });

  app.get("/api/status", (c) => {
    const memory = memoryStatus(ctx);
    const models = ctx.router().status().map((s) => ({ ...s, ...memory.model(s.model) }));
    return c.json({ version: ctx.version, models, ...memory.devices });
  });
  // llama-swap's shape; Ollama clients read `version` too (it starts with digits).
  app.get("/api/version", (c) => c.json({ version: ctx.version, commit: COMMIT, build_date: BUILD_DATE }));

  const unloadAll = async () => {
    await ctx.router().unload("all");
  };
  app.post("/api/models/unload", async (c) => {
    await unloadAll();
    return c.json({ msg: "ok" });
  });
  app.get("/unload", async (c) => {
    await unloadAll();
    return c.text("OK", 200);
  });
  app.post("/api/models/unload/*", async (c) => {
    const name = decodedName(c.req.path.slice("/api/models/unload/".length));
    await ctx.router().unload([localModel(ctx.router().config, name)]);
    return c.text("OK", 200);
  });
  app.post("/api/models/forget-context/*", async (c) => {
    const name = decodedName(c.req.path.slice("/api/models/forget-context/".length));
    const id = localModel(ctx.router().config, name);
    await ctx.router().forgetContext(id);
    return c.json({ msg: "ok", model: id });
  });
  app.post("/api/models/load/*", async (c) => {
    const name = decodedName(c.req.path.slice("/api/models/load/".length));
    const id = localModel(ctx.router().config, name);
    await ctx.router().load(id);
    return c.json({ msg: "ok", model: id });
  });

  app.get("/", (c) => c.redirect("/ui", 302));
  app.get("/logs", (c) => {
    if (/text\/html/.test(c.req.header("accept") ?? "")) return c.redirect("/ui/", 302);
    return c.text(ctx.logs.combined.history(), 200);
  });
  app.get("/logs/stream/*", (c) => logStream(ctx, c.req.path.slice("/logs/stream/".length), c.req.raw));
  app.get("/logs/stream", (c) => logStream(ctx, "", c.req.raw));
  return app;
}

/** Characters of a bad name quoted back in an error. */
const QUOTED_CHARS = 100;

/** A name from the path, percent-decoded; a malformed escape (`%ff`) is the client's mistake: 400, not 500. */
function decodedName(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    const quoted = encoded.length > QUOTED_CHARS ? `${encoded.slice(0, QUOTED_CHARS)}…` : encoded;
    throw new ModelswapError(400, "invalid_path", `the name in the path is not valid percent-encoding (${JSON.stringify(quoted)}); encode it with encodeURIComponent`);
  }
}

function logStream(ctx: AppContext, source: string, request: Request): Response {
  const name = decodedName(source);
  let buffer;
  if (name === "") buffer = ctx.logs.combined;
  else if (name === "proxy") buffer = ctx.logs.proxy;
  else if (name === "upstream") buffer = ctx.logs.upstream;
  else {
    const id = localModelId(ctx.router().config, name);
    if (!id) throw new ModelswapError(400, "invalid_logger", `no log named "${name}": use 'proxy', 'upstream' or a model's id`);
    buffer = ctx.logs.model(id);
  }
  const history = !new URL(request.url).searchParams.has("no-history");
  return new Response(buffer.stream({ history }), {
    headers: { "content-type": "text/plain; charset=utf-8", "x-accel-buffering": "no", "cache-control": "no-cache" },
  });
}
