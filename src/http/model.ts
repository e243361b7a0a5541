/**
 * Finds the model a request names — in a JSON body, a multipart form field
 * or the query string — and keeps the body so it can be forwarded (and the
 * `model` field rewritten) without reading it twice.
 */
import { ModelswapError } from "../errors.ts";
import { multipartField } from "./multipart.ts";

/** A request body as modelswap understood it. */
export type ParsedBody =
  | { kind: "json"; json: Record<string, unknown>; bytes: Uint8Array<ArrayBuffer> }
  | { kind: "multipart"; bytes: Uint8Array<ArrayBuffer>; boundary: string }
  | { kind: "raw"; bytes: Uint8Array<ArrayBuffer> | null };

/** The model a request names plus its body. */
export interface ModelRequest {
  /** As the client wrote it (an id, alias or peer name), or null. */
  model: string | null;
  stream: boolean;
  body: ParsedBody;
}

const decoder = new TextDecoder();

/** Read the request once and find its model. Malformed JSON is a 400. */
export async function readModelRequest(request: Request): Promise<ModelRequest> {
  const at = request.url.indexOf("?");
  const query = at < 0 ? null : new URLSearchParams(request.url.slice(at + 1));
  const queryModel = query?.get("model") ?? null;
  const queryStream = query?.get("stream") === "true";
  if (request.method === "GET" || request.method === "HEAD" || !request.body) {
    return { model: queryModel, stream: queryStream, body: { kind: "raw", bytes: null } };
  }
  const type = request.headers.get("content-type") ?? "";
  const bytes = new Uint8Array<ArrayBuffer>(await request.arrayBuffer());
  const boundary = /multipart\/form-data/i.test(type) ? /boundary="?([^";]+)"?/i.exec(type)?.[1] : undefined;
  if (boundary) {
    const field = multipartField(bytes, boundary, "model");
    const stream = multipartField(bytes, boundary, "stream")?.value === "true";
    return { model: field?.value ?? queryModel, stream: stream || queryStream, body: { kind: "multipart", bytes, boundary } };
  }
  const text = decoder.decode(bytes);
  const looksJson = /json/i.test(type) || /^\s*\{/.test(text);
  if (!looksJson) return { model: queryModel, stream: queryStream, body: { kind: "raw", bytes } };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ModelswapError(400, "invalid_json", `request body is not valid JSON: ${reason}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ModelswapError(400, "invalid_json", "request body must be a JSON object with a \"model\" field");
  }
  const body = json as Record<string, unknown>;
  const model = typeof body.model === "string" ? body.model : queryModel;
  if (body.model !== undefined && typeof body.model !== "string") {
    throw new ModelswapError(400, "invalid_model", `"model" must be a string (got ${JSON.stringify(body.model)})`);
  }
  return { model, stream: body.stream === true || queryStream, body: { kind: "json", json: body, bytes } };
}
