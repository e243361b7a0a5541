/**
 * Log history and live fan-out for one source (the router, one model's
 * upstream, or a combination). Writers never wait on readers: a reader that
 * falls behind loses data and later sees a "N bytes dropped" marker, so a
 * stuck log viewer can never slow the router or an upstream (llama-swap #875).
 * Text is encoded once per write; the history ring and every stream share
 * those bytes, so a reader costs its queue's references, not copies.
 */
import { SubscriberBudget, type SubscriberSlot } from "./subscribers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NEWLINE = 10;

/** Bytes a log stream reader may lag behind before data is dropped. */
const DEFAULT_MAX_LAG_BYTES = 256 * 1024;

/** A live subscriber callback; it must not throw and must not block. */
export type LogListener = (text: string) => void;

/** Options for {@link LogBuffer.stream}. */
export interface LogStreamOptions {
  /** Send the kept history first (default true). */
  history?: boolean;
  /** Bytes a reader may lag behind before data is dropped (default 256 KiB). */
  maxLagBytes?: number;
}

/** A stream reader: offered each write's bytes, keeps what fits. */
type Reader = (bytes: Uint8Array) => void;

/** A bounded ring of recent log text plus non-blocking subscribers. */
export class LogBuffer {
  readonly #capacity: number;
  #chunks: Uint8Array[] = [];
  #size = 0;
  readonly #listeners = new Set<LogListener>();
  readonly #readers = new Set<Reader>();
  readonly #sinks: LogBuffer[];
  readonly #filter: ((text: string) => string) | null;
  readonly #budget: SubscriberBudget;

  /**
   * @param capacityBytes how much history to keep, in bytes
   * @param sinks buffers that also receive everything written here (e.g. "combined")
   * @param filter applied to text before it is kept (secret redaction)
   * @param budget the subscriber count and byte budget this buffer's streams share with others (default: its own)
   */
  constructor(
    capacityBytes = 100 * 1024,
    sinks: LogBuffer[] = [],
    filter: ((text: string) => string) | null = null,
    budget: SubscriberBudget = new SubscriberBudget(),
  ) {
    this.#capacity = Math.max(1024, capacityBytes);
    this.#sinks = sinks;
    this.#filter = filter;
    this.#budget = budget;
  }

  /** Append text (normally whole lines ending in "\n") and notify subscribers. */
  write(raw: string): void {
    if (raw.length === 0) return;
    const text = this.#filter ? this.#filter(raw) : raw;
    this.#append(text, encoder.encode(text));
  }

  /** The kept history as one string. */
  history(): string {
    return this.#chunks.map((chunk) => decoder.decode(chunk)).join("");
  }

  /** Subscribe synchronously; returns the unsubscribe function. */
  subscribe(listener: LogListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * A byte stream of this log for an HTTP response: history first (unless
   * disabled), then live text. Data beyond `maxLagBytes` that the reader has
   * not consumed (or beyond its share of the subscribers' total budget) is
   * dropped and replaced by a marker once it catches up. Throws a 503 when
   * the router already serves as many log and event streams as it allows.
   */
  stream(options: LogStreamOptions = {}): ReadableStream<Uint8Array> {
    const slot = this.#budget.join(options.maxLagBytes ?? DEFAULT_MAX_LAG_BYTES);
    let dropped = 0;
    const reader: Reader = (bytes) => {
      // A reader with no room left costs a count, not a copy.
      if (!slot.fits(bytes.length)) {
        dropped += bytes.length;
        return;
      }
      if (dropped > 0) {
        slot.enqueue(encoder.encode(`--- ${dropped} bytes dropped ---\n`));
        dropped = 0;
      }
      if (!slot.enqueue(bytes)) this.#unsubscribe(reader, slot);
    };
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        slot.bind(controller);
        if (options.history !== false) for (const chunk of this.#chunks) slot.enqueue(chunk);
        this.#readers.add(reader);
      },
      pull: () => slot.sync(),
      cancel: () => this.#unsubscribe(reader, slot),
    }, slot.strategy);
  }

  #unsubscribe(reader: Reader, slot: SubscriberSlot): void {
    this.#readers.delete(reader);
    slot.leave();
  }

  #append(text: string, bytes: Uint8Array): void {
    this.#keep(bytes);
    for (const listener of this.#listeners) listener(text);
    for (const reader of this.#readers) reader(bytes);
    for (const sink of this.#sinks) {
      if (sink.#filter) sink.write(text);
      else sink.#append(text, bytes);
    }
  }

  /** Add to the ring, dropping the oldest chunks beyond capacity (and the start of one chunk larger than it all). */
  #keep(bytes: Uint8Array): void {
    this.#chunks.push(bytes);
    this.#size += bytes.length;
    while (this.#size > this.#capacity && this.#chunks.length > 1) this.#size -= this.#chunks.shift()!.length;
    if (this.#size > this.#capacity) {
      const only = this.#chunks[0];
      const from = only.indexOf(NEWLINE, only.length - this.#capacity);
      const kept = only.slice(from < 0 ? only.length - this.#capacity : from + 1); // a copy: the rest can be freed
      this.#chunks[0] = kept;
      this.#size = kept.length;
    }
  }
}
