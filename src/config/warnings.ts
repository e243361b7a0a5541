/**
 * Warnings for keys the schema does not use: llama-swap keys modelswap does
 * not support yet, and unknown keys (with a "did you mean" for likely typos).
 * They are reported, never silently dropped, and never fail the load, so a
 * llama-swap config keeps working.
 */
import type { z } from "zod";

/** llama-swap keys that modelswap accepts but ignores, by where they appear (`*` = any id). */
const UNSUPPORTED: Record<string, string[]> = {
  "": ["logRequests"],
  "models.*": ["timeouts", "compat"],
  "peers.*.timeouts": ["connect", "keepalive", "tlsHandshake", "expectContinue", "idleConn"],
};

/**
 * One warning per unknown or unsupported key in `tree`, found by walking it
 * alongside `schema`, e.g. `models.foo.timeouts: not supported by modelswap yet; ignored`
 * or `models.foo.tll: unknown key; ignored (did you mean ttl?)`.
 */
export function unknownKeyWarnings(tree: unknown, schema: z.ZodType): string[] {
  const warnings: string[] = [];
  walk(tree, schema, [], warnings);
  return warnings;
}

function walk(value: unknown, schema: z.ZodType, path: string[], warnings: string[]): void {
  const def = (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;
  switch (def.type) {
    case "pipe": {
      const input = def.in!._zod.def.type;
      return walk(value, input === "transform" || input === "unknown" ? def.out! : def.in!, path, warnings);
    }
    case "default":
    case "prefault":
    case "optional":
    case "nullable":
      return walk(value, def.innerType!, path, warnings);
    case "array":
      if (Array.isArray(value)) value.forEach((item, i) => walk(item, def.element!, [...path, `[${i}]`], warnings));
      return;
    case "record":
    case "map": {
      const entries = value instanceof Map ? [...value] : isMapping(value) ? Object.entries(value) : [];
      for (const [key, item] of entries) walk(item, def.valueType!, [...path, String(key)], warnings);
      return;
    }
    case "object": {
      if (!isMapping(value)) return;
      const known = Object.keys(def.shape!);
      // Ids under `models` and `peers` are written as `*` in UNSUPPORTED.
      const where = path.length >= 2 && (path[0] === "models" || path[0] === "peers") ? [path[0], "*", ...path.slice(2)] : path;
      const unsupported = UNSUPPORTED[where.join(".")] ?? [];
      for (const [key, item] of Object.entries(value)) {
        if (Object.hasOwn(def.shape!, key)) walk(item, def.shape![key], [...path, key], warnings);
        else if (unsupported.includes(key)) unsupportedLeaves(item, [...path, key], warnings);
        else warnings.push(`${join([...path, key])}: unknown key; ignored${suggestion(key, known)}`);
      }
    }
  }
}

/** The parts of zod's internal schema definition this walk needs (zod v4 `_zod.def`). */
interface SchemaDef {
  type: string;
  in?: z.ZodType & { _zod: { def: SchemaDef } };
  out?: z.ZodType;
  innerType?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
}

/** One warning per leaf of an unsupported section, so the user sees each setting that has no effect. */
function unsupportedLeaves(value: unknown, path: string[], warnings: string[]): void {
  const note = path[path.length - 1] === "logRequests" ? "deprecated in llama-swap; ignored" : "not supported by modelswap yet; ignored";
  if (isMapping(value) && Object.keys(value).length > 0) {
    for (const [key, item] of Object.entries(value)) unsupportedLeaves(item, [...path, key], warnings);
  } else {
    warnings.push(`${join(path)}: ${note}`);
  }
}

function suggestion(key: string, known: string[]): string {
  const close = known.find((name) => name.toLowerCase() === key.toLowerCase()) ??
    known.find((name) => key.length > 2 && editDistance(name, key) <= (key.length > 5 ? 2 : 1));
  return close ? ` (did you mean ${close}?)` : "";
}

/** Levenshtein distance with adjacent transpositions (so `tll` → `ttl` is 1). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => i || j));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

function join(path: string[]): string {
  return path.join(".").replaceAll(".[", "[");
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Map);
}
