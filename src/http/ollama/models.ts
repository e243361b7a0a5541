/**
 * What Ollama clients ask about models: `/api/tags` (every name
 * `/v1/models` lists), `/api/ps` (the local models that are loaded or
 * loading) and `/api/show` (what the config declares about one name). No
 * model file is read: sizes are 0 and details are empty unless the config
 * says more (`capabilities`: vision, tools, context length).
 */
import type { Config } from "../../config/schema.ts";
import { ModelswapError } from "../../errors.ts";
import { echoed } from "../bounds.ts";
import type { RouteContext } from "../context.ts";
import { modelList } from "../model-list.ts";
import { lookupName } from "../names.ts";
import type { Json } from "./answers.ts";

/** `expires_at` of a model kept loaded for ever (Ollama shows a date far ahead too). */
const FOREVER = "9999-12-31T23:59:59.000Z";

/** Ollama's `details` of a model of which modelswap knows no file facts. */
const DETAILS = { parent_model: "", format: "", family: "", families: [], parameter_size: "", quantization_level: "" };

/** The architecture named in `/api/show`'s `model_info`, under which the context length is given. */
const ARCHITECTURE = "modelswap";

/** A stable Ollama-style digest (64 hex digits) for a name. */
async function digestOf(name: string): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(name)));
  return [...hash].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Whether `name` means something without Ollama's tag rules: a local or peer model, a selector or a profile pin. */
function isKnown(ctx: RouteContext, config: Config, name: string): boolean {
  return lookupName(config, name) !== undefined || Object.hasOwn(config.selectors, name) ||
    Object.hasOwn(ctx.names.profiles.active()?.profile.pins ?? {}, name);
}

/**
 * The name to route for an Ollama client's `name`: Ollama reads a name
 * without a tag as `name:latest`, so clients may add `:latest` to a name
 * they were given; it is dropped unless the tagged name itself is known.
 */
export function ollamaName(ctx: RouteContext, name: string): string {
  if (!name.endsWith(":latest")) return name;
  const config = ctx.router().config;
  const base = name.slice(0, -":latest".length);
  return !isKnown(ctx, config, name) && isKnown(ctx, config, base) ? base : name;
}

/** `GET /api/tags`: every name `/v1/models` lists (models, aliases if listed, peers, selectors, pins). */
export async function tags(ctx: RouteContext, modifiedAt: string): Promise<Json> {
  const records = modelList(ctx.router(), ctx.names.profiles.active()).data;
  const models = await Promise.all(records.map(async (record) => ({
    name: record.id,
    model: record.id,
    modified_at: modifiedAt,
    size: 0,
    digest: await digestOf(record.id),
    details: DETAILS,
  })));
  return { models };
}

/** The declared context length of a local model, if any. */
function contextLength(config: Config, id: string): number | undefined {
  const context = config.models[id]?.capabilities.context;
  return typeof context === "number" && context > 0 ? context : undefined;
}

/**
 * `GET /api/ps`: local models loaded or loading. `expires_at` is when an
 * idle model would be unloaded by its configured ttl counting from now (a
 * `keep_alive` a client sent is not reflected).
 */
export async function running(ctx: RouteContext): Promise<Json> {
  const router = ctx.router();
  const config = router.config;
  const loaded = router.status().filter((status) => status.state === "ready" || status.state === "starting");
  const models = await Promise.all(loaded.map(async ({ model: id }) => {
    const ttl = config.models[id]?.ttl ?? 0;
    const context = contextLength(config, id);
    return {
      name: id,
      model: id,
      size: 0,
      digest: await digestOf(id),
      details: DETAILS,
      expires_at: ttl > 0 ? new Date(Date.now() + ttl * 1000).toISOString() : FOREVER,
      size_vram: 0,
      ...(context ? { context_length: context } : {}),
    };
  }));
  return { models };
}

/** Ollama capability names for a local model's declared `capabilities`. */
function capabilities(config: Config, id: string): string[] {
  const declared = config.models[id].capabilities;
  const inputs = declared.in ?? ["text"];
  return [
    ...(declared.reranker ? [] : ["completion"]),
    ...(inputs.includes("image") ? ["vision"] : []),
    ...(declared.tools ? ["tools"] : []),
  ];
}

/** The 404 for a name `/api/show` does not know, in Ollama's words. */
function notFound(name: string): ModelswapError {
  return new ModelswapError(404, "model_not_found", `model ${echoed(name)} not found; GET /api/tags lists the available models`, { model: name });
}

/** `POST /api/show`: what the config declares about a name (a local model in full; a peer's model or a selector in brief). */
export function show(ctx: RouteContext, requested: string, modifiedAt: string): Json {
  const config = ctx.router().config;
  const name = ctx.names.profiles.rewrite(ollamaName(ctx, requested));
  const found = lookupName(config, name);
  if (!found && !Object.hasOwn(config.selectors, name)) throw notFound(requested);
  const local = found?.kind === "local" ? found.id : undefined;
  const context = local === undefined ? undefined : contextLength(config, local);
  const description = local === undefined ? "" : config.models[local].description;
  const kind = local !== undefined ? "model" : found ? "peer model" : "selector";
  return {
    license: "",
    modelfile: `# modelswap ${kind} ${JSON.stringify(name)}${description ? `: ${description}` : ""}\n`,
    parameters: "",
    template: "",
    details: DETAILS,
    model_info: {
      "general.architecture": ARCHITECTURE,
      "general.basename": name,
      ...(context ? { [`${ARCHITECTURE}.context_length`]: context } : {}),
    },
    capabilities: local === undefined ? ["completion"] : capabilities(config, local),
    modified_at: modifiedAt,
  };
}
