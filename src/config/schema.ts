/**
 * The config file format: llama-swap's YAML (reference §1), plus a few keys
 * of our own (marked "ours"). This schema is the one source of the types,
 * defaults and per-field errors; `load.ts` runs env and `${macro}` expansion
 * before it and cross-reference checks after it. `macros:` (global and per
 * model) are consumed by the macro stage and do not appear here.
 *
 * Deliberate differences from llama-swap: `healthCheckTimeout` accepts any
 * value >= 1 (llama-swap silently raises values below 15) and the default
 * proxy is `http://127.0.0.1:${PORT}` (never `localhost`, which may resolve
 * to IPv6 first). Values llama-swap accepts and silently changes or ignores
 * are relaxed before this schema runs, with a warning (see compat.ts).
 */
import { z } from "zod";
import { parseSize, SIZE_RULE } from "./size.ts";
import { parseGoDuration } from "./duration.ts";

// ---------------------------------------------------------------- field kinds

/** Short description of a YAML value for messages: JSON for scalars, a kind for collections. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object" && value !== null) return "a mapping";
  return JSON.stringify(value);
}

/** An error callback saying what is allowed and what was found. */
function expected(rule: string) {
  return (issue: { input?: unknown }) =>
    issue.input === undefined ? `is required (${rule})` : `must be ${rule} (got ${describeValue(issue.input)})`;
}

/** Numbers and booleans written as text (e.g. `"${env.TTL}"`) are read as their value. */
function fromText(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const text = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === "true" || text === "false") return text === "true";
  return value;
}

function integer({ min, max }: { min?: number; max?: number } = {}) {
  const rule = min === undefined ? "an integer" : max === undefined ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  const error = expected(rule);
  return z.preprocess(fromText, z.int({ error }).min(min ?? Number.MIN_SAFE_INTEGER, { error }).max(max ?? Number.MAX_SAFE_INTEGER, { error }));
}

function flag() {
  return z.preprocess(fromText, z.boolean({ error: expected("true or false") }));
}

/** Numbers and booleans are accepted where text is expected (`name: 2024`), as llama-swap's YAML decoder does. */
function scalarText(value: unknown): unknown {
  return typeof value === "number" || typeof value === "boolean" ? String(value) : value;
}

function string() {
  return z.string({ error: expected("a string") });
}

function text(schema: z.ZodString = string()) {
  return z.preprocess(scalarText, schema);
}

function nonEmptyText() {
  return text(string().trim().min(1, { error: "must not be empty" }));
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: expected(`one of ${values.join(", ")}`) });
}

function list<T extends z.ZodType>(item: T) {
  return z.array(item, { error: expected("a list") });
}

function dict<T extends z.ZodType>(value: T) {
  return z.record(z.string(), value, { error: expected("a mapping") });
}

/** A mapping with fixed keys; a key written with no value (`key:` → null) counts as absent. */
function section<T extends z.core.$ZodLooseShape>(shape: T) {
  return z.preprocess(
    (value) =>
      typeof value === "object" && value !== null && !Array.isArray(value)
        ? Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null))
        : value,
    z.object(shape, { error: expected("a mapping") }),
  );
}

/** Any URL that parses, as llama-swap accepts it (compat.ts warns about those that are not http(s)). */
function url() {
  return nonEmptyText().refine((value) => URL.canParse(value), {
    error: (issue) => `must be a URL such as http://127.0.0.1:8080 (got ${describeValue(issue.input)})`,
  });
}

function regex() {
  return text().refine((source) => {
    try {
      new RegExp(source);
      return true;
    } catch {
      return false;
    }
  }, { error: (issue) => `is not a valid regular expression: ${describeValue(issue.input)}` });
}

/** A memory size (bytes, or text such as `24GiB`), or `auto` when `auto` is true; whole bytes out. */
function size<const Auto extends boolean = false>(auto?: Auto) {
  const rule = auto ? `auto or ${SIZE_RULE}` : SIZE_RULE;
  return z.unknown().transform((value, ctx): Auto extends true ? number | "auto" : number => {
    if (auto && value === "auto") return "auto" as never;
    const parsed = parseSize(value);
    if ("bytes" in parsed) return parsed.bytes as never;
    const why = value === undefined || value === null ? `is required (${rule})` : `${parsed.error} (got ${describeValue(value)})`;
    ctx.addIssue({ code: "custom", input: value, message: auto && typeof value !== "number" && typeof value !== "string" ? `must be ${rule} (got ${describeValue(value)})` : why });
    return z.NEVER;
  });
}

/** A Go duration (`5s`, `1m30s`) of at least `minMs`, as llama-swap reads it; milliseconds out. */
function duration({ minMs }: { minMs: number }) {
  const rule = `a duration such as 5s or 1m (at least ${minMs / 1000}s)`;
  return z.unknown().transform((value, ctx): number => {
    const ms = typeof value === "string" ? parseGoDuration(value) : null;
    if (ms !== null && ms >= minMs) return ms;
    ctx.addIssue({ code: "custom", input: value, message: `must be ${rule} (got ${describeValue(value)})` });
    return z.NEVER;
  });
}

/** A model's `memory:`: `auto`, a size (on the first device), or a mapping of device: size. */
function memoryNeed() {
  const rule = `auto, ${SIZE_RULE}, or a mapping of device: size such as {gpu0: 18GiB, ram: 2GiB}`;
  return z.unknown().transform((value, ctx): number | "auto" | Record<string, number> => {
    if (value === "auto") return "auto";
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      const needs: Record<string, number> = {};
      for (const [device, item] of Object.entries(value)) {
        const parsed = parseSize(item);
        if ("bytes" in parsed) needs[device] = parsed.bytes;
        else ctx.addIssue({ code: "custom", input: item, path: [device], message: `${parsed.error} (got ${describeValue(item)})` });
      }
      return needs;
    }
    const parsed = parseSize(value);
    if ("bytes" in parsed) return parsed.bytes;
    const why = typeof value === "string" && /^\s*[\d.]/.test(value) ? parsed.error : `must be ${rule}`;
    ctx.addIssue({ code: "custom", input: value, message: `${why} (got ${describeValue(value)})` });
    return z.NEVER;
  });
}

// ---------------------------------------------------------------- filters

/** `filters:` of a model or peer: request-body rewrites (reference §5.4). */
const filtersSchema = section({
  /** Comma list (or YAML list) of JSON paths to delete from request bodies; `model` is protected. */
  stripParams: z.union([text(), list(text())], { error: expected("a comma-separated string") }).optional(),
  /** Legacy spelling of stripParams. */
  strip_params: z.union([text(), list(text())], { error: expected("a comma-separated string") }).optional(),
  /** JSON paths set on every request (`a.b` addresses nested fields); `model` is protected. */
  setParams: dict(z.unknown()).default({}),
  /** Requested name → params applied after setParams; each name becomes an alias of the model. */
  setParamsByID: dict(dict(z.unknown())).default({}),
}).prefault({}).transform(({ stripParams, strip_params, setParams, setParamsByID }) => ({
  stripParams: [...new Set([stripParams, strip_params].flat().flatMap((paths) => paths?.split(",") ?? []))]
    .map((path) => path.trim()).filter((path) => path !== "" && path !== "model").sort(),
  setParams,
  setParamsByID,
}));

// ---------------------------------------------------------------- lifecycle hooks

/**
 * One lifecycle hook: a command (run directly, no shell; the model's
 * macros, `${MODEL_ID}` and `${PORT}` expanded) or an HTTP request to the
 * model's own server (`{method, path, body}`; body JSON or text).
 */
const hookSchema = z.union([
  nonEmptyText(),
  section({
    method: oneOf(["GET", "POST", "PUT", "DELETE"]).default("POST"),
    path: text().refine((path) => path.startsWith("/"), { error: (issue) => `must be a path starting with / (got ${describeValue(issue.input)})` }),
    body: z.unknown().optional(),
  }),
], { error: expected("a command, or a request {method, path, body}") });

/** `before_unload` / `after_load`: one hook or a list, run in order. */
const hookList = z.union([hookSchema, list(hookSchema)]).transform((hooks) => (Array.isArray(hooks) ? hooks : [hooks]));

/** The lifecycle hooks of a model (or every model's, at the top level). */
const lifecycleHooksShape = {
  /** Run before a planned stop (after the context was saved), e.g. to flush state. */
  before_unload: hookList.default([]),
  /** Run once a start passed its health check (after the context was restored), before the first request. */
  after_load: hookList.default([]),
};

// ---------------------------------------------------------------- models

/** `logLevel` values. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** llama-swap's `logTimeFormat` names ("" = modelswap's default time). */
export const LOG_TIME_FORMATS = [
  "", "ansic", "unixdate", "rubydate", "rfc822", "rfc822z", "rfc850", "rfc1123", "rfc1123z",
  "rfc3339", "rfc3339nano", "kitchen", "stamp", "stampmilli", "stampmicro", "stampnano",
] as const;

/** `env:` entries are `KEY=value` strings, appended to modelswap's own environment (compat.ts drops those without a KEY=). */
const envEntry = text().refine((entry) => /^[^=]+=/.test(entry), {
  error: (issue) => `must be KEY=value (got ${describeValue(issue.input)})`,
});

/** One `models.<id>` entry as written (before inheritance from the top level). */
const modelSchema = section({
  /** Command line, run directly (no shell); `#` lines and trailing `\` handled. "" = a server that runs already at proxy. */
  cmd: text().default(""),
  /** Command run instead of SIGTERM to stop the upstream; `${PID}` is its process id. "" = none. */
  cmdStop: text().default(""),
  /** Upstream base URL; the loader fills `http://127.0.0.1:${PORT}` when absent. */
  proxy: url(),
  /** Path polled until it answers 200; "none" = ready as soon as the process runs. */
  checkEndpoint: text().refine((path) => path === "none" || path.startsWith("/"), {
    error: (issue) => `must be a path starting with / or "none" (got ${describeValue(issue.input)})`,
  }).default("/health"),
  /** Idle seconds before unloading: -1 = globalTTL, 0 = never. */
  ttl: integer({ min: -1 }).default(-1),
  /** Seconds between SIGTERM and SIGKILL for unloads: 0 = the global unloadTimeout. */
  unloadTimeout: integer({ min: 0 }).default(0),
  /** Other names this model answers to (unique across models). */
  aliases: list(nonEmptyText()).default([]),
  /** `KEY=value` environment entries for the upstream process. */
  env: list(envEntry).default([]),
  /** Rewrites the `model` field sent upstream. */
  useModelName: text().default(""),
  /** Shown in /v1/models. */
  name: text(string().trim()).default(""),
  /** Shown in /v1/models. */
  description: text(string().trim()).default(""),
  /** Arbitrary values shown under meta.llamaswap in /v1/models (macro types preserved). */
  metadata: dict(z.unknown()).default({}),
  /** Hidden from /v1/models, still routable. */
  unlisted: flag().default(false),
  /** Requests admitted at once (queued + loading + serving); 0 = 10. */
  concurrencyLimit: integer({ min: 0 }).default(0),
  /** Stream "loading…" progress to clients; absent = the global sendLoadingState. */
  sendLoadingState: flag().optional(),
  filters: filtersSchema,
  /** Ours: seconds a streamed response may send nothing before it is ended; 0 = never. */
  stallTimeout: integer({ min: 0 }).default(600),
  /** Ours (routing.router.use: memory): what it needs per device; absent = it runs alone. */
  memory: memoryNeed().optional(),
  /** Ours (use: memory): GPUs it gets at each start, the freest (CUDA_VISIBLE_DEVICES and `${GPUS}`). */
  gpus: integer({ min: 1, max: 64 }).optional(),
  /** Ours: save llama-server's KV cache on every planned stop and restore it on the next start; absent = the global keepContext. */
  keepContext: flag().optional(),
  /** Ours: this model's lifecycle hooks (the top-level ones when absent). */
  hooks: section(lifecycleHooksShape).prefault({}),
  /** Declared capabilities, rendered into /v1/models as llama-swap does. */
  capabilities: section({
    /** Input modalities. */
    in: list(oneOf(["text", "audio", "image"])).optional(),
    /** Output modalities. */
    out: list(oneOf(["text", "audio", "image"])).optional(),
    /** Function calling (tools, tool_choice). */
    tools: flag().optional(),
    reranker: flag().optional(),
    /** Context length in tokens. */
    context: integer({ min: 0 }).optional(),
  }).prefault({}),
});

// ---------------------------------------------------------------- peers, profiles, selectors

/** `peers.<id>`: a remote OpenAI-compatible server whose models are reachable as `<id>/<model>`. */
const peerSchema = section({
  proxy: url(),
  /** Sent as `Authorization: Bearer` and `x-api-key` to the peer. */
  apiKey: text().default(""),
  /** The peer's model ids. */
  models: list(nonEmptyText()).min(1, { error: "must list at least one model" }),
  filters: filtersSchema,
  timeouts: section({
    /** Seconds the peer may take to send its response headers; 0 = wait forever (llama-swap's default 60). */
    responseHeader: integer({ min: 0 }).default(60),
  }).prefault({}),
});

/** `profiles.<name>`: switchable pins from a requested name to a target; ""/null disables the name. */
const profileSchema = section({
  description: text().default(""),
  pins: dict(z.union([text(), z.null()], { error: expected("a model, alias, peer model or selector name, or empty") }))
    .refine((pins) => Object.keys(pins).length > 0, { error: "must pin at least one name" })
    .transform((pins) =>
      Object.fromEntries(Object.entries(pins).map(([name, target]) => [name, target === "" ? null : target]))
    ),
});

/** `selectors.<id>`: a virtual model name that picks one of its targets per request. */
const selectorSchema = section({
  strategy: oneOf(["warm", "pin", "spillover"]),
  targets: list(nonEmptyText()).min(1, { error: "must list at least one target" }),
  settings: section({
    /** spillover: reservations on the busiest active target before a cold one is used. */
    spillover: integer({ min: 1 }).default(1),
  }).prefault({}),
  name: text(string().trim()).default(""),
  description: text(string().trim()).default(""),
  unlisted: flag().default(false),
  metadata: dict(z.unknown()).default({}),
});

// ---------------------------------------------------------------- routing

/** A swap group (reference §4.5). */
const groupSchema = section({
  /** Members replace each other (false: they may run together). */
  swap: flag().default(true),
  /** Loading a member unloads every other group's models (except persistent groups). */
  exclusive: flag().default(true),
  /** Shielded from other groups' exclusive loads. */
  persistent: flag().default(false),
  /** Model ids. */
  members: list(nonEmptyText()),
});

/** A matrix of model sets that may run together (reference §4.6). */
const matrixSchema = section({
  /** Short names for model ids, usable in set expressions. */
  vars: dict(text()).default({}),
  /** Cost of evicting a model (by var or id); default 1. */
  evict_costs: dict(z.preprocess(fromText, z.number({ error: expected("a number") }))).default({}),
  /** Set name → DSL expression such as `(g | q) & v`; order breaks ties. */
  sets: z.map(z.string(), text(), { error: expected("a mapping of set name: expression") }),
}).transform(({ vars, evict_costs, sets }) => ({
  vars,
  evictCosts: evict_costs,
  /** In the user's YAML order. */
  sets: [...sets] as Array<[name: string, dsl: string]>,
}));

/** Ours: the memory planner (`use: memory`): device budgets and which running models stop first. */
const memorySchema = section({
  /** Budget per device (`gpu0`, `gpu1`, …, `ram`): a size, or auto = the total the system reports minus reserve. */
  devices: dict(size(true)).default({ ram: "auto" }),
  /** Kept free on every device whose budget is auto. */
  reserve: size().default(1024 ** 3),
  /** Running models stopped first: least recently used, or cheapest (evict_costs). */
  policy: oneOf(["lru", "cost"]).default("lru"),
  /** Model id → cost of evicting it (policy cost); default 1. */
  evict_costs: dict(z.preprocess(fromText, z.number({ error: expected("a number") }))).default({}),
}).transform(({ evict_costs, ...memory }) => ({ ...memory, evictCosts: evict_costs }));

const routingSchema = section({
  router: section({
    use: oneOf(["group", "matrix", "memory"]).default("group"),
    settings: section({
      groups: dict(groupSchema).default({}),
      matrix: matrixSchema.optional(),
      memory: memorySchema.optional(),
    }).prefault({}),
  }).optional(),
  scheduler: section({
    use: oneOf(["fifo"]).default("fifo"),
    settings: section({
      fifo: section({
        /** Model id or alias → priority; higher is served earlier among queued requests. */
        priority: dict(integer()).default({}),
        /** Ours: seconds the oldest queued request may wait before busy models are drained for it; 0 disables. */
        starvationTimeout: integer({ min: 0 }).default(30),
        /** Ours: queued requests across all models before 503. */
        maxQueue: integer({ min: 1 }).default(1000),
      }).prefault({}),
    }).prefault({}),
  }).prefault({}),
}).prefault({});

// ---------------------------------------------------------------- top level

/** `ui.activity.session_id` as llama-swap keeps it: trimmed, no empties, the first of names equal but for case. */
function sessionHeaders(names: string[]): string[] {
  const seen = new Set<string>();
  return names.map((name) => name.trim()).filter((name) => {
    const key = name.toLowerCase();
    if (name === "" || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const DEFAULT_IGNORE_PATHS = [String.raw`.*\.(js|json|css|png|gif|jpg|jpeg|ico|txt)$`];

/** The whole config file. */
export const configSchema = section({
  models: dict(modelSchema).default({}),
  /** Seconds to wait for a starting model to become healthy. */
  healthCheckTimeout: integer({ min: 1 }).default(120),
  logLevel: oneOf(LOG_LEVELS).default("info"),
  logTimeFormat: oneOf(LOG_TIME_FORMATS).default(""),
  logToStdout: oneOf(["proxy", "upstream", "both", "none"]).default("proxy"),
  /** Activity rows kept in memory; <= 0 = 1000. */
  metricsMaxInMemory: integer().default(1000),
  /** MB of recent requests' captured headers and bodies (secrets masked) for `/api/captures/:id`; <= 0 = none. */
  captureBuffer: integer().default(5),
  /** llama-swap's performance monitor: CPU, RAM, swap, load, network and GPU samples for `/api/performance`. */
  performance: section({
    /** Turns the monitor off: `/api/performance` answers 503. */
    disabled: flag().default(false),
    /** How often a sample is taken (at least 5s); the last hour of samples is kept. */
    every: duration({ minMs: 5000 }).default(5000),
  }).prefault({}),
  /** Where activity and captures are kept (read at startup). */
  store: section({
    /** A SQLite file that keeps them across restarts; absent or empty = memory only. */
    path: text().nullable().default(null).transform((path) => path?.trim() || null),
    /** Ours: activity rows the file keeps; the oldest are deleted beyond it. */
    maxRows: integer({ min: 1 }).default(100_000),
  }).prefault({}),
  /** Default idle seconds for models with ttl -1; 0 = never unload. */
  globalTTL: integer({ min: 0 }).default(0),
  /** Seconds between SIGTERM and SIGKILL for unloads; 0 = 10. */
  unloadTimeout: integer({ min: 0 }).default(10),
  /** First port handed out as `${PORT}` (sorted model-id order). */
  startPort: integer({ min: 1 }).default(5800),
  sendLoadingState: flag().default(false),
  /** List one /v1/models record per alias too. */
  includeAliasesInList: flag().default(false),
  /** Accepted API keys (Bearer or x-api-key); empty = no auth. */
  apiKeys: list(
    nonEmptyText().refine((key) => !/\s/.test(key), { error: "an API key cannot contain spaces" }),
  ).default([]),
  hooks: section({
    on_startup: section({
      /** Models (ids or aliases) loaded one after another at startup. */
      preload: list(text()).default([]),
    }).prefault({}),
    /** Ours: every model's lifecycle hooks unless it has its own (expanded per model). */
    ...lifecycleHooksShape,
    /** Ours: seconds one lifecycle hook may take before it is abandoned (a failure, never a blocked swap). */
    timeout: integer({ min: 1 }).default(30),
  }).prefault({}),
  /** Ours: swaps keep llama-server's conversation cache (KV) for every model; a model's own keepContext wins. */
  keepContext: flag().default(false),
  /** Ours: where and how much context is kept for keepContext models. */
  contextCache: section({
    /** Directory for the saves (one folder per model); null = `modelswap-context` in the OS temp dir. */
    dir: text().nullable().default(null),
    /** Bytes all saves may take together; the least recently used are deleted whole beyond it. */
    maxBytes: integer({ min: 0 }).default(10 * 1024 ** 3),
    /** Seconds a save or a restore may take before it is abandoned (the swap goes on without it). */
    timeout: integer({ min: 1 }).default(30),
  }).prefault({}),
  /** Ours: directory for per-model log files; null = no files. */
  logDir: text().nullable().default(null),
  /** Ours: bytes of recent output kept per log (router, each model, combined) for /logs and the UI; read at startup. */
  logBufferBytes: integer({ min: 1024 }).default(100 * 1024),
  /** Ours: largest request body accepted, in bytes. */
  maxBodyBytes: integer({ min: 1 }).default(256 * 1024 * 1024),
  /** Ours: bounds on client connections, so that no client can hold the router (read at startup). */
  server: section({
    /** Seconds a request head may take, from the connection's start or a later request's first byte; 0 = no limit. */
    headerTimeout: integer({ min: 0 }).default(10),
    /** Seconds a connection may wait for its next request after a response; 0 = no limit. */
    idleTimeout: integer({ min: 0 }).default(60),
    /** Seconds a request body may go without a byte while the router waits for more; 0 = no limit. */
    bodyTimeout: integer({ min: 0 }).default(60),
    /** Client connections open at once; more get 503 (fewer when the open-file limit leaves no room). */
    maxConnections: integer({ min: 1 }).default(1000),
  }).prefault({}),
  /** Ours: how crashes, failed starts and hangs are handled. */
  supervision: section({
    /** More than this many failed starts or crashes within failureWindow mark a model failed (503) until the window passes. */
    maxFailures: integer({ min: 1 }).default(3),
    /** Seconds over which failures are counted. */
    failureWindow: integer({ min: 1 }).default(60),
    /** Seconds between liveness probes of a ready model; 0 disables hang detection. */
    probeInterval: integer({ min: 0 }).default(10),
    /** Seconds each liveness probe may take. */
    probeTimeout: integer({ min: 1 }).default(5),
    /** Failed probes in a row (with no byte reaching any in-flight request meanwhile) before a model counts as hung and is killed. */
    hungAfter: integer({ min: 1 }).default(3),
  }).prefault({}),
  /** Ours: CORS allowed origins. */
  cors: section({ origins: list(text()).default(["*"]) }).prefault({}),
  /** The dashboard (`/ui`). */
  ui: section({
    /** Ours: the Config page may replace the -config file and reload it, as SIGHUP does; read-only when false. */
    configEditor: flag().default(false),
    activity: section({
      /** Request headers that name a client's session, first match wins (llama-swap's in-flight table); trimmed, empties and case-insensitive repeats dropped. */
      session_id: list(text()).default(["X-Session-ID", "X-Litellm-Session-Id"]).transform(sessionHeaders),
    }).prefault({}),
  }).prefault({}),
  peers: dict(peerSchema).default({}),
  profiles: dict(z.unknown().superRefine((value, ctx) => {
    if (Array.isArray(value)) {
      ctx.addIssue({ code: "custom", message: "profile must be a mapping with description and pins; the legacy list syntax is no longer supported" });
    }
  }).pipe(profileSchema)).default({}),
  selectors: dict(selectorSchema).default({}),
  upstream: section({
    /** Regexes of /upstream paths that do not load or count toward a model; empty = the default. */
    ignorePaths: list(regex()).default([]).transform((paths) => paths.length ? paths : DEFAULT_IGNORE_PATHS),
  }).prefault({}),
  routing: routingSchema,
  /** Legacy spelling of routing.router.settings.groups. */
  groups: dict(groupSchema).optional(),
  /** Legacy spelling of routing.router.settings.matrix. */
  matrix: matrixSchema.optional(),
}).transform(({ groups, matrix, routing, hooks, models, ...top }, ctx) => ({
  ...top,
  metricsMaxInMemory: top.metricsMaxInMemory > 0 ? top.metricsMaxInMemory : 1000,
  captureBuffer: Math.max(0, top.captureBuffer),
  unloadTimeout: top.unloadTimeout || 10,
  hooks: { onStartup: { preload: hooks.on_startup.preload.map((name) => name.trim()).filter(Boolean) } },
  /** Seconds one lifecycle hook may take (`hooks.timeout`). */
  hookTimeout: hooks.timeout,
  routing: normaliseRouting(groups, matrix, routing, ctx),
  models: Object.fromEntries(Object.entries(models).map(([id, { ttl, unloadTimeout, concurrencyLimit, sendLoadingState, keepContext, ...model }]) => [id, {
    id,
    ...model,
    /** The allocated `${PORT}`, or null when cmd does not use it (filled by the loader). */
    port: null as number | null,
    env: Object.fromEntries(model.env.map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)])),
    /** setParamsByID names answer for this model like aliases. */
    aliases: [...new Set([...model.aliases, ...Object.keys(model.filters.setParamsByID).filter((name) => name !== id)])],
    ttl: ttl === -1 ? top.globalTTL : ttl,
    unloadTimeout: unloadTimeout || top.unloadTimeout || 10,
    concurrencyLimit: concurrencyLimit || 10,
    sendLoadingState: sendLoadingState ?? top.sendLoadingState,
    keepContext: keepContext ?? top.keepContext,
  }])),
}));

type RawRouting = z.output<typeof routingSchema>;
type RawGroups = Record<string, z.output<typeof groupSchema>>;
type RawMatrix = z.output<typeof matrixSchema>;

/** Legacy top-level `groups`/`matrix` or `routing.router`, folded into one shape for the planner and scheduler. */
function normaliseRouting(
  groups: RawGroups | undefined,
  matrix: RawMatrix | undefined,
  routing: RawRouting,
  ctx: z.core.$RefinementCtx,
) {
  const fifo = routing.scheduler.settings.fifo;
  const scheduler = { priority: fifo.priority, starvationTimeout: fifo.starvationTimeout, maxQueue: fifo.maxQueue };
  const legacy = groups !== undefined || matrix !== undefined;
  if (legacy && routing.router) {
    ctx.issues.push({
      code: "custom",
      input: undefined,
      path: [groups !== undefined ? "groups" : "matrix"],
      message: "cannot be combined with routing.router; move it under routing.router.settings and choose it with routing.router.use",
    });
  }
  if (groups !== undefined && matrix !== undefined) {
    ctx.issues.push({
      code: "custom",
      input: undefined,
      path: ["matrix"],
      message: "cannot use both top-level groups and matrix; keep one, or move both under routing.router.settings and pick one with routing.router.use",
    });
  }
  if (legacy || !routing.router) {
    return {
      use: matrix !== undefined ? "matrix" as const : "group" as const,
      groups: groups ?? {},
      matrix: matrix ?? null,
      pathPrefix: "",
      scheduler,
    };
  }
  const { use, settings } = routing.router;
  if (use === "matrix" && settings.matrix === undefined) {
    ctx.issues.push({
      code: "custom",
      input: undefined,
      path: ["routing", "router", "settings", "matrix"],
      message: "is required when routing.router.use is matrix; add a matrix with sets, or use: group",
    });
  }
  // Both blocks may be written side by side; `use` picks one. A lone block that `use` does not pick is
  // kept, so the planner can point out the likely mistake.
  const both = Object.keys(settings.groups).length > 0 && settings.matrix !== undefined;
  return {
    use,
    groups: both && use === "matrix" ? {} : settings.groups,
    matrix: both && use === "group" ? null : settings.matrix ?? null,
    // Only when written: the memory planner's block (use: memory without it gets the planner's defaults).
    ...(settings.memory ? { memory: settings.memory } : {}),
    pathPrefix: "routing.router.settings",
    scheduler,
  };
}

/** A loaded, validated and normalised configuration. */
export type Config = z.output<typeof configSchema>;

/** One model's normalised settings (`config.models[id]`). */
export type ModelConfig = Config["models"][string];

/** The routing block as the planner and scheduler consume it. */
export type RoutingSettings = Config["routing"];

/** One peer (`config.peers[id]`). */
export type PeerConfig = Config["peers"][string];

/** One selector (`config.selectors[id]`). */
export type SelectorConfig = Config["selectors"][string];

/** One profile (`config.profiles[name]`). */
export type ProfileConfig = Config["profiles"][string];
