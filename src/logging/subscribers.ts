/**
 * The bound on live log and event subscribers taken together. Each
 * subscriber's stream is bounded on its own (a reader that falls behind
 * loses data), but a thousand of them would not be (issue 15: 1,000 readers
 * that never read took the router from 57 MB to 1 GB). So a router serves at
 * most {@link MAX_SUBSCRIBERS} at once and refuses more with a 503 naming the
 * limit, and all their unread bytes share one budget: while the total is
 * over it, only subscribers holding less than an even share get more, so the
 * slowest readers lose data first (and see the usual dropped marker).
 */
import { ModelswapError } from "../errors.ts";

/**
 * Live `/logs/stream` and `/api/events` connections at once. A homelab has
 * a few dashboard tabs and log viewers open; hundreds means a script that
 * leaks connections, and each one holds buffers.
 */
export const MAX_SUBSCRIBERS = 256;

/**
 * Unread bytes across all subscribers' buffers. Enough for every subscriber
 * to lag a full buffer when a few are open (256 KiB per log stream, 1 MiB
 * per event stream); only hundreds of stuck readers ever meet it.
 */
export const SUBSCRIBER_BUDGET_BYTES = 64 * 1024 * 1024;

/** The shared count and byte budget of one router's subscribers. */
export class SubscriberBudget {
  readonly maxSubscribers: number;
  readonly maxBytes: number;
  #count = 0;
  #unread = 0;

  constructor(maxSubscribers = MAX_SUBSCRIBERS, maxBytes = SUBSCRIBER_BUDGET_BYTES) {
    this.maxSubscribers = maxSubscribers;
    this.maxBytes = maxBytes;
  }

  /** Subscribers open now. */
  get subscribers(): number {
    return this.#count;
  }

  /** Bytes queued for subscribers and not read yet (as last seen; shared chunks count once per subscriber). */
  get unreadBytes(): number {
    return this.#unread;
  }

  /**
   * A place for one more subscriber whose stream buffers at most
   * `maxLagBytes`; throws a 503 when {@link maxSubscribers} are open.
   */
  join(maxLagBytes: number): SubscriberSlot {
    if (this.#count >= this.maxSubscribers) {
      throw new ModelswapError(
        503,
        "too_many_subscribers",
        `too many live log and event streams: modelswap serves at most ${this.maxSubscribers} at once (/logs/stream and /api/events together); close some log viewers or dashboard tabs and retry`,
        { limit: this.maxSubscribers },
        5,
      );
    }
    this.#count++;
    return new SubscriberSlot(this, maxLagBytes, (delta) => (this.#unread += delta), () => this.#count--);
  }

  /** True when a subscriber with `unread` bytes queued may take `bytes` more. */
  allows(unread: number, bytes: number): boolean {
    return this.#unread + bytes <= this.maxBytes || unread + bytes <= this.maxBytes / Math.max(1, this.#count);
  }
}

/** One subscriber's share of the budget, bound to its stream's controller. */
export class SubscriberSlot {
  readonly #budget: SubscriberBudget;
  readonly #maxLag: number;
  readonly #adjust: (delta: number) => void;
  readonly #release: () => void;
  #controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  #unread = 0;
  #left = false;

  constructor(budget: SubscriberBudget, maxLagBytes: number, adjust: (delta: number) => void, release: () => void) {
    this.#budget = budget;
    this.#maxLag = maxLagBytes;
    this.#adjust = adjust;
    this.#release = release;
  }

  /** The queuing strategy the subscriber's stream must use (its buffer bound). */
  get strategy(): QueuingStrategy<Uint8Array> {
    return new ByteLengthQueuingStrategy({ highWaterMark: this.#maxLag });
  }

  /** Attach the stream's controller (from its `start`). */
  bind(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#controller = controller;
  }

  /** Whether `bytes` more fit: within this stream's bound, and within the total budget or an even share of it. */
  fits(bytes: number): boolean {
    this.sync();
    return this.#unread + bytes <= this.#maxLag && this.#budget.allows(this.#unread, bytes);
  }

  /** Queue bytes whether they fit or not (a snapshot, a marker, history: each bounded by its maker); false once the stream is gone. */
  enqueue(bytes: Uint8Array): boolean {
    if (this.#left || !this.#controller) return false;
    try {
      this.#controller.enqueue(bytes);
    } catch {
      return false; // closed by the server before cancel ran
    }
    this.sync();
    return true;
  }

  /** Re-read how much is unread (after an enqueue, or from the stream's `pull` when the reader took some). */
  sync(): void {
    if (this.#left || !this.#controller) return;
    const unread = Math.max(0, this.#maxLag - (this.#controller.desiredSize ?? this.#maxLag));
    this.#adjust(unread - this.#unread);
    this.#unread = unread;
  }

  /** End the stream (shutdown) and give the share back. */
  close(): void {
    this.leave();
    try {
      this.#controller?.close();
    } catch {
      // Already closed or errored by the server: nothing left to end.
    }
  }

  /** The subscriber is gone: give its share back. Idempotent. */
  leave(): void {
    if (this.#left) return;
    this.#left = true;
    this.#adjust(-this.#unread);
    this.#unread = 0;
    this.#release();
  }
}
