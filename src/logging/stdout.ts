/**
 * The router's standard output: log text is queued and written by one
 * writer in order, never blocking the event loop. When nobody reads the
 * pipe (a wrapper that stopped, a full terminal), at most `maxPendingBytes`
 * wait; the rest is dropped and counted, and a marker says how much once
 * writing goes on — the router keeps serving either way.
 */
import { concatBytes } from "../bytes.ts";

const encoder = new TextEncoder();

/** Bytes of log text that may wait for a slow stdout before text is dropped. */
const MAX_PENDING_BYTES = 1024 * 1024;

/** A bounded, ordered writer in front of standard output. */
export class StdoutSink {
  readonly #write: (bytes: Uint8Array) => Promise<void>;
  readonly #maxPending: number;
  #queue: Uint8Array[] = [];
  #pending = 0;
  #dropped = 0;
  #writing: Promise<void> | null = null;

  constructor(write: (bytes: Uint8Array) => Promise<void>, maxPendingBytes = MAX_PENDING_BYTES) {
    this.#write = write;
    this.#maxPending = maxPendingBytes;
  }

  /** Queue `text`; dropped (and counted) when too much already waits. */
  write(text: string): void {
    const bytes = encoder.encode(text);
    if (this.#pending + bytes.length > this.#maxPending) {
      this.#dropped += bytes.length;
      return;
    }
    this.#queue.push(bytes);
    this.#pending += bytes.length;
    this.#writing ??= this.#drain().finally(() => (this.#writing = null));
  }

  /** Resolves once what was queued so far is written, or after `timeoutMs` (at exit). */
  async flushed(timeoutMs: number): Promise<void> {
    await Promise.race([this.#writing, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      if (this.#dropped > 0) {
        const marker = encoder.encode(`--- ${this.#dropped} bytes of log output dropped: stdout was not being read ---\n`);
        this.#dropped = 0;
        await this.#write(marker).catch(() => {});
      }
      const batch = concatBytes(this.#queue);
      this.#queue = [];
      await this.#write(batch).catch(() => {});
      this.#pending -= batch.length;
    }
  }
}
