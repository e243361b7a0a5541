/**
 * An upstream for the stream-delay benchmark: every POST answers with an
 * event stream of `--chunks` events, one every `--every-ms`, each carrying
 * the wall-clock time it was written (`{"t": epoch ms}`), so that a client
 * on the same machine sees how long each event took to reach it.
 *
 *   bun bench/ticker-upstream.ts --port P [--chunks 200] [--every-ms 5]
 */
import { option, runtime } from "./measure.ts";

const CHUNKS = option("chunks", 200);
const EVERY_MS = option("every-ms", 5);
const encoder = new TextEncoder();
const now = () => performance.timeOrigin + performance.now();

function ticks(): ReadableStream<Uint8Array> {
  let timer: ReturnType<typeof setInterval> | undefined;
  let sent = 0;
  return new ReadableStream({
    start(controller) {
      timer = setInterval(() => {
        controller.enqueue(encoder.encode(`data: {"t":${now()}}\n\n`));
        if (++sent < CHUNKS) return;
        clearInterval(timer);
        controller.enqueue(encoder.encode("data: [DONE]\n\n"));
        controller.close();
      }, EVERY_MS);
    },
    cancel: () => clearInterval(timer),
  });
}

await runtime.serve({
  hostname: "127.0.0.1",
  port: option("port", 0),
  fetch: (request) =>
    request.method === "POST"
      ? new Response(ticks(), { headers: { "content-type": "text/event-stream" } })
      : new Response("OK"),
});
