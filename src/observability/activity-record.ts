/**
 * One finished model request as modelswap records it: the row behind
 * `/api/activity`, llama-swap's `/api/metrics/activity` (see
 * activity-stats.ts for its shape) and the SQLite store.
 */

/** One finished model request. */
export interface ActivityRecord {
  /** Increasing; with a store, across restarts too. */
  id: number;
  /** When the request arrived (ISO 8601). */
  time: string;
  model: string;
  path: string;
  method: string;
  stream: boolean;
  status: number;
  /**
   * The response's content type ("" when there was none). This and the
   * cache and draft counts below are always set on recorded requests; they
   * are optional only for records built elsewhere (older callers, tests).
   */
  contentType?: string;
  /** From arrival to the last byte, in ms. */
  durationMs: number;
  /** Time spent waiting for the model (queue and load), in ms. */
  queueWaitMs: number;
  promptTokens: number | null;
  completionTokens: number | null;
  /** Prompt tokens served from the cache (llama-server `timings.cache_n`, OpenAI `cached_tokens`). */
  cacheTokens?: number | null;
  /** Tokens proposed by a draft model (speculative decoding), and of those the accepted ones. */
  draftTokens?: number | null;
  draftAcceptedTokens?: number | null;
  /** Generation speed: llama-server's own figure, or completion tokens over streaming time. */
  tokensPerSecond: number | null;
  /** Prompt processing speed, when the upstream reports it. */
  promptTokensPerSecond: number | null;
  /** Response bytes sent to the client. */
  bytes: number;
  error: string | null;
}

/** A record as it is added: without its id. */
export type ActivityInput = Omit<ActivityRecord, "id">;

/** A complete record from an input: the optional fields default to "not reported". */
export function completeRecord(id: number, input: ActivityInput): ActivityRecord {
  return { contentType: "", cacheTokens: null, draftTokens: null, draftAcceptedTokens: null, ...input, id };
}
