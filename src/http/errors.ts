/**
 * The one place error responses are produced. OpenAI routes get
 * `{"error":{"message","type","code",...}}`; Anthropic routes get
 * `{"type":"error","error":{"type","message"}}`.
 */
import { toModelswapError } from "../errors.ts";
import { formatSSE } from "../sse.ts";

/** Wire shape of an error body. */
export type ErrorFlavor = "openai" | "anthropic";

const ANTHROPIC_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  503: "overloaded_error",
};

/** The HTTP response for an error, in the flavor of the route that failed. */
export function errorResponse(error: unknown, flavor: ErrorFlavor = "openai"): Response {
  const err = toModelswapError(error);
  const headers = new Headers({ "content-type": "application/json" });
  if (err.retryAfter !== undefined) headers.set("retry-after", String(err.retryAfter));
  if (err.status === 401) headers.set("www-authenticate", 'Bearer realm="modelswap"');
  const body = flavor === "anthropic"
    ? { type: "error", error: { type: ANTHROPIC_TYPES[err.status] ?? "api_error", message: err.message } }
    : err.toJSON();
  // 499 (client gone) is never seen by the client; keep it a valid status for the server.
  const status = err.status === 499 ? 400 : err.status;
  return new Response(JSON.stringify(body), { status, headers });
}

/** The same error as a final SSE event, for streams that already sent a 200. */
export function errorEvent(error: unknown): string {
  return formatSSE({ data: JSON.stringify(toModelswapError(error).toJSON()) });
}
