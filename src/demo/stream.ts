/**
 * The demo's one way to answer with a server-sent event stream, built on
 * Hono's `streamSSE`: generation stops as soon as the client leaves, and the
 * departure is recorded for `--record-disconnect`.
 */
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { Demo } from "./context.ts";
import { recordDisconnect } from "./faults.ts";

/** Send one event: `data` (JSON-encoded unless already a string), named `event` when given. */
export type SendEvent = (data: unknown, event?: string) => Promise<void>;

/**
 * Stream the events `produce` sends as the response. `signal` aborts when the
 * client disconnects before `produce` has finished; sends after that are
 * dropped.
 */
export function eventStream(
  demo: Demo,
  c: Context,
  produce: (send: SendEvent, signal: AbortSignal) => Promise<void>,
): Response {
  const request = c.req.raw;
  const response = streamSSE(c, async (sse) => {
    const gone = new AbortController();
    sse.onAbort(() => {
      gone.abort();
      recordDisconnect(demo, request);
    });
    // The request's signal may report the disconnect before the body is cancelled.
    const onRequestAbort = () => {
      if (!sse.closed) sse.abort();
    };
    request.signal.addEventListener("abort", onRequestAbort, { once: true });
    const send: SendEvent = async (data, event) => {
      if (gone.signal.aborted) return;
      await sse.writeSSE({ event, data: typeof data === "string" ? data : JSON.stringify(data) });
    };
    try {
      await produce(send, gone.signal);
    } finally {
      request.signal.removeEventListener("abort", onRequestAbort);
    }
  });
  // streamSSE also sets these two; llama-server does not, and each runtime's
  // server frames the body and manages the connection itself.
  response.headers.delete("transfer-encoding");
  response.headers.delete("connection");
  return response;
}
