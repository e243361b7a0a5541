/**
 * `sendLoadingState`: a streaming chat request that has to wait for its
 * model gets a 200 event stream at once, with OpenAI chunks whose
 * `reasoning_content` tells the queue position and loading progress; the
 * real answer then continues in the same stream. A load that fails after
 * the stream began ends it with an error event that says why.
 */
import type { Lease } from "../lease.ts";
import { formatSSE } from "../sse.ts";
import { toModelswapError } from "../errors.ts";
import { errorEvent } from "./errors.ts";

const encoder = new TextEncoder();

/** Receives queue-position updates for one request (wired before admission). */
export class LoadingProgress {
  #listener: ((position: number) => void) | null = null;
  #position: number | null = null;

  /** Pass to `Router.request` as its `onPosition`. */
  readonly update = (position: number): void => {
    this.#position = position;
    this.#listener?.(position);
  };

  /** Subscribe; the latest known position is replayed at once. */
  listen(listener: (position: number) => void): void {
    this.#listener = listener;
    if (this.#position !== null) listener(this.#position);
  }
}

/** One `chat.completion.chunk` carrying `text` as reasoning. */
export function reasoningChunk(model: string, text: string): string {
  const chunk = {
    id: "modelswap-loading",
    object: "chat.completion.chunk",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, delta: { reasoning_content: text }, finish_reason: null }],
  };
  return formatSSE({ data: JSON.stringify(chunk) });
}

/** Options for {@link loadingResponse}. */
export interface LoadingOptions {
  model: string;
  lease: Promise<Lease>;
  progress: LoadingProgress;
  /** Current state of the model, for the progress line. */
  state(): string;
  /** Forward the request once the model is ready. */
  forward(lease: Lease): Promise<Response>;
  signal: AbortSignal;
}

/** The 200 event stream that shows loading progress, then the real answer. */
export function loadingResponse(options: LoadingOptions): Response {
  const { model } = options;
  const started = Date.now();
  let ticker: ReturnType<typeof setInterval> | undefined;
  let upstreamReader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  const body = new ReadableStream<Uint8Array>({
    start: (controller) => {
      const send = (text: string) => controller.enqueue(encoder.encode(text));
      send(reasoningChunk(model, `━━━━━\nmodelswap: loading model ${model}\n`));
      options.progress.listen((position) => send(reasoningChunk(model, `queue position #${position}\n`)));
      let lastState = "";
      ticker = setInterval(() => {
        const state = options.state();
        const seconds = ((Date.now() - started) / 1000).toFixed(0);
        send(reasoningChunk(model, state === lastState ? "." : `${state} (${seconds}s)\n`));
        lastState = state;
      }, 1000);
    },
    pull: async (controller) => {
      if (!upstreamReader) {
        try {
          const lease = await options.lease;
          clearInterval(ticker);
          controller.enqueue(encoder.encode(reasoningChunk(model, `\nDone! (${((Date.now() - started) / 1000).toFixed(2)}s)\n━━━━━\n`)));
          const response = await options.forward(lease);
          if (!response.ok || !response.body) {
            const text = response.body ? await response.text() : "";
            const data = text || JSON.stringify({ error: { message: `upstream answered ${response.status}`, code: response.status } });
            controller.enqueue(encoder.encode(formatSSE({ data })));
            controller.close();
            return;
          }
          upstreamReader = response.body.getReader();
        } catch (error) {
          clearInterval(ticker);
          if (options.signal.aborted) return controller.close();
          controller.enqueue(encoder.encode(errorEvent(toModelswapError(error))));
          controller.close();
          return;
        }
      }
      const { done, value } = await upstreamReader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: async () => {
      clearInterval(ticker);
      await upstreamReader?.cancel();
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" },
  });
}
