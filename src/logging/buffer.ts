/**
 * Log history and live fan-out for one source (the router, one model's
 * upstream, or a combination). Writers never wait on readers: a reader that
 * falls behind loses data and later sees a "N bytes dropped" marker, so a
 * stuck log viewer can never slow the router or an upstream (llama-swap #875).
 */

const encoder = new TextEncoder();

/** A live subscriber callback; it must not throw and must not block. */
export type LogListener = (text: string) => void;

/** Options for {@link LogBuffer.stream}. */
export interface LogStreamOptions {
  /** Send the kept history first (default true). */
  history?: boolean;
  /** Bytes a reader may lag behind before data is dropped (default 256 KiB). */
  maxLagBytes?: number;
}

/** A bounded ring of recent log text plus non-blocking subscribers. */
export class LogBuffer {
  readonly #capacity: number;
  #chunks: string[] = [];
  #size = 0;
  readonly #listeners = new Set<LogListener>();
  readonly #sinks: LogBuffer[];
  readonly #filter: (text: string) => string;

  /**
   * @param capacityBytes how much history to keep (approximate, in UTF-16 units)
   * @param sinks buffers that also receive everything written here (e.g. "combined")
   * @param filter applied to text before it is kept (secret redaction)
   */
  constructor(capacityBytes = 100 * 1024, sinks: LogBuffer[] = [], filter: (text: string) => string = (t) => t) {
    this.#capacity = Math.max(1024, capacityBytes);
    this.#sinks = sinks;
    this.#filter = filter;
  }

  /** Append text (normally whole lines ending in "\n") and notify subscribers. */
  write(raw: string): void {
    if (raw.length === 0) return;
    const text = this.#filter(raw);
    this.#chunks.push(text);
    this.#size += text.length;
    while (this.#size > this.#capacity && this.#chunks.length > 1) {
      this.#size -= this.#chunks.shift()!.length;
    }
    for (const listener of this.#listeners) listener(text);
    for (const sink of this.#sinks) sink.write(text);
  }

  /** The kept history as one string. */
  history(): string {
    return this.#chunks.join("");
  }

  /** Subscribe synchronously; returns the unsubscribe function. */
  subscribe(listener: LogListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * A byte stream of this log for an HTTP response: history first (unless
   * disabled), then live text. Data beyond `maxLagBytes` that the reader has
   * not consumed is dropped and replaced by a marker once it catches up.
   */
  stream(options: LogStreamOptions = {}): ReadableStream<Uint8Array> {
    const maxLag = options.maxLagBytes ?? 256 * 1024;
    let unsubscribe = () => {};
    let dropped = 0;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        if (options.history !== false) {
          const history = this.history();
          if (history) controller.enqueue(encoder.encode(history));
        }
        unsubscribe = this.subscribe((text) => {
          // A reader with no room left costs a count, not an encoding (ASCII log text: one byte per character).
          if ((controller.desiredSize ?? 0) <= 0) {
            dropped += text.length;
            return;
          }
          const bytes = encoder.encode(text);
          if ((controller.desiredSize ?? 0) < bytes.length) {
            dropped += bytes.length;
            return;
          }
          if (dropped > 0) {
            controller.enqueue(encoder.encode(`--- ${dropped} bytes dropped ---\n`));
            dropped = 0;
          }
          controller.enqueue(bytes);
        });
      },
      cancel: () => unsubscribe(),
    }, new ByteLengthQueuingStrategy({ highWaterMark: maxLag }));
  }
}
