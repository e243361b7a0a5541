/**
 * `${name}` macros exactly as llama-swap defines them (reference §1.6):
 * declaration order, last-declared-first substitution (so a macro may use the
 * ones declared before it), typed substitution when a whole string is one
 * macro, model macros overriding globals in place, `${MODEL_ID}`, `${SELF}`,
 * and `${PORT}` allocation. Runs on the plain YAML tree before schema
 * validation, so macros work in every field, whatever its type.
 */
import { quoteShellWord, stripCommandComments } from "./command.ts";
import type { ConfigIssue } from "./issue.ts";
import { describeValue } from "./schema.ts";

/** A macro's value: YAML scalars only. */
type MacroValue = string | number | boolean;

/** Macros in declaration order (order matters, see {@link expandString}). */
type MacroList = Array<[name: string, value: MacroValue]>;

/** Names modelswap provides itself; declaring them is an error. */
const RESERVED_MACROS: readonly string[] = ["PID", "PORT", "MODEL_ID", "SELF", "GPUS"];

/** Port given to a model whose cmd uses `${PORT}` when `startPort` is absent, invalid or past the last port. */
const DEFAULT_START_PORT = 5800;
/** The highest TCP port. */
const LAST_PORT = 65535;
const MACRO_NAME = /^[a-zA-Z0-9_-]{1,63}$/;
const REFERENCE = /\$\{([^}\s]*)\}/g;

/** What {@link expandConfigMacros} produced. */
export interface MacroExpansion {
  /** The config tree with every macro substituted (`${PID}` left in cmdStop). */
  tree: Record<string, unknown>;
  /** Allocated `${PORT}` per model id (only models whose cmd uses it). */
  ports: Map<string, number>;
  /** What was loaded differently from how it was written (a startPort past the last port). */
  warnings: string[];
}

/** What the `${PORT}` messages need to know of a model's proxy. */
interface ProxyFacts {
  /** No proxy was written: the default `http://127.0.0.1:${PORT}` is used. */
  defaulted: boolean;
  /** The model has a cmd (one without is never started by modelswap). */
  hasCmd: boolean;
}

/** Context the loader passes in. */
export interface MacroContext {
  /** Words `${SELF}` expands to (shell-quoted, space-joined). */
  selfArgv: string[];
  /** Env references that could not be substituted, by name: why (for messages). */
  envProblems: Map<string, string>;
}

/**
 * Expands global macros in every top-level value, then, per model in sorted
 * id order, `MODEL_ID` + globals + the model's macros, then allocates and
 * substitutes `${PORT}`. Every problem is pushed to `issues` with its key path.
 */
export function expandConfigMacros(
  root: Record<string, unknown>,
  context: MacroContext,
  issues: ConfigIssue[],
): MacroExpansion {
  const self: MacroList = [["SELF", context.selfArgv.map(quoteShellWord).join(" ")]];
  const globals = readMacros(root.macros, "macros", self, issues);
  const globalScope = [...self, ...globals];
  const tree: Record<string, unknown> = {};
  // Top-level lifecycle hooks are every model's default: they are expanded per model, with its macros.
  const lifecycle = lifecycleHooks(root.hooks);
  for (const [key, value] of Object.entries(root)) {
    if (key === "macros") continue;
    if (key === "models") {
      tree[key] = value;
      continue;
    }
    const global = key === "hooks" && isMapping(value) ? withoutLifecycleHooks(value) : value;
    tree[key] = expandTree(global, globalScope, key, issues);
    reportLeftovers(tree[key], key, context, issues);
    if (global !== value) Object.assign(tree[key] as Record<string, unknown>, lifecycle);
  }

  const ports = new Map<string, number>();
  const warnings: string[] = [];
  const startPort = Number(tree.startPort ?? DEFAULT_START_PORT);
  let nextPort = Number.isInteger(startPort) && startPort >= 1 ? startPort : DEFAULT_START_PORT;
  if (Number.isInteger(startPort) && startPort > LAST_PORT) {
    nextPort = DEFAULT_START_PORT;
    warnings.push(
      `startPort: ${startPort} is above ${LAST_PORT}, the last TCP port; llama-swap loads it and hands out \${PORT} values no server can listen on; modelswap hands them out from ${DEFAULT_START_PORT} instead`,
    );
  }
  if (!isMapping(root.models)) return { tree, ports, warnings };
  const models: Record<string, unknown> = {};
  for (const id of Object.keys(root.models).sort()) {
    const raw = root.models[id];
    if (!isMapping(raw)) {
      models[id] = raw;
      continue;
    }
    const path = `models.${id}`;
    const head: MacroList = [["MODEL_ID", id], ...self];
    const local = readMacros(raw.macros, `${path}.macros`, [...head, ...globals], issues);
    const scope = mergeMacros([...head, ...globals], local);
    const prepared: Record<string, unknown> = { ...raw };
    if (Object.keys(lifecycle).length > 0) prepared.hooks = { ...lifecycle, ...(isMapping(raw.hooks) ? raw.hooks : {}) };
    const proxy: ProxyFacts = {
      defaulted: prepared.proxy === undefined || prepared.proxy === null,
      hasCmd: typeof prepared.cmd === "string" && stripCommandComments(prepared.cmd).trim() !== "",
    };
    if (proxy.defaulted) prepared.proxy = "http://127.0.0.1:${PORT}";
    for (const key of ["cmd", "cmdStop"]) {
      if (typeof prepared[key] === "string") prepared[key] = stripCommandComments(prepared[key] as string);
    }
    delete prepared.macros;
    let model = expandTree(prepared, scope, path, issues) as Record<string, unknown>;
    if (typeof model.cmd === "string" && model.cmd.includes("${PORT}")) {
      if (nextPort > LAST_PORT) {
        nextPort = DEFAULT_START_PORT;
        warnings.push(
          `startPort: ${startPort} leaves too few ports for the models whose cmd uses \${PORT}; llama-swap hands out ports above ${LAST_PORT}, which no server can listen on; modelswap continues from ${DEFAULT_START_PORT}`,
        );
      }
      ports.set(id, nextPort);
      model = expandTree(model, [["PORT", nextPort++]], path, issues) as Record<string, unknown>;
    }
    models[id] = model;
    reportLeftovers(model, path, context, issues, proxy);
  }
  tree.models = models;
  return { tree, ports, warnings };
}

/** The lifecycle hooks (`before_unload`, `after_load`) of a top-level `hooks:` block. */
const LIFECYCLE_HOOKS = ["before_unload", "after_load"];

function lifecycleHooks(hooks: unknown): Record<string, unknown> {
  if (!isMapping(hooks)) return {};
  return Object.fromEntries(Object.entries(hooks).filter(([key]) => LIFECYCLE_HOOKS.includes(key)));
}

function withoutLifecycleHooks(hooks: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(hooks).filter(([key]) => !LIFECYCLE_HOOKS.includes(key)));
}

/**
 * Substitutes macros into one string, walking the list from the last declared
 * to the first (so a value may introduce references to earlier macros). A
 * string that is exactly one reference becomes the macro's typed value.
 */
function expandString(text: string, macros: MacroList): unknown {
  let current: unknown = text;
  for (let i = macros.length - 1; i >= 0 && typeof current === "string"; i--) {
    const [name, value] = macros[i];
    const reference = "${" + name + "}";
    if (current === reference) current = value;
    else if (current.includes(reference)) current = current.replaceAll(reference, String(value));
  }
  return current;
}

/**
 * Model scope: a model macro with a global's name replaces it in place (so
 * globals declared after it see the override); new names are appended.
 */
function mergeMacros(globals: MacroList, locals: MacroList): MacroList {
  const merged: MacroList = globals.map(([name, value]) => [name, value]);
  for (const [name, value] of locals) {
    const at = merged.findIndex(([existing]) => existing === name);
    if (at >= 0) merged[at] = [name, value];
    else merged.push([name, value]);
  }
  return merged;
}

/**
 * Validates a `macros:` mapping (an ordered Map from the YAML reader) and
 * returns it as a list. `before` are the macros visible to its values (for
 * reference checks); names, values, self and forward references are checked.
 */
function readMacros(raw: unknown, path: string, before: MacroList, issues: ConfigIssue[]): MacroList {
  if (raw === undefined || raw === null) return [];
  if (!(raw instanceof Map)) {
    issues.push({ path, message: `must be a mapping of name: value (got ${describeValue(raw)})` });
    return [];
  }
  const list: MacroList = [];
  for (const [name, value] of raw as Map<string, unknown>) {
    const at = `${path}.${name}`;
    if (!MACRO_NAME.test(name)) {
      issues.push({ path: at, message: "macro names may only use letters, digits, _ and -, and be at most 63 characters long" });
    } else if (RESERVED_MACROS.includes(name)) {
      issues.push({ path: at, message: `${name} is reserved (modelswap provides \${${name}}); choose another name` });
    } else if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      issues.push({ path: at, message: `a macro value must be a string, number or boolean (got ${describeValue(value)})` });
    } else if (typeof value === "string" && value.includes("${" + name + "}")) {
      issues.push({ path: at, message: `contains self-reference \${${name}}; a macro cannot use itself` });
    } else {
      list.push([name, value]);
    }
  }
  const scope = mergeMacros(before, list);
  for (const [name, value] of list) {
    if (typeof value !== "string") continue;
    const position = scope.findIndex(([n]) => n === name);
    const expanded = expandString(value, scope.slice(0, position));
    for (const reference of typeof expanded === "string" ? referencesIn(expanded) : []) {
      if (RESERVED_MACROS.includes(reference) || reference.startsWith("env.")) continue;
      const later = scope.findIndex(([n]) => n === reference) > position;
      issues.push({
        path: `${path}.${name}`,
        message: later
          ? `unknown macro '\${${reference}}': it is declared after ${name}; a macro may only use macros declared before it, so move ${reference} up`
          : `unknown macro '\${${reference}}'; declare it under macros before ${name} (a model may then override it)`,
      });
    }
  }
  return list;
}

/** Expands macros in every string value of a tree; map keys stay literal except `filters.setParamsByID` keys. */
function expandTree(value: unknown, macros: MacroList, path: string, issues: ConfigIssue[]): unknown {
  if (typeof value === "string") return expandString(value, macros);
  if (Array.isArray(value)) return value.map((item, i) => expandTree(item, macros, `${path}[${i}]`, issues));
  if (value instanceof Map) {
    return new Map([...value].map(([k, v]) => [k, expandTree(v, macros, `${path}.${k}`, issues)]));
  }
  if (isMapping(value)) {
    const expandKeys = path.endsWith(".filters.setParamsByID");
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const name = expandKeys ? String(expandString(key, macros)) : key;
      if (name in out) {
        issues.push({ path: `${path}.${key}`, message: `expands to '${name}', which another key here also expands to; use distinct names` });
        continue;
      }
      out[name] = expandTree(item, macros, `${path}.${key}`, issues);
    }
    return out;
  }
  return value;
}

/** Reports every `${…}` still present after expansion, with the field it is in. */
function reportLeftovers(
  value: unknown,
  path: string,
  context: MacroContext,
  issues: ConfigIssue[],
  proxy: ProxyFacts = { defaulted: false, hasCmd: true },
): void {
  if (typeof value === "string") {
    for (const reference of referencesIn(value)) {
      const message = leftoverMessage(reference, path, context, proxy);
      if (message) issues.push({ path, message });
    }
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => reportLeftovers(item, `${path}[${i}]`, context, issues, proxy));
  } else if (value instanceof Map || isMapping(value)) {
    const entries = value instanceof Map ? [...value] : Object.entries(value);
    for (const [key, item] of entries) {
      if (path.endsWith(".filters.setParamsByID")) reportLeftovers(key, `${path}.${key}`, context, issues);
      reportLeftovers(item, `${path}.${key}`, context, issues, proxy);
    }
  }
}

function leftoverMessage(reference: string, path: string, context: MacroContext, proxy: ProxyFacts): string | undefined {
  const inModel = path.startsWith("models.");
  if (reference === "PID") {
    if (inModel && path.endsWith(".cmdStop")) return undefined;
    return "${PID} is only available in cmdStop (it is the upstream's process id when stopping)";
  }
  if (reference === "PORT") {
    if (!inModel) return "${PORT} is only available inside a model";
    if (path.endsWith(".proxy")) {
      // llama-swap's reason, then what to do about it.
      const which = proxy.defaulted ? " (no proxy is set, and the default proxy is http://127.0.0.1:${PORT})" : "";
      const fix = proxy.hasCmd
        ? "add `--port ${PORT}` to cmd, or set proxy to the URL of its fixed port (e.g. http://127.0.0.1:8080)"
        : "a model without cmd is never started by modelswap: set proxy to the URL of its running server (e.g. http://127.0.0.1:8080)";
      return `proxy uses \${PORT} but cmd does not - \${PORT} is only available when used in cmd${which}; ${fix}`;
    }
    return "${PORT} is only available when cmd uses ${PORT}; add `--port ${PORT}` to cmd or write the port literally";
  }
  if (reference === "GPUS") {
    return inModel && path.endsWith(".cmd") ? undefined : "${GPUS} is only available in a model's cmd (the GPUs the memory planner gives it at each start)";
  }
  if (reference === "MODEL_ID") return "${MODEL_ID} is only available inside a model";
  if (reference.startsWith("env.")) {
    const name = reference.slice(4);
    const why = context.envProblems.get(name) ??
      "is not a valid environment variable name (letters, digits and _, not starting with a digit)";
    return `environment variable '${name}' ${why}`;
  }
  return `unknown macro '\${${reference}}'; declare it under macros${inModel ? " (or this model's macros)" : ""}, or write \${env.${reference}} for an environment variable`;
}

function referencesIn(text: string): string[] {
  return [...text.matchAll(REFERENCE)].map((m) => m[1]);
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Map);
}
