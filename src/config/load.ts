/**
 * The config loading pipeline (reference §1.1): `${env.X}` on the raw text →
 * YAML (anchors, merge keys, key order kept where it matters) → macros and
 * `${PORT}` → schema → cross-references → the caller's own checks (the
 * routing policy). Every problem is collected with its key path and reported
 * together in one ConfigError.
 */
import { parseDocument } from "yaml";
import type { z } from "zod";
import { type EnvProblem, expandEnvReferences } from "./env.ts";
import { ConfigError, type ConfigIssue } from "./issue.ts";
import { expandConfigMacros } from "./macros.ts";
import { checkReferences } from "./references.ts";
import { type Config, configSchema, describeValue } from "./schema.ts";
import { unknownKeyWarnings } from "./warnings.ts";

/** What the loader needs from the outside world. */
export interface LoadOptions {
  /** Process environment for `${env.X}`. */
  env: Record<string, string>;
  /** argv of this program: `${SELF}` expands to these words, each shell-quoted when needed. */
  selfArgv: string[];
  /** File name for messages. */
  source?: string;
  /** More checks of a schema-valid config (e.g. building its routing policy); their issues are reported with the rest. */
  check?: (config: Config) => ConfigIssue[];
}

/** A usable config plus one warning per ignored (unknown or unsupported) key. */
export interface LoadResult {
  config: Config;
  warnings: string[];
  /** Values that came from `${env.X}`: redacted from every log line. */
  secrets: string[];
}

/** Maps whose key order is meaningful (macro declaration order, matrix set order); `*` is any key. */
const ORDERED_MAPS = [["macros"], ["models", "*", "macros"], ["matrix", "sets"], ["routing", "router", "settings", "matrix", "sets"]];

/** Parses and validates config text. Throws ConfigError with ALL issues found. */
export function parseConfig(yamlText: string, options: LoadOptions): LoadResult {
  const source = options.source ?? "config";
  const { text, problems, values: secrets } = expandEnvReferences(yamlText, options.env);
  const root = readYaml(text, source, problems);
  const issues: ConfigIssue[] = [];
  const envProblems = new Map(problems.map(({ name, reason }) => [name, reason]));
  const { tree, ports } = expandConfigMacros(root, { selfArgv: options.selfArgv, envProblems }, issues);
  // References the field walk did not meet (in a key, or where they broke the structure) are reported
  // by line, unless they sat on a `#` line of a block scalar: a cmd comment line, stripped before use.
  const lines = yamlText.split("\n");
  for (const { name, line, reason } of problems) {
    const message = `environment variable '${name}' ${reason}`;
    if (lines[line - 1].trim().startsWith("#") || issues.some((issue) => issue.message === message)) continue;
    issues.push({ path: `${source}:${line}`, message });
  }
  const warnings = unknownKeyWarnings(tree, configSchema);

  const parsed = configSchema.safeParse(tree, { error: fallbackMessage });
  if (!parsed.success) {
    issues.push(...parsed.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })));
    throw new ConfigError(inFileOrder(issues, tree));
  }
  const config = parsed.data;
  for (const [id, port] of ports) config.models[id].port = port;
  if (Object.keys(config.models).length === 0 && Object.keys(config.peers).length === 0) {
    issues.push({ path: "models", message: "define at least one model (or a peer)" });
  }
  checkReferences(config, issues);
  if (options.check) issues.push(...options.check(config));
  if (issues.length > 0) throw new ConfigError(inFileOrder(issues, tree));
  return { config, warnings, secrets };
}

/** YAML text → a mapping tree (see toTree); syntax errors, an empty file or a non-mapping throw. */
function readYaml(text: string, source: string, envProblems: EnvProblem[]): Record<string, unknown> {
  const document = parseDocument(text, { merge: true });
  if (document.errors.length > 0) {
    // An unusable env value may be what broke the YAML, so it is listed first.
    throw new ConfigError([
      ...envProblems.map(({ name, line, reason }) => ({ path: `${source}:${line}`, message: `environment variable '${name}' ${reason}` })),
      ...document.errors.map((error) => {
        const { line, col } = error.linePos?.[0] ?? { line: 1, col: 1 };
        return { path: `${source}:${line}:${col}`, message: error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "") };
      }),
    ]);
  }
  const root = toTree(document.toJS({ mapAsMap: true }), []);
  if (root === undefined || root === null) {
    throw new ConfigError([{ path: source, message: "is empty; define at least one model under models" }]);
  }
  if (typeof root !== "object" || Array.isArray(root) || root instanceof Map) {
    throw new ConfigError([{ path: source, message: `must be a mapping of settings (got ${describeValue(root)})` }]);
  }
  return root as Record<string, unknown>;
}

/** Reads and parses a config file. A file that cannot be read is a ConfigError too. */
export async function loadConfigFile(
  path: string,
  readTextFile: (p: string) => Promise<string>,
  options: LoadOptions,
): Promise<LoadResult> {
  let text: string;
  try {
    text = await readTextFile(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError([{ path: "config", message: `cannot read ${path}: ${reason}` }]);
  }
  return parseConfig(text, { ...options, source: options.source ?? path });
}

/**
 * YAML value → plain data: mappings become objects with string keys, except
 * ORDERED_MAPS, which stay Maps (a plain object would move integer-like keys
 * such as "1" and "2" to the front).
 */
function toTree(value: unknown, path: string[]): unknown {
  if (Array.isArray(value)) return value.map((item) => toTree(item, [...path, "[]"]));
  if (!(value instanceof Map)) return value;
  const entries = [...value].map(([key, item]): [string, unknown] => [String(key), toTree(item, [...path, String(key)])]);
  const ordered = ORDERED_MAPS.some((pattern) =>
    pattern.length === path.length && pattern.every((key, i) => key === "*" || key === path[i])
  );
  return ordered ? new Map(entries) : Object.fromEntries(entries);
}

/** Sorts issues by the position of their top-level key in the file (stable within one key). */
function inFileOrder(issues: ConfigIssue[], tree: Record<string, unknown>): ConfigIssue[] {
  const keys = Object.keys(tree);
  const rank = ({ path }: ConfigIssue) => keys.indexOf(path.split(/[.[]/)[0]);
  return issues.map((issue, i) => ({ issue, i })).sort((a, b) => rank(a.issue) - rank(b.issue) || a.i - b.i).map(({ issue }) => issue);
}

function formatPath(path: PropertyKey[]): string {
  return path.map((key, i) => typeof key === "number" ? `[${key}]` : `${i ? "." : ""}${String(key)}`).join("");
}

/** Message for the few zod issues whose schema has no message of its own. */
function fallbackMessage(issue: z.core.$ZodRawIssue): string {
  if (issue.code === "invalid_type" && issue.input === undefined) return "is required";
  if (issue.code === "invalid_type") return `must be ${issue.expected} (got ${describeValue(issue.input)})`;
  return `is invalid (got ${describeValue(issue.input)})`;
}
