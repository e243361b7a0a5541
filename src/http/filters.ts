/**
 * Request-body filters of a model or peer (reference §5.4), applied in
 * llama-swap's order: the `model` rewrite (useModelName, or a peer's own
 * model id) → `stripParams` → `setParams` → `setParamsByID[requested name]`.
 * Keys are JSON paths: `a.b` addresses field `b` inside object `a` (write
 * `\.` for a literal dot). `model` is protected: only the rewrite sets it.
 * JSON bodies get every filter; a multipart upload only the `model` rewrite.
 * A filter descends only along its own path, and only the top-level members
 * it changed are encoded again: the rest of the body is never walked,
 * cloned or re-encoded.
 */
import type { ModelConfig } from "../config/schema.ts";
import type { ParsedBody } from "./model.ts";
import { topLevelMembers } from "./json-scan.ts";
import { replaceField } from "./multipart.ts";

/** The `filters:` block of a model or peer, as the config schema normalises it. */
export type Filters = ModelConfig["filters"];

/** What to change in one request body. */
export interface BodyRewrite {
  /** The `model` value the upstream should see; undefined keeps the client's. */
  model?: string;
  filters: Filters;
  /** The name the request asked for after profile and selector rewrites: picks the setParamsByID entry. */
  requested: string;
}

const encoder = new TextEncoder();

/** `a.b\.c` → ["a", "b.c"]. */
export function splitJsonPath(path: string): string[] {
  const segments: string[] = [];
  let current = "";
  for (let i = 0; i < path.length; i++) {
    if (path[i] === "\\" && i + 1 < path.length) current += path[++i];
    else if (path[i] === ".") {
      segments.push(current);
      current = "";
    } else current += path[i];
  }
  segments.push(current);
  return segments;
}

type Container = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Container {
  return typeof value === "object" && value !== null;
}

function child(container: Container, key: string): unknown {
  if (Array.isArray(container)) return /^\d+$/.test(key) ? container[Number(key)] : undefined;
  return Object.hasOwn(container, key) ? container[key] : undefined;
}

/** Remove the value at `path`; true when something was removed. */
export function deleteJsonPath(root: Record<string, unknown>, path: string): boolean {
  const segments = splitJsonPath(path);
  let node: unknown = root;
  for (const key of segments.slice(0, -1)) {
    node = isContainer(node) ? child(node, key) : undefined;
  }
  const last = segments.at(-1)!;
  if (!isContainer(node) || child(node, last) === undefined) return false;
  if (Array.isArray(node)) node.splice(Number(last), 1);
  else delete node[last];
  return true;
}

/** Set the value at `path`, creating (or replacing non-object) intermediate objects as needed. */
export function setJsonPath(root: Record<string, unknown>, path: string, value: unknown): void {
  const segments = splitJsonPath(path);
  let node: Container = root;
  for (const key of segments.slice(0, -1)) {
    let next = child(node, key);
    if (!isContainer(next)) {
      next = {};
      assign(node, key, next);
    }
    node = next as Container;
  }
  // A copy, so a later filter writing inside it never changes the config.
  assign(node, segments.at(-1)!, structuredClone(value));
}

function assign(node: Container, key: string, value: unknown): void {
  if (Array.isArray(node) && /^\d+$/.test(key)) node[Number(key)] = value;
  else (node as Record<string, unknown>)[key] = value;
}

/** Apply the filters to `json` in place, adding the top-level key of every path they changed to `touched`. */
function filterJson(json: Record<string, unknown>, filters: Filters, requested: string, touched: Set<string>): void {
  for (const path of filters.stripParams) {
    if (deleteJsonPath(json, path)) touched.add(splitJsonPath(path)[0]);
  }
  const set = (params: Record<string, unknown>) => {
    for (const key of Object.keys(params).sort()) {
      if (key === "model" || key.startsWith("model.")) continue;
      setJsonPath(json, key, params[key]);
      touched.add(splitJsonPath(key)[0]);
    }
  };
  set(filters.setParams);
  if (Object.hasOwn(filters.setParamsByID, requested)) set(filters.setParamsByID[requested]);
}

/** Apply stripParams, setParams and setParamsByID to a JSON body in place; true when it changed. */
export function applyJsonFilters(json: Record<string, unknown>, filters: Filters, requested: string): boolean {
  const touched = new Set<string>();
  filterJson(json, filters, requested, touched);
  return touched.size > 0;
}

/**
 * The JSON text of `json` re-encoding only the top-level members in
 * `touched`: every other member is copied from the client's `bytes` as it
 * was sent, however large or deep. A touched key the client sent twice is
 * written once, where the parser took it from (its last occurrence).
 */
function spliceMembers(bytes: Uint8Array<ArrayBuffer>, json: Record<string, unknown>, touched: ReadonlySet<string>): Uint8Array<ArrayBuffer> {
  const spans = topLevelMembers(bytes, touched);
  const last = new Map<string, number>();
  for (const [i, span] of spans.entries()) if (span.key !== null) last.set(span.key, i);
  const member = (key: string) => encoder.encode(`${JSON.stringify(key)}:${JSON.stringify(json[key])}`);
  const pieces: Uint8Array[] = [];
  for (const [i, span] of spans.entries()) {
    if (span.key === null) pieces.push(bytes.subarray(span.start, span.end));
    else if (last.get(span.key) === i && Object.hasOwn(json, span.key)) pieces.push(member(span.key));
  }
  for (const key of touched) if (!last.has(key) && Object.hasOwn(json, key)) pieces.push(member(key));
  const out = new Uint8Array(2 + Math.max(0, pieces.length - 1) + pieces.reduce((sum, piece) => sum + piece.length, 0));
  let at = 0;
  out[at++] = 0x7b; // {
  for (const [i, piece] of pieces.entries()) {
    if (i > 0) out[at++] = 0x2c; // ,
    out.set(piece, at);
    at += piece.length;
  }
  out[at] = 0x7d; // }
  return out;
}

/**
 * The body to forward after the rewrite. An unchanged body is forwarded as
 * the bytes the client sent; a changed JSON body re-encodes only the
 * top-level members the rewrite touched; a multipart upload is copied once,
 * and only when its `model` field changes.
 */
export function rewriteBody(body: ParsedBody, rewrite: BodyRewrite): Uint8Array<ArrayBuffer> | null {
  if (body.kind === "raw") return body.bytes;
  if (body.kind === "multipart") {
    return rewrite.model === undefined || body.model === null ? body.bytes : replaceField(body.bytes, body.model, rewrite.model);
  }
  const touched = new Set<string>();
  if (rewrite.model !== undefined && body.json.model !== rewrite.model) {
    body.json.model = rewrite.model;
    touched.add("model");
  }
  filterJson(body.json, rewrite.filters, rewrite.requested, touched);
  return touched.size > 0 ? spliceMembers(body.bytes, body.json, touched) : body.bytes;
}

/** `path?query` with its `model` query parameter set to `model` (when it has one). */
export function rewriteQueryModel(pathAndQuery: string, model: string | undefined): string {
  const at = pathAndQuery.indexOf("?");
  if (model === undefined || at === -1) return pathAndQuery;
  const query = new URLSearchParams(pathAndQuery.slice(at + 1));
  if (!query.has("model") || query.get("model") === model) return pathAndQuery;
  query.set("model", model);
  return `${pathAndQuery.slice(0, at)}?${query}`;
}
