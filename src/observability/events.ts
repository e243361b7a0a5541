/**
 * The live feed behind `GET /api/events` (Server-Sent Events), in two
 * formats: modelswap's own (named events, a `snapshot` first) and, for
 * tools written for llama-swap, llama-swap's (see llama-events.ts). Each
 * subscriber first gets the state, then every published event in its format. Publishing
 * never waits: each subscriber has a bounded buffer, and a subscriber that
 * does not keep up loses messages (counted, never logged: llama-swap #1042
 * filled disks with one warning per dropped message), then gets a `dropped`
 * event and a fresh snapshot so its view is whole again. Subscribers count
 * against the router's shared subscriber limits (see logging/subscribers.ts):
 * beyond the cap a subscribe is refused with a 503, and while all buffers
 * together are over budget the slowest subscribers drop first.
 */

import { SubscriberBudget, type SubscriberSlot } from "../logging/subscribers.ts";
import { encodeSSE } from "../sse.ts";

const encoder = new TextEncoder();

/** Options for {@link EventFeed}. */
export interface EventFeedOptions {
  /** Bytes a subscriber may have unread before messages are dropped (default 1 MiB). */
  maxBufferedBytes?: number;
  /** Interval of SSE comments that keep idle connections open through proxies (default 15 s). */
  keepAliveMs?: number;
  /** The subscriber count and byte budget shared with the log streams (default: the feed's own). */
  budget?: SubscriberBudget;
}

/** What a subscriber asks for. */
export interface SubscribeOptions {
  /** Receive `log` events too (default true; the dashboard reads logs from `/logs/stream`). */
  logs?: boolean;
  /** The wire format (default modelswap's; others are given to the feed's constructor). */
  format?: string;
}

/** How one format writes the feed: its opening state and each event. */
export interface FeedFormat {
  /** The messages a subscriber starts with (`initial`) or is resynchronised with after it lost some. */
  state(initial: boolean, options: { logs: boolean }): Uint8Array[];
  /** An event as this format's message, or null when the format does not carry it. */
  encode(event: string, data: unknown): Uint8Array | null;
  /** The message telling a subscriber how many it lost (none: the resynchronising state says enough). */
  dropped(messages: number): Uint8Array | null;
}

/** The name of modelswap's own format. */
export const MODELSWAP_FORMAT = "modelswap";

interface Subscriber {
  slot: SubscriberSlot;
  logs: boolean;
  format: FeedFormat;
  /** Messages dropped since this subscriber last received one. */
  dropped: number;
}

/** One SSE message: `event: <name>` and its JSON data. */
function sseMessage(event: string, data: unknown): Uint8Array {
  return encodeSSE({ event, data: JSON.stringify(data) });
}

/** modelswap's format: every event as it is published, a `snapshot` first, `dropped` after losses. */
function modelswapFormat(snapshot: () => unknown): FeedFormat {
  return {
    state: () => [sseMessage("snapshot", snapshot())],
    encode: (event, data) => sseMessage(event, data),
    dropped: (messages) => sseMessage("dropped", { messages }),
  };
}

const KEEP_ALIVE = encoder.encode(": keep-alive\n\n");

/** Fan-out of events to SSE subscribers with bounded, dropping buffers. */
export class EventFeed {
  readonly #subscribers = new Set<Subscriber>();
  readonly #formats: Map<string, FeedFormat>;
  readonly #maxBuffered: number;
  readonly #keepAliveMs: number;
  readonly #budget: SubscriberBudget;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #dropped = 0;
  #logSubscribers = 0;

  /**
   * @param snapshot the current state, sent first to every subscriber of modelswap's format and after drops
   * @param formats other formats by name (`?format=` of `/api/events`)
   */
  constructor(snapshot: () => unknown, options: EventFeedOptions = {}, formats: Record<string, FeedFormat> = {}) {
    this.#formats = new Map([[MODELSWAP_FORMAT, modelswapFormat(snapshot)], ...Object.entries(formats)]);
    this.#maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
    this.#keepAliveMs = options.keepAliveMs ?? 15_000;
    this.#budget = options.budget ?? new SubscriberBudget();
  }

  /** Open connections. */
  get subscribers(): number {
    return this.#subscribers.size;
  }

  /** Messages dropped so far across all subscribers. */
  get dropped(): number {
    return this.#dropped;
  }

  /** True when a subscriber wants `log` events (lets the log tap skip work nobody reads). */
  get wantsLogs(): boolean {
    return this.#logSubscribers > 0;
  }

  /** True when `format` names a format this feed writes. */
  hasFormat(format: string): boolean {
    return this.#formats.has(format);
  }

  /**
   * Send an event to every subscriber now, in its format; never blocks. `log`
   * events go only to those that asked for logs.
   */
  publish(event: string, data: unknown): void {
    if (this.#subscribers.size === 0) return;
    const isLog = event === "log";
    // Each format encodes the event once, and only when a subscriber of it has room.
    const encoded = new Map<FeedFormat, Uint8Array | null>();
    for (const subscriber of this.#subscribers) {
      if (isLog && !subscriber.logs) continue;
      // A subscriber with no room left costs nothing more than a count: nothing is serialized for it.
      if (!subscriber.slot.fits(1)) {
        this.#drop(subscriber);
        continue;
      }
      const { format } = subscriber;
      if (!encoded.has(format)) encoded.set(format, format.encode(event, data));
      const bytes = encoded.get(format);
      if (bytes) this.#deliver(subscriber, bytes);
    }
  }

  /**
   * A new subscriber's byte stream: the snapshot, then live events, until it
   * is cancelled. Throws a 503 when the router already serves as many log
   * and event streams as it allows.
   */
  subscribe(options: SubscribeOptions = {}): ReadableStream<Uint8Array> {
    const format = this.#formats.get(options.format ?? MODELSWAP_FORMAT);
    if (!format) throw new Error(`unknown event format ${options.format}`);
    const logs = options.logs ?? true;
    const subscriber: Subscriber = { slot: this.#budget.join(this.#maxBuffered), logs, format, dropped: 0 };
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        subscriber.slot.bind(controller);
        for (const message of format.state(true, { logs })) subscriber.slot.enqueue(message);
        this.#subscribers.add(subscriber);
        if (subscriber.logs) this.#logSubscribers++;
        this.#keepAlive ??= setInterval(() => this.#sendKeepAlive(), this.#keepAliveMs);
      },
      pull: () => subscriber.slot.sync(),
      cancel: () => this.#remove(subscriber),
    }, subscriber.slot.strategy);
  }

  /** End every subscriber's stream (shutdown). */
  close(): void {
    for (const subscriber of [...this.#subscribers]) {
      this.#remove(subscriber);
      subscriber.slot.close();
    }
  }

  #deliver(subscriber: Subscriber, bytes: Uint8Array): void {
    if (subscriber.slot.fits(bytes.byteLength)) this.#enqueue(subscriber, bytes);
    else this.#drop(subscriber);
  }

  #drop(subscriber: Subscriber): void {
    subscriber.dropped++;
    this.#dropped++;
  }

  /** Enqueue, first telling a subscriber that lost messages and re-sending it the whole state. */
  #enqueue(subscriber: Subscriber, bytes: Uint8Array | null): void {
    const { slot } = subscriber;
    let open = true;
    if (subscriber.dropped > 0) {
      const told = subscriber.format.dropped(subscriber.dropped);
      open = told === null || slot.enqueue(told);
      for (const message of subscriber.format.state(false, { logs: subscriber.logs })) open &&= slot.enqueue(message);
      subscriber.dropped = 0;
    }
    if (open && bytes) open = slot.enqueue(bytes);
    // The connection is gone but cancel has not run yet.
    if (!open) this.#remove(subscriber);
  }

  /** Keep idle connections open, and resynchronise subscribers that dropped messages and have room again. */
  #sendKeepAlive(): void {
    for (const subscriber of [...this.#subscribers]) {
      if (subscriber.dropped > 0 && subscriber.slot.fits(1)) this.#enqueue(subscriber, null);
      else if (subscriber.slot.fits(KEEP_ALIVE.byteLength)) this.#enqueue(subscriber, KEEP_ALIVE);
    }
  }

  #remove(subscriber: Subscriber): void {
    subscriber.slot.leave();
    if (!this.#subscribers.delete(subscriber)) return;
    if (subscriber.logs) this.#logSubscribers--;
    if (this.#subscribers.size === 0) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    }
  }
}
