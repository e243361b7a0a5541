/**
 * Reading server-sent events in API tests: the `event:` name and `data:`
 * payload of each message of a complete response body.
 */
import assert from "node:assert/strict";

/** One SSE message. */
export interface SseMessage {
  event: string | null;
  data: string;
}

/** The messages of an event-stream response (asserting its content type). */
export async function sseMessages(response: Response): Promise<SseMessage[]> {
  assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
  const text = await response.text();
  return text.split("\n\n").filter((block) => block.trim() !== "").map((block) => ({
    event: block.match(/^event: ?(.*)$/m)?.[1] ?? null,
    data: block.match(/^data: ?(.*)$/m)?.[1] ?? "",
  }));
}
