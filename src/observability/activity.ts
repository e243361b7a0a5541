/**
 * Finished model requests for `/api/activity`, llama-swap's
 * `/api/metrics/activity` and `/api/metrics/stats`, and the dashboard: who
 * asked which model for what, how long it waited and ran, and how many
 * tokens at what speed. Without `store.path` they live in a fixed-size ring
 * of the last N (N = `metricsMaxInMemory`): memory stays bounded however
 * long the router runs. With it, the SQLite store (src/store/) keeps them.
 */
import { type ActivityPage, type ActivityQuery, queryRecords } from "./activity-query.ts";
import { type ActivityInput, type ActivityRecord, completeRecord } from "./activity-record.ts";
import { type ActivityStats, statsOf } from "./activity-stats.ts";

export type { ActivityInput, ActivityRecord };

/** Where finished requests are kept: the in-memory ring or the SQLite store. */
export interface ActivityStore {
  /** Add a record (its `id` is assigned here, at once) and drop the oldest beyond the bound. */
  add(record: ActivityInput): ActivityRecord;
  /** Up to `limit` records, newest first, optionally only for one model. */
  recent(limit?: number, model?: string): ActivityRecord[];
  /** One page of the records a query selects, in its order. */
  query(query: ActivityQuery): ActivityPage;
  /** Totals and speed histograms, over every record or one model's. */
  stats(model: string | null): ActivityStats;
}

/** A bounded, newest-last ring of {@link ActivityRecord}s. */
export class ActivityLog implements ActivityStore {
  readonly #records: ActivityRecord[] = [];
  readonly #capacity: () => number;
  #nextId = 1;

  /** @param capacity read at every insert, so a config reload can change it */
  constructor(capacity: () => number) {
    this.#capacity = capacity;
  }

  add(record: ActivityInput): ActivityRecord {
    const full = completeRecord(this.#nextId++, record);
    this.#records.push(full);
    const excess = this.#records.length - Math.max(1, this.#capacity());
    if (excess > 0) this.#records.splice(0, excess);
    return full;
  }

  recent(limit = Infinity, model?: string): ActivityRecord[] {
    const out: ActivityRecord[] = [];
    for (let i = this.#records.length - 1; i >= 0 && out.length < limit; i--) {
      const record = this.#records[i];
      if (model === undefined || record.model === model) out.push(record);
    }
    return out;
  }

  query(query: ActivityQuery): ActivityPage {
    return queryRecords(this.#records, query);
  }

  stats(model: string | null): ActivityStats {
    return statsOf(model === null ? this.#records : this.#records.filter((record) => record.model === model));
  }
}
