/**
 * The last N model requests (N = `metricsMaxInMemory`) for `/api/activity`
 * and the dashboard: who asked which model for what, how long it waited and
 * ran, and how many tokens at what speed. A fixed-size ring: memory stays
 * bounded however long the router runs.
 */

/** One finished model request. */
export interface ActivityRecord {
  /** Increasing per router run. */
  id: number;
  /** When the request arrived (ISO 8601). */
  time: string;
  model: string;
  path: string;
  method: string;
  stream: boolean;
  status: number;
  /** From arrival to the last byte, in ms. */
  durationMs: number;
  /** Time spent waiting for the model (queue and load), in ms. */
  queueWaitMs: number;
  promptTokens: number | null;
  completionTokens: number | null;
  /** Generation speed: llama-server's own figure, or completion tokens over streaming time. */
  tokensPerSecond: number | null;
  /** Prompt processing speed, when the upstream reports it. */
  promptTokensPerSecond: number | null;
  /** Response bytes sent to the client. */
  bytes: number;
  error: string | null;
}

/** A bounded, newest-last ring of {@link ActivityRecord}s. */
export class ActivityLog {
  readonly #records: ActivityRecord[] = [];
  readonly #capacity: () => number;
  #nextId = 1;

  /** @param capacity read at every insert, so a config reload can change it */
  constructor(capacity: () => number) {
    this.#capacity = capacity;
  }

  /** Add a record (its `id` is assigned here) and drop the oldest beyond capacity. */
  add(record: Omit<ActivityRecord, "id">): ActivityRecord {
    const full = { id: this.#nextId++, ...record };
    this.#records.push(full);
    const excess = this.#records.length - Math.max(1, this.#capacity());
    if (excess > 0) this.#records.splice(0, excess);
    return full;
  }

  /** Up to `limit` records, newest first, optionally only for one model. */
  recent(limit = Infinity, model?: string): ActivityRecord[] {
    const out: ActivityRecord[] = [];
    for (let i = this.#records.length - 1; i >= 0 && out.length < limit; i--) {
      const record = this.#records[i];
      if (model === undefined || record.model === model) out.push(record);
    }
    return out;
  }
}
