/**
 * llama-swap's leniencies: values llama-swap accepts and then silently
 * changes or ignores (checked against llama-swap v250). modelswap loads them
 * too, so a llama-swap config keeps working, and says so once per key: what
 * the value is, what llama-swap does with it and what modelswap does. Runs
 * on the macro-expanded tree, before the schema, which stays strict about
 * everything else; {@link applyComfyUI} runs on the validated config.
 */
import { type Config, describeValue, LOG_LEVELS, LOG_TIME_FORMATS } from "./schema.ts";

/** The model id llama-swap serves at `/comfyui/` (reference §2.5). */
export const COMFYUI_MODEL = "comfyui_auto";

/** llama-swap's lowest concurrencyLimit for {@link COMFYUI_MODEL}: a ComfyUI tab opens many requests at once. */
export const COMFYUI_MIN_CONCURRENCY = 50;

/** The fields of a model or peer that {@link relaxLlamaSwapValues} reads. */
type Entry = Record<string, unknown>;

/** A top-level setting llama-swap reads trimmed and lower-cased, with its default for anything else. */
interface Choice {
  key: string;
  choices: readonly string[];
  fallback: string;
  /** What each program does with an unknown value. */
  llamaSwap: string;
  modelswap: string;
}

const CHOICES: readonly Choice[] = [
  { key: "logLevel", choices: LOG_LEVELS, fallback: "info", llamaSwap: "logs at info", modelswap: "does too" },
  {
    key: "logTimeFormat",
    choices: LOG_TIME_FORMATS,
    fallback: "",
    llamaSwap: "prints no timestamp",
    modelswap: "prints its default time (UTC 15:04:05.000)",
  },
];

/**
 * Rewrites, in place, the values of `tree` that llama-swap would accept and
 * change or ignore, into what modelswap's schema accepts, pushing one
 * warning per key.
 */
export function relaxLlamaSwapValues(tree: Record<string, unknown>, warnings: string[]): void {
  for (const choice of CHOICES) relaxChoice(tree, choice, warnings);
  for (const [id, model] of entries(tree.models)) {
    const path = `models.${id}`;
    relaxModelTimeout(model, path, warnings);
    warnMissingCmd(model, path, warnings);
    warnUnreachableProxy(model, path, warnings);
    relaxEnv(model, path, warnings);
    relaxCheckEndpoint(model, path, warnings);
    relaxFilters(model, path, warnings);
  }
  for (const [id, peer] of entries(tree.peers)) {
    warnUnreachableProxy(peer, `peers.${id}`, warnings);
    relaxFilters(peer, `peers.${id}`, warnings);
  }
}

/**
 * llama-swap's concurrencyLimit for the model `comfyui_auto` (at least 50),
 * applied to the validated config; `tree` tells whether the user wrote a
 * lower one, which is worth a warning.
 */
export function applyComfyUI(config: Config, tree: Record<string, unknown>, warnings: string[]): void {
  const model = config.models[COMFYUI_MODEL];
  if (!model || model.concurrencyLimit >= COMFYUI_MIN_CONCURRENCY) return;
  const written = entries(tree.models).find(([id]) => id === COMFYUI_MODEL)?.[1].concurrencyLimit;
  if (written !== undefined && written !== null && Number(written) !== 0) {
    warnings.push(
      `models.${COMFYUI_MODEL}.concurrencyLimit: ${describeValue(written)} is below ${COMFYUI_MIN_CONCURRENCY}; ` +
        `llama-swap raises it to ${COMFYUI_MIN_CONCURRENCY} for ${COMFYUI_MODEL} (a ComfyUI page sends many requests at once); modelswap does too`,
    );
  }
  model.concurrencyLimit = COMFYUI_MIN_CONCURRENCY;
}

/** A config with no model and no peer serves nothing; llama-swap starts anyway, and so does modelswap. */
export function warnNothingToServe(config: Config, warnings: string[]): void {
  if (Object.keys(config.models).length > 0 || Object.keys(config.peers).length > 0) return;
  warnings.push("models: none defined (and no peers); llama-swap starts and answers every model request with 404; modelswap does too");
}

/** `logLevel` / `logTimeFormat`: llama-swap trims and lower-cases them, and uses its default for an unknown value. */
function relaxChoice(tree: Record<string, unknown>, { key, choices, fallback, llamaSwap, modelswap }: Choice, warnings: string[]): void {
  const value = tree[key];
  if (value === undefined || value === null || typeof value === "object") return;
  const normalised = String(value).trim().toLowerCase();
  if (choices.includes(normalised)) {
    if (normalised === value) return;
    tree[key] = normalised;
    warnings.push(`${key}: ${describeValue(value)} is read as "${normalised}"; llama-swap ignores case and spaces here; modelswap does too`);
    return;
  }
  tree[key] = fallback;
  const allowed = choices.filter(Boolean).join(", ");
  warnings.push(`${key}: ${describeValue(value)} is not one of ${allowed}; llama-swap ${llamaSwap}; modelswap ${modelswap}`);
}

/** A model's own healthCheckTimeout: llama-swap overwrites it with the global one. */
function relaxModelTimeout(model: Entry, path: string, warnings: string[]): void {
  if (!Object.hasOwn(model, "healthCheckTimeout")) return;
  delete model.healthCheckTimeout;
  warnings.push(
    `${path}.healthCheckTimeout: set for one model; llama-swap ignores it (the global healthCheckTimeout applies to every model); modelswap ignores it too`,
  );
}

/** No cmd: llama-swap loads the model and fails each start with "empty command"; modelswap uses a server that runs already. */
function warnMissingCmd(model: Entry, path: string, warnings: string[]): void {
  const cmd = model.cmd;
  if (cmd !== undefined && cmd !== null && (typeof cmd !== "string" || cmd.trim() !== "")) return;
  const where = typeof model.proxy === "string" ? model.proxy : "its proxy";
  warnings.push(
    `${path}.cmd: none; llama-swap loads the model and fails each start with "empty command"; ` +
      `modelswap never starts or stops it, and sends its requests to the server already running at ${where}`,
  );
}

/** A proxy that parses as a URL but is not http(s) (e.g. `unix:///run/llm.sock`): loaded, never reachable. */
function warnUnreachableProxy(entry: Entry, path: string, warnings: string[]): void {
  const proxy = entry.proxy;
  if (typeof proxy !== "string" || !URL.canParse(proxy)) return;
  const { protocol } = new URL(proxy);
  if (protocol === "http:" || protocol === "https:") return;
  const what = protocol === "unix:" ? "a unix socket" : `a ${protocol.slice(0, -1)}: URL`;
  const whose = path.startsWith("peers.") ? "this peer" : "this model";
  warnings.push(
    `${path}.proxy: ${describeValue(proxy)} is ${what}, not an http(s) URL; llama-swap loads it but cannot send requests to it; ` +
      `modelswap loads it too and answers every request to ${whose} with a 502 saying so${whose === "this model" ? " (it never runs its cmd)" : ""}: ` +
      "it forwards over TCP to http:// and https:// URLs only",
  );
}

/** `env` entries that are not KEY=value: llama-swap passes them on, where they set nothing; modelswap leaves them out. */
function relaxEnv(model: Entry, path: string, warnings: string[]): void {
  if (!Array.isArray(model.env)) return;
  model.env = model.env.filter((entry, i) => {
    if (entry === null || typeof entry === "object") return true; // the schema reports it
    const text = String(entry);
    if (/^[^=]+=/.test(text)) return true;
    warnings.push(
      `${path}.env[${i}]: ${describeValue(text)} is not KEY=value; llama-swap passes it to the process as it is, where it sets no variable; modelswap leaves it out`,
    );
    return false;
  });
}

/** `checkEndpoint: health`: llama-swap's proxy joins it to the base URL with a slash, so it checks /health. */
function relaxCheckEndpoint(model: Entry, path: string, warnings: string[]): void {
  const value = model.checkEndpoint;
  if (value === undefined || value === null || typeof value === "object") return;
  const text = String(value).trim();
  if (text === "none" || text.startsWith("/")) {
    model.checkEndpoint = text;
    return;
  }
  model.checkEndpoint = `/${text}`;
  warnings.push(`${path}.checkEndpoint: ${describeValue(value)} does not start with /; llama-swap checks /${text}; modelswap does too`);
}

/** `model` in setParams or setParamsByID: llama-swap drops it (the field is protected); so does modelswap. */
function relaxFilters(entry: Entry, path: string, warnings: string[]): void {
  const filters = entry.filters;
  if (!isMapping(filters)) return;
  const drop = (params: unknown, at: string) => {
    if (!isMapping(params) || !Object.hasOwn(params, "model")) return;
    delete params.model;
    warnings.push(
      `${at}.model: the model field is protected; llama-swap drops this setting; modelswap drops it too (useModelName changes the model name sent upstream)`,
    );
  };
  drop(filters.setParams, `${path}.filters.setParams`);
  for (const [name, params] of entries(filters.setParamsByID)) drop(params, `${path}.filters.setParamsByID.${name}`);
}

/** The mapping entries of a tree value (none when it is not a mapping). */
function entries(value: unknown): Array<[string, Entry]> {
  if (!isMapping(value)) return [];
  return Object.entries(value).filter((entry): entry is [string, Entry] => isMapping(entry[1]));
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Map);
}
