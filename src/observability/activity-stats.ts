/**
 * Activity in llama-swap's JSON shapes, so its UI and tools read
 * modelswap's: a row of `/api/metrics/activity` (`tokens{…}`, -1 where a
 * figure was not reported) and `/api/metrics/stats` (totals and
 * tokens-per-second histograms with p50/p95/p99).
 */
import type { ActivityRecord } from "./activity-record.ts";

/** llama-swap's `TokenMetrics`. */
export interface LlamaTokens {
  /** Prompt tokens served from the cache; -1 when not reported. */
  cache_tokens: number;
  /** Tokens a draft model proposed and, of those, accepted; -1 when not reported. */
  draft_tokens: number;
  draft_acc_tokens: number;
  /** 0 when not reported. */
  input_tokens: number;
  output_tokens: number;
  /** Tokens per second; -1 when not reported. */
  prompt_per_second: number;
  tokens_per_second: number;
}

/** llama-swap's `ActivityLogEntry`: one row of `/api/metrics/activity` and of its `activity` event. */
export interface LlamaActivityRow {
  id: number;
  /** When the request arrived (ISO 8601). */
  timestamp: string;
  model: string;
  req_path: string;
  resp_content_type: string;
  resp_status_code: number;
  tokens: LlamaTokens;
  duration_ms: number;
  /** True while a capture of the request is kept (`GET /api/captures/:id`). */
  has_capture: boolean;
  /** Present only for a request that failed. */
  error_msg?: string;
}

/** A record in llama-swap's shape. */
export function llamaRow(record: ActivityRecord, hasCapture: boolean): LlamaActivityRow {
  return {
    id: record.id,
    timestamp: record.time,
    model: record.model,
    req_path: record.path,
    resp_content_type: record.contentType ?? "",
    resp_status_code: record.status,
    tokens: {
      cache_tokens: record.cacheTokens ?? -1,
      draft_tokens: record.draftTokens ?? -1,
      draft_acc_tokens: record.draftAcceptedTokens ?? -1,
      input_tokens: record.promptTokens ?? 0,
      output_tokens: record.completionTokens ?? 0,
      prompt_per_second: record.promptTokensPerSecond ?? -1,
      tokens_per_second: record.tokensPerSecond ?? -1,
    },
    duration_ms: Math.round(record.durationMs),
    has_capture: hasCapture,
    ...(record.error ? { error_msg: record.error } : {}),
  };
}

/** llama-swap's `HistogramData`: equal-width bins between min and max, and percentiles. */
export interface Histogram {
  bins: number[];
  min: number;
  max: number;
  binSize: number;
  p50: number;
  p95: number;
  p99: number;
}

/** llama-swap's `ActivityStats` (`/api/metrics/stats`). */
export interface ActivityStats {
  total_requests: number;
  total_input_tokens: number;
  total_output_tokens: number;
  /** Cached prompt tokens, where reported. */
  total_cache_tokens: number;
  /** Prompt processing speeds (tokens/s) of the requests that reported one; null when none did. */
  prompt_histogram: Histogram | null;
  /** Generation speeds (tokens/s) likewise. */
  gen_histogram: Histogram | null;
}

/** Where the `p`th percentile falls among `n` sorted values: between index `lower` and the next, `fraction` of the way. */
function percentileRank(n: number, p: number): { lower: number; fraction: number } {
  const rank = (p / 100) * (n - 1);
  const lower = Math.floor(rank);
  return { lower, fraction: rank - lower };
}

/** The bins of a histogram of `n` values: Sturges' rule, kept between 5 and 20 (llama-swap's). */
function binCount(n: number): number {
  return Math.min(20, Math.max(5, Math.ceil(Math.log2(n)) + 1));
}

/** The bin a value falls in, for bins of `binSize` from `min` (the maximum goes in the last). */
function binOf(value: number, min: number, binSize: number, count: number): number {
  return Math.min(Math.floor((value - min) / binSize), count - 1);
}

/** The `p`th percentile of sorted values, interpolated between neighbours (llama-swap's). */
function percentile(sorted: Float64Array, p: number): number {
  const { lower, fraction } = percentileRank(sorted.length, p);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower] + fraction * (sorted[upper] - sorted[lower]);
}

/** The histogram of `values` (5 to 20 bins by Sturges' rule, as llama-swap), or null for none. */
export function histogram(values: number[]): Histogram | null {
  if (values.length === 0) return null;
  const list = Float64Array.from(values).sort();
  const min = list[0];
  const max = list[list.length - 1];
  const percentiles = { p50: percentile(list, 50), p95: percentile(list, 95), p99: percentile(list, 99) };
  if (min === max) return { bins: [values.length], min, max, binSize: 0, ...percentiles };
  const count = binCount(values.length);
  const binSize = (max - min) / count;
  const bins = new Array<number>(count).fill(0);
  for (const value of list) bins[binOf(value, min, binSize, count)]++;
  return { bins, min, max, binSize, ...percentiles };
}

/** Running totals for {@link ActivityStats}, fed one request at a time. */
export class StatsTotals {
  requests = 0;
  inputTokens = 0;
  outputTokens = 0;
  cacheTokens = 0;
  readonly promptSpeeds: number[] = [];
  readonly generationSpeeds: number[] = [];

  /** Count one request by llama-swap's figures (unreported: 0 tokens, -1 speeds). */
  add(inputTokens: number, outputTokens: number, cacheTokens: number, promptPerSecond: number, tokensPerSecond: number): void {
    this.requests++;
    this.inputTokens += Math.max(0, inputTokens);
    this.outputTokens += Math.max(0, outputTokens);
    this.cacheTokens += Math.max(0, cacheTokens);
    if (promptPerSecond > 0) this.promptSpeeds.push(promptPerSecond);
    if (tokensPerSecond > 0) this.generationSpeeds.push(tokensPerSecond);
  }

  /** The totals in llama-swap's shape. */
  result(): ActivityStats {
    return {
      total_requests: this.requests,
      total_input_tokens: this.inputTokens,
      total_output_tokens: this.outputTokens,
      total_cache_tokens: this.cacheTokens,
      prompt_histogram: histogram(this.promptSpeeds),
      gen_histogram: histogram(this.generationSpeeds),
    };
  }
}

/** The stats of these records (the in-memory ring's). */
export function statsOf(records: Iterable<ActivityRecord>): ActivityStats {
  const totals = new StatsTotals();
  for (const record of records) {
    const { tokens } = llamaRow(record, false);
    totals.add(tokens.input_tokens, tokens.output_tokens, tokens.cache_tokens, tokens.prompt_per_second, tokens.tokens_per_second);
  }
  return totals.result();
}
