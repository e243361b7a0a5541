/**
 * The config loading pipeline (reference §1.1): `${env.X}` on the raw text of
 * each file → YAML (anchors, merge keys, key order kept where it matters) →
 * the files merged in order (`-config-dir`) → macros and `${PORT}` →
 * llama-swap's leniencies, relaxed with a warning → schema →
 * cross-references → the caller's own checks (the routing policy). Every
 * problem is collected with its key path and reported together in one
 * ConfigError.
 */
import { parseDocument } from "yaml";
import type { z } from "zod";
import { applyComfyUI, relaxLlamaSwapValues, warnNothingToServe } from "./compat.ts";
import { type EnvProblem, expandEnvReferences } from "./env.ts";
import { ConfigError, type ConfigIssue } from "./issue.ts";
import { expandConfigMacros } from "./macros.ts";
import { mergeConfigTrees, type SourceTree } from "./merge.ts";
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

/** One config file's text and its name for messages. */
export interface ConfigSource {
  name: string;
  text: string;
}

/** Maps whose key order is meaningful (macro declaration order, matrix set order); `*` is any key. */
const ORDERED_MAPS = [["macros"], ["models", "*", "macros"], ["matrix", "sets"], ["routing", "router", "settings", "matrix", "sets"]];

/** Parses and validates config text. Throws ConfigError with ALL issues found. */
export function parseConfig(yamlText: string, options: LoadOptions): LoadResult {
  return parseConfigSources([{ name: options.source ?? "config", text: yamlText }], options);
}

/**
 * Parses, merges in order (see merge.ts) and validates several config files.
 * Empty files count as absent. Throws ConfigError with ALL issues found.
 */
export function parseConfigSources(sources: ConfigSource[], options: LoadOptions): LoadResult {
  const issues: ConfigIssue[] = [];
  const secrets = new Set<string>();
  const envProblems = new Map<string, string>();
  const files = sources.map(({ name, text: raw }) => {
    const { text, problems, values } = expandEnvReferences(raw, options.env);
    for (const value of values) secrets.add(value);
    for (const { name, reason } of problems) envProblems.set(name, reason);
    return { name, raw, problems, tree: readYaml(text, name, problems, issues) };
  });
  if (issues.length > 0) throw new ConfigError(issues); // a file that is no YAML mapping: nothing else can be checked
  const trees = files.flatMap(({ name, tree }): SourceTree[] => (tree ? [{ source: name, tree }] : []));
  const merged = mergeConfigTrees(trees, issues);
  const { tree, ports, warnings } = expandConfigMacros(merged.tree, { selfArgv: options.selfArgv, envProblems }, issues);
  // References the field walk did not meet (in a key, or where they broke the structure) are reported
  // by line, unless they sat on a `#` line of a block scalar: a cmd comment line, stripped before use.
  for (const { name: source, raw, problems } of files) {
    const lines = raw.split("\n");
    for (const { name, line, reason } of problems) {
      const message = `environment variable '${name}' ${reason}`;
      if (lines[line - 1].trim().startsWith("#") || issues.some((issue) => issue.message === message)) continue;
      issues.push({ path: `${source}:${line}`, message });
    }
  }
  relaxLlamaSwapValues(tree, warnings);
  warnings.push(...unknownKeyWarnings(tree, configSchema));
  const report = (found: ConfigIssue[]) => new ConfigError(inSourceOrder(found, tree, trees.length > 1 ? merged.sourceOf : null));

  const parsed = configSchema.safeParse(tree, { error: fallbackMessage });
  if (!parsed.success) {
    // A value already reported (e.g. a proxy whose ${PORT} has no port) is not reported again for what follows from it.
    const reported = new Set(issues.map((issue) => issue.path));
    for (const issue of parsed.error.issues) {
      const path = formatPath(issue.path);
      if (!reported.has(path)) issues.push({ path, message: issue.message });
    }
    throw report(issues);
  }
  const config = parsed.data;
  for (const [id, port] of ports) config.models[id].port = port;
  applyComfyUI(config, tree, warnings);
  warnNothingToServe(config, warnings);
  checkReferences(config, issues, warnings);
  if (options.check) issues.push(...options.check(config));
  if (issues.length > 0) throw report(issues);
  return { config, warnings, secrets: [...secrets] };
}

/**
 * YAML text → a mapping tree (see toTree), or null for an empty file. Syntax
 * errors and a file that is no mapping are pushed to `issues`.
 */
function readYaml(text: string, source: string, envProblems: EnvProblem[], issues: ConfigIssue[]): Record<string, unknown> | null {
  const document = parseDocument(text, { merge: true });
  if (document.errors.length > 0) {
    // An unusable env value may be what broke the YAML, so it is listed first.
    issues.push(
      ...envProblems.map(({ name, line, reason }) => ({ path: `${source}:${line}`, message: `environment variable '${name}' ${reason}` })),
      ...document.errors.map((error) => {
        const { line, col } = error.linePos?.[0] ?? { line: 1, col: 1 };
        return { path: `${source}:${line}:${col}`, message: error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "") };
      }),
    );
    return null;
  }
  const root = toTree(document.toJS({ mapAsMap: true }), []);
  if (root === undefined || root === null) return null;
  if (typeof root !== "object" || Array.isArray(root) || root instanceof Map) {
    issues.push({ path: source, message: `must be a mapping of settings (got ${describeValue(root)})` });
    return null;
  }
  return root as Record<string, unknown>;
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

/**
 * Sorts issues by the position of their top-level key in the config (stable
 * within one key); with several files, each message also names the file
 * that defined the key it is about.
 */
function inSourceOrder(
  issues: ConfigIssue[],
  tree: Record<string, unknown>,
  sourceOf: ((path: string) => string | undefined) | null,
): ConfigIssue[] {
  const keys = Object.keys(tree);
  const rank = ({ path }: ConfigIssue) => keys.indexOf(path.split(/[.[]/)[0]);
  const sorted = issues.map((issue, i) => ({ issue, i })).sort((a, b) => rank(a.issue) - rank(b.issue) || a.i - b.i).map(({ issue }) => issue);
  return sorted.map((issue) => {
    const source = sourceOf?.(issue.path);
    return source === undefined || issue.message.includes(source) ? issue : { ...issue, message: `${issue.message} (in ${source})` };
  });
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
