/**
 * llama-swap's `/api/metrics/activity` query: filters (models, status,
 * time, id range), a sort key, an order and a page. Parsed and checked
 * here (every bad value is a 400 naming it), evaluated here over the
 * in-memory ring, and as SQL by the SQLite store (same keys, same order).
 */
import { ModelswapError } from "../errors.ts";
import type { ActivityRecord } from "./activity-record.ts";

/** The sort keys llama-swap's UI sends (its column ids). */
export const SORT_KEYS = [
  "id",
  "time",
  "model",
  "req_path",
  "resp_status_code",
  "resp_content_type",
  "cached",
  "prompt",
  "generated",
  "drafted",
  "prompt_speed",
  "gen_speed",
  "duration",
] as const;

/** One of {@link SORT_KEYS}. */
export type SortKey = typeof SORT_KEYS[number];

/** A status filter: one code (`404`) or a class (`4xx`, stored as 4). */
export type StatusFilter = { code: number } | { class: number };

/** What a query selects; every set field must match (AND), the values of one field are alternatives (OR). */
export interface ActivityFilter {
  models: string[];
  statuses: StatusFilter[];
  /** Inclusive bounds on the arrival time (ms since the epoch), or null. */
  startMs: number | null;
  endMs: number | null;
  /** Inclusive bounds on the id, or null. */
  minId: number | null;
  maxId: number | null;
}

/** A whole query: the filter, the order and the page. */
export interface ActivityQuery extends ActivityFilter {
  sort: SortKey;
  order: "asc" | "desc";
  /** 1 to {@link MAX_LIMIT} rows per page. */
  limit: number;
  /** From 1. */
  page: number;
}

/** One page of a query's records, and how many the filter selects in all. */
export interface ActivityPage {
  records: ActivityRecord[];
  total: number;
}

/** Rows per page by default (llama-swap's). */
const DEFAULT_LIMIT = 25;
/** Most rows per page (llama-swap's). */
export const MAX_LIMIT = 999;
/** Highest page number: far beyond any store, and page × limit stays an exact integer. */
const MAX_PAGE = 1_000_000_000;
/** Most values of a repeatable parameter (`model`, `status`): the query stays cheap. */
const MAX_VALUES = 100;

const bad = (message: string) => new ModelswapError(400, "invalid_query", message);

/** The values of a repeatable parameter, trimmed, empty ones left out. */
function values(params: URLSearchParams, name: string): string[] {
  const all = params.getAll(name).map((value) => value.trim()).filter(Boolean);
  if (all.length > MAX_VALUES) throw bad(`at most ${MAX_VALUES} ${name} values (got ${all.length})`);
  return all;
}

/** A positive whole number, or null when absent. */
function positive(params: URLSearchParams, name: string): number | null {
  const raw = params.get(name)?.trim();
  if (!raw) return null;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < 1) throw bad(`${name} must be a whole number >= 1 (got ${JSON.stringify(raw.slice(0, 40))})`);
  return value;
}

/** Query parameter `name` as an RFC 3339 time in ms since the epoch, null when absent or empty; anything else is a 400 naming it. */
export function timeParam(params: URLSearchParams, name: string): number | null {
  const raw = params.get(name)?.trim();
  if (!raw) return null;
  const rfc3339 = /^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$/;
  const ms = rfc3339.test(raw) ? Date.parse(raw.replace(" ", "T")) : NaN;
  if (Number.isNaN(ms)) throw bad(`invalid '${name}' timestamp ${JSON.stringify(raw.slice(0, 40))}: use RFC 3339, e.g. 2025-01-31T12:00:00Z`);
  return ms;
}

function status(raw: string): StatusFilter {
  if (/^[1-5]\d\d$/.test(raw)) return { code: Number(raw) };
  if (/^[1-5]xx$/i.test(raw)) return { class: Number(raw[0]) };
  throw bad(`status must be an HTTP status (200) or a class (4xx) (got ${JSON.stringify(raw.slice(0, 40))})`);
}

/** The query in `params`; throws a 400 naming the first bad parameter. */
export function parseActivityQuery(params: URLSearchParams): ActivityQuery {
  const startMs = timeParam(params, "start");
  const endMs = timeParam(params, "end");
  if (startMs !== null && endMs !== null && startMs > endMs) throw bad("start must be before end");
  const minId = positive(params, "min_id");
  const maxId = positive(params, "max_id");
  if (minId !== null && maxId !== null && minId > maxId) throw bad("min_id must be <= max_id");
  const limit = positive(params, "limit") ?? DEFAULT_LIMIT;
  if (limit > MAX_LIMIT) throw bad(`limit must be between 1 and ${MAX_LIMIT} (got ${limit})`);
  const page = positive(params, "page") ?? 1;
  if (page > MAX_PAGE) throw bad(`page must be at most ${MAX_PAGE} (got ${page})`);
  const sort = params.get("sort")?.trim() || "id";
  if (!(SORT_KEYS as readonly string[]).includes(sort)) throw bad(`invalid sort column ${JSON.stringify(sort.slice(0, 40))}: use one of ${SORT_KEYS.join(", ")}`);
  const order = (params.get("order")?.trim() || "desc").toLowerCase();
  if (order !== "asc" && order !== "desc") throw bad(`order must be asc or desc (got ${JSON.stringify(order.slice(0, 40))})`);
  return {
    models: values(params, "model"),
    statuses: values(params, "status").map(status),
    startMs,
    endMs,
    minId,
    maxId,
    sort: sort as SortKey,
    order,
    limit,
    page,
  };
}

/** True when `code` matches one of the status filters (or there are none). */
export function statusMatches(statuses: StatusFilter[], code: number): boolean {
  return statuses.length === 0 || statuses.some((s) => ("code" in s ? s.code === code : Math.floor(code / 100) === s.class));
}

function matches(record: ActivityRecord, filter: ActivityFilter): boolean {
  if (filter.models.length > 0 && !filter.models.includes(record.model)) return false;
  if (!statusMatches(filter.statuses, record.status)) return false;
  if (filter.minId !== null && record.id < filter.minId) return false;
  if (filter.maxId !== null && record.id > filter.maxId) return false;
  if (filter.startMs === null && filter.endMs === null) return true;
  const at = Date.parse(record.time);
  return (filter.startMs === null || at >= filter.startMs) && (filter.endMs === null || at <= filter.endMs);
}

/**
 * A record's value for a sort key, with llama-swap's conventions for what
 * was not reported (-1 for cache, draft and speeds, 0 for token counts), so
 * the ring sorts exactly as the SQLite store does.
 */
function sortValue(record: ActivityRecord, key: SortKey): number | string {
  switch (key) {
    case "id":
      return record.id;
    case "time":
      return Date.parse(record.time);
    case "model":
      return record.model;
    case "req_path":
      return record.path;
    case "resp_status_code":
      return record.status;
    case "resp_content_type":
      return record.contentType ?? "";
    case "cached":
      return record.cacheTokens ?? -1;
    case "prompt":
      return record.promptTokens ?? 0;
    case "generated":
      return record.completionTokens ?? 0;
    case "drafted":
      return record.draftTokens ?? -1;
    case "prompt_speed":
      return record.promptTokensPerSecond ?? -1;
    case "gen_speed":
      return record.tokensPerSecond ?? -1;
    case "duration":
      return Math.round(record.durationMs);
  }
}

/** The page `query` selects from `records` (any order), sorted by its key, then by id in the same direction. */
export function queryRecords(records: readonly ActivityRecord[], query: ActivityQuery): ActivityPage {
  const selected = records.filter((record) => matches(record, query));
  const sign = query.order === "asc" ? 1 : -1;
  const keyed = selected.map((record) => ({ record, key: sortValue(record, query.sort) }));
  keyed.sort((a, b) => sign * (a.key < b.key ? -1 : a.key > b.key ? 1 : a.record.id - b.record.id));
  const from = (query.page - 1) * query.limit;
  return { records: keyed.slice(from, from + query.limit).map((entry) => entry.record), total: selected.length };
}
