/**
 * The one writer of server-sent events for every stream modelswap writes
 * itself (loading feedback, error events, the dashboard feed). It frames a
 * message the way Hono's `SSEStreamingApi.writeSSE` does: multi-line data
 * becomes one `data:` line per line, so a newline inside the payload can
 * never end the event early or corrupt the stream.
 */

/** One event: `data` is sent as is (JSON-encode it first), `event` names it. */
export interface SSEMessage {
  data: string;
  event?: string;
  id?: string;
}

const encoder = new TextEncoder();

/** The event as SSE text, ending in the blank line that terminates it. */
export function formatSSE(message: SSEMessage): string {
  const data = message.data.split(/\r\n|\r|\n/).map((line) => `data: ${line}`).join("\n");
  const event = message.event === undefined ? "" : `event: ${message.event}\n`;
  const id = message.id === undefined ? "" : `id: ${message.id}\n`;
  return `${event}${data}\n${id}\n`;
}

/** {@link formatSSE} as UTF-8 bytes, ready to enqueue on a response stream. */
export function encodeSSE(message: SSEMessage): Uint8Array {
  return encoder.encode(formatSSE(message));
}
