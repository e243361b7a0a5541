/**
 * The figures `/api/metrics/stats` needs of every stored row (model, token
 * counts, speeds), kept in memory beside the file: stats are computed from
 * here in a few milliseconds, never by scanning the file (which takes a
 * hundred or more on a large store, with the event loop waiting). About
 * 100 bytes a row; loaded once at startup.
 */
import { type ActivityStats, StatsTotals } from "../observability/activity-stats.ts";

/** One row's figures, llama-swap's conventions (unreported: 0 tokens, -1 cache and speeds). */
export interface RowFigures {
  model: string;
  input: number;
  output: number;
  cache: number;
  promptPerSecond: number;
  tokensPerSecond: number;
}

/** Row figures by id, oldest first. */
export class StatsIndex {
  readonly #rows = new Map<number, RowFigures>();

  /** Rows held. */
  get size(): number {
    return this.#rows.size;
  }

  /** A new row; ids only grow. */
  add(id: number, figures: RowFigures): void {
    this.#rows.set(id, figures);
  }

  /** Forget rows with an id at or below `id` (as the file deletes them). */
  pruneThrough(id: number): void {
    for (const key of this.#rows.keys()) {
      if (key > id) return;
      this.#rows.delete(key);
    }
  }

  /** llama-swap's stats over every row, or one model's. */
  stats(model: string | null): ActivityStats {
    const totals = new StatsTotals();
    for (const row of this.#rows.values()) {
      if (model === null || row.model === model) totals.add(row.input, row.output, row.cache, row.promptPerSecond, row.tokensPerSecond);
    }
    return totals.result();
  }
}
