/**
 * Several config files (`-config` then every file of `-config-dir`) merged
 * into one tree before macros, as llama-swap merges them (reference §1.7):
 * mappings merge key by key, lists are concatenated in file order, a null
 * yields to a value, and the same scalar set in two files must be equal.
 * A key that names an entity (a model, group, profile, selector, peer, or a
 * matrix var or set) may be defined in one file only. Every conflict is an
 * issue naming both files.
 */
import type { ConfigIssue } from "./issue.ts";
import { describeValue } from "./schema.ts";

/** One parsed file: its name for messages and its mapping tree (ordered maps are `Map`s). */
export interface SourceTree {
  source: string;
  tree: Record<string, unknown>;
}

/** The merged tree and where its keys came from. */
export interface MergedTrees {
  tree: Record<string, unknown>;
  /**
   * The file that defined the key at an issue path such as `models.foo.ttl`
   * (the longest defined prefix), or undefined when there is only one file.
   */
  sourceOf(path: string): string | undefined;
}

/** Paths whose keys name entities, with the entity's name for messages (`*` is any key). */
const IDENTITY_MAPS: ReadonlyArray<[path: string[], entity: string]> = [
  [["models"], "model"],
  [["groups"], "group"],
  [["profiles"], "profile"],
  [["selectors"], "selector"],
  [["peers"], "peer"],
  [["matrix", "vars"], "matrix var"],
  [["matrix", "sets"], "matrix set"],
  [["routing", "router", "settings", "groups"], "group"],
  [["routing", "router", "settings", "matrix", "vars"], "matrix var"],
  [["routing", "router", "settings", "matrix", "sets"], "matrix set"],
];

type Mapping = Record<string, unknown> | Map<string, unknown>;

/** Merges the files in order; conflicts are pushed to `issues` (the first file's value is kept). */
export function mergeConfigTrees(sources: SourceTree[], issues: ConfigIssue[]): MergedTrees {
  const origins = new Map<string, string>();
  if (sources.length <= 1) return { tree: sources[0]?.tree ?? {}, sourceOf: () => undefined };
  const merger = new Merger(origins, issues);
  let tree: Record<string, unknown> = {};
  for (const { source, tree: next } of sources) tree = merger.mapping(tree, next, [], source) as Record<string, unknown>;
  return {
    tree,
    sourceOf: (path) => {
      for (let end = path.length; end > 0;) {
        const source = origins.get(path.slice(0, end));
        if (source !== undefined) return source;
        end = Math.max(path.lastIndexOf(".", end - 1), path.lastIndexOf("[", end - 1));
      }
      return undefined;
    },
  };
}

/** The merge of one run, remembering which file set each key path first. */
class Merger {
  readonly #origins: Map<string, string>;
  readonly #issues: ConfigIssue[];

  constructor(origins: Map<string, string>, issues: ConfigIssue[]) {
    this.#origins = origins;
    this.#issues = issues;
  }

  /** Merges mapping `next` (from `source`) into `into`; keys keep the order of their first appearance. */
  mapping(into: Mapping, next: Mapping, path: string[], source: string): Mapping {
    const entity = IDENTITY_MAPS.find(([at]) => at.length === path.length && at.every((key, i) => key === path[i]))?.[1];
    const result: Mapping = into instanceof Map ? new Map(into) : { ...into };
    for (const [key, value] of next instanceof Map ? next : Object.entries(next)) {
      const at = [...path, key];
      const existing = get(result, key);
      if (existing === undefined) {
        this.#record(at, value, source);
        set(result, key, value);
      } else if (entity !== undefined) {
        this.#issues.push({
          path: format(at),
          message: `${entity} '${key}' is defined in both ${this.#origin(at)} and ${source}; define it in one file only`,
        });
      } else {
        set(result, key, this.#value(existing, value, at, source));
      }
    }
    return result;
  }

  #value(into: unknown, next: unknown, path: string[], source: string): unknown {
    if (next === null || next === undefined) return into;
    if (into === null) {
      this.#record(path, next, source);
      return next;
    }
    if (isMapping(into) && isMapping(next)) return this.mapping(into, next, path, source);
    if (Array.isArray(into) && Array.isArray(next)) return [...into, ...next];
    const kind = (value: unknown) => (isMapping(value) ? "a mapping" : Array.isArray(value) ? "a list" : "a single value");
    if (kind(into) !== kind(next)) {
      this.#conflict(path, `is ${kind(into)} in ${this.#origin(path)} but ${kind(next)} in ${source}; write it the same way in both, or in one file only`);
    } else if (into !== next) {
      this.#conflict(path, `is ${describeValue(into)} in ${this.#origin(path)} but ${describeValue(next)} in ${source}; set it in one file only (or to the same value)`);
    }
    return into;
  }

  #conflict(path: string[], message: string): void {
    this.#issues.push({ path: format(path), message });
  }

  #origin(path: string[]): string {
    return this.#origins.get(format(path)) ?? "an earlier file";
  }

  /** Notes `source` as the file that set `path` and every key under it. */
  #record(path: string[], value: unknown, source: string): void {
    this.#origins.set(format(path), source);
    if (!isMapping(value)) return;
    for (const [key, item] of value instanceof Map ? value : Object.entries(value)) this.#record([...path, key], item, source);
  }
}

function get(mapping: Mapping, key: string): unknown {
  return mapping instanceof Map ? mapping.get(key) : Object.hasOwn(mapping, key) ? mapping[key] : undefined;
}

function set(mapping: Mapping, key: string, value: unknown): void {
  if (mapping instanceof Map) mapping.set(key, value);
  else mapping[key] = value;
}

function isMapping(value: unknown): value is Mapping {
  return value instanceof Map || (typeof value === "object" && value !== null && !Array.isArray(value));
}

/** A key path as issues write it: `models.foo.ttl`. */
function format(path: string[]): string {
  return path.join(".");
}
