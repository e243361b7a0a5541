/**
 * Request and response helpers shared by the demo's routes, shaped like
 * llama-server's so clients and the router see the same bodies and codes.
 */

/** A parsed JSON request body. */
export type Json = Record<string, unknown>;

/** What an abandoned request "answers" (nobody reads it; nginx's code for it). */
export function clientGone(): Response {
  return new Response(null, { status: 499 });
}

/** The OpenAI/llama-server error body `{"error":{"code","message","type"}}` with `status`. */
export function errorResponse(status: number, message: string, type = "invalid_request_error"): Response {
  return Response.json({ error: { code: status, message, type } }, { status });
}

/** The request body as a JSON object (`{}` when empty), or a 400 error response for bad JSON. */
export async function readJson(request: Request): Promise<Json | Response> {
  const text = await request.text();
  if (text.trim() === "") return {};
  try {
    const value = JSON.parse(text);
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Json;
    return errorResponse(400, "request body must be a JSON object");
  } catch (error) {
    return errorResponse(400, `invalid JSON in request body: ${(error as Error).message}`);
  }
}
