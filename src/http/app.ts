/**
 * The HTTP surface: OpenAI (and llama-server, Anthropic) routes that are
 * dispatched by model, the `/upstream` passthrough, and the admin routes.
 * Everything stateful lives in the router; this file only maps HTTP to it.
 */
import { type Context, Hono } from "hono";
import type { Config } from "../config/schema.ts";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { ModelswapError, toModelswapError } from "../errors.ts";
import { CANCELLED } from "../observability/requests.ts";
import type { ServeInfo } from "../runtime/runtime.ts";
import { adminRoutes } from "./admin.ts";
import { comfyuiRoutes } from "./comfyui.ts";
import { type ConfigEditorContext, configEditorRoutes } from "./config-editor.ts";
import { clipped, MAX_URL_CHARS, targetLength, urlTooLong } from "./bounds.ts";
import { requireApiKey } from "./auth.ts";
import type { AppContext, RouteContext } from "./context.ts";
import { errorResponse, type ErrorFlavor } from "./errors.ts";
import { faviconRoutes } from "./favicon.ts";
import { inflightRoutes } from "./inflight.ts";
import { type HardwareContext, hardwareRoutes } from "./hardware.ts";
import { modelListRoutes } from "./model-list.ts";
import { modelRoute } from "./model-route.ts";
import { ModelNames } from "./names.ts";
import { observabilityRoutes } from "./observability.ts";
import { ollamaErrors } from "./ollama/errors.ts";
import { OLLAMA_MODEL_ROUTES, ollamaRoutes } from "./ollama/routes.ts";
import { RequestOutcome } from "./outcomes.ts";
import { ProfileSwitch, profileRoutes } from "./profiles.ts";
import { SelectorReservations } from "./selectors.ts";
import { uiRoutes } from "./ui/routes.ts";
import { upstreamRoutes } from "./upstream-route.ts";

/** Routes whose POST body names the model (JSON or multipart). */
export const MODEL_ROUTES = [
  "/v1/chat/completions",
  "/v1/completions",
  "/v1/embeddings",
  "/v1/responses",
  "/v1/rerank",
  "/v1/reranking",
  "/v1/audio/speech",
  "/v1/audio/transcriptions",
  "/v1/images/generations",
  "/v1/images/edits",
  "/v1/messages",
  "/v1/messages/count_tokens",
  "/completion",
  "/completions",
  "/infill",
  "/rerank",
  "/reranking",
  "/tokenize",
  "/detokenize",
  "/apply-template",
  "/embedding",
  "/embeddings",
  "/v1/audio/voices",
  "/sdapi/v1/txt2img",
  "/sdapi/v1/img2img",
];

/** llama-swap's `/audioapi/...` routes reach the upstream without the prefix. */
export const PREFIXED_MODEL_ROUTES: Record<string, string> = { "/audioapi/v1/tasks/run": "/v1/tasks/run" };

/** Routes whose `?model=` query names the model (GET). */
export const QUERY_MODEL_ROUTES = ["/props", "/slots", "/v1/audio/voices", "/sdapi/v1/loras"];

/** The methods the model-dispatched routes answer for `path` (empty for other paths). */
function allowedMethods(path: string): string[] {
  const methods: string[] = [];
  const versionless = (route: string) => route.startsWith("/v1/") && path === `/v${route.slice(3)}`;
  if (MODEL_ROUTES.some((route) => route === path || versionless(route)) || path in PREFIXED_MODEL_ROUTES) methods.push("POST");
  if (QUERY_MODEL_ROUTES.includes(path)) methods.push("GET");
  return methods;
}

function flavorOf(path: string): ErrorFlavor {
  return /^\/v1?\/messages(\/|$)/.test(path) ? "anthropic" : "openai";
}

/** Every path served by a model route (the versionless aliases included). */
const RECORDED_ROUTES = new Set([
  ...MODEL_ROUTES,
  ...MODEL_ROUTES.filter((route) => route.startsWith("/v1/")).map((route) => `/v${route.slice(3)}`),
  ...Object.keys(PREFIXED_MODEL_ROUTES),
  ...QUERY_MODEL_ROUTES,
  ...OLLAMA_MODEL_ROUTES,
]);

/** The route label a request is recorded under: its model route, `/upstream/*`, `/comfyui/*`, or null for routes that are not recorded. */
function recordedRoute(path: string): string | null {
  if (RECORDED_ROUTES.has(path)) return path;
  if (path.startsWith("/comfyui/")) return "/comfyui/*";
  return path.startsWith("/upstream/") ? "/upstream/*" : null;
}

/** Builds the Hono application. */
export function buildApp(ctx: AppContext & HardwareContext & ConfigEditorContext): Hono {
  const app = new Hono();
  const config = () => ctx.router().config;

  app.onError((error, c) => {
    const response = errorResponse(error, flavorOf(c.req.path));
    // A cancelled request's client is still there: it is told with nginx's 499, which no SDK retries.
    return toModelswapError(error).code === CANCELLED ? new Response(response.body, { status: 499, headers: response.headers }) : response;
  });
  app.notFound((c) => {
    const allowed = allowedMethods(c.req.path);
    if (allowed.length > 0 && !allowed.includes(c.req.method)) {
      const response = errorResponse(
        new ModelswapError(405, "method_not_allowed", `${c.req.path} answers ${allowed.join(", ")}, not ${clipped(c.req.method)}`),
        flavorOf(c.req.path),
      );
      response.headers.set("allow", allowed.join(", "));
      return response;
    }
    return errorResponse(
      new ModelswapError(404, "route_not_found", `no route for ${clipped(c.req.method)} ${clipped(c.req.path)}; see the README for the supported endpoints`),
    );
  });
  // The CORS and body-limit middlewares depend on the config; rebuild them only when it is reloaded.
  const perConfig = <T>(build: (c: Config) => T) => {
    let built: { config: Config; value: T } | null = null;
    return () => {
      const current = config();
      if (built?.config !== current) built = { config: current, value: build(current) };
      return built.value;
    };
  };
  const corsFor = perConfig((c) => cors({ origin: c.cors.origins.includes("*") ? "*" : c.cors.origins, maxAge: 86400 }));
  const bodyLimitFor = perConfig((c) =>
    bodyLimit({
      maxSize: c.maxBodyBytes,
      // Thrown, so app.onError answers it and the request's outcome records why.
      onError: () => {
        throw new ModelswapError(413, "request_too_large", `request body is larger than ${c.maxBodyBytes} bytes (maxBodyBytes in the config)`);
      },
    })
  );
  // Outermost: errors on Ollama's routes leave in Ollama's shape, after they were recorded in the usual one.
  app.use("*", ollamaErrors());
  // Next, so it sees every answer: each request to a model route or /upstream is recorded once, refusals included.
  app.use("*", async (c, next) => {
    const route = c.req.method === "OPTIONS" ? null : recordedRoute(c.req.path);
    if (route === null) return await next();
    const outcome = new RequestOutcome(ctx.observability.track({
      route,
      path: c.req.path.slice(0, MAX_URL_CHARS),
      method: c.req.method,
      headers: c.req.raw.headers,
      remoteAddress: (c.env as ServeInfo | undefined)?.remoteAddress ?? "",
      signal: c.req.raw.signal,
    }));
    c.set("outcome", outcome);
    await next();
    await outcome.settle(c);
  });
  // A request target beyond its bound is refused before any other work (routing, auth, body).
  app.use("*", (c, next) => {
    const length = targetLength(c.req.url);
    if (length > MAX_URL_CHARS) throw urlTooLong(length);
    return next();
  });
  // CORS only concerns browsers, which always send Origin; other clients skip the middleware's cost.
  app.use("*", (c, next) => (c.req.raw.headers.has("origin") || c.req.method === "OPTIONS" ? corsFor()(c, next) : next()));
  // With a status Hono sets Content-Type itself; its bare form leaves it to the server, which the guard is for most requests.
  app.get("/health", (c) => c.text("OK", 200));
  app.get("/wol-health", (c) => c.text("OK", 200));
  app.route("/", faviconRoutes());
  app.use("*", requireApiKey(() => config().apiKeys));
  app.use("*", (c, next) => {
    // A declared length within the limit needs no counting; chunked bodies go through the middleware.
    const declared = c.req.raw.headers.get("content-length");
    if (!c.req.raw.body || (declared !== null && !c.req.raw.headers.has("transfer-encoding") && Number(declared) <= config().maxBodyBytes)) {
      return next();
    }
    return bodyLimitFor()(c, next);
  });

  const routes: RouteContext = { ...ctx, names: new ModelNames(new ProfileSwitch(config), new SelectorReservations()) };
  const handleModelRoute = (c: Context, upstreamPath: string) => modelRoute(routes, c.req.raw, upstreamPath, c.get("outcome"));

  /** The query string of a URL ("?a=b" or ""), without parsing the whole URL. */
  const search = (url: string) => {
    const at = url.indexOf("?");
    return at < 0 ? "" : url.slice(at);
  };
  for (const path of MODEL_ROUTES) {
    app.post(path, (c) => handleModelRoute(c, path + search(c.req.url)));
    if (path.startsWith("/v1/")) {
      // llama-swap's versionless aliases: /v/chat/completions reaches the upstream as /chat/completions
      const short = path.slice(3);
      app.post(`/v${short}`, (c) => handleModelRoute(c, short));
    }
  }
  for (const [path, upstreamPath] of Object.entries(PREFIXED_MODEL_ROUTES)) {
    app.post(path, (c) => handleModelRoute(c, upstreamPath + search(c.req.url)));
  }
  for (const path of QUERY_MODEL_ROUTES) {
    app.get(path, (c) => handleModelRoute(c, path + search(c.req.url)));
  }

  app.route("/", upstreamRoutes(routes));
  app.route("/", comfyuiRoutes(routes));
  app.route("/", modelListRoutes(routes));
  // llama-swap's clients hear of a profile switch (profileChanged, then the models).
  ctx.observability.useProfiles(() => routes.names.profiles.active()?.name ?? null);
  app.use("/api/profiles/active", async (c, next) => {
    await next();
    if (c.req.method === "PUT" && c.res.ok) ctx.observability.profileChanged();
  });
  app.route("/", profileRoutes(routes.names.profiles, config));
  app.route("/", adminRoutes(ctx));
  app.route("/", ollamaRoutes(routes));
  app.route("/", hardwareRoutes(ctx));
  app.route("/", observabilityRoutes(ctx.observability));
  app.route("/", inflightRoutes(ctx.observability.inflight));
  app.route("/", configEditorRoutes(ctx));
  app.route("/", uiRoutes());
  return app;
}
