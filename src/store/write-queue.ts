/**
 * Writes off the request path: items are queued at once (never waiting for
 * the disk) and written in batches — every 250 ms, or as soon as 200 are
 * waiting. The queue is bounded: when the disk cannot keep up (slow, full,
 * or the file locked by another process), the oldest waiting items are
 * dropped and counted, never the request slowed. A failed batch stays
 * queued and is tried again later, less often while it keeps failing.
 */

/** Options for {@link WriteQueue}. */
export interface WriteQueueOptions<T> {
  /**
   * Write one batch, in order. Throws (or rejects) when it could not be
   * written; the batch is then tried again. While a returned promise is
   * pending no other batch is written.
   */
  write(batch: T[]): void | Promise<void>;
  /** A batch failed (`failures` in a row so far). */
  onError?(error: unknown, failures: number): void;
  /** Writing works again after `failures` failed batches. */
  onRecovered?(failures: number): void;
  /** Bytes an item holds while it waits (default 0: only the count bounds the queue). */
  sizeOf?(item: T): number;
  /** Most items waiting (default 10,000). */
  maxItems?: number;
  /** Most bytes waiting (default 32 MiB). */
  maxBytes?: number;
  /** Time between writes while items wait (default 250 ms). */
  intervalMs?: number;
  /** Items waiting that make the next write happen at once (default 200). */
  batchSize?: number;
  /** Most items in one batch (default 1,000): one write stays short. */
  maxBatch?: number;
}

/** Longest wait between two tries while batches keep failing. */
const MAX_RETRY_MS = 2_000;

/** A bounded, batching write-behind queue. */
export class WriteQueue<T> {
  readonly #options: Required<Omit<WriteQueueOptions<T>, "onError" | "onRecovered">> & WriteQueueOptions<T>;
  #items: T[] = [];
  #bytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerDue = Infinity;
  #writing: Promise<void> | null = null;
  /** Items at the front being written (by a writer that returned a promise): never dropped. */
  #inFlight = 0;
  #failures = 0;
  #closed = false;
  /** Items written, dropped, and batches that failed, so far. */
  written = 0;
  dropped = 0;
  errors = 0;

  constructor(options: WriteQueueOptions<T>) {
    this.#options = {
      sizeOf: () => 0,
      maxItems: 10_000,
      maxBytes: 32 * 1024 * 1024,
      intervalMs: 250,
      batchSize: 200,
      maxBatch: 1_000,
      ...options,
    };
  }

  /** Items waiting to be written (a batch being written included). */
  get pending(): number {
    return this.#items.length;
  }

  /** Queue an item; never waits. Beyond the bounds the oldest waiting items are dropped. */
  push(item: T): void {
    if (this.#closed) return;
    this.#items.push(item);
    this.#bytes += this.#options.sizeOf(item);
    while (this.#items.length > this.#inFlight + 1 && (this.#items.length > this.#options.maxItems || this.#bytes > this.#options.maxBytes)) {
      const oldest = this.#inFlight === 0 ? this.#items.shift()! : this.#items.splice(this.#inFlight, 1)[0];
      this.#bytes -= this.#options.sizeOf(oldest);
      this.dropped++;
    }
    this.#schedule(this.#items.length >= this.#options.batchSize ? 0 : this.#options.intervalMs);
  }

  /** Waiting items that match, newest first (a read of what is not written yet). */
  find(match: (item: T) => boolean): T | undefined {
    return this.#items.findLast(match);
  }

  /**
   * Write what waits now, batch after batch, as far as the writer allows
   * (a synchronous writer: all of it, unless a batch fails). True when
   * nothing waits any more. Readers call it first, so they see every item.
   */
  flush(): boolean {
    while (this.#items.length > 0 && this.#writing === null) {
      if (!this.#writeBatch()) return false;
    }
    return this.#items.length === 0;
  }

  /** Try a last time to write everything, then stop (shutdown). */
  close(): void {
    this.flush();
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Write one batch; false when it failed or is still being written. */
  #writeBatch(): boolean {
    const batch = this.#items.slice(0, this.#options.maxBatch);
    let result: void | Promise<void>;
    try {
      result = this.#options.write(batch);
    } catch (error) {
      this.#failed(error);
      return false;
    }
    if (result instanceof Promise) {
      this.#inFlight = batch.length;
      this.#writing = result.then(() => this.#done(batch), (error) => this.#failed(error)).finally(() => {
        this.#writing = null;
        this.#inFlight = 0;
        if (this.#items.length > 0) this.#schedule(this.#retryMs());
      });
      return false;
    }
    this.#done(batch);
    return true;
  }

  /** A batch was written: it leaves the front of the queue (where it stayed: items in flight are never dropped). */
  #done(batch: T[]): void {
    for (const item of this.#items.splice(0, batch.length)) this.#bytes -= this.#options.sizeOf(item);
    this.written += batch.length;
    if (this.#failures > 0) this.#options.onRecovered?.(this.#failures);
    this.#failures = 0;
  }

  #failed(error: unknown): void {
    this.errors++;
    this.#failures++;
    this.#options.onError?.(error, this.#failures);
  }

  #retryMs(): number {
    return this.#failures === 0 ? 0 : Math.min(MAX_RETRY_MS, this.#options.intervalMs * 2 ** (this.#failures - 1));
  }

  /** Make sure a write happens within `ms` (an earlier one due stays). */
  #schedule(ms: number): void {
    if (this.#closed) return;
    const due = Date.now() + ms;
    if (this.#timer !== undefined && this.#timerDue <= due) return;
    clearTimeout(this.#timer);
    this.#timerDue = due;
    this.#timer = setTimeout(() => this.#tick(), ms);
  }

  #tick(): void {
    this.#timer = undefined;
    this.#timerDue = Infinity;
    if (this.#writing !== null) return;
    // One batch per tick: a long backlog is written in short steps, between requests.
    const ok = this.#items.length > 0 && this.#writeBatch();
    if (this.#items.length === 0) return;
    if (this.#writing === null) this.#schedule(ok ? 0 : this.#retryMs());
  }
}
