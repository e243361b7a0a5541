/**
 * Finds the model a request names — in a JSON body, a multipart form field
 * or the query string — and keeps the body so it can be forwarded (and the
 * `model` field rewritten) without reading it twice. A body's shape is
 * bounded (JSON nesting, multipart boundary) before it is parsed.
 */
import { ModelswapError } from "../errors.ts";
import { clipped, MAX_JSON_DEPTH } from "./bounds.ts";
import { jsonDepth } from "./json-scan.ts";
import { type FieldLocation, multipartBoundary, multipartFields } from "./multipart.ts";

/** A request body as modelswap understood it. */
export type ParsedBody =
  | { kind: "json"; json: Record<string, unknown>; bytes: Uint8Array<ArrayBuffer> }
  | { kind: "multipart"; bytes: Uint8Array<ArrayBuffer>; model: FieldLocation | null }
  | { kind: "raw"; bytes: Uint8Array<ArrayBuffer> | null };

/** The model a request names plus its body. */
export interface ModelRequest {
  /** As the client wrote it (an id, alias or peer name), or null. */
  model: string | null;
  stream: boolean;
  body: ParsedBody;
}

const decoder = new TextDecoder();

/** True when the first byte that is not whitespace opens an object. */
function opensObject(bytes: Uint8Array): boolean {
  for (const byte of bytes) {
    if (byte === 0x7b) return true;
    if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) return false;
  }
  return false;
}

/** What a non-string `model` was, without echoing (or encoding) a client's whole value. */
function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return `${typeof value} ${clipped(String(value))}`;
}

/** Read the request once and find its model. Malformed or too deeply nested JSON is a 400. */
export async function readModelRequest(request: Request): Promise<ModelRequest> {
  const at = request.url.indexOf("?");
  const query = at < 0 ? null : new URLSearchParams(request.url.slice(at + 1));
  const queryModel = query?.get("model") ?? null;
  const queryStream = query?.get("stream") === "true";
  if (request.method === "GET" || request.method === "HEAD" || !request.body) {
    return { model: queryModel, stream: queryStream, body: { kind: "raw", bytes: null } };
  }
  const type = request.headers.get("content-type") ?? "";
  const boundary = multipartBoundary(type);
  const bytes = new Uint8Array<ArrayBuffer>(await request.arrayBuffer());
  if (boundary !== null) {
    const fields = multipartFields(bytes, boundary, ["model", "stream"]);
    const model = fields.get("model") ?? null;
    const stream = fields.get("stream")?.value === "true";
    return { model: model?.value ?? queryModel, stream: stream || queryStream, body: { kind: "multipart", bytes, model } };
  }
  if (!/json/i.test(type) && !opensObject(bytes)) return { model: queryModel, stream: queryStream, body: { kind: "raw", bytes } };
  const depth = jsonDepth(bytes, MAX_JSON_DEPTH);
  if (depth > MAX_JSON_DEPTH) {
    throw new ModelswapError(400, "json_too_deep", `request body nests JSON more than ${MAX_JSON_DEPTH} levels deep; modelswap accepts at most ${MAX_JSON_DEPTH}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(bytes));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ModelswapError(400, "invalid_json", `request body is not valid JSON: ${clipped(reason)}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ModelswapError(400, "invalid_json", "request body must be a JSON object with a \"model\" field");
  }
  const body = json as Record<string, unknown>;
  if (body.model !== undefined && typeof body.model !== "string") {
    throw new ModelswapError(400, "invalid_model", `"model" must be a string (got ${describe(body.model)})`);
  }
  const model = typeof body.model === "string" ? body.model : queryModel;
  return { model, stream: body.stream === true || queryStream, body: { kind: "json", json: body, bytes } };
}
